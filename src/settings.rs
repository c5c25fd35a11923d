//! The `iys.*` GUCs. Credentials are deliberately not here: ordinary roles can `SHOW` any GUC,
//! so IYS passwords and tokens live in owner-only tables instead.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;

/// Database the background worker connects to (where `CREATE EXTENSION pg_iys` was run).
pub static DATABASE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"postgres"));
/// Role the background worker connects as; empty: the bootstrap superuser.
pub static WORKER_ROLE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// File with `iys_code:password` lines for accounts whose password is NULL in iys.account.
pub static PASSWORD_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// PEM file of CA certificates trusted besides the public roots; empty: none.
pub static CA_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// HTTP proxy every call to IYS goes through; empty: none.
pub static HTTP_PROXY: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Master switch for sending to and pulling from IYS; the queue keeps filling while off.
pub static ENABLED: GucSetting<bool> = GucSetting::<bool>::new(true);
/// Records per IYS batch request (IYS refuses more than 1000).
pub static BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(1000);
/// Fallback poll interval of the worker when no commit wakes it.
pub static FLUSH_INTERVAL_MS: GucSetting<i32> = GucSetting::<i32>::new(1000);
/// Timeout of every HTTP call to IYS (connect + read).
pub static HTTP_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(10_000);
/// Requests per second sent to IYS (IYS allows 10 per IP).
pub static MAX_REQUESTS_PER_SECOND: GucSetting<i32> = GucSetting::<i32>::new(10);
/// How often the worker pulls citizens' changes from IYS.
pub static PULL_INTERVAL_MS: GucSetting<i32> = GucSetting::<i32>::new(60_000);
/// Lets DROP EXTENSION pg_iys discard changes IYS has not answered (`sql_api::drop_guard`).
pub static DROP_WITH_PENDING_CHANGES: GucSetting<bool> = GucSetting::<bool>::new(false);
/// Set by iys.prune_ledger() for its own DELETE (the ledger is append-only otherwise).
pub static PRUNING_LEDGER: GucSetting<bool> = GucSetting::<bool>::new(false);
/// IYS answers a batch's result only this long after the submit (its document: 300 s; earlier
/// answers are empty). The worker fetches it no earlier.
pub static RESULT_DELAY_MS: GucSetting<i32> = GucSetting::<i32>::new(300_000);
/// A batch whose result is still empty this long after the submit is sent again: IYS's V2
/// endpoint answers an identical resend with the original outcome.
pub static RESULT_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(3_600_000);
/// Single status queries an hour (IYS allows 1000 per IP; the rest of the hour is a margin).
pub static STATUS_QUERIES_PER_HOUR: GucSetting<i32> = GucSetting::<i32>::new(900);
/// Turkey hour of day from which the previous days' movement files are fetched (-1: never).
pub static RECONCILE_HOUR: GucSetting<i32> = GucSetting::<i32>::new(6);
/// Upper bound of the exponential backoff after retryable failures.
pub static BACKOFF_CAP_MS: GucSetting<i32> = GucSetting::<i32>::new(300_000);

/// Defines the GUCs. `preloading` is true only in the postmaster loading shared_preload_libraries,
/// the one moment PostgreSQL allows restart-only (PGC_POSTMASTER) settings to be defined.
pub fn register(preloading: bool) {
    if preloading {
        GucRegistry::define_string_guc(
            c"iys.database",
            c"Database the pg_iys background worker connects to.",
            c"The database where CREATE EXTENSION pg_iys was run. Needs a server restart.",
            &DATABASE,
            GucContext::Postmaster,
            GucFlags::default(),
        );
        GucRegistry::define_string_guc(
            c"iys.worker_role",
            c"Role the pg_iys background worker connects as.",
            c"Empty: the bootstrap superuser. A LOGIN role given its rights with iys.grant_worker_rights(). Needs a server restart.",
            &WORKER_ROLE,
            GucContext::Postmaster,
            GucFlags::default(),
        );
    }
    GucRegistry::define_bool_guc(
        c"iys.enabled",
        c"Whether the worker talks to IYS.",
        c"When off, changes keep queueing in the outbox but nothing is sent or pulled.",
        &ENABLED,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"iys.batch_size",
        c"Consents per IYS batch request.",
        c"IYS accepts at most 1000 consents in one async batch.",
        &BATCH_SIZE,
        1,
        1000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"iys.flush_interval_ms",
        c"Fallback poll interval of the worker.",
        c"Commits wake the worker at once; this interval only bounds the delay when no wake-up arrives.",
        &FLUSH_INTERVAL_MS,
        10,
        3_600_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"iys.http_timeout_ms",
        c"Timeout of each HTTP call to IYS.",
        c"Applies to connecting and to reading the answer.",
        &HTTP_TIMEOUT_MS,
        100,
        600_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_string_guc(
        c"iys.password_file",
        c"File with the IYS passwords of accounts whose iys.account.password is NULL.",
        c"One iys_code:password line per account; readable by the server's user only (mode 600), like .pgpass. Keeps the password out of the database, its dumps and replicas.",
        &PASSWORD_FILE,
        GucContext::Sighup,
        GucFlags::SUPERUSER_ONLY,
    );
    GucRegistry::define_string_guc(
        c"iys.ca_file",
        c"PEM file of CA certificates the worker trusts besides the public roots.",
        c"For a proxy that inspects TLS with the company's own CA; empty: the public roots only. A file that cannot be used fails every call (nothing is sent around it).",
        &CA_FILE,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"iys.http_proxy",
        c"HTTP proxy the worker reaches IYS through.",
        c"http://[user:password@]host:port; empty: direct. Shown to superusers only (it may hold a password).",
        &HTTP_PROXY,
        GucContext::Sighup,
        GucFlags::SUPERUSER_ONLY,
    );
    GucRegistry::define_int_guc(
        c"iys.max_requests_per_second",
        c"Requests per second the worker sends to IYS.",
        c"IYS limits each IP to 10 requests per second.",
        &MAX_REQUESTS_PER_SECOND,
        1,
        1000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"iys.pull_interval_ms",
        c"How often the worker pulls consent changes from IYS.",
        c"IYS keeps changes for 7 days and shows them after one hour; each pull reads every new page.",
        &PULL_INTERVAL_MS,
        100,
        86_400_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"iys.status_queries_per_hour",
        c"Single status queries the worker makes an hour.",
        c"IYS allows 1000 an hour per IP; they fetch IYS's record where an imported key differs from its row.",
        &STATUS_QUERIES_PER_HOUR,
        0,
        1000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"iys.reconcile_hour",
        c"Turkey hour of day from which the worker fetches IYS's daily movement files (-1: never).",
        c"Each brand's files of the last 7 days not yet reconciled are fetched once; findings go to iys.drift.",
        &RECONCILE_HOUR,
        -1,
        23,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"iys.result_delay_ms",
        c"How long after a batch's submit its result is fetched.",
        c"IYS answers batch results only 300 s after the submit (empty before); one fetch per batch then.",
        &RESULT_DELAY_MS,
        0,
        86_400_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"iys.result_timeout_ms",
        c"How long a batch may stay without a result before it is sent again.",
        c"The resend goes through IYS's idempotent V2 endpoint, which answers with the original outcome.",
        &RESULT_TIMEOUT_MS,
        1_000,
        2_000_000_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_bool_guc(
        c"iys.drop_with_pending_changes",
        c"Lets DROP EXTENSION pg_iys discard changes IYS has not answered.",
        c"Off: DROP EXTENSION pg_iys fails while changes are pending or in flight, and says how many.",
        &DROP_WITH_PENDING_CHANGES,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"iys.pruning_ledger",
        c"Internal: set by iys.prune_ledger() while it deletes old ledger rows.",
        c"The consent ledger is append-only otherwise.",
        &PRUNING_LEDGER,
        GucContext::Suset,
        GucFlags::NO_SHOW_ALL,
    );
    GucRegistry::define_int_guc(
        c"iys.backoff_cap_ms",
        c"Longest wait between retries of a retryable failure.",
        c"Retries back off exponentially with jitter up to this cap.",
        &BACKOFF_CAP_MS,
        100,
        86_400_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
}

/// Reserves the `iys.` prefix: a setting pg_iys does not define cannot be invented under it
/// (`SET iys.anything` is an error), so no session can pose as pg_iys's own state.
pub fn reserve_prefix() {
    #[cfg(not(any(feature = "pg13", feature = "pg14")))]
    // SAFETY: called from _PG_init, after our GUCs are defined.
    unsafe {
        pgrx::pg_sys::MarkGUCPrefixReserved(c"iys".as_ptr())
    };
    #[cfg(any(feature = "pg13", feature = "pg14"))]
    // SAFETY: as above; older servers only warn about unknown names under the prefix.
    unsafe {
        pgrx::pg_sys::EmitWarningsOnPlaceholders(c"iys".as_ptr())
    };
}

/// The password file, when one is set.
pub fn password_file() -> Option<String> {
    PASSWORD_FILE.get().map(|c| c.to_string_lossy().trim().to_owned()).filter(|p| !p.is_empty())
}

/// The extra CA file, when one is set.
pub fn ca_file() -> Option<String> {
    CA_FILE.get().map(|c| c.to_string_lossy().trim().to_owned()).filter(|p| !p.is_empty())
}

/// The proxy to reach IYS through, when one is set.
pub fn http_proxy() -> Option<String> {
    HTTP_PROXY.get().map(|c| c.to_string_lossy().trim().to_owned()).filter(|p| !p.is_empty())
}

/// The worker's role, when one is set.
pub fn worker_role() -> Option<String> {
    WORKER_ROLE.get().map(|c| c.to_string_lossy().trim().to_owned()).filter(|r| !r.is_empty())
}

/// The worker's database name as a Rust string.
pub fn database() -> String {
    DATABASE
        .get()
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_else(|| "postgres".to_owned())
}
