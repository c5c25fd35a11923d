#!/usr/bin/env bash
# Runs every test: pure-Rust unit tests and #[pg_test]s (cargo pgrx test), the IYS simulator's
# and the push receiver's tests, then the black-box e2e tests and pg_regress golden files against real clusters.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/config.sh
# Every runner's output also goes to a log, so that the last line can total them.
RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT

# Everything below builds against and installs into the private copy of PostgreSQL
# ($PRIVATE_PG_ROOT): the system's tree, which running servers load pg_iys from, must come out
# of the run exactly as it went in.
system_files() { sha256sum "$("$SYSTEM_PG_CONFIG" --pkglibdir)"/pg_iys* "$("$SYSTEM_PG_CONFIG" --sharedir)"/extension/pg_iys* 2>/dev/null || true; }
SYSTEM_BEFORE=$(system_files)

echo "== unit tests and #[pg_test]s (cargo pgrx test)"
mkdir -p "$PGRX_TEST_DATA" && chown postgres: "$PGRX_TEST_DATA"
cargo pgrx test "pg$PG_MAJOR" --runas postgres --pgdata "$PGRX_TEST_DATA" 2>&1 | tee -a "$RESULTS"

echo "== IYS simulator tests"
cargo test -p iys-sim 2>&1 | tee -a "$RESULTS"

echo "== push receiver tests (and its binary, which the e2e tests run)"
cargo test -p iys-push-receiver 2>&1 | tee -a "$RESULTS"
cargo build -p iys-push-receiver

echo "== install the extension into PostgreSQL $PG_MAJOR"
cargo pgrx install --pg-config "$PG_CONFIG" >/dev/null

echo "== e2e and pg_regress tests (real clusters)"
cargo test -p pg_iys_e2e -- --test-threads=2 2>&1 | tee -a "$RESULTS"

echo "== the system's PostgreSQL tree is untouched"
if [ "$(system_files)" != "$SYSTEM_BEFORE" ]; then
  echo "test result: FAILED. 0 passed; 1 failed; pg_iys files in $("$SYSTEM_PG_CONFIG" --pkglibdir) or its sharedir changed during the run" | tee -a "$RESULTS"
  exit 1
fi
echo "test result: ok. 1 passed; 0 failed; no pg_iys file of $("$SYSTEM_PG_CONFIG" --pkglibdir) changed" | tee -a "$RESULTS"

echo
awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i + 1) ~ /^passed;/) p += $i; if ($(i + 1) ~ /^failed;/) f += $i } }
     END { printf "pg_iys: %d passed, %d failed\n", p, f }' "$RESULTS"
