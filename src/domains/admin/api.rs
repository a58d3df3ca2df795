//! Admin endpoints under `/api/v1/admin`: users, instance settings, invites, the mail
//! outbox and the audit log. Every change is written to the audit log.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::audit;
use super::settings::{self, InstanceSettings};
use crate::app::AppState;
use crate::config::Config;
use crate::domains::auth::extract::AuthUser;
use crate::domains::auth::store::{self, Role};
use crate::domains::{credits, library, privacy};
use crate::error::{ApiError, ApiResult};
use crate::platform::cursor::{self, Page};
use crate::platform::tokens::{hash_token, new_id, new_token};

const PAGE: i64 = 50;

fn bad_cursor() -> ApiError {
    ApiError::BadRequest("The cursor is not valid; start from the first page.".into())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct UserQuery {
    /// Part of a username or email.
    pub q: Option<String>,
    pub cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AdminUser {
    pub id: String,
    pub username: String,
    pub email: String,
    pub role: Role,
    pub email_verified: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    pub storage: library::store::Storage,
    /// Credit balance.
    pub credits: i64,
    /// When the account will be purged, if its deletion is pending.
    pub deletion_due_at: Option<i64>,
}

impl AdminUser {
    /// The admin's view of an account, with its storage use (read on `conn`).
    fn read(conn: &Connection, u: store::User, config: &Config) -> rusqlite::Result<Self> {
        Ok(AdminUser {
            storage: library::store::storage(conn, &u.id, config.storage.default_quota_bytes)?,
            credits: credits::ledger::balance(conn, &u.id, config.generation.starting_credits)?,
            deletion_due_at: privacy::deletion::pending_until(conn, &u.id)?,
            email_verified: u.email_verified_at.is_some(),
            disabled: u.disabled_at.is_some(),
            id: u.id,
            username: u.username,
            email: u.email,
            role: u.role,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
        })
    }
}

#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", params(UserQuery),
    responses((status = 200, body = Page<AdminUser>), (status = 403, body = crate::error::Problem)))]
pub async fn list_users(
    State(state): State<AppState>,
    admin: AuthUser,
    Query(query): Query<UserQuery>,
) -> ApiResult<Json<Page<AdminUser>>> {
    admin.require_admin()?;
    let position = match &query.cursor {
        Some(c) => Some(cursor::decode(c).ok_or_else(bad_cursor)?),
        None => None,
    };
    let pattern = cursor::like_contains(&query.q.unwrap_or_default());
    let config = state.config.clone();
    let items = state
        .db
        .query(move |conn| {
            store::search_users(conn, &pattern, position, PAGE + 1)?
                .into_iter()
                .map(|u| AdminUser::read(conn, u, &config))
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;
    Ok(Json(Page::from_rows(
        items,
        PAGE as usize,
        |u: &AdminUser| (u.created_at, u.id.as_str()),
    )))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub role: Option<String>,
    pub disabled: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", request_body = UserPatch,
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = AdminUser), (status = 404, body = crate::error::Problem)))]
pub async fn patch_user(
    State(state): State<AppState>,
    admin: AuthUser,
    Path(id): Path<String>,
    Json(patch): Json<UserPatch>,
) -> ApiResult<Json<AdminUser>> {
    admin.require_admin()?;
    let role = patch
        .role
        .as_deref()
        .map(|r| {
            Role::parse(r)
                .ok_or_else(|| ApiError::field("role", "Choose user, moderator or admin."))
        })
        .transpose()?;
    if id == admin.user_id
        && (patch.disabled == Some(true) || role.is_some_and(|r| r != Role::Admin))
    {
        return Err(ApiError::Conflict(
            "You cannot disable yourself or remove your own admin role; ask another admin.".into(),
        ));
    }
    let now = state.now();
    let actor = admin.user_id.clone();
    let config = state.config.clone();
    let user = state
        .db
        .write(move |tx| {
            let user = store::user_by_id(tx, &id)?.ok_or(ApiError::NotFound)?;
            if let Some(role) = role
                && role != user.role
            {
                tx.execute(
                    "UPDATE users SET role = ?2 WHERE id = ?1",
                    params![id, role.as_str()],
                )?;
                audit::record(
                    tx,
                    Some(&actor),
                    "user.role",
                    &user.username,
                    &format!("{} -> {}", user.role.as_str(), role.as_str()),
                    now,
                )?;
            }
            match patch.disabled {
                Some(true) if user.disabled_at.is_none() => {
                    store::set_disabled(tx, &id, true, now)?;
                    audit::record(tx, Some(&actor), "user.disable", &user.username, "", now)?;
                }
                // Locked for its deletion already: cancelling it must not lift this.
                Some(true) if privacy::deletion::keep_disabled(tx, &id)? => {
                    audit::record(tx, Some(&actor), "user.disable", &user.username, "", now)?;
                }
                Some(false)
                    if user.disabled_at.is_some()
                        && privacy::deletion::pending_until(tx, &id)?.is_some() =>
                {
                    return Err(ApiError::Conflict(
                        "This account is scheduled for deletion; only its owner can cancel that, with the link they were mailed.".into(),
                    ));
                }
                Some(false) if user.disabled_at.is_some() => {
                    store::set_disabled(tx, &id, false, now)?;
                    audit::record(tx, Some(&actor), "user.enable", &user.username, "", now)?;
                }
                _ => {}
            }
            let user = store::user_by_id(tx, &id)?.ok_or(ApiError::NotFound)?;
            Ok::<_, ApiError>(AdminUser::read(tx, user, &config)?)
        })
        .await?;
    Ok(Json(user))
}

#[utoipa::path(get, path = "/api/v1/admin/settings", tag = "admin", responses((status = 200, body = InstanceSettings)))]
pub async fn get_settings(
    State(state): State<AppState>,
    admin: AuthUser,
) -> ApiResult<Json<InstanceSettings>> {
    admin.require_admin()?;
    let config_default = state.config.storage.default_quota_bytes;
    let settings = state
        .db
        .query(move |conn| {
            let mut settings = settings::get(conn)?;
            settings.default_quota_bytes =
                Some(library::store::default_quota(conn, config_default)? as u64);
            Ok(settings)
        })
        .await?;
    Ok(Json(settings))
}

#[utoipa::path(put, path = "/api/v1/admin/settings", tag = "admin", request_body = InstanceSettings,
    responses((status = 200, body = InstanceSettings)))]
pub async fn put_settings(
    State(state): State<AppState>,
    admin: AuthUser,
    Json(new): Json<InstanceSettings>,
) -> ApiResult<Json<InstanceSettings>> {
    admin.require_admin()?;
    if new.default_quota_bytes.is_some_and(|b| b > i64::MAX as u64) {
        return Err(ApiError::field(
            "default_quota_bytes",
            "Use a number of bytes up to 9,223,372,036,854,775,807.",
        ));
    }
    let now = state.now();
    let saved = new.clone();
    state
        .db
        .write(move |tx| {
            let old = settings::get(tx)?;
            settings::put(tx, &new)?;
            let quota = |q: Option<u64>| q.map_or("config".to_string(), |b| format!("{b} bytes"));
            let detail = format!(
                "signup {:?} -> {:?}, proof of work {} -> {}, default quota {} -> {}",
                old.signup_mode,
                new.signup_mode,
                old.pow_required,
                new.pow_required,
                quota(old.default_quota_bytes),
                quota(new.default_quota_bytes)
            );
            audit::record(
                tx,
                Some(&admin.user_id),
                "settings.update",
                "instance",
                &detail,
                now,
            )?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(Json(saved))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InviteView {
    pub id: String,
    /// The start of the code (the full code is shown once, at creation).
    pub code: String,
    /// The signup link; only in the answer that created the invite.
    pub url: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub used_by: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/admin/invites", tag = "admin", responses((status = 200, body = Page<InviteView>)))]
pub async fn list_invites(
    State(state): State<AppState>,
    admin: AuthUser,
) -> ApiResult<Json<Page<InviteView>>> {
    admin.require_admin()?;
    let items = state
        .db
        .query(|conn| {
            let mut stmt = conn.prepare(
                "SELECT i.id, i.prefix, i.created_at, i.expires_at, i.used_at, u.username
                 FROM invites i LEFT JOIN users u ON u.id = i.used_by
                 ORDER BY i.created_at DESC LIMIT 200",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(InviteView {
                    id: r.get(0)?,
                    code: format!("{}…", r.get::<_, String>(1)?),
                    url: None,
                    created_at: r.get(2)?,
                    expires_at: r.get(3)?,
                    used_at: r.get(4)?,
                    used_by: r.get(5)?,
                })
            })?;
            rows.collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewInvite {
    /// Days the invite works (default 7, at most 90).
    pub expires_in_days: Option<i64>,
}

#[utoipa::path(post, path = "/api/v1/admin/invites", tag = "admin", request_body = NewInvite,
    responses((status = 201, body = InviteView)))]
pub async fn create_invite(
    State(state): State<AppState>,
    admin: AuthUser,
    body: Option<Json<NewInvite>>,
) -> ApiResult<(StatusCode, Json<InviteView>)> {
    admin.require_admin()?;
    let days = body.and_then(|b| b.expires_in_days).unwrap_or(7);
    if !(1..=90).contains(&days) {
        return Err(ApiError::field("expires_in_days", "Choose 1 to 90 days."));
    }
    let now = state.now();
    let code = new_token();
    let view = InviteView {
        id: new_id(),
        code: code.clone(),
        url: Some(format!(
            "{}/signup?invite={code}",
            state.config.public_base()
        )),
        created_at: now,
        expires_at: now + days * 24 * 3600,
        used_at: None,
        used_by: None,
    };
    let (id, expires_at) = (view.id.clone(), view.expires_at);
    state
        .db
        .write(move |tx| {
            tx.execute(
                "INSERT INTO invites (id, code_hash, prefix, created_by, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id,
                    hash_token(&code),
                    &code[..6],
                    admin.user_id,
                    now,
                    expires_at
                ],
            )?;
            audit::record(
                tx,
                Some(&admin.user_id),
                "invite.create",
                &id,
                &format!("{days} days"),
                now,
            )?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(delete, path = "/api/v1/admin/invites/{id}", tag = "admin",
    params(("id" = String, Path, description = "Invite id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = crate::error::Problem)))]
pub async fn delete_invite(
    State(state): State<AppState>,
    admin: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin.require_admin()?;
    let now = state.now();
    state
        .db
        .write(move |tx| {
            if tx.execute("DELETE FROM invites WHERE id = ?1", [&id])? == 0 {
                return Err(ApiError::NotFound);
            }
            audit::record(tx, Some(&admin.user_id), "invite.delete", &id, "", now)?;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CursorQuery {
    pub cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OutboxMail {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

fn id_cursor(query: &CursorQuery) -> ApiResult<i64> {
    match &query.cursor {
        Some(c) => cursor::decode(c).map(|(id, _)| id).ok_or_else(bad_cursor),
        None => Ok(i64::MAX),
    }
}

#[utoipa::path(get, path = "/api/v1/admin/mail", tag = "admin", params(CursorQuery),
    responses((status = 200, body = Page<OutboxMail>)))]
pub async fn list_mail(
    State(state): State<AppState>,
    admin: AuthUser,
    Query(query): Query<CursorQuery>,
) -> ApiResult<Json<Page<OutboxMail>>> {
    admin.require_admin()?;
    let before = id_cursor(&query)?;
    let items = state
        .db
        .query(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id, to_addr, subject, kind, status, attempts, last_error, created_at, sent_at
                 FROM mail_outbox WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![before, PAGE + 1], |r| {
                Ok(OutboxMail {
                    id: r.get(0)?,
                    to: r.get(1)?,
                    subject: r.get(2)?,
                    kind: r.get(3)?,
                    status: r.get(4)?,
                    attempts: r.get(5)?,
                    last_error: r.get(6)?,
                    created_at: r.get(7)?,
                    sent_at: r.get(8)?,
                })
            })?;
            rows.collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(Json(Page::from_rows(items, PAGE as usize, |m| (m.id, ""))))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TestMailRequest {
    pub to: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TestMailResult {
    pub ok: bool,
    /// What happened, step by step, with the server's answers.
    pub transcript: String,
}

#[utoipa::path(post, path = "/api/v1/admin/mail/test", tag = "admin", request_body = TestMailRequest,
    responses((status = 200, body = TestMailResult)))]
pub async fn test_mail(
    State(state): State<AppState>,
    admin: AuthUser,
    Json(request): Json<TestMailRequest>,
) -> ApiResult<Json<TestMailResult>> {
    admin.require_admin()?;
    let to = crate::domains::auth::validate::email("to", &request.to)?;
    let (ok, transcript) = state
        .mailer
        .send_test(&to, &state.config.instance_name)
        .await;
    let now = state.now();
    let detail = if ok { "ok" } else { "failed" };
    state
        .db
        .write(move |tx| {
            Ok::<_, ApiError>(audit::record(
                tx,
                Some(&admin.user_id),
                "mail.test",
                &to,
                detail,
                now,
            )?)
        })
        .await?;
    Ok(Json(TestMailResult { ok, transcript }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    /// Username of who acted (none for the system or a deleted account).
    pub actor: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub created_at: i64,
}

#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", params(CursorQuery),
    responses((status = 200, body = Page<AuditEntry>)))]
pub async fn list_audit(
    State(state): State<AppState>,
    admin: AuthUser,
    Query(query): Query<CursorQuery>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    admin.require_admin()?;
    let before = id_cursor(&query)?;
    let items = state
        .db
        .query(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT a.id, u.username, a.action, a.target, a.detail, a.created_at
                 FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
                 WHERE a.id < ?1 ORDER BY a.id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![before, PAGE + 1], |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    target: r.get(3)?,
                    detail: r.get(4)?,
                    created_at: r.get(5)?,
                })
            })?;
            rows.collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(Json(Page::from_rows(items, PAGE as usize, |m| (m.id, ""))))
}
