-- The privacy center: consents, policies and their acceptance, data exports, account
-- deletions, likeness samples and local usage analytics.

-- Consents, given and withdrawn: append-only, the newest row of a (user, purpose) is
-- the current choice. `text_version` is the version of the wording the person saw,
-- `method` how it was given (signup, settings, unsubscribe link, default at signup),
-- `detail` what a likeness consent names (JSON).
CREATE TABLE consents (
    id           INTEGER PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose      TEXT NOT NULL CHECK (purpose IN ('marketing_email', 'analytics', 'likeness')),
    granted      INTEGER NOT NULL CHECK (granted IN (0, 1)),
    text_version TEXT NOT NULL,
    method       TEXT NOT NULL,
    detail       TEXT NOT NULL DEFAULT '{}',
    created_at   INTEGER NOT NULL
);
CREATE INDEX consents_user ON consents(user_id, purpose, id);

-- Policies in Markdown; every edit is a new version. A material version asks every
-- account older than it to acknowledge it.
CREATE TABLE policy_versions (
    slug       TEXT NOT NULL CHECK (slug IN ('privacy', 'terms', 'cookies', 'accessibility', 'support')),
    version    INTEGER NOT NULL CHECK (version >= 1),
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    material   INTEGER NOT NULL DEFAULT 0 CHECK (material IN (0, 1)),
    summary    TEXT NOT NULL DEFAULT '',
    created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (slug, version)
) WITHOUT ROWID;

CREATE TABLE policy_acceptances (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    slug        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    method      TEXT NOT NULL CHECK (method IN ('signup', 'banner', 'author')),
    accepted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, slug, version)
) WITHOUT ROWID;

-- A copy of a person's data: a ZIP in data/exports/<id>.zip, downloadable until
-- `expires_at` by the person (and by the admin who ran it for a written request).
CREATE TABLE data_exports (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    requested_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'ready', 'failed', 'expired')),
    size         INTEGER,
    sha256       TEXT,
    error        TEXT,
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    expires_at   INTEGER
);
CREATE INDEX data_exports_user ON data_exports(user_id, created_at);
CREATE INDEX data_exports_open ON data_exports(status) WHERE status IN ('queued', 'running', 'ready');

-- An account waiting to be purged: locked at once, purged after `purge_after` unless
-- cancelled with the mailed link (or by signing in with the password).
CREATE TABLE account_deletions (
    user_id           TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    requested_at      INTEGER NOT NULL,
    purge_after       INTEGER NOT NULL,
    requested_by      TEXT REFERENCES users(id) ON DELETE SET NULL,
    reason            TEXT NOT NULL CHECK (reason IN ('user', 'admin')),
    cancel_token_hash TEXT NOT NULL UNIQUE,
    -- The account was disabled by an admin before: cancelling leaves it disabled.
    was_disabled      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX account_deletions_due ON account_deletions(purge_after);

-- Likeness samples are library assets that never show in the library or the
-- community; they exist only under an active likeness consent.
ALTER TABLE assets ADD COLUMN purpose TEXT NOT NULL DEFAULT 'library'
    CHECK (purpose IN ('library', 'likeness'));
CREATE INDEX assets_purpose ON assets(user_id, purpose) WHERE purpose <> 'library';

-- Usage analytics, kept on this machine: counts per day, person, kind (page view,
-- API request, feature) and name, with the client address (full for a few days, then
-- shortened to its /24 or /48, and gone with the row after the retention period).
CREATE TABLE usage_daily (
    id      INTEGER PRIMARY KEY,
    day     TEXT NOT NULL,
    user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('page', 'api', 'feature')),
    name    TEXT NOT NULL,
    ip      TEXT NOT NULL DEFAULT '',
    count   INTEGER NOT NULL
);
CREATE INDEX usage_daily_key ON usage_daily(day, user_id, kind, name, ip);
CREATE INDEX usage_daily_user ON usage_daily(user_id) WHERE user_id IS NOT NULL;

-- Delivered mail to a purged account keeps no address.
ALTER TABLE mail_outbox ADD COLUMN forget_recipient INTEGER NOT NULL DEFAULT 0;
