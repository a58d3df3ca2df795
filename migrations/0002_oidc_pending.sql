-- OpenID Connect sign-ins waiting for a choice of username or for proof of an existing
-- account's password. Kept 15 minutes; only the token's hash is stored.
CREATE TABLE oidc_pending (
    token_hash     TEXT PRIMARY KEY,
    provider       TEXT NOT NULL,
    subject        TEXT NOT NULL,
    email          TEXT,
    email_verified INTEGER NOT NULL DEFAULT 0,
    name           TEXT,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);
