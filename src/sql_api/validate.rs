//! Validating one consent in SQL: `iys.validate_consent()` (every problem as rows),
//! `iys.validate_consent_at()` (the IMMUTABLE variant) and the raising `iys.check_consent()`.
//!
//! Why not STRICT: NULL is meaningful here. A TACIR consent may omit source and consentDate on
//! its first record, a BIREYSEL one may not (H113/H112), and a NULL recipient, type or status is
//! itself a problem (H114/H111/H110, as IYS answers a missing field). A STRICT function would return no rows for such input —
//! "no problems" — which is exactly the wrong answer, so NULLs are validated like IYS would.
//!
//! Why two variants: the reporting window (H467) and "not in the future" (H162) depend on the
//! current time and the DBA's `iys.holiday` table, so `iys.validate_consent()` is STABLE (now()
//! and the table, both fixed within a statement). `iys.validate_consent_at()` takes the reference
//! instant explicitly and uses the built-in calendar compiled into pg_iys, so it is
//! IMMUTABLE (usable in index expressions and generated columns). Both are PARALLEL SAFE.
//!
//! Time semantics: `consent_date`/`previous_date` are `timestamp` in **Turkey time** (UTC+3),
//! exactly IYS's `consentDate`; for a `timestamptz` column pass `col AT TIME ZONE
//! 'Europe/Istanbul'`. `at` is a `timestamptz` (an instant, default now()), converted to Turkey
//! time with the fixed UTC+3 offset, which needs no session setting.

use crate::core::{Calendar, ConsentInput, ConsentStatus, ConsentType, Error, PreviousState, Problem,
    RecipientType,
};
use crate::sql_api::error::raise;
use crate::sql_api::types::{consent_status, consent_type, recipient_type};
use crate::sql_api::{calendar, time};
use chrono::NaiveDateTime;
use pgrx::datum::{Timestamp, TimestampWithTimeZone};
use pgrx::prelude::*;
use std::sync::OnceLock;

/// The arguments shared by the three functions, as SQL passes them.
pub struct Args<'a> {
    pub recipient: Option<&'a str>,
    pub consent_type: Option<ConsentType>,
    pub status: Option<ConsentStatus>,
    pub source: Option<&'a str>,
    pub consent_date: Option<NaiveDateTime>,
    pub recipient_type: Option<RecipientType>,
    pub previous_status: Option<ConsentStatus>,
    pub previous_date: Option<NaiveDateTime>,
}

/// The normalised recipient (when it could be normalised) and every problem.
pub fn check(args: &Args<'_>, now_turkey: NaiveDateTime, cal: &Calendar) -> (Option<String>, Vec<Problem>) {
    let previous = match (args.previous_status, args.previous_date) {
        (Some(status), consent_date) => Some(PreviousState { status, consent_date }),
        (None, None) => None,
        (None, Some(_)) => raise(&Error::InvalidParameter {
            parameter: "previous_status",
            message: "previous_date is given but previous_status is NULL".into(),
            hint: Some("Pass the stored consent's status and date together, or neither for a first record.".into()),
        }),
    };
    let mut problems = Vec::new();
    if args.consent_type.is_none() {
        problems.push(Problem::new("H111", "type", "", "type is missing; use MESAJ, ARAMA or EPOSTA"));
    }
    if args.status.is_none() {
        problems.push(Problem::new("H110", "status", "", "status is missing; use ONAY or RET"));
    }
    let input = ConsentInput {
        recipient: args.recipient.unwrap_or(""),
        // Without a type the recipient cannot be checked against a channel; without a status
        // the status rules cannot run. Their problems are dropped below.
        consent_type: args.consent_type.unwrap_or(ConsentType::Arama),
        status: args.status.unwrap_or(ConsentStatus::Onay),
        source: args.source,
        consent_date: args.consent_date,
        // IYS's own default when recipientType is omitted.
        recipient_type: args.recipient_type.unwrap_or_default(),
    };
    let result = crate::core::check_consent(&input, previous.as_ref(), now_turkey, cal);
    problems.extend(result.problems.into_iter().filter(|p| {
        !(args.consent_type.is_none() && p.field == "recipient"
            || args.status.is_none() && p.field == "status")
    }));
    let recipient = if args.consent_type.is_some() { result.recipient } else { None };
    (recipient, problems)
}

pub(crate) type ProblemRows = TableIterator<
    'static,
    (
        name!(code, String),
        name!(field, String),
        name!(value, Option<String>),
        name!(message_en, String),
        name!(message_tr, String),
    ),
>;

/// Problems as the rows of the validating functions (an empty value is NULL).
pub(crate) fn rows(problems: Vec<Problem>) -> ProblemRows {
    TableIterator::new(problems.into_iter().map(|p| {
        let value = (!p.value.is_empty()).then_some(p.value);
        (p.code.to_owned(), p.field.to_owned(), value, p.message_en, p.message_tr)
    }))
}

fn tz_to_turkey(at: TimestampWithTimeZone) -> NaiveDateTime {
    crate::core::utc_to_turkey(time::from_pg_micros(pg_sys::TimestampTz::from(at)).and_utc())
}

#[allow(clippy::too_many_arguments)]
fn args<'a>(
    recipient: Option<&'a str>,
    consent_type: Option<consent_type>,
    status: Option<consent_status>,
    source: Option<&'a str>,
    consent_date: Option<Timestamp>,
    recipient_type: Option<recipient_type>,
    previous_status: Option<consent_status>,
    previous_date: Option<Timestamp>,
) -> Args<'a> {
    Args {
        recipient,
        consent_type: consent_type.map(Into::into),
        status: status.map(Into::into),
        source,
        consent_date: consent_date.map(time::from_pg),
        recipient_type: recipient_type.map(Into::into),
        previous_status: previous_status.map(Into::into),
        previous_date: previous_date.map(time::from_pg),
    }
}

/// Every IYS problem of one consent, as IYS would answer it at `at` (default: now()), using the
/// `iys.holiday` calendar. No rows means IYS would accept it.
#[allow(clippy::too_many_arguments)]
#[pg_extern(stable, parallel_safe)]
fn validate_consent(
    recipient: Option<&str>,
    consent_type: Option<consent_type>,
    status: Option<consent_status>,
    source: Option<&str>,
    consent_date: Option<Timestamp>,
    recipient_type: default!(Option<recipient_type>, "'BIREYSEL'"),
    previous_status: default!(Option<consent_status>, "NULL"),
    previous_date: default!(Option<Timestamp>, "NULL"),
    at: default!(Option<TimestampWithTimeZone>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(code, String),
        name!(field, String),
        name!(value, Option<String>),
        name!(message_en, String),
        name!(message_tr, String),
    ),
> {
    let a = args(recipient, consent_type, status, source, consent_date, recipient_type, previous_status, previous_date);
    let now = at.map_or_else(time::now_turkey, tz_to_turkey);
    rows(check(&a, now, &calendar::current()).1)
}

fn builtin_calendar() -> &'static Calendar {
    static CAL: OnceLock<Calendar> = OnceLock::new();
    CAL.get_or_init(Calendar::turkey_default)
}

/// Like `iys.validate_consent()`, IMMUTABLE: the reference instant `at` is required and the
/// calendar is the built-in one (weekends and Turkey's public holidays 2024–2036).
#[allow(clippy::too_many_arguments)]
#[pg_extern(immutable, parallel_safe)]
fn validate_consent_at(
    at: Option<TimestampWithTimeZone>,
    recipient: Option<&str>,
    consent_type: Option<consent_type>,
    status: Option<consent_status>,
    source: Option<&str>,
    consent_date: Option<Timestamp>,
    recipient_type: default!(Option<recipient_type>, "'BIREYSEL'"),
    previous_status: default!(Option<consent_status>, "NULL"),
    previous_date: default!(Option<Timestamp>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(code, String),
        name!(field, String),
        name!(value, Option<String>),
        name!(message_en, String),
        name!(message_tr, String),
    ),
> {
    let Some(at) = at else {
        raise(&Error::InvalidParameter {
            parameter: "at",
            message: "the reference time is NULL".into(),
            hint: Some("Pass the instant to validate at, e.g. now(), or use iys.validate_consent().".into()),
        })
    };
    let a = args(recipient, consent_type, status, source, consent_date, recipient_type, previous_status, previous_date);
    rows(check(&a, tz_to_turkey(at), builtin_calendar()).1)
}

/// Raises 23514 listing every problem (code, field, value) in DETAIL when IYS would refuse the
/// consent; otherwise returns the recipient in IYS's form (for triggers: `NEW.gsm :=
/// iys.check_consent(...)`).
#[allow(clippy::too_many_arguments)]
#[pg_extern(stable, parallel_safe)]
fn check_consent(
    recipient: Option<&str>,
    consent_type: Option<consent_type>,
    status: Option<consent_status>,
    source: Option<&str>,
    consent_date: Option<Timestamp>,
    recipient_type: default!(Option<recipient_type>, "'BIREYSEL'"),
    previous_status: default!(Option<consent_status>, "NULL"),
    previous_date: default!(Option<Timestamp>, "NULL"),
    at: default!(Option<TimestampWithTimeZone>, "NULL"),
) -> String {
    let a = args(recipient, consent_type, status, source, consent_date, recipient_type, previous_status, previous_date);
    let now = at.map_or_else(time::now_turkey, tz_to_turkey);
    match check(&a, now, &calendar::current()) {
        (Some(recipient), problems) if problems.is_empty() => recipient,
        (_, problems) => raise(&Error::invalid(problems)),
    }
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    /// `code:field` of every problem, in order.
    fn codes(call: &str) -> String {
        Spi::get_one::<String>(&format!(
            "SELECT coalesce(string_agg(code || ':' || field, ' '), '') FROM {call}"
        ))
        .unwrap()
        .unwrap()
    }

    const AT: &str = "at => '2024-03-06 12:00+03'";

    #[pg_test]
    fn a_valid_consent_has_no_problems() {
        assert_eq!(
            codes(&format!("iys.validate_consent('0532 123 45 67', 'MESAJ', 'ONAY', 'HS_WEB', '2024-03-05 10:00', {AT})")),
            ""
        );
        assert_eq!(
            codes("iys.validate_consent_at('2024-03-06 12:00+03', 'ali@example.com', 'EPOSTA', 'ONAY', 'hs_web', '2024-03-05 10:00')"),
            ""
        );
    }

    #[pg_test]
    fn every_problem_is_reported() {
        assert_eq!(
            codes(&format!("iys.validate_consent('+9005321234567', 'MESAJ', 'RET', 'IYS_WEB', '2014-01-01', {AT})")),
            "H121:recipient H119:source H156:consentDate H175:status"
        );
        assert_eq!(
            codes(&format!("iys.validate_consent('0532 123 45 67', 'MESAJ', 'ONAY', 'HS_KARAR', '2024-03-07 10:00', {AT})")),
            "H162:consentDate H408:status"
        );
        assert_eq!(
            codes(&format!("iys.validate_consent('0532 123 45 67', 'MESAJ', 'ONAY', 'HS_WEB', '2024-02-29 10:00', {AT})")),
            "H467:consentDate"
        );
        assert_eq!(
            codes(&format!("iys.validate_consent('0532 123 45 67', 'MESAJ', 'RET', 'HS_WEB', '2024-03-05 10:00', previous_status => 'RET', previous_date => '2024-03-05 11:00', {AT})")),
            "H178:consentDate H174:status"
        );
    }

    #[pg_test]
    fn nulls_are_problems_not_silence() {
        assert_eq!(
            codes(&format!("iys.validate_consent(NULL, NULL, NULL, NULL, NULL, {AT})")),
            "H111:type H110:status H113:source H112:consentDate"
        );
        assert_eq!(
            codes(&format!("iys.validate_consent(NULL, 'MESAJ', 'ONAY', NULL, NULL, {AT})")),
            "H114:recipient H113:source H112:consentDate"
        );
        // TACIR may omit source and date on the first record, not on updates.
        assert_eq!(
            codes(&format!("iys.validate_consent('0532 123 45 67', 'MESAJ', 'ONAY', NULL, NULL, 'TACIR', {AT})")),
            ""
        );
        assert_eq!(
            codes(&format!("iys.validate_consent('0532 123 45 67', 'MESAJ', 'RET', NULL, NULL, 'TACIR', 'ONAY', {AT})")),
            "H463:source H462:consentDate"
        );
    }

    #[pg_test]
    fn check_consent_returns_the_normalised_recipient() {
        let r = Spi::get_one::<String>(&format!(
            "SELECT iys.check_consent(' Ali@Example.COM ', 'EPOSTA', 'ONAY', 'HS_WEB', '2024-03-05 10:00', {AT})"
        ))
        .unwrap()
        .unwrap();
        assert_eq!(r, "ali@example.com");
    }

    #[pg_test(error = "2 IYS rules violated: H121 recipient '0532': a Turkish number has 10 digits after the leading 0, this one has 3; H119 source 'WEB': unknown source; use one of HS_FIZIKSEL_ORTAM, HS_ISLAK_IMZA, HS_WEB, HS_CAGRI_MERKEZI, HS_SOSYAL_MEDYA, HS_EPOSTA, HS_MESAJ, HS_MOBIL, HS_EORTAM, HS_ETKINLIK, HS_2015, HS_ATM, HS_KARAR")]
    fn check_consent_raises_with_every_problem() {
        Spi::run(&format!(
            "SELECT iys.check_consent('0532', 'MESAJ', 'ONAY', 'WEB', '2024-03-05 10:00', {AT})"
        ))
        .unwrap();
    }

    #[pg_test(error = "invalid at: the reference time is NULL")]
    fn immutable_variant_needs_a_reference_time() {
        Spi::run("SELECT * FROM iys.validate_consent_at(NULL, 'a@b.com', 'EPOSTA', 'ONAY', 'HS_WEB', now()::timestamp)").unwrap();
    }
}
