-- The extension installs into schema iys and knows it was preloaded.
CREATE EXTENSION pg_iys;
SELECT extname, extrelocatable, n.nspname AS schema
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'pg_iys';
SELECT obj_description('iys'::regnamespace, 'pg_namespace');
-- `\df iys.*` lists the API: what only the worker, the triggers and the types call is in
-- iys_internal. The internal functions left in iys are named by the dumps of attached tables
-- (their triggers and value maps), so they keep their place.
SELECT n.nspname AS schema, count(*) AS functions,
       count(*) FILTER (WHERE obj_description(p.oid, 'pg_proc') LIKE 'internal:%') AS internal
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname IN ('iys', 'iys_internal') GROUP BY 1 ORDER BY 1;
SELECT p.oid::regprocedure AS internal_in_iys FROM pg_proc p
 WHERE p.pronamespace = 'iys'::regnamespace AND obj_description(p.oid, 'pg_proc') LIKE 'internal:%' ORDER BY 1;
-- The worker runs (registered from shared_preload_libraries) and reports its application_name.
SELECT count(*) AS workers, min(application_name) AS application_name FROM iys.worker_status();
-- GUCs with their defaults; the worker's tunables are reloadable, not settable per session.
SELECT name, boot_val AS default_value, unit, context FROM pg_settings WHERE name LIKE 'iys.%' ORDER BY name;
SET iys.batch_size = 10;
