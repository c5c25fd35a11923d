-- pg_iys 0.6.0 -> 0.7.0: citizens' changes arrive whole, and fast.
--   * A pulled movement is told apart from another by its transactionId with its address, type,
--     status and creationDate (IYS gives every movement of one address and type within a second
--     the same id): the ledger keeps IYS's creationDate and IYS's spelling of the source. One
--     brand's movements are recorded by one transaction at a time (pull and push).
--   * iys.current_consent takes a line closure (IYS_AHS_HAT_KAPATMA) and a movement without a
--     date (TACIR) whatever its date; dates compare to the second.
--   * The daily file is compared movement by movement, not by transactionId alone.
--   * A cursor IYS refuses is restarted (iys_internal.restart_pull); the pull-gap bridge starts
--     at 167 hours (IYS's 7 days less the hour it holds back).
--   * Push: iys.push_connection / iys.push_register / iys.push_unregister / iys.push_connections,
--     iys.receive_push for the companion service iys-push-receiver, iys.grant_push_receiver_rights.

ALTER TABLE iys.consent_ledger ADD COLUMN iys_source text, ADD COLUMN creation_date timestamp;
COMMENT ON COLUMN iys.consent_ledger.iys_source IS 'a movement from IYS: its source as IYS spelled it, also one newer than iys.consent_source (source is NULL then)';
COMMENT ON COLUMN iys.consent_ledger.creation_date IS 'a movement from IYS: when IYS recorded it (its creationDate, Turkey time); with the transactionId it tells one movement from another';

CREATE OR REPLACE VIEW iys.consent_history AS
SELECT l.id, l.recorded_at, l.origin, l.brand_code, l.recipient, l.recipient_type, l.consent_type, l.status,
       l.source, l.consent_date, l.source_table::regclass AS source_table, l.source_key, l.recorded_by,
       coalesce(l.transaction_id, o.transaction_id) AS transaction_id,
       CASE WHEN l.origin = 'iys' THEN 'accepted' ELSE o.state END AS outcome,
       o.error_code, o.error_message, l.outbox_id, l.iys_source, l.creation_date
  FROM iys.consent_ledger l LEFT JOIN iys.outbox o ON o.id = l.outbox_id;
COMMENT ON COLUMN iys.consent_history.iys_source IS 'a movement from IYS: its source as IYS spelled it';
COMMENT ON COLUMN iys.consent_history.creation_date IS 'a movement from IYS: when IYS recorded it (Turkey time)';

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

CREATE OR REPLACE FUNCTION iys_internal.record_movement_file(p_brand text, p_date date, movements jsonb) RETURNS integer
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
           m->>'status' AS status, nullif(m->>'consentDate', '') AS consent_date, nullif(m->>'source', '') AS source,
           CASE WHEN m->>'creationDate' ~ '^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?$'
                THEN (m->>'creationDate')::timestamp END AS creation_date, m
      FROM jsonb_array_elements(movements) AS m;

    -- Movements are told apart by their transactionId with their address, type and status (IYS
    -- gives all movements of one address and type within a second the same id) and, where both
    -- sides have it, the moment IYS recorded them. One of ours that the file shows under its id
    -- with another status only is a status difference (not a movement missed, nor one missing).
    CREATE TEMP TABLE differing ON COMMIT DROP AS
    SELECT f.m, o.id AS outbox_id, o.status AS our_status
      FROM file_movement f
      JOIN iys.outbox o ON o.transaction_id = f.transaction_id AND o.brand_code = p_brand AND o.recipient = f.recipient
                       AND o.consent_type::text = f.consent_type
     WHERE o.status::text <> f.status
       AND NOT EXISTS (SELECT 1 FROM file_movement g
                        WHERE g.transaction_id = o.transaction_id AND g.recipient = o.recipient
                          AND g.consent_type = o.consent_type::text AND g.status = o.status::text);

    SELECT jsonb_agg(f.m ORDER BY f.m->>'creationDate') INTO unknown FROM file_movement f
     WHERE NOT EXISTS (SELECT 1 FROM differing d WHERE d.m = f.m)
       AND NOT EXISTS (SELECT 1 FROM iys.consent_ledger l
                        WHERE l.transaction_id = f.transaction_id AND l.brand_code = p_brand AND l.recipient = f.recipient
                          AND l.consent_type::text = f.consent_type AND l.status::text = f.status
                          AND (l.creation_date IS NULL OR f.creation_date IS NULL OR l.creation_date = f.creation_date))
       AND NOT EXISTS (SELECT 1 FROM iys.outbox o
                        WHERE o.transaction_id = f.transaction_id AND o.brand_code = p_brand AND o.recipient = f.recipient
                          AND o.consent_type::text = f.consent_type AND o.status::text = f.status);
    v_missing_here := coalesce(jsonb_array_length(unknown), 0);
    IF v_missing_here > 0 THEN
        INSERT INTO iys.reconcile_finding (brand_code, report_date, kind, recipient, consent_type, recipient_type, iys_status,
                                           consent_date, source, transaction_id, resolution, resolved_at)
        SELECT p_brand, p_date, 'missing_here', f.recipient, f.consent_type::iys.consent_type, f.recipient_type::iys.recipient_type,
               f.status::iys.consent_status, f.consent_date::timestamp, f.source, f.transaction_id,
               'recorded from the daily file', now()
          FROM file_movement f WHERE f.m IN (SELECT jsonb_array_elements(unknown));
        PERFORM iys_internal.record_iys_changes(p_brand, 'FILE', unknown);
    END IF;

    INSERT INTO iys.reconcile_finding (brand_code, report_date, kind, recipient, consent_type, recipient_type, iys_status,
                                       local_status, consent_date, source, transaction_id, outbox_id)
    SELECT p_brand, p_date, 'status_differs', f.recipient, f.consent_type::iys.consent_type, f.recipient_type::iys.recipient_type,
           f.status::iys.consent_status, d.our_status, f.consent_date::timestamp, f.source, f.transaction_id, d.outbox_id
      FROM file_movement f JOIN differing d ON d.m = f.m;
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
       -- Under its id in the file with another status only: reported as status_differs above.
       AND NOT EXISTS (SELECT 1 FROM file_movement f
                        WHERE f.transaction_id = o.transaction_id AND f.recipient = o.recipient
                          AND f.consent_type = o.consent_type::text);
    GET DIAGNOSTICS v_missing_iys = ROW_COUNT;

    UPDATE iys.reconcile_day SET missing_here = v_missing_here, status_differs = v_differs, missing_at_iys = v_missing_iys
     WHERE brand_code = p_brand AND report_date = p_date;
    RETURN v_missing_here + v_differs + v_missing_iys;
END $$;

CREATE OR REPLACE FUNCTION iys_internal.recover_pull_gap(p_brand text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM 1 FROM iys.pull_cursor pc
      -- IYS serves 7 days of changes, the last hour held back: 167 hours.
      WHERE pc.brand_code = p_brand AND pc.source = 'IYS' AND pc.last_success_at < now() - interval '167 hours'
        AND (pc.gap_rechecked_at IS NULL OR pc.gap_rechecked_at < pc.last_success_at)
      FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    n := iys.recheck_known_keys(p_brand, 'pull_gap');
    UPDATE iys.pull_cursor SET gap_rechecked_at = now(), gap_keys = n WHERE brand_code = p_brand AND source = 'IYS';
    RETURN n;
END $$;

CREATE OR REPLACE FUNCTION iys_internal.record_status_detail(p_brand text, p_type iys.consent_type, p_rtype iys.recipient_type, p_recipient text, detail jsonb)
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
                -- Looked up, not cast: a cast in a CASE branch not taken may still be folded early.
                (SELECT s FROM unnest(enum_range(NULL::iys.consent_source)) s WHERE s::text = v_source),
                v_date, nullif(detail->>'transactionId', ''), 'import')
        ON CONFLICT (brand_code, recipient, consent_type, recipient_type) DO UPDATE
           SET status = excluded.status, source = excluded.source, consent_date = excluded.consent_date,
               transaction_id = excluded.transaction_id, origin = 'import', confirmed_at = now();
    END IF;
END $$;

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
    EXECUTE format('GRANT SELECT, UPDATE ON iys.push_connection TO %s', worker);
    EXECUTE format('GRANT EXECUTE ON FUNCTION iys_internal.claim_batch(text, integer, bigint), iys_internal.record_pulled(text, text, text, jsonb),
                           iys_internal.confirm_local(bigint[]), iys_internal.pull_failed(text, text, text),
                           iys_internal.restart_pull(text, text, text),
                           iys_internal.refresh_attachment_oids(), iys_internal.record_iys_changes(text, text, jsonb),
                           iys_internal.queue_missing_opt_outs(text, iys.consent_type, iys.recipient_type, text[]),
                           iys_internal.record_status_answers(text, iys.consent_type, iys.recipient_type, text[], text[]),
                           iys_internal.record_status_detail(text, iys.consent_type, iys.recipient_type, text, jsonb),
                           iys.recheck_known_keys(text, text), iys_internal.record_movement_file(text, date, jsonb),
                           iys_internal.recover_pull_gap(text) TO %s', worker);
END $$;

CREATE FUNCTION iys_internal.restart_pull(p_brand text, p_source text, reason text) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    UPDATE iys.pull_cursor SET after = NULL, last_attempt_at = now(),
           last_error = 'IYS refused the cursor (' || reason || '); pulling again from the oldest change it serves'
     WHERE brand_code = p_brand AND source = p_source
$$;
REVOKE EXECUTE ON FUNCTION iys_internal.restart_pull(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION iys_internal.restart_pull(text, text, text) IS 'internal: called by the worker when IYS refuses the pull cursor, to pull again from the oldest change IYS serves';

-- Push (as sql/push.sql creates it; iys.receive_push is the library's).
CREATE FUNCTION iys.receive_push(body jsonb) RETURNS integer
    STRICT VOLATILE LANGUAGE c AS 'MODULE_PATHNAME', 'receive_push_wrapper';
-- IYS pushes citizens' movements (IYS_* sources) to an https address per brand and consent type
-- (İzin Hareketi İletimi, Push). The address is the companion service iys-push-receiver
-- (push-receiver/), which hands each request to iys.receive_push and answers IYS only after that
-- commit. Registrations are asked for here and made by the worker, which holds the tokens.

-- The connections pg_iys asked IYS for, with the basic-authentication credentials IYS calls them
-- with (the password also unregisters: readable by the extension's owner only, like
-- iys.account). `wanted`: register (true) or unregister (false); `state` says how far that got.
CREATE TABLE iys.push_connection (
    brand_code      text NOT NULL REFERENCES iys.brand ON DELETE CASCADE,
    consent_type    iys.consent_type NOT NULL,
    url             text NOT NULL CONSTRAINT push_connection_https_check CHECK (url ~* '^https://'),
    username        text NOT NULL,
    password        text NOT NULL,
    wanted          boolean NOT NULL DEFAULT true,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'registered', 'refused', 'removed')),
    iys_status      text,
    iys_time        text,
    last_error      text,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    done_at         timestamptz,
    PRIMARY KEY (brand_code, consent_type, url)
);
REVOKE ALL ON iys.push_connection FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('iys.push_connection', '');

-- When IYS last pushed to us, per brand (the receiver's calls), for the status view.
CREATE TABLE iys.push_seen (
    brand_code      text PRIMARY KEY,
    last_push_at    timestamptz NOT NULL,
    movements       bigint NOT NULL DEFAULT 0
);
REVOKE ALL ON iys.push_seen FROM PUBLIC;
GRANT SELECT ON iys.push_seen TO pg_monitor;
SELECT pg_catalog.pg_extension_config_dump('iys.push_seen', '');

-- Asks IYS to push a brand's IYS_* movements of one consent type to `url` (https, basic
-- authentication with these credentials). The worker registers it; iys.push_connections
-- shows the outcome. Asking again with other credentials registers again.
CREATE FUNCTION iys.push_register(brand_code text, consent_type iys.consent_type, url text, username text, password text)
RETURNS void LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO iys.push_connection AS p (brand_code, consent_type, url, username, password)
    VALUES (brand_code, consent_type, url, username, password)
    ON CONFLICT ON CONSTRAINT push_connection_pkey DO UPDATE
       SET username = excluded.username, password = excluded.password, wanted = true, state = 'pending',
           last_error = NULL, requested_at = now(), done_at = NULL
$$;

-- Asks IYS to stop pushing to `url` (the worker unregisters it with the stored credentials).
CREATE FUNCTION iys.push_unregister(brand_code text, consent_type iys.consent_type, url text)
RETURNS boolean LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    WITH asked AS (
        UPDATE iys.push_connection p SET wanted = false, state = 'pending', last_error = NULL, requested_at = now(), done_at = NULL
         WHERE p.brand_code = push_unregister.brand_code AND p.consent_type = push_unregister.consent_type AND p.url = push_unregister.url
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM asked)
$$;

-- What an operator sees of the connections (no password).
CREATE VIEW iys.push_connections AS
SELECT p.brand_code, p.consent_type, p.url, p.username,
       CASE WHEN p.wanted THEN 'register' ELSE 'unregister' END AS wanted, p.state, p.iys_status, p.iys_time,
       p.last_error, p.requested_at, p.done_at, s.last_push_at, s.movements AS pushed_movements
  FROM iys.push_connection p LEFT JOIN iys.push_seen s ON s.brand_code = p.brand_code;
GRANT SELECT ON iys.push_connections TO pg_monitor;

-- Records one pushed request (`{"list":[movement, ...]}` as IYS sent it) like a pulled page:
-- ledger, known state and inbox, each movement once whenever and however it arrives. Movements
-- of brands not configured here (IYS's registration test datum: brand 121212) are left out.
-- Returns how many movements were new.
CREATE FUNCTION iys_internal.record_pushed(body jsonb) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    b         record;
    recorded  integer := 0;
BEGIN
    IF jsonb_typeof(body->'list') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'a push carries {"list": [...]}' USING ERRCODE = '22023';
    END IF;
    FOR b IN SELECT br.brand_code, jsonb_agg(x.item ORDER BY x.n) AS items, count(*) AS movements
               FROM jsonb_array_elements(body->'list') WITH ORDINALITY AS x(item, n)
               JOIN iys.brand br ON br.brand_code = x.item->>'brandCode' AND br.iys_code = x.item->>'iysCode'
              WHERE jsonb_typeof(x.item) = 'object'
              GROUP BY br.brand_code
    LOOP
        recorded := recorded + iys_internal.record_iys_changes(b.brand_code, 'PUSH', b.items);
        INSERT INTO iys.push_seen AS s (brand_code, last_push_at, movements) VALUES (b.brand_code, now(), b.movements)
        ON CONFLICT (brand_code) DO UPDATE SET last_push_at = now(), movements = s.movements + excluded.movements;
    END LOOP;
    RETURN recorded;
END $$;
REVOKE EXECUTE ON FUNCTION iys_internal.record_pushed(jsonb) FROM PUBLIC;

-- The receiver's role calls iys.receive_push (src/sql_api/push.rs) and nothing else: it runs as
-- the extension's owner, with a fixed search_path.
ALTER FUNCTION iys.receive_push(jsonb) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE EXECUTE ON FUNCTION iys.receive_push(jsonb) FROM PUBLIC;

-- What the receiver's role needs: iys.receive_push, nothing else. Run by the extension's owner:
--   CREATE ROLE iys_push LOGIN PASSWORD '…'; SELECT iys.grant_push_receiver_rights('iys_push');
CREATE FUNCTION iys.grant_push_receiver_rights(receiver regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('GRANT EXECUTE ON FUNCTION iys.receive_push(jsonb) TO %s', receiver);
END $$;
REVOKE EXECUTE ON FUNCTION iys.grant_push_receiver_rights(regrole) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.push_register(text, iys.consent_type, text, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.push_unregister(text, iys.consent_type, text) FROM PUBLIC;

-- Push (sql/push.sql).
COMMENT ON TABLE iys.push_connection IS 'the push connections pg_iys asked IYS for (iys.push_register / iys.push_unregister), with the credentials IYS calls them with; owner only';
COMMENT ON COLUMN iys.push_connection.brand_code IS 'the brand whose IYS_* movements are pushed';
COMMENT ON COLUMN iys.push_connection.consent_type IS 'the consent type pushed to this address (IYS registers one per type)';
COMMENT ON COLUMN iys.push_connection.url IS 'the https address IYS pushes to (iys-push-receiver)';
COMMENT ON COLUMN iys.push_connection.username IS 'basic-authentication user IYS calls the address with';
COMMENT ON COLUMN iys.push_connection.password IS 'basic-authentication password IYS calls the address with (also needed to unregister)';
COMMENT ON COLUMN iys.push_connection.wanted IS 'true: register the connection; false: unregister it';
COMMENT ON COLUMN iys.push_connection.state IS 'pending (the worker has yet to ask IYS), registered, refused (IYS said no: last_error) or removed';
COMMENT ON COLUMN iys.push_connection.iys_status IS 'the connection''s status in IYS''s own words, from its list';
COMMENT ON COLUMN iys.push_connection.iys_time IS 'when the connection got that status, as IYS lists it (Turkey time)';
COMMENT ON COLUMN iys.push_connection.last_error IS 'why IYS refused the request, or why it could not be asked yet';
COMMENT ON COLUMN iys.push_connection.requested_at IS 'when the registration or unregistration was asked for';
COMMENT ON COLUMN iys.push_connection.done_at IS 'when IYS answered it';
COMMENT ON TABLE iys.push_seen IS 'when IYS last pushed movements of a brand, and how many it pushed';
COMMENT ON COLUMN iys.push_seen.brand_code IS 'brand code';
COMMENT ON COLUMN iys.push_seen.last_push_at IS 'when the receiver last handed over a push for the brand';
COMMENT ON COLUMN iys.push_seen.movements IS 'movements pushed for the brand so far (seen again ones included)';
COMMENT ON FUNCTION iys.push_register(text, iys.consent_type, text, text, text) IS 'asks IYS (through the worker) to push a brand''s IYS_* movements of one consent type to an https address with these basic-authentication credentials';
COMMENT ON FUNCTION iys.push_unregister(text, iys.consent_type, text) IS 'asks IYS (through the worker) to stop pushing to an address; false when no such connection was asked for';
COMMENT ON FUNCTION iys.receive_push(jsonb) IS 'records a request IYS pushed ({"list": [...]}) like a pulled page and wakes the worker at commit; called by iys-push-receiver as a role given iys.grant_push_receiver_rights';
COMMENT ON FUNCTION iys.grant_push_receiver_rights(regrole) IS 'grants a role what iys-push-receiver needs: EXECUTE on iys.receive_push, nothing else';
COMMENT ON FUNCTION iys_internal.record_pushed(jsonb) IS 'internal: records a pushed request''s movements of configured brands in the ledger, the known state and the inbox (called by iys.receive_push)';
COMMENT ON VIEW iys.push_connections IS 'the push connections and how far registering them got, with the last push per brand (no password)';
COMMENT ON COLUMN iys.push_connections.brand_code IS 'the brand whose IYS_* movements are pushed';
COMMENT ON COLUMN iys.push_connections.consent_type IS 'the consent type pushed to this address';
COMMENT ON COLUMN iys.push_connections.url IS 'the https address IYS pushes to';
COMMENT ON COLUMN iys.push_connections.username IS 'basic-authentication user IYS calls the address with';
COMMENT ON COLUMN iys.push_connections.wanted IS 'register or unregister';
COMMENT ON COLUMN iys.push_connections.state IS 'pending, registered, refused or removed';
COMMENT ON COLUMN iys.push_connections.iys_status IS 'the connection''s status in IYS''s own words';
COMMENT ON COLUMN iys.push_connections.iys_time IS 'when the connection got that status (Turkey time)';
COMMENT ON COLUMN iys.push_connections.last_error IS 'why IYS refused the request, or why it could not be asked yet';
COMMENT ON COLUMN iys.push_connections.requested_at IS 'when the registration or unregistration was asked for';
COMMENT ON COLUMN iys.push_connections.done_at IS 'when IYS answered it';
COMMENT ON COLUMN iys.push_connections.last_push_at IS 'when IYS last pushed movements of the brand';
COMMENT ON COLUMN iys.push_connections.pushed_movements IS 'movements IYS pushed for the brand so far';

-- A worker role given its rights before (iys.grant_worker_rights) gets what 0.7.0 adds.
DO $grant$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT a.grantee::regrole AS role
               FROM pg_proc p, aclexplode(p.proacl) a
              WHERE p.oid = 'iys_internal.pull_failed(text, text, text)'::regprocedure
                AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION iys_internal.restart_pull(text, text, text) TO %s', r.role);
        EXECUTE format('GRANT SELECT, UPDATE ON iys.push_connection TO %s', r.role);
    END LOOP;
END
$grant$;
