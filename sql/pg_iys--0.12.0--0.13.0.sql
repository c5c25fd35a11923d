-- pg_iys 0.12.0 -> 0.13.0: a fresh ONAY costs no key index entry (issue #16).
--   * iys.outbox's key index (outbox_unsettled_key_idx) holds an unsettled change only when it is
--     an opt-out or a batch claimed it: a 1-row INSERT of a two-channel contact writes two index
--     entries fewer (BENCHMARKS.md).
--   * iys_internal.claim_batch finds a key's fresh pending changes among its own candidates.
--   * iys_internal.record_iys_changes recognises our own movement among the changes that went to
--     IYS (a batch claimed them): a change never claimed cannot be in IYS.
-- The index is built again from the unsettled rows of iys.outbox (the backlog only).
DROP INDEX iys.outbox_unsettled_key_idx;
CREATE INDEX outbox_unsettled_key_idx ON iys.outbox USING hash (recipient)
    WHERE state IN ('pending', 'in_flight') AND (status = 'RET' OR batch_id IS NOT NULL);

CREATE OR REPLACE FUNCTION iys_internal.claim_batch(brand text, batch_size integer, after_id bigint DEFAULT 0)
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
