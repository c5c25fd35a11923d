//! Phone numbers: what people type → the E.164 text IYS stores.
//!
//! # Policy
//!
//! [`normalize_phone`] accepts what people type for Turkish numbers and turns it into
//! `+90XXXXXXXXXX` (10 digits after `+90`, the first one 2–5, 8 or 9):
//!
//! | typed | result |
//! |---|---|
//! | `0532 123 45 67`, `(0532) 123-45-67`, `0532.123.45.67` | `+905321234567` |
//! | `5321234567` (10 digits, no prefix) | `+905321234567` |
//! | `905321234567` (12 digits starting with 90) | `+905321234567` |
//! | `+90 (532) 123-45-67`, `0090 532 123 45 67` | `+905321234567` |
//!
//! Spaces (any Unicode white space), `.`, `-` (and typographic dashes) and parentheses are
//! ignored. `+` may only come first. `00` is read as the international prefix.
//!
//! Rejected (problem H121): empty text, letters or other symbols (extensions too), a Turkish
//! number with a trunk `0` kept after the country code (`+9005…`, which IYS warns it stores
//! but nobody can ever find), a wrong number of digits after `+90`, bare digit strings that
//! are not recognisably Turkish (a country code must then be written with `+` or `00`), a
//! country code starting with 0, and anything longer than 15 characters with the `+` — IYS's
//! limit for phone recipients (its codes H160/H166), one digit stricter than E.164's 15 digits.
//!
//! Numbers of other countries written with `+` or `00` are accepted as E.164 (7–14 digits; we
//! do not check country codes or numbering plans — IYS checks those with libphonenumber).
//! `normalize_phone` is therefore also fit for recipients pulled from IYS.
//!
//! Sending consents is stricter, see [`normalize_phone_for`]: the number must be in use by
//! IYS's numbering plan (libphonenumber 8.12.47, which IYS names; [`numbering_plan`]):
//! * `MESAJ` needs a Turkish mobile, `+905XXXXXXXXX` in an allocated range (not `+90599…`):
//!   IYS documents exactly that form for message consents, and the intermediary SMS providers
//!   look consents up in that form only; a landline or a foreign number can never be used for
//!   an SMS checked against IYS.
//! * `ARAMA` needs a Turkish number that can take calls: mobile, geographic or a `+90850`
//!   number (corporate lines, relevant for TACIR). IYS's own ARAMA example is a landline
//!   (`+902121230000`). Toll-free 800, premium 900, 444 and pager/satellite ranges are refused.
//!
//! Every refusal is H121, with an English message that says why.

use super::model::ConsentType;
use super::numbering_plan::{self, PhoneUse};
use super::problem::Problem;

/// IYS's limit for a phone recipient, `+` included.
pub const MAX_PHONE_CHARS: usize = 15;
/// Shortest E.164 number we accept (country code included), e.g. small island states.
pub const MIN_PHONE_DIGITS: usize = 7;
/// Digits after `+90` in a Turkish number.
const TURKISH_NSN_DIGITS: usize = 10;
/// Largest number of digits we buffer; more is too long anyway.
const DIGIT_BUFFER: usize = 24;

/// Normalises a typed phone number to E.164 (see the module documentation for the policy).
pub fn normalize_phone(input: &str) -> Result<String, Problem> {
    let trimmed = input.trim();
    let typed = scan_digits(trimmed)?;
    let digits = &typed.digits[..typed.len.min(DIGIT_BUFFER)];

    if typed.len > DIGIT_BUFFER {
        return Err(too_long(trimmed, typed.len));
    }
    if typed.len == 0 {
        let why = if trimmed.is_empty() {
            "phone number is empty"
        } else {
            "phone number has no digits"
        };
        return Err(bad_phone(trimmed, why));
    }

    // Split into "international digits" (country code first) or a Turkish national number.
    if typed.plus {
        international(trimmed, digits)
    } else if let Some(rest) = digits.strip_prefix(b"00") {
        international(trimmed, rest)
    } else if let Some(national) = digits.strip_prefix(b"0") {
        turkish(trimmed, national, "after the leading 0")
    } else if digits.len() == TURKISH_NSN_DIGITS + 2 && digits.starts_with(b"90") {
        turkish(trimmed, &digits[2..], "after 90")
    } else if digits.len() == TURKISH_NSN_DIGITS {
        turkish(trimmed, digits, "")
    } else {
        Err(bad_phone(
            trimmed,
            format!(
                "{} digits without a country code; write Turkish numbers as 0532 123 45 67 or +905321234567 \
                 and other countries' numbers with + and the country code",
                digits.len()
            ),
        ))
    }
}

/// True for the form of a normalised Turkish mobile number, `+905XXXXXXXXX` (what the
/// `iys.mobile` domain holds; never tightened from one release to the next, so that a dump
/// restores). Whether IYS takes it for MESAJ is [`is_turkish_mobile`].
pub fn has_turkish_mobile_form(e164: &str) -> bool {
    let b = e164.as_bytes();
    b.len() == 13 && b.starts_with(b"+905") && b[4..].iter().all(u8::is_ascii_digit)
}

/// True for a normalised Turkish mobile number in IYS's numbering plan (libphonenumber 8.12.47,
/// see [`numbering_plan`]).
pub fn is_turkish_mobile(e164: &str) -> bool {
    numbering_plan::refusal(e164, PhoneUse::Message).is_none()
}

/// True for a normalised Turkish number in IYS's numbering plan that can take calls: mobile,
/// geographic or 850 (see [`numbering_plan`]).
pub fn is_turkish_callable(e164: &str) -> bool {
    numbering_plan::refusal(e164, PhoneUse::Call).is_none()
}

/// [`normalize_phone`], then insist on a number `phone_use` can serve (H121 saying why not).
fn require(input: &str, phone_use: PhoneUse) -> Result<String, Problem> {
    let e164 = normalize_phone(input)?;
    match numbering_plan::refusal(&e164, phone_use) {
        None => Ok(e164),
        Some(why) => Err(bad_phone(input.trim(), why)),
    }
}

/// [`normalize_phone`], then insist on a Turkish mobile number in the numbering plan.
pub fn require_turkish_mobile(input: &str) -> Result<String, Problem> {
    require(input, PhoneUse::Message)
}

/// [`normalize_phone`], then insist on a Turkish mobile, geographic or 850 number in the plan.
pub fn require_turkish_callable(input: &str) -> Result<String, Problem> {
    require(input, PhoneUse::Call)
}

/// The phone rule for sending a consent of `consent_type` (see the module documentation).
/// For `EPOSTA`, which has no phone rule, this is plain [`normalize_phone`].
pub fn normalize_phone_for(input: &str, consent_type: ConsentType) -> Result<String, Problem> {
    match consent_type {
        ConsentType::Mesaj => require_turkish_mobile(input),
        ConsentType::Arama => require_turkish_callable(input),
        ConsentType::Eposta => normalize_phone(input),
    }
}

/// Digits of a typed number, whether it began with `+`.
struct TypedDigits {
    plus: bool,
    digits: [u8; DIGIT_BUFFER],
    /// Number of digits seen (may exceed the buffer).
    len: usize,
}

fn scan_digits(trimmed: &str) -> Result<TypedDigits, Problem> {
    let mut typed = TypedDigits {
        plus: false,
        digits: [0; DIGIT_BUFFER],
        len: 0,
    };
    let mut seen_anything = false;
    for c in trimmed.chars() {
        match c {
            '0'..='9' => {
                if typed.len < DIGIT_BUFFER {
                    typed.digits[typed.len] = c as u8;
                }
                typed.len += 1;
                seen_anything = true;
            }
            '+' if !seen_anything => {
                typed.plus = true;
                seen_anything = true;
            }
            '+' => return Err(bad_phone(trimmed, "'+' may only stand at the start")),
            '.' | '-' | '(' | ')' | '\u{2010}'..='\u{2015}' | '\u{2212}' => {}
            c if c.is_whitespace() => {}
            c => {
                return Err(bad_phone(
                    trimmed,
                    format!("contains {c:?}; a phone number has only digits, an optional leading + and separators"),
                ))
            }
        }
    }
    Ok(typed)
}

/// `digits` start with the country code.
fn international(trimmed: &str, digits: &[u8]) -> Result<String, Problem> {
    match digits {
        [] => Err(bad_phone(
            trimmed,
            "no digits after the international prefix",
        )),
        [b'0', ..] => Err(bad_phone(trimmed, "country codes do not start with 0")),
        [b'9', b'0', national @ ..] => turkish(trimmed, national, "after +90"),
        _ if digits.len() + 1 > MAX_PHONE_CHARS => Err(too_long(trimmed, digits.len())),
        _ if digits.len() < MIN_PHONE_DIGITS => Err(bad_phone(
            trimmed,
            format!(
                "{} digits is too short for an international number",
                digits.len()
            ),
        )),
        _ => Ok(e164(digits)),
    }
}

/// `national` is what follows +90 (or a trunk 0).
fn turkish(trimmed: &str, national: &[u8], place: &str) -> Result<String, Problem> {
    // Only an error message names the place: a valid number allocates nothing for it.
    let place = || if place.is_empty() { String::new() } else { format!(" {place}") };
    if national.first() == Some(&b'0') {
        return Err(bad_phone(
            trimmed,
            format!("a Turkish number has no 0{}; write +905321234567, not +9005321234567", place()),
        ));
    }
    if national.len() != TURKISH_NSN_DIGITS {
        return Err(bad_phone(
            trimmed,
            format!(
                "a Turkish number has 10 digits{}, this one has {}",
                place(),
                national.len()
            ),
        ));
    }
    if !matches!(national[0], b'2'..=b'5' | b'8' | b'9') {
        return Err(bad_phone(
            trimmed,
            format!(
                "no Turkish number starts with {}{}",
                national[0] as char,
                place()
            ),
        ));
    }
    let mut out = String::with_capacity(13);
    out.push_str("+90");
    out.extend(national.iter().map(|&d| d as char));
    Ok(out)
}

fn e164(digits: &[u8]) -> String {
    let mut out = String::with_capacity(digits.len() + 1);
    out.push('+');
    out.extend(digits.iter().map(|&d| d as char));
    out
}

fn too_long(trimmed: &str, digit_count: usize) -> Problem {
    bad_phone(
        trimmed,
        format!(
            "{digit_count} digits is too long: IYS accepts at most {MAX_PHONE_CHARS} characters including the +"
        ),
    )
}

fn bad_phone(value: &str, why: impl Into<String>) -> Problem {
    Problem::new("H121", "recipient", value, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOBILE: &str = "+905321234567";

    #[test]
    fn accepts_the_usual_turkish_spellings() {
        for typed in [
            "0532 123 45 67",
            "05321234567",
            "5321234567",
            "905321234567",
            "+905321234567",
            "+90 532 123 45 67",
            "+90 (532) 123-45-67",
            "0090532 123 45 67",
            "0090 532 123 45 67",
            "(0532) 123 45 67",
            "0532.123.45.67",
            "0532-123-45-67",
            "  0532 123 45 67\t",
            "0532\u{a0}123\u{a0}45\u{a0}67",
            "0532–123–45–67",
            "+90-532-123-4567",
        ] {
            assert_eq!(normalize_phone(typed).as_deref(), Ok(MOBILE), "{typed:?}");
        }
    }

    #[test]
    fn turkish_landlines_and_special_numbers() {
        assert_eq!(normalize_phone("0212 123 45 67").unwrap(), "+902121234567");
        assert_eq!(
            normalize_phone("(0312) 123 45 67").unwrap(),
            "+903121234567"
        );
        assert_eq!(normalize_phone("0850 123 45 67").unwrap(), "+908501234567");
        assert_eq!(normalize_phone("2161234567").unwrap(), "+902161234567");
    }

    #[test]
    fn rejects_trunk_zero_after_country_code() {
        for typed in ["+9005321234567", "+90 (0532) 123 45 67", "009005321234567"] {
            let p = normalize_phone(typed).unwrap_err();
            assert_eq!(p.code, "H121");
            assert!(
                p.message_en.contains("not +9005321234567"),
                "{typed}: {}",
                p.message_en
            );
        }
    }

    #[test]
    fn rejects_wrong_lengths_letters_and_empty() {
        for typed in [
            "",
            "   ",
            "-- ()",
            "0532 123 45 6",
            "0532 123 45 678",
            "532123456",
            "+90532123456",
            "+9053212345678",
            "53212345678",
            "0532 ABC 45 67",
            "0532 123 45 67 ext 12",
            "05321234567x",
            "+",
            "++905321234567",
            "0532+1234567",
            "+0532 123 45 67",
            "+12345",
            "+1234567890123456",
            "1234567890",
            "0123 456 78 90",
            "ali@example.com",
            "٠٥٣٢١٢٣٤٥٦٧",
            "９０５３２１２３４５６７",
            "0532/123 45 67",
        ] {
            let p = normalize_phone(typed).unwrap_err();
            assert_eq!(p.code, "H121", "{typed:?}");
            assert_eq!(p.field, "recipient");
            assert_eq!(p.value, typed.trim());
        }
        assert!(normalize_phone("")
            .unwrap_err()
            .message_en
            .contains("empty"));
        assert!(normalize_phone("0532 ABC")
            .unwrap_err()
            .message_en
            .contains("'A'"));
    }

    #[test]
    fn foreign_numbers_follow_e164() {
        assert_eq!(
            normalize_phone("+49 151 1234 5678").unwrap(),
            "+4915112345678"
        );
        assert_eq!(
            normalize_phone("0049 151 1234 5678").unwrap(),
            "+4915112345678"
        );
        assert_eq!(
            normalize_phone("+1 (212) 555-0100").unwrap(),
            "+12125550100"
        );
        assert_eq!(normalize_phone("+683 1234").unwrap(), "+6831234");
        // 14 digits + '+' = 15 characters: the longest IYS takes.
        assert_eq!(
            normalize_phone("+12345678901234").unwrap(),
            "+12345678901234"
        );
        let p = normalize_phone("+123456789012345").unwrap_err();
        assert!(
            p.message_en.contains("at most 15 characters"),
            "{}",
            p.message_en
        );
        // Without + or 00 a foreign number is ambiguous.
        assert!(normalize_phone("4915112345678").is_err());
    }

    #[test]
    fn turkish_mobile_and_callable_checks() {
        assert!(is_turkish_mobile(MOBILE));
        assert!(!is_turkish_mobile("+902121234567"));
        assert!(!is_turkish_mobile("+90532123456"));
        assert!(!is_turkish_mobile("+4915112345678"));
        assert!(!is_turkish_mobile("+90532123456a"));
        assert!(is_turkish_callable(MOBILE));
        assert!(is_turkish_callable("+902121234567"));
        assert!(!is_turkish_callable("+904441234567"), "444 numbers have 7 digits (444 1 444)");
        assert!(!is_turkish_mobile("+905991234567") && !is_turkish_mobile("+905901234567"), "not in the plan");
        assert!(is_turkish_callable("+908501234567"));
        assert!(!is_turkish_callable("+908001234567"));
        assert!(!is_turkish_callable("+909001234567"));
        assert!(!is_turkish_callable("+4915112345678"));
    }

    #[test]
    fn channel_rules() {
        assert_eq!(
            normalize_phone_for("0532 123 45 67", ConsentType::Mesaj).unwrap(),
            MOBILE
        );
        assert_eq!(
            normalize_phone_for("0532 123 45 67", ConsentType::Arama).unwrap(),
            MOBILE
        );
        assert_eq!(
            normalize_phone_for("0212 123 45 67", ConsentType::Arama).unwrap(),
            "+902121234567"
        );
        assert_eq!(
            normalize_phone_for("0850 123 45 67", ConsentType::Arama).unwrap(),
            "+908501234567"
        );

        let landline_sms = normalize_phone_for("0212 123 45 67", ConsentType::Mesaj).unwrap_err();
        assert_eq!(landline_sms.code, "H121");
        assert!(landline_sms.message_en.contains("landline"), "{}", landline_sms.message_en);
        let foreign_sms = require_turkish_mobile("+49 151 1234 5678").unwrap_err();
        assert!(foreign_sms.message_en.contains("+4915112345678"));
        assert!(require_turkish_callable("+49 151 1234 5678").is_err());
        assert!(require_turkish_callable("0900 123 45 67").is_err());
    }
}
