//! `GET|PATCH /api/v1/me`, `POST /api/v1/me/password`, `POST /api/v1/me/email`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::domains::auth::api::recovery::password_changed_mail;
use crate::domains::auth::api::signup::MessageResponse;
use crate::domains::auth::emails::{Compose, compose, link};
use crate::domains::auth::extract::{AuthUser, Client, Scope};
use crate::domains::auth::store::{self, EmailPurpose, Role, User};
use crate::domains::auth::{password, validate};
use crate::domains::community::people;
use crate::domains::library::store as library;
use crate::error::{ApiError, ApiResult};
use crate::platform::mail;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub id: String,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub display_name: String,
    pub bio: String,
    pub links: Vec<String>,
    pub role: Role,
    pub created_at: i64,
    pub has_password: bool,
    /// The profile picture (one of the user's library images), if chosen.
    pub avatar_url: Option<String>,
}

impl From<User> for Me {
    fn from(user: User) -> Self {
        Me {
            email_verified: user.email_verified_at.is_some(),
            has_password: user.password_hash.is_some(),
            id: user.id,
            username: user.username,
            email: user.email,
            display_name: user.display_name,
            bio: user.bio,
            links: user.links,
            role: user.role,
            created_at: user.created_at,
            avatar_url: None,
        }
    }
}

async fn load(state: &AppState, user_id: String) -> ApiResult<Me> {
    state
        .db
        .query(move |conn| {
            let Some(user) = store::user_by_id(conn, &user_id)? else {
                return Ok(None);
            };
            let avatar_url = people::avatar_of(conn, &user_id)?;
            Ok(Some(Me {
                avatar_url,
                ..Me::from(user)
            }))
        })
        .await?
        .ok_or(ApiError::NotFound)
}

#[utoipa::path(get, path = "/api/v1/me", tag = "account",
    responses((status = 200, body = Me), (status = 401, body = crate::error::Problem)))]
pub async fn get_me(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Me>> {
    user.require_scope(Scope::Read)?;
    // The extractor read the account a moment ago; only the picture is left to find.
    let id = user.user_id;
    let avatar_url = state
        .db
        .query(move |conn| people::avatar_of(conn, &id))
        .await?;
    Ok(Json(Me {
        avatar_url,
        ..Me::from(user.account)
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    pub display_name: Option<String>,
    pub bio: Option<String>,
    /// Up to 5 http(s) links.
    pub links: Option<Vec<String>>,
    pub username: Option<String>,
    /// One of your library images as your profile picture; an empty string removes it.
    pub avatar_asset_id: Option<String>,
}

const MAX_LINKS: usize = 5;

fn check_profile(patch: &ProfilePatch) -> ApiResult<Option<String>> {
    if let Some(name) = &patch.display_name
        && (name.trim().chars().count() > 60 || name.chars().any(char::is_control))
    {
        return Err(ApiError::field(
            "display_name",
            "Use at most 60 characters, no control characters.",
        ));
    }
    if let Some(bio) = &patch.bio
        && bio.chars().count() > 500
    {
        return Err(ApiError::field("bio", "Use at most 500 characters."));
    }
    if let Some(links) = &patch.links {
        if links.len() > MAX_LINKS {
            return Err(ApiError::field(
                "links",
                format!("Add at most {MAX_LINKS} links."),
            ));
        }
        for link in links {
            let ok = url::Url::parse(link.trim())
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                && link.len() <= 200;
            if !ok {
                return Err(ApiError::field(
                    "links",
                    format!("{link:?} is not an http(s) link."),
                ));
            }
        }
    }
    patch
        .username
        .as_deref()
        .map(validate::username)
        .transpose()
}

#[utoipa::path(patch, path = "/api/v1/me", tag = "account", request_body = ProfilePatch,
    responses((status = 200, body = Me), (status = 409, description = "Username taken", body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn patch_me(
    State(state): State<AppState>,
    user: AuthUser,
    Json(patch): Json<ProfilePatch>,
) -> ApiResult<Json<Me>> {
    user.require_scope(Scope::Publish)?;
    let username = check_profile(&patch)?;
    let user_id = user.user_id.clone();
    state
        .db
        .write(move |tx| {
            if let Some(name) = &patch.display_name {
                tx.execute(
                    "UPDATE users SET display_name = ?2 WHERE id = ?1",
                    params![user_id, name.trim()],
                )?;
            }
            if let Some(bio) = &patch.bio {
                tx.execute(
                    "UPDATE users SET bio = ?2 WHERE id = ?1",
                    params![user_id, bio.trim()],
                )?;
            }
            if let Some(links) = &patch.links {
                let trimmed: Vec<&str> = links.iter().map(|l| l.trim()).collect();
                let json =
                    serde_json::to_string(&trimmed).map_err(|e| ApiError::Internal(e.into()))?;
                tx.execute(
                    "UPDATE users SET links = ?2 WHERE id = ?1",
                    params![user_id, json],
                )?;
            }
            if let Some(asset_id) = &patch.avatar_asset_id {
                let avatar = match asset_id.as_str() {
                    "" => None,
                    id => Some(
                        library::get(tx, id)?
                            .filter(|a| {
                                a.user_id == user_id && a.kind == "image" && !a.is_likeness()
                            })
                            .ok_or_else(|| {
                                ApiError::field("avatar_asset_id", "Choose one of your images.")
                            })?
                            .id,
                    ),
                };
                tx.execute(
                    "UPDATE users SET avatar_asset_id = ?2 WHERE id = ?1",
                    params![user_id, avatar],
                )?;
            }
            if let Some(name) = &username {
                let current = store::user_by_id(tx, &user_id)?.ok_or(ApiError::NotFound)?;
                if !current.username.eq_ignore_ascii_case(name) {
                    if store::username_taken(tx, name)? {
                        return Err(ApiError::Conflict("This username is taken.".into()));
                    }
                    tx.execute(
                        "UPDATE users SET username = ?2 WHERE id = ?1",
                        params![user_id, name],
                    )?;
                }
            }
            Ok(())
        })
        .await?;
    Ok(Json(load(&state, user.user_id).await?))
}

/// Checks the account's current password (for re-authentication).
async fn confirm_password(state: &AppState, user_id: &str, given: &str) -> ApiResult<User> {
    let id = user_id.to_string();
    let user = state
        .db
        .query(move |conn| store::user_by_id(conn, &id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let given = given.to_string();
    let stored = user.password_hash.clone();
    let ok = tokio::task::spawn_blocking(move || password::verify(&given, stored.as_deref()))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    if ok {
        Ok(user)
    } else {
        Err(ApiError::field(
            "current_password",
            "The current password is not right.",
        ))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

#[utoipa::path(post, path = "/api/v1/me/password", tag = "account", request_body = PasswordChange,
    responses((status = 204, description = "Changed; other sessions signed out, a notice mailed"),
              (status = 422, body = crate::error::Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    Client(client, _): Client,
    user: AuthUser,
    Json(request): Json<PasswordChange>,
) -> ApiResult<StatusCode> {
    let session_id = user.require_session()?.to_string();
    let account = confirm_password(&state, &user.user_id, &request.current_password).await?;
    password::check_policy(
        "new_password",
        &request.new_password,
        &[&account.username, &account.email],
    )?;
    let new_password = request.new_password.clone();
    let hash = tokio::task::spawn_blocking(move || password::hash(&new_password))
        .await
        .map_err(|e| ApiError::Internal(e.into()))??;
    let now = state.now();
    let state2 = state.clone();
    state
        .db
        .write(move |tx| {
            store::set_password(tx, &account.id, &hash)?;
            store::revoke_user_sessions(
                tx,
                &account.id,
                Some(&session_id),
                "password changed",
                now,
            )?;
            store::log_event(tx, &account.id, "password_changed", &client, now)?;
            let mail =
                password_changed_mail(&state2, &account.email, &account.id, &account.username);
            mail::enqueue(tx, &mail, now)?;
            Ok::<_, ApiError>(())
        })
        .await?;
    state.mailer.wake();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct EmailChange {
    pub password: String,
    pub new_email: String,
}

pub const EMAIL_CHANGE_SECONDS: i64 = 24 * 3600;

#[utoipa::path(post, path = "/api/v1/me/email", tag = "account", request_body = EmailChange,
    responses((status = 202, description = "A confirmation link went to the new address, a notice to the old", body = MessageResponse),
              (status = 422, body = crate::error::Problem)))]
pub async fn change_email(
    State(state): State<AppState>,
    user: AuthUser,
    Json(request): Json<EmailChange>,
) -> ApiResult<(StatusCode, Json<MessageResponse>)> {
    user.require_session()?;
    let new_email = validate::email("new_email", &request.new_email)?;
    let account = confirm_password(&state, &user.user_id, &request.password)
        .await
        .map_err(|_| ApiError::field("password", "The password is not right."))?;
    if account.email.eq_ignore_ascii_case(&new_email) {
        return Err(ApiError::field(
            "new_email",
            "This is already your email address.",
        ));
    }
    let now = state.now();
    let state2 = state.clone();
    state
        .db
        .write(move |tx| {
            // An address that belongs to someone else gets no mail, and the answer is
            // the same, so this cannot be used to find accounts.
            if store::user_by_email(tx, &new_email)?.is_some() {
                return Ok::<_, ApiError>(());
            }
            let token = store::create_email_token(
                tx,
                &account.id,
                EmailPurpose::EmailChange,
                Some(&new_email),
                EMAIL_CHANGE_SECONDS,
                now,
            )?;
            let confirm = [format!(
                "Confirm that {new_email} should become the email address of your account {}.",
                account.username
            )];
            let mail = compose(
                &state2,
                Compose {
                    to: &new_email,
                    user_id: Some(&account.id),
                    kind: "email_change",
                    subject: "confirm your new email address",
                    paragraphs: &confirm,
                    action: Some(("Confirm new address", link(&state2, "/verify", &token))),
                },
            );
            mail::enqueue(tx, &mail, now)?;
            let notice = [format!(
                "Someone signed in to your account {} asked to change its email address to {new_email}. \
                 Nothing changes until the new address is confirmed. If this was not you, change your password now.",
                account.username
            )];
            let mail = compose(
                &state2,
                Compose {
                    to: &account.email,
                    user_id: Some(&account.id),
                    kind: "email_change_notice",
                    subject: "email change requested",
                    paragraphs: &notice,
                    action: None,
                },
            );
            mail::enqueue(tx, &mail, now)?;
            Ok(())
        })
        .await?;
    state.mailer.wake();
    Ok((
        StatusCode::ACCEPTED,
        MessageResponse::new(
            "Check the new address for a confirmation link. Your email changes once you open it.",
        ),
    ))
}
