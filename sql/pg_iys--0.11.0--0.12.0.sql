-- pg_iys 0.11.0 -> 0.12.0: a narrower queue row (issue #16).
--   * iys.outbox.enqueued_by is text instead of name: a name takes 64 bytes in every row whatever
--     the role's, a third of a queue row; the row (and its WAL record) is 55 bytes shorter for a
--     role of 8 letters. iys.consent_history shows it as before (name).
-- Changing the column's type rewrites iys.outbox and rebuilds its indexes under an ACCESS
-- EXCLUSIVE lock, so application statements on attached tables wait for it (BENCHMARKS.md gives
-- the time per million queue rows). The trigger and the view that name the column are made again.
DROP TRIGGER outbox_history_kept ON iys.outbox;
DROP VIEW iys.consent_history;
ALTER TABLE iys.outbox ALTER COLUMN enqueued_by TYPE text;
CREATE TRIGGER outbox_history_kept
    BEFORE UPDATE OF brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_key,
                     enqueued_at, enqueued_by ON iys.outbox
    FOR EACH ROW EXECUTE FUNCTION iys_internal.ledger_guard();
CREATE VIEW iys.consent_history AS
SELECT l.id, l.recorded_at, l.origin, l.brand_code, l.recipient, l.recipient_type, l.consent_type, l.status,
       l.source, l.consent_date, l.source_table::regclass AS source_table, l.source_key, l.recorded_by,
       coalesce(l.transaction_id, o.transaction_id) AS transaction_id,
       CASE WHEN l.origin = 'iys' THEN 'accepted' ELSE o.state END AS outcome,
       o.error_code, o.error_message, l.outbox_id, l.iys_source, l.creation_date
  FROM iys.consent_ledger l LEFT JOIN iys.outbox o ON o.id = l.outbox_id
UNION ALL
SELECT NULL::bigint, o.enqueued_at, 'local', o.brand_code, o.recipient, o.recipient_type, o.consent_type, o.status,
       o.source, o.consent_date, o.source_table::regclass, o.source_key, o.enqueued_by::name, o.transaction_id, o.state,
       o.error_code, o.error_message, o.id, NULL::text, NULL::timestamp
  FROM iys.outbox o
 WHERE NOT EXISTS (SELECT 1 FROM iys.consent_ledger l WHERE l.outbox_id = o.id);

GRANT SELECT ON iys.consent_history TO pg_monitor;
COMMENT ON VIEW iys.consent_history IS 'every consent movement, local (its outbox row) or from IYS (its ledger row), with IYS''s transactionId and what became of it';
COMMENT ON COLUMN iys.consent_history.id IS 'the ledger row; NULL for a local movement recorded as its outbox row only (since 0.8.0: see outbox_id)';
COMMENT ON COLUMN iys.consent_history.consent_date IS 'IYS''s consentDate, Turkey time (UTC+3)';
COMMENT ON COLUMN iys.consent_history.transaction_id IS 'IYS''s transactionId of the movement';
COMMENT ON COLUMN iys.consent_history.iys_source IS 'a movement from IYS: its source as IYS spelled it';
COMMENT ON COLUMN iys.consent_history.creation_date IS 'a movement from IYS: when IYS recorded it (Turkey time)';
COMMENT ON COLUMN iys.consent_history.outcome IS 'accepted for a pulled movement; for a local one the state of its outbox row (pending, in_flight, accepted, rejected, superseded, not_in_iys)';
