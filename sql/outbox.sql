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
-- accepted | rejected; a newer pending change of the same key makes an older one superseded. A
-- RET for a consent IYS never had (IYS's H175) ends not_in_iys: nothing to withdraw, not an error.
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
    -- pending, in_flight, accepted, rejected, superseded or not_in_iys. Written only by pg_iys's
    -- own statements (no role may write the queue), so no CHECK: PostgreSQL re-reads and plans a
    -- table's CHECK constraints for every statement that inserts, i.e. for every application
    -- statement on an attached table (the 0.10.0 measurement in BENCHMARKS.md).
    state            text NOT NULL DEFAULT 'pending',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    transaction_id   text,
    error_code       text,
    error_message    text,
    enqueued_at      timestamptz NOT NULL DEFAULT now(),
    -- text, not name: a name takes 64 bytes in every row whatever the role's (since 0.12.0).
    enqueued_by      text NOT NULL DEFAULT session_user,
    settled_at       timestamptz,
    batch_id         bigint                     -- the iys.batch that carried it last
);
COMMENT ON TABLE iys.outbox IS 'consent changes waiting for, travelling to, or answered by IYS; each row is also the history of its local movement (never changed or deleted but by iys.prune_ledger)';
-- The worker claims each brand's oldest pending rows first. Every entry is unique (the id), so a
-- full leaf is split at once instead of first trying to deduplicate it.
CREATE INDEX outbox_pending_idx ON iys.outbox (brand_code, id) WITH (deduplicate_items = off) WHERE state = 'pending';
-- Per-key order, coalescing, "is an opt-out waiting?" and "is this pulled movement our own?":
-- the unsettled changes of a key that these questions need. Every question is an equality on
-- the recipient (the other key columns are checked on the few rows it finds), so a hash index.
-- Since 0.13.0 it leaves out a fresh ONAY (pending, never claimed): the bulk of what
-- applications write, which only the claim asks about, and the claim finds it among its own
-- candidates (iys_internal.claim_batch). An opt-out is in it from the start (iys.can_send), a
-- change once claimed stays in it until settled (in flight: per-key order; back to pending
-- after a retryable answer: IYS may hold it). A claimed row always has its batch_id.
CREATE INDEX outbox_unsettled_key_idx ON iys.outbox USING hash (recipient)
    WHERE state IN ('pending', 'in_flight') AND (status = 'RET' OR batch_id IS NOT NULL);
-- Our own accepted movement, back through the HS pull, is recognised by IYS's id.
CREATE INDEX outbox_transaction_idx ON iys.outbox (transaction_id) WHERE transaction_id IS NOT NULL;

-- One row per batch the worker claims: its rows in request order and, once IYS took it, IYS's
-- request id. Settling reads the rows' ids from here (primary-key probes), so a claimed row is
-- written twice in all (claimed, settled), never a third time to note the request id.
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

-- Consent movements from IYS (pulled, pushed, from a daily file); local ones before 0.8.0.
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
    transaction_id   text,                      -- IYS's id of a pulled movement (a local one's is on its outbox row)
    iys_source       text,                      -- a movement from IYS: its source as IYS spelled it
    creation_date    timestamp                  -- a movement from IYS: when IYS recorded it (Turkey time)
);
COMMENT ON TABLE iys.consent_ledger IS 'append-only history of IYS''s movements (pulled, pushed, from daily files) and of local movements recorded before 0.8.0; since then a local movement''s history is its outbox row (iys.consent_history shows all)';
CREATE INDEX consent_ledger_key_idx ON iys.consent_ledger (brand_code, recipient, consent_type, recipient_type, id);
CREATE INDEX consent_ledger_outbox_idx ON iys.consent_ledger (outbox_id) WHERE outbox_id IS NOT NULL;
-- A pulled movement already known is found by its id (our own accepted ones: outbox_transaction_idx).
CREATE INDEX consent_ledger_transaction_idx ON iys.consent_ledger (transaction_id) WHERE transaction_id IS NOT NULL;

-- Since 0.8.0 a local movement is recorded once, as its outbox row (the queue row is the history:
-- one row per changed channel instead of two); the ledger keeps IYS's movements (and local ones
-- recorded before); iys.consent_history shows both kinds. Append-only: history is never
-- rewritten, rows are never updated; they leave only through iys.prune_ledger().
CREATE FUNCTION iys_internal.ledger_guard() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
CREATE TRIGGER consent_ledger_append_only BEFORE UPDATE OR DELETE ON iys.consent_ledger
    FOR EACH ROW EXECUTE FUNCTION iys_internal.ledger_guard();
-- The outbox row of a local movement is its history: the worker changes only where it stands
-- (state, attempts, IYS's answer). The row trigger fires only for an UPDATE that names a movement
-- column, so claiming and settling pay nothing for it; deleting is checked once per statement.
CREATE TRIGGER outbox_history_kept
    BEFORE UPDATE OF brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_key,
                     enqueued_at, enqueued_by ON iys.outbox
    FOR EACH ROW EXECUTE FUNCTION iys_internal.ledger_guard();
CREATE TRIGGER outbox_history_not_deleted BEFORE DELETE OR TRUNCATE ON iys.outbox
    FOR EACH STATEMENT EXECUTE FUNCTION iys_internal.ledger_guard();

-- Retention: removes ledger rows recorded more than `older_than` ago whose change is settled, and
-- the settled outbox rows (local movements) queued that long ago.
-- The ledger is the proof of consent, which the Regulation asks a company to keep for three years
-- after a consent ends: anything younger than three years is refused unless `force`. Says (NOTICE)
-- and returns how many rows went.
CREATE FUNCTION iys.prune_ledger(older_than interval, force boolean DEFAULT false) RETURNS bigint
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
CREATE FUNCTION iys_internal.claim_batch(brand text, batch_size integer, after_id bigint DEFAULT 0)
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
    -- The candidates are the brand's oldest due pending changes whose key has nothing in flight;
    -- one probe of outbox_unsettled_key_idx each answers that and finds the key's pending
    -- changes the index holds (opt-outs, changes claimed before). With the key's candidates they
    -- are the changes coalesced; a fresh ONAY beyond this batch's candidates is not among them
    -- and goes after the candidate's change, in a later batch, so per-key order holds. Every update
    -- goes by primary key, so the plan stays index-driven even before the table has statistics
    -- (the first claim after a bulk load).
    --   * A change past IYS's 3-business-day window is rejected here with H467, not sent.
    --   * A change IYS is sure to refuse for what it is known to hold (iys.current_consent: our
    --     accepted changes, pulls, status queries, daily files) is rejected here with IYS's
    --     code, not sent, whatever table it came from: H178 (not later than the stored date:
    --     IYS's date can only be later than the one we know) and H462/H463 (a TACIR update needs
    --     a date and a source). Not H174 (RET over RET): the citizen may have given consent again
    --     in IYS since we last heard, and an opt-out is never dropped on a guess.
    --   * One recipient never goes with two statuses in one batch (IYS refuses such a list): a
    --     recipient's change whose status differs from an earlier one of the batch waits.
    RETURN QUERY
    WITH candidate AS (
        SELECT o.id, o.recipient, o.consent_type, o.recipient_type, k.indexed_pending_ids
          FROM iys.outbox o
          CROSS JOIN LATERAL (   -- an aggregate: probed per candidate, never one scan of the table
                SELECT bool_or(u.state = 'in_flight') AS busy,
                       array_agg(u.id) FILTER (WHERE u.state = 'pending') AS indexed_pending_ids
                  FROM iys.outbox u
                 WHERE u.recipient = o.recipient AND u.brand_code = o.brand_code
                   AND u.consent_type = o.consent_type AND u.recipient_type = o.recipient_type
                   AND u.state IN ('pending', 'in_flight') AND (u.status = 'RET' OR u.batch_id IS NOT NULL)) k
         WHERE o.state = 'pending' AND o.brand_code = brand AND o.id > after_id AND o.next_attempt_at <= now()
           AND k.busy IS NOT TRUE
         ORDER BY o.id
         LIMIT batch_size
           FOR UPDATE OF o SKIP LOCKED
    ), keyed AS (   -- per key: its pending changes (the candidates and those the index holds), the newest
        SELECT array_agg(p.id) AS pending_ids, max(p.id) AS newest
          FROM (SELECT c.recipient, c.consent_type, c.recipient_type, c.id FROM candidate c
                UNION
                SELECT c.recipient, c.consent_type, c.recipient_type, i.id
                  FROM candidate c, unnest(c.indexed_pending_ids) AS i(id)) p
         GROUP BY p.recipient, p.consent_type, p.recipient_type
    ), newest AS (
        SELECT n.id, n.recipient, n.status,
               n.consent_date IS NOT NULL AND n.source IS DISTINCT FROM 'HS_2015'
                 AND iys.reporting_deadline(n.consent_date) < (now() AT TIME ZONE INTERVAL '+03:00') AS late,
               k.refusal, k.held
          FROM iys.outbox n
          LEFT JOIN LATERAL (
                SELECT CASE WHEN n.consent_date <= h.consent_date THEN 'H178'
                            WHEN n.recipient_type = 'TACIR' AND n.consent_date IS NULL THEN 'H462'
                            WHEN n.recipient_type = 'TACIR' AND n.source IS NULL THEN 'H463' END AS refusal,
                       h.status::text || coalesce(' of ' || to_char(h.consent_date, 'YYYY-MM-DD HH24:MI:SS'), '') AS held
                  FROM iys.current_consent h
                 WHERE h.brand_code = n.brand_code AND h.recipient = n.recipient
                   AND h.consent_type = n.consent_type AND h.recipient_type = n.recipient_type) k ON true
         WHERE n.id = ANY (ARRAY(SELECT k.newest FROM keyed k))
    ), sendable AS (
        SELECT n.id FROM newest n
         WHERE NOT n.late AND n.refusal IS NULL
           AND NOT EXISTS (SELECT 1 FROM newest m WHERE m.recipient = n.recipient AND m.status <> n.status
                                                    AND m.id < n.id AND NOT m.late AND m.refusal IS NULL)
    ), superseded AS (
        UPDATE iys.outbox s SET state = 'superseded', settled_at = now()
         WHERE s.id = ANY (ARRAY(SELECT p.id FROM keyed k, unnest(k.pending_ids) AS p(id) WHERE p.id <> k.newest))
           AND s.state = 'pending'
    ), too_late AS (
        UPDATE iys.outbox r SET state = 'rejected', settled_at = now(), error_code = 'H467',
               error_message = 'not sent: collected more than 3 business days ago; IYS accepted it until '
                               || to_char(iys.reporting_deadline(r.consent_date), 'YYYY-MM-DD HH24:MI:SS') || ' Turkey time'
         WHERE r.id = ANY (ARRAY(SELECT n.id FROM newest n WHERE n.late)) AND r.state = 'pending'
    ), refused AS (
        UPDATE iys.outbox r SET state = 'rejected', settled_at = now(), error_code = n.refusal,
               error_message = 'not sent: IYS holds ' || n.held || ' for this recipient; '
                               || CASE n.refusal WHEN 'H178' THEN 'a change must be dated later'
                                                 WHEN 'H462' THEN 'a TACIR update needs a consentDate'
                                                 ELSE 'a TACIR update needs a source' END
          FROM newest n
         WHERE r.id = n.id AND NOT n.late AND n.refusal IS NOT NULL AND r.state = 'pending'
    ), batch AS (
        INSERT INTO iys.batch (brand_code, outbox_ids)
        SELECT brand, array_agg(n.id ORDER BY n.id) FROM sendable n HAVING count(*) > 0
        RETURNING id
    )
    UPDATE iys.outbox c SET state = 'in_flight', attempts = c.attempts + 1, batch_id = (SELECT id FROM batch)
     WHERE c.id = ANY (ARRAY(SELECT id FROM sendable)) AND c.state = 'pending'
    RETURNING c.*;
END $$;
COMMENT ON FUNCTION iys_internal.claim_batch(text, integer, bigint) IS
    'internal: called by the worker to claim the next changes of a brand for one IYS batch (coalescing, per-key order, SKIP LOCKED)';

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
COMMENT ON FUNCTION iys.requeue_rejected(bigint[], text, text) IS 'sends rejected changes again (by id, IYS code, brand) once the cause is fixed';
