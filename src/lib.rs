//! pg_iys: keeps marketing-consent tables in step with IYS. This file only wires the modules.

mod core;
mod iys;
mod settings;
mod sql_api;
mod worker;

::pgrx::pg_module_magic!();

::pgrx::extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
::pgrx::extension_sql_file!(
    "../sql/types.sql",
    name = "types",
    requires = [
        sql_api::types::consent_type,
        sql_api::types::consent_status,
        sql_api::types::recipient_type,
        sql_api::types::consent_source,
        sql_api::types::canonical_consent_type,
        sql_api::types::canonical_consent_status,
        sql_api::types::canonical_recipient_type,
        sql_api::types::canonical_consent_source,
        sql_api::normalize::is_turkish_mobile,
    ]
);
::pgrx::extension_sql_file!(
    "../sql/calendar.sql",
    name = "calendar",
    requires = [sql_api::calendar::builtin_holidays]
);

::pgrx::extension_sql_file!("../sql/outbox.sql", name = "outbox", requires = ["types"]);
::pgrx::extension_sql_file!("../sql/accounts.sql", name = "accounts", requires = ["outbox"]);
::pgrx::extension_sql_file!(
    "../sql/sync.sql",
    name = "sync",
    requires = [
        "accounts",
        "calendar",
        sql_api::calendar::reporting_deadline,
        sql_api::consent_trigger::enqueue_changes,
        sql_api::normalize::try_normalize_recipient
    ]
);
::pgrx::extension_sql_file!(
    "../sql/known_state.sql",
    name = "known_state",
    requires = ["sync"]
);
::pgrx::extension_sql_file!("../sql/backup.sql", name = "backup", requires = ["known_state"]);
::pgrx::extension_sql_file!("../sql/push.sql", name = "push", requires = ["backup", sql_api::push::receive_push]);
::pgrx::extension_sql_file!("../sql/via.sql", name = "via", requires = ["push", sql_api::via::validate_via_request]);
::pgrx::extension_sql_file!(
    "../sql/privileges.sql",
    name = "privileges",
    requires = [
        "sync",
        "known_state",
        "backup",
        "push",
        "via",
        sql_api::adopt::adopt,
        sql_api::attach::attach_table,
        sql_api::attach::detach_table,
        sql_api::consent_trigger::consent_row_check,
        sql_api::validate_table::validate_table,
        sql_api::worker_status::worker_status
    ],
    finalize
);
// Not `finalize` (pgrx allows one, privileges has it): requires names every object it comments.
::pgrx::extension_sql_file!(
    "../sql/comments.sql",
    name = "comments",
    requires = [
        "types",
        "calendar",
        "outbox",
        "accounts",
        "sync",
        "known_state",
        "backup",
        "push",
        "via",
        sql_api::types::consent_type,
        sql_api::types::consent_status,
        sql_api::types::recipient_type,
        sql_api::types::consent_source,
        sql_api::types::canonical_consent_type,
        sql_api::types::canonical_consent_status,
        sql_api::types::canonical_recipient_type,
        sql_api::types::canonical_consent_source,
        sql_api::normalize::normalize_phone,
        sql_api::normalize::normalize_email,
        sql_api::normalize::normalize_recipient,
        sql_api::normalize::try_normalize_recipient,
        sql_api::normalize::fold_value,
        sql_api::normalize::is_valid_phone,
        sql_api::normalize::is_valid_email,
        sql_api::normalize::is_turkish_mobile,
        sql_api::calendar::builtin_holidays,
        sql_api::calendar::reporting_deadline,
        sql_api::calendar::is_business_day,
        sql_api::validate::validate_consent,
        sql_api::validate::validate_consent_at,
        sql_api::validate::check_consent,
        sql_api::validate_table::validate_table,
        sql_api::attach::attach_table,
        sql_api::attach::detach_table,
        sql_api::adopt::adopt,
        sql_api::consent_trigger::consent_row_check,
        sql_api::consent_trigger::enqueue_changes,
        sql_api::worker_status::worker_status
    ]
);

#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    let preloading = unsafe { pgrx::pg_sys::process_shared_preload_libraries_in_progress };
    settings::register(preloading);
    settings::reserve_prefix();
    sql_api::error::keep_backtraces_out_of_messages();
    // Background workers can only be registered while the postmaster preloads us; none under
    // pg_upgrade (binary-upgrade mode), which must not send anything to IYS.
    if preloading && !unsafe { pgrx::pg_sys::IsBinaryUpgrade } {
        worker::register();
    }
}

#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
