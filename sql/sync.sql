-- Pulling consent changes from IYS, the current consent per key, conflicts, can_send and the
-- operators' status views.

-- Where the pull of each brand and source stands. `after` is IYS's opaque cursor; it moves in the
-- same transaction that applies the page it ends.
CREATE TABLE iys.pull_cursor (
    brand_code        text NOT NULL REFERENCES iys.brand ON DELETE CASCADE,
    source            text NOT NULL CHECK (source IN ('IYS', 'HS')),
    after             text,
    last_attempt_at   timestamptz,
    last_success_at   timestamptz,
    last_error        text,
    applied_changes   bigint NOT NULL DEFAULT 0,
    gap_rechecked_at  timestamptz,                -- a pull gap over IYS's 7-day window was bridged by status queries
    gap_keys          bigint,                     -- how many keys that recheck queued
    PRIMARY KEY (brand_code, source)
);
GRANT SELECT ON iys.pull_cursor TO pg_monitor;

-- The consent IYS holds for each key, as far as we know: from our accepted changes and from
-- pulled ones. iys.can_send() reads it.
CREATE TABLE iys.current_consent (
    brand_code      text NOT NULL,
    recipient       text NOT NULL,
    consent_type    iys.consent_type NOT NULL,
    recipient_type  iys.recipient_type NOT NULL,
    status          iys.consent_status NOT NULL,
    source          iys.consent_source,
    consent_date    timestamp,
    transaction_id  text,
    origin          text NOT NULL CHECK (origin IN ('local', 'iys', 'import')),  -- import: a status query
    confirmed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (brand_code, recipient, consent_type, recipient_type)
);
CREATE INDEX current_consent_recipient_idx ON iys.current_consent (recipient, consent_type);
GRANT SELECT ON iys.current_consent TO pg_monitor;

-- Pulled changes that tie with a local consent (same date, other status): nothing was
-- overwritten; an operator decides.
CREATE TABLE iys.conflict (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    detected_at     timestamptz NOT NULL DEFAULT now(),
    brand_code      text NOT NULL,
    recipient       text NOT NULL,
    consent_type    iys.consent_type NOT NULL,
    recipient_type  iys.recipient_type NOT NULL,
    local_status    text,
    iys_status      iys.consent_status NOT NULL,
    consent_date    timestamp,
    iys_source      iys.consent_source,
    transaction_id  text,
    source_table    oid,
    source_key      text,
    resolved_at     timestamptz
);
GRANT SELECT ON iys.conflict TO pg_monitor;

-- Records an accepted local change as the current consent (called when IYS accepts it).
-- Each accepted change also goes to iys.inbox, so that every other attached row holding the same
-- address follows it (two tables, or two rows, must not drift apart). The rows are found through
-- an index on the address column (worker/apply.rs): without any such index nothing is queued.
CREATE FUNCTION iys_internal.confirm_local(outbox_ids bigint[]) RETURNS void
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

-- May a commercial message go to this recipient now? True only for an ONAY IYS holds (confirmed
-- by IYS's answer to our change, a pull, a status query or the daily file) with no newer RET
-- waiting to be sent. The recipient may be spelled as people type it ('0532 123 45 67',
-- ' Ali@Example.COM'): it is normalised as the consent columns are; one that cannot be is never
-- sendable.
CREATE FUNCTION iys.can_send(recipient text, consent_type iys.consent_type, brand_code text DEFAULT NULL)
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

-- The recipients a campaign may reach, for joins: one row per brand, recipient (normalised) and
-- channel with an ONAY IYS holds and no RET waiting. Not readable by PUBLIC (it lists people):
-- GRANT SELECT to a campaign role, or use iys.can_send_many().
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

-- Operators' views. pg_monitor members can read them; none shows a password or a token.
-- iys.sync_status is in known_state.sql: it reports the status queries and daily files too.

-- IYS's quality rule per account and Turkey day: >= 20,000 requests with under 70 % success
-- gets the IP removed from IYS's whitelist. The worker pauses the account before that.
CREATE VIEW iys.request_quality AS
SELECT rc.iys_code, rc.day, rc.requests, rc.successes, rc.requests - rc.successes AS failures,
       round(rc.successes::numeric / nullif(rc.requests, 0), 3) AS success_ratio,
       CASE WHEN rc.requests >= 20000 AND rc.successes < 0.7 * rc.requests THEN 'over IYS''s line'
            WHEN rc.requests >= 10000 AND rc.successes < 0.75 * rc.requests THEN 'near IYS''s line: sending paused'
            ELSE 'ok' END AS verdict
  FROM iys.request_count rc;

CREATE VIEW iys.rejections AS
SELECT o.id, o.brand_code, o.error_code, o.error_message, o.recipient, o.consent_type, o.status,
       o.consent_date, o.source_table::regclass AS source_table, o.source_key, o.enqueued_at, o.settled_at
  FROM iys.outbox o WHERE o.state = 'rejected';

CREATE VIEW iys.rejections_by_code AS
SELECT brand_code, error_code, count(*) AS rows, min(error_message) AS example_message, max(settled_at) AS last_at
  FROM iys.outbox WHERE state = 'rejected' GROUP BY brand_code, error_code;

CREATE VIEW iys.conflicts AS
SELECT id, detected_at, brand_code, recipient, consent_type, recipient_type, local_status, iys_status,
       consent_date, iys_source, transaction_id, source_table::regclass AS source_table, source_key
  FROM iys.conflict WHERE resolved_at IS NULL;

-- Changes not yet accepted whose 3-business-day reporting window ends within a day (or ended).
CREATE VIEW iys.deadline_alerts AS
SELECT o.id, o.brand_code, o.recipient, o.consent_type, o.status, o.state, o.consent_date,
       iys.reporting_deadline(o.consent_date) AS report_by,
       iys.reporting_deadline(o.consent_date) - (now() AT TIME ZONE 'Europe/Istanbul')::timestamp AS time_left,
       o.error_code, o.error_message
  FROM iys.outbox o
 WHERE o.state IN ('pending', 'in_flight') AND o.consent_date IS NOT NULL AND o.source IS DISTINCT FROM 'HS_2015'
   AND iys.reporting_deadline(o.consent_date) < (now() AT TIME ZONE 'Europe/Istanbul')::timestamp + interval '1 day';

-- Every consent movement with what became of it. A local movement is its outbox row (since 0.8.0
-- nothing else is written per change; before, a ledger row too, shown instead of the outbox row),
-- with IYS's transaction id and outcome; IYS's movements are ledger rows. `id` is the ledger
-- row's (NULL for a local movement recorded only in the outbox: see outbox_id).
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

GRANT SELECT ON iys.rejections, iys.rejections_by_code, iys.conflicts, iys.deadline_alerts, iys.consent_history, iys.request_quality TO pg_monitor;
GRANT SELECT ON iys.outbox, iys.batch, iys.consent_ledger, iys.attached_table, iys.worker_state TO pg_monitor;

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
CREATE FUNCTION iys_internal.record_pulled(p_brand text, p_source text, p_after text, changes jsonb)
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

-- Records IYS's movements (`changes`: items as IYS spells them, from a pull page (`p_source`
-- IYS or HS) or a daily file (FILE)) in the ledger, the known state and the inbox, skipping
-- those already known. Returns how many were new.
CREATE FUNCTION iys_internal.record_iys_changes(p_brand text, p_source text, changes jsonb)
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
            -- fetched): the same key, status and date as an unsettled change of ours that went to
            -- IYS at least once (a batch claimed it) (or, recorded before 0.8.0, a local ledger row).
            CONTINUE WHEN p_source IN ('HS', 'FILE') AND (
                EXISTS (SELECT 1 FROM iys.outbox o
                         WHERE o.brand_code = p_brand AND o.recipient = v_recipient AND o.consent_type = v_type
                           AND o.recipient_type = v_rtype AND o.state IN ('pending', 'in_flight') AND o.status = v_status
                           AND o.batch_id IS NOT NULL
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

-- Notes a failed pull attempt (the cursor stays).
CREATE FUNCTION iys_internal.pull_failed(p_brand text, p_source text, message text) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO iys.pull_cursor AS pc (brand_code, source, last_attempt_at, last_error)
    VALUES (p_brand, p_source, now(), message)
    ON CONFLICT (brand_code, source) DO UPDATE SET last_attempt_at = now(), last_error = excluded.last_error
$$;

-- IYS refused the cursor (expired, or a form it no longer reads): the pull starts again from
-- the oldest change IYS still serves. Changes seen again are recognised movement by movement
-- (record_iys_changes); a gap beyond IYS's window is bridged by recover_pull_gap's status
-- queries, which run before every pull.
CREATE FUNCTION iys_internal.restart_pull(p_brand text, p_source text, reason text) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    UPDATE iys.pull_cursor SET after = NULL, last_attempt_at = now(),
           last_error = 'IYS refused the cursor (' || reason || '); pulling again from the oldest change it serves'
     WHERE brand_code = p_brand AND source = p_source
$$;

-- The enqueue trigger writes iys.outbox on behalf of application roles that have no rights on
-- it: src/sql_api/consent_trigger.rs runs its prepared statement as the extension's owner, with
-- JIT off (compiling the statement costs more than running it). Not SECURITY DEFINER with SET
-- clauses: those reset the search path twice per statement, the largest fixed cost of a 1-row
-- INSERT.
