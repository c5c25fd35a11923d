-- IYS accounts, brands, cached tokens and the worker's status. Secrets (password, tokens) live
-- only in iys.account and iys.token, which no role but the extension's owner can read: nothing
-- is granted on them, and no view or error shows them.

CREATE TABLE iys.account (
    iys_code      text PRIMARY KEY CHECK (iys_code ~ '^[0-9]+$'),
    api_base_url  text NOT NULL DEFAULT 'https://api.iys.org.tr',
    username      text NOT NULL,
    -- NULL: the password is the account's line in the file iys.password_file names (kept out of
    -- the database, its dumps and replicas).
    password      text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- The password travels in every token request: plain http only to this machine, unless
    -- an administrator says otherwise for this account.
    allow_insecure_http boolean NOT NULL DEFAULT false,
    -- IYS refuses the account itself (subscription H520/H521/H524/H586, quota H525, bad
    -- credentials, our own quality guard): nothing is sent, rows stay pending, until probe_at.
    paused_code   text,
    paused_reason text,
    paused_at     timestamptz,
    probe_at      timestamptz,
    probes        integer NOT NULL DEFAULT 0,
    CONSTRAINT account_https_check CHECK (
        api_base_url ~ '^https://'
        OR api_base_url ~ '^http://(127\.[0-9]+\.[0-9]+\.[0-9]+|localhost|\[::1\])(:[0-9]+)?(/.*)?$'
        OR allow_insecure_http)
);
COMMENT ON TABLE iys.account IS 'IYS API accounts (secret: readable by the extension owner only)';
REVOKE ALL ON iys.account FROM PUBLIC;

CREATE TABLE iys.brand (
    brand_code  text PRIMARY KEY CHECK (brand_code ~ '^[0-9]+$'),
    iys_code    text NOT NULL REFERENCES iys.account ON DELETE CASCADE,
    -- integrator: we are master (create and update in IYS); sync: IYS is master (we pull, and
    -- send only updates of consents IYS already has).
    mode        text NOT NULL DEFAULT 'integrator' CHECK (mode IN ('integrator', 'sync')),
    -- A pulled change with the same consent date as ours but another status: 'conflict' keeps
    -- ours and lists it in iys.conflicts; 'ret_wins' lets a RET win.
    tie_policy  text NOT NULL DEFAULT 'conflict' CHECK (tie_policy IN ('conflict', 'ret_wins')),
    pull        boolean NOT NULL DEFAULT true,
    enabled     boolean NOT NULL DEFAULT true,
    -- IYS refuses this brand (H353: not authorised for this iysCode/brandCode; 404).
    paused_code   text,
    paused_reason text,
    paused_at     timestamptz,
    probe_at      timestamptz,
    probes        integer NOT NULL DEFAULT 0
);
COMMENT ON TABLE iys.brand IS 'IYS brands the worker sends for and pulls, and the account each belongs to';
GRANT SELECT ON iys.brand TO pg_monitor;

-- One cached token per account, shared by every backend; halted_until persists an H084 stop.
CREATE TABLE iys.token (
    iys_code            text PRIMARY KEY REFERENCES iys.account ON DELETE CASCADE,
    access_token        text,
    access_expires_at   timestamptz,
    refresh_token       text,
    refresh_expires_at  timestamptz,
    halted_until        timestamptz,
    halt_reason         text,
    token_calls         bigint NOT NULL DEFAULT 0,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE iys.token IS 'cached IYS tokens and token-endpoint halts (secret: owner only)';
REVOKE ALL ON iys.token FROM PUBLIC;

-- What the worker is doing; one row, written by the worker.
CREATE TABLE iys.worker_state (
    singleton        boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    pid              integer,
    started_at       timestamptz,
    heartbeat_at     timestamptz,
    last_flush_at    timestamptz,
    last_error_at    timestamptz,
    last_error       text,
    recovered_rows   bigint NOT NULL DEFAULT 0
);
INSERT INTO iys.worker_state DEFAULT VALUES;
REVOKE ALL ON iys.worker_state FROM PUBLIC;

-- Lifts a token-endpoint halt (H084) before its hour is up, e.g. after IYS support confirmed
-- the block is gone. Calling the token endpoint again too early restarts IYS's hour.
CREATE FUNCTION iys.lift_token_halt(iys_code text) RETURNS boolean
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    WITH lifted AS (
        UPDATE iys.token t SET halted_until = NULL, halt_reason = NULL, updated_at = now()
         WHERE t.iys_code = lift_token_halt.iys_code AND t.halted_until IS NOT NULL
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM lifted)
$$;
COMMENT ON FUNCTION iys.lift_token_halt(text) IS 'ends an H084 stop of token calls for an account before its hour is up';

-- After the cause of a pause is fixed (subscription renewed, password corrected, brand
-- authorised): the worker tries the account (and brand) again now. NULL brand_code: the
-- account and all its brands. Returns how many accounts and brands were paused.
CREATE FUNCTION iys.resume(iys_code text, brand_code text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    accounts integer;
    brands integer;
BEGIN
    UPDATE iys.account a SET paused_code = NULL, paused_reason = NULL, paused_at = NULL, probe_at = NULL, probes = 0
     WHERE a.iys_code = resume.iys_code AND a.paused_at IS NOT NULL;
    GET DIAGNOSTICS accounts = ROW_COUNT;
    UPDATE iys.brand b SET paused_code = NULL, paused_reason = NULL, paused_at = NULL, probe_at = NULL, probes = 0
     WHERE b.iys_code = resume.iys_code AND (resume.brand_code IS NULL OR b.brand_code = resume.brand_code)
       AND b.paused_at IS NOT NULL;
    GET DIAGNOSTICS brands = ROW_COUNT;
    RETURN accounts + brands;
END $$;
COMMENT ON FUNCTION iys.resume(text, text) IS 'ends a pause of an IYS account (and its brands) or of one brand: the worker tries again now';

-- Requests the worker made to IYS per account and Turkey day, and how many IYS answered with
-- success: IYS removes an IP from its whitelist when it makes >= 20,000 requests a day with
-- under 70 % success (400/401/403/404/422 count as failures).
CREATE TABLE iys.request_count (
    iys_code   text NOT NULL REFERENCES iys.account ON DELETE CASCADE,
    day        date NOT NULL,                 -- Turkey date
    requests   bigint NOT NULL DEFAULT 0,
    successes  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (iys_code, day)
);
COMMENT ON TABLE iys.request_count IS 'requests to IYS and successful answers per account and Turkey day (IYS quality rule)';
