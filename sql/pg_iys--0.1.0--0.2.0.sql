-- pg_iys 0.1.0 -> 0.2.0
--   * iys.batch: one row per batch the worker claims, with its rows in request order and IYS's
--     request id; outbox rows lose request_id/batch_index and gain batch_id, so a claimed row is
--     written twice (claimed, settled) instead of three times.
--   * iys.claim_batch: one key-index probe per candidate instead of three; records the batch.
--   * the ledger is strictly insert-only: a local movement's IYS transaction id stays on its
--     outbox row (new index outbox_transaction_idx; iys.consent_history shows both together),
--     so settling a batch no longer rewrites 1000 ledger rows. Ids filled by 0.1.0 stay.
-- Batches in flight at the upgrade keep going: each request id becomes a sent iys.batch.

CREATE TABLE iys.batch (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    brand_code   text NOT NULL,
    outbox_ids   bigint[] NOT NULL,             -- element i + 1 is the record at index i of the request
    state        text NOT NULL DEFAULT 'claimed' CHECK (state IN ('claimed', 'sent', 'done')),
    request_id   text,                          -- IYS's id, known once state = 'sent'
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    done_at      timestamptz,                   -- every row answered or put back to pending
    note         text                           -- why a batch ended without IYS's answer
);
COMMENT ON TABLE iys.batch IS 'batches the worker claimed and sent to IYS, with their request ids';
CREATE INDEX batch_open_idx ON iys.batch (id) WHERE state <> 'done';

ALTER TABLE iys.outbox ADD COLUMN batch_id bigint;

WITH sent AS (
    INSERT INTO iys.batch (brand_code, outbox_ids, state, request_id, sent_at)
    SELECT min(brand_code), array_agg(id ORDER BY batch_index), 'sent', request_id, now()
      FROM iys.outbox WHERE state = 'in_flight' AND request_id IS NOT NULL
     GROUP BY request_id
    RETURNING id, outbox_ids
)
UPDATE iys.outbox o SET batch_id = s.id FROM sent s WHERE o.id = ANY (s.outbox_ids);
-- Claimed but never sent: the new worker would not know them.
UPDATE iys.outbox SET state = 'pending', next_attempt_at = now() WHERE state = 'in_flight' AND request_id IS NULL;

DROP INDEX iys.outbox_in_flight_idx;
ALTER TABLE iys.outbox DROP COLUMN request_id, DROP COLUMN batch_index;
CREATE INDEX outbox_transaction_idx ON iys.outbox (transaction_id) WHERE transaction_id IS NOT NULL;

CREATE OR REPLACE FUNCTION iys.ledger_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('iys.pruning_ledger', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'iys.consent_ledger is append-only'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Old history is removed with iys.prune_ledger(older_than interval).';
END $$;
CREATE OR REPLACE FUNCTION iys.claim_batch(brand text, batch_size integer, after_id bigint DEFAULT 0)
RETURNS SETOF iys.outbox LANGUAGE plpgsql AS $$
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
        SELECT DISTINCT c.newest AS id FROM candidate c WHERE c.newest IS NOT NULL
    ), superseded AS (
        UPDATE iys.outbox s SET state = 'superseded', settled_at = now()
         WHERE s.id = ANY (ARRAY(SELECT p.id FROM candidate c, unnest(c.pending_ids) AS p(id) WHERE p.id <> c.newest))
           AND s.state = 'pending'
    ), batch AS (
        INSERT INTO iys.batch (brand_code, outbox_ids)
        SELECT brand, array_agg(n.id ORDER BY n.id) FROM newest n HAVING count(*) > 0
        RETURNING id
    )
    UPDATE iys.outbox c SET state = 'in_flight', attempts = c.attempts + 1, batch_id = (SELECT id FROM batch)
     WHERE c.id = ANY (ARRAY(SELECT id FROM newest)) AND c.state = 'pending'
    RETURNING c.*;
END $$;
COMMENT ON FUNCTION iys.claim_batch(text, integer, bigint) IS
    'claims the next changes of a brand for one IYS batch (coalescing, per-key order, SKIP LOCKED)';

CREATE OR REPLACE FUNCTION iys.apply_pulled(p_brand text, p_source text, p_after text, changes jsonb)
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

-- Every consent movement with what became of it: a local one's IYS transaction id and outcome
-- come from its outbox row.
CREATE VIEW iys.consent_history AS
SELECT l.id, l.recorded_at, l.origin, l.brand_code, l.recipient, l.recipient_type, l.consent_type, l.status,
       l.source, l.consent_date, l.source_table::regclass AS source_table, l.source_key, l.recorded_by,
       coalesce(l.transaction_id, o.transaction_id) AS transaction_id,
       CASE WHEN l.origin = 'iys' THEN 'accepted' ELSE o.state END AS outcome,
       o.error_code, o.error_message, l.outbox_id
  FROM iys.consent_ledger l LEFT JOIN iys.outbox o ON o.id = l.outbox_id;

GRANT SELECT ON iys.batch, iys.consent_history TO pg_monitor;
