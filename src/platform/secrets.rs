//! Install secrets: random keys made on first start and kept in the database.

use anyhow::Context;
use rusqlite::OptionalExtension;

use super::db::{Db, DbError};
use super::tokens::random_bytes;

/// Keys this install signs and authenticates with.
#[derive(Clone)]
pub struct InstallSecrets {
    /// HMAC key for access tokens (JWT, HS256).
    pub jwt_key: Vec<u8>,
    /// HMAC key for proof-of-work challenges and other signed values.
    pub hmac_key: Vec<u8>,
}

/// HMAC-SHA256 of `message` for one `purpose` (so a value signed for one use is never
/// valid for another), base64url without padding.
pub fn mac(key: &[u8], purpose: &str, message: &str) -> String {
    use base64::Engine;
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(purpose.as_bytes());
    mac.update(b":");
    mac.update(message.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

impl InstallSecrets {
    /// Signs `message` for `purpose` with the install's HMAC key.
    pub fn sign(&self, purpose: &str, message: &str) -> String {
        mac(&self.hmac_key, purpose, message)
    }

    /// Whether `signature` is this install's signature of `message` for `purpose`.
    pub fn verify(&self, purpose: &str, message: &str, signature: &str) -> bool {
        super::tokens::constant_time_eq(
            self.sign(purpose, message).as_bytes(),
            signature.as_bytes(),
        )
    }

    /// Loads the secrets, creating any that do not exist yet. Returns whether this was
    /// the first start (no secret existed).
    pub async fn load_or_create(db: &Db, now: i64) -> anyhow::Result<(Self, bool)> {
        db.write(move |tx| {
            let mut created = false;
            let mut get = |name: &str| -> rusqlite::Result<Vec<u8>> {
                let existing: Option<Vec<u8>> = tx
                    .query_row(
                        "SELECT value FROM install_secrets WHERE name = ?1",
                        [name],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(value) = existing {
                    return Ok(value);
                }
                created = true;
                let value = random_bytes::<32>().to_vec();
                tx.execute(
                    "INSERT INTO install_secrets (name, value, created_at) VALUES (?1, ?2, ?3)",
                    rusqlite::params![name, value, now],
                )?;
                Ok(value)
            };
            let secrets = InstallSecrets {
                jwt_key: get("jwt_hs256")?,
                hmac_key: get("hmac")?,
            };
            Ok::<_, DbError>((secrets, created))
        })
        .await
        .context("loading install secrets")
    }
}
