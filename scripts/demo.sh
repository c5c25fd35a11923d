#!/usr/bin/env bash
# Sets up everything, builds and installs pg_iys, starts a local cluster (as the postgres OS
# user) with the extension preloaded, and shows it working in psql.
#   scripts/demo.sh        run the demo (leaves the cluster running for you to explore)
#   scripts/demo.sh stop   stop the demo cluster
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/config.sh

# The demo runs from its own copy of PostgreSQL: a test run reinstalling pg_iys into the tests'
# copy never changes what the demo cluster loads.
PG_BINDIR=$DEMO_PG_BINDIR
pg_ctl_demo() { runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DEMO_DATA" "$@"; }

SIM_PID_FILE=/tmp/pg_iys_demo_sim.pid
RECEIVER_PID_FILE=/tmp/pg_iys_demo_receiver.pid
stop_pid() { if [ -f "$1" ]; then kill "$(cat "$1")" 2>/dev/null || true; rm -f "$1"; fi; }
stop_sim() { stop_pid "$SIM_PID_FILE"; stop_pid "$RECEIVER_PID_FILE"; }

if [ "${1:-}" = "stop" ]; then
  pg_ctl_demo -m fast stop || true
  stop_sim
  exit 0
fi

bash scripts/setup.sh demo
echo "== building pg_iys (release) and installing it into $DEMO_PG_ROOT"
cargo pgrx package --pg-config "$PG_CONFIG" >/dev/null 2>&1
# Built against the tests' copy (same headers, no second pgrx build); `install` replaces each
# file by a new one, so a demo cluster still running keeps the library it mapped.
built="target/release/pg_iys-pg$PG_MAJOR$PRIVATE_PG_ROOT"
(cd "$built" && find . -type f) | while read -r f; do install -D -m 644 "$built/$f" "$DEMO_PG_ROOT/$f"; done
for f in sql/pg_iys--*--*.sql; do install -m 644 "$f" "$DEMO_PG_ROOT$("$SYSTEM_PG_CONFIG" --sharedir)/extension/"; done
cargo build --release -q -p iys-sim -p iys-push-receiver

echo "== starting the IYS simulator on 127.0.0.1:$SIM_PORT"
stop_sim
# IYS's own limits and timing (results 300 s after a batch, 10 requests/s, changes shown after an
# hour), on a clock 100 times faster so that the demo waits seconds, not minutes.
# It pushes citizens' changes to the demo's receiver, whose certificate a throw-away test CA signed
# (src/iys/testdata: for the demo and the tests only).
target/release/iys-sim --listen "127.0.0.1:$SIM_PORT" --clock-speed 100 --push-ca-file src/iys/testdata/test-ca.pem \
  > /tmp/pg_iys_demo_sim.log 2>&1 &
echo $! > "$SIM_PID_FILE"
for _ in $(seq 50); do grep -q listening /tmp/pg_iys_demo_sim.log && break; sleep 0.1; done

if [ -f "$DEMO_DATA/postmaster.pid" ]; then pg_ctl_demo -m fast stop >/dev/null || true; fi
if [ ! -f "$DEMO_DATA/PG_VERSION" ]; then
  echo "== initdb $DEMO_DATA"
  install -d -o postgres -g postgres "$DEMO_DATA"
  runuser -u postgres -- "$PG_BINDIR/initdb" -D "$DEMO_DATA" -A trust -U postgres -E UTF8 --locale=C >/dev/null
  cat >> "$DEMO_DATA/postgresql.conf" <<CONF
port = $DEMO_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DEMO_DATA'
shared_preload_libraries = 'pg_iys'
iys.database = '$DEMO_DB'
CONF
fi
echo "== starting the demo cluster on 127.0.0.1:$DEMO_PORT"
pg_ctl_demo -l "$DEMO_DATA/server.log" -w start >/dev/null
PSQL=("$PG_BINDIR/psql" -h 127.0.0.1 -p "$DEMO_PORT" -U postgres -X -v ON_ERROR_STOP=1)
"${PSQL[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DEMO_DB'" | grep -q 1 \
  || "${PSQL[@]}" -d postgres -qc "CREATE DATABASE $DEMO_DB"
# Pull citizens' changes every second in the demo (the default is a minute), and fetch batch
# results after IYS's 300 s on the simulator's faster clock (3 s).
"${PSQL[@]}" -d postgres -qc "ALTER SYSTEM SET iys.pull_interval = 1000"
"${PSQL[@]}" -d postgres -qc "ALTER SYSTEM SET iys.result_delay = 3000"
# The worker connects to iys.database at start; restart it now that the database exists.
pg_ctl_demo -w restart >/dev/null

echo "== starting the push receiver on https://localhost:$RECEIVER_PORT (IYS pushes citizens' changes to it)"
install -m 600 /dev/null /tmp/pg_iys_demo_push_credentials
echo 'iys:demo-push-password' > /tmp/pg_iys_demo_push_credentials
target/release/iys-push-receiver --listen "127.0.0.1:$RECEIVER_PORT" \
  --tls-cert src/iys/testdata/test-server.pem --tls-key src/iys/testdata/test-server.key \
  --credentials-file /tmp/pg_iys_demo_push_credentials \
  --database "host=127.0.0.1 port=$DEMO_PORT dbname=$DEMO_DB user=iys_push" > /tmp/pg_iys_demo_receiver.log 2>&1 &
echo $! > "$RECEIVER_PID_FILE"
for _ in $(seq 50); do grep -q listening /tmp/pg_iys_demo_receiver.log && break; sleep 0.1; done

echo "== demo SQL (scripts/demo.sql)"
"${PSQL[@]}" -d "$DEMO_DB" -v sim_url="http://127.0.0.1:$SIM_PORT" -v push_url="https://localhost:$RECEIVER_PORT/iys/push" \
  -e -f scripts/demo.sql
echo
echo "The demo cluster keeps running. Explore:  ${PSQL[*]} -d $DEMO_DB"
echo "The IYS simulator:                        http://127.0.0.1:$SIM_PORT (GET /admin/consents, /admin/history, /admin/push)"
echo "The push receiver:                        https://localhost:$RECEIVER_PORT (log /tmp/pg_iys_demo_receiver.log)"
echo "Stop both:                                scripts/demo.sh stop"
