-- pg_iys 0.2.0 -> 0.3.0: security and integrity, and IYS's real timing.
--   * Triggers carry no SQL: they read their table's row of iys.attached_table; the attached
--     tables' triggers are recreated without arguments.
--   * EXECUTE on internal and trigger functions is revoked from PUBLIC; every SQL-language
--     function pins search_path; iys.worker_state is no longer readable by PUBLIC.
--   * Pulled changes are recorded (iys.record_pulled) and then applied to the attached tables
--     by the worker with each table owner's rights, through iys.inbox; failures are quarantined
--     (iys.pull_quarantine, iys.retry_quarantined). iys.apply_pulled is gone.
--   * Accepted local changes reach every attached row holding the same address.
--   * DROP EXTENSION refuses while changes are pending (event trigger pg_iys_drop_guard).
--   * iys.account refuses a plain-http base URL to another host unless allow_insecure_http;
--     iys.lift_token_halt() ends an H084 halt.
--   * Accounts and brands IYS refuses are paused (columns paused_*, probe_at; iys.resume());
--     requests are counted per account and day (iys.request_count, iys.request_quality);
--     iys.requeue_rejected(); iys.claim_batch rejects changes past H467 and never puts one
--     recipient with two statuses in a batch; iys.sync_status shows pauses and counts.
--   * iys.prune_ledger refuses to remove less than three years of history unless forced.
--   * pg_dump keeps pg_iys's tables (pg_extension_config_dump); iys.refresh_attachment_oids()
--     finds restored attached tables again by name.

ALTER TABLE iys.account ADD COLUMN allow_insecure_http boolean NOT NULL DEFAULT false;
ALTER TABLE iys.account ADD COLUMN paused_code text, ADD COLUMN paused_reason text, ADD COLUMN paused_at timestamptz,
                        ADD COLUMN probe_at timestamptz, ADD COLUMN probes integer NOT NULL DEFAULT 0;
ALTER TABLE iys.brand ADD COLUMN paused_code text, ADD COLUMN paused_reason text, ADD COLUMN paused_at timestamptz,
                      ADD COLUMN probe_at timestamptz, ADD COLUMN probes integer NOT NULL DEFAULT 0;
-- Accounts that already point at a plain-http host keep working, now explicitly.
UPDATE iys.account SET allow_insecure_http = true
 WHERE NOT (api_base_url ~ '^https://'
            OR api_base_url ~ '^http://(127\.[0-9]+\.[0-9]+\.[0-9]+|localhost|\[::1\])(:[0-9]+)?(/.*)?$');
ALTER TABLE iys.account ADD CONSTRAINT account_https_check CHECK (
        api_base_url ~ '^https://'
        OR api_base_url ~ '^http://(127\.[0-9]+\.[0-9]+\.[0-9]+|localhost|\[::1\])(:[0-9]+)?(/.*)?$'
        OR allow_insecure_http);
REVOKE ALL ON iys.worker_state FROM PUBLIC;

-- Lifts a token-endpoint halt (H084) before its hour is up, e.g. after IYS support confirmed
-- the block is gone. Calling the token endpoint again too early restarts IYS's hour.
CREATE FUNCTION iys.lift_token_halt(iys_code text) RETURNS boolean
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    WITH lifted AS (
        UPDATE iys.token t SET halted_until = NULL, halt_reason = NULL, updated_at = now()
         WHERE t.iys_code = lift_token_halt.iys_code AND t.halted_until IS NOT NULL
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM lifted)
$$;
COMMENT ON FUNCTION iys.lift_token_halt(text) IS 'ends an H084 stop of token calls for an account before its hour is up';

-- After the cause of a pause is fixed (subscription renewed, password corrected, brand
-- authorised): the worker tries the account (and brand) again now. NULL brand_code: the
-- account and all its brands. Returns how many accounts and brands were paused.
CREATE FUNCTION iys.resume(iys_code text, brand_code text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    accounts integer;
    brands integer;
BEGIN
    UPDATE iys.account a SET paused_code = NULL, paused_reason = NULL, paused_at = NULL, probe_at = NULL, probes = 0
     WHERE a.iys_code = resume.iys_code AND a.paused_at IS NOT NULL;
    GET DIAGNOSTICS accounts = ROW_COUNT;
    UPDATE iys.brand b SET paused_code = NULL, paused_reason = NULL, paused_at = NULL, probe_at = NULL, probes = 0
     WHERE b.iys_code = resume.iys_code AND (resume.brand_code IS NULL OR b.brand_code = resume.brand_code)
       AND b.paused_at IS NOT NULL;
    GET DIAGNOSTICS brands = ROW_COUNT;
    RETURN accounts + brands;
END $$;
COMMENT ON FUNCTION iys.resume(text, text) IS 'ends a pause of an IYS account (and its brands) or of one brand: the worker tries again now';

-- Requests the worker made to IYS per account and Turkey day, and how many IYS answered with
-- success: IYS removes an IP from its whitelist when it makes >= 20,000 requests a day with
-- under 70 % success (400/401/403/404/422 count as failures).
CREATE TABLE iys.request_count (
    iys_code   text NOT NULL REFERENCES iys.account ON DELETE CASCADE,
    day        date NOT NULL,                 -- Turkey date
    requests   bigint NOT NULL DEFAULT 0,
    successes  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (iys_code, day)
);
COMMENT ON TABLE iys.request_count IS 'requests to IYS and successful answers per account and Turkey day (IYS quality rule)';

-- Claims up to batch_size changes for one IYS batch, in one short transaction (the caller's):
--   * per key (brand, recipient, consent type, recipient type) only the newest pending change is
--     sent; the older pending ones become superseded (coalescing);
--   * a key with a change in flight waits until that change is settled (per-key order);
--   * SKIP LOCKED: rows an application transaction still holds are left for the next round;
--   * after_id: start after this id. The worker passes the highest id of its last full batch so a
--     long drain does not walk the index entries of rows it already claimed; any claim that is not
--     full (or any row put back to pending) makes it start from the beginning again.
-- The claimed rows are recorded, in request order (by id), as a new iys.batch; each returned row
-- carries its batch_id.
CREATE OR REPLACE FUNCTION iys.claim_batch(brand text, batch_size integer, after_id bigint DEFAULT 0)
RETURNS SETOF iys.outbox LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- Sync mode (IYS is master): only consents IYS already has may be updated from here.
    IF EXISTS (SELECT 1 FROM iys.brand b WHERE b.brand_code = brand AND b.mode = 'sync') THEN
        UPDATE iys.outbox o SET state = 'rejected', settled_at = now(), error_code = 'PGIYS_SYNC_MODE',
               error_message = 'brand is in sync mode (IYS is master): pg_iys updates consents IYS already has but does not create them'
         WHERE o.state = 'pending' AND o.brand_code = brand
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
COMMENT ON FUNCTION iys.claim_batch(text, integer, bigint) IS
    'claims the next changes of a brand for one IYS batch (coalescing, per-key order, SKIP LOCKED)';


-- After the cause of rejections is fixed (a wrong source corrected in the app, IYS's trouble
-- over): sends rejected changes again. The filters combine; at least one is needed. A change
-- is not requeued while a newer change of its key waits or IYS already holds a newer consent
-- for it. Returns how many went back to pending.
CREATE FUNCTION iys.requeue_rejected(ids bigint[] DEFAULT NULL, error_code text DEFAULT NULL, brand_code text DEFAULT NULL)
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
     WHERE o.state = 'rejected'
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
COMMENT ON FUNCTION iys.requeue_rejected(bigint[], text, text) IS 'sends rejected changes again (by id, IYS code, brand) once the cause is fixed';

DROP VIEW iys.sync_status;
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
       CASE WHEN b.pull AND (pi.last_success_at IS NULL OR pi.last_success_at < now() - interval '6 days')
            THEN 'pull has not succeeded within the last 6 days: IYS keeps changes for 7 days only' END AS warning
  FROM iys.brand b
  JOIN iys.account a ON a.iys_code = b.iys_code
  LEFT JOIN LATERAL (
        SELECT count(*) FILTER (WHERE o.state = 'pending') AS pending,
               count(*) FILTER (WHERE o.state = 'in_flight') AS in_flight,
               count(*) FILTER (WHERE o.state = 'accepted') AS accepted,
               count(*) FILTER (WHERE o.state = 'rejected') AS rejected,
               count(*) FILTER (WHERE o.state = 'superseded') AS superseded,
               min(o.enqueued_at) FILTER (WHERE o.state = 'pending') AS oldest_pending_at,
               (array_agg(coalesce(o.error_code || ': ', '') || o.error_message ORDER BY o.id DESC)
                  FILTER (WHERE o.state IN ('pending', 'in_flight') AND o.error_message IS NOT NULL))[1] AS last_error
          FROM iys.outbox o WHERE o.brand_code = b.brand_code) q ON true
  LEFT JOIN iys.token t ON t.iys_code = b.iys_code
  LEFT JOIN iys.request_count rc ON rc.iys_code = b.iys_code AND rc.day = (now() AT TIME ZONE INTERVAL '+03:00')::date
  LEFT JOIN iys.pull_cursor pi ON pi.brand_code = b.brand_code AND pi.source = 'IYS'
  CROSS JOIN iys.worker_state w;

-- IYS's quality rule per account and Turkey day: >= 20,000 requests with under 70 % success
-- gets the IP removed from IYS's whitelist. The worker pauses the account before that.
CREATE VIEW iys.request_quality AS
SELECT rc.iys_code, rc.day, rc.requests, rc.successes, rc.requests - rc.successes AS failures,
       round(rc.successes::numeric / nullif(rc.requests, 0), 3) AS success_ratio,
       CASE WHEN rc.requests >= 20000 AND rc.successes < 0.7 * rc.requests THEN 'over IYS''s line'
            WHEN rc.requests >= 10000 AND rc.successes < 0.75 * rc.requests THEN 'near IYS''s line: sending paused'
            ELSE 'ok' END AS verdict
  FROM iys.request_count rc;

GRANT SELECT ON iys.sync_status, iys.request_quality TO pg_monitor;

ALTER FUNCTION iys.ledger_guard() SET search_path = pg_catalog, pg_temp;
DROP FUNCTION iys.prune_ledger(interval);
-- Retention: removes ledger rows recorded more than `older_than` ago whose change is settled.
-- The ledger is the proof of consent, which the Regulation asks a company to keep for three years
-- after a consent ends: anything younger than three years is refused unless `force`. Says (NOTICE)
-- and returns how many rows went.
CREATE FUNCTION iys.prune_ledger(older_than interval, force boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    removed bigint;
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
    PERFORM set_config('iys.pruning_ledger', 'off', true);
    RAISE NOTICE 'iys.prune_ledger removed % ledger row(s) recorded before %', removed, now() - older_than;
    RETURN removed;
END $$;
ALTER FUNCTION iys.pull_failed(text, text, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION iys.can_send(text, iys.consent_type, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION iys.attach(regclass, text, jsonb, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION iys.detach(regclass) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION iys.validate_table(regclass, jsonb, timestamptz, boolean, bigint) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION iys.worker_status() SET search_path = pg_catalog, pg_temp;

DROP FUNCTION iys.apply_pulled(text, text, text, jsonb);
-- Pulled changes (and our own accepted ones) on their way to the attached tables. The page's
-- transaction records them here with the ledger and the cursor; the worker then applies them to
-- the tables in short transactions of its own, with each table owner's rights
-- (src/worker/apply.rs). An item a table cannot take is quarantined with the reason and never
-- holds up the others.
CREATE TABLE iys.inbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at     timestamptz NOT NULL DEFAULT now(),
    origin          text NOT NULL CHECK (origin IN ('iys', 'local')),  -- a citizen's/HS change, or ours accepted
    brand_code      text NOT NULL,
    recipient       text,
    recipient_type  iys.recipient_type,
    consent_type    iys.consent_type,
    status          iys.consent_status,
    source          text,                       -- as IYS spelled it (it may be a source newer than our enum)
    consent_date    timestamp,
    transaction_id  text,
    payload         jsonb,                      -- IYS's item as received, when it could not be read
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'applied', 'quarantined')),
    error           text,
    settled_at      timestamptz
);
COMMENT ON TABLE iys.inbox IS 'consent changes to apply to the attached tables; quarantined ones wait for an operator';
CREATE INDEX inbox_pending_idx ON iys.inbox (id) WHERE state = 'pending';

-- Records one page of pulled changes and moves the pull cursor, in the caller's (one)
-- transaction: a crash before commit leaves both as they were, so the page is fetched and
-- recorded again, never twice. `changes` is IYS's `list` array. The attached tables are not
-- touched here (no application row is locked by a page); the worker applies iys.inbox next.
-- An item that cannot be read is quarantined; the rest of the page goes on.
CREATE FUNCTION iys.record_pulled(p_brand text, p_source text, p_after text, changes jsonb)
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
            CONTINUE WHEN p_source = 'HS' AND EXISTS (
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

    INSERT INTO iys.pull_cursor AS pc (brand_code, source, after, last_attempt_at, last_success_at, last_error, applied_changes)
    VALUES (p_brand, p_source, p_after, now(), now(), NULL, applied)
    ON CONFLICT (brand_code, source) DO UPDATE
       SET after = coalesce(excluded.after, pc.after), last_attempt_at = now(), last_success_at = now(), last_error = NULL,
           applied_changes = pc.applied_changes + excluded.applied_changes;
    RETURN applied;
END $$;

-- Changes the worker could not apply to an attached table, with the reason.
CREATE VIEW iys.pull_quarantine AS
SELECT i.id, i.received_at, i.origin, i.brand_code, i.recipient, i.recipient_type, i.consent_type, i.status,
       i.source, i.consent_date, i.transaction_id, i.error, i.settled_at AS quarantined_at, i.payload
  FROM iys.inbox i WHERE i.state = 'quarantined';

-- After the cause is fixed (a column renamed back, a trigger mended): applies quarantined
-- changes again. NULL = all of them. Returns how many were put back.
CREATE FUNCTION iys.retry_quarantined(ids bigint[] DEFAULT NULL) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    WITH again AS (
        UPDATE iys.inbox SET state = 'pending', error = NULL, settled_at = NULL
         WHERE state = 'quarantined' AND payload IS NULL AND (ids IS NULL OR id = ANY (ids))
        RETURNING 1)
    SELECT count(*) FROM again
$$;
COMMENT ON FUNCTION iys.retry_quarantined(bigint[]) IS 'applies quarantined changes to the attached tables again';

-- Each accepted change also goes to iys.inbox, so that every other attached row holding the same
-- address follows it (two tables, or two rows, must not drift apart). The rows are found through
-- an index on the address column (worker/apply.rs): without any such index nothing is queued.
CREATE OR REPLACE FUNCTION iys.confirm_local(outbox_ids bigint[]) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO iys.inbox (origin, brand_code, recipient, recipient_type, consent_type, status, source, consent_date, transaction_id)
    SELECT 'local', brand_code, recipient, recipient_type, consent_type, status, source::text, consent_date, transaction_id
      FROM iys.outbox WHERE id = ANY (outbox_ids)
       AND EXISTS (SELECT 1 FROM iys.attached_table a
                     CROSS JOIN LATERAL jsonb_array_elements(a.channels) ch
                     JOIN pg_attribute att ON att.attrelid = a.relid AND att.attname = ch->>'address'
                     JOIN pg_index i ON i.indrelid = a.relid AND i.indkey[0] = att.attnum
                                    AND i.indisvalid AND i.indpred IS NULL);
    INSERT INTO iys.current_consent AS c (brand_code, recipient, consent_type, recipient_type, status, source,
                                          consent_date, transaction_id, origin)
    SELECT DISTINCT ON (brand_code, recipient, consent_type, recipient_type)
           brand_code, recipient, consent_type, recipient_type, status, source, consent_date, transaction_id, 'local'
      FROM iys.outbox WHERE id = ANY (outbox_ids)
     ORDER BY brand_code, recipient, consent_type, recipient_type, id DESC
    ON CONFLICT (brand_code, recipient, consent_type, recipient_type) DO UPDATE
       SET status = excluded.status, source = excluded.source, consent_date = excluded.consent_date,
           transaction_id = excluded.transaction_id, origin = 'local', confirmed_at = now()
     WHERE c.consent_date IS NULL OR excluded.consent_date IS NULL OR excluded.consent_date >= c.consent_date
$$;


-- The triggers of every attached table, again, without arguments (0.2.0 passed the enqueue
-- statement as one; 0.3.0 builds it from iys.attached_table).
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT a.relid::regclass AS tbl FROM iys.attached_table a
               JOIN pg_catalog.pg_class c ON c.oid = a.relid WHERE c.relpersistence <> 't' LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS zz_iys_consent_check ON %s', t.tbl);
        EXECUTE format('DROP TRIGGER IF EXISTS zz_iys_enqueue_insert ON %s', t.tbl);
        EXECUTE format('DROP TRIGGER IF EXISTS zz_iys_enqueue_update ON %s', t.tbl);
        EXECUTE format('CREATE TRIGGER zz_iys_consent_check BEFORE INSERT OR UPDATE ON %s
                        FOR EACH ROW EXECUTE FUNCTION iys.consent_row_check()', t.tbl);
        EXECUTE format('CREATE TRIGGER zz_iys_enqueue_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS iys_new_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION iys.enqueue_changes()', t.tbl);
        EXECUTE format('CREATE TRIGGER zz_iys_enqueue_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS iys_old_rows NEW TABLE AS iys_new_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION iys.enqueue_changes()', t.tbl);
    END LOOP;
END $$;

-- pg_dump / pg_restore keep pg_iys's configuration and state: accounts, brands, attachments,
-- the queue (pending and in flight), batches and their request ids, the ledger, what IYS holds,
-- pull cursors, conflicts, the inbox, token halts, request counts. (The worker's status row is
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

-- A restored database has new OIDs: an attachment whose table is gone under its OID, while a
-- table of its recorded name carries pg_iys's triggers (restored with it), is that table. (A
-- renamed attached table keeps its OID and its triggers, so it is never taken for another.)
-- Run by the worker every round and by the triggers when they find no attachment. Returns how
-- many attachments were found again.
CREATE FUNCTION iys.refresh_attachment_oids() RETURNS integer
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
REVOKE EXECUTE ON FUNCTION iys.refresh_attachment_oids() FROM PUBLIC;

-- Who may run what. PostgreSQL grants EXECUTE on every new function to PUBLIC; pg_iys takes it
-- back from everything that writes its state, acts on tables or is a trigger, and leaves it on
-- what applications use: the types, normalisation and validation functions, iys.can_send.
-- (A trigger function's EXECUTE right is checked when a trigger is created, so only the roles
-- that run iys.attach() can put pg_iys's triggers on a table.)
REVOKE EXECUTE ON FUNCTION iys.enqueue_changes() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.consent_row_check() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.ledger_guard() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.attach(regclass, text, jsonb, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.detach(regclass) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.claim_batch(text, integer, bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.record_pulled(text, text, text, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.confirm_local(bigint[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.pull_failed(text, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.prune_ledger(interval, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.retry_quarantined(bigint[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.lift_token_halt(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.resume(text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.requeue_rejected(bigint[], text, text) FROM PUBLIC;

-- Applications ask iys.can_send() before a campaign; they read nothing else of pg_iys's state.
ALTER FUNCTION iys.can_send(text, iys.consent_type, text) SECURITY DEFINER;

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
                           iys.pull_cursor, iys.current_consent, iys.conflict, iys.inbox, iys.request_count TO %s', worker);
    EXECUTE format('GRANT UPDATE (paused_code, paused_reason, paused_at, probe_at, probes) ON iys.account, iys.brand TO %s', worker);
    EXECUTE format('GRANT SELECT, INSERT ON iys.consent_ledger TO %s', worker);
    EXECUTE format('GRANT UPDATE (relid) ON iys.attached_table TO %s', worker);
    EXECUTE format('GRANT EXECUTE ON FUNCTION iys.claim_batch(text, integer, bigint), iys.record_pulled(text, text, text, jsonb),
                           iys.confirm_local(bigint[]), iys.pull_failed(text, text, text),
                           iys.refresh_attachment_oids() TO %s', worker);
END $$;
COMMENT ON FUNCTION iys.grant_worker_rights(regrole) IS 'grants a role what the pg_iys worker needs to run as it (iys.worker_role)';
REVOKE EXECUTE ON FUNCTION iys.grant_worker_rights(regrole) FROM PUBLIC;

-- DROP EXTENSION pg_iys / DROP SCHEMA iys refuse while changes wait for IYS
-- (src/sql_api/drop_guard.rs).
CREATE FUNCTION iys.drop_guard() RETURNS event_trigger LANGUAGE c AS 'MODULE_PATHNAME', 'pg_iys_drop_guard';
REVOKE EXECUTE ON FUNCTION iys.drop_guard() FROM PUBLIC;
CREATE EVENT TRIGGER pg_iys_drop_guard ON ddl_command_start WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA')
    EXECUTE FUNCTION iys.drop_guard();
