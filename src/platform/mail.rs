//! Outgoing mail through a durable outbox.
//!
//! Domains put a mail into `mail_outbox` inside the same transaction as the change that
//! caused it ([`enqueue`]); a background task sends what is due, retries with
//! exponential backoff and records the server's last answer. With no SMTP host
//! configured, mails are written as `.eml` files into `data/mail/outbox/`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rusqlite::{Transaction, params};
use tokio::sync::Notify;

use super::clock::Clock;
use super::db::{Db, DbError};
use crate::config::{SmtpConfig, SmtpSecurity};

/// Attempts before a mail is marked failed.
pub const MAX_ATTEMPTS: i64 = 8;
/// First retry delay; doubled on every further attempt.
const FIRST_RETRY_SECONDS: i64 = 30;

/// A mail to put in the outbox.
pub struct OutgoingMail {
    pub user_id: Option<String>,
    pub to: String,
    pub subject: String,
    /// What the mail is for (`verify`, `reset`, `password_changed`, ...).
    pub kind: &'static str,
    pub text: String,
    pub html: String,
    /// For optional mails: the one-click unsubscribe link (RFC 8058), sent as
    /// `List-Unsubscribe` with `List-Unsubscribe-Post`.
    pub unsubscribe_url: Option<String>,
}

/// Puts a mail into the outbox inside the caller's transaction.
pub fn enqueue(tx: &Transaction<'_>, mail: &OutgoingMail, now: i64) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO mail_outbox (user_id, to_addr, subject, kind, body_text, body_html,
                                  next_attempt_at, created_at, unsubscribe_url)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
        params![
            mail.user_id,
            mail.to,
            mail.subject,
            mail.kind,
            mail.text,
            mail.html,
            now,
            mail.unsubscribe_url
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Puts a mail to someone whose account is gone into the outbox: once sent (or given
/// up on), its row keeps no address.
pub fn enqueue_forgetting_recipient(
    tx: &Transaction<'_>,
    mail: &OutgoingMail,
    now: i64,
) -> rusqlite::Result<i64> {
    let id = enqueue(tx, mail, now)?;
    tx.execute(
        "UPDATE mail_outbox SET forget_recipient = 1 WHERE id = ?1",
        [id],
    )?;
    Ok(id)
}

/// The outbox rows of a user (their `.eml` copies go with a purge).
pub fn ids_of_user(conn: &rusqlite::Connection, user_id: &str) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare("SELECT id FROM mail_outbox WHERE user_id = ?1")?;
    let rows = stmt.query_map([user_id], |r| r.get(0))?;
    rows.collect()
}

/// Deletes the outbox rows addressed to `address` (a purged account's, written before
/// the account existed or without a link to it); returns their ids.
pub fn forget_address(tx: &Transaction<'_>, address: &str) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = tx.prepare(
        "DELETE FROM mail_outbox WHERE to_addr = ?1 COLLATE NOCASE AND forget_recipient = 0
         RETURNING id",
    )?;
    let rows = stmt.query_map([address], |r| r.get(0))?;
    rows.collect()
}

/// The `.eml` file a mail was written to when no SMTP server is configured.
pub fn eml_path(outbox_dir: &std::path::Path, id: i64) -> PathBuf {
    outbox_dir.join(format!("{id:08}.eml"))
}

/// Sends what the outbox holds.
#[derive(Clone)]
pub struct Mailer {
    db: Db,
    clock: Clock,
    smtp: SmtpConfig,
    outbox_dir: PathBuf,
    wake: Arc<Notify>,
}

struct DueMail {
    id: i64,
    to: String,
    subject: String,
    text: String,
    html: String,
    attempts: i64,
    unsubscribe_url: Option<String>,
    /// To an account already purged: no copy of it may stay.
    forget_recipient: bool,
}

impl Mailer {
    pub fn new(db: Db, clock: Clock, smtp: SmtpConfig, outbox_dir: PathBuf) -> Self {
        Self {
            db,
            clock,
            smtp,
            outbox_dir,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Tells the sender that new mail is waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Describes where mail goes, for logs and `doctor`.
    pub fn describe(&self) -> String {
        if self.smtp.host.is_empty() {
            format!("written as .eml files to {}", self.outbox_dir.display())
        } else {
            format!(
                "SMTP {}:{} ({:?})",
                self.smtp.host, self.smtp.port, self.smtp.security
            )
        }
    }

    /// Runs until `shutdown` fires: sends due mail, sleeping until woken or a retry is due.
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        // A restart is a good moment to try again what was waiting for its retry.
        let now = self.clock.now();
        let retried = self
            .db
            .write(move |tx| {
                tx.execute(
                    "UPDATE mail_outbox SET next_attempt_at = ?1 WHERE status = 'queued' AND next_attempt_at > ?1",
                    [now],
                )
                .map_err(DbError::from)
            })
            .await;
        if let Err(error) = retried {
            tracing::error!(%error, "cannot reschedule queued mail");
        }
        loop {
            if let Err(error) = self.send_due().await {
                tracing::error!(%error, "mail outbox pass failed");
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Sends every mail that is due now; returns how many were handled.
    pub async fn send_due(&self) -> Result<usize, DbError> {
        let now = self.clock.now();
        let due: Vec<DueMail> = self
            .db
            .query(move |conn| {
                let mut stmt = conn.prepare(
                    "SELECT id, to_addr, subject, body_text, body_html, attempts, unsubscribe_url, forget_recipient FROM mail_outbox
                     WHERE status = 'queued' AND next_attempt_at <= ?1 ORDER BY id LIMIT 50",
                )?;
                let rows = stmt.query_map([now], |r| {
                    Ok(DueMail {
                        id: r.get(0)?,
                        to: r.get(1)?,
                        subject: r.get(2)?,
                        text: r.get(3)?,
                        html: r.get(4)?,
                        attempts: r.get(5)?,
                        unsubscribe_url: r.get(6)?,
                        forget_recipient: r.get(7)?,
                    })
                })?;
                rows.collect::<Result<Vec<_>, _>>()
            })
            .await?;
        let count = due.len();
        for mail in due {
            let outcome = self.deliver(&mail).await;
            let now = self.clock.now();
            let attempts = mail.attempts + 1;
            let id = mail.id;
            match &outcome {
                Ok(answer) => tracing::info!(mail_id = id, to = %mail.to, %answer, "mail sent"),
                Err(error) => {
                    tracing::warn!(mail_id = id, to = %mail.to, attempts, %error, "mail not sent")
                }
            }
            let recorded = self
                .db
                .write(move |tx| {
                    let changed = match outcome {
                        // The body held single-use links: once delivered it is not kept.
                        // A mail to an account already purged keeps no address.
                        Ok(_) => tx.execute(
                            "UPDATE mail_outbox SET status = 'sent', attempts = ?2, sent_at = ?3,
                                 last_error = NULL, body_text = '', body_html = '',
                                 to_addr = CASE forget_recipient WHEN 1 THEN '' ELSE to_addr END
                             WHERE id = ?1",
                            params![id, attempts, now],
                        ),
                        Err(error) => {
                            let status = if attempts >= MAX_ATTEMPTS {
                                "failed"
                            } else {
                                "queued"
                            };
                            let delay = FIRST_RETRY_SECONDS << (attempts - 1).min(12);
                            tx.execute(
                                "UPDATE mail_outbox SET status = ?2, attempts = ?3,
                                     next_attempt_at = ?4, last_error = ?5,
                                     to_addr = CASE WHEN forget_recipient = 1 AND ?2 = 'failed'
                                               THEN '' ELSE to_addr END
                                 WHERE id = ?1",
                                params![id, status, attempts, now + delay, error],
                            )
                        }
                    }?;
                    Ok::<_, DbError>(changed > 0)
                })
                .await?;
            // Its account was purged while it was being written: no copy stays.
            if !recorded && self.smtp.host.is_empty() {
                let _ = std::fs::remove_file(eml_path(&self.outbox_dir, id));
            }
        }
        Ok(count)
    }

    fn build(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        html: &str,
        unsubscribe_url: Option<&str>,
    ) -> Result<Message, String> {
        let from: Mailbox = self
            .smtp
            .from
            .parse()
            .map_err(|e| format!("invalid from address: {e}"))?;
        let to: Mailbox = to
            .parse()
            .map_err(|e| format!("invalid recipient address: {e}"))?;
        let mut builder = Message::builder().from(from).to(to).subject(subject);
        if let Some(url) = unsubscribe_url {
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                text.to_string(),
                html.to_string(),
            ))
            .map_err(|e| format!("cannot build the message: {e}"))
    }

    async fn deliver(&self, mail: &DueMail) -> Result<String, String> {
        let message = self.build(
            &mail.to,
            &mail.subject,
            &mail.text,
            &mail.html,
            mail.unsubscribe_url.as_deref(),
        )?;
        if self.smtp.host.is_empty() {
            // The outbox folder is read by people; a purged account's address stays out.
            if mail.forget_recipient {
                return Ok("not kept: without an SMTP server there is nowhere to send it, and its account was erased".into());
            }
            return self.write_eml(mail.id, &message, &mail.text).await;
        }
        let transport = self.transport()?;
        let response = transport
            .send(message)
            .await
            .map_err(|e| format!("SMTP: {e}"))?;
        Ok(format!(
            "{} {}",
            response.code(),
            response.message().collect::<Vec<_>>().join(" ")
        ))
    }

    async fn write_eml(&self, id: i64, message: &Message, text: &str) -> Result<String, String> {
        let path = eml_path(&self.outbox_dir, id);
        let bytes = message.formatted();
        let temp = path.with_extension("eml.tmp");
        tokio::fs::write(&temp, &bytes)
            .await
            .map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
        tokio::fs::rename(&temp, &path)
            .await
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if let Some(link) = text.split_whitespace().find(|w| w.starts_with("http")) {
            tracing::info!(file = %path.display(), %link, "mail written to the outbox folder (no SMTP configured)");
        }
        Ok(format!("written to {}", path.display()))
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let smtp = &self.smtp;
        let tls =
            || TlsParameters::new(smtp.host.clone()).map_err(|e| format!("TLS setup failed: {e}"));
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(smtp.port)
            .timeout(Some(Duration::from_secs(20)));
        builder = match smtp.security {
            SmtpSecurity::Starttls => builder.tls(Tls::Required(tls()?)),
            SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls()?)),
            SmtpSecurity::None => builder.tls(Tls::None),
        };
        if !smtp.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                smtp.username.clone(),
                smtp.password.clone(),
            ));
        }
        Ok(builder.build())
    }

    /// Sends a test mail directly (not through the outbox) and reports each step.
    pub async fn send_test(&self, to: &str, instance_name: &str) -> (bool, String) {
        let mut transcript = vec![format!("Mail goes: {}", self.describe())];
        let subject = format!("{instance_name}: test mail");
        let text = format!(
            "This is a test mail from {instance_name}. If you can read it, outgoing mail works."
        );
        let html = format!("<p>{}</p>", html_escape(&text));
        let message = match self.build(to, &subject, &text, &html, None) {
            Ok(m) => m,
            Err(e) => {
                transcript.push(e);
                return (false, transcript.join("\n"));
            }
        };
        if self.smtp.host.is_empty() {
            let result = self.write_eml(0, &message, &text).await;
            let ok = result.is_ok();
            transcript.push(result.unwrap_or_else(|e| e));
            return (ok, transcript.join("\n"));
        }
        let transport = match self.transport() {
            Ok(t) => t,
            Err(e) => {
                transcript.push(e);
                return (false, transcript.join("\n"));
            }
        };
        match transport.test_connection().await {
            Ok(true) => transcript.push(format!(
                "Connected to {}:{} and greeted (EHLO accepted)",
                self.smtp.host, self.smtp.port
            )),
            Ok(false) => transcript.push("Connected, but the server did not accept NOOP".into()),
            Err(e) => {
                transcript.push(format!("Connection failed: {e}"));
                return (false, transcript.join("\n"));
            }
        }
        match transport.send(message).await {
            Ok(response) => {
                transcript.push(format!(
                    "Server answered {} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                ));
                (true, transcript.join("\n"))
            }
            Err(e) => {
                transcript.push(format!("Sending failed: {e}"));
                (false, transcript.join("\n"))
            }
        }
    }
}

/// Empties the bodies of mails that could not be delivered within a day: the links
/// inside have expired, and the metadata stays visible to the admin.
pub fn forget_stale_bodies(tx: &Transaction<'_>, now: i64) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE mail_outbox SET body_text = '', body_html = ''
         WHERE status != 'sent' AND created_at < ?1 AND body_text != ''",
        [now - 24 * 3600],
    )
}

/// Escapes text for HTML bodies.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
