#!/usr/bin/env bash
# Runs every test: pure-Rust unit tests and #[pg_test]s (cargo pgrx test), the IYS simulator's
# tests, then the black-box e2e tests and pg_regress golden files against real clusters.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/config.sh
# Every runner's output also goes to a log, so that the last line can total them.
RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT

echo "== unit tests and #[pg_test]s (cargo pgrx test)"
mkdir -p "$PGRX_TEST_DATA" && chown postgres: "$PGRX_TEST_DATA"
cargo pgrx test "pg$PG_MAJOR" --runas postgres --pgdata "$PGRX_TEST_DATA" 2>&1 | tee -a "$RESULTS"

echo "== IYS simulator tests"
cargo test -p iys-sim 2>&1 | tee -a "$RESULTS"

echo "== install the extension into PostgreSQL $PG_MAJOR"
cargo pgrx install --pg-config "$PG_CONFIG" >/dev/null

echo "== e2e and pg_regress tests (real clusters)"
cargo test -p pg_iys_e2e -- --test-threads=2 2>&1 | tee -a "$RESULTS"

echo
awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i + 1) ~ /^passed;/) p += $i; if ($(i + 1) ~ /^failed;/) f += $i } }
     END { printf "pg_iys: %d passed, %d failed\n", p, f }' "$RESULTS"
