//! `GET /api/v1/assets/{id}/download`: an asset's file as an attachment, and for 3D
//! models the same mesh in another format (GLB, binary STL, 3MF, or OBJ + MTL in a zip),
//! converted from the stored file on request. Its owner and anyone who may see it
//! shared (community posts) may download it.

use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio_util::io::ReaderStream;

use super::serve::content_disposition;
use super::store::Asset;
use crate::app::AppState;
use crate::domains::auth::extract::MaybeUser;
use crate::domains::community::posts::{SharedFile, sharing};
use crate::engines::media::{self, Format};
use crate::engines::mesh::{Mesh, write};
use crate::error::{ApiError, ApiResult};

/// The formats a 3D model downloads as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MeshDownload {
    Glb,
    Stl,
    #[serde(rename = "3mf")]
    ThreeMf,
    Obj,
}

impl MeshDownload {
    /// File extension, MIME type.
    fn file(self) -> (&'static str, &'static str) {
        match self {
            MeshDownload::Glb => ("glb", "model/gltf-binary"),
            MeshDownload::Stl => ("stl", "model/stl"),
            MeshDownload::ThreeMf => ("3mf", "model/3mf"),
            MeshDownload::Obj => ("zip", "application/zip"),
        }
    }

    fn write(self, mesh: &Mesh, name: &str) -> Vec<u8> {
        match self {
            MeshDownload::Glb => write::glb(mesh, None, name),
            MeshDownload::Stl => write::stl(mesh, name),
            MeshDownload::ThreeMf => write::three_mf(mesh, name),
            MeshDownload::Obj => write::obj_zip(mesh, name),
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DownloadQuery {
    /// For 3D models: `glb`, `stl`, `3mf` or `obj` (a zip with the MTL); the stored file
    /// when absent.
    pub format: Option<String>,
}

/// Conversions at once (each holds a model in memory while it runs).
static CONVERTING: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(2)));

fn attachment(body: impl IntoResponse, mime: &str, filename: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                content_disposition("attachment", filename),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        body,
    )
        .into_response()
}

/// The asset if the viewer owns it or may see it shared; 404 otherwise.
async fn readable_asset(state: &AppState, viewer: Option<String>, id: String) -> ApiResult<Asset> {
    state
        .db
        .query(move |conn| {
            let Some(asset) = super::store::get(conn, &id)? else {
                return Ok(None);
            };
            let file = SharedFile {
                asset_id: asset.id.clone(),
                carries_prompt: asset.kind == "image" && asset.source == "generated",
            };
            let readable = viewer.as_deref() == Some(asset.user_id.as_str())
                || sharing(conn, &[file], viewer.as_deref())?.viewer;
            Ok(readable.then_some(asset))
        })
        .await?
        .ok_or(ApiError::NotFound)
}

/// The stored file, streamed from disk.
async fn stored_file(path: &std::path::Path, asset: &Asset) -> ApiResult<Response> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let body = Body::from_stream(ReaderStream::new(file));
    Ok(attachment(body, &asset.mime, &asset.filename))
}

fn stem(asset: &Asset) -> &str {
    asset
        .filename
        .rsplit_once('.')
        .map_or(asset.filename.as_str(), |(stem, _)| stem)
}

#[utoipa::path(get, path = "/api/v1/assets/{id}/download", tag = "library",
    params(("id" = String, Path), DownloadQuery),
    responses((status = 200, description = "The file, as an attachment"),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn download(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Path(id): Path<String>,
    Query(query): Query<DownloadQuery>,
) -> ApiResult<Response> {
    let viewer = viewer.reader_id()?;
    let asset = readable_asset(&state, viewer, id).await?;
    let wanted = match query.format.as_deref() {
        None => None,
        Some(name) => Some(
            serde_json::from_value::<MeshDownload>(serde_json::Value::String(
                name.to_ascii_lowercase(),
            ))
            .map_err(|_| ApiError::field("format", "Choose glb, stl, 3mf or obj."))?,
        ),
    };
    let path = state
        .blobs
        .path(&asset.sha256)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("asset {} has no file", asset.id)))?;
    let stored = Format::claimed(&asset.filename, Some(&asset.mime));
    let Some(wanted) = wanted else {
        return stored_file(&path, &asset).await;
    };
    if asset.kind != "model" {
        return Err(ApiError::field(
            "format",
            "Only 3D models download in other formats.",
        ));
    }
    if stored == Some(Format::Glb) && wanted == MeshDownload::Glb {
        return stored_file(&path, &asset).await;
    }
    let stored = stored.ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!("asset {} has an unknown format", asset.id))
    })?;
    let name = stem(&asset).to_string();
    // The slot goes with the conversion: a client that gives up does not free it early.
    let turn = CONVERTING
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let converted = tokio::task::spawn_blocking(move || {
        let _turn = turn;
        media::read_model(&bytes, stored).map(|mesh| wanted.write(&mesh, &name))
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
    .map_err(|e| ApiError::field("format", format!("The model cannot be converted: {e}")))?;
    let (extension, mime) = wanted.file();
    Ok(attachment(
        converted,
        mime,
        &format!("{}.{extension}", stem(&asset)),
    ))
}
