//! The credit ledger. Entries are only ever appended; a user's balance is the sum of
//! their entries. A user with no entries yet has the configured starting balance,
//! written as a `starting` entry the first time anything is booked for them.
//!
//! A job's cost is reserved (a negative entry) in the transaction that queues it. When
//! the job ends, the same transaction that records its end either settles the
//! reservation (a zero entry naming the charge) or refunds it (a positive entry).

use rusqlite::{Connection, Transaction, params};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub id: i64,
    /// Positive adds credits, negative takes them.
    pub amount: i64,
    /// `starting`, `grant`, `reserve`, `settle` or `refund`.
    pub kind: String,
    pub job_id: Option<String>,
    pub note: String,
    pub created_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("not enough credits: {needed} needed, {balance} left")]
    Insufficient { needed: i64, balance: i64 },
    #[error(transparent)]
    Db(#[from] rusqlite::Error),
}

fn has_entries(conn: &Connection, user_id: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM credit_entries WHERE user_id = ?1)",
        [user_id],
        |r| r.get(0),
    )
}

/// The user's balance (the starting balance if nothing was booked yet).
pub fn balance(conn: &Connection, user_id: &str, starting: i64) -> rusqlite::Result<i64> {
    if !has_entries(conn, user_id)? {
        return Ok(starting);
    }
    conn.query_row(
        "SELECT COALESCE(SUM(amount), 0) FROM credit_entries WHERE user_id = ?1",
        [user_id],
        |r| r.get(0),
    )
}

fn append(
    tx: &Transaction<'_>,
    user_id: &str,
    amount: i64,
    kind: &str,
    job_id: Option<&str>,
    note: &str,
    now: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO credit_entries (user_id, amount, kind, job_id, note, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![user_id, amount, kind, job_id, note, now],
    )?;
    Ok(())
}

/// Books the starting balance before the user's first entry.
fn open_account(
    tx: &Transaction<'_>,
    user_id: &str,
    starting: i64,
    now: i64,
) -> rusqlite::Result<()> {
    if !has_entries(tx, user_id)? {
        append(
            tx,
            user_id,
            starting,
            "starting",
            None,
            "starting balance",
            now,
        )?;
    }
    Ok(())
}

/// Reserves a job's cost; refused when the balance does not cover it.
pub fn reserve(
    tx: &Transaction<'_>,
    user_id: &str,
    job_id: &str,
    cost: i64,
    starting: i64,
    now: i64,
) -> Result<(), LedgerError> {
    open_account(tx, user_id, starting, now)?;
    let balance = balance(tx, user_id, starting)?;
    if balance < cost {
        return Err(LedgerError::Insufficient {
            needed: cost,
            balance,
        });
    }
    append(
        tx,
        user_id,
        -cost,
        "reserve",
        Some(job_id),
        "reserved for a job",
        now,
    )?;
    Ok(())
}

/// The job succeeded: its reservation becomes the charge.
pub fn settle(
    tx: &Transaction<'_>,
    user_id: &str,
    job_id: &str,
    cost: i64,
    now: i64,
) -> rusqlite::Result<()> {
    append(
        tx,
        user_id,
        0,
        "settle",
        Some(job_id),
        &format!("charged {cost}"),
        now,
    )
}

/// The job failed or was cancelled: its reservation comes back.
pub fn refund(
    tx: &Transaction<'_>,
    user_id: &str,
    job_id: &str,
    cost: i64,
    reason: &str,
    now: i64,
) -> rusqlite::Result<()> {
    append(tx, user_id, cost, "refund", Some(job_id), reason, now)
}

/// An admin adds (or, negative, removes) credits.
pub fn grant(
    tx: &Transaction<'_>,
    user_id: &str,
    amount: i64,
    note: &str,
    starting: i64,
    now: i64,
) -> rusqlite::Result<()> {
    open_account(tx, user_id, starting, now)?;
    append(tx, user_id, amount, "grant", None, note, now)
}

/// The user's latest entries, newest first.
pub fn recent(conn: &Connection, user_id: &str, limit: i64) -> rusqlite::Result<Vec<Entry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, amount, kind, job_id, note, created_at FROM credit_entries
         WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![user_id, limit], |r| {
        Ok(Entry {
            id: r.get(0)?,
            amount: r.get(1)?,
            kind: r.get(2)?,
            job_id: r.get(3)?,
            note: r.get(4)?,
            created_at: r.get(5)?,
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE users (id TEXT PRIMARY KEY); INSERT INTO users VALUES ('ann');",
        )
        .unwrap();
        conn.execute_batch(include_str!("../../../migrations/0004_generation.sql"))
            .unwrap();
        conn
    }

    #[test]
    fn reserve_settle_and_refund_keep_the_balance_right() {
        let mut conn = conn();
        assert_eq!(balance(&conn, "ann", 10).unwrap(), 10);
        let tx = conn.transaction().unwrap();
        reserve(&tx, "ann", "j1", 4, 10, 1).unwrap();
        reserve(&tx, "ann", "j2", 4, 10, 1).unwrap();
        assert!(matches!(
            reserve(&tx, "ann", "j3", 4, 10, 1),
            Err(LedgerError::Insufficient {
                needed: 4,
                balance: 2
            })
        ));
        settle(&tx, "ann", "j1", 4, 2).unwrap();
        refund(&tx, "ann", "j2", 4, "cancelled", 2).unwrap();
        tx.commit().unwrap();
        assert_eq!(balance(&conn, "ann", 10).unwrap(), 6);
        // The starting balance was booked once; a later change of the setting does not
        // alter an account that has entries.
        assert_eq!(balance(&conn, "ann", 1000).unwrap(), 6);
        let kinds: Vec<String> = recent(&conn, "ann", 10)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            ["refund", "settle", "reserve", "reserve", "starting"]
        );
    }
}
