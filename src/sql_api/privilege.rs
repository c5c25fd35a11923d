//! Whose rights a piece of pg_iys work runs with.
//!
//! - Attached tables' own code (their triggers, defaults, index expressions) runs with the
//!   rights of the table's owner, never the worker's: [`as_role`] switches the current user the
//!   way PostgreSQL's own maintenance commands and logical replication do, in a restricted
//!   security context (no SET ROLE, no session state) and with every setting the owner's code
//!   changes undone afterwards.
//! - The triggers read pg_iys's own configuration (`iys.attached_table`, which application roles
//!   cannot read) as the extension's owner, with [`as_extension_owner`].
//!
//! An ERROR inside restores the previous user by itself: (sub)transaction abort resets the user
//! id and security context saved at its start.

use pgrx::pg_sys;
use pgrx::prelude::*;

/// `search_path` of pg_iys's own statements: nothing a role can create objects in.
pub const SAFE_SEARCH_PATH: &str = "pg_catalog, pg_temp";

/// Runs `body` as `role` in a restricted security context. Settings changed inside (even
/// without LOCAL) are rolled back when it returns; `search_path` inside is `search_path`.
pub fn as_role<R>(role: pg_sys::Oid, search_path: &str, body: impl FnOnce() -> R) -> R {
    let mut saved_user = pg_sys::InvalidOid;
    let mut saved_context = 0;
    // SAFETY: plain reads/writes of the backend's current-user globals; the GUC nest level is
    // opened and closed around `body` on this path, and transaction abort closes it on error.
    let nest_level = unsafe {
        pg_sys::GetUserIdAndSecContext(&mut saved_user, &mut saved_context);
        pg_sys::SetUserIdAndSecContext(
            role,
            saved_context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32 | pg_sys::SECURITY_RESTRICTED_OPERATION as i32,
        );
        let level = pg_sys::NewGUCNestLevel();
        set_search_path(search_path);
        level
    };
    let result = body();
    // SAFETY: see above.
    unsafe {
        pg_sys::AtEOXact_GUC(false, nest_level);
        pg_sys::SetUserIdAndSecContext(saved_user, saved_context);
    }
    result
}

/// Runs `body` as `role` in a restricted security context, with JIT off, and nothing else: for
/// a statement prepared beforehand (under [`SAFE_SEARCH_PATH`]: the plan cache re-parses a kept
/// plan under the search_path it was prepared with) that runs once per application statement.
/// Cheaper than SECURITY DEFINER with SET clauses, whose search_path change resets the backend's
/// search-path cache twice a call. (JIT costs more than the statements it would compile.)
pub fn as_role_prepared<R>(role: pg_sys::Oid, body: impl FnOnce() -> R) -> R {
    struct Restore {
        user: pg_sys::Oid,
        context: i32,
        jit: bool,
    }
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: the backend's own globals, restored as they were (an ERROR unwinding
            // through here restores them too; transaction abort would reset the user anyway).
            unsafe {
                pg_sys::jit_enabled = self.jit;
                pg_sys::SetUserIdAndSecContext(self.user, self.context);
            }
        }
    }
    let mut restore = Restore { user: pg_sys::InvalidOid, context: 0, jit: false };
    // SAFETY: as above.
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut restore.user, &mut restore.context);
        restore.jit = pg_sys::jit_enabled;
        pg_sys::jit_enabled = false;
        pg_sys::SetUserIdAndSecContext(
            role,
            restore.context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32 | pg_sys::SECURITY_RESTRICTED_OPERATION as i32,
        );
    }
    let result = body();
    drop(restore);
    result
}

/// Runs `body` as the owner of extension pg_iys (who owns schema iys and its tables).
pub fn as_extension_owner<R>(body: impl FnOnce() -> R) -> R {
    as_role(extension_owner(), SAFE_SEARCH_PATH, body)
}

fn set_search_path(value: &str) {
    let value = std::ffi::CString::new(value).expect("no NUL in a search_path");
    // SAFETY: sets a GUC at the current nest level; GUC_ACTION_SAVE makes AtEOXact_GUC undo it.
    unsafe {
        pg_sys::set_config_option(
            c"search_path".as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
    }
}

/// The role that created pg_iys in this database.
pub fn extension_owner() -> pg_sys::Oid {
    // Qualified throughout: this runs under the caller's search_path.
    Spi::get_one::<pg_sys::Oid>(
        "SELECT extowner FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'pg_iys'::pg_catalog.name",
    )
    .ok()
    .flatten()
    .unwrap_or_else(|| error!("pg_iys: the extension is not created in this database"))
}
