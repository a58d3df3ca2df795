//! The persistent job queue: a job is a row in `jobs` (queued → running → succeeded,
//! failed or cancelled) with its parameters and result; workers claim jobs and run them
//! through a [`JobHandler`] that a domain provides.
//!
//! - Fairness: the next job goes to the user served least recently (round-robin by user,
//!   first-come within a user), not to whoever queued first.
//! - Progress and cancellation live in memory ([`JobBoard`]): a `watch` channel per
//!   running job for Server-Sent Events, and a flag the handler checks between steps.
//! - A job's end is written in one transaction with whatever the handler records for it
//!   (results, credits), so the two never disagree; a restart puts running jobs back in
//!   the queue; a handler that panics fails its job instead of taking the server down.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{Notify, watch};

use super::clock::Clock;
use super::db::{Db, DbError};
use super::tokens::new_sortable_id;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "queued" => Status::Queued,
            "running" => Status::Running,
            "succeeded" => Status::Succeeded,
            "cancelled" => Status::Cancelled,
            _ => Status::Failed,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed | Status::Cancelled)
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub status: Status,
    pub params: Value,
    pub cost: i64,
    pub result: Option<Value>,
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

const COLUMNS: &str = "id, user_id, kind, status, params, cost, result, error, cancel_requested, \
                       created_at, started_at, finished_at";

fn job_from_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    let json = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
    Ok(Job {
        id: row.get(0)?,
        user_id: row.get(1)?,
        kind: row.get(2)?,
        status: Status::parse(&row.get::<_, String>(3)?),
        params: json(row.get(4)?).unwrap_or(Value::Null),
        cost: row.get(5)?,
        result: json(row.get(6)?),
        error: row.get(7)?,
        cancel_requested: row.get(8)?,
        created_at: row.get(9)?,
        started_at: row.get(10)?,
        finished_at: row.get(11)?,
    })
}

/// A job to queue.
pub struct NewJob {
    pub user_id: String,
    pub kind: String,
    pub params: Value,
    pub cost: i64,
    /// Client-chosen key: the same key again returns the job it made.
    pub idempotency_key: Option<String>,
}

pub enum Enqueued {
    New(Job),
    /// The idempotency key was used before for the same request.
    Existing(Job),
    /// The idempotency key was used before for a different request.
    KeyReused,
}

/// Queues a job (inside the caller's transaction, next to e.g. its credit reservation).
pub fn enqueue(tx: &Transaction<'_>, new: NewJob, now: i64) -> rusqlite::Result<Enqueued> {
    let request_hash = super::tokens::hash_token(&format!("{}\n{}", new.kind, new.params));
    if let Some(key) = &new.idempotency_key {
        let existing: Option<(String, Option<String>)> = tx
            .query_row(
                "SELECT id, request_hash FROM jobs WHERE user_id = ?1 AND idempotency_key = ?2",
                params![new.user_id, key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((id, hash)) = existing {
            if hash.as_deref() != Some(request_hash.as_str()) {
                return Ok(Enqueued::KeyReused);
            }
            let job = get(tx, &id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
            return Ok(Enqueued::Existing(job));
        }
    }
    let id = new_sortable_id();
    tx.execute(
        "INSERT INTO jobs (id, user_id, kind, status, params, cost, idempotency_key, request_hash, created_at)
         VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, ?8)",
        params![
            id,
            new.user_id,
            new.kind,
            new.params.to_string(),
            new.cost,
            new.idempotency_key,
            request_hash,
            now
        ],
    )?;
    let job = get(tx, &id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    Ok(Enqueued::New(job))
}

pub fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<Job>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"),
        [id],
        job_from_row,
    )
    .optional()
}

/// One page of a user's jobs, newest first, after the cursor position.
pub fn list_for_user(
    conn: &Connection,
    user_id: &str,
    after: Option<(i64, String)>,
    limit: i64,
) -> rusqlite::Result<Vec<Job>> {
    let (at, id) = after.unwrap_or((i64::MAX, String::new()));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE user_id = ?1 AND (created_at < ?2 OR (created_at = ?2 AND id < ?3))
         ORDER BY created_at DESC, id DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![user_id, at, id, limit], job_from_row)?;
    rows.collect()
}

/// Queued and running jobs of everyone, oldest first (the admin's queue view).
pub fn active(conn: &Connection, limit: i64) -> rusqlite::Result<Vec<Job>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE status IN ('queued', 'running') ORDER BY created_at, id LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit], job_from_row)?;
    rows.collect()
}

/// A user's queued and running jobs.
pub fn unfinished_for_user(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<Job>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE user_id = ?1 AND status IN ('queued', 'running')"
    ))?;
    let rows = stmt.query_map([user_id], job_from_row)?;
    rows.collect()
}

pub fn queued_count_for_user(conn: &Connection, user_id: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM jobs WHERE user_id = ?1 AND status IN ('queued', 'running')",
        [user_id],
        |r| r.get(0),
    )
}

/// The order jobs are claimed in: users served least recently first, then first-come.
/// Users never served first, then the one served longest ago (`NULLS FIRST`); the
/// claim orders a user's own jobs first-come, the position estimate orders users.
const USERS_IN_TURN: &str =
    "ORDER BY (SELECT MAX(r.started_at) FROM jobs r WHERE r.user_id = j.user_id) NULLS FIRST";

/// Takes the next job fairly and marks it running.
pub fn claim_next(tx: &Transaction<'_>, now: i64) -> rusqlite::Result<Option<Job>> {
    let next: Option<String> = tx
        .query_row(
            &format!("SELECT j.id FROM jobs j WHERE j.status = 'queued' {USERS_IN_TURN}, j.created_at, j.id LIMIT 1"),
            [],
            |r| r.get(0),
        )
        .optional()?;
    let Some(id) = next else { return Ok(None) };
    tx.execute(
        "UPDATE jobs SET status = 'running', started_at = ?2, attempts = attempts + 1 WHERE id = ?1",
        params![id, now],
    )?;
    get(tx, &id)
}

/// Where a queued job stands: 1 means it runs next. Round-robin makes this an estimate
/// once several users wait: each user ahead in the rotation takes one turn per round.
pub fn queue_position(conn: &Connection, job: &Job) -> rusqlite::Result<Option<i64>> {
    if job.status != Status::Queued {
        return Ok(None);
    }
    let own_ahead: i64 = conn.query_row(
        "SELECT COUNT(*) FROM jobs WHERE user_id = ?1 AND status = 'queued' AND (created_at < ?2 OR (created_at = ?2 AND id < ?3))",
        params![job.user_id, job.created_at, job.id],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT j.user_id, COUNT(*) FROM jobs j WHERE j.status = 'queued' GROUP BY j.user_id \
         {USERS_IN_TURN}, MIN(j.created_at)"
    ))?;
    let users: Vec<(String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut ahead = own_ahead;
    let mut before_in_round = true;
    for (user, queued) in users {
        if user == job.user_id {
            before_in_round = false;
            continue;
        }
        // Other users get as many turns as we wait rounds, plus this round's if ahead.
        let turns = own_ahead + i64::from(before_in_round);
        ahead += queued.min(turns);
    }
    Ok(Some(ahead + 1))
}

/// How a job ended, as stored.
#[derive(Debug, Clone)]
pub enum Finished {
    Succeeded(Value),
    Failed(String),
    Cancelled,
}

pub fn finish(
    tx: &Transaction<'_>,
    id: &str,
    finished: &Finished,
    now: i64,
) -> rusqlite::Result<()> {
    let (status, result, error) = match finished {
        Finished::Succeeded(result) => (Status::Succeeded, Some(result.to_string()), None),
        Finished::Failed(message) => (Status::Failed, None, Some(message.clone())),
        Finished::Cancelled => (Status::Cancelled, None, None),
    };
    tx.execute(
        "UPDATE jobs SET status = ?2, result = ?3, error = ?4, finished_at = ?5 WHERE id = ?1",
        params![id, status.as_str(), result, error, now],
    )?;
    Ok(())
}

/// Marks a job for cancellation; returns the job as it was.
pub fn request_cancel(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<Option<Job>> {
    let job = get(tx, id)?;
    if job.as_ref().is_some_and(|j| !j.status.is_final()) {
        tx.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?1", [id])?;
    }
    Ok(job)
}

/// At start: jobs that were running when the process stopped go back in the queue.
pub fn requeue_running(tx: &Transaction<'_>) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE jobs SET status = 'queued', started_at = NULL WHERE status = 'running'",
        [],
    )
}

/// Live progress of a running job.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Progress {
    /// Step just finished (1-based) and how many there are: denoising steps, then the
    /// stages of building a 3D model.
    pub step: u32,
    pub steps: u32,
    /// What the job is doing, when it says (e.g. "Simplifying").
    pub stage: Option<String>,
    /// Which image of the job (1-based) and how many.
    pub image: u32,
    pub count: u32,
    pub elapsed_ms: u64,
    /// Estimated time left, once a step has been timed.
    pub eta_ms: Option<u64>,
    /// Increases with every new preview image.
    pub preview_seq: u32,
    #[serde(skip)]
    pub preview: Option<Bytes>,
}

struct Live {
    cancel: Arc<AtomicBool>,
    progress: watch::Sender<Progress>,
}

/// In-memory state of running jobs, shared by workers and HTTP handlers.
#[derive(Clone, Default)]
pub struct JobBoard {
    live: Arc<Mutex<HashMap<String, Live>>>,
    /// Wakes idle workers when a job is queued.
    pub wake: Arc<Notify>,
    /// Wakes subscribers when any job changes status (for queue positions).
    pub changed: Arc<watch::Sender<u64>>,
    /// Set when the server shuts down: followers stop following.
    closing: Arc<watch::Sender<bool>>,
}

impl JobBoard {
    pub fn new() -> Self {
        Self {
            live: Arc::default(),
            wake: Arc::default(),
            changed: Arc::new(watch::channel(0).0),
            closing: Arc::new(watch::channel(false).0),
        }
    }

    /// The server is shutting down: streams that follow jobs end.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once the server shuts down.
    pub async fn closed(&self) {
        let mut closing = self.closing.subscribe();
        let _ = closing.wait_for(|closed| *closed).await;
    }

    fn start(&self, id: &str) -> JobContext {
        let cancel = Arc::new(AtomicBool::new(false));
        let (progress, _) = watch::channel(Progress::default());
        self.live.lock().expect("job board poisoned").insert(
            id.to_string(),
            Live {
                cancel: cancel.clone(),
                progress: progress.clone(),
            },
        );
        JobContext { cancel, progress }
    }

    fn end(&self, id: &str) {
        self.live.lock().expect("job board poisoned").remove(id);
        self.changed.send_modify(|n| *n += 1);
    }

    /// Asks a running job to stop at its next step; false if it is not running here.
    pub fn cancel(&self, id: &str) -> bool {
        match self.live.lock().expect("job board poisoned").get(id) {
            Some(live) => {
                live.cancel.store(true, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// Progress of a running job, to follow.
    pub fn subscribe(&self, id: &str) -> Option<watch::Receiver<Progress>> {
        self.live
            .lock()
            .expect("job board poisoned")
            .get(id)
            .map(|live| live.progress.subscribe())
    }

    /// Tells queue watchers that something moved (a job was queued or cancelled).
    pub fn touch(&self) {
        self.changed.send_modify(|n| *n += 1);
        self.wake.notify_one();
    }
}

/// What a running job's handler gets: progress out, cancellation in.
pub struct JobContext {
    cancel: Arc<AtomicBool>,
    progress: watch::Sender<Progress>,
}

impl JobContext {
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    pub fn report(&self, progress: Progress) {
        self.progress.send_replace(progress);
    }

    /// A context that nobody watches (tests, command-line runs).
    pub fn detached() -> Self {
        Self {
            cancel: Arc::default(),
            progress: watch::channel(Progress::default()).0,
        }
    }
}

/// Why a job did not produce a result.
#[derive(Debug)]
pub enum Failure {
    Cancelled,
    Error(String),
}

/// What a domain does with its jobs.
pub trait JobHandler: Send + Sync + 'static {
    /// What `run` produces for `commit` to store.
    type Output: Send + 'static;

    /// Does the work (on a blocking thread), reporting progress and stopping when asked.
    fn run(&self, job: &Job, ctx: &JobContext) -> Result<Self::Output, Failure>;

    /// Records the outcome in the transaction that also ends the job; returns how the
    /// job ended (it may still fail here, e.g. when storing its result is refused).
    fn commit(
        &self,
        tx: &Transaction<'_>,
        job: &Job,
        outcome: Result<Self::Output, Failure>,
        now: i64,
    ) -> anyhow::Result<Finished>;
}

/// Starts `workers` workers that run queued jobs until the process ends.
pub fn spawn_workers<H: JobHandler>(
    workers: usize,
    db: Db,
    clock: Clock,
    board: JobBoard,
    handler: Arc<H>,
) {
    for _ in 0..workers.max(1) {
        let (db, board, handler) = (db.clone(), board.clone(), handler.clone());
        tokio::spawn(async move {
            loop {
                match work_one(&db, clock, &board, &handler).await {
                    Ok(true) => continue,
                    Ok(false) => {
                        let _ = tokio::time::timeout(
                            std::time::Duration::from_secs(5),
                            board.wake.notified(),
                        )
                        .await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "job worker");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        });
    }
}

/// Claims and runs one job; false when the queue was empty.
async fn work_one<H: JobHandler>(
    db: &Db,
    clock: Clock,
    board: &JobBoard,
    handler: &Arc<H>,
) -> anyhow::Result<bool> {
    let now = clock.now();
    let claimed = db
        .write(move |tx| Ok::<_, DbError>(claim_next(tx, now)?))
        .await?;
    let Some(job) = claimed else {
        return Ok(false);
    };
    board.changed.send_modify(|n| *n += 1);
    let ctx = board.start(&job.id);
    if job.cancel_requested {
        ctx.cancel.store(true, Ordering::SeqCst);
    }
    tracing::info!(job = %job.id, kind = %job.kind, user = %job.user_id, "job started");
    let runner = handler.clone();
    let running = job.clone();
    let outcome = tokio::task::spawn_blocking(move || runner.run(&running, &ctx))
        .await
        .unwrap_or_else(|panic| {
            Err(Failure::Error(format!(
                "the job stopped unexpectedly ({panic}); nothing was charged"
            )))
        });
    let (handler, finished_job) = (handler.clone(), job.clone());
    let now = clock.now();
    let ended = db
        .write(move |tx| {
            let finished = handler.commit(tx, &finished_job, outcome, now)?;
            finish(tx, &finished_job.id, &finished, now)?;
            Ok::<_, anyhow::Error>(finished)
        })
        .await;
    board.end(&job.id);
    match ended {
        Ok(Finished::Failed(message)) => {
            tracing::warn!(job = %job.id, error = %message, "job failed")
        }
        Ok(_) => tracing::info!(job = %job.id, "job ended"),
        Err(e) => tracing::error!(job = %job.id, error = %e, "recording the end of a job failed"),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("t.db")).unwrap();
        conn.execute_batch(
            "CREATE TABLE users (id TEXT PRIMARY KEY);
             INSERT INTO users VALUES ('ann'), ('bob'), ('cat');",
        )
        .unwrap();
        conn.execute_batch(include_str!("../../migrations/0004_generation.sql"))
            .unwrap();
        (dir, conn)
    }

    fn queue(conn: &mut Connection, user: &str, now: i64) -> String {
        let tx = conn.transaction().unwrap();
        let new = NewJob {
            user_id: user.into(),
            kind: "image".into(),
            params: serde_json::json!({"n": now}),
            cost: 1,
            idempotency_key: None,
        };
        let Enqueued::New(job) = enqueue(&tx, new, now).unwrap() else {
            panic!("new job expected")
        };
        tx.commit().unwrap();
        job.id
    }

    fn claim(conn: &mut Connection, now: i64) -> Option<String> {
        let tx = conn.transaction().unwrap();
        let job = claim_next(&tx, now).unwrap();
        if let Some(job) = &job {
            finish(&tx, &job.id, &Finished::Succeeded(Value::Null), now).unwrap();
        }
        tx.commit().unwrap();
        job.map(|j| j.user_id)
    }

    #[test]
    fn users_take_turns_instead_of_first_come() {
        let (_dir, mut conn) = db();
        for t in 0..3 {
            queue(&mut conn, "ann", t);
        }
        queue(&mut conn, "bob", 10);
        queue(&mut conn, "bob", 11);
        queue(&mut conn, "cat", 12);
        let order: Vec<String> = (100..106).filter_map(|t| claim(&mut conn, t)).collect();
        assert_eq!(order, ["ann", "bob", "cat", "ann", "bob", "ann"]);
        assert_eq!(claim(&mut conn, 200), None);
    }

    #[test]
    fn positions_count_the_turns_of_others() {
        let (_dir, mut conn) = db();
        let a1 = queue(&mut conn, "ann", 0);
        let a2 = queue(&mut conn, "ann", 1);
        let b1 = queue(&mut conn, "bob", 2);
        let position = |conn: &Connection, id: &str| {
            let job = get(conn, id).unwrap().unwrap();
            queue_position(conn, &job).unwrap().unwrap()
        };
        assert_eq!(position(&conn, &a1), 1);
        assert_eq!(position(&conn, &b1), 2);
        assert_eq!(position(&conn, &a2), 3);
    }

    #[test]
    fn idempotency_keys_return_the_same_job_or_refuse_a_different_request() {
        let (_dir, mut conn) = db();
        let tx = conn.transaction().unwrap();
        let new = |n: i64| NewJob {
            user_id: "ann".into(),
            kind: "image".into(),
            params: serde_json::json!({ "n": n }),
            cost: 1,
            idempotency_key: Some("k1".into()),
        };
        let Enqueued::New(first) = enqueue(&tx, new(1), 0).unwrap() else {
            panic!()
        };
        let Enqueued::Existing(again) = enqueue(&tx, new(1), 1).unwrap() else {
            panic!()
        };
        assert_eq!(first.id, again.id);
        assert!(matches!(
            enqueue(&tx, new(2), 2).unwrap(),
            Enqueued::KeyReused
        ));
    }

    #[test]
    fn running_jobs_go_back_to_the_queue_at_start() {
        let (_dir, mut conn) = db();
        let id = queue(&mut conn, "ann", 0);
        let tx = conn.transaction().unwrap();
        claim_next(&tx, 1).unwrap().unwrap();
        assert_eq!(requeue_running(&tx).unwrap(), 1);
        assert_eq!(get(&tx, &id).unwrap().unwrap().status, Status::Queued);
    }
}
