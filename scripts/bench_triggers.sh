#!/usr/bin/env bash
# Measures what pg_iys's triggers cost on a master_contact table, with pgbench, side by side in
# one run (BENCHMARKS.md):
#   plain    the table with no trigger
#   pg_iys   the same table after iys.attach(..., brand_code => '600001') (on_invalid 'reject')
#   pg_iys_plan  pg_iys with iys.direct_enqueue = off: every statement through the generated
#            INSERT ... SELECT over the transition tables (the write path of 0.10.0), to show what
#            the direct path saves
#   plpgsql  the same table with a hand-written PL/pgSQL validate-and-enqueue trigger doing the
#            same work (normalise, check IYS rules, one outbox row per changed channel, the
#            movement's history too as in pg_iys since 0.8.0, into a table with iys.outbox's
#            columns and indexes)
#   pgq      the same table with PgQ's generic change-capture trigger pgq.logutriga (C, AFTER
#            INSERT OR UPDATE FOR EACH ROW) into a PgQ queue: one urlencoded event row per changed
#            row, no validation, no normalisation, no ledger. The floor of trigger-based change
#            capture that pg_iys's validate-and-enqueue is compared with.
# Workloads: 1-row and 1000-row INSERT transactions (both channels filled, so 2 outbox rows per
# contact, 1 PgQ event), 1-row and 1000-row UPDATE transactions flipping the SMS permission
# ONAY <-> RET with a fresh consent date (1 outbox row, 1 PgQ event per contact). Each run checks the queued rows per contact row (outbox rows, PgQ events) and the
# script exits 1 after the results if one run left another count.
# The final table gives per workload each variant's rows/s and cost vs plain (plain rows/s /
# variant rows/s), "pg_iys speed vs plpgsql" (pg_iys rows/s / plpgsql rows/s: above 1 pg_iys is
# faster) and "pg_iys cost vs pgq" (pgq rows/s / pg_iys rows/s: how many times slower pg_iys is
# than bare change capture).
#
#   cargo pgrx install --release --pg-config "$PG_CONFIG"    # the extension must be installed
#   scripts/bench_triggers.sh
# PgQ comes from Debian's postgresql-$PG_MAJOR-pgq3, which the script installs when missing
# (apt-get, as root) and which installs into the system's PostgreSQL tree only: the script copies
# its library and extension files into PG_CONFIG's tree when they are missing or differ there.
# Env: PG_CONFIG (default: pgrx.toml's) picks the PostgreSQL install whose binaries and pg_iys are
# used; DURATION seconds per pgbench run (10), ROUNDS (1: each variant once per workload; more
# rounds interleave the variants and report the median), CLIENTS (2), ROWS contacts loaded before
# the UPDATE workloads (100000; a row is flipped at most once per pass over them, and IYS dates
# have whole seconds, so ROWS must exceed the rows/s updated), SYNCHRONOUS_COMMIT of the pgbench
# sessions (on; off shows the CPU cost of 1-row transactions without the WAL flush of each
# commit), BENCH_PORT (28836), BENCH_DATA (/tmp/pg_iys_bench_triggers), INSTRUCTIONS (1: instead
# of pgbench rates, the CPU instructions of one transaction of each workload per variant,
# counted by valgrind's callgrind in a single-user backend: repeatable on a shared machine;
# ROWS=20000 is enough there; CACHE_SIM=1 adds to it instead cachegrind's simulated cache misses
# and mispredicted branches per transaction of BENCH_WORKLOADS (default: the 1-row ones) for
# BENCH_VARIANTS (default: pg_iys and pgq)), WAL (1: instead of pgbench rates, the WAL bytes one transaction of
# each workload writes per variant, full_page_writes off; WAL_DETAIL=1 adds pg_walinspect's
# statistics by record type), BENCH_VARIANTS and BENCH_WORKLOADS (pgbench mode: only these
# variants and workloads, e.g. "pg_iys pgq" and "insert_1 update_1", reported as medians and rounds),
# CPU_TIME (1: each pgbench run also prints the CPU time per transaction of the backends, user
# and system, of the WAL writer and of pgbench, read from /proc), SIDE_BY_SIDE (1: the two
# BENCH_VARIANTS, default "pg_iys pgq", run at the same time, one pgbench client each, over
# BENCH_WORKLOADS, default the 1-row ones; per round the ratio of their transactions).
# It starts its own throwaway cluster (default postgresql.conf, as the postgres OS user, on
# 127.0.0.1, no shared_preload_libraries: the triggers do not need the worker, PgQ loads its
# libraries on first call and needs no ticker (pgqd) to write events) and removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG_ENV=${PG_CONFIG:-}
source scripts/config.sh
if [ -n "$PG_CONFIG_ENV" ]; then PG_CONFIG=$PG_CONFIG_ENV; PG_BINDIR=$("$PG_CONFIG" --bindir); fi
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-1}
CLIENTS=${CLIENTS:-2}
ROWS=${ROWS:-100000}
SYNCHRONOUS_COMMIT=${SYNCHRONOUS_COMMIT:-on}
PORT=${BENCH_PORT:-28836}
DATA=${BENCH_DATA:-/tmp/pg_iys_bench_triggers}
[ "$ROWS" -ge 10000 ] || { echo "ROWS must be at least 10000" >&2; exit 2; }
VARIANTS=(plain pg_iys pg_iys_plan plpgsql pgq)
PGQ_QUEUE=bench_pgq

if [ ! -f "$("$PG_CONFIG" --pkglibdir)/pg_iys.so" ]; then
  echo "pg_iys is not installed in $("$PG_CONFIG" --pkglibdir); run: cargo pgrx install --release --pg-config $PG_CONFIG" >&2
  exit 1
fi

# --- PgQ: Debian's package, copied into PG_CONFIG's tree ----------------------------------------
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
PGQ_PKG=postgresql-$PG_MAJOR-pgq3
# Not `dpkg-query | grep -q`: under pipefail grep's early exit can fail the pipeline.
pgq_status=$(dpkg-query -W -f='${Status}' "$PGQ_PKG" 2>/dev/null || true)
if [ "$pgq_status" != "install ok installed" ]; then
  echo "bench_triggers: installing $PGQ_PKG"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$PGQ_PKG" >/dev/null
fi
# The package writes into the system's tree only, and the benchmark's server runs from
# PG_CONFIG's (a private copy, pgrx.toml): copy the package's files under the system's pkglibdir
# (pgq_lowlevel.so, pgq_triggers.so, their JIT bitcode) and its extension directory (control and
# SQL scripts). `install` unlinks the target before writing, so a server that has a library
# mapped keeps its old file; files already equal are left alone. Never writes into the system tree:
# a destination that is the source directory (PG_CONFIG is the system's) is skipped.
copy_pgq_files() { # source dir, destination dir
  local src dst f n=0
  src=$(realpath "$1"); dst=$(realpath -m "$2")
  [ "$src" = "$dst" ] && return 0
  while IFS= read -r f; do
    [[ $f == "$src"/* && -f $f ]] || continue
    n=$((n + 1))
    cmp -s "$f" "$dst/${f#"$src"/}" && continue
    as_root install -d -m 755 "$(dirname "$dst/${f#"$src"/}")"
    as_root install -m 644 "$f" "$dst/${f#"$src"/}"
  done < <(dpkg -L "$PGQ_PKG")
  [ "$n" -gt 0 ] || { echo "bench_triggers: dpkg -L $PGQ_PKG lists no file under $src" >&2; exit 1; }
}
copy_pgq_files "$("$SYSTEM_PG_CONFIG" --pkglibdir)" "$("$PG_CONFIG" --pkglibdir)"
copy_pgq_files "$("$SYSTEM_PG_CONFIG" --sharedir)/extension" "$("$PG_CONFIG" --sharedir)/extension"
for f in "$("$PG_CONFIG" --pkglibdir)/pgq_triggers.so" "$("$PG_CONFIG" --pkglibdir)/pgq_lowlevel.so" \
         "$("$PG_CONFIG" --sharedir)/extension/pgq.control"; do
  [ -f "$f" ] || { echo "bench_triggers: $f missing after installing $PGQ_PKG" >&2; exit 1; }
done

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
WORK=$(mktemp -d)
chmod 755 "$WORK"
cleanup() {
  as_pg "$PG_BINDIR/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DATA" "$WORK"
}
trap cleanup EXIT

rm -rf "$DATA"
install -d -o postgres -g postgres "$DATA" 2>/dev/null || mkdir -p "$DATA"
as_pg "$PG_BINDIR/initdb" -D "$DATA" -A trust -U postgres -E UTF8 --locale=C >/dev/null
cat >> "$DATA/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DATA'
CONF
as_pg "$PG_BINDIR/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w start >/dev/null
PSQL=("$PG_BINDIR/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1)
psql_val() { "${PSQL[@]}" -tA -c "$1"; }

# --- schema: four tables of the same layout, the PL/pgSQL equivalent, the PgQ queue --------------
table_ddl() {
  cat <<SQL
CREATE TABLE $1 (
    contact_id          bigserial PRIMARY KEY,
    contact_type        text,
    email               text,
    email_permission    text,
    email_consent_date  timestamp,
    email_source        text,
    gsm                 text,
    gsm_permission      text,
    gsm_consent_date    timestamp,
    gsm_source          text);
SQL
}

# The BEFORE ROW checks of one channel, for the PL/pgSQL variant. $1: column prefix (email, gsm),
# $2: SQL that normalises the local variable `addr` in place and raises on a bad address.
channel_check() {
  local c=$1 normalise=$2
  cat <<SQL
    IF NEW.$c IS NOT NULL OR NEW.${c}_permission IS NOT NULL OR NEW.${c}_consent_date IS NOT NULL OR NEW.${c}_source IS NOT NULL THEN
        IF NEW.$c IS NULL OR btrim(NEW.$c) = '' THEN
            RAISE EXCEPTION 'H114 $c: the channel has a permission, date or source but no address' USING ERRCODE = 'check_violation';
        END IF;
        addr := btrim(NEW.$c);
$normalise
        NEW.$c := addr;
        IF NEW.${c}_permission IS NULL THEN
            IF NEW.${c}_consent_date IS NOT NULL OR NEW.${c}_source IS NOT NULL THEN
                RAISE EXCEPTION 'H115 ${c}_permission: a date or source but no permission' USING ERRCODE = 'check_violation';
            END IF;
        ELSE
            perm := upper(btrim(NEW.${c}_permission));
            IF perm IS DISTINCT FROM 'ONAY' AND perm IS DISTINCT FROM 'RET' THEN
                RAISE EXCEPTION 'H115 ${c}_permission: % is not ONAY or RET', NEW.${c}_permission USING ERRCODE = 'check_violation';
            END IF;
            NEW.${c}_permission := perm;
            same := TG_OP = 'UPDATE' AND OLD.$c = addr;
            IF same AND OLD.${c}_permission = perm THEN
                -- Same consent: IYS cannot take it again with another date or source.
                IF OLD.${c}_consent_date IS DISTINCT FROM NEW.${c}_consent_date OR OLD.${c}_source IS DISTINCT FROM NEW.${c}_source THEN
                    NEW.${c}_consent_date := OLD.${c}_consent_date;
                    NEW.${c}_source := OLD.${c}_source;
                    RAISE WARNING '$c consent already has this permission; its date and source are kept';
                END IF;
            ELSE
                IF NEW.${c}_consent_date IS NULL OR NEW.${c}_source IS NULL THEN
                    IF NOT tacir OR same THEN
                        RAISE EXCEPTION 'H112 ${c}_consent_date/${c}_source: required' USING ERRCODE = 'check_violation';
                    END IF;
                ELSE
                    IF upper(btrim(NEW.${c}_source)) NOT IN ('HS_FIZIKSEL_ORTAM', 'HS_ISLAK_IMZA', 'HS_WEB', 'HS_CAGRI_MERKEZI',
                            'HS_SOSYAL_MEDYA', 'HS_EPOSTA', 'HS_MESAJ', 'HS_MOBIL', 'HS_EORTAM', 'HS_ETKINLIK', 'HS_2015', 'HS_ATM', 'HS_KARAR') THEN
                        RAISE EXCEPTION 'H119 ${c}_source: % cannot be sent', NEW.${c}_source USING ERRCODE = 'check_violation';
                    END IF;
                    IF NEW.${c}_consent_date > now_tr THEN
                        RAISE EXCEPTION 'H162 ${c}_consent_date: in the future' USING ERRCODE = 'check_violation';
                    ELSIF NEW.${c}_consent_date < now_tr - interval '3 days' THEN
                        RAISE EXCEPTION 'H467 ${c}_consent_date: older than 3 days' USING ERRCODE = 'check_violation';
                    ELSIF same AND date_trunc('second', NEW.${c}_consent_date) <= date_trunc('second', OLD.${c}_consent_date) THEN
                        RAISE EXCEPTION 'H178 ${c}_consent_date: not later than the stored date' USING ERRCODE = 'check_violation';
                    END IF;
                END IF;
            END IF;
        END IF;
    END IF;
SQL
}

# The AFTER ROW enqueue of one channel. $1: column prefix, $2: IYS consent type. Text reaches
# the enum columns through PL/pgSQL variables (assignment uses the enum's input function), the
# fastest way PL/pgSQL has.
channel_enqueue() {
  local c=$1 type=$2
  cat <<SQL
    IF NEW.$c IS NOT NULL AND NEW.${c}_permission IS NOT NULL
       AND (TG_OP = 'INSERT' OR NEW.$c IS DISTINCT FROM OLD.$c OR NEW.${c}_permission IS DISTINCT FROM OLD.${c}_permission) THEN
        -- Every movement is queued, a RET too (as pg_iys does: IYS may hold an ONAY from before);
        -- the outbox row is the movement's history too (as in pg_iys since 0.8.0).
        st := NEW.${c}_permission;
        src := nullif(upper(btrim(NEW.${c}_source)), '');
        INSERT INTO bench_outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key)
        VALUES ('600001', NEW.$c, rt, '$type', st, src, NEW.${c}_consent_date, TG_RELID, NEW.contact_id::text);
    END IF;
SQL
}

EMAIL_NORMALISE=$(cat <<'SQL'
        addr := lower(addr);
        IF addr !~ '^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$' THEN
            RAISE EXCEPTION 'H120 email: % is not a valid e-mail address', NEW.email USING ERRCODE = 'check_violation';
        END IF;
SQL
)
PHONE_NORMALISE=$(cat <<'SQL'
        addr := translate(addr, ' -()', '');
        IF addr LIKE '+90%' THEN addr := substr(addr, 4);
        ELSIF addr LIKE '0090%' THEN addr := substr(addr, 5);
        ELSIF addr LIKE '90%' AND length(addr) = 12 THEN addr := substr(addr, 3);
        ELSIF addr LIKE '0%' THEN addr := substr(addr, 2);
        END IF;
        IF addr !~ '^5[0-9]{9}$' THEN
            RAISE EXCEPTION 'H121 gsm: % is not a Turkish mobile number', NEW.gsm USING ERRCODE = 'check_violation';
        END IF;
        addr := '+90' || addr;
SQL
)

{
  echo "CREATE EXTENSION pg_iys;"
  echo "CREATE SEQUENCE bench_addr_seq; CREATE SEQUENCE bench_flip_seq;"
  for v in "${VARIANTS[@]}"; do table_ddl "mc_$v"; done
  cat <<'SQL'
SELECT iys.attach('mc_pg_iys', brand_code => '600001');
SELECT iys.attach('mc_pg_iys_plan', brand_code => '600001');
-- Same columns, defaults, constraints and indexes as the extension's queue and history.
CREATE TABLE bench_outbox (LIKE iys.outbox INCLUDING ALL);

CREATE FUNCTION bench_plpgsql_check() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    now_tr timestamp := now() AT TIME ZONE 'Europe/Istanbul';
    tacir boolean := false;
    addr text;
    perm text;
    same boolean;
BEGIN
    IF NEW.contact_type IS NOT NULL AND btrim(NEW.contact_type) <> '' THEN
        CASE upper(btrim(NEW.contact_type))
            WHEN 'BIREYSEL' THEN tacir := false;
            WHEN 'TACIR' THEN tacir := true;
            ELSE RAISE EXCEPTION 'H116 contact_type: % is not BIREYSEL or TACIR', NEW.contact_type USING ERRCODE = 'check_violation';
        END CASE;
    END IF;
SQL
  channel_check email "$EMAIL_NORMALISE"
  channel_check gsm "$PHONE_NORMALISE"
  cat <<'SQL'
    RETURN NEW;
END $fn$;

CREATE FUNCTION bench_plpgsql_enqueue() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    rt iys.recipient_type := coalesce(nullif(upper(btrim(NEW.contact_type)), ''), 'BIREYSEL');
    st iys.consent_status;
    src iys.consent_source;
BEGIN
SQL
  channel_enqueue email EPOSTA
  channel_enqueue gsm MESAJ
  cat <<'SQL'
    RETURN NULL;
END $fn$;

CREATE TRIGGER check_consent BEFORE INSERT OR UPDATE ON mc_plpgsql FOR EACH ROW EXECUTE FUNCTION bench_plpgsql_check();
CREATE TRIGGER enqueue_consent AFTER INSERT OR UPDATE ON mc_plpgsql FOR EACH ROW EXECUTE FUNCTION bench_plpgsql_enqueue();
SQL
  # pgq.control requires no other extension (plpgsql, which its functions use, is in every
  # database). create_queue makes the root event table pgq.event_<queue_id> and its children
  # pgq.event_<queue_id>_0.._2; events go into the current child, and only PgQ's maintenance
  # (pgqd) rotates to the next one, so without it they all stay in _0.
  cat <<SQL
CREATE EXTENSION pgq;
SELECT pgq.create_queue('$PGQ_QUEUE');
CREATE TRIGGER capture_change AFTER INSERT OR UPDATE ON mc_pgq FOR EACH ROW EXECUTE FUNCTION pgq.logutriga('$PGQ_QUEUE');
SQL
} > "$WORK/schema.sql"
"${PSQL[@]}" -f "$WORK/schema.sql" >/dev/null
# The queue's root event table (counting it counts its children's rows: inheritance) and its
# event id sequence.
PGQ_EVENTS=$(psql_val "SELECT queue_data_pfx FROM pgq.queue WHERE queue_name = '$PGQ_QUEUE'")
PGQ_EVENT_SEQ=$(psql_val "SELECT queue_event_seq FROM pgq.queue WHERE queue_name = '$PGQ_QUEUE'")

queue_of() { case $1 in plain) echo "";; pg_iys|pg_iys_plan) echo "iys.outbox";; plpgsql) echo "bench_outbox";; pgq) echo "$PGQ_EVENTS";; esac; }
expected_queued() {  # queued rows per contact row of a correct run: $1 variant, $2 workload
  case $1 in
    pg_iys|pg_iys_plan|plpgsql) if [[ $2 == insert_* ]]; then echo 2.00; else echo 1.00; fi ;;  # per changed channel
    pgq) echo 1.00 ;;  # per changed row
  esac
}
reset_variant() {   # empty the table and its queue/history so that every run starts equal
  case $1 in
    plain) "${PSQL[@]}" -c "TRUNCATE mc_plain RESTART IDENTITY" ;;
    # The outbox and the ledger keep history: emptied as retention would (iys.pruning_ledger).
    pg_iys|pg_iys_plan) "${PSQL[@]}" -c "SET iys.pruning_ledger = on" -c "TRUNCATE mc_$1, iys.outbox, iys.consent_ledger RESTART IDENTITY" ;;
    plpgsql) "${PSQL[@]}" -c "TRUNCATE mc_plpgsql, bench_outbox RESTART IDENTITY" ;;
    # TRUNCATE of the root event table empties its children too (what PgQ's own rotation does to
    # a child); the event id sequence is not owned by a column, so RESTART IDENTITY misses it.
    # The queue's row (current table, rotation time) is left as created: nothing rotates it.
    pgq) "${PSQL[@]}" -c "TRUNCATE mc_pgq, $PGQ_EVENTS RESTART IDENTITY" -c "ALTER SEQUENCE $PGQ_EVENT_SEQ RESTART" ;;
  esac
}

# --- pgbench scripts (@T@ = the variant's table) -----------------------------------------------
# Addresses are unique per row (a sequence), typed the way apps send them: national-format
# mobile 053XXXXXXXX and mixed-case e-mail, so the triggers really normalise.
insert_sql() {  # $1: rows per statement
  cat <<SQL
INSERT INTO @T@ (contact_type, email, email_permission, email_consent_date, email_source,
                 gsm, gsm_permission, gsm_consent_date, gsm_source)
SELECT 'BIREYSEL', 'User' || n || '@Example.com', 'ONAY', t, 'HS_WEB',
       '053' || lpad((n % 100000000)::text, 8, '0'), 'ONAY', t, 'HS_MESAJ'
  FROM (SELECT nextval('bench_addr_seq') AS n, now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour' AS t
          FROM generate_series(1, $1)) s;
SQL
}
insert_sql 1 > "$WORK/insert_1.sql"
insert_sql 1000 > "$WORK/insert_1000.sql"
# Rows are flipped in order through a sequence, so a row comes back only after all ROWS others:
# IYS dates have whole seconds and an update must be dated later than the stored consent (H178),
# so one row cannot move twice within a second. The new date is the transaction's start in
# Turkey time: later than the stored one, never in the future.
FLIP="SET gsm_permission = CASE gsm_permission WHEN 'ONAY' THEN 'RET' ELSE 'ONAY' END,
             gsm_consent_date = now() AT TIME ZONE 'Europe/Istanbul'"
cat > "$WORK/update_1.sql" <<SQL
UPDATE @T@ $FLIP
 WHERE contact_id = (SELECT nextval('bench_flip_seq') % $ROWS + 1);
SQL
cat > "$WORK/update_1000.sql" <<SQL
UPDATE @T@ $FLIP
  FROM (SELECT nextval('bench_flip_seq') % $((ROWS / 1000)) * 1000 + 1 AS lo) b
 WHERE contact_id BETWEEN b.lo AND b.lo + 999;
SQL
load_contacts() {   # ROWS contacts through the variant's triggers, 2 hours old
  "${PSQL[@]}" -c "$(insert_sql "$ROWS" | sed "s/@T@/mc_$1/; s/interval '1 hour'/interval '2 hours'/")"
  "${PSQL[@]}" -c "VACUUM ANALYZE mc_$1"
}
prepare_run() {     # $1 variant, $2 workload: its table emptied (and loaded for an UPDATE), $WORK/run.sql
  reset_variant "$1" >/dev/null
  if [[ $2 == update_* ]]; then load_contacts "$1" >/dev/null; fi
  sed "s/@T@/mc_$1/" "$WORK/$2.sql" > "$WORK/run.sql"
}
ALL_WORKLOADS=(insert_1 update_1 insert_1000 update_1000)
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# --- INSTRUCTIONS=1: CPU instructions per transaction instead of pgbench rates ------------------
# valgrind's callgrind counts the instructions of one backend, the same for the same build and
# inputs whatever else the machine is doing (pgbench's rates on a shared 2-CPU machine vary by
# tens of percent between rounds). Per variant and workload: the server stopped, a single-user
# backend (postgres --single) prepares the workload's statement and executes it once, then again
# in a new backend 1 + N times (N = 2000 for 1-row statements, 10 for 1000-row ones); the
# difference of the two counts / N is one transaction: executor, triggers, writes, commit record,
# without the client's round trip and the WAL flush.
if [ "${INSTRUCTIONS:-0}" = 1 ]; then
  if ! command -v valgrind >/dev/null; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
  fi
  instructions() { # $1 statement file, $2 executions, $3 settings -> instructions of the backend
    { echo "SET synchronous_commit = off; $3"
      echo "PREPARE w AS $(tr '\n' ' ' < "$1" | sed 's/; *$//');"
      for _ in $(seq "$2"); do echo "EXECUTE w;"; done; } > "$WORK/single.sql"
    chmod 644 "$WORK/single.sql"
    if [ "${CACHE_SIM:-0}" = 1 ]; then
      # "instructions I1-misses D1-misses LL-misses mispredicted-branches"
      as_pg valgrind --tool=cachegrind --cache-sim=yes --branch-sim=yes --cachegrind-out-file=/dev/null "$PG_BINDIR/postgres" --single -D "$DATA" postgres \
        < "$WORK/single.sql" 2>&1 >/dev/null | tr -d , | awk '
          / I +refs:/ {i=$NF} / I1 +misses:/ {i1=$NF} / D1 +misses:/ {d1=$4} / LL misses:/ {ll=$4} / Mispredicts:/ {bm=$3}
          END {if (i != "") print i, i1, d1, ll, bm}'
    else
      as_pg valgrind --tool=callgrind --callgrind-out-file=/dev/null "$PG_BINDIR/postgres" --single -D "$DATA" postgres \
        < "$WORK/single.sql" 2>&1 >/dev/null | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
    fi
  }
  # $1 variant, $2 workload: each count of instructions() for one transaction, measured as above.
  counts_per_tx() {
    local n=2000 settings="" once many i out=()
    [[ $2 == *_1000 ]] && n=10
    [ "$1" = pg_iys_plan ] && settings="SET iys.direct_enqueue = off;"
    prepare_run "$1" "$2"
    as_pg "$PG_BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    read -r -a once <<<"$(instructions "$WORK/run.sql" 1 "$settings")"
    read -r -a many <<<"$(instructions "$WORK/run.sql" $((n + 1)) "$settings")"
    as_pg "$PG_BINDIR/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w start >/dev/null
    [ "${#once[@]}" = "${#many[@]}" ] || return 0
    for i in "${!once[@]}"; do out+=($(( (many[i] - once[i]) / n ))); done
    echo "${out[*]}"
  }
  declare -A INSTR
  if [ "${CACHE_SIM:-0}" = 1 ]; then
    # What the instructions touch, per transaction, in cachegrind's model of this machine's caches
    # (first-level instruction and data caches, last level) and branch predictor: deterministic
    # where pgbench's CPU times on a shared VM are not.
    workloads=${BENCH_WORKLOADS:-"insert_1 update_1"}; variants=${BENCH_VARIANTS:-"pg_iys pgq"}
    echo "== per transaction in cachegrind's simulation (single-user backend); PostgreSQL $("$PG_CONFIG" --version | cut -d' ' -f2), pg_iys and PgQ $(psql_val "SELECT pgq.version()")"
    printf '   %-11s %-11s %12s %10s %10s %10s %12s\n' workload variant instructions I1-misses D1-misses LL-misses mispredicts
    for w in $workloads; do
      for v in $variants; do
        read -r -a counts <<<"$(counts_per_tx "$v" "$w")"
        [ "${#counts[@]}" = 5 ] || { echo "bench_triggers: cachegrind gave no counts for $w $v" >&2; exit 1; }
        printf '   %-11s %-11s %12d %10d %10d %10d %12d\n' "$w" "$v" "${counts[@]}"
      done
    done
    exit 0
  fi
  echo "== instructions per transaction (callgrind, single-user backend); PostgreSQL $("$PG_CONFIG" --version | cut -d' ' -f2), pg_iys and PgQ $(psql_val "SELECT pgq.version()")"
  for w in "${ALL_WORKLOADS[@]}"; do
    for v in "${VARIANTS[@]}"; do
      read -r -a counts <<<"$(counts_per_tx "$v" "$w")"
      [ "${#counts[@]}" = 1 ] || { echo "bench_triggers: callgrind gave no count for $w $v" >&2; exit 1; }
      INSTR[$w,$v]=${counts[0]}
      printf '   %-11s %-11s %12d instructions/tx\n' "$w" "$v" "${INSTR[$w,$v]}"
    done
  done
  echo
  echo "== instructions per transaction; pg_iys cost vs X = pg_iys instructions / X's (below 1: pg_iys cheaper)"
  printf '%-11s %12s %12s %12s %12s %12s %14s %14s %14s\n' workload plain pg_iys pg_iys_plan plpgsql pgq "pg_iys vs pgq" "vs plpgsql" "direct vs plan"
  for w in "${ALL_WORKLOADS[@]}"; do
    printf '%-11s %12d %12d %12d %12d %12d %13.2fx %13.2fx %13.2fx\n' "$w" "${INSTR[$w,plain]}" "${INSTR[$w,pg_iys]}" "${INSTR[$w,pg_iys_plan]}" \
      "${INSTR[$w,plpgsql]}" "${INSTR[$w,pgq]}" "$(bc -l <<<"${INSTR[$w,pg_iys]} / ${INSTR[$w,pgq]}")" \
      "$(bc -l <<<"${INSTR[$w,pg_iys]} / ${INSTR[$w,plpgsql]}")" "$(bc -l <<<"${INSTR[$w,pg_iys]} / ${INSTR[$w,pg_iys_plan]}")"
  done
  exit 0
fi

# --- WAL=1: WAL bytes per transaction instead of pgbench rates ----------------------------------
# What a transaction makes the server write, deterministic for a given build: per variant and
# workload, N transactions (N = 20000 for 1-row statements, 20 for 1000-row ones) by one pgbench
# client with full_page_writes off (page images follow checkpoints, not the statement), the WAL
# insert position before and after / N. WAL_DETAIL=1 prints pg_walinspect's statistics by record
# type of each run too.
if [ "${WAL:-0}" = 1 ]; then
  declare -A WALB
  # wal_keep_size: the segments of a run stay for pg_walinspect after the checkpoints that follow.
  "${PSQL[@]}" -c "ALTER SYSTEM SET full_page_writes = off" -c "ALTER SYSTEM SET wal_keep_size = '4GB'" -c "SELECT pg_reload_conf()" >/dev/null
  echo "== WAL bytes per transaction (full_page_writes off, 1 client); PostgreSQL $("$PG_CONFIG" --version | cut -d' ' -f2), pg_iys and PgQ $(psql_val "SELECT pgq.version()")"
  for w in "${ALL_WORKLOADS[@]}"; do
    n=20000; [[ $w == *_1000 ]] && n=20
    for v in "${VARIANTS[@]}"; do
      prepare_run "$v" "$w"
      "${PSQL[@]}" -c "CHECKPOINT"
      options=""; [ "$v" = pg_iys_plan ] && options="-c iys.direct_enqueue=off"
      start=$(psql_val "SELECT pg_current_wal_insert_lsn()")
      PGOPTIONS="$options" "$PG_BINDIR/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -n -M prepared -c 1 -t "$n" \
        -f "$WORK/run.sql" postgres >/dev/null
      end=$(psql_val "SELECT pg_current_wal_insert_lsn()")
      WALB[$w,$v]=$(psql_val "SELECT round(pg_wal_lsn_diff('$end', '$start') / $n)")
      printf '   %-11s %-11s %10d WAL bytes/tx\n' "$w" "$v" "${WALB[$w,$v]}"
      if [ "${WAL_DETAIL:-0}" = 1 ]; then
        "${PSQL[@]}" -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS pg_walinspect" -c "SELECT pg_switch_wal()" >/dev/null
        "${PSQL[@]}" -P footer=off -c "SELECT \"resource_manager/record_type\" AS record, count, round(combined_size::numeric / $n, 1) AS bytes_per_tx
                                           FROM pg_get_wal_stats('$start', '$end', true) WHERE count > 0 ORDER BY combined_size DESC" | sed 's/^/      /'
      fi
    done
  done
  echo
  echo "== WAL bytes per transaction; pg_iys vs X = pg_iys bytes / X's"
  printf '%-11s %12s %12s %12s %12s %12s %14s %14s\n' workload plain pg_iys pg_iys_plan plpgsql pgq "pg_iys vs pgq" "vs plpgsql"
  for w in "${ALL_WORKLOADS[@]}"; do
    printf '%-11s %12d %12d %12d %12d %12d %13.2fx %13.2fx\n' "$w" "${WALB[$w,plain]}" "${WALB[$w,pg_iys]}" "${WALB[$w,pg_iys_plan]}" \
      "${WALB[$w,plpgsql]}" "${WALB[$w,pgq]}" "$(bc -l <<<"${WALB[$w,pg_iys]} / ${WALB[$w,pgq]}")" "$(bc -l <<<"${WALB[$w,pg_iys]} / ${WALB[$w,plpgsql]}")"
  done
  exit 0
fi

# --- SIDE_BY_SIDE=1: two variants in the same seconds instead of one after the other -----------
# On a shared VM a variant's rate moves by tens of percent from one run to the next with the
# host's load, more than pg_iys and PgQ differ on 1-row statements. Run at the same time, one
# pgbench client each, both meet the same load: with synchronous_commit off both backends are
# CPU-bound and the kernel shares the CPUs between them, so the ratio of the transactions they
# complete in the same seconds is the ratio of what a transaction costs each.
if [ "${SIDE_BY_SIDE:-0}" = 1 ]; then
  read -ra pair <<<"${BENCH_VARIANTS:-pg_iys pgq}"
  [ ${#pair[@]} = 2 ] || { echo "SIDE_BY_SIDE=1 takes two BENCH_VARIANTS" >&2; exit 2; }
  a=${pair[0]} b=${pair[1]}
  echo "== side by side: $a and $b at once, 1 pgbench client each, ${DURATION}s per round, $ROUNDS round(s), synchronous_commit=$SYNCHRONOUS_COMMIT; $(nproc) CPUs"
  for w in ${BENCH_WORKLOADS:-insert_1 update_1}; do
    ratios=""
    for round in $(seq "$ROUNDS"); do
      # Every other round the other one is prepared and started first: the order alone moved
      # the ratio by about 10 % (the first-started pair did more).
      order=("$a" "$b"); [ $((round % 2)) = 0 ] && order=("$b" "$a")
      for v in "${order[@]}"; do prepare_run "$v" "$w"; cp "$WORK/run.sql" "$WORK/run_$v.sql"; done
      "${PSQL[@]}" -c "CHECKPOINT"
      pids=()
      for v in "${order[@]}"; do
        options="-c synchronous_commit=$SYNCHRONOUS_COMMIT"; [ "$v" = pg_iys_plan ] && options="$options -c iys.direct_enqueue=off"
        PGOPTIONS="$options" "$PG_BINDIR/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -n -M prepared -c 1 -j 1 \
          -T "$DURATION" -f "$WORK/run_$v.sql" postgres > "$WORK/pgbench_$v.out" 2>&1 &
        pids+=($!)
      done
      for p in "${pids[@]}"; do wait "$p" || { cat "$WORK"/pgbench_*.out >&2; exit 1; }; done
      declare -A tx=()
      for v in "$a" "$b"; do tx[$v]=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench_$v.out"); done
      ratio=$(bc -l <<<"${tx[$b]} / ${tx[$a]}")
      ratios="$ratios$ratio"$'\n'
      printf '   %-12s round %d: %-11s %8d tx  %-11s %8d tx   %s cost vs %s %.2fx  (%s first)\n' "$w" "$round" "$a" "${tx[$a]}" "$b" "${tx[$b]}" "$a" "$b" "$ratio" "${order[0]}"
    done
    printf '%-12s %s cost vs %s: median %.2fx of %d rounds (%s)\n' "$w" "$a" "$b" "$(printf '%s' "$ratios" | median)" \
      "$ROUNDS" "$(printf '%s' "$ratios" | xargs printf '%.2f ' | sed 's/ $//')"
  done
  exit 0
fi

WORKLOADS=(insert_1 insert_1000 update_1 update_1000)
# CPU_TIME=1: the CPU time (user + system, from /proc) the run's backends, the WAL writer and
# pgbench use per transaction, over the middle of the run. Instruction counts leave out how fast
# the instructions run (cache misses) and the kernel; this VM has no hardware counters for perf.
ticks() { awk -v f="$2" '{print $f}' "/proc/$1/stat" 2>/dev/null || echo 0; }  # $1 pid, $2 field: 14 user, 15 system
# Transactions are counted by transaction ids: every benchmark transaction writes and takes one,
# the monitoring queries do not (pg_stat_database's counts lag up to a second behind).
next_xid() { psql_val "SELECT pg_snapshot_xmax(pg_current_snapshot())::text"; }
cpu_time_per_tx() {  # $1: pgbench's pid; prints "cpu µs/tx: backends U+S, walwriter, pgbench"
  local backends walwriter x0 x1 p b=0 bs=0
  sleep 1
  backends=$(psql_val "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE application_name = 'pgbench'")
  walwriter=$(psql_val "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'")
  declare -A t0
  x0=$(next_xid)
  for p in $backends $walwriter "$1"; do t0[$p,14]=$(ticks "$p" 14); t0[$p,15]=$(ticks "$p" 15); done
  sleep $((DURATION > 3 ? DURATION - 3 : 1))
  x1=$(next_xid)
  for p in $backends; do b=$((b + $(ticks "$p" 14) - t0[$p,14])); bs=$((bs + $(ticks "$p" 15) - t0[$p,15])); done
  local us=$((1000000 / $(getconf CLK_TCK))) n=$((x1 - x0))
  local w=$(($(ticks "$walwriter" 14) + $(ticks "$walwriter" 15) - t0[$walwriter,14] - t0[$walwriter,15]))
  local c=$(($(ticks "$1" 14) + $(ticks "$1" 15) - t0[$1,14] - t0[$1,15]))
  printf 'cpu us/tx: backends %.1f user + %.1f sys, walwriter %.1f, pgbench %.1f' "$(bc -l <<<"$b * $us / $n")" "$(bc -l <<<"$bs * $us / $n")" \
    "$(bc -l <<<"$w * $us / $n")" "$(bc -l <<<"$c * $us / $n")"
}
# BENCH_VARIANTS / BENCH_WORKLOADS (pgbench mode): only these, e.g. many interleaved rounds of the
# 1-row workloads for pg_iys and PgQ; the results are then each one's median and rounds.
if [ -n "${BENCH_VARIANTS:-}" ]; then read -ra VARIANTS <<<"$BENCH_VARIANTS"; fi
if [ -n "${BENCH_WORKLOADS:-}" ]; then read -ra WORKLOADS <<<"$BENCH_WORKLOADS"; fi
declare -A TPS
MISMATCHES=()
echo "== pgbench: ${DURATION}s per run, $CLIENTS clients, $ROUNDS round(s), synchronous_commit=$SYNCHRONOUS_COMMIT; PostgreSQL $("$PG_CONFIG" --version | cut -d' ' -f2), $(nproc) CPUs, pg_iys and PgQ $(psql_val "SELECT pgq.version()") from $("$PG_CONFIG" --pkglibdir)"
for w in "${WORKLOADS[@]}"; do
  rows_per_tx=${w#*_}
  for round in $(seq "$ROUNDS"); do
    for v in "${VARIANTS[@]}"; do
      prepare_run "$v" "$w"
      q=$(queue_of "$v")
      before_rows=$(psql_val "SELECT count(*) FROM mc_$v")
      before_queue=0; [ -n "$q" ] && before_queue=$(psql_val "SELECT count(*) FROM $q")
      "${PSQL[@]}" -c "CHECKPOINT"
      options="-c synchronous_commit=$SYNCHRONOUS_COMMIT"
      [ "$v" = pg_iys_plan ] && options="$options -c iys.direct_enqueue=off"
      PGOPTIONS="$options" "$PG_BINDIR/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -n -M prepared -c "$CLIENTS" -j "$CLIENTS" \
        -T "$DURATION" -f "$WORK/run.sql" postgres > "$WORK/pgbench.out" 2>&1 &
      pgbench_pid=$!
      cpu=""; [ "${CPU_TIME:-0}" = 1 ] && cpu=$(cpu_time_per_tx "$pgbench_pid")
      wait "$pgbench_pid" || { cat "$WORK/pgbench.out" >&2; exit 1; }
      out=$(cat "$WORK/pgbench.out")
      tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out")
      txs=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
      queued="-"
      if [ -n "$q" ]; then
        moved=$txs; [[ $w == insert_* ]] && moved=$(( $(psql_val "SELECT count(*) FROM mc_$v") - before_rows ))
        [[ $w == update_* ]] && moved=$((txs * rows_per_tx))
        queued=$(psql_val "SELECT round((count(*) - $before_queue)::numeric / $moved, 2) FROM $q")
        expected=$(expected_queued "$v" "$w")
        if [ "$queued" != "$expected" ]; then
          queued="$queued, expected $expected"
          MISMATCHES+=("$w $v round $round: $queued")
        fi
      fi
      TPS[$w,$v,$round]=$tps
      printf '   %-12s %-11s round %d: %10.1f tx/s  %12.0f rows/s  (%s tx; queued rows per contact row: %s)%s\n' \
        "$w" "$v" "$round" "$tps" "$(bc -l <<<"$tps * $rows_per_tx")" "$txs" "$queued" "${cpu:+; $cpu}"
    done
  done
done

if [ -n "${BENCH_VARIANTS:-}${BENCH_WORKLOADS:-}" ]; then
  echo
  echo "== tx/s, median of $ROUNDS round(s), and each round"
  for w in "${WORKLOADS[@]}"; do
    for v in "${VARIANTS[@]}"; do
      rounds=$(for round in $(seq "$ROUNDS"); do echo "${TPS[$w,$v,$round]}"; done)
      printf '%-12s %-11s %10.0f   (%s)\n' "$w" "$v" "$(median <<<"$rounds")" "$(xargs printf '%.0f ' <<<"$rounds" | sed 's/ $//')"
    done
  done
  [ ${#MISMATCHES[@]} -eq 0 ] || { printf 'bench_triggers: queued rows per contact row differ: %s\n' "${MISMATCHES[@]}" >&2; exit 1; }
  exit 0
fi
echo
echo "== contact rows per second (median of $ROUNDS round(s)); cost = plain rows/s / variant rows/s;"
echo "   pg_iys speed vs plpgsql = pg_iys rows/s / plpgsql rows/s (above 1: pg_iys faster);"
echo "   pg_iys cost vs pgq = pgq rows/s / pg_iys rows/s (how many times slower pg_iys is than PgQ's bare change capture);"
echo "   direct vs plan = pg_iys rows/s / pg_iys_plan rows/s (what iys.direct_enqueue gains)"
printf '%-26s %12s %12s %10s %12s %10s %12s %10s %12s %10s %14s %12s %10s\n' workload plain pg_iys "cost" pg_iys_plan "cost" plpgsql "cost" pgq "cost" "pg_iys speed" "pg_iys cost" "direct"
printf '%-26s %12s %12s %10s %12s %10s %12s %10s %12s %10s %14s %12s %10s\n' "" "rows/s" "rows/s" "vs plain" "rows/s" "vs plain" "rows/s" "vs plain" "rows/s" "vs plain" "vs plpgsql" "vs pgq" "vs plan"
for w in "${WORKLOADS[@]}"; do
  rows_per_tx=${w#*_}
  declare -A R=()
  for v in "${VARIANTS[@]}"; do
    R[$v]=$(for round in $(seq "$ROUNDS"); do echo "${TPS[$w,$v,$round]}"; done | median)
    R[$v]=$(bc -l <<<"${R[$v]} * $rows_per_tx")
  done
  label="${w%_*} x $rows_per_tx row(s)/tx"
  printf '%-26s %12.0f %12.0f %9.2fx %12.0f %9.2fx %12.0f %9.2fx %12.0f %9.2fx %13.2fx %11.2fx %9.2fx\n' "$label" "${R[plain]}" "${R[pg_iys]}" \
    "$(bc -l <<<"${R[plain]} / ${R[pg_iys]}")" "${R[pg_iys_plan]}" "$(bc -l <<<"${R[plain]} / ${R[pg_iys_plan]}")" \
    "${R[plpgsql]}" "$(bc -l <<<"${R[plain]} / ${R[plpgsql]}")" \
    "${R[pgq]}" "$(bc -l <<<"${R[plain]} / ${R[pgq]}")" \
    "$(bc -l <<<"${R[pg_iys]} / ${R[plpgsql]}")" "$(bc -l <<<"${R[pgq]} / ${R[pg_iys]}")" "$(bc -l <<<"${R[pg_iys]} / ${R[pg_iys_plan]}")"
done
if [ ${#MISMATCHES[@]} -gt 0 ]; then
  echo "bench_triggers: queued rows per contact row differ from a correct run's:" >&2
  printf '   %s\n' "${MISMATCHES[@]}" >&2
  exit 1
fi
