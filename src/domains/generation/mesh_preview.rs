//! `POST /api/v1/meshes/preview`: a quick, coarse model of an image with the settings a
//! person is adjusting, returned as GLB for the viewer — free, not stored, at most
//! [`PREVIEW_RESOLUTION`] samples, a few at a time.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, LazyLock};

use tokio::sync::Semaphore;

use super::api::{FromImage, model_from_image};
use super::meshing::{self, BuildError};
use super::params::GenerationRequest;
use crate::app::AppState;
use crate::domains::auth::extract::{AuthUser, Scope};
use crate::engines::media;
use crate::error::{ApiError, ApiResult};

/// Samples along the longer side of a preview.
pub const PREVIEW_RESOLUTION: u32 = 160;
/// Previews built at once (each takes one core while it runs).
static BUILDING: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(2)));

#[utoipa::path(post, path = "/api/v1/meshes/preview", tag = "generation", request_body = GenerationRequest,
    responses((status = 200, content_type = "model/gltf-binary", description = "The preview model"),
        (status = 422, body = crate::error::Problem)))]
pub async fn preview(
    State(state): State<AppState>,
    user: AuthUser,
    Json(request): Json<GenerationRequest>,
) -> ApiResult<Response> {
    user.require_scope(Scope::Generate)?;
    if user.account.email_verified_at.is_none() {
        return Err(ApiError::Forbidden(
            "Verify your email address before making models.".into(),
        ));
    }
    if !matches!(request.kind.as_str(), "relief" | "lithophane" | "extrusion") {
        return Err(ApiError::field(
            "kind",
            "Previews are for relief, lithophane and extrusion.",
        ));
    }
    let FromImage {
        params,
        source,
        vision,
    } = model_from_image(&state, &user, &request).await?;
    let settings = params.settings.capped(PREVIEW_RESOLUTION);
    let max_error = params.max_error_mm;
    let engine = state.generation.clone();
    let path = state
        .blobs
        .path(&source.sha256)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("asset {} has no file", source.id)))?;
    // The permit goes with the build: a client that gives up does not free the slot
    // while the build still runs.
    let turn = BUILDING
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let glb = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
        let _turn = turn;
        let image = media::open_image(&path)
            .map_err(|e| ApiError::field("source_asset_id", e.to_string()))?;
        let map = vision
            .map(|model| engine.vision_map(&model, &image))
            .transpose()
            .map_err(ApiError::Unavailable)?;
        match meshing::build(&image, map, &settings, max_error, "preview", &mut |_| true) {
            Ok(built) => Ok(built.glb),
            Err(BuildError::Input(message)) => Err(ApiError::field("source_asset_id", message)),
            Err(BuildError::Stopped) => Err(ApiError::Internal(anyhow::anyhow!("preview stopped"))),
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))??;
    Ok((
        [
            (header::CONTENT_TYPE, "model/gltf-binary"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        glb,
    )
        .into_response())
}
