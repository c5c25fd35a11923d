-- pg_iys 0.5.0 -> 0.6.0: operations.
--   * The duration settings lost their _ms suffix and take PostgreSQL units (iys.flush_interval,
--     iys.http_timeout, iys.pull_interval, iys.result_delay, iys.result_timeout,
--     iys.backoff_cap). Settings are not database objects: the library keeps the old names
--     working (hidden, the worker warns) so nothing here has to move them.
--   * The worker waits while pg_restore is connected to its database (library only).
--   * Functions only the worker, the triggers and the types call move to schema iys_internal, so
--     that `\df iys.*` lists the API. Moving keeps each function's OID, privileges and comment
--     (triggers, operators and the types follow); the functions whose bodies name a moved one
--     are replaced with their new text.

-- What only the worker, the triggers and the two types call lives apart, so that `\df iys.*`
-- lists the API. USAGE lets PostgreSQL find those functions for whoever fires an event trigger or
-- compares two phones; EXECUTE is taken back function by function (privileges.sql). The row
-- trigger functions and iys.fold_value stay in iys: dumps of attached tables name them.
CREATE SCHEMA iys_internal;
GRANT USAGE ON SCHEMA iys_internal TO PUBLIC;
COMMENT ON SCHEMA iys_internal IS 'pg_iys internals: functions the worker, the triggers and the types call; not an API';

ALTER FUNCTION iys.claim_batch(text, integer, bigint) SET SCHEMA iys_internal;
ALTER FUNCTION iys.confirm_local(bigint[]) SET SCHEMA iys_internal;
ALTER FUNCTION iys.pull_failed(text, text, text) SET SCHEMA iys_internal;
ALTER FUNCTION iys.queue_missing_opt_outs(text, iys.consent_type, iys.recipient_type, text[]) SET SCHEMA iys_internal;
ALTER FUNCTION iys.record_iys_changes(text, text, jsonb) SET SCHEMA iys_internal;
ALTER FUNCTION iys.record_movement_file(text, date, jsonb) SET SCHEMA iys_internal;
ALTER FUNCTION iys.record_pulled(text, text, text, jsonb) SET SCHEMA iys_internal;
ALTER FUNCTION iys.record_status_answers(text, iys.consent_type, iys.recipient_type, text[], text[]) SET SCHEMA iys_internal;
ALTER FUNCTION iys.record_status_detail(text, iys.consent_type, iys.recipient_type, text, jsonb) SET SCHEMA iys_internal;
ALTER FUNCTION iys.recover_pull_gap(text) SET SCHEMA iys_internal;
ALTER FUNCTION iys.refresh_attachment_oids() SET SCHEMA iys_internal;
ALTER FUNCTION iys.reportable_source(text) SET SCHEMA iys_internal;
ALTER FUNCTION iys.attachment_guard() SET SCHEMA iys_internal;
ALTER FUNCTION iys.drop_guard() SET SCHEMA iys_internal;
ALTER FUNCTION iys.ledger_guard() SET SCHEMA iys_internal;
ALTER FUNCTION iys.verify_attachment(oid) SET SCHEMA iys_internal;
ALTER FUNCTION iys.phone_in(cstring) SET SCHEMA iys_internal;
ALTER FUNCTION iys.phone_out(iys.phone) SET SCHEMA iys_internal;
ALTER FUNCTION iys.phone_recv(internal) SET SCHEMA iys_internal;
ALTER FUNCTION iys.phone_send(iys.phone) SET SCHEMA iys_internal;
ALTER FUNCTION iys.phone_eq(iys.phone, iys.phone) SET SCHEMA iys_internal;
ALTER FUNCTION iys.phone_ne(iys.phone, iys.phone) SET SCHEMA iys_internal;
ALTER FUNCTION iys.phone_lt(iys.phone, iys.phone) SET SCHEMA iys_internal;
ALTER FUNCTION iys.phone_le(iys.phone, iys.phone) SET SCHEMA iys_internal;
ALTER FUNCTION iys.phone_gt(iys.phone, iys.phone) SET SCHEMA iys_internal;
ALTER FUNCTION iys.phone_ge(iys.phone, iys.phone) SET SCHEMA iys_internal;
ALTER FUNCTION iys.phone_cmp(iys.phone, iys.phone) SET SCHEMA iys_internal;
ALTER FUNCTION iys.phone_hash(iys.phone) SET SCHEMA iys_internal;
ALTER FUNCTION iys.phone_hash_extended(iys.phone, bigint) SET SCHEMA iys_internal;
ALTER FUNCTION iys.email_in(cstring) SET SCHEMA iys_internal;
ALTER FUNCTION iys.email_out(iys.email) SET SCHEMA iys_internal;
ALTER FUNCTION iys.email_recv(internal) SET SCHEMA iys_internal;
ALTER FUNCTION iys.email_send(iys.email) SET SCHEMA iys_internal;
ALTER FUNCTION iys.email_eq(iys.email, iys.email) SET SCHEMA iys_internal;
ALTER FUNCTION iys.email_ne(iys.email, iys.email) SET SCHEMA iys_internal;
ALTER FUNCTION iys.email_lt(iys.email, iys.email) SET SCHEMA iys_internal;
ALTER FUNCTION iys.email_le(iys.email, iys.email) SET SCHEMA iys_internal;
ALTER FUNCTION iys.email_gt(iys.email, iys.email) SET SCHEMA iys_internal;
ALTER FUNCTION iys.email_ge(iys.email, iys.email) SET SCHEMA iys_internal;
ALTER FUNCTION iys.email_cmp(iys.email, iys.email) SET SCHEMA iys_internal;
ALTER FUNCTION iys.email_hash(iys.email) SET SCHEMA iys_internal;
ALTER FUNCTION iys.email_hash_extended(iys.email, bigint) SET SCHEMA iys_internal;

-- Bodies that name moved functions (as sql/sync.sql, known_state.sql and privileges.sql create them).
CREATE OR REPLACE FUNCTION iys_internal.record_pulled(p_brand text, p_source text, p_after text, changes jsonb)
RETURNS integer LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    applied integer := iys_internal.record_iys_changes(p_brand, p_source, changes);
BEGIN
    INSERT INTO iys.pull_cursor AS pc (brand_code, source, after, last_attempt_at, last_success_at, last_error, applied_changes)
    VALUES (p_brand, p_source, p_after, now(), now(), NULL, applied)
    ON CONFLICT (brand_code, source) DO UPDATE
       SET after = coalesce(excluded.after, pc.after), last_attempt_at = now(), last_success_at = now(), last_error = NULL,
           applied_changes = pc.applied_changes + excluded.applied_changes;
    RETURN applied;
END $$;

CREATE OR REPLACE FUNCTION iys_internal.queue_missing_opt_outs(p_brand text, p_type iys.consent_type, p_rtype iys.recipient_type, keys text[])
RETURNS void LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    WITH queued AS (
        INSERT INTO iys.outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key)
        SELECT s.brand_code, s.recipient, s.recipient_type, s.consent_type, 'RET', iys_internal.reportable_source(s.local_source),
               date_trunc('second', now() AT TIME ZONE INTERVAL '+03:00'), s.source_table, s.source_key
          FROM iys.status_check s
         WHERE s.brand_code = p_brand AND s.consent_type = p_type AND s.recipient_type = p_rtype AND s.recipient = ANY (keys)
           AND NOT EXISTS (SELECT 1 FROM iys.outbox o
                            WHERE o.brand_code = s.brand_code AND o.recipient = s.recipient AND o.consent_type = s.consent_type
                              AND o.recipient_type = s.recipient_type AND o.state IN ('pending', 'in_flight') AND o.status = 'RET')
        RETURNING id, brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key
    ), noted AS (
        UPDATE iys.status_check s SET outbox_id = q.id
          FROM queued q
         WHERE s.brand_code = q.brand_code AND s.recipient = q.recipient AND s.consent_type = q.consent_type
           AND s.recipient_type = q.recipient_type
    )
    INSERT INTO iys.consent_ledger (origin, brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key, outbox_id)
    SELECT 'local', brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key, id FROM queued
$$;

CREATE OR REPLACE FUNCTION iys_internal.record_status_answers(p_brand text, p_type iys.consent_type, p_rtype iys.recipient_type, asked text[], onay text[])
RETURNS integer LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    answered integer;
    opt_outs text[];
BEGIN
    UPDATE iys.status_check s
       SET iys_onay = s.recipient = ANY (onay), checked_at = now(),
           iys_known = CASE WHEN s.recipient = ANY (onay) THEN true END,
           iys_status = CASE WHEN s.recipient = ANY (onay) THEN 'ONAY'::iys.consent_status END,
           -- IYS's record (date, source) is fetched where the row must be able to take it: a row
           -- saying ONAY that IYS does not list, a row without permission that IYS lists.
           state = CASE WHEN s.recipient = ANY (onay) THEN CASE WHEN s.local_status IS NULL THEN 'detail' ELSE 'done' END
                        WHEN s.local_status = 'ONAY' THEN 'detail' ELSE 'done' END
     WHERE s.brand_code = p_brand AND s.consent_type = p_type AND s.recipient_type = p_rtype
       AND s.recipient = ANY (asked) AND s.state = 'pending';
    GET DIAGNOSTICS answered = ROW_COUNT;

    INSERT INTO iys.current_consent AS c (brand_code, recipient, consent_type, recipient_type, status, origin)
    SELECT p_brand, r, p_type, p_rtype, 'ONAY', 'import' FROM unnest(onay) AS r
    ON CONFLICT (brand_code, recipient, consent_type, recipient_type) DO UPDATE
       SET status = 'ONAY', origin = 'import', confirmed_at = now(),
           source = CASE WHEN c.status = 'ONAY' THEN c.source END,
           consent_date = CASE WHEN c.status = 'ONAY' THEN c.consent_date END,
           transaction_id = CASE WHEN c.status = 'ONAY' THEN c.transaction_id END;

    UPDATE iys.current_consent c SET status = 'RET', origin = 'import', confirmed_at = now(),
           source = NULL, consent_date = NULL, transaction_id = NULL
     WHERE c.brand_code = p_brand AND c.consent_type = p_type AND c.recipient_type = p_rtype
       AND c.recipient = ANY (asked) AND NOT c.recipient = ANY (onay) AND c.status = 'ONAY';

    SELECT array_agg(s.recipient) INTO opt_outs FROM iys.status_check s
     WHERE s.brand_code = p_brand AND s.consent_type = p_type AND s.recipient_type = p_rtype
       AND s.recipient = ANY (onay) AND s.local_status = 'RET' AND s.outbox_id IS NULL;
    IF opt_outs IS NOT NULL THEN
        PERFORM iys_internal.queue_missing_opt_outs(p_brand, p_type, p_rtype, opt_outs);
    END IF;
    RETURN answered;
END $$;

CREATE OR REPLACE FUNCTION iys_internal.record_movement_file(p_brand text, p_date date, movements jsonb) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_missing_here   integer;
    v_differs        integer;
    v_missing_iys    integer;
    unknown          jsonb;
BEGIN
    INSERT INTO iys.reconcile_day (brand_code, report_date, movements)
    VALUES (p_brand, p_date, jsonb_array_length(movements))
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;

    CREATE TEMP TABLE file_movement ON COMMIT DROP AS
    SELECT m->>'transactionId' AS transaction_id,
           CASE WHEN m->>'type' = 'EPOSTA' THEN lower(m->>'recipient') ELSE m->>'recipient' END AS recipient,
           coalesce(nullif(m->>'recipientType', ''), 'BIREYSEL') AS recipient_type, m->>'type' AS consent_type,
           m->>'status' AS status, nullif(m->>'consentDate', '') AS consent_date, nullif(m->>'source', '') AS source, m
      FROM jsonb_array_elements(movements) AS m;

    SELECT jsonb_agg(f.m ORDER BY f.m->>'creationDate') INTO unknown FROM file_movement f
     WHERE NOT EXISTS (SELECT 1 FROM iys.consent_ledger l WHERE l.transaction_id = f.transaction_id)
       AND NOT EXISTS (SELECT 1 FROM iys.outbox o WHERE o.transaction_id = f.transaction_id);
    v_missing_here := coalesce(jsonb_array_length(unknown), 0);
    IF v_missing_here > 0 THEN
        INSERT INTO iys.reconcile_finding (brand_code, report_date, kind, recipient, consent_type, recipient_type, iys_status,
                                           consent_date, source, transaction_id, resolution, resolved_at)
        SELECT p_brand, p_date, 'missing_here', f.recipient, f.consent_type::iys.consent_type, f.recipient_type::iys.recipient_type,
               f.status::iys.consent_status, f.consent_date::timestamp, f.source, f.transaction_id,
               'recorded from the daily file', now()
          FROM file_movement f, jsonb_array_elements(unknown) u WHERE u->>'transactionId' = f.transaction_id;
        PERFORM iys_internal.record_iys_changes(p_brand, 'FILE', unknown);
    END IF;

    INSERT INTO iys.reconcile_finding (brand_code, report_date, kind, recipient, consent_type, recipient_type, iys_status,
                                       local_status, consent_date, source, transaction_id, outbox_id)
    SELECT p_brand, p_date, 'status_differs', f.recipient, f.consent_type::iys.consent_type, f.recipient_type::iys.recipient_type,
           f.status::iys.consent_status, o.status, f.consent_date::timestamp, f.source, f.transaction_id, o.id
      FROM file_movement f JOIN iys.outbox o ON o.transaction_id = f.transaction_id
     WHERE o.status::text <> f.status;
    GET DIAGNOSTICS v_differs = ROW_COUNT;

    INSERT INTO iys.reconcile_finding (brand_code, report_date, kind, recipient, consent_type, recipient_type,
                                       local_status, consent_date, source, transaction_id, outbox_id)
    SELECT p_brand, p_date, 'missing_at_iys', o.recipient, o.consent_type, o.recipient_type, o.status, o.consent_date,
           o.source::text, o.transaction_id, o.id
      FROM iys.batch b JOIN iys.outbox o ON o.batch_id = b.id
     WHERE b.brand_code = p_brand
       AND b.sent_at >= (p_date::timestamp AT TIME ZONE INTERVAL '+03:00')
       AND b.sent_at < ((p_date::timestamp + interval '23 hours 50 minutes') AT TIME ZONE INTERVAL '+03:00')
       AND o.state = 'accepted' AND o.transaction_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM file_movement f WHERE f.transaction_id = o.transaction_id);
    GET DIAGNOSTICS v_missing_iys = ROW_COUNT;

    UPDATE iys.reconcile_day SET missing_here = v_missing_here, status_differs = v_differs, missing_at_iys = v_missing_iys
     WHERE brand_code = p_brand AND report_date = p_date;
    RETURN v_missing_here + v_differs + v_missing_iys;
END $$;

CREATE OR REPLACE FUNCTION iys.grant_worker_rights(worker regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('GRANT SELECT ON iys.account, iys.brand, iys.attached_table, iys.holiday TO %s', worker);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON iys.outbox, iys.batch, iys.token, iys.worker_state,
                           iys.pull_cursor, iys.current_consent, iys.conflict, iys.inbox, iys.request_count,
                           iys.status_check, iys.reconcile_day, iys.reconcile_finding TO %s', worker);
    EXECUTE format('GRANT UPDATE (paused_code, paused_reason, paused_at, probe_at, probes) ON iys.account, iys.brand TO %s', worker);
    EXECUTE format('GRANT SELECT, INSERT ON iys.consent_ledger TO %s', worker);
    EXECUTE format('GRANT UPDATE (relid) ON iys.attached_table TO %s', worker);
    EXECUTE format('GRANT EXECUTE ON FUNCTION iys_internal.claim_batch(text, integer, bigint), iys_internal.record_pulled(text, text, text, jsonb),
                           iys_internal.confirm_local(bigint[]), iys_internal.pull_failed(text, text, text),
                           iys_internal.refresh_attachment_oids(), iys_internal.record_iys_changes(text, text, jsonb),
                           iys_internal.queue_missing_opt_outs(text, iys.consent_type, iys.recipient_type, text[]),
                           iys_internal.record_status_answers(text, iys.consent_type, iys.recipient_type, text[], text[]),
                           iys_internal.record_status_detail(text, iys.consent_type, iys.recipient_type, text, jsonb),
                           iys.recheck_known_keys(text, text), iys_internal.record_movement_file(text, date, jsonb),
                           iys_internal.recover_pull_gap(text) TO %s', worker);
END $$;

CREATE OR REPLACE FUNCTION iys_internal.attachment_guard() RETURNS event_trigger
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

COMMENT ON COLUMN iys.batch.sent_at IS 'when IYS took the request (its result is fetched iys.result_delay later)';
COMMENT ON FUNCTION iys_internal.claim_batch(text, integer, bigint) IS
    'internal: called by the worker to claim the next changes of a brand for one IYS batch (coalescing, per-key order, SKIP LOCKED)';
