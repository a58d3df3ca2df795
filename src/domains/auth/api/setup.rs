//! First-run setup: while no administrator exists, each start prints a one-time link
//! (valid 30 minutes) whose page creates the first admin account.
//! `GET /api/v1/setup/status`, `POST /api/v1/setup`.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::Response;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::domains::admin::audit;
use crate::domains::auth::cookies;
use crate::domains::auth::extract::Client;
use crate::domains::auth::store::{self, NewUser, Role};
use crate::domains::auth::{password, validate};
use crate::error::{ApiError, ApiResult};
use crate::platform::db::Db;
use crate::platform::tokens::{hash_token, new_token};

pub const SETUP_TOKEN_SECONDS: i64 = 30 * 60;

/// Makes a setup token when no admin exists yet; returns it to be printed.
pub async fn issue_setup_token(db: &Db, now: i64) -> anyhow::Result<Option<String>> {
    let token = db
        .write(move |tx| {
            if store::admin_exists(tx)? {
                return Ok::<_, ApiError>(None);
            }
            let token = new_token();
            tx.execute(
                "INSERT INTO setup_tokens (token_hash, created_at, expires_at) VALUES (?1, ?2, ?3)",
                params![hash_token(&token), now, now + SETUP_TOKEN_SECONDS],
            )?;
            Ok(Some(token))
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(token)
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct StatusQuery {
    pub token: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SetupStatus {
    pub valid: bool,
}

fn token_usable(conn: &rusqlite::Connection, token: &str, now: i64) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM setup_tokens WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
            params![hash_token(token), now],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

#[utoipa::path(get, path = "/api/v1/setup/status", tag = "setup", params(StatusQuery),
    responses((status = 200, description = "Whether the setup link can still be used", body = SetupStatus)))]
pub async fn status(
    State(state): State<AppState>,
    Query(query): Query<StatusQuery>,
) -> ApiResult<Json<SetupStatus>> {
    let now = state.now();
    let valid = state
        .db
        .read(move |conn| {
            Ok::<_, ApiError>(token_usable(conn, &query.token, now)? && !store::admin_exists(conn)?)
        })
        .await?;
    Ok(Json(SetupStatus { valid }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SetupRequest {
    pub token: String,
    pub email: String,
    pub username: String,
    pub password: String,
}

/// Creates an administrator (verified email); shared by the setup page and the CLI.
pub async fn create_admin(
    state: &AppState,
    email: &str,
    username: &str,
    password_text: &str,
    setup_token: Option<String>,
) -> ApiResult<String> {
    let email = validate::email("email", email)?;
    let username = validate::username(username)?;
    password::check_policy("password", password_text, &[&username, &email])?;
    let owned = password_text.to_string();
    let hash = tokio::task::spawn_blocking(move || password::hash(&owned))
        .await
        .map_err(|e| ApiError::Internal(e.into()))??;
    let now = state.now();
    state
        .db
        .write(move |tx| {
            if let Some(token) = &setup_token {
                let used = tx.execute(
                    "UPDATE setup_tokens SET used_at = ?2
                     WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
                    params![hash_token(token), now],
                )?;
                if used == 0 || store::admin_exists(tx)? {
                    return Err(ApiError::BadRequest(
                        "This setup link is not valid any more. Restart the server for a new one, or run `stratamake admin create-user --admin`.".into(),
                    ));
                }
            }
            if store::username_taken(tx, &username)? {
                return Err(ApiError::Conflict("This username is taken.".into()));
            }
            if store::user_by_email(tx, &email)?.is_some() {
                return Err(ApiError::Conflict("An account already uses this email address.".into()));
            }
            let id = crate::domains::privacy::create_account(
                tx,
                &NewUser {
                    username: &username,
                    email: &email,
                    password_hash: Some(&hash),
                    role: Role::Admin,
                    email_verified: true,
                },
                now,
            )?;
            let how = if setup_token.is_some() { "setup link" } else { "command line" };
            audit::record(tx, Some(&id), "admin.created", &username, how, now)?;
            Ok(id)
        })
        .await
}

#[utoipa::path(post, path = "/api/v1/setup", tag = "setup", request_body = SetupRequest,
    responses(
        (status = 200, description = "Admin created and signed in", body = cookies::TokenResponse),
        (status = 400, description = "The setup link is used or expired", body = crate::error::Problem)))]
pub async fn setup(
    State(state): State<AppState>,
    Client(client, _): Client,
    Json(request): Json<SetupRequest>,
) -> ApiResult<Response> {
    let user_id = create_admin(
        &state,
        &request.email,
        &request.username,
        &request.password,
        Some(request.token),
    )
    .await?;
    super::session::sign_in(&state, &user_id, client).await
}
