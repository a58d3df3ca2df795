//! Periodic clean-up of the auth domain's short-lived rows: redeemed proofs of work,
//! setup and email tokens, pending OpenID sign-ins, and sessions long over.

use rusqlite::Transaction;

/// Ended sessions are kept this long (the user sees them in the security log export).
const ENDED_SESSIONS_KEPT: i64 = 30 * 24 * 3600;

pub fn clean(tx: &Transaction<'_>, now: i64) -> rusqlite::Result<usize> {
    let mut removed = 0;
    removed += tx.execute("DELETE FROM pow_redeemed WHERE expires_at <= ?1", [now])?;
    removed += tx.execute("DELETE FROM oidc_pending WHERE expires_at <= ?1", [now])?;
    removed += tx.execute("DELETE FROM setup_tokens WHERE expires_at <= ?1", [now])?;
    removed += tx.execute(
        "DELETE FROM email_tokens WHERE expires_at <= ?1 OR used_at IS NOT NULL",
        [now],
    )?;
    removed += tx.execute(
        "DELETE FROM sessions WHERE COALESCE(revoked_at, expires_at) <= ?1",
        [now - ENDED_SESSIONS_KEPT],
    )?;
    removed += tx.execute(
        "DELETE FROM refresh_tokens WHERE rotated_at IS NOT NULL AND rotated_at <= ?1
           AND session_id IN (SELECT id FROM sessions WHERE revoked_at IS NOT NULL OR expires_at <= ?2)",
        [now - ENDED_SESSIONS_KEPT, now],
    )?;
    Ok(removed)
}
