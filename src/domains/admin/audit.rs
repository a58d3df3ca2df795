//! The audit log of admin actions: who did what to whom, and when.

use rusqlite::{Transaction, params};

pub fn record(
    tx: &Transaction<'_>,
    actor_id: Option<&str>,
    action: &str,
    target: &str,
    detail: &str,
    now: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO audit_log (actor_id, action, target, detail, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![actor_id, action, target, detail, now],
    )?;
    Ok(())
}

/// Forgets a purged account in the log: entries about it (by id, by username, or as a
/// moderated `user <id>`) keep what happened, not whom.
pub fn forget_subject(tx: &Transaction<'_>, id: &str, username: &str) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE audit_log SET target = '(deleted account)'
         WHERE target = ?1 OR target = ?2 COLLATE NOCASE OR target = 'user ' || ?1",
        params![id, username],
    )
}
