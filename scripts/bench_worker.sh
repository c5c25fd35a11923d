#!/usr/bin/env bash
# Worker benchmark: simulator ceiling vs worker drain of 100k queued changes, and
# commit-to-accepted latency at 200 changes/s, printed side by side in one run.
#   scripts/bench_worker.sh [--changes N] [--rate CONTACTS_PER_S] [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
source scripts/config.sh
cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null
cargo run --release -q -p pg_iys_e2e --bin bench_worker -- "$@"
