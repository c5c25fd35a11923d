-- pg_iys 0.4.0 -> 0.5.0: validation parity with IYS.
--   * iys.claim_batch rejects, without sending, a change IYS is sure to refuse for what it is
--     known to hold (iys.current_consent): H178 (not later than the stored date) and H462/H463
--     (a TACIR update without a date or a source), whatever table the change came from.
--   * The holidays of the new library's built-in calendar that the table does not have yet are
--     added (the DBA's own rows are left as they are).

CREATE OR REPLACE FUNCTION iys.claim_batch(brand text, batch_size integer, after_id bigint DEFAULT 0)
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
    -- One LATERAL probe of outbox_unsettled_key_idx per candidate answers all three per-key
    -- questions (anything in flight? the newest pending change? the older ones?), and every
    -- update goes by primary key, so the plan stays index-driven even before the table has
    -- statistics (the first claim after a bulk load).
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
         WHERE n.id = ANY (ARRAY(SELECT DISTINCT c.newest FROM candidate c WHERE c.newest IS NOT NULL))
    ), sendable AS (
        SELECT n.id FROM newest n
         WHERE NOT n.late AND n.refusal IS NULL
           AND NOT EXISTS (SELECT 1 FROM newest m WHERE m.recipient = n.recipient AND m.status <> n.status
                                                    AND m.id < n.id AND NOT m.late AND m.refusal IS NULL)
    ), superseded AS (
        UPDATE iys.outbox s SET state = 'superseded', settled_at = now()
         WHERE s.id = ANY (ARRAY(SELECT p.id FROM candidate c, unnest(c.pending_ids) AS p(id) WHERE p.id <> c.newest))
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
COMMENT ON FUNCTION iys.claim_batch(text, integer, bigint) IS
    'claims the next changes of a brand for one IYS batch (coalescing, per-key order, SKIP LOCKED)';

INSERT INTO iys.holiday (day, name, half_day, builtin)
SELECT day, name, half_day, true FROM iys.builtin_holidays()
ON CONFLICT (day) DO NOTHING;
