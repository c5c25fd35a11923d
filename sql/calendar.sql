-- The business-day calendar a DBA can extend: full-day holidays and half days (afternoons off).
-- Rows seeded at CREATE EXTENSION have builtin = true; pg_dump saves only the DBA's own rows
-- (builtin = false), because CREATE EXTENSION seeds the built-in ones again on restore. So: add
-- rows freely; a change to a built-in row (deleting one, renaming it) is not kept by pg_dump.
CREATE TABLE iys.holiday (
    day date PRIMARY KEY,
    name text NOT NULL,
    half_day boolean NOT NULL DEFAULT false,
    builtin boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE iys.holiday IS
    'Non-business days for IYS''s 3-business-day reporting window (H467); weekends are implicit';
INSERT INTO iys.holiday (day, name, half_day, builtin)
    SELECT day, name, half_day, true FROM iys.builtin_holidays();
SELECT pg_catalog.pg_extension_config_dump('iys.holiday', 'WHERE NOT builtin');
GRANT SELECT ON iys.holiday TO PUBLIC;

-- Backends keep the calendar across statements until iys.holiday changes
-- (src/sql_api/calendar.rs): this trigger sends PostgreSQL's relcache invalidation for the table,
-- which every backend receives when the change commits.
CREATE FUNCTION iys_internal.invalidate_calendar() RETURNS void
    VOLATILE LANGUAGE c AS 'MODULE_PATHNAME', 'invalidate_calendar_wrapper';
CREATE FUNCTION iys_internal.holiday_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM iys_internal.invalidate_calendar();
    RETURN NULL;
END $$;
CREATE TRIGGER holiday_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON iys.holiday
    FOR EACH STATEMENT EXECUTE FUNCTION iys_internal.holiday_changed();
