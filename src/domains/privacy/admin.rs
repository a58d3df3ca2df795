//! The admin side of the privacy center: the usage dashboard, pending deletions,
//! exports and deletions run for people who wrote in, child accounts, and mail to
//! those who opted in to news. Every action is in the audit log.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::consents;
use super::deletion::{self, PendingDeletion, RequestedBy};
use super::export::{self, DataExport};
use crate::app::AppState;
use crate::domains::accounts::notifications::unsubscribe_url;
use crate::domains::admin::audit;
use crate::domains::auth::emails::{Compose, compose};
use crate::domains::auth::extract::AuthUser;
use crate::domains::auth::store;
use crate::error::{ApiError, ApiResult};
use crate::platform::clock::iso_date;
use crate::platform::mail;
use crate::platform::usage::{self, DayTotals, Kind, NamedCount};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DashboardQuery {
    /// How many days back (1 to 365; 30 when left out).
    pub days: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    pub recording: bool,
    /// Every day of the period, oldest first (days without records have zeros).
    pub days: Vec<DayTotals>,
    pub top_features: Vec<NamedCount>,
    pub top_pages: Vec<NamedCount>,
    pub top_requests: Vec<NamedCount>,
    /// People who opted out of analytics (never counted).
    pub opted_out: i64,
    pub full_ip_days: i64,
    pub retention_days: i64,
}

#[utoipa::path(get, path = "/api/v1/admin/analytics", tag = "admin", params(DashboardQuery),
    responses((status = 200, body = Dashboard), (status = 403, body = crate::error::Problem)))]
pub async fn dashboard(
    State(state): State<AppState>,
    admin: AuthUser,
    Query(query): Query<DashboardQuery>,
) -> ApiResult<Json<Dashboard>> {
    admin.require_admin()?;
    let days = query.days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(ApiError::field("days", "Choose 1 to 365 days."));
    }
    state.privacy.usage.flush(&state.db).await?;
    let now = state.now();
    let since = iso_date(now - (days - 1) * 86_400);
    let recording = state.privacy.usage.enabled();
    let config = state.config.privacy.clone();
    let dashboard = state
        .db
        .read(move |conn| {
            let recorded = usage::daily_totals(conn, &since)?;
            let every_day = (0..days)
                .rev()
                .map(|back| {
                    let day = iso_date(now - back * 86_400);
                    recorded
                        .iter()
                        .find(|d| d.day == day)
                        .map(|d| DayTotals {
                            day: d.day.clone(),
                            ..*d
                        })
                        .unwrap_or(DayTotals {
                            day,
                            active_users: 0,
                            page_views: 0,
                            api_requests: 0,
                            features: 0,
                        })
                })
                .collect();
            Ok::<_, ApiError>(Dashboard {
                recording,
                days: every_day,
                top_features: usage::top(conn, Kind::Feature, &since, None, 10)?,
                top_pages: usage::top(conn, Kind::Page, &since, None, 10)?,
                top_requests: usage::top(conn, Kind::Api, &since, None, 10)?,
                opted_out: consents::analytics_opted_out(conn)?.len() as i64,
                full_ip_days: config.analytics_full_ip_days,
                retention_days: config.analytics_retention_days,
            })
        })
        .await?;
    Ok(Json(dashboard))
}

#[utoipa::path(get, path = "/api/v1/admin/privacy/deletions", tag = "admin",
    responses((status = 200, body = Vec<PendingDeletion>), (status = 403, body = crate::error::Problem)))]
pub async fn deletions(
    State(state): State<AppState>,
    admin: AuthUser,
) -> ApiResult<Json<Vec<PendingDeletion>>> {
    admin.require_admin()?;
    Ok(Json(state.db.query(deletion::pending).await?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExportForOther {
    #[serde(flatten)]
    pub export: DataExport,
    pub username: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/admin/privacy/exports", tag = "admin",
    responses((status = 200, body = Vec<ExportForOther>), (status = 403, body = crate::error::Problem)))]
pub async fn exports(
    State(state): State<AppState>,
    admin: AuthUser,
) -> ApiResult<Json<Vec<ExportForOther>>> {
    admin.require_admin()?;
    let id = admin.user_id;
    let list = state
        .db
        .query(move |conn| {
            export::run_by(conn, &id)?
                .into_iter()
                .map(|export| {
                    Ok(ExportForOther {
                        username: store::user_by_id(conn, &export.user_id)?.map(|u| u.username),
                        export,
                    })
                })
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;
    Ok(Json(list))
}

/// The account `id`, for an admin acting on it.
async fn account(state: &AppState, id: String) -> ApiResult<store::User> {
    state
        .db
        .query(move |conn| store::user_by_id(conn, &id))
        .await?
        .ok_or(ApiError::NotFound)
}

async fn audited(
    state: &AppState,
    admin: &str,
    action: &'static str,
    target: String,
) -> ApiResult<()> {
    let now = state.now();
    let admin = admin.to_string();
    state
        .db
        .write(move |tx| {
            audit::record(tx, Some(&admin), action, &target, "written request", now)?;
            Ok::<_, ApiError>(())
        })
        .await
}

#[utoipa::path(post, path = "/api/v1/admin/users/{id}/export", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    responses((status = 202, body = DataExport), (status = 404, body = crate::error::Problem)))]
pub async fn export_for(
    State(state): State<AppState>,
    admin: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<DataExport>)> {
    admin.require_admin()?;
    admin.require_session()?;
    let user = account(&state, id).await?;
    let (export, _) = export::start(&state, &user.id, &admin.user_id).await?;
    audited(&state, &admin.user_id, "privacy.export_for", user.username).await?;
    Ok((StatusCode::ACCEPTED, Json(export)))
}

#[utoipa::path(post, path = "/api/v1/admin/users/{id}/delete", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    responses((status = 202, body = deletion::DeletionScheduled), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn delete_for(
    State(state): State<AppState>,
    admin: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<deletion::DeletionScheduled>)> {
    admin.require_admin()?;
    admin.require_session()?;
    if id == admin.user_id {
        return Err(ApiError::Conflict(
            "Delete your own account from your privacy page.".into(),
        ));
    }
    let user = account(&state, id).await?;
    let now = state.now();
    let (tx_state, actor) = (state.clone(), admin.user_id.clone());
    let scheduled = state
        .db
        .write(move |tx| {
            let due =
                deletion::schedule(tx, &tx_state, &user, RequestedBy::Admin, Some(&actor), now)?;
            audit::record(
                tx,
                Some(&actor),
                "privacy.delete_for",
                &user.username,
                "written request",
                now,
            )?;
            Ok::<_, ApiError>(due)
        })
        .await?;
    let purge_after = deletion::scheduled(&state, scheduled);
    Ok((
        StatusCode::ACCEPTED,
        Json(deletion::DeletionScheduled { purge_after }),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChildAccount {
    /// The account's username, typed again: it is purged at once, for good.
    pub confirm_username: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChildPurged {
    pub rows: usize,
    pub files: usize,
}

#[utoipa::path(post, path = "/api/v1/admin/users/{id}/child", tag = "admin",
    params(("id" = String, Path, description = "User id")), request_body = ChildAccount,
    responses((status = 200, body = ChildPurged), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn child_account(
    State(state): State<AppState>,
    admin: AuthUser,
    Path(id): Path<String>,
    Json(body): Json<ChildAccount>,
) -> ApiResult<Json<ChildPurged>> {
    admin.require_admin()?;
    admin.require_session()?;
    if id == admin.user_id {
        return Err(ApiError::Conflict("This is your own account.".into()));
    }
    let user = account(&state, id).await?;
    if !body
        .confirm_username
        .trim()
        .eq_ignore_ascii_case(&user.username)
    {
        return Err(ApiError::field(
            "confirm_username",
            "Type the account's username to confirm.",
        ));
    }
    let purged = deletion::purge_now(&state, &user.id, &admin.user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(ChildPurged {
        rows: purged.rows,
        files: purged.files,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Announcement {
    pub subject: String,
    /// Plain text; blank lines separate paragraphs.
    pub text: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Announced {
    /// People who opted in to news, each sent one mail.
    pub recipients: usize,
}

#[utoipa::path(post, path = "/api/v1/admin/announcements", tag = "admin", request_body = Announcement,
    responses((status = 200, body = Announced), (status = 422, body = crate::error::Problem)))]
pub async fn announce(
    State(state): State<AppState>,
    admin: AuthUser,
    Json(body): Json<Announcement>,
) -> ApiResult<Json<Announced>> {
    admin.require_admin()?;
    let subject = body.subject.trim().to_string();
    if subject.is_empty() || subject.chars().count() > 150 {
        return Err(ApiError::field(
            "subject",
            "Give a subject of at most 150 characters.",
        ));
    }
    let paragraphs: Vec<String> = body
        .text
        .split("\n\n")
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    if paragraphs.is_empty() || body.text.len() > 20_000 {
        return Err(ApiError::field(
            "text",
            "Write the news (at most 20,000 characters).",
        ));
    }
    let now = state.now();
    let (tx_state, actor) = (state.clone(), admin.user_id.clone());
    let recipients = state
        .db
        .write(move |tx| {
            let mut sent = 0;
            for user_id in consents::marketing_audience(tx)? {
                let Some(user) =
                    store::user_by_id(tx, &user_id)?.filter(|u| u.disabled_at.is_none())
                else {
                    continue;
                };
                let mut mail = compose(
                    &tx_state,
                    Compose {
                        to: &user.email,
                        user_id: Some(&user.id),
                        kind: "news",
                        subject: &subject,
                        paragraphs: &paragraphs,
                        action: None,
                    },
                );
                mail.unsubscribe_url = Some(unsubscribe_url(&tx_state, &user.id, "marketing"));
                mail::enqueue(tx, &mail, now)?;
                sent += 1;
            }
            audit::record(
                tx,
                Some(&actor),
                "privacy.announcement",
                &subject,
                &format!("{sent} recipients"),
                now,
            )?;
            Ok::<_, ApiError>(sent)
        })
        .await?;
    state.mailer.wake();
    Ok(Json(Announced { recipients }))
}
