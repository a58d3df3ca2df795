//! Full-text search: the tantivy index in `data/index/`, kept up to date from the
//! SQLite outbox by one writer task, and rebuilt from SQLite when asked or when the
//! index is missing, corrupt or of an older schema — while searches keep being answered.
//!
//! - Writes that change something searchable add `(kind, key)` rows to `search_outbox`
//!   in their own transaction (the community migration's triggers do it), so a crash
//!   between the write and the index loses nothing.
//! - The writer task reads the outbox every 250 ms, asks the app's [`Source`] what
//!   each entry now means for the index, applies it in one commit that records the last
//!   sequence number, then deletes the applied rows. Readers see a commit at once.
//! - A rebuild writes a whole new index beside the live one (`data/index/gen-N/`) from
//!   one consistent read of SQLite, records the outbox position of that read, switches
//!   `data/index/CURRENT` to it, and the writer goes on from that position.
//! - The `stratamake search reindex` command asks a running server to rebuild (a row in
//!   `search_state`), or rebuilds itself when no server holds the index.
//!
//! This module knows nothing of posts or people: the app hands over documents.

pub mod engine;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension};

pub use engine::{Change, DocKind, Document, Hit, Query, SearchError, SearchIndex, Sort};

use super::db::{Db, DbError};

/// How the app's data becomes documents.
pub trait Source: Send + Sync + 'static {
    /// What the outbox entry `(kind, key)` means for the index now: upserts of the
    /// current documents, deletes of those that should no longer be found. `index` is
    /// the live index (to read a document's old tags, say).
    fn changes(
        &self,
        conn: &Connection,
        index: &SearchIndex,
        kind: &str,
        key: &str,
    ) -> anyhow::Result<Vec<Change>>;

    /// Every document that belongs in the index, for a rebuild.
    fn every_document(
        &self,
        conn: &Connection,
        each: &mut dyn FnMut(Document) -> anyhow::Result<()>,
    ) -> anyhow::Result<()>;
}

/// Documents per commit during a rebuild.
const REBUILD_BATCH: usize = 10_000;
/// Outbox entries per commit of the writer task.
const OUTBOX_BATCH: i64 = 2_000;
const POLL: Duration = Duration::from_millis(250);
/// The `search_state` row that asks the server for a rebuild.
const REINDEX_REQUESTED: &str = "reindex_requested";

/// The live index and its folder.
pub struct Search {
    root: PathBuf,
    current: RwLock<(SearchIndex, PathBuf)>,
    rebuild_wanted: AtomicBool,
    rebuilding: AtomicBool,
}

fn generation_dir(root: &Path, n: u64) -> PathBuf {
    root.join(format!("gen-{n}"))
}

fn read_current(root: &Path) -> Option<PathBuf> {
    let name = std::fs::read_to_string(root.join("CURRENT")).ok()?;
    let name = name.trim();
    (name.starts_with("gen-") && !name.contains('/')).then(|| root.join(name))
}

/// Points `CURRENT` at `dir` (write, sync, rename).
fn write_current(root: &Path, dir: &Path) -> std::io::Result<()> {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let staged = root.join("CURRENT.tmp");
    std::fs::write(&staged, name)?;
    std::fs::File::open(&staged)?.sync_all()?;
    std::fs::rename(&staged, root.join("CURRENT"))?;
    std::fs::File::open(root)?.sync_all()
}

/// A folder for the next generation, after every one on disk.
fn next_generation(root: &Path) -> std::io::Result<PathBuf> {
    let mut highest = 0;
    for entry in std::fs::read_dir(root)? {
        let name = entry?.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_prefix("gen-"))
            .and_then(|n| n.parse::<u64>().ok())
        {
            highest = highest.max(n);
        }
    }
    Ok(generation_dir(root, highest + 1))
}

/// Removes every generation but `keep`.
fn remove_others(root: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_generation = entry.file_name().to_string_lossy().starts_with("gen-");
        if is_generation
            && path != keep
            && let Err(error) = std::fs::remove_dir_all(&path)
        {
            tracing::warn!(%error, dir = %path.display(), "cannot remove an old search index");
        }
    }
}

/// The outbox position a rebuild starts from: the last sequence number ever given.
fn outbox_position(conn: &Connection) -> rusqlite::Result<i64> {
    Ok(conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'search_outbox'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

/// Writes a complete new index into `dir` from one consistent read of the database.
/// Returns it and how many documents it holds.
fn build(conn: &Connection, source: &dyn Source, dir: &Path) -> anyhow::Result<SearchIndex> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let index = SearchIndex::create(dir)?;
    conn.execute_batch("BEGIN")?;
    let built = (|| -> anyhow::Result<()> {
        let position = outbox_position(conn)?;
        let mut batch = Vec::with_capacity(REBUILD_BATCH);
        source.every_document(conn, &mut |document| {
            batch.push(Change::Upsert(document));
            if batch.len() == REBUILD_BATCH {
                index.apply(std::mem::take(&mut batch), position)?;
            }
            Ok(())
        })?;
        index.apply(batch, position)?;
        Ok(())
    })();
    conn.execute_batch("COMMIT").ok();
    built?;
    Ok(index)
}

impl Search {
    /// Opens the live index under `root`. A missing, corrupt or old index is replaced by
    /// an empty one at once and a rebuild is wanted (the writer task does it), so start-up
    /// never waits for it. Fails only when another process holds the index.
    pub fn open(root: &Path) -> anyhow::Result<Arc<Self>> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create {}", root.display()))?;
        let opened = match read_current(root) {
            Some(dir) => match SearchIndex::open(&dir) {
                Ok(index) => Some((index, dir)),
                Err(SearchError::Locked(why)) => {
                    anyhow::bail!(
                        "another StrataMake server is using this data dir (its search index {} \
                         is locked: {why}); stop it first",
                        dir.display()
                    )
                }
                Err(error) => {
                    tracing::warn!(%error, dir = %dir.display(), "the search index is unusable; rebuilding it");
                    None
                }
            },
            None => None,
        };
        let rebuild_wanted = opened.is_none();
        let (index, dir) = match opened {
            Some(found) => found,
            None => {
                let dir = next_generation(root)?;
                let index = SearchIndex::create(&dir)?;
                write_current(root, &dir)?;
                (index, dir)
            }
        };
        remove_others(root, &dir);
        Ok(Arc::new(Search {
            root: root.to_path_buf(),
            current: RwLock::new((index, dir)),
            rebuild_wanted: AtomicBool::new(rebuild_wanted),
            rebuilding: AtomicBool::new(false),
        }))
    }

    /// The live index, for searching.
    pub fn index(&self) -> SearchIndex {
        self.current.read().expect("search lock poisoned").0.clone()
    }

    /// A rebuild is wanted or running: results may be incomplete.
    pub fn rebuilding(&self) -> bool {
        self.rebuilding.load(Ordering::Relaxed) || self.rebuild_wanted.load(Ordering::Relaxed)
    }

    /// Rebuilds from the database into a new generation and switches to it.
    async fn rebuild(&self, db: &Db, source: Arc<dyn Source>) -> anyhow::Result<u64> {
        self.rebuilding.store(true, Ordering::Relaxed);
        let result = self.build_and_switch(db, source).await;
        self.rebuilding.store(false, Ordering::Relaxed);
        result
    }

    async fn build_and_switch(&self, db: &Db, source: Arc<dyn Source>) -> anyhow::Result<u64> {
        let dir = next_generation(&self.root)?;
        let target = dir.clone();
        let built = db
            .read(move |conn| Ok::<_, anyhow::Error>(build(conn, source.as_ref(), &target)))
            .await?
            .and_then(|index| {
                write_current(&self.root, &dir)?;
                Ok(index)
            });
        match built {
            Ok(index) => {
                let count = index.doc_count();
                let applied = index.applied_seq();
                *self.current.write().expect("search lock poisoned") = (index, dir.clone());
                remove_others(&self.root, &dir);
                // What the new index already holds leaves the outbox (whose keys name
                // people: nothing of a purged account may stay there).
                db.write(move |tx| {
                    tx.execute("DELETE FROM search_outbox WHERE seq <= ?1", [applied])?;
                    Ok::<_, DbError>(())
                })
                .await?;
                Ok(count)
            }
            Err(error) => {
                std::fs::remove_dir_all(&dir).ok();
                Err(error)
            }
        }
    }

    /// An index that has seen outbox entries the database never gave (a database
    /// restored without its index) would skip new ones: it is rebuilt.
    async fn ahead_of_database(&self, db: &Db) -> anyhow::Result<bool> {
        let applied = self.index().applied_seq();
        let position = db.query(outbox_position).await?;
        Ok(applied > position)
    }

    /// Applies one batch of the outbox; returns how many entries it took.
    async fn apply_outbox(&self, db: &Db, source: &Arc<dyn Source>) -> anyhow::Result<usize> {
        let index = self.index();
        let after = index.applied_seq();
        let source = source.clone();
        let (last, taken, changes) = db
            .read(move |conn| -> anyhow::Result<(i64, usize, Vec<Change>)> {
                let mut stmt = conn.prepare_cached(
                    "SELECT seq, kind, key FROM search_outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )?;
                let entries: Vec<(i64, String, String)> = stmt
                    .query_map(rusqlite::params![after, OUTBOX_BATCH], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?
                    .collect::<Result<_, _>>()?;
                let Some(last) = entries.last().map(|e| e.0) else {
                    return Ok((after, 0, Vec::new()));
                };
                let mut seen = std::collections::HashSet::new();
                let mut changes = Vec::new();
                for (_, kind, key) in &entries {
                    if seen.insert((kind.as_str(), key.as_str())) {
                        changes.extend(source.changes(conn, &index, kind, key)?);
                    }
                }
                Ok((last, entries.len(), changes))
            })
            .await?;
        if taken == 0 {
            return Ok(0);
        }
        let index = self.index();
        tokio::task::spawn_blocking(move || index.apply(changes, last)).await??;
        db.write(move |tx| {
            tx.execute("DELETE FROM search_outbox WHERE seq <= ?1", [last])?;
            Ok::<_, DbError>(())
        })
        .await?;
        Ok(taken)
    }

    /// Takes a rebuild request left by `stratamake search reindex` (a read every poll;
    /// the write lock only when there is one).
    async fn take_request(&self, db: &Db) -> anyhow::Result<bool> {
        if !db.query(reindex_requested).await? {
            return Ok(false);
        }
        let requested = db
            .write(|tx| {
                Ok::<_, DbError>(
                    tx.execute(
                        "DELETE FROM search_state WHERE name = ?1",
                        [REINDEX_REQUESTED],
                    )? > 0,
                )
            })
            .await?;
        Ok(requested)
    }

    /// The writer task: keeps the index up to date until `shutdown` fires.
    pub async fn run_writer(
        self: Arc<Self>,
        db: Db,
        source: Arc<dyn Source>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        if self.ahead_of_database(&db).await.unwrap_or(false) {
            tracing::warn!("the search index is ahead of the database; rebuilding it");
            self.rebuild_wanted.store(true, Ordering::Relaxed);
        }
        let mut next_rebuild = tokio::time::Instant::now();
        loop {
            let requested = self.take_request(&db).await.unwrap_or_else(|error| {
                tracing::error!(%error, "cannot read search requests");
                false
            });
            let wanted = requested
                || (self.rebuild_wanted.load(Ordering::Relaxed)
                    && tokio::time::Instant::now() >= next_rebuild);
            if wanted {
                let started = std::time::Instant::now();
                match self.rebuild(&db, source.clone()).await {
                    Ok(documents) => {
                        self.rebuild_wanted.store(false, Ordering::Relaxed);
                        tracing::info!(
                            documents,
                            ms = started.elapsed().as_millis() as u64,
                            "search index rebuilt"
                        )
                    }
                    Err(error) => {
                        // Tried again a minute later; meanwhile the index follows the
                        // outbox as usual.
                        self.rebuild_wanted.store(true, Ordering::Relaxed);
                        next_rebuild = tokio::time::Instant::now() + Duration::from_secs(60);
                        tracing::error!(%error, "search index rebuild failed");
                    }
                }
            }
            let busy = match self.apply_outbox(&db, &source).await {
                Ok(taken) => taken as i64 == OUTBOX_BATCH,
                Err(error) => {
                    tracing::error!(%error, "search index update failed");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Asks the running server's writer to rebuild the index from the database (in the
/// caller's transaction): afterwards no segment file holds text deleted before it.
pub fn request_rebuild(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO search_state (name, value) VALUES (?1, 1)",
        [REINDEX_REQUESTED],
    )?;
    Ok(())
}

fn reindex_requested(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM search_state WHERE name = ?1)",
        [REINDEX_REQUESTED],
        |r| r.get(0),
    )
}

/// `stratamake search reindex`: rebuilds the index under `root`, or, when a running
/// server holds it, asks that server to and waits until it has.
pub async fn reindex(root: &Path, db: &Db, source: Arc<dyn Source>) -> anyhow::Result<String> {
    std::fs::create_dir_all(root)?;
    let held = match read_current(root) {
        Some(dir) => matches!(SearchIndex::open(&dir), Err(SearchError::Locked(_))),
        None => false,
    };
    if held {
        db.write(|tx| Ok::<_, DbError>(request_rebuild(tx)?))
            .await?;
        for _ in 0..(30 * 60 * 4) {
            tokio::time::sleep(POLL).await;
            if !db.query(reindex_requested).await? {
                return Ok("The running server is rebuilding the search index; searches are answered meanwhile.".into());
            }
        }
        anyhow::bail!("the running server did not take the rebuild request within 30 minutes");
    }
    let search = Search::open(root)?;
    let started = std::time::Instant::now();
    let documents = search.rebuild(db, source).await?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(format!(
        "Rebuilt the search index: {documents} documents in {seconds:.1} s ({:.0} documents/s).",
        documents as f64 / seconds.max(1e-9)
    ))
}
