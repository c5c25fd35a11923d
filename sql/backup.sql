-- pg_dump / pg_restore keep pg_iys's configuration and state: accounts, brands, attachments,
-- the queue (pending and in flight), batches and their request ids, the ledger, what IYS holds,
-- pull cursors, conflicts, the inbox, token halts, request counts, status queries and daily-file
-- reconciliation. (The worker's status row is
-- created anew by CREATE EXTENSION; the built-in holidays too, see calendar.sql.) Identity
-- sequences go with their tables, so restored ids never collide with new ones.
SELECT pg_catalog.pg_extension_config_dump('iys.account', '');
SELECT pg_catalog.pg_extension_config_dump('iys.brand', '');
SELECT pg_catalog.pg_extension_config_dump('iys.token', '');
SELECT pg_catalog.pg_extension_config_dump('iys.attached_table', '');
SELECT pg_catalog.pg_extension_config_dump('iys.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('iys.outbox_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('iys.batch', '');
SELECT pg_catalog.pg_extension_config_dump('iys.batch_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('iys.consent_ledger', '');
SELECT pg_catalog.pg_extension_config_dump('iys.consent_ledger_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('iys.current_consent', '');
SELECT pg_catalog.pg_extension_config_dump('iys.pull_cursor', '');
SELECT pg_catalog.pg_extension_config_dump('iys.conflict', '');
SELECT pg_catalog.pg_extension_config_dump('iys.conflict_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('iys.inbox', '');
SELECT pg_catalog.pg_extension_config_dump('iys.inbox_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('iys.request_count', '');
SELECT pg_catalog.pg_extension_config_dump('iys.status_check', '');
SELECT pg_catalog.pg_extension_config_dump('iys.reconcile_day', '');
SELECT pg_catalog.pg_extension_config_dump('iys.reconcile_finding', '');
SELECT pg_catalog.pg_extension_config_dump('iys.reconcile_finding_id_seq', '');

-- A restored database has new OIDs: an attachment whose table is gone under its OID, while a
-- table of its recorded name carries pg_iys's triggers (restored with it), is that table. (A
-- renamed attached table keeps its OID and its triggers, so it is never taken for another.)
-- Run by the worker every round and by the triggers when they find no attachment. Returns how
-- many attachments were found again.
CREATE FUNCTION iys_internal.refresh_attachment_oids() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a        record;
    found    oid;
    moved    integer := 0;
BEGIN
    FOR a IN SELECT t.relid, t.table_name FROM iys.attached_table t
              WHERE NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = t.relid AND g.tgname = 'zz_iys_enqueue_insert')
    LOOP
        found := to_regclass(a.table_name);
        CONTINUE WHEN found IS NULL OR found = a.relid
                 OR NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = found AND g.tgname = 'zz_iys_enqueue_insert')
                 OR EXISTS (SELECT 1 FROM iys.attached_table o WHERE o.relid = found);
        UPDATE iys.attached_table SET relid = found WHERE relid = a.relid;
        UPDATE iys.outbox SET source_table = found WHERE source_table = a.relid;
        UPDATE iys.conflict SET source_table = found WHERE source_table = a.relid;
        moved := moved + 1;
    END LOOP;
    RETURN moved;
END $$;
REVOKE EXECUTE ON FUNCTION iys_internal.refresh_attachment_oids() FROM PUBLIC;
