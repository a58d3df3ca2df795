//! SQLite behind an async API: one writer thread that runs every write in its own
//! `IMMEDIATE` transaction, and a pool of read-only connections for reads.
//!
//! Durability: WAL with `synchronous=FULL`, so a write whose future has resolved is on
//! disk and survives a crash or power loss.

use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use tokio::sync::{Semaphore, oneshot};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database is shutting down")]
    Closed,
}

type WriteJob = Box<dyn FnOnce(&mut Connection) + Send>;

#[derive(Clone)]
pub struct Db {
    writer: mpsc::Sender<WriteJob>,
    readers: Arc<ReaderPool>,
}

struct ReaderPool {
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

const READERS: usize = 4;

impl ReaderPool {
    /// Runs `f` on an idle reader; the caller holds a permit, so one is idle.
    fn with_idle<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        let conn = self
            .idle
            .lock()
            .expect("reader pool poisoned")
            .pop()
            .expect("a permit guarantees an idle reader");
        let result = f(&conn);
        self.idle.lock().expect("reader pool poisoned").push(conn);
        result
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Query-planner stability: without it SQLite marks parameters that could change
    // the plan, and a cached statement whose bindings are cleared (as rusqlite's cache
    // does) is recompiled on every use — measured as a full SQL parse per request.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

impl Db {
    /// Opens the database file and returns the writer connection's handle after
    /// `prepare` (migrations) has run on it.
    pub fn open(
        path: &Path,
        prepare: impl FnOnce(&mut Connection) -> anyhow::Result<()>,
    ) -> anyhow::Result<Self> {
        let mut writer = Connection::open(path)?;
        let mode: String =
            writer.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            anyhow::bail!("the database at {} cannot use WAL mode", path.display());
        }
        configure(&writer)?;
        prepare(&mut writer)?;

        let mut idle = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            configure(&reader)?;
            reader.pragma_update(None, "query_only", true)?;
            idle.push(reader);
        }

        let (sender, receiver) = mpsc::channel::<WriteJob>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                while let Ok(job) = receiver.recv() {
                    job(&mut writer);
                }
            })?;
        Ok(Self {
            writer: sender,
            readers: Arc::new(ReaderPool {
                idle: Mutex::new(idle),
                permits: Semaphore::new(READERS),
            }),
        })
    }

    /// Runs `f` in a write transaction; commits when it returns `Ok`, rolls back on `Err`.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, E> + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let job: WriteJob = Box::new(move |conn| {
            let outcome = (|| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(|e| E::from(DbError::from(e)))?;
                let value = f(&tx)?;
                tx.commit().map_err(|e| E::from(DbError::from(e)))?;
                Ok(value)
            })();
            let _ = done.send(outcome);
        });
        self.writer
            .send(job)
            .map_err(|_| E::from(DbError::Closed))?;
        result.await.map_err(|_| E::from(DbError::Closed))?
    }

    /// Runs `f` on a read-only connection.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let readers = self.readers.clone();
        let _permit = readers
            .permits
            .acquire()
            .await
            .map_err(|_| E::from(DbError::Closed))?;
        let pool = readers.clone();
        tokio::task::spawn_blocking(move || pool.with_idle(f))
            .await
            .map_err(|_| E::from(DbError::Closed))?
    }
}

impl Db {
    /// Runs a short read (point lookups, one page of a list) on a reader connection,
    /// inline on the calling task: it saves the hand-off to a blocking thread, which
    /// costs more than such a query. Long reads use [`Db::read`].
    pub async fn query<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<T>,
    {
        let _permit = self
            .readers
            .permits
            .acquire()
            .await
            .map_err(|_| DbError::Closed)?;
        self.readers.with_idle(f).map_err(DbError::from)
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    /// Cached statements are reused as compiled, not recompiled on every call.
    #[tokio::test]
    async fn cached_statements_are_not_recompiled() {
        let dir = tempfile::tempdir().unwrap();
        let db = super::Db::open(&dir.path().join("x.db"), |conn| {
            let migrations = crate::platform::migrations::embedded()?;
            crate::platform::migrations::apply(conn, &migrations, 0)?;
            conn.execute_batch(
                "INSERT INTO users (id, username, email, created_at) VALUES ('u', 'a', 'a@example.org', 1);
                 INSERT INTO sessions (id, user_id, created_at, expires_at, last_used_at) VALUES ('s', 'u', 1, 99, 1);",
            )?;
            Ok(())
        })
        .unwrap();
        let mut recompiled = 0;
        for now in 0..5i64 {
            recompiled = db
                .query(|conn| {
                    let mut stmt = conn.prepare_cached(
                        "SELECT u.id FROM sessions s JOIN users u ON u.id = s.user_id
                         WHERE s.id = ?1 AND s.expires_at > ?2",
                    )?;
                    stmt.query_row(rusqlite::params!["s", now], |r| r.get::<_, String>(0))?;
                    Ok(stmt.get_status(StatementStatus::RePrepare))
                })
                .await
                .unwrap();
        }
        assert_eq!(recompiled, 0);
    }
}
