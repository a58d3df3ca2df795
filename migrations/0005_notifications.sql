-- Notification choices, and one-click unsubscribe links on the mails they cause.

ALTER TABLE mail_outbox ADD COLUMN unsubscribe_url TEXT;

-- Which optional mails a user wants (transactional mail is always sent).
CREATE TABLE notification_settings (
    user_id         TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    generation_done INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER NOT NULL
);
