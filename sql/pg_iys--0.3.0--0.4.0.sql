-- pg_iys 0.3.0 -> 0.4.0: day one and daily reconciliation.
--   * iys.adopt(table): existing rows' addresses in IYS's form, and their keys queued for IYS's
--     status queries (iys.status_check, iys.status_check_progress, CALL iys.follow_status_checks());
--     what IYS holds becomes IYS's known state (iys.current_consent, origin 'import').
--   * Differences are listed in iys.drift and settled by iys.resolve_drift(brand, winner).
--   * Every RET is sent, also for keys pg_iys never saw; IYS's H175 settles it as not_in_iys.
--     In sync mode only ONAYs for keys IYS does not hold are held back.
--   * Daily movement files (iys.reconcile_day, iys.reconcile_finding, iys.record_movement_file);
--     a pull gap over 7 days is bridged by status queries (iys.recover_pull_gap).
--   * iys.can_send normalises its input; iys.can_send_many() and the view iys.sendable for
--     campaign lists; iys.try_normalize_recipient().
--   * ALTER TABLE that breaks an attached table's mapping is refused (event trigger
--     pg_iys_attachment_guard, iys.verify_attachment()).

ALTER TABLE iys.outbox DROP CONSTRAINT outbox_state_check;
ALTER TABLE iys.outbox ADD CONSTRAINT outbox_state_check
    CHECK (state IN ('pending', 'in_flight', 'accepted', 'rejected', 'superseded', 'not_in_iys'));
ALTER TABLE iys.current_consent DROP CONSTRAINT current_consent_origin_check;
ALTER TABLE iys.current_consent ADD CONSTRAINT current_consent_origin_check CHECK (origin IN ('local', 'iys', 'import'));
ALTER TABLE iys.pull_cursor ADD COLUMN gap_rechecked_at timestamptz, ADD COLUMN gap_keys bigint;

-- Rust functions (as cargo pgrx schema generates them).
CREATE FUNCTION iys.try_normalize_recipient(
	"recipient" TEXT,
	"consent_type" iys.consent_type
) RETURNS TEXT
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'try_normalize_recipient_wrapper';
CREATE FUNCTION iys.fold_value(
	"value" TEXT
) RETURNS TEXT
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'fold_value_wrapper';

CREATE OR REPLACE FUNCTION iys.claim_batch(brand text, batch_size integer, after_id bigint DEFAULT 0)
RETURNS SETOF iys.outbox LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- Sync mode (IYS is master): only consents IYS already has (as far as pulls, status queries and
    -- daily files tell) may be given from here. An opt-out always goes: IYS answers H175 if it
    -- never had the consent.
    IF EXISTS (SELECT 1 FROM iys.brand b WHERE b.brand_code = brand AND b.mode = 'sync') THEN
        UPDATE iys.outbox o SET state = 'rejected', settled_at = now(), error_code = 'PGIYS_SYNC_MODE',
               error_message = 'brand is in sync mode (IYS is master): pg_iys updates consents IYS already has but does not create them'
         WHERE o.state = 'pending' AND o.brand_code = brand AND o.status = 'ONAY'
           AND NOT EXISTS (SELECT 1 FROM iys.current_consent c
                            WHERE c.brand_code = o.brand_code AND c.recipient = o.recipient
                              AND c.consent_type = o.consent_type AND c.recipient_type = o.recipient_type);
    END IF;
    -- One LATERAL probe of outbox_unsettled_key_idx per candidate answers all three per-key
    -- questions (anything in flight? the newest pending change? the older ones?), and every
    -- update goes by primary key, so the plan stays index-driven even before the table has
    -- statistics (the first claim after a bulk load).
    --   * A change past IYS's 3-business-day window is rejected here with H467, not sent.
    --   * One recipient never goes with two statuses in one batch (IYS refuses such a list): a
    --     recipient's change whose status differs from an earlier one of the batch waits.
    RETURN QUERY
    WITH candidate AS (
        SELECT o.id, k.newest, k.pending_ids
          FROM iys.outbox o
          CROSS JOIN LATERAL (
                SELECT max(u.id) FILTER (WHERE u.state = 'pending') AS newest,
                       bool_or(u.state = 'in_flight') AS busy,
                       array_agg(u.id) FILTER (WHERE u.state = 'pending') AS pending_ids
                  FROM iys.outbox u
                 WHERE u.brand_code = o.brand_code AND u.recipient = o.recipient
                   AND u.consent_type = o.consent_type AND u.recipient_type = o.recipient_type
                   AND u.state IN ('pending', 'in_flight')) k
         WHERE o.state = 'pending' AND o.brand_code = brand AND o.id > after_id AND o.next_attempt_at <= now()
           AND k.busy IS NOT TRUE
         ORDER BY o.id
         LIMIT batch_size
           FOR UPDATE OF o SKIP LOCKED
    ), newest AS (
        SELECT n.id, n.recipient, n.status,
               n.consent_date IS NOT NULL AND n.source IS DISTINCT FROM 'HS_2015'
                 AND iys.reporting_deadline(n.consent_date) < (now() AT TIME ZONE INTERVAL '+03:00') AS late
          FROM iys.outbox n
         WHERE n.id = ANY (ARRAY(SELECT DISTINCT c.newest FROM candidate c WHERE c.newest IS NOT NULL))
    ), sendable AS (
        SELECT n.id FROM newest n
         WHERE NOT n.late
           AND NOT EXISTS (SELECT 1 FROM newest m WHERE m.recipient = n.recipient AND m.status <> n.status
                                                    AND m.id < n.id AND NOT m.late)
    ), superseded AS (
        UPDATE iys.outbox s SET state = 'superseded', settled_at = now()
         WHERE s.id = ANY (ARRAY(SELECT p.id FROM candidate c, unnest(c.pending_ids) AS p(id) WHERE p.id <> c.newest))
           AND s.state = 'pending'
    ), too_late AS (
        UPDATE iys.outbox r SET state = 'rejected', settled_at = now(), error_code = 'H467',
               error_message = 'not sent: collected more than 3 business days ago; IYS accepted it until '
                               || to_char(iys.reporting_deadline(r.consent_date), 'YYYY-MM-DD HH24:MI:SS') || ' Turkey time'
         WHERE r.id = ANY (ARRAY(SELECT n.id FROM newest n WHERE n.late)) AND r.state = 'pending'
    ), batch AS (
        INSERT INTO iys.batch (brand_code, outbox_ids)
        SELECT brand, array_agg(n.id ORDER BY n.id) FROM sendable n HAVING count(*) > 0
        RETURNING id
    )
    UPDATE iys.outbox c SET state = 'in_flight', attempts = c.attempts + 1, batch_id = (SELECT id FROM batch)
     WHERE c.id = ANY (ARRAY(SELECT id FROM sendable)) AND c.state = 'pending'
    RETURNING c.*;
END $$;

CREATE OR REPLACE FUNCTION iys.requeue_rejected(ids bigint[] DEFAULT NULL, error_code text DEFAULT NULL, brand_code text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    requeued bigint;
BEGIN
    IF ids IS NULL AND requeue_rejected.error_code IS NULL AND requeue_rejected.brand_code IS NULL THEN
        RAISE EXCEPTION 'iys.requeue_rejected() needs ids, error_code or brand_code'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'e.g. SELECT iys.requeue_rejected(error_code => ''H119'');';
    END IF;
    UPDATE iys.outbox o
       SET state = 'pending', attempts = 0, next_attempt_at = now(), settled_at = NULL, batch_id = NULL,
           error_code = NULL, error_message = 'requeued after ' || coalesce(o.error_code || ': ', '') || coalesce(o.error_message, '')
     WHERE o.state IN ('rejected', 'not_in_iys')   -- not_in_iys: a RET IYS refused with H175
       AND (requeue_rejected.ids IS NULL OR o.id = ANY (requeue_rejected.ids))
       AND (requeue_rejected.error_code IS NULL OR o.error_code = requeue_rejected.error_code)
       AND (requeue_rejected.brand_code IS NULL OR o.brand_code = requeue_rejected.brand_code)
       AND NOT EXISTS (SELECT 1 FROM iys.outbox n
                        WHERE n.brand_code = o.brand_code AND n.recipient = o.recipient AND n.consent_type = o.consent_type
                          AND n.recipient_type = o.recipient_type AND n.state IN ('pending', 'in_flight'))
       AND NOT EXISTS (SELECT 1 FROM iys.current_consent c
                        WHERE c.brand_code = o.brand_code AND c.recipient = o.recipient AND c.consent_type = o.consent_type
                          AND c.recipient_type = o.recipient_type AND c.consent_date > o.consent_date);
    GET DIAGNOSTICS requeued = ROW_COUNT;
    RETURN requeued;
END $$;
CREATE OR REPLACE FUNCTION iys.record_pulled(p_brand text, p_source text, p_after text, changes jsonb)
RETURNS integer LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    applied integer := iys.record_iys_changes(p_brand, p_source, changes);
BEGIN
    INSERT INTO iys.pull_cursor AS pc (brand_code, source, after, last_attempt_at, last_success_at, last_error, applied_changes)
    VALUES (p_brand, p_source, p_after, now(), now(), NULL, applied)
    ON CONFLICT (brand_code, source) DO UPDATE
       SET after = coalesce(excluded.after, pc.after), last_attempt_at = now(), last_success_at = now(), last_error = NULL,
           applied_changes = pc.applied_changes + excluded.applied_changes;
    RETURN applied;
END $$;

CREATE FUNCTION iys.record_iys_changes(p_brand text, p_source text, changes jsonb)
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
    v_txid       text;
BEGIN
    FOR c IN SELECT * FROM jsonb_array_elements(changes) LOOP
        BEGIN
            v_txid := c->>'transactionId';
            -- Already known: pulled before, or our own accepted movement back through the HS pull.
            CONTINUE WHEN v_txid IS NOT NULL AND (EXISTS (SELECT 1 FROM iys.consent_ledger l WHERE l.transaction_id = v_txid)
                                                  OR EXISTS (SELECT 1 FROM iys.outbox o WHERE o.transaction_id = v_txid));
            v_type := (c->>'type')::iys.consent_type;
            v_recipient := CASE WHEN v_type = 'EPOSTA' THEN lower(c->>'recipient') ELSE c->>'recipient' END;
            IF v_recipient IS NULL OR v_recipient = '' THEN
                RAISE EXCEPTION 'the change has no recipient';
            END IF;
            v_rtype := coalesce(nullif(c->>'recipientType', ''), 'BIREYSEL')::iys.recipient_type;
            v_status := (c->>'status')::iys.consent_status;
            v_source_raw := nullif(c->>'source', '');
            -- A source newer than our list is kept as IYS spelled it, not refused.
            v_source := CASE WHEN v_source_raw = ANY (enum_range(NULL::iys.consent_source)::text[])
                             THEN v_source_raw::iys.consent_source END;
            v_date := nullif(c->>'consentDate', '')::timestamp;
            -- Our own movement whose transaction id we do not know yet (its batch result is not
            -- fetched): the same key, status and date as a local movement of ours.
            CONTINUE WHEN p_source IN ('HS', 'FILE') AND EXISTS (
                SELECT 1 FROM iys.consent_ledger l
                 WHERE l.brand_code = p_brand AND l.recipient = v_recipient AND l.consent_type = v_type
                   AND l.recipient_type = v_rtype AND l.origin = 'local' AND l.status = v_status
                   AND date_trunc('second', l.consent_date) IS NOT DISTINCT FROM date_trunc('second', v_date));
        EXCEPTION WHEN OTHERS THEN
            INSERT INTO iys.inbox (origin, brand_code, transaction_id, payload, state, error, settled_at)
            VALUES ('iys', p_brand, c->>'transactionId', c, 'quarantined', 'unreadable change: ' || SQLERRM, now());
            CONTINUE;
        END;
        applied := applied + 1;

        INSERT INTO iys.consent_ledger (origin, brand_code, recipient, recipient_type, consent_type, status, source,
                                        consent_date, transaction_id)
        VALUES ('iys', p_brand, v_recipient, v_rtype, v_type, v_status, v_source, v_date, v_txid);

        INSERT INTO iys.current_consent AS cc (brand_code, recipient, consent_type, recipient_type, status, source,
                                               consent_date, transaction_id, origin)
        VALUES (p_brand, v_recipient, v_type, v_rtype, v_status, v_source, v_date, v_txid, 'iys')
        ON CONFLICT (brand_code, recipient, consent_type, recipient_type) DO UPDATE
           SET status = excluded.status, source = excluded.source, consent_date = excluded.consent_date,
               transaction_id = excluded.transaction_id, origin = 'iys', confirmed_at = now()
         WHERE cc.consent_date IS NULL OR excluded.consent_date >= cc.consent_date;

        INSERT INTO iys.inbox (origin, brand_code, recipient, recipient_type, consent_type, status, source, consent_date, transaction_id)
        VALUES ('iys', p_brand, v_recipient, v_rtype, v_type, v_status, v_source_raw, v_date, v_txid);
    END LOOP;
    RETURN applied;
END $$;

CREATE OR REPLACE FUNCTION iys.can_send(recipient text, consent_type iys.consent_type, brand_code text DEFAULT NULL)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (
        SELECT 1 FROM iys.current_consent c
         WHERE c.recipient = iys.try_normalize_recipient(can_send.recipient, can_send.consent_type)
           AND c.consent_type = can_send.consent_type
           AND (can_send.brand_code IS NULL OR c.brand_code = can_send.brand_code)
           AND c.status = 'ONAY'
           AND NOT EXISTS (
               SELECT 1 FROM iys.outbox o
                WHERE o.state IN ('pending', 'in_flight') AND o.status = 'RET'
                  AND o.brand_code = c.brand_code AND o.recipient = c.recipient
                  AND o.consent_type = c.consent_type AND o.recipient_type = c.recipient_type))
$$;
COMMENT ON FUNCTION iys.can_send(text, iys.consent_type, text) IS
    'true when IYS holds an ONAY for the recipient (any spelling) and channel and no newer RET is waiting';

CREATE VIEW iys.sendable AS
SELECT DISTINCT c.brand_code, c.recipient, c.consent_type
  FROM iys.current_consent c
 WHERE c.status = 'ONAY'
   AND NOT EXISTS (
       SELECT 1 FROM iys.outbox o
        WHERE o.state IN ('pending', 'in_flight') AND o.status = 'RET'
          AND o.brand_code = c.brand_code AND o.recipient = c.recipient
          AND o.consent_type = c.consent_type AND o.recipient_type = c.recipient_type);

-- can_send for a whole list in one pass: the recipients IYS holds as sendable are hashed once
-- and each element of the list (normalised) is probed, instead of one index lookup per
-- element. One row per element of `recipients`, in order, with the recipient as given.
CREATE FUNCTION iys.can_send_many(recipients text[], consent_type iys.consent_type, brand_code text DEFAULT NULL)
RETURNS TABLE (recipient text, can_send boolean) LANGUAGE sql STABLE PARALLEL SAFE
-- The hash of a large brand's sendable recipients must stay in memory to be probed.
SET search_path = pg_catalog, pg_temp SET work_mem = '64MB' AS $$
    SELECT r.recipient,
           coalesce(iys.try_normalize_recipient(r.recipient, can_send_many.consent_type) IN (
               SELECT c.recipient FROM iys.current_consent c
                WHERE c.consent_type = can_send_many.consent_type AND c.status = 'ONAY'
                  AND (can_send_many.brand_code IS NULL OR c.brand_code = can_send_many.brand_code)
                  AND NOT EXISTS (
                      SELECT 1 FROM iys.outbox o
                       WHERE o.state IN ('pending', 'in_flight') AND o.status = 'RET'
                         AND o.brand_code = c.brand_code AND o.recipient = c.recipient
                         AND o.consent_type = c.consent_type AND o.recipient_type = c.recipient_type)), false)
      FROM unnest(recipients) WITH ORDINALITY AS r(recipient, ord)
     ORDER BY r.ord
$$;
COMMENT ON FUNCTION iys.can_send_many(text[], iys.consent_type, text) IS
    'iys.can_send for a list of recipients: one row per element, in order';

DROP VIEW iys.sync_status;

-- What IYS already holds for keys pg_iys has not seen move: rows that predate iys.adopt(), keys
-- that may have changed during a pull outage longer than IYS's 7-day window. The worker asks IYS
-- with its status queries (src/worker/known_state.rs) and records the answers here and in
-- iys.current_consent (IYS's known state, which can_send reads). Local rows are never
-- overwritten: a difference is listed in iys.drift until the DBA resolves it
-- (iys.resolve_drift). The daily movement file (iys.reconcile_day) feeds the same view.

-- One key to ask IYS about. `state`: pending (multi-status query to do) → detail (single status
-- query to do: the answer needs IYS's record, e.g. a local ONAY that IYS does not have as ONAY)
-- → done. Re-queueing a key starts it again.
CREATE TABLE iys.status_check (
    brand_code          text NOT NULL REFERENCES iys.brand ON DELETE CASCADE,
    recipient           text NOT NULL,
    consent_type        iys.consent_type NOT NULL,
    recipient_type      iys.recipient_type NOT NULL,
    reason              text NOT NULL CHECK (reason IN ('adopt', 'pull_gap', 'manual')),
    local_status        iys.consent_status,        -- what the row (or our known state) said; NULL: no permission
    local_consent_date  timestamp,
    local_source        text,
    source_table        oid,
    source_key          text,
    queued_at           timestamptz NOT NULL DEFAULT now(),
    state               text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'detail', 'done')),
    iys_onay            boolean,                   -- the multi-status answer
    iys_known           boolean,                   -- the single status answer: does IYS have a record at all
    iys_status          iys.consent_status,
    iys_consent_date    timestamp,
    iys_source          text,
    checked_at          timestamptz,
    outbox_id           bigint,                    -- the RET (or, resolved for local, the ONAY) queued for it
    resolution          text,
    resolved_at         timestamptz,
    PRIMARY KEY (brand_code, recipient, consent_type, recipient_type)
);
COMMENT ON TABLE iys.status_check IS 'keys whose state in IYS pg_iys asks with IYS''s status queries, and the answers';
CREATE INDEX status_check_todo_idx ON iys.status_check (brand_code, consent_type, recipient_type, state)
    WHERE state <> 'done';
GRANT SELECT ON iys.status_check TO pg_monitor;

-- The source an opt-out pg_iys reports on the row's behalf is sent with: the row's own HS_*
-- source when IYS takes it, else HS_WEB (the app's own electronic channel).
CREATE FUNCTION iys.reportable_source(source text) RETURNS iys.consent_source
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN upper(trim(source)) LIKE 'HS\_%' AND upper(trim(source)) = ANY (enum_range(NULL::iys.consent_source)::text[])
                THEN upper(trim(source))::iys.consent_source ELSE 'HS_WEB'::iys.consent_source END
$$;

-- Queues an opt-out IYS does not have (its record is ONAY) for keys of `keys`; a RET already on
-- its way is not queued twice. Dated now: IYS refuses movements dated more than 3 business
-- days back (H467), and an opt-out must reach IYS whatever its age.
CREATE FUNCTION iys.queue_missing_opt_outs(p_brand text, p_type iys.consent_type, p_rtype iys.recipient_type, keys text[])
RETURNS void LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    WITH queued AS (
        INSERT INTO iys.outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key)
        SELECT s.brand_code, s.recipient, s.recipient_type, s.consent_type, 'RET', iys.reportable_source(s.local_source),
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

-- Records IYS's answer to one multi-status query: `asked` were asked, `onay` came back (IYS
-- answers only the ONAY ones). IYS's known state: an ONAY is recorded as such; a key we knew as
-- ONAY that is no longer listed has become RET (IYS never deletes a record). A local opt-out IYS
-- holds as ONAY is queued at once; a local ONAY IYS does not list needs IYS's record (detail).
CREATE FUNCTION iys.record_status_answers(p_brand text, p_type iys.consent_type, p_rtype iys.recipient_type, asked text[], onay text[])
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
        PERFORM iys.queue_missing_opt_outs(p_brand, p_type, p_rtype, opt_outs);
    END IF;
    RETURN answered;
END $$;

-- Records IYS's answer to one single status query (`detail` NULL: IYS has no such consent).
CREATE FUNCTION iys.record_status_detail(p_brand text, p_type iys.consent_type, p_rtype iys.recipient_type, p_recipient text, detail jsonb)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_status  iys.consent_status := (detail->>'status')::iys.consent_status;
    v_date    timestamp := nullif(detail->>'consentDate', '')::timestamp;
    v_source  text := nullif(detail->>'source', '');
BEGIN
    UPDATE iys.status_check s
       SET state = 'done', checked_at = now(), iys_known = v_status IS NOT NULL, iys_status = v_status,
           iys_onay = coalesce(v_status = 'ONAY', false), iys_consent_date = v_date, iys_source = v_source
     WHERE s.brand_code = p_brand AND s.consent_type = p_type AND s.recipient_type = p_rtype AND s.recipient = p_recipient;
    IF v_status IS NOT NULL THEN
        INSERT INTO iys.current_consent AS c (brand_code, recipient, consent_type, recipient_type, status, source,
                                              consent_date, transaction_id, origin)
        VALUES (p_brand, p_recipient, p_type, p_rtype, v_status,
                CASE WHEN v_source = ANY (enum_range(NULL::iys.consent_source)::text[]) THEN v_source::iys.consent_source END,
                v_date, nullif(detail->>'transactionId', ''), 'import')
        ON CONFLICT (brand_code, recipient, consent_type, recipient_type) DO UPDATE
           SET status = excluded.status, source = excluded.source, consent_date = excluded.consent_date,
               transaction_id = excluded.transaction_id, origin = 'import', confirmed_at = now();
    END IF;
END $$;

-- Asks IYS again about every key pg_iys knows for a brand (IYS's known state and the ledger):
-- after a pull outage longer than IYS's 7-day window, or when an operator wants to be sure.
-- Returns how many keys were queued.
CREATE FUNCTION iys.recheck_known_keys(p_brand text, p_reason text DEFAULT 'manual') RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    WITH keys AS (
        SELECT DISTINCT ON (k.recipient, k.consent_type, k.recipient_type) k.recipient, k.consent_type, k.recipient_type, k.status
          FROM (SELECT c.recipient, c.consent_type, c.recipient_type, c.status, 1 AS pref, 0::bigint AS id
                  FROM iys.current_consent c WHERE c.brand_code = p_brand
                UNION ALL
                SELECT l.recipient, l.consent_type, l.recipient_type, l.status, 2, l.id
                  FROM iys.consent_ledger l WHERE l.brand_code = p_brand) k
         ORDER BY k.recipient, k.consent_type, k.recipient_type, k.pref, k.id DESC
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
COMMENT ON FUNCTION iys.recheck_known_keys(text, text) IS
    'asks IYS (status queries) about every key pg_iys knows for a brand; answers in iys.status_check, differences in iys.drift';

-- One day's movement file of a brand, as far as it was reconciled.
CREATE TABLE iys.reconcile_day (
    brand_code          text NOT NULL REFERENCES iys.brand ON DELETE CASCADE,
    report_date         date NOT NULL,
    fetched_at          timestamptz NOT NULL DEFAULT now(),
    movements           integer NOT NULL DEFAULT 0,
    missing_here        integer NOT NULL DEFAULT 0,
    missing_at_iys      integer NOT NULL DEFAULT 0,
    status_differs      integer NOT NULL DEFAULT 0,
    PRIMARY KEY (brand_code, report_date)
);
GRANT SELECT ON iys.reconcile_day TO pg_monitor;

-- What the daily file showed that pg_iys did not know, or did not show that pg_iys thought IYS had.
CREATE TABLE iys.reconcile_finding (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    brand_code       text NOT NULL,
    report_date      date NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('missing_here', 'missing_at_iys', 'status_differs')),
    recipient        text NOT NULL,
    consent_type     iys.consent_type NOT NULL,
    recipient_type   iys.recipient_type NOT NULL,
    iys_status       iys.consent_status,
    local_status     iys.consent_status,
    consent_date     timestamp,
    source           text,
    transaction_id   text,
    outbox_id        bigint,
    found_at         timestamptz NOT NULL DEFAULT now(),
    resolution       text,
    resolved_at      timestamptz
);
GRANT SELECT ON iys.reconcile_finding TO pg_monitor;

-- Compares one day's movement file (`movements`: IYS's rows as JSON objects with the file's
-- column names) with what pg_iys sent and pulled:
--   * missing_here: a movement pg_iys never saw (the pull missed it): recorded like a pulled one
--     (known state, ledger, attached tables through the inbox);
--   * status_differs: a movement pg_iys knows under the same transactionId with another status;
--   * missing_at_iys: one of our accepted movements, sent that Turkey day (before 23:50, so it
--     cannot belong to the next day's file), that the file does not have.
-- Runs once per brand and day (the day's row makes a second run a no-op). Returns the findings.
CREATE FUNCTION iys.record_movement_file(p_brand text, p_date date, movements jsonb) RETURNS integer
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
        PERFORM iys.record_iys_changes(p_brand, 'FILE', unknown);
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

-- Every difference between local state and IYS's that nobody has resolved yet: from status
-- queries (import, pull gaps) and from the daily movement files.
CREATE VIEW iys.drift AS
SELECT 'status query'::text AS found_by, s.brand_code, s.recipient, s.consent_type, s.recipient_type,
       s.local_status::text AS local_status,
       CASE WHEN s.iys_onay THEN 'ONAY' WHEN s.iys_known IS FALSE THEN 'none' WHEN s.iys_status IS NOT NULL THEN s.iys_status::text
            ELSE 'not ONAY' END AS iys_status,
       s.iys_consent_date, s.iys_source,
       CASE WHEN s.iys_onay AND s.local_status = 'RET' THEN 'opt-out IYS does not have: RET queued for IYS'
            WHEN s.iys_onay THEN 'IYS has an ONAY the row does not show'
            WHEN s.state = 'detail' THEN 'the row says ONAY, IYS does not: asking IYS for its record'
            WHEN s.iys_known IS FALSE THEN 'the row says ONAY, IYS has no such consent (can_send is false)'
            ELSE 'the row says ONAY, IYS says RET (can_send is false)' END AS difference,
       s.source_table::regclass AS source_table, s.source_key, s.checked_at AS found_at, NULL::date AS report_date
  FROM iys.status_check s
 WHERE s.state <> 'pending' AND s.resolved_at IS NULL
   AND ((s.iys_onay AND s.local_status IS DISTINCT FROM 'ONAY') OR (NOT s.iys_onay AND s.local_status = 'ONAY'))
UNION ALL
SELECT 'daily file', f.brand_code, f.recipient, f.consent_type, f.recipient_type, f.local_status::text, f.iys_status::text,
       f.consent_date, f.source,
       CASE f.kind WHEN 'missing_at_iys' THEN 'accepted by IYS but not in its daily file'
                   WHEN 'status_differs' THEN 'IYS''s file has another status for our movement'
                   ELSE 'in IYS''s daily file, never pulled' END,
       NULL::regclass, NULL::text, f.found_at, f.report_date
  FROM iys.reconcile_finding f
 WHERE f.resolved_at IS NULL;
GRANT SELECT ON iys.drift TO pg_monitor;

-- How far the status queries are, per brand and reason (for a DBA following an import).
CREATE VIEW iys.status_check_progress AS
SELECT brand_code, reason, count(*) AS keys,
       count(*) FILTER (WHERE state = 'pending') AS to_query,
       count(*) FILTER (WHERE state = 'detail') AS to_detail,
       count(*) FILTER (WHERE state = 'done') AS done,
       count(*) FILTER (WHERE iys_onay) AS iys_onay,
       count(*) FILTER (WHERE outbox_id IS NOT NULL AND local_status = 'RET') AS opt_outs_queued,
       round(100.0 * count(*) FILTER (WHERE state = 'done') / count(*), 1) AS percent_done,
       min(queued_at) AS queued_since, max(checked_at) AS last_answer_at
  FROM iys.status_check GROUP BY brand_code, reason;
GRANT SELECT ON iys.status_check_progress TO pg_monitor;

-- Settles drift of a brand by choosing what wins: 'iys' (sync mode's default: the rows take
-- IYS's record, through the inbox, as a citizen's change would) or 'local' (integrator mode's
-- default: the rows' consents are sent to IYS, which judges them by its rules, e.g. H467 for
-- consents collected more than 3 business days ago). NULL: the brand's mode decides. An opt-out
-- is never undone: a local RET stays and is sent whatever wins. Returns what was done.
CREATE FUNCTION iys.resolve_drift(p_brand text, winner text DEFAULT NULL)
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
            RETURNING s.*),
        queued AS (
            INSERT INTO iys.outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key)
            SELECT t.brand_code, t.recipient, t.recipient_type, t.consent_type, 'ONAY',
                   CASE WHEN t.local_source = ANY (enum_range(NULL::iys.consent_source)::text[]) THEN t.local_source::iys.consent_source END,
                   t.local_consent_date, t.source_table, t.source_key
              FROM taken t
            RETURNING id, brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key)
        INSERT INTO iys.consent_ledger (origin, brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key, outbox_id)
        SELECT 'local', brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key, id FROM queued;
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
COMMENT ON FUNCTION iys.resolve_drift(text, text) IS
    'settles iys.drift of a brand: ''iys'' (rows take IYS''s record) or ''local'' (rows'' consents are sent); NULL: by the brand''s mode; local opt-outs always stay';

-- For a DBA in psql: NOTICEs on the status queries' progress every few seconds until none is
-- left (or max_wait passes). Each look takes a fresh snapshot and the session writes nothing,
-- so waiting holds back neither the worker nor VACUUM.
CREATE PROCEDURE iys.follow_status_checks(p_brand text DEFAULT NULL, max_wait interval DEFAULT '1 hour')
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    until     timestamptz := clock_timestamp() + max_wait;
    r         record;
BEGIN
    LOOP
        SELECT count(*) AS keys, count(*) FILTER (WHERE state = 'done') AS done,
               count(*) FILTER (WHERE state = 'detail') AS detail, count(*) FILTER (WHERE iys_onay) AS onay
          INTO r FROM iys.status_check WHERE p_brand IS NULL OR brand_code = p_brand;
        RAISE NOTICE 'pg_iys status queries: % of % key(s) answered (% IYS ONAY), % waiting for IYS''s record',
                     r.done, r.keys, r.onay, r.detail;
        EXIT WHEN r.done = r.keys OR clock_timestamp() >= until;
        PERFORM pg_sleep(5);
    END LOOP;
END $$;

-- After a pull outage longer than IYS's 7-day window, the changes IYS no longer serves are
-- learnt by asking about every known key. Called by the worker before a brand's pull; does
-- nothing unless the last successful pull is more than 7 days old and not bridged yet.
CREATE FUNCTION iys.recover_pull_gap(p_brand text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM 1 FROM iys.pull_cursor pc
      WHERE pc.brand_code = p_brand AND pc.source = 'IYS' AND pc.last_success_at < now() - interval '7 days'
        AND (pc.gap_rechecked_at IS NULL OR pc.gap_rechecked_at < pc.last_success_at)
      FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    n := iys.recheck_known_keys(p_brand, 'pull_gap');
    UPDATE iys.pull_cursor SET gap_rechecked_at = now(), gap_keys = n WHERE brand_code = p_brand AND source = 'IYS';
    RETURN n;
END $$;

-- Operators' overview, one row per brand. pg_monitor members can read it; it shows no password
-- or token.
CREATE VIEW iys.sync_status AS
SELECT b.brand_code, b.iys_code, b.mode, b.enabled,
       CASE WHEN NOT b.enabled THEN 'disabled'
            WHEN coalesce(a.paused_at, b.paused_at) IS NOT NULL THEN 'paused'
            ELSE 'active' END AS state,
       coalesce(a.paused_code, b.paused_code) AS paused_code,
       CASE WHEN a.paused_at IS NOT NULL THEN 'account ' || a.iys_code || ': ' || a.paused_reason
            WHEN b.paused_at IS NOT NULL THEN 'brand ' || b.brand_code || ': ' || b.paused_reason END AS paused_reason,
       coalesce(a.paused_at, b.paused_at) AS paused_since,
       greatest(a.probe_at, b.probe_at) AS next_probe_at,
       coalesce(q.pending, 0) AS pending, coalesce(q.in_flight, 0) AS in_flight,
       coalesce(q.accepted, 0) AS accepted, coalesce(q.rejected, 0) AS rejected,
       coalesce(q.superseded, 0) AS superseded,
       now() - q.oldest_pending_at AS oldest_pending_age,
       q.last_error AS last_send_error,
       w.last_flush_at, w.heartbeat_at AS worker_heartbeat_at, w.pid AS worker_pid, w.last_error AS worker_last_error,
       t.halted_until AS token_halted_until, t.halt_reason AS token_halt_reason,
       rc.requests AS requests_today, round(rc.successes::numeric / nullif(rc.requests, 0), 3) AS success_ratio_today,
       pi.last_success_at AS last_pull_at, pi.last_error AS last_pull_error,
       CASE WHEN b.pull AND pi.last_success_at < now() - interval '7 days'
            THEN 'pull gap over IYS''s 7-day window: the worker rechecks every known key with status queries when the pull works again'
            WHEN b.pull AND (pi.last_success_at IS NULL OR pi.last_success_at < now() - interval '6 days')
            THEN 'pull has not succeeded within the last 6 days: IYS keeps changes for 7 days only' END AS warning,
       coalesce(q.not_in_iys, 0) AS not_in_iys,
       coalesce(sc.left_to_check, 0) AS status_checks_left,
       (SELECT count(*) FROM iys.drift d WHERE d.brand_code = b.brand_code) AS drift,
       (SELECT max(r.report_date) FROM iys.reconcile_day r WHERE r.brand_code = b.brand_code) AS reconciled_through,
       CASE WHEN pi.gap_rechecked_at IS NOT NULL
            THEN 'pull gap bridged ' || to_char(pi.gap_rechecked_at, 'YYYY-MM-DD HH24:MI TZ') || ': ' || pi.gap_keys || ' key(s) rechecked by status queries' END AS pull_gap
  FROM iys.brand b
  JOIN iys.account a ON a.iys_code = b.iys_code
  LEFT JOIN LATERAL (
        SELECT count(*) FILTER (WHERE o.state = 'pending') AS pending,
               count(*) FILTER (WHERE o.state = 'in_flight') AS in_flight,
               count(*) FILTER (WHERE o.state = 'accepted') AS accepted,
               count(*) FILTER (WHERE o.state = 'rejected') AS rejected,
               count(*) FILTER (WHERE o.state = 'superseded') AS superseded,
               count(*) FILTER (WHERE o.state = 'not_in_iys') AS not_in_iys,
               min(o.enqueued_at) FILTER (WHERE o.state = 'pending') AS oldest_pending_at,
               (array_agg(coalesce(o.error_code || ': ', '') || o.error_message ORDER BY o.id DESC)
                  FILTER (WHERE o.state IN ('pending', 'in_flight') AND o.error_message IS NOT NULL))[1] AS last_error
          FROM iys.outbox o WHERE o.brand_code = b.brand_code) q ON true
  LEFT JOIN LATERAL (
        SELECT count(*) AS left_to_check FROM iys.status_check s WHERE s.brand_code = b.brand_code AND s.state <> 'done') sc ON true
  LEFT JOIN iys.token t ON t.iys_code = b.iys_code
  LEFT JOIN iys.request_count rc ON rc.iys_code = b.iys_code AND rc.day = (now() AT TIME ZONE INTERVAL '+03:00')::date
  LEFT JOIN iys.pull_cursor pi ON pi.brand_code = b.brand_code AND pi.source = 'IYS'
  CROSS JOIN iys.worker_state w;
GRANT SELECT ON iys.sync_status TO pg_monitor;

REVOKE EXECUTE ON FUNCTION iys.record_iys_changes(text, text, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.queue_missing_opt_outs(text, iys.consent_type, iys.recipient_type, text[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.record_status_answers(text, iys.consent_type, iys.recipient_type, text[], text[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.record_status_detail(text, iys.consent_type, iys.recipient_type, text, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.recheck_known_keys(text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.record_movement_file(text, date, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.resolve_drift(text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.recover_pull_gap(text) FROM PUBLIC;
ALTER FUNCTION iys.can_send(text, iys.consent_type, text) SECURITY DEFINER;
ALTER FUNCTION iys.can_send_many(text[], iys.consent_type, text) SECURITY DEFINER;

CREATE FUNCTION iys.adopt(
	"tbl" regclass,
	"normalize" bool DEFAULT true,
	"check_iys" bool DEFAULT true
) RETURNS TABLE (
	"channel" TEXT,
	"address_column" TEXT,
	"addresses_normalized" bigint,
	"addresses_unusable" bigint,
	"keys_queued" bigint
)
STRICT VOLATILE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'adopt_wrapper';
REVOKE EXECUTE ON FUNCTION iys.adopt(regclass, boolean, boolean) FROM PUBLIC;

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
    EXECUTE format('GRANT EXECUTE ON FUNCTION iys.claim_batch(text, integer, bigint), iys.record_pulled(text, text, text, jsonb),
                           iys.confirm_local(bigint[]), iys.pull_failed(text, text, text),
                           iys.refresh_attachment_oids(), iys.record_iys_changes(text, text, jsonb),
                           iys.queue_missing_opt_outs(text, iys.consent_type, iys.recipient_type, text[]),
                           iys.record_status_answers(text, iys.consent_type, iys.recipient_type, text[], text[]),
                           iys.record_status_detail(text, iys.consent_type, iys.recipient_type, text, jsonb),
                           iys.recheck_known_keys(text, text), iys.record_movement_file(text, date, jsonb),
                           iys.recover_pull_gap(text) TO %s', worker);
END $$;

SELECT pg_catalog.pg_extension_config_dump('iys.status_check', '');
SELECT pg_catalog.pg_extension_config_dump('iys.reconcile_day', '');
SELECT pg_catalog.pg_extension_config_dump('iys.reconcile_finding', '');
SELECT pg_catalog.pg_extension_config_dump('iys.reconcile_finding_id_seq', '');

CREATE FUNCTION iys.verify_attachment(
	"relid" oid
) RETURNS void
STRICT VOLATILE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'verify_attachment_wrapper';

-- ALTER TABLE that renames, drops or retypes a mapped column of an attached table is refused
-- at once (iys.verify_attachment, src/sql_api/attach.rs), never discovered at the next write.
CREATE FUNCTION iys.attachment_guard() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT c.objid FROM pg_event_trigger_ddl_commands() c
              WHERE c.classid = 'pg_catalog.pg_class'::regclass AND c.command_tag = 'ALTER TABLE'
    LOOP
        PERFORM iys.verify_attachment(r.objid);
    END LOOP;
END $$;
REVOKE EXECUTE ON FUNCTION iys.attachment_guard() FROM PUBLIC;
CREATE EVENT TRIGGER pg_iys_attachment_guard ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION iys.attachment_guard();
