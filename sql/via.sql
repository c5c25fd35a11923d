-- İLETİ ViA: consent requests IYS itself carries to the recipient (a short link or a one-time
-- code by SMS or e-mail), and the recipients' personal opt-out links for commercial e-mails.
-- The worker sends, follows and records them (src/worker/via.rs); nothing here calls IYS.

CREATE FUNCTION iys_internal.check_via_request(recipient text, verification_type text, form_id bigint, etk_types text[],
    brand_codes text[], recipient_type text, kvk_types text[], person_name text, person_id_number text) RETURNS text
    IMMUTABLE PARALLEL SAFE SET search_path TO pg_catalog, pg_temp
    LANGUAGE c AS 'MODULE_PATHNAME', 'check_via_request_wrapper';
CREATE FUNCTION iys_internal.wake_worker() RETURNS void
    VOLATILE SET search_path TO pg_catalog, pg_temp
    LANGUAGE c AS 'MODULE_PATHNAME', 'wake_worker_wrapper';

-- One row per consent request. pending → (sent) waiting → completed; an OTP request goes to
-- confirming when iys.confirm_via_otp() gives the recipient's code, and back to waiting once
-- IYS took it. rejected: IYS refused the request itself (its code in error_code). expired: IYS
-- never finished it within 7 days (its links live 24 hours, its codes 3 minutes); the worker
-- stopped asking.
CREATE TABLE iys.via_request (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    iys_code          text NOT NULL REFERENCES iys.account ON DELETE CASCADE,
    recipient         text NOT NULL,              -- E.164 phone (SMS_*) or lower-case e-mail (EPOSTA_*)
    verification_type text NOT NULL CHECK (verification_type IN ('SMS_OTP', 'SMS_SHORTURL', 'EPOSTA_OTP', 'EPOSTA_SHORTURL', 'EPOSTA_APPROVALURL')),
    form_id           bigint NOT NULL,            -- the ViA form's id in IYS Web (ViA Yönetimi)
    brand_codes       text[],                     -- ETK: the brands asking
    etk_types         iys.consent_type[],         -- ETK: MESAJ, ARAMA, EPOSTA
    recipient_type    iys.recipient_type,         -- ETK: BIREYSEL or TACIR
    kvk_types         text[],                     -- KVK: AYDINLATMA_METNI, ACIK_RIZA_METNI, YURTDISI_AKTARIM
    person_name       text,                       -- KVK: the recipient's name (personal data, kept until sent)
    person_id_number  text,                       -- KVK: identity number (personal data, kept until sent)
    person_address    text,                       -- KVK: address (personal data, kept until sent)
    reference_id      text,                       -- the caller's own reference (a customer id)
    state             text NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'waiting', 'confirming', 'completed', 'rejected', 'expired')),
    request_id        text UNIQUE,                -- IYS's, once sent
    otp_etk           text,                       -- one-time codes to confirm, cleared once sent
    otp_kvk           text,
    attempts          integer NOT NULL DEFAULT 0, -- failed calls in a row
    checks            integer NOT NULL DEFAULT 0, -- status queries while waiting
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    requested_at      timestamptz NOT NULL DEFAULT now(),
    requested_by      name NOT NULL DEFAULT session_user,
    sent_at           timestamptz,
    checked_at        timestamptz,
    completed_at      timestamptz,
    iys_status        text,                       -- IYS's lastStatus.status (SUCCESS, OTP_CODE_EXPIRED, ...)
    iys_source        text,                       -- the IYS source of what was approved (IYS_KISAMESAJ, ...)
    details           jsonb,                      -- IYS's answer per asked-for consent
    error_code        text,
    error_message     text
);
COMMENT ON TABLE iys.via_request IS 'consent requests sent through IYS ViA (short link or one-time code); holds personal data: readable by the extension owner only';
REVOKE ALL ON iys.via_request FROM PUBLIC;
CREATE INDEX via_request_due_idx ON iys.via_request (next_attempt_at) WHERE state IN ('pending', 'waiting', 'confirming');

-- KVK approvals (the service provider's personal-data texts), one row per approved text: kept
-- as their own records, not as consents of the attached tables.
CREATE TABLE iys.kvk_consent (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    via_request_id  bigint NOT NULL REFERENCES iys.via_request ON DELETE CASCADE,
    iys_code        text NOT NULL,
    recipient       text NOT NULL,
    kvk_type        text NOT NULL,
    consent_date    timestamp,                   -- Turkey time
    transaction_id  text,
    source          text,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (via_request_id, kvk_type)
);
COMMENT ON TABLE iys.kvk_consent IS 'KVK texts recipients approved through IYS ViA';
CREATE INDEX kvk_consent_recipient_idx ON iys.kvk_consent (recipient, kvk_type);

-- Opt-out links for commercial e-mails: one per brand, address and recipient type, valid 90
-- days (IYS's). pending: to fetch (new, or renewing one with less than 30 days left); issued:
-- url until expires_at; refused: IYS gave none (H568: the address's EPOSTA consent is not ONAY).
CREATE TABLE iys.optout_link (
    brand_code      text NOT NULL REFERENCES iys.brand ON DELETE CASCADE,
    recipient       text NOT NULL,               -- lower-case e-mail
    recipient_type  iys.recipient_type NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'issued', 'refused')),
    url             text,                        -- the last link IYS gave (kept while a renewal is pending)
    expires_at      timestamptz,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    issued_at       timestamptz,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    error_code      text,
    error_message   text,
    PRIMARY KEY (brand_code, recipient, recipient_type)
);
COMMENT ON TABLE iys.optout_link IS 'personal e-mail opt-out links from IYS (via-hash-links), cached until they near expiry';
REVOKE ALL ON iys.optout_link FROM PUBLIC;
CREATE INDEX optout_link_due_idx ON iys.optout_link (brand_code, next_attempt_at) WHERE state = 'pending';

-- Queues a consent request for IYS ViA after checking it by IYS's ViA rules (every problem at
-- once, 23514). ETK: etk_types (MESAJ, ARAMA by SMS; EPOSTA by e-mail) for brand_codes, all
-- brands of one account. KVK: kvk_types and the recipient's person_name (and, optionally,
-- identity number and address). Both may go in one request. Returns the request's id
-- (iys.via_requests shows it).
CREATE FUNCTION iys.request_via_consent(
    recipient text, verification_type text, form_id bigint,
    etk_types text[] DEFAULT NULL, brand_codes text[] DEFAULT NULL, recipient_type text DEFAULT 'BIREYSEL',
    kvk_types text[] DEFAULT NULL, person_name text DEFAULT NULL, person_id_number text DEFAULT NULL,
    person_address text DEFAULT NULL, reference_id text DEFAULT NULL, iys_code text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_recipient text := iys_internal.check_via_request(recipient, verification_type, form_id, etk_types, brand_codes,
                                                       recipient_type, kvk_types, person_name, person_id_number);
    v_brands    text[] := (SELECT array_agg(DISTINCT trim(c) ORDER BY trim(c)) FROM unnest(brand_codes) c);
    v_unknown   text;
    v_accounts  text[];
    v_id        bigint;
BEGIN
    IF v_brands IS NOT NULL THEN
        v_unknown := (SELECT string_agg(c, ', ') FROM unnest(v_brands) c
                       WHERE NOT EXISTS (SELECT 1 FROM iys.brand b WHERE b.brand_code = c));
        IF v_unknown IS NOT NULL THEN
            RAISE EXCEPTION 'H1014 brandCodes: brand % is not one of pg_iys''s brands', v_unknown
                USING ERRCODE = 'invalid_parameter_value', HINT = 'Add the brand to iys.brand (with its account) first.';
        END IF;
        v_accounts := (SELECT array_agg(DISTINCT b.iys_code) FROM iys.brand b WHERE b.brand_code = ANY (v_brands));
        IF cardinality(v_accounts) > 1 OR (request_via_consent.iys_code IS NOT NULL AND v_accounts[1] <> request_via_consent.iys_code) THEN
            RAISE EXCEPTION 'H1014 brandCodes: the brands of one request belong to one account (these belong to %)', array_to_string(v_accounts, ', ')
                USING ERRCODE = 'invalid_parameter_value', HINT = 'Send one request per account.';
        END IF;
    ELSE
        v_accounts := CASE WHEN request_via_consent.iys_code IS NOT NULL
                           THEN (SELECT array_agg(a.iys_code) FROM iys.account a WHERE a.iys_code = request_via_consent.iys_code)
                           ELSE (SELECT array_agg(a.iys_code) FROM iys.account a) END;
        IF coalesce(cardinality(v_accounts), 0) <> 1 THEN
            RAISE EXCEPTION 'iys_code: % ', CASE WHEN request_via_consent.iys_code IS NULL THEN 'name the account of this KVK request'
                                               ELSE format('account %s is not in iys.account', request_via_consent.iys_code) END
                USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass iys_code => ''<your IYS number>''.';
        END IF;
    END IF;
    INSERT INTO iys.via_request (iys_code, recipient, verification_type, form_id, brand_codes, etk_types, recipient_type,
                                 kvk_types, person_name, person_id_number, person_address, reference_id)
    VALUES (v_accounts[1], v_recipient, upper(trim(verification_type)), form_id, v_brands,
            CASE WHEN v_brands IS NOT NULL THEN (SELECT array_agg(DISTINCT iys.to_consent_type(t)) FROM unnest(etk_types) t) END,
            CASE WHEN v_brands IS NOT NULL THEN iys.to_recipient_type(recipient_type) END,
            (SELECT array_agg(DISTINCT upper(trim(t))) FROM unnest(kvk_types) t),
            nullif(trim(person_name), ''), nullif(trim(person_id_number), ''), nullif(trim(person_address), ''), reference_id)
    RETURNING id INTO v_id;
    PERFORM iys_internal.wake_worker();
    RETURN v_id;
END $$;
ALTER FUNCTION iys.request_via_consent(text, text, bigint, text[], text[], text, text[], text, text, text, text, text) SECURITY DEFINER;

-- The recipient's one-time code(s) of an OTP request (SMS_OTP, EPOSTA_OTP), to confirm to IYS.
-- etk_code for the ETK part, kvk_code for the KVK part (IYS sends one code for each). Returns
-- false when the request is not an OTP request waiting for its code.
CREATE FUNCTION iys.confirm_via_otp(request bigint, etk_code text DEFAULT NULL, kvk_code text DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_found boolean;
BEGIN
    IF etk_code IS NULL AND kvk_code IS NULL THEN
        RAISE EXCEPTION 'iys.confirm_via_otp() needs etk_code, kvk_code or both' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE iys.via_request r
       SET otp_etk = nullif(trim(etk_code), ''), otp_kvk = nullif(trim(kvk_code), ''), state = 'confirming',
           next_attempt_at = now(), attempts = 0, error_code = NULL, error_message = NULL
     WHERE r.id = request AND r.state IN ('waiting', 'confirming') AND r.verification_type IN ('SMS_OTP', 'EPOSTA_OTP')
    RETURNING true INTO v_found;
    PERFORM iys_internal.wake_worker();
    RETURN coalesce(v_found, false);
END $$;
ALTER FUNCTION iys.confirm_via_otp(bigint, text, text) SECURITY DEFINER;

-- The recipient's opt-out link for the brand's commercial e-mails, for a campaign query
-- (SELECT email, iys.optout_link('100001', email) FROM ...). A link IYS gave and that is still
-- valid is returned; NULL while none is at hand: the worker fetches it (up to 100 a call) and a
-- later call returns it. A link with less than 30 days left is renewed in the background and
-- returned meanwhile. An address IYS refuses (not ONAY) is asked again after a day; one IYS would
-- not take for EPOSTA at all is NULL at once.
CREATE FUNCTION iys.optout_link(brand_code text, email text, recipient_type iys.recipient_type DEFAULT 'BIREYSEL')
RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- An address IYS would not take for EPOSTA gets no link (and is not sent: IYS refuses the
    -- whole call for one bad address).
    v_email text := iys.try_normalize_recipient(email, 'EPOSTA');
    v_link  iys.optout_link;
BEGIN
    IF v_email IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT * INTO v_link FROM iys.optout_link l
     WHERE l.brand_code = optout_link.brand_code AND l.recipient = v_email AND l.recipient_type = optout_link.recipient_type;
    IF FOUND AND (v_link.state = 'pending'
                  OR (v_link.state = 'issued' AND v_link.expires_at > now() + interval '30 days')
                  OR (v_link.state = 'refused' AND v_link.next_attempt_at > now())) THEN
        RETURN CASE WHEN v_link.expires_at > now() THEN v_link.url END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM iys.brand b WHERE b.brand_code = optout_link.brand_code) THEN
        RAISE EXCEPTION 'brand % is not one of pg_iys''s brands', brand_code
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Add the brand to iys.brand (with its account) first.';
    END IF;
    INSERT INTO iys.optout_link AS l (brand_code, recipient, recipient_type)
    VALUES (optout_link.brand_code, v_email, optout_link.recipient_type)
    ON CONFLICT ON CONSTRAINT optout_link_pkey DO UPDATE
       SET state = 'pending', requested_at = now(), attempts = 0, next_attempt_at = now(), error_code = NULL, error_message = NULL;
    PERFORM iys_internal.wake_worker();
    RETURN CASE WHEN v_link.expires_at > now() THEN v_link.url END;
END $$;
ALTER FUNCTION iys.optout_link(text, text, iys.recipient_type) SECURITY DEFINER;

-- What an operator sees of the requests (no personal data but the recipient).
CREATE VIEW iys.via_requests AS
SELECT r.id, r.iys_code, r.recipient, r.verification_type, r.brand_codes, r.etk_types, r.recipient_type, r.kvk_types,
       r.reference_id, r.state, r.request_id, r.iys_status,
       (SELECT array_agg(coalesce(d->>'brand_code' || ':', '') || (d->>'choice') ORDER BY d->>'brand_code', d->>'choice')
          FROM jsonb_array_elements(coalesce(r.details, '[]')) d WHERE (d->>'approved')::boolean) AS approved,
       r.requested_at, r.sent_at, r.completed_at, r.error_code, r.error_message
  FROM iys.via_request r;
COMMENT ON VIEW iys.via_requests IS 'ViA consent requests: where each stands and what the recipient approved';
GRANT SELECT ON iys.via_requests TO pg_monitor;

-- ---- the worker's side ----------------------------------------------------------------------

-- Due work, oldest first: requests to send (pending), one-time codes to confirm (confirming),
-- requests to follow (waiting). A request IYS has not finished in 7 days expires here.
CREATE FUNCTION iys_internal.via_due(p_limit integer)
RETURNS SETOF iys.via_request LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE iys.via_request SET state = 'expired', completed_at = now(),
           error_message = 'IYS did not finish the request within 7 days; no longer followed'
     WHERE state = 'waiting' AND sent_at < now() - interval '7 days';
    RETURN QUERY SELECT * FROM iys.via_request r
                  WHERE r.state IN ('pending', 'waiting', 'confirming') AND r.next_attempt_at <= now()
                  ORDER BY r.next_attempt_at, r.id LIMIT p_limit;
END $$;

-- IYS took the request: now it is the recipient's turn, asked about after `first_check`. The
-- person's data (KVK) went to IYS and is not needed here any more: it is not kept (KVKK's data
-- minimisation; IYS's status answers name the person where it matters).
CREATE FUNCTION iys_internal.via_sent(p_id bigint, p_request_id text, first_check interval) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    UPDATE iys.via_request SET state = 'waiting', request_id = p_request_id, sent_at = now(), attempts = 0,
           next_attempt_at = now() + first_check, error_code = NULL, error_message = NULL,
           person_name = NULL, person_id_number = NULL, person_address = NULL
     WHERE id = p_id AND state = 'pending'
$$;

-- IYS took the one-time codes: the outcome is read at once.
CREATE FUNCTION iys_internal.via_confirmed(p_id bigint) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    UPDATE iys.via_request SET state = 'waiting', otp_etk = NULL, otp_kvk = NULL, attempts = 0, next_attempt_at = now(),
           error_code = NULL, error_message = NULL
     WHERE id = p_id AND state = 'confirming'
$$;

-- A call failed. final: IYS refused it (a start: the request is rejected; a confirmation: the
-- codes are dropped and the request waits for right ones; a status query: asked again later);
-- otherwise it is tried again after `retry_in`.
CREATE FUNCTION iys_internal.via_failed(p_id bigint, p_code text, p_message text, final boolean, retry_in interval) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    UPDATE iys.via_request
       SET state = CASE WHEN NOT final THEN state WHEN state = 'pending' THEN 'rejected' WHEN state = 'confirming' THEN 'waiting' ELSE state END,
           completed_at = CASE WHEN final AND state = 'pending' THEN now() ELSE completed_at END,
           otp_etk = CASE WHEN final THEN NULL ELSE otp_etk END,
           otp_kvk = CASE WHEN final THEN NULL ELSE otp_kvk END,
           attempts = attempts + 1, next_attempt_at = now() + retry_in, error_code = p_code, error_message = p_message
     WHERE id = p_id AND state IN ('pending', 'waiting', 'confirming')
$$;

-- IYS's answer to a status query (src/iys/via.rs's ViaState as JSON). Open: asked again after
-- `next_check`. Completed: approved ETK consents are recorded as IYS's movements (ledger, known
-- state, inbox: the attached tables get them like pulled changes; the pull that brings them
-- again later finds them known), approved KVK texts in iys.kvk_consent.
CREATE FUNCTION iys_internal.via_state(p_id bigint, answer jsonb, next_check interval) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r        iys.via_request;
    v_brand  text;
    recorded integer := 0;
BEGIN
    SELECT * INTO r FROM iys.via_request WHERE id = p_id AND state = 'waiting' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    IF NOT coalesce((answer->>'completed')::boolean, false) THEN
        UPDATE iys.via_request SET checks = checks + 1, checked_at = now(), next_attempt_at = now() + next_check,
               iys_status = coalesce(answer->>'status', iys_status), attempts = 0, error_code = NULL, error_message = NULL
         WHERE id = p_id;
        RETURN 0;
    END IF;
    FOR v_brand IN SELECT DISTINCT d->>'brand_code' FROM jsonb_array_elements(answer->'details') d
                    WHERE d->>'kind' = 'ETK' AND (d->>'approved')::boolean AND d->>'brand_code' IS NOT NULL
                      AND EXISTS (SELECT 1 FROM iys.brand b WHERE b.brand_code = d->>'brand_code')
    LOOP
        recorded := recorded + iys_internal.record_iys_changes(v_brand, 'VIA', (
            SELECT jsonb_agg(jsonb_build_object('recipient', r.recipient, 'recipientType', coalesce(r.recipient_type::text, 'BIREYSEL'),
                                                'type', d->>'choice', 'status', 'ONAY', 'source', answer->>'source',
                                                'consentDate', d->>'consent_date', 'transactionId', d->>'transaction_id'))
              FROM jsonb_array_elements(answer->'details') d
             WHERE d->>'kind' = 'ETK' AND (d->>'approved')::boolean AND d->>'brand_code' = v_brand));
    END LOOP;
    INSERT INTO iys.kvk_consent (via_request_id, iys_code, recipient, kvk_type, consent_date, transaction_id, source)
    SELECT r.id, r.iys_code, r.recipient, d->>'choice', (d->>'consent_date')::timestamp, d->>'transaction_id', answer->>'source'
      FROM jsonb_array_elements(answer->'details') d
     WHERE d->>'kind' = 'KVK' AND (d->>'approved')::boolean
    ON CONFLICT (via_request_id, kvk_type) DO NOTHING;
    UPDATE iys.via_request SET state = 'completed', completed_at = now(), checked_at = now(), checks = checks + 1,
           iys_status = answer->>'status', iys_source = answer->>'source', details = answer->'details',
           attempts = 0, error_code = NULL, error_message = NULL
     WHERE id = p_id;
    RETURN recorded;
END $$;

-- Opt-out links to fetch for one brand (at most IYS's 100 a call).
CREATE FUNCTION iys_internal.optout_links_due(p_brand text)
RETURNS TABLE (recipient text, recipient_type text) LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT l.recipient, l.recipient_type::text FROM iys.optout_link l
     WHERE l.brand_code = p_brand AND l.state = 'pending' AND l.next_attempt_at <= now()
     ORDER BY l.next_attempt_at, l.recipient LIMIT 100
$$;

-- Brands with opt-out links to fetch.
CREATE FUNCTION iys_internal.optout_link_brands()
RETURNS SETOF text LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT DISTINCT l.brand_code FROM iys.optout_link l WHERE l.state = 'pending' AND l.next_attempt_at <= now() ORDER BY 1
$$;

-- IYS's answer for `asked` (`links`: [{recipient, url, code, message}]): a link is issued for
-- 90 days, a refusal is asked again after a day; an address IYS did not answer for stays pending.
-- (`failure`: the whole call failed: every asked address waits `retry_in`.)
CREATE FUNCTION iys_internal.record_optout_links(p_brand text, asked text[], links jsonb, failure text, retry_in interval)
RETURNS integer LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    issued integer;
BEGIN
    UPDATE iys.optout_link l
       SET state = CASE WHEN a.link->>'url' IS NOT NULL THEN 'issued' WHEN a.link IS NOT NULL THEN 'refused' ELSE 'pending' END,
           url = coalesce(a.link->>'url', l.url),
           issued_at = CASE WHEN a.link->>'url' IS NOT NULL THEN now() ELSE l.issued_at END,
           expires_at = CASE WHEN a.link->>'url' IS NOT NULL THEN now() + interval '90 days' ELSE l.expires_at END,
           attempts = CASE WHEN a.link IS NULL THEN l.attempts + 1 ELSE 0 END,
           next_attempt_at = now() + CASE WHEN a.link->>'url' IS NOT NULL THEN interval '0' WHEN a.link IS NOT NULL THEN interval '1 day' ELSE retry_in END,
           error_code = CASE WHEN a.link->>'url' IS NOT NULL THEN NULL ELSE a.link->>'code' END,
           error_message = CASE WHEN a.link->>'url' IS NOT NULL THEN NULL
                                WHEN a.link IS NOT NULL THEN a.link->>'message'
                                ELSE coalesce(failure, 'IYS''s answer did not name this address') END
      FROM (SELECT q.recipient,
                   (SELECT x FROM jsonb_array_elements(links) x WHERE lower(x->>'recipient') = q.recipient LIMIT 1) AS link
              FROM unnest(asked) q(recipient)) a
     WHERE l.brand_code = p_brand AND l.recipient = a.recipient AND l.state = 'pending';
    SELECT count(*) INTO issued FROM jsonb_array_elements(coalesce(links, '[]')) x WHERE x->>'url' IS NOT NULL;
    RETURN issued;
END $$;

-- What an operator sees of the links.
CREATE VIEW iys.optout_links AS
SELECT l.brand_code, l.recipient, l.recipient_type, l.state, l.url, l.expires_at, l.requested_at, l.issued_at,
       l.error_code, l.error_message
  FROM iys.optout_link l;
COMMENT ON VIEW iys.optout_links IS 'personal e-mail opt-out links from IYS: issued, waiting to be fetched, or refused';

-- pg_dump keeps the requests (and IYS's ids of those under way), KVK approvals and links.
SELECT pg_catalog.pg_extension_config_dump('iys.via_request', '');
SELECT pg_catalog.pg_extension_config_dump('iys.via_request_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('iys.kvk_consent', '');
SELECT pg_catalog.pg_extension_config_dump('iys.kvk_consent_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('iys.optout_link', '');

REVOKE EXECUTE ON FUNCTION iys.request_via_consent(text, text, bigint, text[], text[], text, text[], text, text, text, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.confirm_via_otp(bigint, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys.optout_link(text, text, iys.recipient_type) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.wake_worker() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.via_due(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.via_sent(bigint, text, interval) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.via_confirmed(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.via_failed(bigint, text, text, boolean, interval) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.via_state(bigint, jsonb, interval) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.optout_links_due(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.optout_link_brands() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION iys_internal.record_optout_links(text, text[], jsonb, text, interval) FROM PUBLIC;

-- Applications that ask for consent through ViA, or put opt-out links in e-mails, are granted
-- these by the extension's owner, e.g. SELECT iys.grant_via_rights('crm_app').
CREATE FUNCTION iys.grant_via_rights(app regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('GRANT EXECUTE ON FUNCTION iys.request_via_consent(text, text, bigint, text[], text[], text, text[], text, text, text, text, text),
                           iys.confirm_via_otp(bigint, text, text), iys.optout_link(text, text, iys.recipient_type),
                           iys_internal.wake_worker() TO %s', app);
    EXECUTE format('GRANT SELECT ON iys.via_requests, iys.optout_links TO %s', app);
END $$;
REVOKE EXECUTE ON FUNCTION iys.grant_via_rights(regrole) FROM PUBLIC;

COMMENT ON FUNCTION iys.validate_via_request(text, text, bigint, text[], text[], text, text[], text, text) IS 'every problem IYS''s ViA would refuse a consent request for (H1005, H1012, H1026, H1027, H1029, H1057, H1061, H1063, H1066, H1085, H1086, H1090, H1096), one row each; IMMUTABLE';
COMMENT ON FUNCTION iys.request_via_consent(text, text, bigint, text[], text[], text, text[], text, text, text, text, text) IS 'queues a consent request IYS ViA carries to the recipient (short link or one-time code by SMS or e-mail; ETK for brands, KVK texts with the person''s name), after IYS''s ViA checks; returns its id in iys.via_requests';
COMMENT ON FUNCTION iys.confirm_via_otp(bigint, text, text) IS 'gives the one-time code(s) the recipient of an OTP ViA request received (ETK, KVK); the worker confirms them to IYS; false when the request waits for no code';
COMMENT ON FUNCTION iys.optout_link(text, text, iys.recipient_type) IS 'the recipient''s personal opt-out link for the brand''s commercial e-mails (IYS via-hash-links, valid 90 days), or NULL while the worker fetches it';
COMMENT ON FUNCTION iys.grant_via_rights(regrole) IS 'grants an application role the ViA functions (requests, one-time codes, opt-out links) and their views';
COMMENT ON FUNCTION iys_internal.check_via_request(text, text, bigint, text[], text[], text, text[], text, text) IS 'internal: the recipient in IYS''s form, or 23514 naming every ViA problem (iys.request_via_consent)';
COMMENT ON FUNCTION iys_internal.wake_worker() IS 'internal: signals the worker at commit (a ViA request or an opt-out link to fetch)';
COMMENT ON FUNCTION iys_internal.via_due(integer) IS 'internal: the worker''s due ViA requests (to send, confirm or follow); expires those IYS never finished';
COMMENT ON FUNCTION iys_internal.via_sent(bigint, text, interval) IS 'internal: IYS took a ViA request (its request id)';
COMMENT ON FUNCTION iys_internal.via_confirmed(bigint) IS 'internal: IYS took a ViA request''s one-time codes';
COMMENT ON FUNCTION iys_internal.via_failed(bigint, text, text, boolean, interval) IS 'internal: a ViA call failed: rejected when final, else tried again later';
COMMENT ON FUNCTION iys_internal.via_state(bigint, jsonb, interval) IS 'internal: records IYS''s state of a ViA request; approved ETK consents as IYS''s movements, KVK texts in iys.kvk_consent';
COMMENT ON FUNCTION iys_internal.optout_links_due(text) IS 'internal: up to 100 opt-out links of a brand to fetch';
COMMENT ON FUNCTION iys_internal.optout_link_brands() IS 'internal: brands with opt-out links to fetch';
COMMENT ON FUNCTION iys_internal.record_optout_links(text, text[], jsonb, text, interval) IS 'internal: records IYS''s answer to one via-hash-links call';
COMMENT ON COLUMN iys.via_request.id IS 'the request''s id (iys.request_via_consent returns it)';
COMMENT ON COLUMN iys.via_request.iys_code IS 'the account the request goes out with';
COMMENT ON COLUMN iys.via_request.recipient IS 'E.164 phone (SMS_*) or lower-case e-mail (EPOSTA_*)';
COMMENT ON COLUMN iys.via_request.verification_type IS 'SMS_OTP, SMS_SHORTURL, EPOSTA_OTP, EPOSTA_SHORTURL or EPOSTA_APPROVALURL';
COMMENT ON COLUMN iys.via_request.form_id IS 'the ViA form''s id in IYS Web (ViA Yönetimi)';
COMMENT ON COLUMN iys.via_request.brand_codes IS 'ETK: the brands asking for consent';
COMMENT ON COLUMN iys.via_request.etk_types IS 'ETK: the consent types asked for';
COMMENT ON COLUMN iys.via_request.recipient_type IS 'ETK: BIREYSEL or TACIR';
COMMENT ON COLUMN iys.via_request.kvk_types IS 'KVK: AYDINLATMA_METNI, ACIK_RIZA_METNI, YURTDISI_AKTARIM';
COMMENT ON COLUMN iys.via_request.person_name IS 'KVK: the recipient''s name (personal data: cleared once IYS took the request)';
COMMENT ON COLUMN iys.via_request.person_id_number IS 'KVK: the recipient''s identity number (personal data: cleared once IYS took the request)';
COMMENT ON COLUMN iys.via_request.person_address IS 'KVK: the recipient''s address (personal data: cleared once IYS took the request)';
COMMENT ON COLUMN iys.via_request.reference_id IS 'the caller''s own reference, e.g. a customer id';
COMMENT ON COLUMN iys.via_request.state IS 'pending, waiting (the recipient''s turn), confirming (a code to confirm), completed, rejected or expired';
COMMENT ON COLUMN iys.via_request.request_id IS 'IYS''s id of the request, once sent';
COMMENT ON COLUMN iys.via_request.otp_etk IS 'the ETK one-time code to confirm (cleared once sent)';
COMMENT ON COLUMN iys.via_request.otp_kvk IS 'the KVK one-time code to confirm (cleared once sent)';
COMMENT ON COLUMN iys.via_request.attempts IS 'failed calls in a row';
COMMENT ON COLUMN iys.via_request.checks IS 'status queries so far';
COMMENT ON COLUMN iys.via_request.next_attempt_at IS 'when the worker next sends, confirms or asks';
COMMENT ON COLUMN iys.via_request.requested_at IS 'when the request was queued';
COMMENT ON COLUMN iys.via_request.requested_by IS 'the session user who queued it';
COMMENT ON COLUMN iys.via_request.sent_at IS 'when IYS took it';
COMMENT ON COLUMN iys.via_request.checked_at IS 'when IYS was last asked about it';
COMMENT ON COLUMN iys.via_request.completed_at IS 'when it ended';
COMMENT ON COLUMN iys.via_request.iys_status IS 'IYS''s lastStatus.status: SUCCESS, OTP_CODE_EXPIRED, SHORT_URL_EXPIRED, ...';
COMMENT ON COLUMN iys.via_request.iys_source IS 'the IYS source of what was approved (IYS_KISAMESAJ, IYS_EPOSTA, ...)';
COMMENT ON COLUMN iys.via_request.details IS 'IYS''s answer per asked-for consent: kind, brand, choice, approved, transaction, date';
COMMENT ON COLUMN iys.via_request.error_code IS 'IYS''s code of the last failed call';
COMMENT ON COLUMN iys.via_request.error_message IS 'why the last call failed';
COMMENT ON COLUMN iys.kvk_consent.via_request_id IS 'the ViA request it was approved through';
COMMENT ON COLUMN iys.kvk_consent.kvk_type IS 'the KVK text approved';
COMMENT ON COLUMN iys.kvk_consent.consent_date IS 'when the recipient approved it (Turkey time)';
COMMENT ON COLUMN iys.kvk_consent.transaction_id IS 'IYS''s id of the approval';
COMMENT ON COLUMN iys.optout_link.recipient IS 'the lower-case e-mail address';
COMMENT ON COLUMN iys.optout_link.state IS 'pending (to fetch or renew), issued, refused (IYS gave none: error_code)';
COMMENT ON COLUMN iys.optout_link.url IS 'the last link IYS gave';
COMMENT ON COLUMN iys.optout_link.expires_at IS 'the link''s end (90 days after it was issued)';
