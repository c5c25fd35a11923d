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
    origin          text NOT NULL CHECK (origin IN ('local', 'iys')),
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
CREATE FUNCTION iys.confirm_local(outbox_ids bigint[]) RETURNS void LANGUAGE sql AS $$
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

-- May a commercial message go to this recipient now? True only for an IYS-confirmed ONAY with no
-- newer RET waiting to be sent. Recipients are in IYS's form (+90… phones, lower-case e-mails),
-- as the attached tables hold them.
CREATE FUNCTION iys.can_send(recipient text, consent_type iys.consent_type, brand_code text DEFAULT NULL)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT EXISTS (
        SELECT 1 FROM iys.current_consent c
         WHERE c.recipient = can_send.recipient AND c.consent_type = can_send.consent_type
           AND (can_send.brand_code IS NULL OR c.brand_code = can_send.brand_code)
           AND c.status = 'ONAY'
           AND NOT EXISTS (
               SELECT 1 FROM iys.outbox o
                WHERE o.state IN ('pending', 'in_flight') AND o.status = 'RET'
                  AND o.brand_code = c.brand_code AND o.recipient = c.recipient
                  AND o.consent_type = c.consent_type AND o.recipient_type = c.recipient_type))
$$;
COMMENT ON FUNCTION iys.can_send(text, iys.consent_type, text) IS
    'true when IYS has confirmed an ONAY for the recipient and channel and no newer RET is waiting';

-- Operators' views. pg_monitor members can read them; none shows a password or a token.
CREATE VIEW iys.sync_status AS
SELECT b.brand_code, b.iys_code, b.mode, b.enabled,
       coalesce(q.pending, 0) AS pending, coalesce(q.in_flight, 0) AS in_flight,
       coalesce(q.accepted, 0) AS accepted, coalesce(q.rejected, 0) AS rejected,
       coalesce(q.superseded, 0) AS superseded,
       now() - q.oldest_pending_at AS oldest_pending_age,
       q.last_error AS last_send_error,
       w.last_flush_at, w.heartbeat_at AS worker_heartbeat_at, w.pid AS worker_pid, w.last_error AS worker_last_error,
       t.halted_until AS token_halted_until, t.halt_reason AS token_halt_reason,
       pi.last_success_at AS last_pull_at, pi.last_error AS last_pull_error,
       CASE WHEN b.pull AND (pi.last_success_at IS NULL OR pi.last_success_at < now() - interval '6 days')
            THEN 'pull has not succeeded within the last 6 days: IYS keeps changes for 7 days only' END AS warning
  FROM iys.brand b
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
  LEFT JOIN iys.pull_cursor pi ON pi.brand_code = b.brand_code AND pi.source = 'IYS'
  CROSS JOIN iys.worker_state w;

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

-- Every consent movement with what became of it: a local one's IYS transaction id and outcome
-- come from its outbox row.
CREATE VIEW iys.consent_history AS
SELECT l.id, l.recorded_at, l.origin, l.brand_code, l.recipient, l.recipient_type, l.consent_type, l.status,
       l.source, l.consent_date, l.source_table::regclass AS source_table, l.source_key, l.recorded_by,
       coalesce(l.transaction_id, o.transaction_id) AS transaction_id,
       CASE WHEN l.origin = 'iys' THEN 'accepted' ELSE o.state END AS outcome,
       o.error_code, o.error_message, l.outbox_id
  FROM iys.consent_ledger l LEFT JOIN iys.outbox o ON o.id = l.outbox_id;

GRANT SELECT ON iys.sync_status, iys.rejections, iys.rejections_by_code, iys.conflicts, iys.deadline_alerts, iys.consent_history TO pg_monitor;
GRANT SELECT ON iys.outbox, iys.batch, iys.consent_ledger, iys.attached_table, iys.worker_state TO pg_monitor;

-- Applies one page of pulled changes and moves the pull cursor, in the caller's (one)
-- transaction: a crash before commit leaves both as they were, so the page is fetched and applied
-- again, never twice. `changes` is IYS's `list` array.
CREATE FUNCTION iys.apply_pulled(p_brand text, p_source text, p_after text, changes jsonb)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    c            jsonb;
    applied      integer := 0;
    v_recipient  text;
    v_type       iys.consent_type;
    v_rtype      iys.recipient_type;
    v_status     iys.consent_status;
    v_source     iys.consent_source;
    v_date       timestamp;
    v_txid       text;
    v_policy     text;
    t            record;
    ch           jsonb;
    brand_filter text;
    date_expr    text;
    row          record;
BEGIN
    SELECT tie_policy INTO v_policy FROM iys.brand WHERE brand_code = p_brand;
    -- Our own triggers must not send these changes back to IYS.
    PERFORM set_config('iys.applying_pull', 'on', true);
    FOR c IN SELECT * FROM jsonb_array_elements(changes) LOOP
        v_txid := c->>'transactionId';
        -- Already known: pulled before, or our own accepted movement back through the HS pull.
        CONTINUE WHEN v_txid IS NOT NULL AND (EXISTS (SELECT 1 FROM iys.consent_ledger WHERE transaction_id = v_txid)
                                              OR EXISTS (SELECT 1 FROM iys.outbox WHERE transaction_id = v_txid));
        v_type := (c->>'type')::iys.consent_type;
        v_recipient := CASE WHEN v_type = 'EPOSTA' THEN lower(c->>'recipient') ELSE c->>'recipient' END;
        v_rtype := coalesce(nullif(c->>'recipientType', ''), 'BIREYSEL')::iys.recipient_type;
        v_status := (c->>'status')::iys.consent_status;
        v_source := nullif(c->>'source', '')::iys.consent_source;
        v_date := nullif(c->>'consentDate', '')::timestamp;
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

        -- The attached tables' rows of this recipient and channel: newest consent date wins (at
        -- whole seconds, as IYS compares); a tie with another status is a conflict unless the
        -- brand lets RET win.
        FOR t IN SELECT a.relid, a.brand_code, a.channels, a.brand_column, a.key_columns FROM iys.attached_table a
                  WHERE (a.brand_code = p_brand OR a.brand_column IS NOT NULL) LOOP
            brand_filter := CASE WHEN t.brand_column IS NULL THEN 'true'
                                 ELSE format('coalesce(nullif(trim(%I::text), %L), %L) = %L', t.brand_column, '', t.brand_code, p_brand) END;
            FOR ch IN SELECT * FROM jsonb_array_elements(t.channels) WHERE value->>'type' = v_type::text LOOP
                date_expr := CASE WHEN ch->>'date_type' = 'timestamp with time zone'
                                  THEN format('(%I AT TIME ZONE INTERVAL %L)', ch->>'consent_date', '+03:00')
                                  ELSE format('%I', ch->>'consent_date') END;
                FOR row IN EXECUTE format(
                    'SELECT ctid AS tid, date_trunc(''second'', %s) AS local_date, %I::text AS local_status, row(%s)::text AS key
                       FROM %s WHERE %I::text = $1 AND %s FOR UPDATE',
                    date_expr, ch->>'permission',
                    (SELECT string_agg(format('%I', k), ', ') FROM unnest(t.key_columns) k),
                    t.relid::regclass, ch->>'address', brand_filter)
                    USING v_recipient LOOP
                    IF row.local_date IS NULL OR v_date IS NULL OR v_date > row.local_date
                       OR (v_date = row.local_date AND upper(row.local_status) IS DISTINCT FROM v_status::text
                           AND v_policy = 'ret_wins' AND v_status = 'RET') THEN
                        EXECUTE format(
                            'UPDATE %s SET %I = $1, %I = %s, %I = $3 WHERE ctid = $4',
                            t.relid::regclass, ch->>'permission', ch->>'consent_date',
                            CASE WHEN ch->>'date_type' = 'timestamp with time zone'
                                 THEN '($2::timestamp AT TIME ZONE INTERVAL ''+03:00'')' ELSE '$2' END,
                            ch->>'source')
                        USING v_status::text, v_date, v_source::text, row.tid;
                    ELSIF v_date = row.local_date AND upper(row.local_status) IS DISTINCT FROM v_status::text THEN
                        INSERT INTO iys.conflict (brand_code, recipient, consent_type, recipient_type, local_status,
                                                  iys_status, consent_date, iys_source, transaction_id, source_table, source_key)
                        VALUES (p_brand, v_recipient, v_type, v_rtype, row.local_status, v_status, v_date, v_source,
                                v_txid, t.relid, row.key);
                    END IF;
                END LOOP;
            END LOOP;
        END LOOP;
    END LOOP;
    PERFORM set_config('iys.applying_pull', 'off', true);

    INSERT INTO iys.pull_cursor AS pc (brand_code, source, after, last_attempt_at, last_success_at, last_error, applied_changes)
    VALUES (p_brand, p_source, p_after, now(), now(), NULL, applied)
    ON CONFLICT (brand_code, source) DO UPDATE
       SET after = coalesce(excluded.after, pc.after), last_attempt_at = now(), last_success_at = now(), last_error = NULL,
           applied_changes = pc.applied_changes + excluded.applied_changes;
    RETURN applied;
END $$;

-- Notes a failed pull attempt (the cursor stays).
CREATE FUNCTION iys.pull_failed(p_brand text, p_source text, message text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO iys.pull_cursor AS pc (brand_code, source, last_attempt_at, last_error)
    VALUES (p_brand, p_source, now(), message)
    ON CONFLICT (brand_code, source) DO UPDATE SET last_attempt_at = now(), last_error = excluded.last_error
$$;

-- The enqueue trigger writes iys.outbox and iys.consent_ledger on behalf of application roles that
-- have no privileges there: it runs as the extension owner, with a fixed search_path.
-- JIT off: compiling the enqueue statement costs more than running it.
ALTER FUNCTION iys.enqueue_changes() SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off;
