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
CREATE FUNCTION iys_internal.reportable_source(source text) RETURNS iys.consent_source
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN upper(trim(source)) LIKE 'HS\_%' AND upper(trim(source)) = ANY (enum_range(NULL::iys.consent_source)::text[])
                THEN upper(trim(source))::iys.consent_source ELSE 'HS_WEB'::iys.consent_source END
$$;

-- Queues an opt-out IYS does not have (its record is ONAY) for keys of `keys`; a RET already on
-- its way is not queued twice. Dated now: IYS refuses movements dated more than 3 business
-- days back (H467), and an opt-out must reach IYS whatever its age.
CREATE FUNCTION iys_internal.queue_missing_opt_outs(p_brand text, p_type iys.consent_type, p_rtype iys.recipient_type, keys text[])
RETURNS void LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    WITH queued AS (
        INSERT INTO iys.outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key)
        SELECT s.brand_code, s.recipient, s.recipient_type, s.consent_type, 'RET', iys_internal.reportable_source(s.local_source),
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
    -- The outbox row is the movement's history too (iys.consent_history).
    SELECT count(*) FROM queued
$$;

-- Records IYS's answer to one multi-status query: `asked` were asked, `onay` came back (IYS
-- answers only the ONAY ones). IYS's known state: an ONAY is recorded as such; a key we knew as
-- ONAY that is no longer listed has become RET (IYS never deletes a record). A local opt-out IYS
-- holds as ONAY is queued at once; a local ONAY IYS does not list needs IYS's record (detail).
CREATE FUNCTION iys_internal.record_status_answers(p_brand text, p_type iys.consent_type, p_rtype iys.recipient_type, asked text[], onay text[])
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
        PERFORM iys_internal.queue_missing_opt_outs(p_brand, p_type, p_rtype, opt_outs);
    END IF;
    RETURN answered;
END $$;

-- Records IYS's answer to one single status query (`detail` NULL: IYS has no such consent).
CREATE FUNCTION iys_internal.record_status_detail(p_brand text, p_type iys.consent_type, p_rtype iys.recipient_type, p_recipient text, detail jsonb)
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

-- Asks IYS again about every key pg_iys knows for a brand (IYS's known state, the ledger and the
-- local movements of the outbox; the newest movement of a key says what pg_iys believes):
-- after a pull outage longer than IYS's 7-day window, or when an operator wants to be sure.
-- Returns how many keys were queued.
CREATE FUNCTION iys.recheck_known_keys(p_brand text, p_reason text DEFAULT 'manual') RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    WITH keys AS (
        SELECT DISTINCT ON (k.recipient, k.consent_type, k.recipient_type) k.recipient, k.consent_type, k.recipient_type, k.status
          FROM (SELECT c.recipient, c.consent_type, c.recipient_type, c.status, 1 AS pref, '-infinity'::timestamptz AS at
                  FROM iys.current_consent c WHERE c.brand_code = p_brand
                UNION ALL
                SELECT l.recipient, l.consent_type, l.recipient_type, l.status, 2, l.recorded_at
                  FROM iys.consent_ledger l WHERE l.brand_code = p_brand
                UNION ALL
                SELECT o.recipient, o.consent_type, o.recipient_type, o.status, 2, o.enqueued_at
                  FROM iys.outbox o WHERE o.brand_code = p_brand) k
         ORDER BY k.recipient, k.consent_type, k.recipient_type, k.pref, k.at DESC
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
CREATE FUNCTION iys_internal.record_movement_file(p_brand text, p_date date, movements jsonb) RETURNS integer
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
            RETURNING s.*)
        -- The outbox row is the movement's history too (iys.consent_history).
        INSERT INTO iys.outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key)
        SELECT t.brand_code, t.recipient, t.recipient_type, t.consent_type, 'ONAY',
               CASE WHEN t.local_source = ANY (enum_range(NULL::iys.consent_source)::text[]) THEN t.local_source::iys.consent_source END,
               t.local_consent_date, t.source_table, t.source_key
          FROM taken t;
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
CREATE FUNCTION iys_internal.recover_pull_gap(p_brand text) RETURNS bigint
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
