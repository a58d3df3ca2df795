//! Access tokens: JWTs signed with HS256 and the install's own key. The algorithm is
//! pinned; `iss`, `aud` and `exp` are required and checked.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

pub const AUDIENCE: &str = "stratamake-api";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// User id.
    pub sub: String,
    /// Session id (refresh-token family).
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
}

/// Why a token was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    Invalid,
}

pub fn issue(key: &[u8], claims: &Claims) -> anyhow::Result<String> {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key),
    )
    .map_err(|e| anyhow::anyhow!("signing an access token failed: {e}"))
}

/// Verifies signature, algorithm, issuer, audience and expiry against `now`.
pub fn verify(key: &[u8], issuer: &str, token: &str, now: i64) -> Result<Claims, TokenError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Expiry is checked below against the application clock, without leeway.
    validation.validate_exp = false;
    let data = decode::<Claims>(token, &DecodingKey::from_secret(key), &validation)
        .map_err(|_| TokenError::Invalid)?;
    if data.claims.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(data.claims)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: "http://x".into(),
            aud: AUDIENCE.into(),
            sub: "u".into(),
            sid: "s".into(),
            iat: 0,
            exp,
        }
    }

    #[test]
    fn accepts_own_tokens_only() {
        let key = b"0123456789abcdef0123456789abcdef";
        let token = issue(key, &claims(100)).unwrap();
        assert_eq!(verify(key, "http://x", &token, 50).unwrap().sub, "u");
        assert_eq!(
            verify(key, "http://x", &token, 100).unwrap_err(),
            TokenError::Expired
        );
        assert_eq!(
            verify(key, "http://y", &token, 50).unwrap_err(),
            TokenError::Invalid
        );
        assert_eq!(
            verify(b"another key another key another k", "http://x", &token, 50).unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn refuses_alg_none_and_other_algorithms() {
        let key = b"0123456789abcdef0123456789abcdef";
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(100)).unwrap());
        for header in [
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"alg":"HS512","typ":"JWT"}"#,
        ] {
            let head = URL_SAFE_NO_PAD.encode(header);
            let forged = format!("{head}.{body}.");
            assert_eq!(
                verify(key, "http://x", &forged, 50).unwrap_err(),
                TokenError::Invalid
            );
        }
    }
}
