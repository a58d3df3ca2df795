//! `POST /api/v1/auth/login`, `/refresh` and `/logout`.
//!
//! A failed sign-in answers alike whether the account exists (the password is checked
//! against a dummy hash when it does not) and is logged in one fail2ban-friendly line.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::app::AppState;
use crate::domains::auth::cookies::{self, TokenResponse};
use crate::domains::auth::extract::Client;
use crate::domains::auth::password;
use crate::domains::auth::store::{self, ClientMeta, Rotation};
use crate::error::{ApiError, ApiResult};
use crate::platform::rate_limit::Limit;

pub const LOGINS_PER_IP: Limit = Limit::new(30, 15 * 60);
pub const LOGINS_PER_ACCOUNT: Limit = Limit::new(10, 15 * 60);
const REFRESHES_PER_IP: Limit = Limit::new(120, 60);

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    /// Username or email.
    pub login: String,
    pub password: String,
}

fn rate_limited(retry_after_seconds: i64) -> ApiError {
    ApiError::TooManyRequests {
        retry_after_seconds,
    }
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized {
        slug: "invalid-credentials",
        detail: "The username or email and password do not match.".into(),
    }
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; the tokens are also set as cookies", body = TokenResponse),
        (status = 401, description = "Wrong credentials", body = crate::error::Problem),
        (status = 429, description = "Too many attempts", body = crate::error::Problem)))]
pub async fn login(
    State(state): State<AppState>,
    Client(client, ip): Client,
    Json(request): Json<LoginRequest>,
) -> ApiResult<Response> {
    let login = request.login.trim().to_lowercase();
    if login.is_empty() || request.password.is_empty() || request.password.len() > 1024 {
        return Err(ApiError::field(
            "login",
            "Enter your username or email and password.",
        ));
    }
    state
        .limiter
        .hit(&format!("login-ip:{ip}"), LOGINS_PER_IP)
        .map_err(rate_limited)?;
    let account_key = format!("login-account:{login}");
    state
        .limiter
        .hit(&account_key, LOGINS_PER_ACCOUNT)
        .map_err(rate_limited)?;

    let lookup = login.clone();
    let user = state
        .db
        .query(move |conn| store::user_by_login(conn, &lookup))
        .await?;
    let password = request.password.clone();
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let matches =
        tokio::task::spawn_blocking(move || password::verify(&password, stored.as_deref()))
            .await
            .map_err(|e| ApiError::Internal(e.into()))?;
    let Some(user) = user.filter(|_| matches) else {
        tracing::warn!(
            target: "stratamake::auth",
            "authentication failure: login=\"{}\" ip={ip}",
            login.escape_default()
        );
        return Err(invalid_credentials());
    };
    if user.disabled_at.is_some() {
        let id = user.id.clone();
        let deletion = state
            .db
            .query(move |conn| crate::domains::privacy::deletion::pending_until(conn, &id))
            .await?;
        return Err(match deletion {
            Some(purge_after) => ApiError::ForbiddenBecause {
                slug: "account-pending-deletion",
                detail: format!(
                    "This account is scheduled for deletion on {}. To keep it, use the link in the mail we sent, or choose \"Keep my account\".",
                    crate::platform::clock::long_date(purge_after)
                ),
            },
            None => {
                ApiError::Forbidden("This account is disabled. Contact the administrator.".into())
            }
        });
    }
    state.limiter.reset(&account_key);
    super::session::sign_in(&state, &user.id, client).await
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct RefreshRequest {
    /// The refresh token; browsers may leave it out and send the cookie instead.
    pub refresh_token: Option<String>,
}

fn refresh_token_of(
    state: &AppState,
    headers: &HeaderMap,
    body: Option<&RefreshRequest>,
) -> Option<String> {
    body.and_then(|b| b.refresh_token.clone())
        .filter(|t| !t.is_empty())
        .or_else(|| cookies::read(headers, &cookies::name(state, cookies::REFRESH)))
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; the old refresh token stops working", body = TokenResponse),
        (status = 401, description = "Unknown, rotated (the session is then revoked) or expired refresh token", body = crate::error::Problem)))]
pub async fn refresh(
    State(state): State<AppState>,
    Client(client, ip): Client,
    headers: HeaderMap,
    body: Option<Json<RefreshRequest>>,
) -> ApiResult<Response> {
    state
        .limiter
        .hit(&format!("refresh:{ip}"), REFRESHES_PER_IP)
        .map_err(rate_limited)?;
    let token = refresh_token_of(&state, &headers, body.as_deref())
        .ok_or_else(|| ApiError::unauthorized("No refresh token was sent."))?;
    let now = state.now();
    let rotation = state
        .db
        .write(move |tx| Ok::<_, ApiError>(store::rotate_refresh_token(tx, &token, &client, now)?))
        .await?;
    match rotation {
        Rotation::Rotated {
            user_id,
            session_id,
            refresh_token,
            expires_at,
        } => cookies::issue(&state, &user_id, &session_id, refresh_token, expires_at),
        Rotation::ReuseDetected { user_id } => {
            tracing::warn!(
                target: "stratamake::auth",
                "refresh token reuse: user={user_id} ip={ip}; session revoked"
            );
            Err(ApiError::Unauthorized {
                slug: "refresh-token-reused",
                detail: "This refresh token was already used, so the session was ended for safety. Sign in again.".into(),
            })
        }
        Rotation::Invalid => Err(ApiError::unauthorized(
            "The session has ended. Sign in again.",
        )),
    }
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct LogoutRequest {
    /// End every session of the account, not only this one.
    #[serde(default)]
    pub all: bool,
    pub refresh_token: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = LogoutRequest,
    responses((status = 204, description = "Signed out; cookies cleared")))]
pub async fn logout(
    State(state): State<AppState>,
    Client(client, _): Client,
    headers: HeaderMap,
    body: Option<Json<LogoutRequest>>,
) -> ApiResult<Response> {
    let all = body.as_ref().is_some_and(|b| b.all);
    let refresh = body
        .as_ref()
        .and_then(|b| b.refresh_token.clone())
        .filter(|t| !t.is_empty())
        .or_else(|| cookies::read(&headers, &cookies::name(&state, cookies::REFRESH)));
    if let Some(token) = refresh {
        end_session(&state, token, all, client).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    for cookie in cookies::clearing(&state) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

async fn end_session(
    state: &AppState,
    token: String,
    all: bool,
    client: ClientMeta,
) -> ApiResult<()> {
    let now = state.now();
    state
        .db
        .write(move |tx| {
            let Some((session_id, user_id)) = store::session_of_refresh_token(tx, &token)? else {
                return Ok(());
            };
            if all {
                store::revoke_user_sessions(tx, &user_id, None, "signed out everywhere", now)?;
                store::log_event(tx, &user_id, "logout_everywhere", &client, now)?;
            } else {
                store::revoke_session(tx, &session_id, "signed out", now)?;
                store::log_event(tx, &user_id, "logout", &client, now)?;
            }
            Ok::<_, ApiError>(())
        })
        .await
}
