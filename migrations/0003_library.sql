-- The private library: files in the content-addressed store and the assets that use them.

-- One row per stored blob. A blob no asset refers to is collected once
-- `unreferenced_since` is older than the grace period.
CREATE TABLE blobs (
    hash               TEXT PRIMARY KEY,
    size               INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    unreferenced_since INTEGER
);
CREATE INDEX blobs_unreferenced ON blobs(unreferenced_since) WHERE unreferenced_since IS NOT NULL;

CREATE TABLE assets (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('image', 'model')),
    source       TEXT NOT NULL CHECK (source IN ('upload', 'generated')),
    title        TEXT NOT NULL,
    filename     TEXT NOT NULL,
    format       TEXT NOT NULL,
    mime         TEXT NOT NULL,
    blob_hash    TEXT NOT NULL REFERENCES blobs(hash),
    size         INTEGER NOT NULL,
    width        INTEGER,
    height       INTEGER,
    triangles    INTEGER,
    thumb_hash   TEXT REFERENCES blobs(hash),
    preview_hash TEXT REFERENCES blobs(hash),
    tags         TEXT NOT NULL DEFAULT '[]',
    params       TEXT,
    visibility   TEXT NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'public')),
    created_at   INTEGER NOT NULL
);
CREATE INDEX assets_user_created ON assets(user_id, created_at, id);
CREATE INDEX assets_blob ON assets(blob_hash);
CREATE INDEX assets_thumb ON assets(thumb_hash);
CREATE INDEX assets_preview ON assets(preview_hash);

-- Per-user storage quota overrides (the default is in the configuration).
CREATE TABLE storage_quotas (
    user_id     TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    quota_bytes INTEGER NOT NULL
);
