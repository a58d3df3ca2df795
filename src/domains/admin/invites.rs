//! Invite links for invite-only signup: made by admins, single use, expiring. Only the
//! hash of a code is stored; the link is shown once, when it is made.

use rusqlite::{OptionalExtension, Transaction, params};

use crate::platform::tokens::hash_token;

/// Marks the invite used by `user_id`; false when the code is unknown, used or expired.
pub fn redeem(tx: &Transaction<'_>, code: &str, user_id: &str, now: i64) -> rusqlite::Result<bool> {
    let id: Option<String> = tx
        .query_row(
            "SELECT id FROM invites WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
            params![hash_token(code.trim()), now],
            |r| r.get(0),
        )
        .optional()?;
    let Some(id) = id else { return Ok(false) };
    tx.execute(
        "UPDATE invites SET used_at = ?2, used_by = ?3 WHERE id = ?1",
        params![id, now, user_id],
    )?;
    Ok(true)
}
