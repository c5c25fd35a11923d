//! IYS's rules for one consent record, checked locally before anything is sent.
//!
//! [`validate_consent`] returns every problem of a record, not just the first. It runs per
//! row in triggers and over whole tables (`iys.validate_table`), so it allocates nothing on
//! the happy path beyond the normalised recipient; problems allocate only when they occur.
//!
//! Rules, per (brand, recipient, recipientType, type), with IYS's codes:
//!
//! | rule | code |
//! |---|---|
//! | recipient present | H114 |
//! | phone for MESAJ/ARAMA, e-mail for EPOSTA (the wrong kind of address) | H464 |
//! | valid e-mail / valid phone ([`super::phone`] has the per-channel policy) | H120 / H121 |
//! | source is one of the 13 `HS_*` values | H119 |
//! | BIREYSEL: source and consentDate always present | H113 / H112 |
//! | TACIR: source and consentDate optional on the first record, required on updates | H463 / H462 |
//! | consentDate not in the future (one second is enough) | H162 |
//! | consentDate not before 2015-05-01 00:00:00 | H156 |
//! | HS_2015 only with exactly 2015-05-01 00:00:00 | H155 |
//! | collected at most 3 business days ago ([`super::calendar`]) | H467 |
//! | HS_KARAR only with RET | H408 |
//! | the first record is not RET | H175 |
//! | no RET over RET | H174 |
//! | consentDate later than the stored one | H178 |
//!
//! H467 is not checked for HS_2015 records: their date is fixed at 2015-05-01, so the rule
//! would forbid the source altogether, and IYS's own examples answer an HS_2015 record dated
//! 2020 with H155 alone. Nor is it reported for dates already refused by H156 (IYS's batch
//! example answers a 2014 date with H156 alone) or by H162.
//!
//! Dates are compared at whole seconds, as IYS sees them.

use chrono::NaiveDateTime;

use super::calendar::{is_past_reporting_window, reporting_deadline, Calendar};
use super::email::normalize_email_for_iys;
use super::model::{ConsentSource, ConsentStatus, ConsentType, RecipientType};
use super::phone::{normalize_phone, normalize_phone_for};
use super::problem::Problem;
use super::time::{format_iys_datetime, iys_epoch, truncate_to_second};

/// One consent as our tables hold it, before normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentInput<'a> {
    /// Phone number or e-mail address as typed.
    pub recipient: &'a str,
    pub consent_type: ConsentType,
    pub status: ConsentStatus,
    /// Source as typed; None or blank means missing.
    pub source: Option<&'a str>,
    /// When the consent was collected, Turkey time.
    pub consent_date: Option<NaiveDateTime>,
    pub recipient_type: RecipientType,
}

/// What IYS already holds for the same (recipient, recipientType, type), if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviousState {
    pub status: ConsentStatus,
    /// None for a TACIR consent first recorded without a date.
    pub consent_date: Option<NaiveDateTime>,
}

/// Result of [`check_consent`]: the normalised values and every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentCheck {
    /// The recipient in IYS's form, when it could be normalised.
    pub recipient: Option<String>,
    /// The source, when present and one of the `HS_*` values.
    pub source: Option<ConsentSource>,
    /// The consent date cut to whole seconds, when present.
    pub consent_date: Option<NaiveDateTime>,
    pub problems: Vec<Problem>,
}

impl ConsentCheck {
    /// True when no rule is broken: the record can be sent.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Every IYS problem of `input` given the stored state `previous` (None for a first record),
/// the current Turkey time and the business-day calendar.
pub fn validate_consent(
    input: &ConsentInput<'_>,
    previous: Option<&PreviousState>,
    now_turkey: NaiveDateTime,
    cal: &Calendar,
) -> Vec<Problem> {
    check_consent(input, previous, now_turkey, cal).problems
}

/// Like [`validate_consent`], also handing back the normalised recipient, source and date so
/// that callers do not normalise twice.
pub fn check_consent(
    input: &ConsentInput<'_>,
    previous: Option<&PreviousState>,
    now_turkey: NaiveDateTime,
    cal: &Calendar,
) -> ConsentCheck {
    check_consent_of(input, normalize_recipient(input.recipient, input.consent_type), previous, now_turkey, cal)
}

/// [`check_consent`] for a recipient the caller has normalised already (`normalized`:
/// [`normalize_recipient`] of `input.recipient`), so that a row's check normalises each
/// address once.
pub(crate) fn check_consent_of(
    input: &ConsentInput<'_>,
    normalized: Result<String, Problem>,
    previous: Option<&PreviousState>,
    now_turkey: NaiveDateTime,
    cal: &Calendar,
) -> ConsentCheck {
    let mut problems = Vec::new();
    let is_update = previous.is_some();
    // TACIR may omit date and source on its first record only; BIREYSEL never.
    let optional_fields = input.recipient_type == RecipientType::Tacir && !is_update;

    let recipient = match normalized {
        Ok(recipient) => Some(recipient),
        Err(p) => {
            // IYS answers a phone number over 15 characters with H160 and H121 together.
            if p.code == "H121" && input.consent_type.uses_phone() && phone_chars(input.recipient) > 15 {
                problems.push(Problem::new("H160", "recipient", input.recipient.trim(), "a phone number has at most 15 characters (+ and digits) in E.164"));
            }
            problems.push(p);
            None
        }
    };

    let raw_source = input.source.map(str::trim).filter(|s| !s.is_empty());
    let source = match raw_source.map(ConsentSource::parse_input) {
        Some(Ok(source)) => Some(source),
        Some(Err(p)) => {
            problems.push(p);
            None
        }
        None => {
            if let Some(p) = missing_field_problem("source", input.recipient_type, optional_fields)
            {
                problems.push(p);
            }
            None
        }
    };

    let consent_date = input.consent_date.map(truncate_to_second);
    match consent_date {
        Some(date) => check_date(
            date,
            source.as_ref(),
            previous,
            now_turkey,
            cal,
            &mut problems,
        ),
        None => {
            if let Some(p) =
                missing_field_problem("consentDate", input.recipient_type, optional_fields)
            {
                problems.push(p);
            }
        }
    }

    if source == Some(ConsentSource::HsKarar) && input.status != ConsentStatus::Ret {
        problems.push(Problem::new(
            "H408",
            "status",
            input.status.as_str(),
            "source HS_KARAR (the service provider's own decision) is only allowed with status RET",
        ));
    }
    match (previous.map(|p| p.status), input.status) {
        (None, ConsentStatus::Ret) => problems.push(Problem::new(
            "H175",
            "status",
            "RET",
            "the first record of a consent cannot be RET: IYS holds nothing to withdraw",
        )),
        (Some(ConsentStatus::Ret), ConsentStatus::Ret) => problems.push(Problem::new(
            "H174",
            "status",
            "RET",
            "the consent is already RET in IYS; a second RET is refused",
        )),
        _ => {}
    }

    ConsentCheck {
        recipient,
        source,
        consent_date,
        problems,
    }
}

/// Date rules H162, H156, H155, H467 and H178 for a present (whole-second) date.
fn check_date(
    date: NaiveDateTime,
    source: Option<&ConsentSource>,
    previous: Option<&PreviousState>,
    now: NaiveDateTime,
    cal: &Calendar,
    problems: &mut Vec<Problem>,
) {
    let epoch = iys_epoch();
    let is_hs_2015 = source == Some(&ConsentSource::Hs2015);
    let in_future = date > now;
    let before_epoch = date < epoch;

    if in_future {
        problems.push(Problem::new(
            "H162",
            "consentDate",
            &format_iys_datetime(date),
            format!(
                "consentDate is later than now ({} Turkey time)",
                format_iys_datetime(now)
            ),
        ));
    }
    if before_epoch {
        problems.push(Problem::new(
            "H156",
            "consentDate",
            &format_iys_datetime(date),
            "IYS accepts no consent date before 2015-05-01 00:00:00",
        ));
    }
    if is_hs_2015 && date != epoch {
        problems.push(Problem::new(
            "H155",
            "consentDate",
            &format_iys_datetime(date),
            "source HS_2015 (consent from before May 2015) requires consentDate exactly 2015-05-01 00:00:00",
        ));
    }
    if !is_hs_2015 && !in_future && !before_epoch && is_past_reporting_window(date, now, cal) {
        problems.push(Problem::new(
            "H467",
            "consentDate",
            &format_iys_datetime(date),
            format!(
                "collected more than 3 business days ago: IYS accepted it until {} Turkey time",
                format_iys_datetime(reporting_deadline(date, cal))
            ),
        ));
    }
    if let Some(stored) = previous
        .and_then(|p| p.consent_date)
        .map(truncate_to_second)
    {
        if date <= stored {
            problems.push(Problem::new(
                "H178",
                "consentDate",
                &format_iys_datetime(date),
                format!(
                    "an update must be dated later than the stored consent ({})",
                    format_iys_datetime(stored)
                ),
            ));
        }
    }
}

/// The problem for a missing source or consentDate, or None when it may be omitted.
fn missing_field_problem(
    field: &'static str,
    recipient_type: RecipientType,
    optional: bool,
) -> Option<Problem> {
    if optional {
        return None;
    }
    let code = match (field, recipient_type) {
        ("source", RecipientType::Tacir) => "H463",
        ("source", RecipientType::Bireysel) => "H113",
        (_, RecipientType::Tacir) => "H462",
        (_, RecipientType::Bireysel) => "H112",
    };
    let why = match recipient_type {
        RecipientType::Tacir => format!("{field} is required when updating a TACIR consent"),
        RecipientType::Bireysel => format!("{field} is required for BIREYSEL consents"),
    };
    Some(Problem::new(code, field, "", why))
}

/// The recipient in IYS's form for `consent_type`: E.164 phone for MESAJ/ARAMA (with the
/// channel policy of [`super::phone`]), lower-cased e-mail for EPOSTA.
///
/// Missing is H114; an e-mail for a phone channel or a phone number for EPOSTA is H464; other
/// defects are H121 / H120.
pub fn normalize_recipient(raw: &str, consent_type: ConsentType) -> Result<String, Problem> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Problem::new(
            "H114",
            "recipient",
            "",
            "recipient is missing",
        ));
    }
    if consent_type.uses_phone() {
        if trimmed.contains('@') {
            return Err(wrong_kind(trimmed, consent_type));
        }
        normalize_phone_for(trimmed, consent_type)
    } else {
        if !trimmed.contains('@') && normalize_phone(trimmed).is_ok() {
            return Err(wrong_kind(trimmed, consent_type));
        }
        normalize_email_for_iys(trimmed)
    }
}

/// The characters of a typed phone number that E.164 keeps: `+` and digits.
fn phone_chars(raw: &str) -> usize {
    raw.chars().filter(|c| *c == '+' || c.is_ascii_digit()).count()
}

/// An address of the other kind, as IYS answers it on add: H121 (not a phone number) for MESAJ
/// and ARAMA, H120 (not an e-mail address) for EPOSTA. (H464 says the same, but only for the
/// status query.)
fn wrong_kind(value: &str, consent_type: ConsentType) -> Problem {
    match consent_type {
        ConsentType::Eposta => Problem::new("H120", "recipient", value, "EPOSTA consents need an e-mail address, not a phone number"),
        other => Problem::new("H121", "recipient", value, format!("{} consents need a phone number, not an e-mail address", other.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate};

    fn at(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
    }

    /// Wednesday 2024-03-06 12:00:00, Turkey time.
    fn now() -> NaiveDateTime {
        at(2024, 3, 6, 12, 0, 0)
    }

    fn input(recipient: &str) -> ConsentInput<'_> {
        ConsentInput {
            recipient,
            consent_type: ConsentType::Mesaj,
            status: ConsentStatus::Onay,
            source: Some("HS_WEB"),
            consent_date: Some(at(2024, 3, 6, 9, 0, 0)),
            recipient_type: RecipientType::Bireysel,
        }
    }

    fn codes(input: &ConsentInput<'_>, previous: Option<&PreviousState>) -> Vec<&'static str> {
        validate_consent(input, previous, now(), &Calendar::turkey_default())
            .iter()
            .map(|p| p.code)
            .collect()
    }

    fn onay_at(date: NaiveDateTime) -> PreviousState {
        PreviousState {
            status: ConsentStatus::Onay,
            consent_date: Some(date),
        }
    }

    #[test]
    fn a_good_first_record_passes_and_is_normalised() {
        let check = check_consent(
            &input("0532 123 45 67"),
            None,
            now(),
            &Calendar::turkey_default(),
        );
        assert!(check.is_valid(), "{:?}", check.problems);
        assert_eq!(check.recipient.as_deref(), Some("+905321234567"));
        assert_eq!(check.source, Some(ConsentSource::HsWeb));
        assert_eq!(check.consent_date, Some(at(2024, 3, 6, 9, 0, 0)));

        let email = ConsentInput {
            consent_type: ConsentType::Eposta,
            ..input(" Ali@Example.com ")
        };
        let check = check_consent(&email, None, now(), &Calendar::turkey_default());
        assert!(check.is_valid());
        assert_eq!(check.recipient.as_deref(), Some("ali@example.com"));
    }

    #[test]
    fn recipient_codes() {
        assert_eq!(codes(&input(""), None), ["H114"]);
        assert_eq!(codes(&input("   "), None), ["H114"]);
        assert_eq!(codes(&input("0532 123"), None), ["H121"]);
        assert_eq!(codes(&input("+9005321234567"), None), ["H121"]);
        assert_eq!(
            codes(&input("0212 123 45 67"), None),
            ["H121"],
            "a landline cannot take SMS"
        );
        let arama = ConsentInput {
            consent_type: ConsentType::Arama,
            ..input("0212 123 45 67")
        };
        assert!(codes(&arama, None).is_empty());
        assert_eq!(codes(&input("ali@example.com"), None), ["H121"]);
        let eposta = |r| ConsentInput {
            consent_type: ConsentType::Eposta,
            ..input(r)
        };
        assert_eq!(codes(&eposta("0532 123 45 67"), None), ["H120"]);
        assert_eq!(codes(&eposta("örnek@mail.com"), None), ["H120"]);
        assert_eq!(codes(&eposta("ornekadiniz.com"), None), ["H120"]);

        // On add, IYS answers the wrong kind of address with H120/H121 (H464 is the status
        // query's), with its own Turkish text.
        let p = normalize_recipient("+905320000000", ConsentType::Eposta).unwrap_err();
        assert_eq!((p.code, p.message_tr.as_str()), ("H120", "Alıcı (recipient) kabul edilemedi. Geçerli bir eposta adresi giriniz."));
        let p = normalize_recipient("test@gmail.com", ConsentType::Mesaj).unwrap_err();
        assert!(p.code == "H121" && p.message_tr.starts_with("Alıcı (recipient) için E164"), "{p:?}");
        assert_eq!(p.value, "test@gmail.com");
        // IYS's own example of H160: a 16-digit number is H160 and H121.
        assert_eq!(codes(&input("9055436100000000"), None), ["H160", "H121"]);
        assert_eq!(codes(&input("+90 532 123 45 67"), None), Vec::<&str>::new());
    }

    /// The row check hands decide_channel's normalised address to check_consent_of instead of
    /// normalising it again: that is only the same if normalising is idempotent.
    #[test]
    fn normalizing_a_normalized_recipient_changes_nothing() {
        let cases = [
            ("0532 123 45 67", ConsentType::Mesaj),
            ("+90 (532) 123-45-67", ConsentType::Mesaj),
            ("905321234567", ConsentType::Arama),
            ("0212 123 45 67", ConsentType::Arama),
            ("00905321234567", ConsentType::Arama),
            ("0850 222 00 00", ConsentType::Arama),
            (" Ali.Veli@Example.COM ", ConsentType::Eposta),
            ("ALI+kampanya@Mail.Example.com.tr", ConsentType::Eposta),
        ];
        for (raw, consent_type) in cases {
            let once = normalize_recipient(raw, consent_type).unwrap_or_else(|p| panic!("{raw}: {p:?}"));
            assert_eq!(normalize_recipient(&once, consent_type), Ok(once.clone()), "{raw}");
            let input = ConsentInput { recipient: raw, consent_type, ..input("") };
            let now = now();
            assert_eq!(
                check_consent_of(&input, Ok(once), None, now, &Calendar::turkey_default()),
                check_consent(&input, None, now, &Calendar::turkey_default()),
                "{raw}"
            );
        }
    }

    #[test]
    fn source_codes() {
        assert_eq!(
            codes(
                &ConsentInput {
                    source: Some("IYS_WEB"),
                    ..input("05321234567")
                },
                None
            ),
            ["H119"]
        );
        assert_eq!(
            codes(
                &ConsentInput {
                    source: Some("HS_201"),
                    ..input("05321234567")
                },
                None
            ),
            ["H119"]
        );
        assert!(codes(
            &ConsentInput {
                source: Some(" hs_mobil "),
                ..input("05321234567")
            },
            None
        )
        .is_empty());
        assert_eq!(
            codes(
                &ConsentInput {
                    source: None,
                    ..input("05321234567")
                },
                None
            ),
            ["H113"]
        );
        assert_eq!(
            codes(
                &ConsentInput {
                    source: Some("  "),
                    ..input("05321234567")
                },
                None
            ),
            ["H113"]
        );
    }

    #[test]
    fn bireysel_always_needs_date_and_source() {
        let bare = ConsentInput {
            source: None,
            consent_date: None,
            ..input("05321234567")
        };
        assert_eq!(codes(&bare, None), ["H113", "H112"]);
        assert_eq!(
            codes(&bare, Some(&onay_at(at(2024, 1, 1, 0, 0, 0)))),
            ["H113", "H112"]
        );
        let p = &validate_consent(&bare, None, now(), &Calendar::turkey_default())[1];
        assert_eq!((p.field, p.value.as_str()), ("consentDate", ""));
        assert_eq!(p.message_tr, "İzin tarihi (consentDate) bulunamadı.");
    }

    #[test]
    fn tacir_date_and_source_optional_only_on_first_record() {
        let tacir = ConsentInput {
            source: None,
            consent_date: None,
            recipient_type: RecipientType::Tacir,
            ..input("05321234567")
        };
        assert!(codes(&tacir, None).is_empty());
        let stored = PreviousState {
            status: ConsentStatus::Onay,
            consent_date: None,
        };
        assert_eq!(codes(&tacir, Some(&stored)), ["H463", "H462"]);
        let with_date = ConsentInput {
            consent_date: Some(at(2024, 3, 6, 9, 0, 0)),
            ..tacir
        };
        assert_eq!(codes(&with_date, Some(&stored)), ["H463"]);
        let with_source = ConsentInput {
            source: Some("HS_WEB"),
            ..tacir
        };
        assert_eq!(codes(&with_source, Some(&stored)), ["H462"]);
        let complete = ConsentInput {
            source: Some("HS_WEB"),
            ..with_date
        };
        assert!(codes(&complete, Some(&stored)).is_empty());
        // A TACIR first record that does carry a date is still checked.
        let future = ConsentInput {
            consent_date: Some(now() + Duration::days(1)),
            ..tacir
        };
        assert_eq!(codes(&future, None), ["H162"]);
    }

    #[test]
    fn future_by_one_second_is_h162() {
        let at_now = ConsentInput {
            consent_date: Some(now()),
            ..input("05321234567")
        };
        assert!(codes(&at_now, None).is_empty());
        let one_second = ConsentInput {
            consent_date: Some(now() + Duration::seconds(1)),
            ..input("05321234567")
        };
        assert_eq!(codes(&one_second, None), ["H162"]);
        // Sub-seconds are dropped, as IYS never sees them.
        let half_second = ConsentInput {
            consent_date: Some(now() + Duration::milliseconds(500)),
            ..input("05321234567")
        };
        assert!(codes(&half_second, None).is_empty());
    }

    #[test]
    fn hs_2015_needs_the_exact_date_and_skips_the_window() {
        let exact = ConsentInput {
            source: Some("HS_2015"),
            consent_date: Some(at(2015, 5, 1, 0, 0, 0)),
            ..input("05321234567")
        };
        assert!(
            codes(&exact, None).is_empty(),
            "HS_2015 is historic by definition: no H467"
        );
        let one_second_late = ConsentInput {
            consent_date: Some(at(2015, 5, 1, 0, 0, 1)),
            ..exact
        };
        assert_eq!(codes(&one_second_late, None), ["H155"]);
        let one_second_early = ConsentInput {
            consent_date: Some(at(2015, 4, 30, 23, 59, 59)),
            ..exact
        };
        assert_eq!(codes(&one_second_early, None), ["H156", "H155"]);
        let recent = ConsentInput {
            consent_date: Some(at(2024, 3, 6, 9, 0, 0)),
            ..exact
        };
        assert_eq!(codes(&recent, None), ["H155"]);
        // Another source with the 2015 date is simply too old.
        let web = ConsentInput {
            source: Some("HS_WEB"),
            ..exact
        };
        assert_eq!(codes(&web, None), ["H467"]);
    }

    #[test]
    fn before_2015_is_h156_only() {
        let old = ConsentInput {
            consent_date: Some(at(2014, 2, 10, 9, 30, 0)),
            ..input("05321234567")
        };
        assert_eq!(codes(&old, None), ["H156"]);
    }

    #[test]
    fn reporting_window_is_three_business_days() {
        let cal = Calendar::turkey_default();
        // Collected Friday 2024-03-01 15:00 → deadline Wednesday 2024-03-06 15:00.
        let friday = ConsentInput {
            consent_date: Some(at(2024, 3, 1, 15, 0, 0)),
            ..input("05321234567")
        };
        let deadline = at(2024, 3, 6, 15, 0, 0);
        assert!(validate_consent(&friday, None, deadline, &cal).is_empty());
        let late = validate_consent(&friday, None, deadline + Duration::seconds(1), &cal);
        assert_eq!(late.iter().map(|p| p.code).collect::<Vec<_>>(), ["H467"]);
        assert_eq!(late[0].value, "2024-03-01 15:00:00");
        assert!(
            late[0].message_en.contains("2024-03-06 15:00:00"),
            "{}",
            late[0].message_en
        );
        assert_eq!(
            late[0].message_tr,
            "Üç iş günü öncesinde alınan izinler kaydedilemez."
        );

        // Right before Ramazan Bayramı 2024 (Wed 10 – Fri 12 April): Monday's consent lasts
        // until Tuesday the 16th.
        let before_bayram = ConsentInput {
            consent_date: Some(at(2024, 4, 8, 9, 0, 0)),
            ..input("05321234567")
        };
        assert!(validate_consent(&before_bayram, None, at(2024, 4, 16, 9, 0, 0), &cal).is_empty());
        assert_eq!(
            validate_consent(&before_bayram, None, at(2024, 4, 16, 9, 0, 1), &cal)[0].code,
            "H467"
        );
        // A weekends-only calendar would already refuse it on Thursday the 11th.
        let weekends = Calendar::weekends_only();
        assert_eq!(
            validate_consent(&before_bayram, None, at(2024, 4, 11, 9, 0, 1), &weekends)[0].code,
            "H467"
        );
    }

    #[test]
    fn status_rules() {
        let karar_onay = ConsentInput {
            source: Some("HS_KARAR"),
            ..input("05321234567")
        };
        let stored = onay_at(at(2024, 3, 1, 0, 0, 0));
        assert_eq!(codes(&karar_onay, Some(&stored)), ["H408"]);
        let karar_ret = ConsentInput {
            status: ConsentStatus::Ret,
            ..karar_onay
        };
        assert!(codes(&karar_ret, Some(&stored)).is_empty());
        assert_eq!(
            codes(&karar_ret, None),
            ["H175"],
            "HS_KARAR cannot open a consent"
        );

        let ret = ConsentInput {
            status: ConsentStatus::Ret,
            ..input("05321234567")
        };
        assert_eq!(codes(&ret, None), ["H175"]);
        assert!(codes(&ret, Some(&stored)).is_empty());
        let stored_ret = PreviousState {
            status: ConsentStatus::Ret,
            consent_date: stored.consent_date,
        };
        assert_eq!(codes(&ret, Some(&stored_ret)), ["H174"]);
        // ONAY over ONAY with a newer date and ONAY over RET are accepted.
        assert!(codes(&input("05321234567"), Some(&stored)).is_empty());
        assert!(codes(&input("05321234567"), Some(&stored_ret)).is_empty());
    }

    #[test]
    fn update_must_be_later_than_stored_date() {
        let record = input("05321234567");
        let same = onay_at(at(2024, 3, 6, 9, 0, 0));
        assert_eq!(codes(&record, Some(&same)), ["H178"]);
        let later_stored = onay_at(at(2024, 3, 6, 10, 0, 0));
        assert_eq!(codes(&record, Some(&later_stored)), ["H178"]);
        let earlier_stored = onay_at(at(2024, 3, 6, 8, 59, 59));
        assert!(codes(&record, Some(&earlier_stored)).is_empty());
        // Sub-seconds of the stored date do not make an equal second "later".
        let stored_fraction = onay_at(at(2024, 3, 6, 9, 0, 0) + Duration::milliseconds(300));
        assert_eq!(codes(&record, Some(&stored_fraction)), ["H178"]);
    }

    #[test]
    fn every_problem_is_reported() {
        let bad = ConsentInput {
            recipient: "ali@example",
            consent_type: ConsentType::Mesaj,
            status: ConsentStatus::Ret,
            source: Some("IYS_WEB"),
            consent_date: Some(now() + Duration::days(1)),
            recipient_type: RecipientType::Bireysel,
        };
        let stored_ret = PreviousState {
            status: ConsentStatus::Ret,
            consent_date: Some(now() + Duration::days(2)),
        };
        assert_eq!(
            codes(&bad, Some(&stored_ret)),
            ["H121", "H119", "H162", "H178", "H174"]
        );
        let problems =
            validate_consent(&bad, Some(&stored_ret), now(), &Calendar::turkey_default());
        for p in &problems {
            assert!(!p.message_en.is_empty() && !p.message_tr.is_empty(), "{p}");
        }
    }
}
