//! Random identifiers shaped like IYS's: UUIDs for requestId/subRequestId, 64 hex digits for
//! transactionId, opaque strings for tokens.

/// `n` random lower-case hex digits (n <= 64), 128 bits per RNG call.
fn hex(n: usize) -> String {
    let mut s = format!("{:032x}{:032x}", fastrand::u128(..), fastrand::u128(..));
    s.truncate(n);
    s
}

/// A version-4-looking UUID.
pub fn uuid() -> String {
    let h = hex(32);
    let variant = ['8', '9', 'a', 'b'][fastrand::usize(..4)];
    format!("{}-{}-4{}-{}{}-{}", &h[0..8], &h[8..12], &h[13..16], variant, &h[17..20], &h[20..32])
}

pub fn transaction_id() -> String {
    hex(64)
}

pub fn token(prefix: &str) -> String {
    format!("{prefix}.{}", hex(48))
}

#[cfg(test)]
#[test]
fn hex_digits_vary() {
    let a = hex(64);
    assert_eq!(a.len(), 64);
    assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(a, hex(64));
}

#[cfg(test)]
mod tests {
    #[test]
    fn shapes() {
        let u = super::uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(u.matches('-').count(), 4);
        assert_eq!(super::transaction_id().len(), 64);
    }
}
