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
