#!/usr/bin/env bash
# Measures iys.validate_table() on N generated master_contact rows (default 1,000,000) on a
# running cluster with pg_iys installed (default: the demo cluster of scripts/demo.sh).
#   scripts/bench_validate_table.sh [rows]
# Env: PGHOST, PGPORT, PGDATABASE override the demo cluster's 127.0.0.1:28815/retail.
# About 1 % of the rows carry a defect (landline for MESAJ, Turkish letter in the e-mail,
# IYS_* source, future date), so the output path is exercised too.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/config.sh
ROWS=${1:-1000000}
PSQL=("$PG_BINDIR/psql" -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-$DEMO_PORT}" -U postgres -X -q -v ON_ERROR_STOP=1 -d "${PGDATABASE:-$DEMO_DB}")

"${PSQL[@]}" <<SQL
CREATE EXTENSION IF NOT EXISTS pg_iys;
DROP TABLE IF EXISTS bench_master_contact;
CREATE TABLE bench_master_contact AS
SELECT i AS id,
       CASE WHEN i % 10 = 0 THEN 'TACIR' ELSE 'BIREYSEL' END AS contact_type,
       CASE WHEN i % 397 = 0 THEN 'şule' || i || '@example.com' ELSE 'user' || i || '@example.com' END AS email,
       CASE WHEN i % 3 = 0 THEN 'RET' ELSE 'ONAY' END AS email_permission,
       timestamp '2024-03-01 00:00' + (i % 86400) * interval '1 second' AS email_consent_date,
       CASE WHEN i % 401 = 0 THEN 'IYS_WEB' ELSE 'HS_WEB' END AS email_source,
       CASE WHEN i % 409 = 0 THEN '0212 ' ELSE '0532 ' END || lpad((i % 10000000)::text, 7, '0') AS gsm,
       CASE WHEN i % 4 = 0 THEN 'RET' ELSE 'ONAY' END AS gsm_permission,
       CASE WHEN i % 419 = 0 THEN timestamp '2099-01-01' ELSE timestamp '2024-03-01 12:00' END AS gsm_consent_date,
       'HS_MESAJ'::text AS gsm_source
  FROM generate_series(1, $ROWS) i;
ALTER TABLE bench_master_contact ADD PRIMARY KEY (id);
VACUUM ANALYZE bench_master_contact;
SQL

echo "== iys.validate_table on $ROWS rows (release build: cargo pgrx install --release)"
"${PSQL[@]}" -v rows="$ROWS" <<'SQL'
\timing off
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS problems FROM iys.validate_table('bench_master_contact', at => '2024-03-04 12:00+03');
SELECT :'rows'::bigint AS rows,
       round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2) AS seconds,
       round(:'rows'::bigint / extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)) AS rows_per_second;
DROP TABLE bench_master_contact;
SQL
