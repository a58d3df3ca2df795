-- The community: posts of library assets, comments, reactions, follows, blocks,
-- reports, in-app notifications, and the outbox that feeds the search index.

CREATE TABLE posts (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    asset_id    TEXT NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    tags        TEXT NOT NULL DEFAULT '[]',
    visibility  TEXT NOT NULL CHECK (visibility IN ('public', 'unlisted', 'followers')),
    -- Whether the generation's prompt and settings are shown and may be reused.
    remix       INTEGER NOT NULL DEFAULT 0,
    -- Set by moderators: hidden posts are seen by their author only, removed by no one.
    moderation  TEXT NOT NULL DEFAULT 'ok' CHECK (moderation IN ('ok', 'hidden', 'removed')),
    -- Reactions + 2 × comments, and the trending rank made from it (community::feed).
    engagement  INTEGER NOT NULL DEFAULT 0,
    hot         INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX posts_created ON posts(created_at, id);
CREATE INDEX posts_user_created ON posts(user_id, created_at, id);
CREATE INDEX posts_hot ON posts(hot, id);
CREATE INDEX posts_asset ON posts(asset_id);

CREATE TABLE post_tags (
    tag     TEXT NOT NULL,
    post_id TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    PRIMARY KEY (tag, post_id)
) WITHOUT ROWID;
CREATE INDEX post_tags_post ON post_tags(post_id);

-- One level of replies: a reply's parent is a top-level comment.
CREATE TABLE comments (
    id         TEXT PRIMARY KEY,
    post_id    TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    parent_id  TEXT REFERENCES comments(id) ON DELETE CASCADE,
    user_id    TEXT REFERENCES users(id) ON DELETE SET NULL,
    body       TEXT NOT NULL,
    moderation TEXT NOT NULL DEFAULT 'ok' CHECK (moderation IN ('ok', 'hidden', 'removed')),
    created_at INTEGER NOT NULL,
    edited_at  INTEGER
);
CREATE INDEX comments_post ON comments(post_id, created_at, id);
CREATE INDEX comments_user ON comments(user_id);
CREATE INDEX comments_parent ON comments(parent_id);

-- A user's reactions: at most one of each kind per post or comment.
CREATE TABLE reactions (
    id         INTEGER PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    post_id    TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    comment_id TEXT REFERENCES comments(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('like', 'love', 'wow', 'fire', 'laugh')),
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX reactions_one_each ON reactions(post_id, ifnull(comment_id, ''), user_id, kind);
CREATE INDEX reactions_user ON reactions(user_id);
CREATE INDEX reactions_comment ON reactions(comment_id) WHERE comment_id IS NOT NULL;

CREATE TABLE follows (
    follower_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    followee_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
) WITHOUT ROWID;
CREATE INDEX follows_followee ON follows(followee_id, follower_id);

CREATE TABLE blocks (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
) WITHOUT ROWID;
CREATE INDEX blocks_blocked ON blocks(blocked_id, user_id);

CREATE TABLE reports (
    id          TEXT PRIMARY KEY,
    reporter_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    target_kind TEXT NOT NULL CHECK (target_kind IN ('post', 'comment', 'user')),
    target_id   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'dismissed')),
    resolution  TEXT NOT NULL DEFAULT '',
    resolved_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    resolved_at INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX reports_open ON reports(status, created_at);
CREATE INDEX reports_target ON reports(target_kind, target_id);

CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    actor_id   TEXT REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('follow', 'comment', 'reply', 'reaction', 'mention')),
    post_id    TEXT REFERENCES posts(id) ON DELETE CASCADE,
    comment_id TEXT REFERENCES comments(id) ON DELETE CASCADE,
    detail     TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    read_at    INTEGER,
    emailed_at INTEGER
);
CREATE INDEX notifications_user ON notifications(user_id, id);
CREATE INDEX notifications_unmailed ON notifications(emailed_at) WHERE emailed_at IS NULL;
CREATE INDEX notifications_actor ON notifications(actor_id);

-- Community mail: off, one mail per notification, or one digest a day.
ALTER TABLE notification_settings ADD COLUMN community TEXT NOT NULL DEFAULT 'off'
    CHECK (community IN ('off', 'instant', 'daily'));
ALTER TABLE notification_settings ADD COLUMN digest_sent_at INTEGER;

-- The search outbox: what changed, written in the transaction that changed it, so the
-- index catches up after a crash. `kind` is 'post' or 'user'; the writer reads the row's
-- current state and updates or removes its document.
CREATE TABLE search_outbox (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    key  TEXT NOT NULL
);
-- A rebuild in progress keeps the changes made since it started (see platform::search).
CREATE TABLE search_state (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

CREATE TRIGGER posts_search_insert AFTER INSERT ON posts BEGIN
    INSERT INTO search_outbox (kind, key) VALUES ('post', NEW.id);
END;
CREATE TRIGGER posts_search_update AFTER UPDATE OF title, description, tags, visibility, remix, moderation ON posts BEGIN
    INSERT INTO search_outbox (kind, key) VALUES ('post', NEW.id);
END;
CREATE TRIGGER posts_search_delete AFTER DELETE ON posts BEGIN
    INSERT INTO search_outbox (kind, key) VALUES ('post', OLD.id);
END;
CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO search_outbox (kind, key) VALUES ('user', NEW.id);
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF username, display_name, bio, disabled_at ON users BEGIN
    INSERT INTO search_outbox (kind, key) VALUES ('user', NEW.id);
    INSERT INTO search_outbox (kind, key)
        SELECT 'post', id FROM posts WHERE user_id = NEW.id AND OLD.disabled_at IS NOT NEW.disabled_at;
END;
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO search_outbox (kind, key) VALUES ('user', OLD.id);
END;

-- A profile picture: one of the user's own library images.
ALTER TABLE users ADD COLUMN avatar_asset_id TEXT REFERENCES assets(id) ON DELETE SET NULL;

-- A person's follower count ranks them in people search.
CREATE TRIGGER follows_search_insert AFTER INSERT ON follows BEGIN
    INSERT INTO search_outbox (kind, key) VALUES ('user', NEW.followee_id);
END;
CREATE TRIGGER follows_search_delete AFTER DELETE ON follows BEGIN
    INSERT INTO search_outbox (kind, key) VALUES ('user', OLD.followee_id);
END;
