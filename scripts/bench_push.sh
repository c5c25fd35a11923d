#!/usr/bin/env bash
# Push benchmark: a citizen's RET in IYS to the table and can_send by push (one at a time and a
# burst) and by the pull alone, printed side by side in one run.
#   scripts/bench_push.sh [--n N] [--burst B] [--pull-n P]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
source scripts/config.sh
cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null
cargo build --release -q -p iys-push-receiver
PG_IYS_RECEIVER="$(pwd)/target/release/iys-push-receiver" cargo run --release -q -p pg_iys_e2e --bin bench_push -- "$@"
