//! Rules for usernames and email addresses.

use crate::error::{ApiError, ApiResult};

/// Names that would clash with pages or mislead other users.
const RESERVED: &[&str] = &[
    "admin",
    "administrator",
    "api",
    "root",
    "setup",
    "settings",
    "login",
    "logout",
    "signup",
    "support",
    "help",
    "about",
    "privacy",
    "terms",
    "system",
    "stratamake",
    "moderator",
    "blobs",
    "static",
    "assets",
    "me",
    "null",
    "undefined",
];

/// Usernames: 3 to 30 letters, digits, `_` or `.`, starting with a letter or digit.
/// Returns the name in lower case.
pub fn username(value: &str) -> ApiResult<String> {
    let name = value.trim().to_lowercase();
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if !(3..=30).contains(&name.len()) || !valid_chars || !first_ok {
        return Err(ApiError::field(
            "username",
            "Use 3 to 30 letters, digits, _ or ., starting with a letter or digit.",
        ));
    }
    if RESERVED.contains(&name.as_str()) {
        return Err(ApiError::field("username", "This username is reserved."));
    }
    Ok(name)
}

/// A syntactically valid address with a dotted domain, at most 254 characters.
/// Returns it trimmed, with the domain in lower case.
pub fn email(field: &str, value: &str) -> ApiResult<String> {
    let email = value.trim();
    let parsed: Result<lettre::Address, _> = email.parse();
    match parsed {
        Ok(address) if email.len() <= 254 && address.domain().contains('.') => Ok(format!(
            "{}@{}",
            address.user(),
            address.domain().to_lowercase()
        )),
        _ => Err(ApiError::field(field, "Enter a valid email address.")),
    }
}

/// A new account's confirmations: at least 13 years old, Terms and Privacy accepted.
pub fn consents(age_confirmed: bool, accept_terms: bool) -> ApiResult<()> {
    if !age_confirmed {
        return Err(ApiError::field(
            "age_confirmed",
            "You must be at least 13 years old to use this service.",
        ));
    }
    if !accept_terms {
        return Err(ApiError::field(
            "accept_terms",
            "Accept the Terms of Service and Privacy Policy to continue.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(username(" Alice_1 ").unwrap(), "alice_1");
        assert!(username("ab").is_err());
        assert!(username("_alice").is_err());
        assert!(username("al ice").is_err());
        assert!(username("admin").is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(email("e", "Bob@Example.ORG").unwrap(), "Bob@example.org");
        assert!(email("e", "bob@localhost").is_err());
        assert!(email("e", "not an email").is_err());
    }
}
