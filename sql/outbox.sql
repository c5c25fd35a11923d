-- The outbox (work queue of consent changes for IYS), the consent ledger (append-only history
-- of every consent movement) and the registry of attached tables.

-- Tables whose changes are synced; one row per iys.attach().
CREATE TABLE iys.attached_table (
    relid        oid PRIMARY KEY,
    table_name   text NOT NULL,                 -- as attached; kept for messages after renames
    brand_code   text,                          -- fixed brand of every row, unless brand_column
    mapping      jsonb NOT NULL,                -- the mapping as given to iys.attach
    channels     jsonb NOT NULL,                -- resolved: [{type, address, permission, consent_date, source, date_type}]
    brand_column text,                          -- per-row brand column, if any
    key_columns  text[] NOT NULL,               -- identify a row in outbox.source_key
    on_invalid   text NOT NULL CHECK (on_invalid IN ('reject', 'keep')),
    attached_at  timestamptz NOT NULL DEFAULT now(),
    attached_by  name NOT NULL DEFAULT current_user
);
COMMENT ON TABLE iys.attached_table IS 'master_contact-shaped tables whose consent changes pg_iys queues for IYS';

-- One row per changed channel of a committed row. The worker moves it pending → in_flight →
-- accepted | rejected; a newer pending change of the same key makes an older one superseded.
CREATE TABLE iys.outbox (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    brand_code       text NOT NULL,
    recipient        text NOT NULL,             -- normalised: E.164 phone or lower-case e-mail
    recipient_type   iys.recipient_type NOT NULL,
    consent_type     iys.consent_type NOT NULL,
    status           iys.consent_status NOT NULL,
    source           iys.consent_source,        -- NULL only for a TACIR first record
    consent_date     timestamp,                 -- Turkey time (UTC+3), as IYS wants it
    retailer_code    bigint,
    retailer_access  bigint[],
    source_table     oid,
    source_key       text,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'in_flight', 'accepted', 'rejected', 'superseded')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    request_id       text,
    batch_index      integer,                   -- position in the IYS batch request_id
    transaction_id   text,
    error_code       text,
    error_message    text,
    enqueued_at      timestamptz NOT NULL DEFAULT now(),
    enqueued_by      name NOT NULL DEFAULT session_user,
    settled_at       timestamptz
);
COMMENT ON TABLE iys.outbox IS 'consent changes waiting for, travelling to, or answered by IYS';
-- The worker claims each brand's oldest pending rows first.
CREATE INDEX outbox_pending_idx ON iys.outbox (brand_code, id) WHERE state = 'pending';
-- Sent batches waiting for their result.
CREATE INDEX outbox_in_flight_idx ON iys.outbox (request_id) WHERE state = 'in_flight';
-- Per-key order: find other unsettled changes of the same key.
-- Ends with id so "the newest pending change of this key" is one exact index probe.
CREATE INDEX outbox_unsettled_key_idx ON iys.outbox (brand_code, recipient, consent_type, recipient_type, id)
    WHERE state IN ('pending', 'in_flight');

-- Every consent movement, local (queued from an attached table) or pulled from IYS.
CREATE TABLE iys.consent_ledger (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    origin           text NOT NULL CHECK (origin IN ('local', 'iys')),
    brand_code       text NOT NULL,
    recipient        text NOT NULL,
    recipient_type   iys.recipient_type NOT NULL,
    consent_type     iys.consent_type NOT NULL,
    status           iys.consent_status NOT NULL,
    source           iys.consent_source,
    consent_date     timestamp,
    source_table     oid,
    source_key       text,
    outbox_id        bigint,
    recorded_by      name NOT NULL DEFAULT session_user,
    transaction_id   text                       -- IYS's id, filled once when IYS accepts it
);
COMMENT ON TABLE iys.consent_ledger IS 'append-only history of every consent movement (local or from IYS)';
CREATE INDEX consent_ledger_key_idx ON iys.consent_ledger (brand_code, recipient, consent_type, recipient_type, id);
CREATE INDEX consent_ledger_outbox_idx ON iys.consent_ledger (outbox_id) WHERE outbox_id IS NOT NULL;
-- A pulled movement already known (e.g. our own, back through the HS pull) is found by its id.
CREATE INDEX consent_ledger_transaction_idx ON iys.consent_ledger (transaction_id) WHERE transaction_id IS NOT NULL;

-- Append-only: history is never rewritten. The only change allowed is filling transaction_id
-- once; rows leave only through iys.prune_ledger().
CREATE FUNCTION iys.ledger_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF current_setting('iys.pruning_ledger', true) IS DISTINCT FROM 'on' THEN
            RAISE EXCEPTION 'iys.consent_ledger is append-only'
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Old history is removed with iys.prune_ledger(older_than interval).';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.transaction_id IS NULL AND NEW.transaction_id IS NOT NULL
       AND to_jsonb(NEW) - 'transaction_id' = to_jsonb(OLD) - 'transaction_id' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'iys.consent_ledger is append-only'
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'Only transaction_id may be filled, once, when IYS accepts a movement.';
END $$;
CREATE TRIGGER consent_ledger_append_only BEFORE UPDATE OR DELETE ON iys.consent_ledger
    FOR EACH ROW EXECUTE FUNCTION iys.ledger_guard();

-- Retention: removes ledger rows older than `older_than` whose change is settled.
CREATE FUNCTION iys.prune_ledger(older_than interval) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    removed bigint;
BEGIN
    PERFORM set_config('iys.pruning_ledger', 'on', true);
    DELETE FROM iys.consent_ledger l
     WHERE l.recorded_at < now() - older_than
       AND NOT EXISTS (SELECT 1 FROM iys.outbox o WHERE o.id = l.outbox_id AND o.state IN ('pending', 'in_flight'));
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('iys.pruning_ledger', 'off', true);
    RETURN removed;
END $$;

-- Claims up to batch_size changes for sending, in one short transaction (the caller's):
--   * per key (brand, recipient, consent type, recipient type) only the newest pending change is
--     sent; the older pending ones become superseded (coalescing);
--   * a key with a change in flight waits until that change is settled (per-key order);
--   * SKIP LOCKED: rows an application transaction still holds are left for the next round.
--   * after_id: start after this id. The worker passes the highest id of its last full batch so a
--     long drain does not walk the index entries of rows it already claimed; any claim that is not
--     full (or any row put back to pending) makes it start from the beginning again.
CREATE FUNCTION iys.claim_batch(brand text, batch_size integer, after_id bigint DEFAULT 0)
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
    -- Every per-key lookup is a LATERAL probe of outbox_unsettled_key_idx and every update goes
    -- by primary key, so the plan stays index-driven even before the table has statistics (the
    -- first claim after a bulk load).
    RETURN QUERY
    WITH candidate AS (
        SELECT o.id, o.recipient, o.consent_type, o.recipient_type
          FROM iys.outbox o
         WHERE o.state = 'pending' AND o.brand_code = brand AND o.id > after_id AND o.next_attempt_at <= now()
           -- A scalar subquery stays a parameterised index probe (NOT EXISTS may become a join).
           AND (SELECT 1 FROM iys.outbox f
                 WHERE f.brand_code = o.brand_code AND f.recipient = o.recipient
                   AND f.consent_type = o.consent_type AND f.recipient_type = o.recipient_type
                   AND f.state = 'in_flight' LIMIT 1) IS NULL
         ORDER BY o.id
         LIMIT batch_size
           FOR UPDATE SKIP LOCKED
    ), newest AS (
        SELECT DISTINCT ON (c.recipient, c.consent_type, c.recipient_type) n.id, c.recipient, c.consent_type, c.recipient_type
          FROM candidate c
          CROSS JOIN LATERAL (
                SELECT k.id FROM iys.outbox k
                 WHERE k.brand_code = brand AND k.recipient = c.recipient AND k.consent_type = c.consent_type
                   AND k.recipient_type = c.recipient_type AND k.state = 'pending'
                 -- id + 0: no id-ordered index may serve this; only the key index fits.
                 ORDER BY k.id + 0 DESC LIMIT 1) n
         ORDER BY c.recipient, c.consent_type, c.recipient_type
    ), older AS (
        SELECT o.id
          FROM newest w
          CROSS JOIN LATERAL (
                SELECT k.id FROM iys.outbox k
                 WHERE k.brand_code = brand AND k.recipient = w.recipient AND k.consent_type = w.consent_type
                   AND k.recipient_type = w.recipient_type AND k.state = 'pending' AND k.id + 0 < w.id
                OFFSET 0) o  -- a fence: keeps the probe parameterised instead of flattened
    ), superseded AS (
        UPDATE iys.outbox s SET state = 'superseded', settled_at = now()
         WHERE s.id = ANY (ARRAY(SELECT id FROM older)) AND s.state = 'pending'
    )
    UPDATE iys.outbox c SET state = 'in_flight', attempts = c.attempts + 1
     WHERE c.id = ANY (ARRAY(SELECT id FROM newest))
    RETURNING c.*;
END $$;
COMMENT ON FUNCTION iys.claim_batch(text, integer, bigint) IS
    'claims the next changes of a brand for one IYS batch (coalescing, per-key order, SKIP LOCKED)';
