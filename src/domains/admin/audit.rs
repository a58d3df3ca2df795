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

/// Forgets a purged account in the log: entries about it keep what happened, not whom.
pub fn forget_subject(tx: &Transaction<'_>, names: &[&str]) -> rusqlite::Result<usize> {
    let mut changed = 0;
    for name in names {
        changed += tx.execute(
            "UPDATE audit_log SET target = '(deleted account)' WHERE target = ?1",
            [name],
        )?;
    }
    Ok(changed)
}
