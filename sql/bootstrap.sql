-- pg_iys bootstrap: runs first when the extension is created. The schema `iys` itself is
-- created by CREATE EXTENSION from pg_iys.control.
-- Applications' roles need the schema for the types and the triggers' functions; secrets are
-- protected table by table (iys.account, iys.token grant nothing).
GRANT USAGE ON SCHEMA iys TO PUBLIC;
COMMENT ON SCHEMA iys IS 'pg_iys: consent types, validation, outbox and sync state for IYS';
-- What only the worker, the triggers and the two types call lives apart, so that `\df iys.*`
-- lists the API. USAGE lets PostgreSQL find those functions for whoever fires an event trigger or
-- compares two phones; EXECUTE is taken back function by function (privileges.sql). The row
-- trigger functions and iys.fold_value stay in iys: dumps of attached tables name them.
CREATE SCHEMA iys_internal;
GRANT USAGE ON SCHEMA iys_internal TO PUBLIC;
COMMENT ON SCHEMA iys_internal IS 'pg_iys internals: functions the worker, the triggers and the types call; not an API';
