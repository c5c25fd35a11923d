//! The `iys.*` GUCs. Credentials are deliberately not here: ordinary roles can `SHOW` any GUC,
//! so IYS passwords and tokens live in owner-only tables instead.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::{CStr, CString};
use std::time::Duration;

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
/// Requests per second sent to IYS (IYS allows 10 per IP).
pub static MAX_REQUESTS_PER_SECOND: GucSetting<i32> = GucSetting::<i32>::new(10);
/// Lets DROP EXTENSION pg_iys discard changes IYS has not answered (`sql_api::drop_guard`).
pub static DROP_WITH_PENDING_CHANGES: GucSetting<bool> = GucSetting::<bool>::new(false);
/// Announce each applied change from IYS on channel iys_consent_changes.
pub static NOTIFY: GucSetting<bool> = GucSetting::<bool>::new(true);
/// Small statements on attached tables queue their changes without a plan (`sql_api::direct_enqueue`).
pub static DIRECT_ENQUEUE: GucSetting<bool> = GucSetting::<bool>::new(true);
/// Set by iys.prune_ledger() for its own DELETE (the ledger is append-only otherwise).
pub static PRUNING_LEDGER: GucSetting<bool> = GucSetting::<bool>::new(false);
/// Single status queries an hour (IYS allows 1000 per IP; the rest of the hour is a margin).
pub static STATUS_QUERIES_PER_HOUR: GucSetting<i32> = GucSetting::<i32>::new(900);
/// Turkey hour of day from which the previous days' movement files are fetched (-1: never).
pub static RECONCILE_HOUR: GucSetting<i32> = GucSetting::<i32>::new(6);

/// A duration setting (PostgreSQL units: `'5s'`, `'10min'`; a bare number is milliseconds) and
/// the `iys.<name>_ms` name it had until 0.5.0. The old name stays defined, hidden, so that a
/// postgresql.conf or `ALTER SYSTEM` line written for an earlier release keeps its value instead
/// of being dropped by the reserved prefix: set (not -1), it applies while the new name is at its
/// default, and the worker warns about it at start and on reload.
pub struct DurationSetting {
    name: &'static CStr,
    old_name: Option<&'static CStr>,
    short: &'static CStr,
    long: &'static CStr,
    default_ms: i32,
    min_ms: i32,
    max_ms: i32,
    value: GucSetting<i32>,
    old: GucSetting<i32>,
}

impl DurationSetting {
    const fn new(name: &'static CStr, old_name: Option<&'static CStr>, short: &'static CStr, long: &'static CStr, default_ms: i32, min_ms: i32, max_ms: i32) -> Self {
        DurationSetting { name, old_name, short, long, default_ms, min_ms, max_ms, value: GucSetting::<i32>::new(default_ms), old: GucSetting::<i32>::new(-1) }
    }

    /// The value in force (never below the setting's minimum, whichever name gave it).
    pub fn get(&self) -> Duration {
        let (value, old) = (self.value.get(), self.old.get());
        let ms = if old >= 0 && value == self.default_ms { old } else { value };
        Duration::from_millis(ms.max(self.min_ms) as u64)
    }

    fn register(&'static self) {
        GucRegistry::define_int_guc(self.name, self.short, self.long, &self.value, self.min_ms, self.max_ms, GucContext::Sighup, GucFlags::UNIT_MS);
        let Some(old_name) = self.old_name else { return };
        GucRegistry::define_int_guc(
            old_name,
            c"Deprecated name of a pg_iys duration setting (renamed without _ms in 0.6.0).",
            c"Applies while the new name is at its default; -1: not set.",
            &self.old,
            -1,
            self.max_ms,
            GucContext::Sighup,
            GucFlags::UNIT_MS | GucFlags::NO_SHOW_ALL,
        );
    }
}

/// Fallback poll interval of the worker when no commit wakes it.
pub static FLUSH_INTERVAL: DurationSetting = DurationSetting::new(
    c"iys.flush_interval",
    Some(c"iys.flush_interval_ms"),
    c"Fallback poll interval of the worker.",
    c"Commits wake the worker at once; this interval only bounds the delay when no wake-up arrives.",
    1000,
    10,
    3_600_000,
);
/// Timeout of every HTTP call to IYS (connect + read).
pub static HTTP_TIMEOUT: DurationSetting = DurationSetting::new(
    c"iys.http_timeout",
    Some(c"iys.http_timeout_ms"),
    c"Timeout of each HTTP call to IYS.",
    c"Applies to connecting and to reading the answer.",
    10_000,
    100,
    600_000,
);
/// How often the worker pulls citizens' changes from IYS.
pub static PULL_INTERVAL: DurationSetting = DurationSetting::new(
    c"iys.pull_interval",
    Some(c"iys.pull_interval_ms"),
    c"How often the worker pulls consent changes from IYS.",
    c"IYS keeps changes for 7 days and shows them after one hour; each pull reads every new page.",
    60_000,
    100,
    86_400_000,
);
/// IYS answers a batch's result only this long after the submit (its document: 300 s; earlier
/// answers are empty). The worker fetches it no earlier.
pub static RESULT_DELAY: DurationSetting = DurationSetting::new(
    c"iys.result_delay",
    Some(c"iys.result_delay_ms"),
    c"How long after a batch's submit its result is fetched.",
    c"IYS answers batch results only 300 s after the submit (empty before); one fetch per batch then.",
    300_000,
    0,
    86_400_000,
);
/// A batch whose result is still empty this long after the submit is sent again: IYS's V2
/// endpoint answers an identical resend with the original outcome.
pub static RESULT_TIMEOUT: DurationSetting = DurationSetting::new(
    c"iys.result_timeout",
    Some(c"iys.result_timeout_ms"),
    c"How long a batch may stay without a result before it is sent again.",
    c"The resend goes through IYS's idempotent V2 endpoint, which answers with the original outcome.",
    3_600_000,
    1_000,
    2_000_000_000,
);
/// Upper bound of the exponential backoff after retryable failures.
pub static BACKOFF_CAP: DurationSetting = DurationSetting::new(
    c"iys.backoff_cap",
    Some(c"iys.backoff_cap_ms"),
    c"Longest wait between retries of a retryable failure.",
    c"Retries back off exponentially with jitter up to this cap.",
    300_000,
    100,
    86_400_000,
);

/// A ViA request's first status query comes this long after IYS took it; the next ones wait
/// twice as long each time, up to an hour (IYS's links live 24 hours, its codes 3 minutes).
pub static VIA_CHECK_INTERVAL: DurationSetting = DurationSetting::new(
    c"iys.via_check_interval",
    None,
    c"How long after sending a ViA consent request its outcome is first asked for.",
    c"Later status queries of a request wait twice as long each time, up to an hour.",
    30_000,
    10,
    3_600_000,
);

static DURATIONS: [&DurationSetting; 7] =
    [&FLUSH_INTERVAL, &HTTP_TIMEOUT, &PULL_INTERVAL, &RESULT_DELAY, &RESULT_TIMEOUT, &BACKOFF_CAP, &VIA_CHECK_INTERVAL];

/// `(old name, new name)` of every duration setting still given by its old name.
pub fn old_names_in_use() -> Vec<(String, String)> {
    DURATIONS
        .iter()
        .filter(|d| d.old.get() >= 0)
        .filter_map(|d| Some((d.old_name?.to_string_lossy().into_owned(), d.name.to_string_lossy().into_owned())))
        .collect()
}

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
    GucRegistry::define_bool_guc(
        c"iys.notify",
        c"Whether the worker announces each applied change from IYS with NOTIFY iys_consent_changes.",
        c"The payload (JSON) names the brand, recipient, type, status and source. LISTEN needs no privilege: turn it off where roles that must not see recipients can connect.",
        &NOTIFY,
        GucContext::Sighup,
        GucFlags::default(),
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
        c"iys.direct_enqueue",
        c"Whether statements of up to 1000 rows on attached tables queue their changes without planning a statement.",
        c"Off: every statement runs the generated INSERT … SELECT over its transition tables (the same rows, at a higher cost per statement).",
        &DIRECT_ENQUEUE,
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
    for duration in DURATIONS {
        duration.register();
    }
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
