//! E-mail recipients: trimmed, lower-cased and checked by the rules of IYS's document (its
//! TANIMLAR section, "İzin Türü → E-posta → Şartlar"), every refusal as IYS answers it on add
//! (H120) with a message naming the offending character:
//!
//! 1. the address matches IYS's regular expression (the shape below);
//! 2. no Turkish letters (IYS's own example: `örnek@mail.com`); we accept ASCII only;
//! 3. no special characters (IYS lists ``{[(!'^%&/()=?,”½²³°¶)}]`` "and so on"): letters,
//!    digits, `.`, `_` and `-` only;
//! 4. at least `{1 character}@{2 characters}.{2 characters}`: something before the `@`, at least
//!    two characters between the `@` and the last dot, a top-level domain of two letters or more;
//! 5. 6 to 265 characters;
//! 6. `+` is the one label character, and only before the `@` (`ali+kampanya@example.com`);
//! 7. no white space.
//!
//! Shape: exactly one `@`; in the local part dots neither first, last nor doubled; the domain
//! of dot-separated labels of letters, digits and hyphens (no hyphen at either end), its last
//! label letters only. Where the document is silent (the regex it links is not in it) we take
//! the stricter reading of what it says, and nothing it does not say: RFC 5321's 64/253/63
//! character limits are not IYS's (its only limit is 265 in all), so they are not checked.

use super::problem::Problem;

pub const MIN_EMAIL_CHARS: usize = 6;
pub const MAX_EMAIL_CHARS: usize = 265;

/// The twelve letters of the Turkish alphabet that are not in ASCII.
pub const TURKISH_LETTERS: &[char] = &['ç', 'ğ', 'ı', 'ö', 'ş', 'ü', 'Ç', 'Ğ', 'İ', 'Ö', 'Ş', 'Ü'];

/// True when `s` contains one of [`TURKISH_LETTERS`].
pub fn has_turkish_letter(s: &str) -> bool {
    s.chars().any(|c| TURKISH_LETTERS.contains(&c))
}

/// Which rules an address is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rules {
    /// What an `iys.email` value may be: an ASCII address of RFC 5322's unquoted shape, 6–265
    /// characters. Never tightened from one release to the next, so that a dump restores.
    Shape,
    /// What IYS takes for an EPOSTA consent: the document's rules 1–7 (module documentation).
    Iys,
}

/// Trims, checks the shape of and lower-cases an e-mail address (an `iys.email` value).
pub fn normalize_email(input: &str) -> Result<String, Problem> {
    normalize(input, Rules::Shape)
}

/// Trims, checks by IYS's e-mail rules 1–7 and lower-cases an EPOSTA recipient.
pub fn normalize_email_for_iys(input: &str) -> Result<String, Problem> {
    normalize(input, Rules::Iys)
}

fn normalize(input: &str, rules: Rules) -> Result<String, Problem> {
    let trimmed = input.trim();
    if let Some(why) = email_defect(trimmed, rules) {
        return Err(Problem::new("H120", "recipient", trimmed, why));
    }
    Ok(trimmed.to_ascii_lowercase())
}

/// What is wrong with a trimmed address, or None when it is acceptable.
fn email_defect(s: &str, rules: Rules) -> Option<String> {
    if s.is_empty() {
        return Some("e-mail address is empty".to_owned());
    }
    if let Some(c) = s.chars().find(|c| TURKISH_LETTERS.contains(c)) {
        return Some(format!(
            "contains the Turkish letter '{c}'; IYS refuses Turkish letters in e-mail addresses"
        ));
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii()) {
        return Some(format!(
            "contains the non-ASCII character {c:?}; only ASCII addresses are accepted"
        ));
    }
    // ASCII from here on: bytes are characters.
    if s.bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Some("contains white space or a control character".to_owned());
    }
    if s.len() < MIN_EMAIL_CHARS || s.len() > MAX_EMAIL_CHARS {
        return Some(format!(
            "is {} characters long; IYS accepts {MIN_EMAIL_CHARS} to {MAX_EMAIL_CHARS}",
            s.len()
        ));
    }
    let (local, domain) = match s.split_once('@') {
        None => return Some("has no '@'".to_owned()),
        Some((_, domain)) if domain.contains('@') => {
            return Some("has more than one '@'".to_owned())
        }
        Some(parts) => parts,
    };
    local_part_defect(local, rules).or_else(|| domain_defect(domain, rules))
}

fn local_part_defect(local: &str, rules: Rules) -> Option<String> {
    if local.is_empty() {
        return Some("has nothing before the '@'".to_owned());
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Some(
            "the part before '@' starts or ends with a dot or has two dots in a row".to_owned(),
        );
    }
    let allowed = |b: u8| match rules {
        Rules::Iys => b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'),
        Rules::Shape => b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-.".contains(&b),
    };
    local.bytes().find(|&b| !allowed(b)).map(|b| match rules {
        Rules::Iys => format!(
            "contains the special character '{}'; IYS allows only letters, digits, '.', '_', '-' and (before the '@') '+'",
            b as char
        ),
        Rules::Shape => format!("the part before '@' contains '{}'", b as char),
    })
}

fn domain_defect(domain: &str, rules: Rules) -> Option<String> {
    if domain.is_empty() {
        return Some("has no domain after the '@'".to_owned());
    }
    if let Some(b) = domain
        .bytes()
        .find(|&b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
    {
        return Some(if b == b'+' {
            "has '+' after the '@'; IYS allows it only before the '@' (a label such as ali+kampanya@...)".to_owned()
        } else {
            format!("contains the special character '{}' in the domain", b as char)
        });
    }
    let Some((name, tld)) = domain.rsplit_once('.') else {
        return Some(format!("the domain '{domain}' has no dot"));
    };
    for label in domain.split('.') {
        if label.is_empty() {
            return Some(format!(
                "the domain '{domain}' has an empty part (a dot at an end or two in a row)"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!("the domain part '{label}' starts or ends with '-'"));
        }
    }
    let tld_ok = match rules {
        Rules::Iys => tld.bytes().all(|b| b.is_ascii_alphabetic()),
        Rules::Shape => !tld.bytes().all(|b| b.is_ascii_digit()),
    };
    if tld.len() < 2 || !tld_ok {
        return Some(format!("'{tld}' is not a top-level domain (two letters or more)"));
    }
    if rules == Rules::Iys && name.len() < 2 {
        return Some(format!(
            "'{name}' before '.{tld}' is shorter than IYS's minimum shape x@xx.xx"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defect(s: &str) -> String {
        let p = normalize_email_for_iys(s).unwrap_err();
        assert_eq!(p.code, "H120", "{s}");
        assert_eq!(p.field, "recipient");
        p.message_en
    }

    #[test]
    fn trims_and_lower_cases() {
        assert_eq!(
            normalize_email("  Ali.Veli@Example.COM ").unwrap(),
            "ali.veli@example.com"
        );
        assert_eq!(normalize_email("a@bc.co").unwrap(), "a@bc.co");
        assert_eq!(
            normalize_email("first+tag@sub.example.com.tr").unwrap(),
            "first+tag@sub.example.com.tr"
        );
        assert_eq!(
            normalize_email("obrien_x-y@my-domain.org").unwrap(),
            "obrien_x-y@my-domain.org"
        );
        assert_eq!(
            normalize_email("ISTANBUL@EXAMPLE.COM").unwrap(),
            "istanbul@example.com"
        );
        assert_eq!(
            normalize_email("user@xn--mnchen-3ya.de").unwrap(),
            "user@xn--mnchen-3ya.de"
        );
    }

    #[test]
    fn rejects_every_turkish_letter() {
        for c in TURKISH_LETTERS {
            let address = format!("ali{c}@example.com");
            assert!(defect(&address).contains("Turkish letter"), "{address}");
        }
        assert!(defect("örnek@mail.com").contains("'ö'"));
        assert!(defect("İSTANBUL@EXAMPLE.COM").contains("'İ'"));
        assert!(defect("ali@şirket.com").contains("Turkish"));
        assert!(has_turkish_letter("ağ"));
        assert!(!has_turkish_letter("ag"));
    }

    #[test]
    fn rejects_other_non_ascii_and_white_space() {
        assert!(defect("josé@example.com").contains("non-ASCII"));
        assert!(defect("ali😀@example.com").contains("non-ASCII"));
        assert!(defect("ali veli@example.com").contains("white space"));
        assert!(defect("ali\t@example.com").contains("white space"));
        assert!(defect("ali\u{0}@example.com").contains("control"));
    }

    #[test]
    fn enforces_iys_length_limits() {
        assert!(defect("").contains("empty"));
        assert!(defect("a@b.c").contains("5 characters"));
        let local = "a".repeat(64);
        let domain = format!(
            "{}.{}.{}.com",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(63)
        );
        let longest = format!("{local}@{domain}");
        assert_eq!(longest.len(), 64 + 1 + 63 * 3 + 2 + 4);
        assert!(normalize_email(&longest).is_ok());
        let too_long = format!("{}@{}.com", "a".repeat(64), "b.".repeat(100));
        assert!(too_long.len() > MAX_EMAIL_CHARS);
        assert!(defect(&too_long).contains("IYS accepts 6 to 265"));
        // RFC 5321's part limits are not IYS's: only the 265 in all counts.
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(65))).is_ok());
        assert!(normalize_email(&format!("a@{}.com", "b".repeat(64))).is_ok());
    }

    /// The document's rules 3, 4 and 6 with its own examples and the issue's.
    #[test]
    fn special_characters_and_the_minimum_shape() {
        for (address, c) in [("a!b@example.com", '!'), ("o'brien@example.com", '\''), ("ali%x@example.com", '%'),
                             ("ali^@example.com", '^'), ("ali&veli@example.com", '&'), ("ali/veli@example.com", '/'),
                             ("a=b@example.com", '='), ("a?b@example.com", '?'), ("a,b@example.com", ','),
                             ("{ali}@example.com", '{'), ("a#b@example.com", '#'), ("a*b@example.com", '*')] {
            let why = defect(address);
            assert!(why.contains(&format!("special character '{c}'")), "{address}: {why}");
        }
        assert!(defect("ali@x.co").contains("minimum shape"));
        assert!(defect("ali@ex+tra.com").contains("only before the '@'"));
        assert_eq!(normalize_email_for_iys("ali+kampanya@ex.co").unwrap(), "ali+kampanya@ex.co");
        assert_eq!(normalize_email_for_iys("a@sub.x.co").unwrap(), "a@sub.x.co");
    }

    /// An `iys.email` value keeps the shape it had in earlier releases (a dump restores); only
    /// an EPOSTA consent is held to IYS's rules.
    #[test]
    fn the_type_checks_the_shape_only() {
        for address in ["o'brien@example.com", "a!b@example.com", "ali@x.co", "ali@example.c0m", "x@y.com"] {
            assert!(normalize_email(address).is_ok(), "{address}");
            assert!(normalize_email_for_iys(address).is_err(), "{address}");
        }
        for address in ["ali@şirket.com", "ali veli@example.com", "a@b.c", "ali@10.0.0.1", "a@b@example.com"] {
            assert!(normalize_email(address).is_err(), "{address}");
        }
    }

    #[test]
    fn rejects_malformed_addresses() {
        assert!(defect("ornekadiniz.com").contains("no '@'"));
        assert!(defect("a@b@example.com").contains("more than one"));
        assert!(defect("@example.com").contains("nothing before"));
        assert!(defect("ali@").contains("4 characters"));
        assert!(defect("ali.veli@").contains("no domain"));
        assert!(defect("ali@localhost").contains("no dot"));
        assert!(defect(".ali@example.com").contains("dot"));
        assert!(defect("ali.@example.com").contains("dot"));
        assert!(defect("ali..veli@example.com").contains("dot"));
        assert!(defect("ali@example..com").contains("empty part"));
        assert!(defect("ali@.example.com").contains("empty part"));
        assert!(defect("ali@example.com.").contains("empty part"));
        assert!(defect("ali@-example.com").contains("'-'"));
        assert!(defect("ali@example-.com").contains("'-'"));
        assert!(defect("ali@exa_mple.com").contains("'_'"));
        assert!(defect("ali@example.c").contains("top-level"));
        assert!(defect("ali@example.c0m").contains("top-level"));
        assert!(defect("ali@10.0.0.1").contains("top-level"));
        assert!(defect("ali@[10.0.0.1]").contains("'['"));
        assert!(defect("\"ali\"@example.com").contains("'\"'"));
        assert!(defect("ali(x)@example.com").contains("'('"));
        assert!(defect("+905321234567").contains("no '@'"));
    }
}
