//! Pure-Rust consent core of pg_iys: the IYS vocabulary, recipient normalisation, consent
//! dates and the business-day calendar, IYS's validation rules and the crate's error type.
//!
//! Nothing here touches PostgreSQL or the network, so all of it is tested with plain
//! `cargo test`. (This module is named `core` inside the crate: write `std::` paths, never
//! `core::`, in these files.)

pub mod calendar;
pub mod channel;
pub mod email;
pub mod error;
pub mod mapping;
pub mod numbering_plan;
pub mod model;
pub mod phone;
pub mod problem;
pub mod retailer;
pub mod row;
pub mod rules;
pub mod time;
pub mod via;

// The core's API in one place; the SQL layer and the tests use different parts of it.
#[allow(unused_imports)]
pub use calendar::{
    is_past_reporting_window, reporting_deadline, turkey_half_days, turkey_holidays, Calendar,
    REPORTING_WINDOW_BUSINESS_DAYS,
};
#[allow(unused_imports)]
pub use email::normalize_email;
pub use error::{Error, SqlStateClass};
#[allow(unused_imports)]
pub use model::{ConsentSource, ConsentStatus, ConsentType, RecipientType};
#[allow(unused_imports)]
pub use phone::{
    is_turkish_callable, is_turkish_mobile, normalize_phone, normalize_phone_for,
    require_turkish_callable, require_turkish_mobile,
};
#[allow(unused_imports)]
pub use problem::{code_info, is_retryable_code, CodeInfo, Problem};
#[allow(unused_imports)]
pub use rules::{
    check_consent, normalize_recipient, validate_consent, ConsentCheck, ConsentInput, PreviousState,
};
#[allow(unused_imports)]
pub use time::{format_iys_datetime, now_turkey, parse_iys_datetime, turkey_to_utc, utc_to_turkey};

/// Deterministic "never panics" test over random text and dates, without extra dependencies.
#[cfg(test)]
mod never_panics {
    use super::*;
    use chrono::{Duration, NaiveDate, NaiveDateTime};

    /// xorshift64*: small, fast and reproducible.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[self.below(items.len())]
        }
    }

    const ALPHABETS: &[&str] = &[
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "0123456789",
        "0123456789 +-.()",
        "çğıöşüÇĞİÖŞÜ",
        "@._-+!#$%&'*/=?^`{|}~\"[]<>,;:\\",
        " \t\r\n\u{a0}\u{2003}\u{0}\u{7f}",
        "é€😀中文ßｱ\u{301}\u{200b}\u{feff}٠١٢٣٤٥٦٧٨٩０１２",
        "HS_IYS_ONAYRETMESAJARAMAEPOSTABIREYSELTACIR",
        "-: 0123456789",
    ];

    /// Fragments that make random strings likely to get past the first checks.
    const SEEDS: &[&str] = &[
        "",
        "+90",
        "0090",
        "05",
        "5321234567",
        "@",
        "@example.com",
        "ali",
        "ali@example.com",
        "Veli.Can+tag@Example.COM.TR",
        "2015-05-01 00:00:00",
        "2024-02-30 ",
        "HS_2015",
        "IYS_",
        "HS_KARAR",
        "İ",
        "..",
    ];

    fn random_text(rng: &mut Rng) -> String {
        let mut text = String::from(rng.pick(SEEDS));
        let length = match rng.below(10) {
            0 => 200 + rng.below(800), // long strings
            1 => 0,
            _ => rng.below(24),
        };
        for _ in 0..length {
            if rng.below(8) == 0 {
                text.push_str(rng.pick(SEEDS));
            } else {
                let alphabet: Vec<char> = rng.pick(ALPHABETS).chars().collect();
                text.push(rng.pick(&alphabet));
            }
        }
        text
    }

    fn random_datetime(rng: &mut Rng) -> NaiveDateTime {
        match rng.below(12) {
            0 => NaiveDateTime::MIN,
            1 => NaiveDateTime::MAX,
            2 => NaiveDate::from_ymd_opt(2015, 5, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
            _ => {
                let base = NaiveDate::from_ymd_opt(2012, 1, 1)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap();
                let seconds = (rng.next() % (20 * 366 * 86_400)) as i64;
                base + Duration::seconds(seconds)
                    + Duration::nanoseconds((rng.next() % 1_000_000_000) as i64)
            }
        }
    }

    #[test]
    fn random_input_never_panics() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let calendars = [Calendar::turkey_default(), Calendar::weekends_only()];
        let statuses = ConsentStatus::VARIANTS;
        // How often each function accepted its input: the generator must reach the happy paths.
        let (mut phones, mut emails, mut dates, mut sources, mut valid_records) = (0, 0, 0, 0, 0);
        for _ in 0..6_000 {
            let text = random_text(&mut rng);

            if let Ok(phone) = normalize_phone(&text) {
                phones += 1;
                assert!(
                    phone.starts_with('+') && phone.len() <= 15,
                    "{text:?} → {phone}"
                );
                assert!(phone[1..].bytes().all(|b| b.is_ascii_digit()));
                assert_eq!(
                    normalize_phone(&phone).as_deref(),
                    Ok(phone.as_str()),
                    "idempotent"
                );
            }
            if let Ok(email) = normalize_email(&text) {
                emails += 1;
                assert!(
                    email.is_ascii() && (6..=265).contains(&email.len()),
                    "{text:?}"
                );
                assert_eq!(email, email.to_ascii_lowercase());
                assert_eq!(
                    normalize_email(&email).as_deref(),
                    Ok(email.as_str()),
                    "idempotent"
                );
            }
            if let Ok(t) = parse_iys_datetime(&text) {
                dates += 1;
                assert_eq!(format_iys_datetime(t), text.trim());
            }
            let _ = ConsentType::parse(&text);
            let _ = ConsentStatus::parse(&text);
            let _ = RecipientType::parse(&text);
            if let Ok(source) = ConsentSource::parse(&text) {
                sources += 1;
                assert_eq!(ConsentSource::parse(source.as_str()).as_ref(), Ok(&source));
            }
            let _ = ConsentSource::parse_input(&text);
            for consent_type in ConsentType::VARIANTS {
                let _ = normalize_recipient(&text, *consent_type);
            }

            // Half of the records are plausible, so that the date and state rules run on
            // records that pass the recipient and source checks.
            let plausible = rng.below(2) == 0;
            let consent_type = rng.pick(ConsentType::VARIANTS);
            let source_text = if plausible {
                rng.pick(ConsentSource::INPUT).to_owned()
            } else {
                random_text(&mut rng)
            };
            let recipient = match (plausible, consent_type) {
                (false, _) => text.as_str(),
                (true, ConsentType::Eposta) => " Ali.Veli@Example.com ",
                (true, _) => "0532 123 45 67",
            };
            let now = random_datetime(&mut rng);
            let consent_date = match (plausible, rng.below(5)) {
                (_, 0) => None,
                (true, _) => {
                    now.checked_sub_signed(Duration::seconds((rng.next() % (6 * 86_400)) as i64))
                }
                (false, _) => Some(random_datetime(&mut rng)),
            };
            let input = ConsentInput {
                recipient,
                consent_type,
                status: rng.pick(statuses),
                source: if rng.below(4) == 0 {
                    None
                } else {
                    Some(&source_text)
                },
                consent_date,
                recipient_type: rng.pick(RecipientType::VARIANTS),
            };
            let previous = PreviousState {
                status: rng.pick(statuses),
                consent_date: if rng.below(3) == 0 {
                    None
                } else {
                    Some(random_datetime(&mut rng))
                },
            };
            let cal = &calendars[rng.below(calendars.len())];
            let previous = if rng.below(2) == 0 {
                None
            } else {
                Some(&previous)
            };
            let problems = validate_consent(&input, previous, now, cal);
            valid_records += usize::from(problems.is_empty());
            for p in &problems {
                assert!(code_info(p.code).is_some(), "uncatalogued {}", p.code);
                assert!(!p.message_tr.is_empty());
                let error = Error::from(p.clone());
                let _ = (error.to_string(), error.detail(), error.hint());
            }
            let _ = reporting_deadline(random_datetime(&mut rng), cal);
        }
        eprintln!("accepted: {phones} phones, {emails} e-mails, {dates} dates, {sources} sources, {valid_records} records");
        assert!(phones > 0 && emails > 0 && dates > 0 && sources > 0 && valid_records > 0);
    }
}
