//! The admin's model management: import from a folder on the server, list, verify,
//! enable or disable, set the default and the credit cost, remove; and cancelling any job.

use std::path::PathBuf;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::api::{Generation, cancel_job};
use super::models::{self, ImportError, Model, ModelChange};
use crate::app::AppState;
use crate::domains::admin::audit;
use crate::domains::auth::extract::AuthUser;
use crate::engines::diffusion::manifest::Manifest;
use crate::error::{ApiError, ApiResult};

/// Imports a model folder (blocking work on a worker thread) and records it.
pub async fn import(state: &AppState, source: PathBuf, actor: Option<String>) -> ApiResult<Model> {
    let models_dir = state.generation.models_dir.clone();
    let (manifest, _) =
        tokio::task::spawn_blocking(move || models::install_folder(&source, &models_dir))
            .await
            .map_err(|e| ApiError::Internal(e.into()))?
            .map_err(import_error)?;
    record(state, manifest, actor).await
}

/// An import failure as the API answers it.
pub fn import_error(e: ImportError) -> ApiError {
    match e {
        ImportError::Exists(_) => ApiError::Conflict(e.to_string()),
        ImportError::Manifest(m) => ApiError::field("path", m.to_string()),
        ImportError::Io(io) => {
            ApiError::field("path", format!("The folder could not be copied: {io}"))
        }
        ImportError::Download(d) => ApiError::BadRequest(d),
    }
}

/// Records an installed model (and who installed it).
pub async fn record(
    state: &AppState,
    manifest: Manifest,
    actor: Option<String>,
) -> ApiResult<Model> {
    let now = state.now();
    let id = manifest.id.clone();
    state
        .db
        .write(move |tx| {
            models::record_import(tx, &manifest, now)?;
            audit::record(
                tx,
                actor.as_deref(),
                "model.import",
                &manifest.id,
                &manifest.name,
                now,
            )?;
            Ok::<_, ApiError>(())
        })
        .await?;
    model(state, id).await
}

async fn model(state: &AppState, id: String) -> ApiResult<Model> {
    state
        .db
        .query(move |conn| models::get(conn, &id))
        .await?
        .ok_or(ApiError::NotFound)
}

/// Re-hashes a model's files against its manifest and records the outcome.
pub async fn verify(state: &AppState, id: String) -> ApiResult<Model> {
    let found = model(state, id.clone()).await?;
    let dir = state.generation.models_dir.join(&id);
    let manifest: Manifest = found.manifest.clone();
    let outcome = tokio::task::spawn_blocking(move || manifest.verify(&dir))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let now = state.now();
    let recorded = id.clone();
    state
        .db
        .write(move |tx| {
            models::record_verification(tx, &recorded, &outcome, now)?;
            Ok::<_, ApiError>(())
        })
        .await?;
    state.generation.unload(&id);
    model(state, id).await
}

/// Removes a model: its row (audited), its loaded pipeline and its folder.
pub async fn uninstall(state: &AppState, id: String, actor: Option<String>) -> ApiResult<()> {
    let now = state.now();
    let target = id.clone();
    state
        .db
        .write(move |tx| {
            if !models::delete(tx, &target)? {
                return Err(ApiError::NotFound);
            }
            audit::record(tx, actor.as_deref(), "model.remove", &target, "", now)?;
            Ok(())
        })
        .await?;
    state.generation.unload(&id);
    let dir = state.generation.models_dir.join(&id);
    tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
    .map_err(|e| ApiError::Internal(e.into()))
}

#[utoipa::path(get, path = "/api/v1/admin/models", tag = "admin", responses((status = 200, body = Vec<Model>)))]
pub async fn list(State(state): State<AppState>, admin: AuthUser) -> ApiResult<Json<Vec<Model>>> {
    admin.require_admin()?;
    Ok(Json(state.db.query(models::list).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// A folder on the server that holds `model.toml` and the files it lists.
    pub path: String,
}

#[utoipa::path(post, path = "/api/v1/admin/models", tag = "admin", request_body = ImportRequest,
    responses((status = 201, body = Model), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    admin: AuthUser,
    Json(request): Json<ImportRequest>,
) -> ApiResult<(StatusCode, Json<Model>)> {
    admin.require_admin()?;
    let path = PathBuf::from(request.path.trim());
    if !path.is_absolute() || !path.is_dir() {
        return Err(ApiError::field(
            "path",
            "Give the absolute path of a folder on the server.",
        ));
    }
    let imported = import(&state, path, Some(admin.user_id.clone())).await?;
    Ok((StatusCode::CREATED, Json(imported)))
}

#[utoipa::path(post, path = "/api/v1/admin/models/{id}/verify", tag = "admin",
    params(("id" = String, Path)), responses((status = 200, body = Model)))]
pub async fn verify_one(
    State(state): State<AppState>,
    admin: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Model>> {
    admin.require_admin()?;
    Ok(Json(verify(&state, id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelPatch {
    pub enabled: Option<bool>,
    pub is_default: Option<bool>,
    pub credit_cost: Option<i64>,
}

#[utoipa::path(patch, path = "/api/v1/admin/models/{id}", tag = "admin", request_body = ModelPatch,
    params(("id" = String, Path)), responses((status = 200, body = Model)))]
pub async fn patch(
    State(state): State<AppState>,
    admin: AuthUser,
    Path(id): Path<String>,
    Json(patch): Json<ModelPatch>,
) -> ApiResult<Json<Model>> {
    admin.require_admin()?;
    if patch
        .credit_cost
        .is_some_and(|c| !(0..=100_000).contains(&c))
    {
        return Err(ApiError::field("credit_cost", "Use 0 to 100000 credits."));
    }
    let now = state.now();
    let actor = admin.user_id.clone();
    let target = id.clone();
    state
        .db
        .write(move |tx| {
            let change = ModelChange {
                enabled: patch.enabled,
                is_default: patch.is_default,
                credit_cost: patch.credit_cost,
            };
            if !models::update(tx, &target, &change)? {
                return Err(ApiError::NotFound);
            }
            audit::record(
                tx,
                Some(&actor),
                "model.update",
                &target,
                &format!("{change:?}"),
                now,
            )?;
            Ok(())
        })
        .await?;
    Ok(Json(model(&state, id).await?))
}

#[utoipa::path(delete, path = "/api/v1/admin/models/{id}", tag = "admin",
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn remove(
    State(state): State<AppState>,
    admin: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin.require_admin()?;
    uninstall(&state, id, Some(admin.user_id.clone())).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/admin/jobs/{id}", tag = "admin",
    params(("id" = String, Path)), responses((status = 202, body = Generation)))]
pub async fn cancel_any(
    State(state): State<AppState>,
    admin: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Generation>)> {
    admin.require_admin()?;
    Ok((StatusCode::ACCEPTED, Json(cancel_job(&state, id).await?)))
}
