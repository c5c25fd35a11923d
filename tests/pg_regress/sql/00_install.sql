-- The extension installs into schema iys and knows it was preloaded.
CREATE EXTENSION pg_iys;
SELECT extname, extrelocatable, n.nspname AS schema
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'pg_iys';
SELECT obj_description('iys'::regnamespace, 'pg_namespace');
-- The worker runs (registered from shared_preload_libraries) and reports its application_name.
SELECT count(*) AS workers, min(application_name) AS application_name FROM iys.worker_status();
-- GUCs with their defaults; the worker's tunables are reloadable, not settable per session.
SELECT name, boot_val AS default_value, unit, context FROM pg_settings WHERE name LIKE 'iys.%' ORDER BY name;
SET iys.batch_size = 10;
