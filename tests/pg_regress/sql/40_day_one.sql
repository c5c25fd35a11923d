-- Day one: a table with rows before iys.attach, adopted; can_send in any spelling; a RET on an
-- existing row is queued. (No worker runs in this database: the status queries stay queued.)
SET search_path = public;
SET datestyle = ISO;
SELECT iys.try_normalize_recipient('0532 638 48 38', 'MESAJ') AS phone,
       iys.try_normalize_recipient(' Ali@Example.COM ', 'EPOSTA') AS email,
       iys.try_normalize_recipient('not a phone', 'MESAJ') IS NULL AS unusable;
INSERT INTO iys.account (iys_code, api_base_url, username, password) VALUES ('700001', 'http://127.0.0.1:9', 'u', 'p');
INSERT INTO iys.brand (brand_code, iys_code) VALUES ('600001', '700001');
CREATE TABLE master_contact (
    id bigint PRIMARY KEY,
    email text, email_permission text, email_consent_date timestamp, email_source text,
    gsm text, gsm_permission text, gsm_consent_date timestamp, gsm_source text,
    contact_type text
);
CREATE INDEX ON master_contact (gsm);
INSERT INTO master_contact VALUES
  (1, 'Ali@Example.COM', 'ONAY', '2023-05-01 10:00', 'HS_WEB', '0532 638 48 38', 'ONAY', '2023-05-01 10:00', 'HS_WEB', 'BIREYSEL'),
  (2, NULL, NULL, NULL, NULL, '5326384839', 'RET', '2024-01-01 10:00', 'HS_CAGRI_MERKEZI', 'BIREYSEL'),
  (3, NULL, NULL, NULL, NULL, 'not a phone', 'ONAY', '2023-05-01 10:00', 'HS_WEB', NULL),
  (4, NULL, NULL, NULL, NULL, '+905326384841', NULL, NULL, NULL, NULL);
-- adopt needs an attached table.
SELECT * FROM iys.adopt('master_contact');
SELECT iys.attach('master_contact', '600001');
SELECT * FROM iys.adopt('master_contact');
-- Addresses in IYS's form; nothing was queued for IYS by the rewrite.
SELECT id, email, gsm FROM master_contact ORDER BY id;
SELECT count(*) AS queued FROM iys.outbox;
SELECT recipient, consent_type, recipient_type, reason, local_status, local_consent_date, local_source, source_key, state
  FROM iys.status_check ORDER BY consent_type, recipient;
SELECT brand_code, reason, keys, to_query, to_detail, done FROM iys.status_check_progress;
-- IYS's answer, as the worker records it: the first phone is ONAY, the RET row's is ONAY too
-- (a legacy opt-out: its RET is queued at once), the no-permission row's is not listed.
SELECT iys_internal.record_status_answers('600001', 'MESAJ', 'BIREYSEL',
       ARRAY['+905326384838', '+905326384839', '+905326384841'], ARRAY['+905326384838', '+905326384839']);
SELECT recipient, state, iys_onay FROM iys.status_check WHERE consent_type = 'MESAJ' ORDER BY recipient;
SELECT recipient, status, source, state, source_key FROM iys.outbox;
SELECT recipient, local_status, iys_status, difference FROM iys.drift ORDER BY recipient;
-- can_send reads IYS's known state, in any spelling; a RET waiting makes the recipient unsendable.
SELECT iys.can_send('0532 638 48 38', 'MESAJ') AS typed, iys.can_send('+905326384838', 'MESAJ', '600001') AS stored,
       iys.can_send('05326384839', 'MESAJ') AS opted_out, iys.can_send('junk', 'MESAJ') AS junk;
SELECT * FROM iys.can_send_many(ARRAY['5326384838', NULL, 'junk', '0532 638 48 39', '+905326384838'], 'MESAJ');
-- A RET on a row that predates attach is queued (pg_iys has never seen this key).
UPDATE master_contact SET email_permission = 'RET', email_consent_date = now() AT TIME ZONE 'Europe/Istanbul' - interval '1 minute' WHERE id = 1;
SELECT recipient, status, state FROM iys.outbox WHERE consent_type = 'EPOSTA';
-- Drift is settled by a documented call only.
SELECT * FROM iys.resolve_drift('600001', 'both');
SELECT * FROM iys.resolve_drift('999999');
SELECT * FROM iys.resolve_drift('600001', 'local');
SELECT count(*) AS still_drifting FROM iys.drift;
-- The daily movement file of a past day against what pg_iys sent: one of our accepted movements
-- is missing from it, one has another status there, one movement pg_iys never saw is recorded.
INSERT INTO iys.batch (brand_code, outbox_ids, state, request_id, sent_at)
VALUES ('600001', '{}', 'done', 'r-1', (date '2026-11-30' + time '12:00') AT TIME ZONE INTERVAL '+03:00');
INSERT INTO iys.outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date, state, transaction_id, batch_id)
SELECT '600001', r, 'BIREYSEL', 'MESAJ', 'ONAY', 'HS_WEB', '2026-11-30 11:00', 'accepted', t, (SELECT max(id) FROM iys.batch)
  FROM (VALUES ('+905550000001', 'tx-ours-1'), ('+905550000002', 'tx-ours-2')) v(r, t);
SELECT iys_internal.record_movement_file('600001', '2026-11-30', '[
  {"creationDate": "2026-11-30 12:00:05", "transactionId": "tx-ours-2", "recipient": "+905550000002", "recipientType": "BIREYSEL",
   "type": "MESAJ", "status": "RET", "consentDate": "2026-11-30 11:00:00", "source": "HS_WEB"},
  {"creationDate": "2026-11-30 15:00:00", "transactionId": "tx-citizen", "recipient": "+905326384838", "recipientType": "BIREYSEL",
   "type": "MESAJ", "status": "RET", "consentDate": "2026-11-30 14:59:00", "source": "IYS_KISAMESAJ"}]') AS findings;
-- A second run of the same day changes nothing.
SELECT iys_internal.record_movement_file('600001', '2026-11-30', '[]') AS findings;
SELECT report_date, movements, missing_here, missing_at_iys, status_differs FROM iys.reconcile_day;
SELECT found_by, recipient, local_status, iys_status, difference, report_date FROM iys.drift ORDER BY recipient;
SELECT origin, recipient, status, source, transaction_id FROM iys.consent_ledger WHERE transaction_id = 'tx-citizen';
SELECT recipient, status, origin FROM iys.current_consent WHERE recipient = '+905326384838';
