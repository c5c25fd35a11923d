-- pg_iys bootstrap: runs first when the extension is created. The schema `iys` itself is
-- created by CREATE EXTENSION from pg_iys.control.
COMMENT ON SCHEMA iys IS 'pg_iys: consent types, validation, outbox and sync state for IYS';
