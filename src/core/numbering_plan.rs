//! Which phone numbers exist: the Turkish numbering plan exactly as IYS checks it.
//!
//! IYS (OpenAPI 3.2.0, "İzin Türleri") checks that a phone recipient is "in use" with Google's
//! libphonenumber **8.12.47** metadata (and BTK's plan). A number that libphonenumber 8.12.47
//! calls invalid is refused by IYS with H121, so pg_iys refuses it locally first.
//!
//! # Turkish numbers (`+90` + national number)
//!
//! [`turkish_kind`] classifies a national number the way libphonenumber's `getNumberType`
//! does for region TR: `None` means "not a valid Turkish number" (e.g. `599…`, `590…`, and the
//! 10-digit `444…` — UAN numbers are 7 digits, `444 1 444`). It is a binary search in a
//! prefix table, a few tens of nanoseconds, no allocation.
//!
//! Channel policy ([`NumberKind::serves`]), stricter than IYS where IYS is not documented:
//! * `MESAJ`: [`NumberKind::Mobile`] only (501, 505–507, 510, 516, 524, 53x, 54x, 551–555,
//!   559, 56161, 594, 596 in 8.12.47).
//! * `ARAMA`: mobile, fixed line (geographic area codes) and 850 ([`NumberKind::Voip`],
//!   corporate numbers). Refused: toll-free 800/811, premium 900/888/898, UAN 444, pager 512,
//!   GMPCS satellite 592 — service or special numbers, not a recipient's line.
//!
//! Ranges added to libphonenumber after 8.12.47 (mobile 500, 502–504, 508, 509, 550,
//! 556–558, 561011, 562, 564, 572, 574, 575 and area code 238 in 9.0.33) are still refused:
//! IYS refuses them until it updates its library. [`newer_turkish_kind`] only serves to say
//! so in the error message.
//!
//! # Foreign numbers
//!
//! Neither MESAJ nor ARAMA takes a foreign number, so other countries' plans are not carried:
//! [`is_valid_foreign`] checks E.164's shape only (7–14 digits, no country code starting with
//! 0). The `phonenumber` crate was measured and left out: it bundles libphonenumber 9.0.33,
//! whose Turkish plan accepts ranges IYS (8.12.47) refuses (mobile 500, 502–504, … and area
//! code 238), its parse costs 2–10 µs a number against ~20 ns here, and its `is_valid` accepts
//! numbers whose pattern matches only their beginning (rust-phonenumber issue #31).
//!
//! # Refreshing the data
//!
//! The tables between the `BEGIN GENERATED` / `END GENERATED` markers are produced by
//! `gen_numbering_plan.py` from libphonenumber's `resources/PhoneNumberMetadata.xml`:
//! ```text
//! git -C libphonenumber show v8.12.47:resources/PhoneNumberMetadata.xml > iys.xml
//! git -C libphonenumber show v9.0.33:resources/PhoneNumberMetadata.xml  > newer.xml
//! python3 scripts/gen_numbering_plan.py iys.xml 8.12.47 newer.xml 9.0.33 src/core/numbering_plan.rs
//! ```
//! (`tests/iys-sim/data/TR-v8.12.47.xml` keeps the Turkish territory of the first file: the
//! simulator checks numbers with its patterns, independently of these tables.)
//! Change the IYS version only when IYS's OpenAPI document names a new one. The tests check
//! the tables against libphonenumber's own patterns (also generated, in the test module).

use NumberKind::*;

/// libphonenumber's `PhoneNumberType`, for the kinds Turkish metadata uses (and the ones it
/// could use after an update).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberKind {
    /// Geographic number (area codes 212–488, 392 for Northern Cyprus).
    FixedLine,
    /// Mobile.
    Mobile,
    /// 800 (10, 12 or 13 digits), 811.
    TollFree,
    /// 900, 888, 898.
    PremiumRate,
    /// Not used by TR metadata (BTK's 444 numbers are [`NumberKind::Uan`]).
    SharedCost,
    /// 850: corporate numbers ("0850"), VoIP.
    Voip,
    /// 592 (GMPCS, satellite).
    PersonalNumber,
    /// 512.
    Pager,
    /// 444 XXXX: 7-digit "universal access numbers" of companies.
    Uan,
    /// Not used by TR metadata.
    Voicemail,
}

impl NumberKind {
    /// English noun for messages.
    pub const fn describe(self) -> &'static str {
        match self {
            FixedLine => "landline",
            Mobile => "mobile",
            TollFree => "toll-free",
            PremiumRate => "premium-rate",
            SharedCost => "shared-cost",
            Voip => "VoIP (850)",
            PersonalNumber => "satellite (GMPCS)",
            Pager => "pager",
            Uan => "UAN (444)",
            Voicemail => "voicemail",
        }
    }

    /// Whether pg_iys sends consents for `phone_use` to a Turkish number of this kind (see
    /// the module documentation).
    pub const fn serves(self, phone_use: PhoneUse) -> bool {
        match phone_use {
            PhoneUse::Message => matches!(self, Mobile),
            PhoneUse::Call => matches!(self, Mobile | FixedLine | Voip),
            PhoneUse::Any => true,
        }
    }
}

/// What a phone number is checked for: the phone channels of IYS, or just existence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhoneUse {
    /// `MESAJ` consents.
    Message,
    /// `ARAMA` consents.
    Call,
    /// Any valid number, Turkish or foreign (a recipient pulled from IYS, phone-shaped text).
    Any,
}

impl PhoneUse {
    /// The rule, for messages.
    const fn rule(self) -> &'static str {
        match self {
            PhoneUse::Message => "MESAJ consents need a Turkish mobile number (+905XXXXXXXXX)",
            PhoneUse::Call => "ARAMA consents need a Turkish mobile, landline or 850 number",
            PhoneUse::Any => "",
        }
    }
}

/// Kind of a Turkish national significant number (the digits after `+90`) according to
/// libphonenumber [`METADATA_VERSION`], or `None` when IYS would refuse it as not in use.
pub fn turkish_kind(national_significant_number: &str) -> Option<NumberKind> {
    lookup(&PLAN_RANGES, national_significant_number)
}

/// Kind of a Turkish national number according to libphonenumber [`NEWER_METADATA_VERSION`]:
/// for messages ("a new range IYS does not know yet"), never for accepting a number.
pub fn newer_turkish_kind(national_significant_number: &str) -> Option<NumberKind> {
    let nsn = national_significant_number;
    match lookup(&NEWER_RANGES, nsn) {
        Some(changed) => changed,
        None => turkish_kind(nsn),
    }
}

/// Longest Turkish national number in any metadata (toll-free 800 numbers of 13 digits).
const MAX_NSN_DIGITS: usize = 13;

/// A number of `len` digits with value `value` as one sortable key: lengths never mix.
const fn key(len: usize, value: u64) -> u64 {
    len as u64 * 10u64.pow(MAX_NSN_DIGITS as u32) + value
}

/// The prefix tables as sorted, disjoint key ranges `[start, end)`, computed at compile time.
const fn ranges<K: Copy, const N: usize>(table: &[(usize, &str, K)]) -> [(u64, u64, K); N] {
    let mut out = [(0, 0, table[0].2); N];
    let mut i = 0;
    while i < N {
        let (len, prefix, kind) = table[i];
        let digits = prefix.as_bytes();
        assert!(
            len <= MAX_NSN_DIGITS && digits.len() <= len,
            "bad generated table"
        );
        let mut value = 0;
        let mut j = 0;
        while j < digits.len() {
            assert!(digits[j].is_ascii_digit(), "bad generated table");
            value = value * 10 + (digits[j] - b'0') as u64;
            j += 1;
        }
        let scale = 10u64.pow((len - digits.len()) as u32);
        out[i] = (key(len, value * scale), key(len, (value + 1) * scale), kind);
        i += 1;
    }
    out
}

const PLAN_RANGES: [(u64, u64, NumberKind); PLAN.len()] = ranges(PLAN);
const NEWER_RANGES: [(u64, u64, Option<NumberKind>); NEWER_PLAN.len()] = ranges(NEWER_PLAN);

/// Binary search for the range holding `nsn` (1–13 ASCII digits, else no match).
fn lookup<K: Copy>(ranges: &[(u64, u64, K)], nsn: &str) -> Option<K> {
    if nsn.is_empty() || nsn.len() > MAX_NSN_DIGITS {
        return None;
    }
    let mut value = 0u64;
    for b in nsn.bytes() {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + digit as u64;
    }
    let k = key(nsn.len(), value);
    let after = ranges.partition_point(|&(start, _, _)| start <= k);
    let (_, end, kind) = *ranges.get(after.checked_sub(1)?)?;
    (k < end).then_some(kind)
}

/// True when a non-Turkish E.164 number (`+` and digits) has E.164's shape: 7–14 digits after
/// `+`, no leading 0. (No channel takes a foreign number, see the module documentation, so
/// other countries' numbering plans are not carried.)
pub fn is_valid_foreign(e164: &str) -> bool {
    let Some(digits) = e164.strip_prefix('+') else {
        return false;
    };
    if !(7..=14).contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || digits.starts_with('0')
    {
        return false;
    }
    true
}

/// Why a normalised E.164 number (output of `phone::normalize_phone`) cannot be used for
/// `phone_use`, in English, or `None` when it can. The caller makes it an H121 problem.
pub fn refusal(e164: &str, phone_use: PhoneUse) -> Option<String> {
    let Some(nsn) = e164.strip_prefix("+90") else {
        return match phone_use {
            PhoneUse::Any if is_valid_foreign(e164) => None,
            PhoneUse::Any => Some(format!(
                "{e164} is not a valid phone number (libphonenumber {METADATA_VERSION}, which IYS checks numbers with)"
            )),
            _ => Some(format!("{e164} is not a Turkish number; {}", phone_use.rule())),
        };
    };
    let range = nsn.get(..3).unwrap_or(nsn);
    match turkish_kind(nsn) {
        Some(kind) if kind.serves(phone_use) => None,
        Some(kind) => Some(format!(
            "{e164} is a {} number; {}",
            kind.describe(),
            phone_use.rule()
        )),
        None => Some(match newer_turkish_kind(nsn) {
            Some(kind) => format!(
                "{e164} is in a {} range ({range}) that libphonenumber added after {METADATA_VERSION}; \
                 IYS checks numbers with {METADATA_VERSION} and refuses it until it updates",
                kind.describe()
            ),
            None => format!(
                "{e164} is not a Turkish number in use: {range} is not in the numbering plan \
                 (libphonenumber {METADATA_VERSION}, which IYS checks numbers with)"
            ),
        }),
    }
}

// BEGIN GENERATED by gen_numbering_plan.py from libphonenumber 8.12.47 and 9.0.33
// resources/PhoneNumberMetadata.xml, territory TR. Do not edit by hand; see the module docs.

/// libphonenumber release whose metadata IYS validates phone numbers with.
pub const METADATA_VERSION: &str = "8.12.47";
/// Newer release the [`NEWER_PLAN`] differences were taken from.
pub const NEWER_METADATA_VERSION: &str = "9.0.33";

/// Turkish national numbers valid in [`METADATA_VERSION`]: (length, prefix, kind). Sorted,
/// and no prefix of one length is a prefix of another.
#[rustfmt::skip]
const PLAN: &[(usize, &str, NumberKind)] = &[
    (7, "444", Uan),
    (10, "212", FixedLine), (10, "216", FixedLine), (10, "222", FixedLine), (10, "224", FixedLine),
    (10, "226", FixedLine), (10, "228", FixedLine), (10, "232", FixedLine), (10, "236", FixedLine),
    (10, "242", FixedLine), (10, "246", FixedLine), (10, "248", FixedLine), (10, "252", FixedLine),
    (10, "256", FixedLine), (10, "258", FixedLine), (10, "262", FixedLine), (10, "264", FixedLine),
    (10, "266", FixedLine), (10, "272", FixedLine), (10, "274", FixedLine), (10, "276", FixedLine),
    (10, "282", FixedLine), (10, "284", FixedLine), (10, "286", FixedLine), (10, "288", FixedLine),
    (10, "312", FixedLine), (10, "318", FixedLine), (10, "322", FixedLine), (10, "324", FixedLine),
    (10, "326", FixedLine), (10, "328", FixedLine), (10, "332", FixedLine), (10, "338", FixedLine),
    (10, "342", FixedLine), (10, "344", FixedLine), (10, "346", FixedLine), (10, "348", FixedLine),
    (10, "352", FixedLine), (10, "354", FixedLine), (10, "356", FixedLine), (10, "358", FixedLine),
    (10, "362", FixedLine), (10, "364", FixedLine), (10, "366", FixedLine), (10, "368", FixedLine),
    (10, "370", FixedLine), (10, "372", FixedLine), (10, "374", FixedLine), (10, "376", FixedLine),
    (10, "378", FixedLine), (10, "380", FixedLine), (10, "382", FixedLine), (10, "384", FixedLine),
    (10, "386", FixedLine), (10, "388", FixedLine), (10, "392", FixedLine), (10, "412", FixedLine),
    (10, "414", FixedLine), (10, "416", FixedLine), (10, "422", FixedLine), (10, "424", FixedLine),
    (10, "426", FixedLine), (10, "428", FixedLine), (10, "432", FixedLine), (10, "434", FixedLine),
    (10, "436", FixedLine), (10, "438", FixedLine), (10, "442", FixedLine), (10, "446", FixedLine),
    (10, "452", FixedLine), (10, "454", FixedLine), (10, "456", FixedLine), (10, "458", FixedLine),
    (10, "462", FixedLine), (10, "464", FixedLine), (10, "466", FixedLine), (10, "472", FixedLine),
    (10, "474", FixedLine), (10, "476", FixedLine), (10, "478", FixedLine), (10, "482", FixedLine),
    (10, "484", FixedLine), (10, "486", FixedLine), (10, "488", FixedLine), (10, "501", Mobile),
    (10, "505", Mobile), (10, "506", Mobile), (10, "507", Mobile), (10, "510", Mobile),
    (10, "512", Pager), (10, "516", Mobile), (10, "524", Mobile), (10, "53", Mobile),
    (10, "54", Mobile), (10, "551", Mobile), (10, "552", Mobile), (10, "553", Mobile),
    (10, "554", Mobile), (10, "555", Mobile), (10, "559", Mobile), (10, "56161", Mobile),
    (10, "592211", PersonalNumber), (10, "592212", PersonalNumber), (10, "592461", PersonalNumber),
    (10, "594", Mobile), (10, "596", Mobile), (10, "800", TollFree), (10, "811", TollFree),
    (10, "850", Voip), (10, "888", PremiumRate), (10, "898", PremiumRate),
    (10, "900", PremiumRate),
    (12, "800", TollFree),
    (13, "800", TollFree),
];

/// Ranges whose kind in [`NEWER_METADATA_VERSION`] differs from [`METADATA_VERSION`] (for
/// messages only: IYS still refuses a range libphonenumber added after 8.12.47).
#[rustfmt::skip]
const NEWER_PLAN: &[(usize, &str, Option<NumberKind>)] = &[
    (10, "238", Some(FixedLine)), (10, "500", Some(Mobile)), (10, "502", Some(Mobile)),
    (10, "503", Some(Mobile)), (10, "504", Some(Mobile)), (10, "508", Some(Mobile)),
    (10, "509", Some(Mobile)), (10, "550", Some(Mobile)), (10, "556", Some(Mobile)),
    (10, "557", Some(Mobile)), (10, "558", Some(Mobile)), (10, "561011", Some(Mobile)),
    (10, "562", Some(Mobile)), (10, "564", Some(Mobile)), (10, "572", Some(Mobile)),
    (10, "574", Some(Mobile)), (10, "575", Some(Mobile)),
];
// Ranges valid in 8.12.47 but not in 9.0.33 (kind None above): 0.
// END GENERATED

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(e164: &str) -> Option<NumberKind> {
        turkish_kind(e164.strip_prefix("+90").unwrap())
    }

    #[test]
    fn mobiles() {
        for n in [
            "+905321234567",
            "+905051234567",
            "+905421234567",
            "+905551234567",
            "+905011234567",
            "+905101234567",
            "+905161234567",
            "+905241234567",
            "+905616112345",
            "+905941234567",
            "+905961234567",
            "+905591234567",
        ] {
            assert_eq!(kind(n), Some(Mobile), "{n}");
            assert_eq!(refusal(n, PhoneUse::Message), None, "{n}");
            assert_eq!(refusal(n, PhoneUse::Call), None, "{n}");
        }
    }

    const USES: [PhoneUse; 3] = [PhoneUse::Message, PhoneUse::Call, PhoneUse::Any];

    #[test]
    fn not_in_the_plan() {
        // 590 and 599 are not allocated (IYS's own H121 text uses +905992000000 as a format
        // example, yet libphonenumber 8.12.47 refuses it).
        for n in [
            "+905901234567",
            "+905991234567",
            "+905992000000",
            "+905111234567",
            "+905601234567",
            "+905611234567",
            "+905610112345",
            "+905921234567",
            "+902001234567",
            "+902131234567",
            "+903001234567",
            "+904441234567",
            "+906001234567",
            "+907001234567",
            "+908011234567",
            "+908601234567",
            "+909011234567",
            "+901234567890",
        ] {
            assert_eq!(kind(n), None, "{n}");
            for phone_use in USES {
                assert!(refusal(n, phone_use).is_some(), "{n}");
            }
        }
        let why = refusal("+905991234567", PhoneUse::Message).unwrap();
        assert!(why.contains("599 is not in the numbering plan"), "{why}");
    }

    #[test]
    fn ranges_newer_than_iys_are_refused() {
        for (n, newer) in [
            ("+905001234567", Mobile),
            ("+905021234567", Mobile),
            ("+905081234567", Mobile),
            ("+905501234567", Mobile),
            ("+905561234567", Mobile),
            ("+905621234567", Mobile),
            ("+905751234567", Mobile),
            ("+905610111234", Mobile),
            ("+902381234567", FixedLine),
        ] {
            assert_eq!(kind(n), None, "{n}");
            assert_eq!(newer_turkish_kind(&n[3..]), Some(newer), "{n}");
            let why = refusal(n, PhoneUse::Call).unwrap();
            assert!(why.contains("added after 8.12.47"), "{why}");
        }
        assert_eq!(newer_turkish_kind("5321234567"), Some(Mobile));
        assert_eq!(newer_turkish_kind("5991234567"), None);
    }

    #[test]
    fn landlines_and_special_numbers() {
        let cases = [
            ("+902121234567", FixedLine, false, true),
            ("+903121234567", FixedLine, false, true),
            ("+902321234567", FixedLine, false, true),
            ("+903921234567", FixedLine, false, true), // Northern Cyprus
            ("+904881234567", FixedLine, false, true),
            ("+908501234567", Voip, false, true),
            ("+908001234567", TollFree, false, false),
            ("+908111234567", TollFree, false, false),
            ("+909001234567", PremiumRate, false, false),
            ("+908881234567", PremiumRate, false, false),
            ("+908981234567", PremiumRate, false, false),
            ("+905121234567", Pager, false, false),
            ("+905922111234", PersonalNumber, false, false),
        ];
        for (n, k, message, call) in cases {
            assert_eq!(kind(n), Some(k), "{n}");
            assert_eq!(refusal(n, PhoneUse::Message).is_none(), message, "{n}");
            assert_eq!(refusal(n, PhoneUse::Call).is_none(), call, "{n}");
            assert_eq!(refusal(n, PhoneUse::Any), None, "{n}");
        }
        let why = refusal("+902121234567", PhoneUse::Message).unwrap();
        assert!(why.contains("is a landline number; MESAJ"), "{why}");
        let why = refusal("+908001234567", PhoneUse::Call).unwrap();
        assert!(why.contains("toll-free number; ARAMA"), "{why}");
    }

    #[test]
    fn lengths() {
        assert_eq!(turkish_kind("4441444"), Some(Uan)); // 7-digit UAN: valid, never sent
        assert_eq!(turkish_kind("4441234567"), None); // "0444 123 45 67" does not exist
        assert_eq!(turkish_kind("800123456789"), Some(TollFree)); // 12 digits
        assert_eq!(turkish_kind("8001234567890"), Some(TollFree)); // 13: > 15 chars for IYS
        for nsn in [
            "",
            "5",
            "532123456",
            "53212345678",
            "532123456789",
            "21212345678",
            "2121234567a",
            "532 123456",
            "+532123456",
            "５３２１２３４５６７",
            "53212345678901234567890",
        ] {
            assert_eq!(turkish_kind(nsn), None, "{nsn:?}");
        }
    }

    #[test]
    fn foreign_numbers() {
        assert!(is_valid_foreign("+4915112345678"));
        assert!(is_valid_foreign("+12125550100"));
        assert!(!is_valid_foreign("+123456789012345")); // 15 digits: 16 chars
        assert!(!is_valid_foreign("+123456"));
        assert!(!is_valid_foreign("4915112345678"));
        assert!(!is_valid_foreign("+0915112345678"));
        assert_eq!(refusal("+4915112345678", PhoneUse::Any), None);
        let why = refusal("+4915112345678", PhoneUse::Message).unwrap();
        assert!(why.contains("not a Turkish number; MESAJ"), "{why}");
        assert!(refusal("+4915112345678", PhoneUse::Call).is_some());
    }

    #[test]
    fn tables_are_sorted_and_prefix_free() {
        for table in [
            PLAN.iter().map(|&(l, p, _)| (l, p)).collect::<Vec<_>>(),
            NEWER_PLAN.iter().map(|&(l, p, _)| (l, p)).collect(),
        ] {
            for w in table.windows(2) {
                assert!(w[0] < w[1], "{w:?}");
                assert!(!(w[0].0 == w[1].0 && w[1].1.starts_with(w[0].1)), "{w:?}");
            }
        }
        for w in PLAN_RANGES.windows(2) {
            assert!(w[0].0 < w[0].1 && w[0].1 <= w[1].0, "{w:?}");
        }
        for w in NEWER_RANGES.windows(2) {
            assert!(w[0].0 < w[0].1 && w[0].1 <= w[1].0, "{w:?}");
        }
        assert_eq!(PLAN_RANGES[0].0, key(7, 4_440_000));
    }

    /// libphonenumber's own classification from the generated TR patterns (test oracle).
    fn reference() -> impl Fn(&str) -> Option<NumberKind> {
        let anchored = |p: &str| regex::Regex::new(&format!("^(?:{p})$")).unwrap();
        let general = anchored(GENERAL_DESC);
        let types: Vec<_> = PATTERNS
            .iter()
            .map(|&(k, l, p)| (k, l, anchored(p)))
            .collect();
        move |n: &str| {
            if !general.is_match(n) {
                return None;
            }
            types
                .iter()
                .find(|(_, l, re)| l.contains(&n.len()) && re.is_match(n))
                .map(|t| t.0)
        }
    }

    fn possible_lengths() -> Vec<usize> {
        let mut lengths: Vec<usize> = PATTERNS.iter().flat_map(|t| t.1.iter().copied()).collect();
        lengths.sort_unstable();
        lengths.dedup();
        lengths
    }

    /// Fast check of the table against the patterns: both ends of every table range and of
    /// every newer-only range, and every 4-digit prefix with three different tails.
    #[test]
    fn table_matches_libphonenumber_patterns() {
        let reference = reference();
        let mut probes = Vec::new();
        let plan = PLAN.iter().map(|&(l, p, _)| (l, p));
        for (len, prefix) in plan.chain(NEWER_PLAN.iter().map(|&(l, p, _)| (l, p))) {
            for fill in ["0", "9"] {
                probes.push(format!("{prefix}{}", fill.repeat(len - prefix.len())));
            }
        }
        for len in possible_lengths() {
            for prefix in 0..10_000 {
                for tail in ["0000000000", "9999999999", "5731573157"] {
                    probes.push(format!("{prefix:04}{}", &tail[..len - 4]));
                }
            }
        }
        for n in &probes {
            assert_eq!(turkish_kind(n), reference(n), "{n}");
        }
    }

    /// Every 6-digit prefix (TR patterns never look further) at every possible length, with
    /// two tails: ~8 million numbers, 15 s unoptimised. `cargo test -- --ignored` after a refresh.
    #[test]
    #[ignore]
    fn table_matches_libphonenumber_patterns_exhaustively() {
        let reference = reference();
        for len in possible_lengths() {
            for prefix in 0..1_000_000u32 {
                for tail in ["0000000", "9999999"] {
                    let n = format!("{prefix:06}{}", &tail[..len - 6]);
                    assert_eq!(turkish_kind(&n), reference(&n), "{n}");
                }
            }
        }
    }

    // BEGIN GENERATED PATTERNS by gen_numbering_plan.py from libphonenumber 8.12.47
    /// TR generalDesc nationalNumberPattern of libphonenumber 8.12.47.
    const GENERAL_DESC: &str = r"4\d{6}|8\d{11,12}|(?:[2-58]\d\d|900)\d{7}";
    /// TR (kind, possible lengths, nationalNumberPattern), in libphonenumber's type order.
    #[rustfmt::skip]
    const PATTERNS: &[(NumberKind, &[usize], &str)] = &[
        (PremiumRate, &[10], r"(?:8[89]8|900)\d{7}"),
        (TollFree, &[10, 12, 13], r"8(?:00\d{7}(?:\d{2,3})?|11\d{7})"),
        (Voip, &[10], r"850\d{7}"),
        (PersonalNumber, &[10], r"592(?:21[12]|461)\d{4}"),
        (Pager, &[10], r"512\d{7}"),
        (Uan, &[7], r"444\d{4}"),
        (FixedLine, &[10], r"(?:2(?:[13][26]|[28][2468]|[45][268]|[67][246])|3(?:[13][28]|[24-6][2468]|[78][02468]|92)|4(?:[16][246]|[23578][2468]|4[26]))\d{7}"),
        (Mobile, &[10], r"56161\d{5}|5(?:0[15-7]|1[06]|24|[34]\d|5[1-59]|9[46])\d{7}"),
    ];
    // END GENERATED PATTERNS
}
