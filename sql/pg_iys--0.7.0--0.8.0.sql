-- pg_iys 0.7.0 -> 0.8.0: the write path writes less.
--   * A local movement is recorded once, as its outbox row: the enqueue trigger, the opt-outs
--     queued by status queries and iys.resolve_drift no longer write a ledger row besides (two
--     heap rows and six index entries less per contact with two channels). The outbox keeps its
--     rows' movements unchanged (trigger outbox_history_kept) and its rows (outbox_history_not_
--     deleted) but through iys.prune_ledger, which now also removes settled local movements.
--     iys.consent_history shows both; the ledger keeps IYS's movements and the local ones recorded
--     before this version.
--   * Backends keep the business-day calendar across statements until iys.holiday changes
--     (trigger holiday_changed sends PostgreSQL's relcache invalidation for the table).
--   * iys.enqueue_changes is no longer SECURITY DEFINER with SET clauses: the library runs its
--     prepared statement as the extension's owner with JIT off.

-- The enqueue trigger switches to the extension's owner itself (src/sql_api/consent_trigger.rs).
ALTER FUNCTION iys.enqueue_changes() SECURITY INVOKER RESET ALL;

CREATE OR REPLACE FUNCTION iys_internal.ledger_guard() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE') AND current_setting('iys.pruning_ledger', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_TABLE_NAME = 'outbox' THEN
        RAISE EXCEPTION 'iys.outbox is the history of local consent movements: % of its rows is refused', lower(TG_OP)
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'A row''s movement (recipient, type, status, source, date, row, time) is never changed; rows leave only through iys.prune_ledger().',
                  HINT = 'Old history is removed with iys.prune_ledger(older_than interval).';
    END IF;
    RAISE EXCEPTION 'iys.consent_ledger is append-only'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Old history is removed with iys.prune_ledger(older_than interval).';
END $$;
CREATE TRIGGER outbox_history_kept
    BEFORE UPDATE OF brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_key,
                     enqueued_at, enqueued_by ON iys.outbox
    FOR EACH ROW EXECUTE FUNCTION iys_internal.ledger_guard();
CREATE TRIGGER outbox_history_not_deleted BEFORE DELETE OR TRUNCATE ON iys.outbox
    FOR EACH STATEMENT EXECUTE FUNCTION iys_internal.ledger_guard();
COMMENT ON TABLE iys.outbox IS 'consent changes waiting for, travelling to, or answered by IYS; each row is also the history of its local movement (never changed or deleted but by iys.prune_ledger)';
COMMENT ON TABLE iys.consent_ledger IS 'append-only history of IYS''s movements (pulled, pushed, from daily files) and of local movements recorded before 0.8.0; since then a local movement''s history is its outbox row (iys.consent_history shows all)';

CREATE OR REPLACE FUNCTION iys.prune_ledger(older_than interval, force boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    removed       bigint;
    local_removed bigint;
BEGIN
    IF older_than IS NULL OR (older_than < interval '3 years' AND NOT force) THEN
        RAISE EXCEPTION 'iys.prune_ledger keeps at least three years of consent history (asked: %)', coalesce(older_than::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The ledger is the legal proof of consent. Pass force => true to remove younger history anyway.';
    END IF;
    PERFORM set_config('iys.pruning_ledger', 'on', true);
    DELETE FROM iys.consent_ledger l
     WHERE l.recorded_at < now() - older_than
       AND NOT EXISTS (SELECT 1 FROM iys.outbox o WHERE o.id = l.outbox_id AND o.state IN ('pending', 'in_flight'));
    GET DIAGNOSTICS removed = ROW_COUNT;
    DELETE FROM iys.outbox o
     WHERE o.enqueued_at < now() - older_than AND o.state NOT IN ('pending', 'in_flight')
       AND NOT EXISTS (SELECT 1 FROM iys.consent_ledger l WHERE l.outbox_id = o.id);
    GET DIAGNOSTICS local_removed = ROW_COUNT;
    PERFORM set_config('iys.pruning_ledger', 'off', true);
    RAISE NOTICE 'iys.prune_ledger removed % movement(s) recorded before %: % from iys.consent_ledger, % local from iys.outbox',
        removed + local_removed, now() - older_than, removed, local_removed;
    RETURN removed + local_removed;
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
    -- The outbox row is the movement's history too (iys.consent_history).
    SELECT count(*) FROM queued
$$;

CREATE OR REPLACE FUNCTION iys.recheck_known_keys(p_brand text, p_reason text DEFAULT 'manual') RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    WITH keys AS (
        SELECT DISTINCT ON (k.recipient, k.consent_type, k.recipient_type) k.recipient, k.consent_type, k.recipient_type, k.status
          FROM (SELECT c.recipient, c.consent_type, c.recipient_type, c.status, 1 AS pref, '-infinity'::timestamptz AS at
                  FROM iys.current_consent c WHERE c.brand_code = p_brand
                UNION ALL
                SELECT l.recipient, l.consent_type, l.recipient_type, l.status, 2, l.recorded_at
                  FROM iys.consent_ledger l WHERE l.brand_code = p_brand
                UNION ALL
                SELECT o.recipient, o.consent_type, o.recipient_type, o.status, 2, o.enqueued_at
                  FROM iys.outbox o WHERE o.brand_code = p_brand) k
         ORDER BY k.recipient, k.consent_type, k.recipient_type, k.pref, k.at DESC
    ), queued AS (
        INSERT INTO iys.status_check AS s (brand_code, recipient, consent_type, recipient_type, reason, local_status)
        SELECT p_brand, recipient, consent_type, recipient_type, p_reason, status FROM keys
        ON CONFLICT (brand_code, recipient, consent_type, recipient_type) DO UPDATE
           SET reason = excluded.reason, local_status = excluded.local_status, queued_at = now(), state = 'pending',
               iys_onay = NULL, iys_known = NULL, iys_status = NULL, iys_consent_date = NULL, iys_source = NULL,
               checked_at = NULL, outbox_id = NULL, resolution = NULL, resolved_at = NULL
        RETURNING 1)
    SELECT count(*) FROM queued
$$;

CREATE OR REPLACE FUNCTION iys.resolve_drift(p_brand text, winner text DEFAULT NULL)
RETURNS TABLE (action text, keys bigint) LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_winner  text := winner;
    n         bigint;
BEGIN
    IF v_winner IS NULL THEN
        SELECT CASE b.mode WHEN 'sync' THEN 'iys' ELSE 'local' END INTO v_winner FROM iys.brand b WHERE b.brand_code = p_brand;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'brand % is not configured', p_brand USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    IF v_winner NOT IN ('iys', 'local') THEN
        RAISE EXCEPTION 'winner must be ''iys'' or ''local'', not %', v_winner USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Local opt-outs: already queued when found; nothing wins over them.
    UPDATE iys.status_check s SET resolution = 'opt-out sent to IYS', resolved_at = now()
     WHERE s.brand_code = p_brand AND s.resolved_at IS NULL AND s.state = 'done' AND s.iys_onay AND s.local_status = 'RET';
    GET DIAGNOSTICS n = ROW_COUNT;
    action := 'local opt-outs kept (sent to IYS)'; keys := n; RETURN NEXT;

    IF v_winner = 'iys' THEN
        -- IYS's record reaches every attached row holding the address.
        WITH taken AS (
            UPDATE iys.status_check s SET resolution = 'rows take IYS''s ' || coalesce(s.iys_status::text, 'ONAY'), resolved_at = now()
             WHERE s.brand_code = p_brand AND s.resolved_at IS NULL AND s.state = 'done'
               AND ((s.iys_onay AND s.local_status IS NULL) OR (NOT s.iys_onay AND s.local_status = 'ONAY' AND s.iys_known))
            RETURNING s.*)
        INSERT INTO iys.inbox (origin, brand_code, recipient, recipient_type, consent_type, status, source, consent_date)
        SELECT 'iys', t.brand_code, t.recipient, t.recipient_type, t.consent_type, coalesce(t.iys_status, 'ONAY'), t.iys_source, t.iys_consent_date
          FROM taken t;
        GET DIAGNOSTICS n = ROW_COUNT;
        action := 'rows updated from IYS''s record'; keys := n; RETURN NEXT;
        -- IYS has nothing: there is no record to copy. The row keeps its ONAY; can_send stays false.
        UPDATE iys.status_check s SET resolution = 'IYS has no record: row kept, can_send false', resolved_at = now()
         WHERE s.brand_code = p_brand AND s.resolved_at IS NULL AND s.state = 'done' AND NOT s.iys_onay
           AND s.local_status = 'ONAY' AND s.iys_known IS FALSE;
        GET DIAGNOSTICS n = ROW_COUNT;
        action := 'rows kept: IYS has no record'; keys := n; RETURN NEXT;
    ELSE
        WITH taken AS (
            UPDATE iys.status_check s SET resolution = 'local ONAY sent to IYS', resolved_at = now()
             WHERE s.brand_code = p_brand AND s.resolved_at IS NULL AND s.state = 'done' AND NOT s.iys_onay AND s.local_status = 'ONAY'
            RETURNING s.*)
        -- The outbox row is the movement's history too (iys.consent_history).
        INSERT INTO iys.outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key)
        SELECT t.brand_code, t.recipient, t.recipient_type, t.consent_type, 'ONAY',
               CASE WHEN t.local_source = ANY (enum_range(NULL::iys.consent_source)::text[]) THEN t.local_source::iys.consent_source END,
               t.local_consent_date, t.source_table, t.source_key
          FROM taken t;
        GET DIAGNOSTICS n = ROW_COUNT;
        action := 'local ONAYs sent to IYS'; keys := n; RETURN NEXT;
        UPDATE iys.status_check s SET resolution = 'IYS''s ONAY kept; the row has no permission', resolved_at = now()
         WHERE s.brand_code = p_brand AND s.resolved_at IS NULL AND s.state = 'done' AND s.iys_onay AND s.local_status IS NULL;
        GET DIAGNOSTICS n = ROW_COUNT;
        action := 'IYS''s ONAYs kept (rows without permission)'; keys := n; RETURN NEXT;
    END IF;

    UPDATE iys.reconcile_finding f SET resolution = 'acknowledged', resolved_at = now()
     WHERE f.brand_code = p_brand AND f.resolved_at IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    action := 'daily-file findings acknowledged'; keys := n; RETURN NEXT;
END $$;

CREATE OR REPLACE FUNCTION iys_internal.record_iys_changes(p_brand text, p_source text, changes jsonb)
RETURNS integer LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c            jsonb;
    applied      integer := 0;
    v_recipient  text;
    v_type       iys.consent_type;
    v_rtype      iys.recipient_type;
    v_status     iys.consent_status;
    v_source_raw text;
    v_source     iys.consent_source;
    v_date       timestamp;
    v_created    timestamp;
    v_txid       text;
BEGIN
    -- One brand's movements are recorded by one transaction at a time (the worker's pull and the
    -- push receiver's calls): a movement arriving both ways is found by the second.
    PERFORM pg_advisory_xact_lock(hashtext('pg_iys record_iys_changes'), hashtext(p_brand));
    FOR c IN SELECT * FROM jsonb_array_elements(changes) LOOP
        BEGIN
            IF jsonb_typeof(c) <> 'object' THEN
                RAISE EXCEPTION 'the change is not an object';
            END IF;
            v_txid := c->>'transactionId';
            v_type := (c->>'type')::iys.consent_type;
            v_recipient := CASE WHEN v_type = 'EPOSTA' THEN lower(c->>'recipient') ELSE c->>'recipient' END;
            IF v_recipient IS NULL OR v_recipient = '' THEN
                RAISE EXCEPTION 'the change has no recipient';
            END IF;
            v_rtype := coalesce(nullif(c->>'recipientType', ''), 'BIREYSEL')::iys.recipient_type;
            v_status := (c->>'status')::iys.consent_status;
            v_source_raw := nullif(c->>'source', '');
            -- A source newer than our list is kept as IYS spelled it, not refused.
            -- Looked up, not cast: a cast in a CASE branch not taken may still be folded early.
            v_source := (SELECT s FROM unnest(enum_range(NULL::iys.consent_source)) s WHERE s::text = v_source_raw);
            v_date := nullif(c->>'consentDate', '')::timestamp;
            -- Only to tell movements apart: a form this version cannot read is no reason to hold
            -- the change back.
            v_created := CASE WHEN c->>'creationDate' ~ '^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?$'
                              THEN (c->>'creationDate')::timestamp END;
            -- Already known: pulled before, or our own accepted movement back through the HS pull.
            -- IYS gives every movement of one address and type within a second the same
            -- transactionId: the movement itself is compared, not the id alone (ledger rows from
            -- before 0.7.0 have no creation date: any of that id, address, type and status).
            CONTINUE WHEN v_txid IS NOT NULL AND (
                EXISTS (SELECT 1 FROM iys.consent_ledger l
                         WHERE l.transaction_id = v_txid AND l.brand_code = p_brand AND l.recipient = v_recipient
                           AND l.consent_type = v_type AND l.status = v_status
                           AND (l.creation_date IS NULL OR l.creation_date IS NOT DISTINCT FROM v_created))
                OR EXISTS (SELECT 1 FROM iys.outbox o
                            WHERE o.transaction_id = v_txid AND o.brand_code = p_brand AND o.recipient = v_recipient
                              AND o.consent_type = v_type AND o.status = v_status));
            -- Our own movement whose transaction id we do not know yet (its batch result is not
            -- fetched): the same key, status and date as an unsettled change of ours (or, recorded
            -- before 0.8.0, a local ledger row).
            CONTINUE WHEN p_source IN ('HS', 'FILE') AND (
                EXISTS (SELECT 1 FROM iys.outbox o
                         WHERE o.brand_code = p_brand AND o.recipient = v_recipient AND o.consent_type = v_type
                           AND o.recipient_type = v_rtype AND o.state IN ('pending', 'in_flight') AND o.status = v_status
                           AND date_trunc('second', o.consent_date) IS NOT DISTINCT FROM date_trunc('second', v_date))
                OR EXISTS (SELECT 1 FROM iys.consent_ledger l
                            WHERE l.brand_code = p_brand AND l.recipient = v_recipient AND l.consent_type = v_type
                              AND l.recipient_type = v_rtype AND l.origin = 'local' AND l.status = v_status
                              AND date_trunc('second', l.consent_date) IS NOT DISTINCT FROM date_trunc('second', v_date)));
        EXCEPTION WHEN OTHERS THEN
            INSERT INTO iys.inbox (origin, brand_code, transaction_id, payload, state, error, settled_at)
            VALUES ('iys', p_brand, c->>'transactionId', c, 'quarantined', 'unreadable change: ' || SQLERRM, now());
            CONTINUE;
        END;
        applied := applied + 1;

        INSERT INTO iys.consent_ledger (origin, brand_code, recipient, recipient_type, consent_type, status, source,
                                        consent_date, transaction_id, iys_source, creation_date)
        VALUES ('iys', p_brand, v_recipient, v_rtype, v_type, v_status, v_source, v_date, v_txid, v_source_raw, v_created);

        INSERT INTO iys.current_consent AS cc (brand_code, recipient, consent_type, recipient_type, status, source,
                                               consent_date, transaction_id, origin)
        VALUES (p_brand, v_recipient, v_type, v_rtype, v_status, v_source, v_date, v_txid, 'iys')
        ON CONFLICT (brand_code, recipient, consent_type, recipient_type) DO UPDATE
           SET status = excluded.status, source = excluded.source, consent_date = excluded.consent_date,
               transaction_id = excluded.transaction_id, origin = 'iys', confirmed_at = now()
         -- IYS's movements come in the order it made them: a later one stands unless it carries
         -- an older consent date. Dates compare to the second (IYS's precision; ours may have
         -- fractions). A movement without a date (TACIR) and an operator's line closure (which
         -- carries the consent's own, older date) always stand.
         WHERE cc.consent_date IS NULL OR excluded.consent_date IS NULL OR v_source_raw = 'IYS_AHS_HAT_KAPATMA'
            OR date_trunc('second', excluded.consent_date) >= date_trunc('second', cc.consent_date);

        INSERT INTO iys.inbox (origin, brand_code, recipient, recipient_type, consent_type, status, source, consent_date, transaction_id)
        VALUES ('iys', p_brand, v_recipient, v_rtype, v_type, v_status, v_source_raw, v_date, v_txid);
    END LOOP;
    RETURN applied;
END $$;

CREATE OR REPLACE VIEW iys.consent_history AS
SELECT l.id, l.recorded_at, l.origin, l.brand_code, l.recipient, l.recipient_type, l.consent_type, l.status,
       l.source, l.consent_date, l.source_table::regclass AS source_table, l.source_key, l.recorded_by,
       coalesce(l.transaction_id, o.transaction_id) AS transaction_id,
       CASE WHEN l.origin = 'iys' THEN 'accepted' ELSE o.state END AS outcome,
       o.error_code, o.error_message, l.outbox_id, l.iys_source, l.creation_date
  FROM iys.consent_ledger l LEFT JOIN iys.outbox o ON o.id = l.outbox_id
UNION ALL
SELECT NULL::bigint, o.enqueued_at, 'local', o.brand_code, o.recipient, o.recipient_type, o.consent_type, o.status,
       o.source, o.consent_date, o.source_table::regclass, o.source_key, o.enqueued_by, o.transaction_id, o.state,
       o.error_code, o.error_message, o.id, NULL::text, NULL::timestamp
  FROM iys.outbox o
 WHERE NOT EXISTS (SELECT 1 FROM iys.consent_ledger l WHERE l.outbox_id = o.id);
COMMENT ON VIEW iys.consent_history IS 'every consent movement, local (its outbox row) or from IYS (its ledger row), with IYS''s transactionId and what became of it';
COMMENT ON COLUMN iys.consent_history.id IS 'the ledger row; NULL for a local movement recorded as its outbox row only (since 0.8.0: see outbox_id)';

-- The calendar kept across statements (as sql/calendar.sql creates it).
CREATE FUNCTION iys_internal.invalidate_calendar() RETURNS void
    VOLATILE LANGUAGE c AS 'MODULE_PATHNAME', 'invalidate_calendar_wrapper';
CREATE FUNCTION iys_internal.holiday_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM iys_internal.invalidate_calendar();
    RETURN NULL;
END $$;
CREATE TRIGGER holiday_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON iys.holiday
    FOR EACH STATEMENT EXECUTE FUNCTION iys_internal.holiday_changed();
COMMENT ON FUNCTION iys_internal.invalidate_calendar() IS 'internal: tells every backend to read iys.holiday again once this transaction commits (called by the trigger holiday_changed)';
COMMENT ON FUNCTION iys_internal.holiday_changed() IS 'internal: statement trigger on iys.holiday; backends keep the calendar until a change to it commits';
