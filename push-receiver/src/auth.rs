//! HTTP basic authentication of IYS's requests.

use crate::config::Credentials;

/// Whether an `Authorization` header value carries exactly these credentials. The comparison
/// takes as long whatever the first differing byte (no timing hint to a guesser).
pub fn is_authorised(header: Option<&str>, expected: &Credentials) -> bool {
    let Some(encoded) = header.and_then(|h| h.trim().strip_prefix("Basic ").or_else(|| h.trim().strip_prefix("basic "))) else {
        return false;
    };
    let Some(decoded) = decode_base64(encoded.trim()) else { return false };
    let wanted = format!("{}:{}", expected.username, expected.password);
    constant_time_eq(&decoded, wanted.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut differ = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        differ |= (a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0)) as usize;
    }
    differ == 0
}

/// Standard base64 with padding (RFC 4648 §4), as basic authentication uses it.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = text.as_bytes();
    if bytes.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (n, chunk) in bytes.chunks(4).enumerate() {
        let last = n == bytes.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut acc = 0u32;
        for &c in &chunk[..4 - pad] {
            acc = acc << 6 | value(c)?;
        }
        acc <<= 6 * pad as u32;
        out.extend_from_slice(&acc.to_be_bytes()[1..4 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials { username: "Api123".into(), password: "3Kn.ls76412".into() }
    }

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(decode_base64("QXBpMTIzOjNLbi5sczc2NDEy").as_deref(), Some(&b"Api123:3Kn.ls76412"[..]));
        assert_eq!(decode_base64("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(decode_base64("YWI=").as_deref(), Some(&b"ab"[..]));
        assert_eq!(decode_base64("YWJj").as_deref(), Some(&b"abc"[..]));
        assert_eq!(decode_base64(""), Some(Vec::new()));
        assert_eq!(decode_base64("YQ="), None);
        assert_eq!(decode_base64("Y===").as_deref(), None);
        assert_eq!(decode_base64("YQ==YQ=="), None);
        assert_eq!(decode_base64("Y!=="), None);
    }

    #[test]
    fn only_the_registered_credentials_pass() {
        assert!(is_authorised(Some("Basic QXBpMTIzOjNLbi5sczc2NDEy"), &creds()));
        assert!(!is_authorised(Some("Basic QXBpMTIzOjNLbi5sczc2NDE="), &creds()));
        assert!(!is_authorised(Some("Bearer QXBpMTIzOjNLbi5sczc2NDEy"), &creds()));
        assert!(!is_authorised(Some("Basic not-base64"), &creds()));
        assert!(!is_authorised(None, &creds()));
    }
}
