//! Optional mails a user chose (`GET|PUT /api/v1/me/notifications`) and the one-click
//! unsubscribe those mails carry (`POST /api/v1/unsubscribe`, RFC 8058). An unsubscribe
//! token names the user and the topic and is signed with the install's key; it needs no
//! sign-in, as mail clients post it on their own.

use axum::Json;
use axum::extract::{Query, State};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::domains::auth::extract::{AuthUser, Scope};
use crate::error::{ApiError, ApiResult};

/// Topics of optional mail.
pub const GENERATION_DONE: &str = "generation_done";
pub const COMMUNITY: &str = "community";
/// News to those who opted in (the marketing-email consent; unsubscribing withdraws it).
pub const MARKETING: &str = "marketing";

/// How community notifications (followers, comments, replies, reactions, mentions)
/// come by mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommunityMail {
    Off,
    /// A mail as they come.
    Instant,
    /// At most one mail a day.
    Daily,
}

impl CommunityMail {
    pub fn as_str(self) -> &'static str {
        match self {
            CommunityMail::Off => "off",
            CommunityMail::Instant => "instant",
            CommunityMail::Daily => "daily",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "instant" => CommunityMail::Instant,
            "daily" => CommunityMail::Daily,
            _ => CommunityMail::Off,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotificationSettings {
    /// A mail when a generation finishes.
    pub generation_done: bool,
    pub community: CommunityMail,
}

/// The choices to change; those left out stay as they are.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationChoices {
    pub generation_done: Option<bool>,
    pub community: Option<CommunityMail>,
}

pub fn settings(conn: &Connection, user_id: &str) -> rusqlite::Result<NotificationSettings> {
    let saved: Option<(bool, String)> = conn
        .query_row(
            "SELECT generation_done, community FROM notification_settings WHERE user_id = ?1",
            [user_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(match saved {
        Some((generation_done, community)) => NotificationSettings {
            generation_done,
            community: CommunityMail::parse(&community),
        },
        None => NotificationSettings {
            generation_done: false,
            community: CommunityMail::Off,
        },
    })
}

fn save(
    conn: &Connection,
    user_id: &str,
    settings: &NotificationSettings,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO notification_settings (user_id, generation_done, community, updated_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(user_id) DO UPDATE SET generation_done = excluded.generation_done,
                                            community = excluded.community,
                                            updated_at = excluded.updated_at",
        params![
            user_id,
            settings.generation_done,
            settings.community.as_str(),
            now
        ],
    )?;
    Ok(())
}

/// The unsubscribe link for one user and topic.
pub fn unsubscribe_url(state: &AppState, user_id: &str, topic: &str) -> String {
    let subject = URL_SAFE_NO_PAD.encode(format!("{user_id}:{topic}"));
    let signature = state.secrets.sign("unsubscribe", &subject);
    format!(
        "{}/api/v1/unsubscribe?token={subject}.{signature}",
        state.config.public_base()
    )
}

#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "account",
    responses((status = 200, body = NotificationSettings)))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Json<NotificationSettings>> {
    user.require_scope(Scope::Read)?;
    let id = user.user_id.clone();
    Ok(Json(state.db.query(move |conn| settings(conn, &id)).await?))
}

#[utoipa::path(put, path = "/api/v1/me/notifications", tag = "account",
    request_body = NotificationChoices, responses((status = 200, body = NotificationSettings)))]
pub async fn put(
    State(state): State<AppState>,
    user: AuthUser,
    Json(wanted): Json<NotificationChoices>,
) -> ApiResult<Json<NotificationSettings>> {
    user.require_session()?;
    let now = state.now();
    let id = user.user_id.clone();
    let saved = state
        .db
        .write(move |tx| {
            let mut current = settings(tx, &id)?;
            current.generation_done = wanted.generation_done.unwrap_or(current.generation_done);
            current.community = wanted.community.unwrap_or(current.community);
            save(tx, &id, &current, now)?;
            Ok::<_, ApiError>(current)
        })
        .await?;
    Ok(Json(saved))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct UnsubscribeQuery {
    pub token: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Unsubscribed {
    pub topic: String,
}

#[utoipa::path(post, path = "/api/v1/unsubscribe", tag = "account", params(UnsubscribeQuery),
    responses((status = 200, body = Unsubscribed), (status = 400, body = crate::error::Problem)))]
pub async fn unsubscribe(
    State(state): State<AppState>,
    Query(query): Query<UnsubscribeQuery>,
) -> ApiResult<Json<Unsubscribed>> {
    let invalid = || ApiError::BadRequest("This unsubscribe link is not valid.".into());
    let (subject, signature) = query.token.split_once('.').ok_or_else(invalid)?;
    if !state.secrets.verify("unsubscribe", subject, signature) {
        return Err(invalid());
    }
    let decoded = URL_SAFE_NO_PAD.decode(subject).map_err(|_| invalid())?;
    let text = String::from_utf8(decoded).map_err(|_| invalid())?;
    let (user_id, topic) = text.split_once(':').ok_or_else(invalid)?;
    let topic = topic.to_string();
    if topic != GENERATION_DONE && topic != COMMUNITY && topic != MARKETING {
        return Err(invalid());
    }
    let community = topic == COMMUNITY;
    let now = state.now();
    let user_id = user_id.to_string();
    if topic == MARKETING {
        state
            .db
            .write(move |tx| {
                use crate::domains::privacy::consents::{self, Purpose};
                if crate::domains::auth::store::user_by_id(tx, &user_id)?.is_some()
                    && consents::granted(tx, &user_id, Purpose::MarketingEmail)?
                {
                    consents::record(
                        tx,
                        &user_id,
                        Purpose::MarketingEmail,
                        false,
                        "unsubscribe",
                        &serde_json::json!({}),
                        now,
                    )?;
                }
                Ok::<_, ApiError>(())
            })
            .await?;
        return Ok(Json(Unsubscribed { topic }));
    }
    state
        .db
        .write(move |tx| {
            let mut current = settings(tx, &user_id)?;
            if community {
                current.community = CommunityMail::Off;
            } else {
                current.generation_done = false;
            }
            // The account may be gone; then there is nothing to change.
            if crate::domains::auth::store::user_by_id(tx, &user_id)?.is_some() {
                save(tx, &user_id, &current, now)?;
            }
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(Json(Unsubscribed { topic }))
}
