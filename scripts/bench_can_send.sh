#!/usr/bin/env bash
# Measures how fast a campaign list is checked against IYS's known state, three ways, in one run:
#   * iys.can_send_many(text[]) — the whole list in one call (spellings normalised);
#   * a join with the view iys.sendable — for lists already in IYS's form (attached tables);
#   * iys.can_send() per recipient — the single form, for comparison (on a tenth of the list).
# On a running cluster with pg_iys installed (default: the demo cluster of scripts/demo.sh):
#   scripts/bench_can_send.sh [recipients]          (default 1,000,000)
# Env: PGHOST, PGPORT, PGDATABASE override the demo cluster's 127.0.0.1:28815/retail.
# The known state gets as many keys as the list (half ONAY, a tenth of those with a RET waiting
# in the outbox); the list is half as stored (+90…), half as people type ('0532 …').
# The rows it writes are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/config.sh
N=${1:-1000000}
PSQL=("$PG_BINDIR/psql" -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-$DEMO_PORT}" -U postgres -X -q -v ON_ERROR_STOP=1 -d "${PGDATABASE:-$DEMO_DB}")

"${PSQL[@]}" -v n="$N" <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_iys;
DELETE FROM iys.current_consent WHERE brand_code = 'bench';
DELETE FROM iys.outbox WHERE brand_code = 'bench';
INSERT INTO iys.current_consent (brand_code, recipient, consent_type, recipient_type, status, origin)
SELECT 'bench', '+90532' || lpad(i::text, 7, '0'), 'MESAJ', 'BIREYSEL',
       CASE WHEN i % 2 = 0 THEN 'ONAY' ELSE 'RET' END::iys.consent_status, 'import'
  FROM generate_series(1, :n) i;
-- A RET waiting to be sent makes an ONAY unsendable. Brand 'bench' is not in iys.brand, so the
-- worker never sends these rows.
INSERT INTO iys.outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date, state)
SELECT 'bench', '+90532' || lpad(i::text, 7, '0'), 'BIREYSEL', 'MESAJ', 'RET', 'HS_WEB', now()::timestamp, 'pending'
  FROM generate_series(20, :n, 20) i;
ANALYZE iys.current_consent; ANALYZE iys.outbox;
DROP TABLE IF EXISTS bench_campaign;
CREATE TABLE bench_campaign AS
SELECT i AS id,
       CASE WHEN i % 2 = 0 THEN '+90532' || lpad(i::text, 7, '0')
            ELSE '0532 ' || substr(lpad(i::text, 7, '0'), 1, 3) || ' ' || substr(lpad(i::text, 7, '0'), 4) END AS typed,
       '+90532' || lpad(i::text, 7, '0') AS stored
  FROM generate_series(1, :n) i;
ANALYZE bench_campaign;
SQL

echo "== checking $N recipients (use a release build for figures: cargo pgrx install --release)"
"${PSQL[@]}" -v n="$N" <<'SQL'
\timing off
-- The list as an application would pass it: one text[] parameter (built before the clock starts).
CREATE TEMP TABLE bench_list AS SELECT array_agg(typed ORDER BY id) AS list FROM bench_campaign;
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FILTER (WHERE m.can_send) AS sendable_many FROM bench_list l, iys.can_send_many(l.list, 'MESAJ', 'bench') m;
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS s_many \gset
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS sendable_join FROM bench_campaign c
  JOIN iys.sendable s ON s.recipient = c.stored AND s.consent_type = 'MESAJ' AND s.brand_code = 'bench';
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS s_join \gset
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FILTER (WHERE iys.can_send(typed, 'MESAJ', 'bench')) AS sendable_single_tenth
  FROM bench_campaign WHERE id % 10 = 0;
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS s_single \gset
SELECT 'can_send_many(text[])' AS way, :n AS recipients, round(:'s_many'::numeric, 2) AS seconds,
       round(:n / :'s_many'::numeric) AS per_second, 1.0 AS vs_many
UNION ALL
SELECT 'join iys.sendable', :n, round(:'s_join'::numeric, 2), round(:n / :'s_join'::numeric),
       round(:'s_many'::numeric / :'s_join'::numeric, 2)
UNION ALL
SELECT 'can_send() per row', :n / 10, round(:'s_single'::numeric, 2), round(:n / 10 / :'s_single'::numeric),
       round((:n / 10 / :'s_single'::numeric) / (:n / :'s_many'::numeric), 2);
DELETE FROM iys.outbox WHERE brand_code = 'bench';
DELETE FROM iys.current_consent WHERE brand_code = 'bench';
DROP TABLE bench_campaign;
SQL
