//! Random secrets and their at-rest form: tokens are 256-bit random values shown once,
//! and only their SHA-256 is stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// `n` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the operating system random source is unavailable");
    buf
}

/// A new 256-bit token, URL-safe base64 (43 characters).
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// `bytes` in lowercase base32 (Crockford's alphabet), `len` characters.
fn base32(bytes: &[u8], len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for byte in bytes {
        acc = (acc << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 && out.len() < len {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    out
}

/// A new random identifier (128 bits, 26 lowercase base32 characters).
pub fn new_id() -> String {
    base32(&random_bytes::<17>(), 26)
}

/// A new identifier that sorts by creation time (milliseconds, then 80 random bits),
/// 26 characters like [`new_id`].
pub fn new_sortable_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    // 48 bits of time as 10 characters (the top 2 bits of 50 are zero).
    let time = base32(&(millis << 16).to_be_bytes()[..7], 10);
    format!("{time}{}", base32(&random_bytes::<10>(), 16))
}

/// The stored form of a token: lowercase hex SHA-256.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two secrets in constant time.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = new_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_token());
        assert_eq!(new_id().len(), 26);
        let first = new_sortable_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_sortable_id();
        assert_eq!(first.len(), 26);
        assert!(first < second, "{first} < {second}");
        assert_eq!(hash_token("x").len(), 64);
    }
}
