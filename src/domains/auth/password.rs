//! Password rules and hashing: argon2id with OWASP's parameters, 8 to 128 characters,
//! and no password from the shipped list of common and breached passwords.

use std::collections::HashSet;
use std::sync::LazyLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{ApiError, ApiResult};

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 128;

static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common-passwords.txt").lines().collect());

/// A hash of a random password, verified against when an account does not exist so
/// that both paths take the same time.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash("not a real password: equal timing").expect("hashing works"));

fn argon2() -> Argon2<'static> {
    // OWASP: argon2id, m = 19 MiB, t = 2, p = 1.
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks the rules; `field` names the form field in the error.
pub fn check_policy(field: &str, password: &str, personal: &[&str]) -> ApiResult<()> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(ApiError::field(
            field,
            format!("Use at least {MIN_LENGTH} characters."),
        ));
    }
    if length > MAX_LENGTH {
        return Err(ApiError::field(
            field,
            format!("Use at most {MAX_LENGTH} characters."),
        ));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(lower.as_str()) {
        return Err(ApiError::field(
            field,
            "This password is too common: it appears in lists of leaked passwords.",
        ));
    }
    if personal
        .iter()
        .any(|p| !p.is_empty() && lower == p.to_lowercase())
    {
        return Err(ApiError::field(
            field,
            "The password must not be your username or email.",
        ));
    }
    Ok(())
}

/// The PHC string of an argon2id hash with a fresh salt.
pub fn hash(password: &str) -> anyhow::Result<String> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password failed: {e}"))
}

/// Verifies `password` against a stored hash, or against a dummy hash when there is
/// none, so the caller's timing does not tell whether an account exists.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let (candidate, real) = match stored {
        Some(hash) => (hash, true),
        None => (DUMMY_HASH.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(candidate) else {
        return false;
    };
    let ok = argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && real
}

/// Prepares the password list and dummy hash off the start-up path, so the first
/// sign-in is not slower than the rest.
pub fn warm_up_in_background() {
    std::thread::spawn(|| {
        LazyLock::force(&COMMON);
        LazyLock::force(&DUMMY_HASH);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_rejects_short_long_common_and_personal() {
        assert!(check_policy("p", "short", &[]).is_err());
        assert!(check_policy("p", &"x".repeat(129), &[]).is_err());
        assert!(check_policy("p", "password1", &[]).is_err());
        assert!(
            check_policy("p", "PassWord1", &[]).is_err(),
            "the list ignores case"
        );
        assert!(check_policy("p", "alice-long-name", &["Alice-Long-Name"]).is_err());
        assert!(check_policy("p", "violet kettle drum 42", &[]).is_ok());
    }

    #[test]
    fn hash_verifies_and_uses_argon2id_owasp_parameters() {
        let h = hash("violet kettle drum 42").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("violet kettle drum 42", Some(&h)));
        assert!(!verify("wrong", Some(&h)));
        assert!(!verify("anything", None));
    }
}
