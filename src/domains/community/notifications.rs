//! Community notifications: new follower, comment, reply, reaction, mention. Written in
//! the transaction of what caused them, listed with an unread count
//! (`GET /api/v1/notifications`, `POST /api/v1/notifications/read`), and mailed — one
//! mail as they come, or a daily digest — to people who chose so, each mail with a
//! one-click unsubscribe. A notification shows only while what it points to is still
//! visible to its recipient.

use axum::Json;
use axum::extract::{Query, State};
use rusqlite::{Connection, Transaction, named_params, params};
use serde::{Deserialize, Serialize};

use super::posts::Author;
use super::visibility::{Door, comment_visible, no_block, post_visible, user_visible};
use crate::app::AppState;
use crate::domains::accounts::notifications::{self as settings, COMMUNITY, CommunityMail};
use crate::domains::auth::emails::{self, Compose};
use crate::domains::auth::extract::{AuthUser, Scope};
use crate::error::{ApiError, ApiResult};
use crate::platform::mail;

const PAGE: usize = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Follow,
    Comment,
    Reply,
    Reaction,
    Mention,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Follow => "follow",
            Kind::Comment => "comment",
            Kind::Reply => "reply",
            Kind::Reaction => "reaction",
            Kind::Mention => "mention",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "follow" => Kind::Follow,
            "comment" => Kind::Comment,
            "reply" => Kind::Reply,
            "mention" => Kind::Mention,
            _ => Kind::Reaction,
        }
    }
}

/// Something that happened to `recipient` because of `actor`.
pub struct Event<'a> {
    pub recipient: &'a str,
    pub actor: &'a str,
    pub kind: Kind,
    pub post_id: Option<&'a str>,
    pub comment_id: Option<&'a str>,
    /// The reaction, for reactions.
    pub detail: &'a str,
}

/// Records a notification, unless it is the actor's own doing, a block stands between
/// the two, the recipient cannot see the post it is about, or the same actor already
/// caused the same notification (a reaction toggled off and on, a re-follow).
pub fn notify(tx: &Transaction<'_>, event: &Event<'_>, now: i64) -> rusqlite::Result<()> {
    if event.recipient == event.actor {
        return Ok(());
    }
    let allowed: bool = tx
        .prepare_cached(&format!(
            "SELECT EXISTS (SELECT 1 FROM users u WHERE u.id = :actor AND {})
                AND EXISTS (SELECT 1 FROM users r WHERE r.id = :viewer AND r.disabled_at IS NULL)
                AND (:post IS NULL OR EXISTS (
                    SELECT 1 FROM posts p JOIN users pu ON pu.id = p.user_id
                    WHERE p.id = :post AND {}))",
            no_block("u"),
            post_visible("p", "pu", Door::Direct),
        ))?
        .query_row(
            named_params! {":actor": event.actor, ":viewer": event.recipient, ":post": event.post_id},
            |r| r.get(0),
        )?;
    if !allowed {
        return Ok(());
    }
    if matches!(event.kind, Kind::Reaction | Kind::Follow) {
        let repeated: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM notifications WHERE user_id = ?1 AND actor_id = ?2
                AND kind = ?3 AND post_id IS ?4 AND comment_id IS ?5 AND detail = ?6)",
            params![
                event.recipient,
                event.actor,
                event.kind.as_str(),
                event.post_id,
                event.comment_id,
                event.detail
            ],
            |r| r.get(0),
        )?;
        if repeated {
            return Ok(());
        }
    }
    tx.execute(
        "INSERT INTO notifications (user_id, actor_id, kind, post_id, comment_id, detail, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            event.recipient,
            event.actor,
            event.kind.as_str(),
            event.post_id,
            event.comment_id,
            event.detail,
            now
        ],
    )?;
    Ok(())
}

/// The post a notification is about.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotifiedPost {
    pub id: String,
    pub title: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: i64,
    pub kind: Kind,
    pub actor: Option<Author>,
    pub post: Option<NotifiedPost>,
    pub comment_id: Option<String>,
    /// The start of the comment, for comments, replies and mentions.
    pub excerpt: Option<String>,
    /// The reaction, for reactions.
    pub reaction: Option<String>,
    /// A sentence that says what happened.
    pub text: String,
    pub read: bool,
    pub created_at: i64,
}

/// The joins and conditions of the notifications their recipient (`:viewer`) may see.
fn visible_notifications() -> String {
    format!(
        "FROM notifications n
         LEFT JOIN users a ON a.id = n.actor_id
         LEFT JOIN posts p ON p.id = n.post_id
         LEFT JOIN users pu ON pu.id = p.user_id
         LEFT JOIN comments c ON c.id = n.comment_id
         LEFT JOIN users cu ON cu.id = c.user_id
         WHERE n.user_id = :viewer
           AND (n.actor_id IS NULL OR {actor})
           AND (n.post_id IS NULL OR {post})
           AND (n.comment_id IS NULL OR {comment})",
        actor = user_visible("a"),
        post = post_visible("p", "pu", Door::Direct),
        comment = comment_visible("c", "cu"),
    )
}

fn excerpt(text: &str) -> String {
    let plain = super::markdown::plain(text);
    if plain.chars().count() <= 140 {
        plain
    } else {
        format!("{}…", plain.chars().take(139).collect::<String>())
    }
}

/// A sentence for a notification, as the UI and mails show it.
fn sentence(kind: Kind, actor: &str, post: Option<&str>, reaction: &str) -> String {
    let on = post.map_or(String::new(), |t| format!(" \u{201c}{t}\u{201d}"));
    match kind {
        Kind::Follow => format!("{actor} started following you"),
        Kind::Comment => format!("{actor} commented on{on}"),
        Kind::Reply => format!("{actor} replied to your comment on{on}"),
        Kind::Reaction => {
            let reaction = match reaction {
                "like" => "👍",
                "love" => "❤️",
                "wow" => "😮",
                "fire" => "🔥",
                _ => "😂",
            };
            format!("{actor} reacted {reaction} to{on}")
        }
        Kind::Mention => format!("{actor} mentioned you on{on}"),
    }
}

/// The recipient's visible notifications, newest first, `limit` of them with ids below
/// `before`; `unmailed` keeps only those not mailed yet.
pub fn visible(
    conn: &Connection,
    recipient: &str,
    before: i64,
    limit: usize,
    unmailed: bool,
) -> rusqlite::Result<Vec<Notification>> {
    let sql = format!(
        "SELECT n.id, n.kind, n.detail, n.created_at, n.read_at IS NOT NULL, a.username,
                a.display_name, p.id, p.title, n.comment_id, c.body
         {} AND n.id < :before AND (:unmailed = 0 OR n.emailed_at IS NULL)
         ORDER BY n.id DESC LIMIT :limit",
        visible_notifications()
    );
    conn.prepare_cached(&sql)?
        .query_map(
            named_params! {
                ":viewer": recipient, ":before": before, ":limit": limit as i64,
                ":unmailed": unmailed,
            },
            |r| {
                let kind = Kind::parse(&r.get::<_, String>(1)?);
                let detail: String = r.get(2)?;
                let username: Option<String> = r.get(5)?;
                let display_name: Option<String> = r.get(6)?;
                let post = match (
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                ) {
                    (Some(id), Some(title)) => Some(NotifiedPost {
                        url: format!("/p/{id}"),
                        id,
                        title,
                    }),
                    _ => None,
                };
                let actor = username
                    .as_deref()
                    .map(|u| Author::new(u, display_name.as_deref().unwrap_or("")));
                let actor_name = actor.as_ref().map_or("Someone".to_string(), |a| {
                    if a.display_name.is_empty() {
                        format!("@{}", a.username)
                    } else {
                        a.display_name.clone()
                    }
                });
                Ok(Notification {
                    id: r.get(0)?,
                    text: sentence(
                        kind,
                        &actor_name,
                        post.as_ref().map(|p| p.title.as_str()),
                        &detail,
                    ),
                    kind,
                    actor,
                    post,
                    comment_id: r.get(9)?,
                    excerpt: r.get::<_, Option<String>>(10)?.map(|b| excerpt(&b)),
                    reaction: (kind == Kind::Reaction).then_some(detail),
                    read: r.get(4)?,
                    created_at: r.get(3)?,
                })
            },
        )?
        .collect()
}

/// How many visible notifications the recipient has not read.
pub fn unread_count(conn: &Connection, recipient: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached(&format!(
        "SELECT COUNT(*) {} AND n.read_at IS NULL",
        visible_notifications()
    ))?
    .query_row(named_params! {":viewer": recipient}, |r| r.get(0))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    pub next_cursor: Option<String>,
    pub unread: i64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct NotificationQuery {
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/notifications", tag = "community", params(NotificationQuery),
    responses((status = 200, body = NotificationPage)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<NotificationQuery>,
) -> ApiResult<Json<NotificationPage>> {
    user.require_scope(Scope::Read)?;
    let before = match query.cursor.as_deref() {
        Some(cursor) => cursor
            .parse::<i64>()
            .map_err(|_| ApiError::field("cursor", "Unknown cursor."))?,
        None => i64::MAX,
    };
    let id = user.user_id.clone();
    let page = state
        .db
        .query(move |conn| {
            let mut items = visible(conn, &id, before, PAGE + 1, false)?;
            let more = items.len() > PAGE;
            items.truncate(PAGE);
            Ok(NotificationPage {
                next_cursor: items.last().filter(|_| more).map(|n| n.id.to_string()),
                items,
                unread: unread_count(conn, &id)?,
            })
        })
        .await?;
    Ok(Json(page))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Unread {
    pub unread: i64,
}

#[utoipa::path(get, path = "/api/v1/notifications/unread", tag = "community",
    responses((status = 200, body = Unread)))]
pub async fn unread(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Unread>> {
    user.require_scope(Scope::Read)?;
    let id = user.user_id.clone();
    let unread = state.db.query(move |conn| unread_count(conn, &id)).await?;
    Ok(Json(Unread { unread }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// These notifications; all of them when absent.
    pub ids: Option<Vec<i64>>,
}

#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "community", request_body = MarkRead,
    responses((status = 200, body = Unread)))]
pub async fn mark_read(
    State(state): State<AppState>,
    user: AuthUser,
    Json(request): Json<MarkRead>,
) -> ApiResult<Json<Unread>> {
    user.require_scope(Scope::Read)?;
    if request.ids.as_ref().is_some_and(|ids| ids.len() > 500) {
        return Err(ApiError::field("ids", "Mark at most 500 at once."));
    }
    let now = state.now();
    let id = user.user_id.clone();
    let unread = state
        .db
        .write(move |tx| {
            match &request.ids {
                Some(ids) => {
                    for n in ids {
                        tx.execute(
                            "UPDATE notifications SET read_at = ?3
                             WHERE id = ?1 AND user_id = ?2 AND read_at IS NULL",
                            params![n, id, now],
                        )?;
                    }
                }
                None => {
                    tx.execute(
                        "UPDATE notifications SET read_at = ?2 WHERE user_id = ?1 AND read_at IS NULL",
                        params![id, now],
                    )?;
                }
            }
            Ok::<_, ApiError>(unread_count(tx, &id)?)
        })
        .await?;
    Ok(Json(Unread { unread }))
}

/// Notifications in one mail at most.
const MAIL_BATCH: usize = 50;

/// Mails the notifications nobody was told about yet: at once for people who chose
/// instant mail, once a day for the digest. Returns how many mails were queued.
pub fn mail_pending(state: &AppState, tx: &Transaction<'_>, now: i64) -> rusqlite::Result<usize> {
    let due: Vec<(String, String, String, Option<i64>)> = tx
        .prepare_cached(
            "SELECT DISTINCT n.user_id, u.email, s.community, s.digest_sent_at
             FROM notifications n
             JOIN notification_settings s ON s.user_id = n.user_id
             JOIN users u ON u.id = n.user_id
             WHERE n.emailed_at IS NULL AND s.community <> 'off' AND u.disabled_at IS NULL",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut queued = 0;
    for (user_id, email, choice, digest_sent_at) in due {
        let choice = CommunityMail::parse(&choice);
        if choice == CommunityMail::Daily && digest_sent_at.is_some_and(|t| now - t < 24 * 3600) {
            continue;
        }
        let mut items = visible(tx, &user_id, i64::MAX, MAIL_BATCH + 1, true)?;
        let more = items.len() > MAIL_BATCH;
        items.truncate(MAIL_BATCH);
        tx.execute(
            "UPDATE notifications SET emailed_at = ?2 WHERE user_id = ?1 AND emailed_at IS NULL",
            params![user_id, now],
        )?;
        if choice == CommunityMail::Daily {
            tx.execute(
                "UPDATE notification_settings SET digest_sent_at = ?2 WHERE user_id = ?1",
                params![user_id, now],
            )?;
        }
        if items.is_empty() {
            continue;
        }
        let unsubscribe = settings::unsubscribe_url(state, &user_id, COMMUNITY);
        let subject = match (choice, items.len()) {
            (CommunityMail::Daily, n) => format!("Your StrataMake day: {n} new notifications"),
            (_, 1) => items[0].text.clone(),
            (_, n) => format!("{n} new notifications"),
        };
        let mut paragraphs: Vec<String> = items
            .iter()
            .map(|n| match &n.excerpt {
                Some(excerpt) => format!("{}: \u{201c}{excerpt}\u{201d}", n.text),
                None => format!("{}.", n.text),
            })
            .collect();
        if more {
            paragraphs.push("…and more in the app.".into());
        }
        paragraphs.push(format!(
            "You get this mail because you chose {} community mail. Change it in your settings, \
             or stop it with one click: {unsubscribe}",
            if choice == CommunityMail::Daily {
                "a daily digest of"
            } else {
                "instant"
            }
        ));
        let mut outgoing = emails::compose(
            state,
            Compose {
                to: &email,
                user_id: Some(&user_id),
                kind: "community",
                subject: &subject,
                paragraphs: &paragraphs,
                action: Some((
                    "Open your notifications",
                    format!("{}/notifications", state.config.public_base()),
                )),
            },
        );
        outgoing.unsubscribe_url = Some(unsubscribe);
        mail::enqueue(tx, &outgoing, now)?;
        queued += 1;
    }
    Ok(queued)
}

/// Mails pending notifications every few seconds until `shutdown` fires.
pub async fn run_mailer(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        let now = state.now();
        let worker = state.clone();
        match state
            .db
            .write(move |tx| {
                mail_pending(&worker, tx, now).map_err(crate::platform::db::DbError::from)
            })
            .await
        {
            Ok(0) => {}
            Ok(_) => state.mailer.wake(),
            Err(error) => tracing::error!(%error, "community mail failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
            _ = shutdown.changed() => return,
        }
    }
}
