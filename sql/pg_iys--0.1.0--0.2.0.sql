-- pg_iys 0.1.0 -> 0.2.0
--   * iys.batch: one row per batch the worker claims, with its rows in request order and IYS's
--     request id; outbox rows lose request_id/batch_index and gain batch_id, so a claimed row is
--     written twice (claimed, settled) instead of three times.
--   * iys.claim_batch: one key-index probe per candidate instead of three; records the batch.
--   * the ledger's append-only check: the allowed fill of transaction_id is recognised in a
--     trigger WHEN clause (no PL/pgSQL call per settled row).
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
GRANT SELECT ON iys.batch TO pg_monitor;

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

DROP TRIGGER consent_ledger_append_only ON iys.consent_ledger;
CREATE OR REPLACE FUNCTION iys.ledger_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF current_setting('iys.pruning_ledger', true) IS DISTINCT FROM 'on' THEN
            RAISE EXCEPTION 'iys.consent_ledger is append-only'
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Old history is removed with iys.prune_ledger(older_than interval).';
        END IF;
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'iys.consent_ledger is append-only'
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'Only transaction_id may be filled, once, when IYS accepts a movement.';
END $$;
CREATE TRIGGER consent_ledger_append_only BEFORE DELETE ON iys.consent_ledger
    FOR EACH ROW EXECUTE FUNCTION iys.ledger_guard();
-- Every column but transaction_id must stay as it was (a column added to the ledger must be
-- added to this list).
CREATE TRIGGER consent_ledger_fill_once BEFORE UPDATE ON iys.consent_ledger
    FOR EACH ROW WHEN (NOT (OLD.transaction_id IS NULL AND NEW.transaction_id IS NOT NULL
        AND (OLD.id, OLD.recorded_at, OLD.origin, OLD.brand_code, OLD.recipient, OLD.recipient_type,
             OLD.consent_type, OLD.status, OLD.source, OLD.consent_date, OLD.source_table,
             OLD.source_key, OLD.outbox_id, OLD.recorded_by)
            IS NOT DISTINCT FROM
            (NEW.id, NEW.recorded_at, NEW.origin, NEW.brand_code, NEW.recipient, NEW.recipient_type,
             NEW.consent_type, NEW.status, NEW.source, NEW.consent_date, NEW.source_table,
             NEW.source_key, NEW.outbox_id, NEW.recorded_by)))
    EXECUTE FUNCTION iys.ledger_guard();

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
