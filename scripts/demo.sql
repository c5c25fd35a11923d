-- pg_iys demo: a retailer's master_contact table kept in step with IYS (here: the simulator).
\set ON_ERROR_STOP 1
DROP TABLE IF EXISTS master_contact;
-- A re-run starts over, even with changes IYS has not answered yet.
SET iys.drop_with_pending_changes = on;
DROP EXTENSION IF EXISTS pg_iys CASCADE;
CREATE EXTENSION pg_iys;
SET search_path = public, iys;

-- The IYS account (its password is readable by the extension owner only) and the brand.
INSERT INTO iys.account (iys_code, api_base_url, username, password)
VALUES ('700001', :'sim_url', 'iys-demo', 'demo-password');
INSERT INTO iys.brand (brand_code, iys_code) VALUES ('600001', '700001');

-- The application's own table, D-engage's layout.
CREATE TABLE master_contact (
    contact_id          bigserial PRIMARY KEY,
    name                text,
    contact_type        text DEFAULT 'BIREYSEL',
    email               text,
    email_permission    text,
    email_consent_date  timestamp,
    email_source        text,
    gsm                 text,
    gsm_permission      text,
    gsm_consent_date    timestamp,
    gsm_source          text
);
-- Citizens' changes from IYS find their rows by address.
CREATE INDEX ON master_contact (email);
CREATE INDEX ON master_contact (gsm);
SELECT iys.attach('master_contact', brand_code => '600001');

-- Plain SQL, as the application writes it: numbers and e-mails as people type them.
INSERT INTO master_contact (name, email, email_permission, email_consent_date, email_source,
                            gsm, gsm_permission, gsm_consent_date, gsm_source)
VALUES ('Ayşe Yılmaz', ' Ayse.Yilmaz@Example.com ', 'ONAY', (now() AT TIME ZONE 'Europe/Istanbul')::timestamp(0) - interval '2 hours', 'HS_WEB',
        '0532 123 45 67', 'ONAY', (now() AT TIME ZONE 'Europe/Istanbul')::timestamp(0) - interval '2 hours', 'HS_MOBIL'),
       ('Mehmet Kaya', NULL, NULL, NULL, NULL,
        '+90 (555) 987-65-43', 'ONAY', (now() AT TIME ZONE 'Europe/Istanbul')::timestamp(0) - interval '1 hour', 'HS_FIZIKSEL_ORTAM');
SELECT contact_id, name, email, gsm FROM master_contact ORDER BY contact_id;

-- IYS's rules apply at once, with IYS's own codes.
\set ON_ERROR_STOP 0
INSERT INTO master_contact (name, gsm, gsm_permission, gsm_consent_date, gsm_source)
VALUES ('Eski Kayıt', '05321112233', 'ONAY', (now() AT TIME ZONE 'Europe/Istanbul')::timestamp(0) - interval '10 days', 'HS_WEB');
\set ON_ERROR_STOP 1

-- The change is queued in the same transaction; the worker sends it on commit and fetches IYS's
-- answer after IYS's 300 s (3 s on the simulator's clock).
SELECT pg_sleep(4.5);
SELECT id, recipient, consent_type, status, source, state, transaction_id IS NOT NULL AS has_iys_tx
  FROM iys.outbox ORDER BY id;

-- A citizen withdraws consent: the newer RET is sent, and the worker settles it.
UPDATE master_contact SET gsm_permission = 'RET',
       gsm_consent_date = date_trunc('second', now() AT TIME ZONE 'Europe/Istanbul')
 WHERE name = 'Mehmet Kaya';
SELECT pg_sleep(4.5);
SELECT recipient, consent_type, status, state FROM iys.outbox ORDER BY id;
SELECT pid IS NOT NULL AS worker_running, last_flush_at IS NOT NULL AS has_flushed, last_error FROM iys.worker_state;

-- Ayşe withdraws her SMS consent in IYS itself (SMS to 3338); the simulator plays IYS.
\setenv SIM_URL :sim_url
-- (IYS shows a change to companies an hour after it was made: this one is recorded two hours back.)
SELECT to_char(now() AT TIME ZONE 'Europe/Istanbul' - interval '1 second', 'YYYY-MM-DD HH24:MI:SS') AS consent_date,
       to_char(now() AT TIME ZONE 'Europe/Istanbul' - interval '2 hours', 'YYYY-MM-DD HH24:MI:SS') AS recorded \gset
\setenv CONSENT_DATE :consent_date
\setenv RECORDED :recorded
\! curl -s -X POST -H 'Content-Type: application/json' -d "{\"iysCode\": 700001, \"brandCode\": 600001, \"recipient\": \"+905321234567\", \"type\": \"MESAJ\", \"status\": \"RET\", \"source\": \"IYS_KISAMESAJ\", \"consentDate\": \"$CONSENT_DATE\", \"creationDate\": \"$RECORDED\"}" "$SIM_URL/admin/citizen-change" > /dev/null
SELECT pg_sleep(2.5);
-- The worker pulled it into the table (not echoed back to IYS), and campaigns stop at once.
SELECT name, gsm, gsm_permission, gsm_source FROM master_contact ORDER BY contact_id;
SELECT iys.can_send('+905321234567', 'MESAJ') AS sms_to_ayse, iys.can_send('ayse.yilmaz@example.com', 'EPOSTA') AS email_to_ayse;
-- What an operator watches.
SELECT brand_code, mode, pending, in_flight, accepted, rejected, last_send_error, last_pull_at IS NOT NULL AS pulled, warning
  FROM iys.sync_status;

-- Push: IYS calls us when a citizen changes a consent, instead of showing it to the pull an hour
-- later. The receiver (iys-push-receiver) records what IYS sends as a role that can do nothing else.
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'iys_push') AS create_role \gset
\if :create_role
CREATE ROLE iys_push LOGIN;
\endif
SELECT iys.grant_push_receiver_rights('iys_push');
SELECT iys.push_register('600001', 'MESAJ', :'push_url', 'iys', 'demo-push-password');
SELECT pg_sleep(1.5);
SELECT brand_code, consent_type, url, state, iys_status FROM iys.push_connections;
INSERT INTO master_contact (name, gsm, gsm_permission, gsm_consent_date, gsm_source)
VALUES ('Zeynep Demir', '0533 444 55 66', 'ONAY', date_trunc('second', now() AT TIME ZONE 'Europe/Istanbul') - interval '1 hour', 'HS_WEB');
SELECT pg_sleep(4.5);
-- Zeynep opts out in IYS right now (IYS's mobile app); the pull would see it in an hour.
\! curl -s -X POST -H 'Content-Type: application/json' -d '{"iysCode": 700001, "brandCode": 600001, "recipient": "+905334445566", "type": "MESAJ", "status": "RET", "source": "IYS_MOBIL"}' "$SIM_URL/admin/citizen-change" > /dev/null
SELECT pg_sleep(1);
SELECT name, gsm, gsm_permission, gsm_source, iys.can_send(gsm, 'MESAJ') AS can_send FROM master_contact WHERE name = 'Zeynep Demir';
SELECT brand_code, last_push_at IS NOT NULL AS pushed, pushed_movements FROM iys.push_connections;
