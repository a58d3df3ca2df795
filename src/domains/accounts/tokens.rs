//! Personal access tokens: `GET|POST /api/v1/me/tokens`, `DELETE /api/v1/me/tokens/{id}`.
//! A token is shown once; only its SHA-256 is stored.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::domains::auth::extract::{AuthUser, PERSONAL_TOKEN_PREFIX, Scope};
use crate::domains::auth::store::Role;
use crate::error::{ApiError, ApiResult};
use crate::platform::tokens::{hash_token, new_id, new_token};

const MAX_TOKENS: i64 = 50;

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenList {
    pub items: Vec<TokenView>,
}

#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "account", responses((status = 200, body = TokenList)))]
pub async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<TokenList>> {
    user.require_session()?;
    let now = state.now();
    let items = state
        .db
        .query(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id, name, scopes, prefix, created_at, last_used_at, expires_at FROM access_tokens
                 WHERE user_id = ?1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)
                 ORDER BY created_at DESC",
            )?;
            let rows = stmt.query_map(params![user.user_id, now], |r| {
                let scopes: String = r.get(2)?;
                Ok(TokenView {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    scopes: scopes.split(',').map(str::to_string).collect(),
                    prefix: r.get(3)?,
                    created_at: r.get(4)?,
                    last_used_at: r.get(5)?,
                    expires_at: r.get(6)?,
                })
            })?;
            rows.collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(Json(TokenList { items }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewTokenRequest {
    pub name: String,
    /// Any of `read`, `generate`, `publish`, `admin`.
    pub scopes: Vec<String>,
    /// Days until the token stops working; none for no expiry.
    pub expires_in_days: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The secret; shown only in this answer.
    pub token: String,
    #[serde(flatten)]
    pub view: TokenView,
}

#[utoipa::path(post, path = "/api/v1/me/tokens", tag = "account", request_body = NewTokenRequest,
    responses((status = 201, body = CreatedToken), (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(request): Json<NewTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    user.require_session()?;
    let name = request.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(ApiError::field(
            "name",
            "Give the token a name of 1 to 60 characters.",
        ));
    }
    let mut scopes = Vec::new();
    for scope in &request.scopes {
        let parsed = Scope::parse(scope)
            .ok_or_else(|| ApiError::field("scopes", format!("Unknown scope {scope:?}.")))?;
        if !scopes.contains(&parsed) {
            scopes.push(parsed);
        }
    }
    if scopes.is_empty() {
        return Err(ApiError::field("scopes", "Choose at least one scope."));
    }
    if scopes.contains(&Scope::Admin) && user.role != Role::Admin {
        return Err(ApiError::field(
            "scopes",
            "Only administrators can make admin tokens.",
        ));
    }
    if let Some(days) = request.expires_in_days
        && !(1..=3650).contains(&days)
    {
        return Err(ApiError::field(
            "expires_in_days",
            "Choose 1 to 3650 days, or no expiry.",
        ));
    }
    let now = state.now();
    let token = format!("{PERSONAL_TOKEN_PREFIX}{}", new_token());
    let view = TokenView {
        id: new_id(),
        name,
        scopes: scopes.iter().map(|s| s.as_str().to_string()).collect(),
        prefix: token.chars().take(10).collect(),
        created_at: now,
        last_used_at: None,
        expires_at: request.expires_in_days.map(|d| now + d * 24 * 3600),
    };
    let hash = hash_token(&token);
    let row = (
        view.id.clone(),
        view.name.clone(),
        view.scopes.join(","),
        view.prefix.clone(),
        view.expires_at,
    );
    state
        .db
        .write(move |tx| {
            let count: i64 = tx.query_row(
                "SELECT COUNT(*) FROM access_tokens WHERE user_id = ?1 AND revoked_at IS NULL",
                [&user.user_id],
                |r| r.get(0),
            )?;
            if count >= MAX_TOKENS {
                return Err(ApiError::Conflict(format!("An account can have at most {MAX_TOKENS} tokens; revoke one first.")));
            }
            tx.execute(
                "INSERT INTO access_tokens (id, user_id, name, token_hash, prefix, scopes, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![row.0, user.user_id, row.1, hash, row.3, row.2, now, row.4],
            )?;
            Ok(())
        })
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, view })))
}

#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "account",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, body = crate::error::Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    user.require_session()?;
    let now = state.now();
    let changed = state
        .db
        .write(move |tx| {
            Ok::<_, ApiError>(tx.execute(
                "UPDATE access_tokens SET revoked_at = ?3 WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
                params![id, user.user_id, now],
            )?)
        })
        .await?;
    if changed == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}
