//! The one error type of pg_iys.
//!
//! Every fallible function of the crate returns [`Error`]; the pgrx layer turns it into an
//! `ereport` exactly once, using [`Error::sqlstate_class`], [`Error::detail`] and
//! [`Error::hint`]. Messages name the field or setting and the offending value.

use std::fmt;

use super::problem::{code_info, cut_chars, Problem};

/// Longest user value quoted in an error message.
const MAX_QUOTED_CHARS: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The record breaks one or more IYS rules (never empty).
    Invalid { problems: Vec<Problem> },
    /// Text that is not one of an enum's values.
    BadEnum {
        /// SQL type name, e.g. `iys.consent_type`.
        type_name: &'static str,
        value: String,
        allowed: &'static [&'static str],
    },
    /// A setting (GUC, account or brand row) is missing or wrong.
    Config(String),
    /// A call to IYS failed: HTTP status (None for transport failures), IYS code if any.
    Http {
        status: Option<u16>,
        code: Option<String>,
        message: String,
        retryable: bool,
    },
    /// Text that is not a valid value of one of our SQL types (`iys.phone`, `iys.email`):
    /// the IYS problem says why.
    BadInput {
        /// SQL type or function name, e.g. `iys.phone`.
        type_name: &'static str,
        problem: Problem,
    },
    /// A function argument that makes no sense (a bad `mapping`, a NULL reference time).
    InvalidParameter {
        /// The SQL parameter's name.
        parameter: &'static str,
        message: String,
        hint: Option<String>,
    },
    /// A column `iys.validate_table` needs is not in the table.
    UndefinedColumn {
        /// The table as `regclass` prints it.
        table: String,
        column: String,
        /// The mapping key the column stands for, e.g. `gsm_permission`.
        role: String,
    },
    /// pg_iys was not loaded through shared_preload_libraries, so no worker runs.
    NotPreloaded,
    /// A row of an attached table breaks IYS's rules (`on_invalid => 'reject'`).
    RowRejected {
        table: String,
        /// The table column of the first problem.
        column: String,
        /// Every problem, with the column each is about.
        problems: Vec<(String, Problem)>,
    },
    /// Something that exists once already exists (a second `iys.attach` of a table).
    AlreadyExists { message: String, hint: String },
    /// The table is not attached (`iys.detach` of an unknown table).
    NotAttached { table: String },
    /// An UPDATE of an attached table changed a row's key.
    KeyChanged { table: String, column: String },
    /// A pg_iys trigger fired somewhere `iys.attach()` did not put it.
    TriggerMisused { table: String, detail: String },
    /// DROP EXTENSION while changes still wait for IYS.
    PendingChanges { pending: i64, in_flight: i64 },
    /// A bug or an impossible state.
    Internal(String),
}

/// Which SQLSTATE family an [`Error`] maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlStateClass {
    /// 22P02, like PostgreSQL's own "invalid input value for enum".
    InvalidTextRepresentation,
    /// 22023.
    InvalidParameterValue,
    /// 23514: the row violates IYS's rules, as a CHECK constraint would.
    CheckViolation,
    /// 42703, like PostgreSQL's own "column does not exist".
    UndefinedColumn,
    /// 42710, like PostgreSQL's own "already exists".
    DuplicateObject,
    /// 55000: something must be set up first.
    ObjectNotInPrerequisiteState,
    /// 55006: the object is still in use.
    ObjectInUse,
    /// 0A000.
    FeatureNotSupported,
    /// 42501.
    InsufficientPrivilege,
    /// F0000.
    ConfigFile,
    /// 38000: the external service (IYS) failed.
    ExternalRoutine,
    /// XX000.
    Internal,
}

impl SqlStateClass {
    /// The five-character SQLSTATE.
    pub fn sqlstate(self) -> &'static str {
        match self {
            SqlStateClass::InvalidTextRepresentation => "22P02",
            SqlStateClass::InvalidParameterValue => "22023",
            SqlStateClass::CheckViolation => "23514",
            SqlStateClass::UndefinedColumn => "42703",
            SqlStateClass::DuplicateObject => "42710",
            SqlStateClass::ObjectNotInPrerequisiteState => "55000",
            SqlStateClass::ObjectInUse => "55006",
            SqlStateClass::FeatureNotSupported => "0A000",
            SqlStateClass::InsufficientPrivilege => "42501",
            SqlStateClass::ConfigFile => "F0000",
            SqlStateClass::ExternalRoutine => "38000",
            SqlStateClass::Internal => "XX000",
        }
    }
}

impl Error {
    /// An `Invalid` error holding the given problems.
    pub fn invalid(problems: Vec<Problem>) -> Error {
        Error::Invalid { problems }
    }

    pub fn sqlstate_class(&self) -> SqlStateClass {
        match self {
            Error::Invalid { .. } => SqlStateClass::CheckViolation,
            Error::BadEnum { .. } | Error::BadInput { .. } => {
                SqlStateClass::InvalidTextRepresentation
            }
            Error::InvalidParameter { .. } => SqlStateClass::InvalidParameterValue,
            Error::UndefinedColumn { .. } => SqlStateClass::UndefinedColumn,
            Error::NotPreloaded | Error::NotAttached { .. } => SqlStateClass::ObjectNotInPrerequisiteState,
            Error::RowRejected { .. } => SqlStateClass::CheckViolation,
            Error::AlreadyExists { .. } => SqlStateClass::DuplicateObject,
            Error::Config(_) => SqlStateClass::ConfigFile,
            Error::Http { .. } => SqlStateClass::ExternalRoutine,
            Error::KeyChanged { .. } => SqlStateClass::FeatureNotSupported,
            Error::TriggerMisused { .. } => SqlStateClass::InsufficientPrivilege,
            Error::PendingChanges { .. } => SqlStateClass::ObjectInUse,
            Error::Internal(_) => SqlStateClass::Internal,
        }
    }

    /// Extra lines for `DETAIL`: every problem with IYS's Turkish wording, or the IYS answer.
    pub fn detail(&self) -> Option<String> {
        match self {
            Error::Invalid { problems } if !problems.is_empty() => {
                let lines: Vec<String> = problems
                    .iter()
                    .map(|p| format!("{p} [IYS: {}]", p.message_tr))
                    .collect();
                Some(lines.join("\n"))
            }
            Error::Invalid { .. } => None,
            Error::BadEnum { allowed, .. } => {
                Some(format!("Allowed values: {}.", allowed.join(", ")))
            }
            Error::Http {
                status,
                code,
                message,
                ..
            } => {
                let status =
                    status.map_or_else(|| "no HTTP answer".to_owned(), |s| format!("HTTP {s}"));
                let code = code.as_deref().unwrap_or("no IYS code");
                Some(format!("{status}, {code}: {message}"))
            }
            Error::BadInput { problem, .. } => {
                Some(format!("IYS {}: {}", problem.code, problem.message_tr))
            }
            Error::UndefinedColumn { role, .. } => Some(format!(
                "The mapping key \"{role}\" names this column."
            )),
            Error::NotPreloaded => Some(
                "Without it the background worker that sends consents to IYS does not run."
                    .to_owned(),
            ),
            Error::RowRejected { problems, .. } => Some(
                problems
                    .iter()
                    .map(|(column, p)| format!("{} {column} = '{}': {} [IYS: {}]", p.code, p.value, p.message_en, p.message_tr))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            Error::Config(_)
            | Error::Internal(_)
            | Error::InvalidParameter { .. }
            | Error::AlreadyExists { .. }
            | Error::NotAttached { .. }
            | Error::KeyChanged { .. } => None,
            Error::TriggerMisused { detail, .. } => Some(detail.clone()),
            Error::PendingChanges { pending, in_flight } => Some(format!(
                "{pending} change(s) pending and {in_flight} in flight would be lost: IYS would never get them."
            )),
        }
    }

    /// A suggestion for `HINT`.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Invalid { problems } => problems
                .first()
                .and_then(|p| hint_for_code(p.code))
                .map(str::to_owned),
            Error::BadEnum { .. } => {
                Some("Values are matched case-insensitively after trimming.".to_owned())
            }
            Error::Config(_) => {
                Some("Check the iys.* settings and the IYS account/brand tables.".to_owned())
            }
            Error::Http {
                retryable: true, ..
            } => Some("Transient failure: the request will be retried.".to_owned()),
            Error::Http {
                code: Some(code), ..
            } => code_info(code).map(|i| format!("IYS {}: {}.", i.code, i.summary_en)),
            Error::Http { .. } => None,
            Error::BadInput { problem, .. } => hint_for_code(problem.code).map(str::to_owned),
            Error::InvalidParameter { hint, .. } => hint.clone(),
            Error::UndefinedColumn { role, .. } => Some(format!(
                "Name the right column with mapping => '{{\"{role}\": \"your_column\"}}', or map it to null to skip it."
            )),
            Error::NotPreloaded => Some(
                "Add pg_iys to shared_preload_libraries in postgresql.conf and restart the server."
                    .to_owned(),
            ),
            Error::Internal(_) => Some("This is a bug in pg_iys; please report it.".to_owned()),
            Error::RowRejected { .. } => Some(
                "Correct the value, or attach the table with on_invalid => 'keep' to keep the old consent and only warn."
                    .to_owned(),
            ),
            Error::AlreadyExists { hint, .. } => Some(hint.clone()),
            Error::NotAttached { .. } => Some("SELECT * FROM iys.attached_table lists the attached tables.".to_owned()),
            Error::KeyChanged { .. } => Some(
                "Change a contact's key in its own statement with no consent change, after SELECT iys.detach(); or insert a new row and delete the old one."
                    .to_owned(),
            ),
            Error::TriggerMisused { .. } => {
                Some("Use SELECT iys.detach(...) and iys.attach(...) to (re)install pg_iys's triggers.".to_owned())
            }
            Error::PendingChanges { .. } => Some(
                "Let the worker send them (SELECT * FROM iys.sync_status), or SET iys.drop_with_pending_changes = on to drop anyway."
                    .to_owned(),
            ),
        }
    }

    /// The IYS codes involved, for logging and for the rejections view.
    pub fn codes(&self) -> Vec<&str> {
        match self {
            Error::Invalid { problems } => problems.iter().map(|p| p.code).collect(),
            Error::Http {
                code: Some(code), ..
            } => vec![code.as_str()],
            Error::BadInput { problem, .. } => vec![problem.code],
            _ => Vec::new(),
        }
    }
}

fn hint_for_code(code: &str) -> Option<&'static str> {
    Some(match code {
        "H121" => "Turkish mobiles are written +905XXXXXXXXX (no 0 after +90).",
        "H120" => "IYS takes e-mail addresses of letters, digits, ., _ and - (and + before the @), at least x@xx.xx, 6 to 265 characters, no Turkish letters or spaces.",
        "H119" => "Use one of the 13 HS_* sources; IYS_* sources are set by IYS only.",
        "H158" => "Write consent dates as YYYY-MM-DD HH:mm:ss in Turkey time (UTC+3).",
        "H162" => "Consent dates are Turkey time (UTC+3); check the clock and time zone of the writer.",
        "H467" => "IYS accepts consents up to 3 business days after they were collected; older ones cannot be sent.",
        "H175" => "IYS has no consent for this recipient to withdraw: a first record must be ONAY. pg_iys settles such a RET as not_in_iys.",
        "H174" => "The stored consent is already RET; nothing needs to be sent.",
        "H178" => "Each update needs a consent date later than the stored one.",
        "H155" => "HS_2015 consents carry exactly 2015-05-01 00:00:00.",
        "H462" | "H463" => "Updates of TACIR consents need both consentDate and source.",
        "H112" | "H113" => "BIREYSEL consents always need consentDate and source.",
        _ => return None,
    })
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid { problems } => match problems.as_slice() {
                [] => write!(f, "IYS rule violated"),
                [only] => write!(f, "IYS rule violated: {only}"),
                [first, rest @ ..] => {
                    write!(f, "{} IYS rules violated: {first}", problems.len())?;
                    for p in rest {
                        write!(f, "; {p}")?;
                    }
                    Ok(())
                }
            },
            Error::BadEnum {
                type_name,
                value,
                allowed,
            } => write!(
                f,
                "invalid value '{}' for {type_name}; allowed: {}",
                cut_chars(value, MAX_QUOTED_CHARS),
                allowed.join(", ")
            ),
            Error::BadInput { type_name, problem } => write!(
                f,
                "invalid {type_name} value '{}': {}",
                cut_chars(&problem.value, MAX_QUOTED_CHARS),
                problem.message_en
            ),
            Error::InvalidParameter {
                parameter, message, ..
            } => write!(f, "invalid {parameter}: {message}"),
            Error::UndefinedColumn { table, column, .. } => write!(
                f,
                "column \"{}\" of relation {table} does not exist",
                cut_chars(column, MAX_QUOTED_CHARS)
            ),
            Error::NotPreloaded => {
                write!(f, "pg_iys is not loaded through shared_preload_libraries")
            }
            Error::Config(message) => write!(f, "pg_iys configuration error: {message}"),
            Error::Http {
                status,
                code,
                message,
                ..
            } => {
                write!(f, "IYS request failed")?;
                match (status, code) {
                    (Some(s), Some(c)) => write!(f, " (HTTP {s}, {c})")?,
                    (Some(s), None) => write!(f, " (HTTP {s})")?,
                    (None, Some(c)) => write!(f, " ({c})")?,
                    (None, None) => {}
                }
                write!(f, ": {message}")
            }
            Error::Internal(message) => write!(f, "pg_iys internal error: {message}"),
            Error::RowRejected { table, column, problems } => match problems.first() {
                Some((_, p)) => write!(
                    f,
                    "pg_iys: {} on column \"{column}\" of {table}: {} (value '{}')",
                    p.code,
                    p.message_en,
                    cut_chars(&p.value, MAX_QUOTED_CHARS)
                ),
                None => write!(f, "pg_iys: row of {table} refused on column \"{column}\""),
            },
            Error::AlreadyExists { message, .. } => f.write_str(message),
            Error::NotAttached { table } => write!(f, "table {table} is not attached to pg_iys"),
            Error::KeyChanged { table, column } => write!(
                f,
                "pg_iys: an UPDATE of {table} may not change the row key column \"{column}\": consent changes are tracked per row"
            ),
            Error::TriggerMisused { table, .. } => {
                write!(f, "pg_iys: the consent trigger on {table} is not installed by iys.attach(); nothing was queued")
            }
            Error::PendingChanges { pending, in_flight } => write!(
                f,
                "pg_iys still has {} consent change(s) that IYS has not answered ({pending} pending, {in_flight} in flight)",
                pending + in_flight
            ),
        }
    }
}

impl std::error::Error for Error {}

impl From<Problem> for Error {
    fn from(problem: Problem) -> Error {
        Error::Invalid {
            problems: vec![problem],
        }
    }
}

impl From<Vec<Problem>> for Error {
    fn from(problems: Vec<Problem>) -> Error {
        Error::Invalid { problems }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_names_field_value_and_code() {
        let e = Error::from(Problem::new("H121", "recipient", "0532", "too short"));
        assert_eq!(
            e.to_string(),
            "IYS rule violated: H121 recipient '0532': too short"
        );
        assert_eq!(e.sqlstate_class(), SqlStateClass::CheckViolation);
        assert_eq!(e.sqlstate_class().sqlstate(), "23514");
        assert!(e.detail().unwrap().contains("E164"));
        assert!(e.hint().unwrap().contains("+905"));
        assert_eq!(e.codes(), ["H121"]);
    }

    #[test]
    fn several_problems_are_all_listed() {
        let e = Error::invalid(vec![
            Problem::new("H121", "recipient", "x", "not a phone"),
            Problem::new(
                "H162",
                "consentDate",
                "2099-01-01 00:00:00",
                "in the future",
            ),
        ]);
        let text = e.to_string();
        assert!(text.starts_with("2 IYS rules violated: H121"));
        assert!(text.contains("H162 consentDate '2099-01-01 00:00:00'"));
        assert_eq!(e.detail().unwrap().lines().count(), 2);
    }

    #[test]
    fn bad_enum_lists_allowed_values() {
        let e = Error::BadEnum {
            type_name: "iys.consent_type",
            value: "SMS".into(),
            allowed: &["MESAJ", "ARAMA", "EPOSTA"],
        };
        assert_eq!(
            e.to_string(),
            "invalid value 'SMS' for iys.consent_type; allowed: MESAJ, ARAMA, EPOSTA"
        );
        assert_eq!(e.sqlstate_class().sqlstate(), "22P02");
        assert_eq!(e.detail().unwrap(), "Allowed values: MESAJ, ARAMA, EPOSTA.");
    }

    #[test]
    fn http_and_other_variants() {
        let e = Error::Http {
            status: Some(429),
            code: Some("H124".into()),
            message: "slow down".into(),
            retryable: true,
        };
        assert_eq!(
            e.to_string(),
            "IYS request failed (HTTP 429, H124): slow down"
        );
        assert_eq!(e.sqlstate_class(), SqlStateClass::ExternalRoutine);
        assert!(e.hint().unwrap().contains("retried"));
        let e = Error::Http {
            status: None,
            code: None,
            message: "connection refused".into(),
            retryable: true,
        };
        assert_eq!(e.to_string(), "IYS request failed: connection refused");
        assert_eq!(
            e.detail().unwrap(),
            "no HTTP answer, no IYS code: connection refused"
        );
        let e = Error::Http {
            status: Some(422),
            code: Some("H467".into()),
            message: "old".into(),
            retryable: false,
        };
        assert!(e.hint().unwrap().contains("3 business days"));
        assert_eq!(
            Error::Config("iys.database is empty".into())
                .sqlstate_class()
                .sqlstate(),
            "F0000"
        );
        assert_eq!(
            Error::Internal("x".into()).sqlstate_class().sqlstate(),
            "XX000"
        );
    }

    #[test]
    fn sql_layer_variants() {
        let e = Error::BadInput {
            type_name: "iys.phone",
            problem: Problem::new("H121", "recipient", "+9005321234567", "no 0 after +90"),
        };
        assert_eq!(
            e.to_string(),
            "invalid iys.phone value '+9005321234567': no 0 after +90"
        );
        assert_eq!(e.sqlstate_class().sqlstate(), "22P02");
        assert!(e.detail().unwrap().starts_with("IYS H121: "));
        assert!(e.hint().unwrap().contains("+905"));
        assert_eq!(e.codes(), ["H121"]);

        let e = Error::NotPreloaded;
        assert_eq!(e.sqlstate_class().sqlstate(), "55000");
        assert_eq!(
            e.to_string(),
            "pg_iys is not loaded through shared_preload_libraries"
        );
        assert_eq!(
            e.detail().unwrap(),
            "Without it the background worker that sends consents to IYS does not run."
        );
        assert_eq!(
            e.hint().unwrap(),
            "Add pg_iys to shared_preload_libraries in postgresql.conf and restart the server."
        );

        let e = Error::UndefinedColumn {
            table: "public.contacts".into(),
            column: "gsm".into(),
            role: "gsm".into(),
        };
        assert_eq!(e.sqlstate_class().sqlstate(), "42703");
        assert_eq!(
            e.to_string(),
            "column \"gsm\" of relation public.contacts does not exist"
        );
        assert!(e.hint().unwrap().contains(r#"mapping => '{"gsm": "your_column"}'"#));

        let e = Error::InvalidParameter {
            parameter: "mapping",
            message: "unknown key \"gsmx\"".into(),
            hint: Some("Known keys: gsm.".into()),
        };
        assert_eq!(e.sqlstate_class().sqlstate(), "22023");
        assert_eq!(e.to_string(), "invalid mapping: unknown key \"gsmx\"");
        assert_eq!(e.hint().unwrap(), "Known keys: gsm.");
    }
}
