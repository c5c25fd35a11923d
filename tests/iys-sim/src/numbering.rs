//! Which Turkish numbers are in use, as IYS checks them: IYS's document names Google's
//! libphonenumber 8.12.47 (and BTK's plan). This reads libphonenumber's own data for Turkey
//! (`data/TR-v8.12.47.xml`, the `TR` territory of `resources/PhoneNumberMetadata.xml` at tag
//! v8.12.47) and matches a national number against each number type's pattern, as
//! libphonenumber's `getNumberType` does. It is the simulator's own implementation: pg_iys
//! carries a prefix table generated from the same file, and the parity test compares both.

use regex::Regex;
use std::sync::OnceLock;

const TERRITORY: &str = include_str!("../data/TR-v8.12.47.xml");

/// libphonenumber's number types that Turkish metadata uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    FixedLine,
    Mobile,
    Pager,
    TollFree,
    PremiumRate,
    PersonalNumber,
    Voip,
    Uan,
}

const TYPES: &[(&str, Kind)] = &[
    ("fixedLine", Kind::FixedLine),
    ("mobile", Kind::Mobile),
    ("pager", Kind::Pager),
    ("tollFree", Kind::TollFree),
    ("premiumRate", Kind::PremiumRate),
    ("personalNumber", Kind::PersonalNumber),
    ("voip", Kind::Voip),
    ("uan", Kind::Uan),
];

/// The text between `<tag>` and `</tag>` after `from`, and where it ends.
fn element<'a>(xml: &'a str, tag: &str, from: usize) -> Option<(&'a str, usize)> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml[from..].find(&open)? + from + open.len();
    let end = xml[start..].find(&close)? + start;
    Some((&xml[start..end], end + close.len()))
}

/// (kind, whole-number pattern, national lengths) of every number type, read once.
fn plan() -> &'static [(Kind, Regex, Vec<usize>)] {
    static PLAN: OnceLock<Vec<(Kind, Regex, Vec<usize>)>> = OnceLock::new();
    PLAN.get_or_init(|| {
        TYPES
            .iter()
            .map(|&(tag, kind)| {
                let (body, _) = element(TERRITORY, tag, 0).unwrap_or_else(|| panic!("no <{tag}> in the TR metadata"));
                let (pattern, _) = element(body, "nationalNumberPattern", 0).expect("a pattern");
                let pattern: String = pattern.chars().filter(|c| !c.is_whitespace()).collect();
                let lengths = body
                    .split("national=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .map(|list| list.split(',').filter_map(|n| n.trim().parse().ok()).collect())
                    .unwrap_or_default();
                (kind, Regex::new(&format!("^(?:{pattern})$")).expect("libphonenumber's pattern"), lengths)
            })
            .collect()
    })
}

/// The type of a Turkish national number (the digits after +90), None when not in use.
pub fn turkish_kind(national: &str) -> Option<Kind> {
    plan().iter().find(|(_, pattern, lengths)| lengths.contains(&national.len()) && pattern.is_match(national)).map(|(kind, _, _)| *kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libphonenumber_types_of_turkish_numbers() {
        assert_eq!(turkish_kind("5321234567"), Some(Kind::Mobile));
        assert_eq!(turkish_kind("2121234567"), Some(Kind::FixedLine));
        assert_eq!(turkish_kind("8501234567"), Some(Kind::Voip));
        assert_eq!(turkish_kind("8001234567"), Some(Kind::TollFree));
        assert_eq!(turkish_kind("9001234567"), Some(Kind::PremiumRate));
        assert_eq!(turkish_kind("4441444"), Some(Kind::Uan));
        assert_eq!(turkish_kind("5121234567"), Some(Kind::Pager));
        // IYS's own H121 example, and ranges not allocated in 8.12.47.
        for unused in ["5992000000", "5991234567", "5901234567", "5001234567", "2381234567", "4441234567"] {
            assert_eq!(turkish_kind(unused), None, "{unused}");
        }
    }
}
