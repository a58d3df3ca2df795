//! `GET /api/v1/me/credits` and the admin's `POST /api/v1/admin/users/{id}/credits`.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::ledger::{self, Entry};
use crate::app::AppState;
use crate::domains::auth::extract::{AuthUser, Scope};
use crate::error::{ApiError, ApiResult};

#[derive(Serialize, utoipa::ToSchema)]
pub struct Credits {
    pub balance: i64,
    /// The latest entries, newest first.
    pub entries: Vec<Entry>,
}

async fn credits_of(state: &AppState, user_id: String) -> ApiResult<Credits> {
    let starting = state.config.generation.starting_credits;
    Ok(state
        .db
        .query(move |conn| {
            Ok(Credits {
                balance: ledger::balance(conn, &user_id, starting)?,
                entries: ledger::recent(conn, &user_id, 50)?,
            })
        })
        .await?)
}

#[utoipa::path(get, path = "/api/v1/me/credits", tag = "credits", responses((status = 200, body = Credits)))]
pub async fn mine(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Credits>> {
    user.require_scope(Scope::Read)?;
    Ok(Json(credits_of(&state, user.user_id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Credits to add; negative takes them away.
    pub amount: i64,
    /// Why, shown to the user in their ledger.
    #[serde(default)]
    pub note: String,
}

#[utoipa::path(post, path = "/api/v1/admin/users/{id}/credits", tag = "admin", request_body = Grant,
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = Credits), (status = 404, body = crate::error::Problem)))]
pub async fn grant(
    State(state): State<AppState>,
    admin: AuthUser,
    Path(id): Path<String>,
    Json(grant): Json<Grant>,
) -> ApiResult<Json<Credits>> {
    admin.require_admin()?;
    if grant.amount == 0 || grant.amount.abs() > 1_000_000_000 {
        return Err(ApiError::field(
            "amount",
            "Give a whole number of credits other than 0 (at most a billion either way).",
        ));
    }
    let note = grant.note.trim().to_string();
    if note.chars().count() > 200 {
        return Err(ApiError::field(
            "note",
            "Keep the note under 200 characters.",
        ));
    }
    let now = state.now();
    let starting = state.config.generation.starting_credits;
    let user_id = id.clone();
    let actor = admin.user_id.clone();
    state
        .db
        .write(move |tx| {
            let user =
                crate::domains::auth::store::user_by_id(tx, &user_id)?.ok_or(ApiError::NotFound)?;
            let note = if note.is_empty() {
                "granted by an admin".to_string()
            } else {
                note
            };
            ledger::grant(tx, &user_id, grant.amount, &note, starting, now)?;
            crate::domains::admin::audit::record(
                tx,
                Some(&actor),
                "user.credits",
                &user.username,
                &format!("{:+} ({note})", grant.amount),
                now,
            )?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(Json(credits_of(&state, id).await?))
}
