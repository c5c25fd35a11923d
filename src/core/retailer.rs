//! Retailers (bayi): the retailer that collected a consent (`retailerCode`) and the retailers
//! that may see it (`retailerAccess`), sent with the consent as IYS's document describes. IYS
//! numbers a retailer with an 8-digit code; the access list is not empty (H163) and holds at
//! most 3000 codes (H126). A value IYS would refuse is H118, as IYS answers it.

use super::problem::Problem;

/// The most retailers one consent may name in `retailerAccess` (H126).
pub const MAX_ACCESS: usize = 3000;

/// An 8-digit IYS retailer code, as typed (spaces around it are ignored).
pub fn parse_code(raw: &str, field: &'static str) -> Result<i64, Problem> {
    let t = raw.trim();
    match t.parse::<i64>() {
        Ok(n) if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(Problem::new("H118", field, t, "a retailer code is the 8-digit number IYS gave the retailer")),
    }
}

/// An access list from a text (`12345678, 23456789`) or an array's text form (`{12345678,23456789}`).
pub fn parse_access(raw: &str) -> Result<Vec<i64>, Problem> {
    let items: Vec<&str> = raw
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Err(Problem::new("H163", "retailerAccess", raw.trim(), "the list of retailers with access must not be empty"));
    }
    if items.len() > MAX_ACCESS {
        return Err(Problem::new("H126", "retailerAccess", &items.len().to_string(), "at most 3000 retailers may have access to a consent"));
    }
    items.iter().map(|item| parse_code(item, "retailerAccess")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_eight_digits() {
        assert_eq!(parse_code(" 55550127 ", "retailerCode"), Ok(55550127));
        for bad in ["5555012", "555501270", "5555O127", "-5555012", ""] {
            assert_eq!(parse_code(bad, "retailerCode").unwrap_err().code, "H118", "{bad:?}");
        }
    }

    #[test]
    fn access_lists_from_text_or_arrays() {
        assert_eq!(parse_access("{55550127,98528475}"), Ok(vec![55550127, 98528475]));
        assert_eq!(parse_access("55550127; 98528475 "), Ok(vec![55550127, 98528475]));
        assert_eq!(parse_access(" {} ").unwrap_err().code, "H163");
        let long = vec!["55550127"; MAX_ACCESS + 1].join(",");
        assert_eq!(parse_access(&long).unwrap_err().code, "H126");
        assert_eq!(parse_access("55550127,123").unwrap_err().code, "H118");
    }
}
