//! Instance settings the admin changes at run time (kept in the `settings` table):
//! signup mode, whether signup needs the proof of work, and the default storage quota.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignupMode {
    Open,
    Invite,
    Closed,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InstanceSettings {
    pub signup_mode: SignupMode,
    pub pow_required: bool,
    /// Bytes each user may store unless an admin set their own quota; when absent, the
    /// config's `storage.default_quota_bytes`.
    #[serde(default)]
    pub default_quota_bytes: Option<u64>,
}

impl Default for InstanceSettings {
    fn default() -> Self {
        Self {
            signup_mode: SignupMode::Open,
            pow_required: true,
            default_quota_bytes: None,
        }
    }
}

const KEY: &str = "instance";

pub fn get(conn: &Connection) -> rusqlite::Result<InstanceSettings> {
    let stored: Option<String> = conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [KEY], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(stored
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}

pub fn put(tx: &Transaction<'_>, settings: &InstanceSettings) -> rusqlite::Result<()> {
    let value = serde_json::to_string(settings).expect("settings serialize");
    tx.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![KEY, value],
    )?;
    Ok(())
}
