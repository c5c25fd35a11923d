//! The one place where a [`core::Error`](crate::core::Error) becomes a PostgreSQL `ereport`.
//!
//! Every SQL function of pg_iys reports failures through [`raise`] (or [`OrRaise::or_raise`]), so
//! the SQLSTATE, message, DETAIL and HINT of an error depend only on the core error value and are
//! tested once, in `core::error`.

use crate::core::{Error, SqlStateClass};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// PostgreSQL's error code for a core SQLSTATE class.
pub fn sqlstate(class: SqlStateClass) -> PgSqlErrorCode {
    match class {
        SqlStateClass::InvalidTextRepresentation => {
            PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION
        }
        SqlStateClass::InvalidParameterValue => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        SqlStateClass::CheckViolation => PgSqlErrorCode::ERRCODE_CHECK_VIOLATION,
        SqlStateClass::UndefinedColumn => PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
        SqlStateClass::DuplicateObject => PgSqlErrorCode::ERRCODE_DUPLICATE_OBJECT,
        SqlStateClass::ObjectNotInPrerequisiteState => {
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE
        }
        SqlStateClass::ObjectInUse => PgSqlErrorCode::ERRCODE_OBJECT_IN_USE,
        SqlStateClass::FeatureNotSupported => PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        SqlStateClass::InsufficientPrivilege => PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        SqlStateClass::ConfigFile => PgSqlErrorCode::ERRCODE_CONFIG_FILE_ERROR,
        SqlStateClass::ExternalRoutine => PgSqlErrorCode::ERRCODE_EXTERNAL_ROUTINE_EXCEPTION,
        SqlStateClass::Internal => PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
    }
}

/// Keeps Rust backtraces out of error messages: pgrx puts a captured backtrace into an
/// ERROR's DETAIL, which clients see, and Rust captures one whenever RUST_BACKTRACE is set in
/// the server's environment. RUST_LIB_BACKTRACE=0 turns capturing off for library code.
/// Called from `_PG_init`, before any thread of ours exists.
pub fn keep_backtraces_out_of_messages() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
}

/// Raises `err` as an ERROR; never returns.
#[track_caller]
pub fn raise(err: &Error) -> ! {
    let mut report = ErrorReport::new(sqlstate(err.sqlstate_class()), err.to_string(), "pg_iys");
    if let Some(detail) = err.detail() {
        report = report.set_detail(detail);
    }
    if let Some(hint) = err.hint() {
        report = report.set_hint(hint);
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("ereport(ERROR) returned")
}

/// `result.or_raise()`: the value, or the error raised as an ERROR.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T, E: Into<Error>> OrRaise<T> for Result<T, E> {
    #[track_caller]
    fn or_raise(self) -> T {
        match self {
            Ok(value) => value,
            Err(err) => raise(&err.into()),
        }
    }
}
