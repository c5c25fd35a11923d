-- pg_iys 0.5.0 -> 0.6.0: operations.
--   * The duration settings lost their _ms suffix and take PostgreSQL units (iys.flush_interval,
--     iys.http_timeout, iys.pull_interval, iys.result_delay, iys.result_timeout,
--     iys.backoff_cap). Settings are not database objects: the library keeps the old names
--     working (hidden, the worker warns) so nothing here has to move them.
--   * The worker waits while pg_restore is connected to its database (library only).

COMMENT ON COLUMN iys.batch.sent_at IS 'when IYS took the request (its result is fetched iys.result_delay later)';
