-- Image generation: installed models, the persistent job queue and the credit ledger.

-- Models the admin imported into data/models/<id>/ (each with its model.toml manifest).
CREATE TABLE models (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    family       TEXT NOT NULL,
    manifest     TEXT NOT NULL,
    enabled      INTEGER NOT NULL DEFAULT 1,
    is_default   INTEGER NOT NULL DEFAULT 0,
    credit_cost  INTEGER NOT NULL CHECK (credit_cost >= 0),
    test_only    INTEGER NOT NULL DEFAULT 0,
    verified_at  INTEGER,
    verify_error TEXT,
    imported_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX models_one_default ON models(is_default) WHERE is_default = 1;

-- A job: what a user asked for, where it is, and what came of it.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    params           TEXT NOT NULL,
    cost             INTEGER NOT NULL CHECK (cost >= 0),
    idempotency_key  TEXT,
    request_hash     TEXT,
    result           TEXT,
    error            TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER
);
CREATE INDEX jobs_queue ON jobs(status, created_at) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_user ON jobs(user_id, created_at, id);
CREATE UNIQUE INDEX jobs_idempotency ON jobs(user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Append-only credit ledger: the balance is the sum of a user's entries. A job reserves
-- its cost (negative entry) when queued; success settles it (a zero entry that records
-- the charge), failure or cancellation refunds it (a positive entry).
CREATE TABLE credit_entries (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    amount     INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('starting', 'grant', 'reserve', 'settle', 'refund')),
    job_id     TEXT,
    note       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX credit_entries_user ON credit_entries(user_id, id);
CREATE INDEX credit_entries_job ON credit_entries(job_id) WHERE job_id IS NOT NULL;
