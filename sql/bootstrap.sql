-- pg_iys bootstrap: runs first when the extension is created. The schema `iys` itself is
-- created by CREATE EXTENSION from pg_iys.control.
-- Applications' roles need the schema for the types and the triggers' functions; secrets are
-- protected table by table (iys.account, iys.token grant nothing).
GRANT USAGE ON SCHEMA iys TO PUBLIC;
COMMENT ON SCHEMA iys IS 'pg_iys: consent types, validation, outbox and sync state for IYS';
