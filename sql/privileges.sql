-- Who may run what. PostgreSQL grants EXECUTE on every new function to PUBLIC; pg_iys takes it
-- back from everything that writes its state, acts on tables or is a trigger, and leaves it on
-- what applications use: the types, normalisation and validation functions, iys.can_send.
-- (A trigger function's EXECUTE right is checked when a trigger is created, so only the roles
-- that run iys.attach() can put pg_iys's triggers on a table.)
REVOKE EXECUTE ON FUNCTION iys.enqueue_changes() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.consent_row_check() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.ledger_guard() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.attach(regclass, text, jsonb, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.detach(regclass) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.claim_batch(text, integer, bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.record_pulled(text, text, text, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.confirm_local(bigint[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.pull_failed(text, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.restart_pull(text, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.prune_ledger(interval, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.retry_quarantined(bigint[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.lift_token_halt(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.resume(text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.requeue_rejected(bigint[], text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.record_iys_changes(text, text, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.queue_missing_opt_outs(text, iys.consent_type, iys.recipient_type, text[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.record_status_answers(text, iys.consent_type, iys.recipient_type, text[], text[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.record_status_detail(text, iys.consent_type, iys.recipient_type, text, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.recheck_known_keys(text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.record_movement_file(text, date, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.resolve_drift(text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.recover_pull_gap(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.adopt(regclass, boolean, boolean) FROM PUBLIC;

-- Applications ask iys.can_send() / iys.can_send_many() before a campaign; they read nothing
-- else of pg_iys's state and need no grant (tested with a fresh role in security.rs).
ALTER FUNCTION iys.can_send(text, iys.consent_type, text) SECURITY DEFINER;
ALTER FUNCTION iys.can_send_many(text[], iys.consent_type, text) SECURITY DEFINER;

GRANT SELECT ON iys.inbox, iys.pull_quarantine TO pg_monitor;

-- What the background worker needs when it runs as a role of its own (iys.worker_role) rather
-- than the bootstrap superuser: its queue, state and pull tables, the account it sends with, and
-- the internal functions it calls. Run by the extension's owner, e.g.
--   CREATE ROLE iys_worker LOGIN; SELECT iys.grant_worker_rights('iys_worker');
CREATE FUNCTION iys.grant_worker_rights(worker regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('GRANT SELECT ON iys.account, iys.brand, iys.attached_table, iys.holiday TO %s', worker);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON iys.outbox, iys.batch, iys.token, iys.worker_state,
                           iys.pull_cursor, iys.current_consent, iys.conflict, iys.inbox, iys.request_count,
                           iys.status_check, iys.reconcile_day, iys.reconcile_finding TO %s', worker);
    EXECUTE format('GRANT UPDATE (paused_code, paused_reason, paused_at, probe_at, probes) ON iys.account, iys.brand TO %s', worker);
    EXECUTE format('GRANT SELECT, INSERT ON iys.consent_ledger TO %s', worker);
    EXECUTE format('GRANT UPDATE (relid) ON iys.attached_table TO %s', worker);
    EXECUTE format('GRANT SELECT, UPDATE ON iys.push_connection TO %s', worker);
    EXECUTE format('GRANT SELECT, UPDATE ON iys.via_request, iys.optout_link TO %s', worker);
    EXECUTE format('GRANT SELECT, INSERT ON iys.kvk_consent TO %s', worker);
    EXECUTE format('GRANT EXECUTE ON FUNCTION iys_internal.claim_batch(text, integer, bigint), iys_internal.record_pulled(text, text, text, jsonb),
                           iys_internal.confirm_local(bigint[]), iys_internal.pull_failed(text, text, text),
                           iys_internal.restart_pull(text, text, text),
                           iys_internal.refresh_attachment_oids(), iys_internal.record_iys_changes(text, text, jsonb),
                           iys_internal.queue_missing_opt_outs(text, iys.consent_type, iys.recipient_type, text[]),
                           iys_internal.record_status_answers(text, iys.consent_type, iys.recipient_type, text[], text[]),
                           iys_internal.record_status_detail(text, iys.consent_type, iys.recipient_type, text, jsonb),
                           iys.recheck_known_keys(text, text), iys_internal.record_movement_file(text, date, jsonb),
                           iys_internal.recover_pull_gap(text), iys_internal.via_due(integer),
                           iys_internal.via_sent(bigint, text, interval), iys_internal.via_confirmed(bigint),
                           iys_internal.via_failed(bigint, text, text, boolean, interval), iys_internal.via_state(bigint, jsonb, interval),
                           iys_internal.optout_links_due(text), iys_internal.optout_link_brands(),
                           iys_internal.record_optout_links(text, text[], jsonb, text, interval) TO %s', worker);
END $$;
COMMENT ON FUNCTION iys.grant_worker_rights(regrole) IS 'grants a role what the pg_iys worker needs to run as it (iys.worker_role)';
REVOKE EXECUTE ON FUNCTION iys.grant_worker_rights(regrole) FROM PUBLIC;

-- DROP EXTENSION pg_iys / DROP SCHEMA iys refuse while changes wait for IYS
-- (src/sql_api/drop_guard.rs).
CREATE FUNCTION iys_internal.drop_guard() RETURNS event_trigger LANGUAGE c AS 'MODULE_PATHNAME', 'pg_iys_drop_guard';
REVOKE EXECUTE ON FUNCTION iys_internal.drop_guard() FROM PUBLIC;
COMMENT ON FUNCTION iys_internal.drop_guard() IS 'internal: event trigger pg_iys_drop_guard, refuses DROP EXTENSION pg_iys / DROP SCHEMA iys while changes wait for IYS';
CREATE EVENT TRIGGER pg_iys_drop_guard ON ddl_command_start WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA')
    EXECUTE FUNCTION iys_internal.drop_guard();

-- ALTER TABLE that renames, drops or retypes a mapped column of an attached table is refused
-- at once (iys_internal.verify_attachment, src/sql_api/attach.rs), never discovered at the next write.
CREATE FUNCTION iys_internal.verify_attachment(relid oid) RETURNS void
    STRICT VOLATILE SET search_path TO pg_catalog, pg_temp
    LANGUAGE c AS 'MODULE_PATHNAME', 'verify_attachment_wrapper';
COMMENT ON FUNCTION iys_internal.verify_attachment(oid) IS 'internal: refuses an ALTER TABLE that breaks an attached table''s mapping (called by the event trigger pg_iys_attachment_guard)';
CREATE FUNCTION iys_internal.attachment_guard() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT c.objid FROM pg_event_trigger_ddl_commands() c
              WHERE c.classid = 'pg_catalog.pg_class'::regclass AND c.command_tag = 'ALTER TABLE'
    LOOP
        PERFORM iys_internal.verify_attachment(r.objid);
    END LOOP;
END $$;
REVOKE EXECUTE ON FUNCTION iys_internal.attachment_guard() FROM PUBLIC;
COMMENT ON FUNCTION iys_internal.attachment_guard() IS 'internal: event trigger pg_iys_attachment_guard, refuses an ALTER TABLE that breaks an attached table''s mapping';
CREATE EVENT TRIGGER pg_iys_attachment_guard ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION iys_internal.attachment_guard();
