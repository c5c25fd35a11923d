-- The history of consent movements (0.8.0): a local movement is its outbox row and nothing else
-- is written per change; IYS's movements are ledger rows; iys.consent_history shows both.
SET search_path = public;
SET datestyle = ISO;
INSERT INTO iys.account (iys_code, api_base_url, username, password) VALUES ('700080', 'http://127.0.0.1:9', 'u', 'p');
INSERT INTO iys.brand (brand_code, iys_code) VALUES ('600080', '700080');
CREATE TABLE history_contact (
    id bigint PRIMARY KEY, contact_type text DEFAULT 'BIREYSEL',
    email text, email_permission text, email_consent_date timestamp, email_source text,
    gsm text, gsm_permission text, gsm_consent_date timestamp, gsm_source text
);
SELECT attached, brand_code FROM iys.attach('history_contact', '600080');
INSERT INTO history_contact (id, email, email_permission, email_consent_date, email_source, gsm, gsm_permission, gsm_consent_date, gsm_source) VALUES
  (1, 'Ayse@Example.com', 'ONAY', date_trunc('second', now() AT TIME ZONE 'Europe/Istanbul') - interval '3 hours', 'HS_WEB',
      '0532 123 45 67', 'ONAY', date_trunc('second', now() AT TIME ZONE 'Europe/Istanbul') - interval '3 hours', 'HS_WEB');
UPDATE history_contact SET gsm_permission = 'RET', gsm_consent_date = gsm_consent_date + interval '1 hour';
UPDATE history_contact SET gsm_permission = 'ONAY', gsm_consent_date = gsm_consent_date + interval '1 hour';
-- One outbox row per changed channel; the ledger gets nothing.
SELECT count(*) AS outbox_rows FROM iys.outbox WHERE brand_code = '600080';
SELECT count(*) AS ledger_rows FROM iys.consent_ledger WHERE brand_code = '600080';
-- A movement from IYS, recorded as the worker records a pulled page.
SELECT iys_internal.record_iys_changes('600080', 'IYS', '[{"recipient": "+905321234567", "type": "MESAJ", "status": "RET",
  "source": "IYS_KISAMESAJ", "consentDate": "2026-11-30 10:00:00", "creationDate": "2026-11-30 10:00:01", "transactionId": "tx-3338"}]');
SELECT origin, recipient, consent_type, status, outcome, transaction_id, id IS NULL AS outbox_row_only
  FROM iys.consent_history WHERE brand_code = '600080' ORDER BY recorded_at, outbox_id;
-- History is never rewritten: the movement of an outbox row, the rows themselves, the ledger.
UPDATE iys.outbox SET status = 'RET' WHERE brand_code = '600080';
DELETE FROM iys.outbox WHERE brand_code = '600080';
DELETE FROM iys.consent_ledger WHERE brand_code = '600080';
-- Where a change stands may change (the worker's claim and settle).
UPDATE iys.outbox SET attempts = attempts WHERE brand_code = '600080';
-- Only retention removes history, and not less than three years of it unless forced.
SELECT iys.prune_ledger(interval '90 days');
SET client_min_messages = warning;
SELECT iys.prune_ledger(interval '3 years');
RESET client_min_messages;
