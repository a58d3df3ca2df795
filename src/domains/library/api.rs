//! The library endpoints: `POST|GET /api/v1/assets`, `GET|PATCH|DELETE
//! /api/v1/assets/{id}`, `POST /api/v1/assets/delete`, `GET /api/v1/me/storage`.

use std::io::{BufReader, Read};

use axum::Json;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use tokio_util::io::StreamReader;

use super::store::{self, AddError, Asset, ListQuery, MeshInfo, NewAsset, Purpose};
use crate::app::AppState;
use crate::domains::auth::extract::{AuthUser, Scope};
use crate::domains::community::posts::asset_audience;
use crate::engines::media::{self, Format, MediaError};
use crate::engines::mesh::check;
use crate::error::{ApiError, ApiResult};
use crate::platform::blobs::{BlobError, StagedBlob};
use crate::platform::cursor::{self, Page};

const PAGE: i64 = 60;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Uploaded {
    pub items: Vec<Asset>,
}

fn media_error(error: MediaError) -> ApiError {
    match error {
        MediaError::Unsupported => ApiError::UnsupportedMediaType(error.to_string()),
        MediaError::TooManyPixels { .. } | MediaError::TooManyTriangles { .. } => {
            ApiError::field("file", error.to_string())
        }
        MediaError::Mismatch { .. } | MediaError::Invalid(_) => {
            ApiError::field("file", error.to_string())
        }
    }
}

/// How much more the user may upload: the smaller of the upload limit and the room
/// left in their quota.
async fn upload_room(state: &AppState, user_id: &str) -> ApiResult<(u64, bool)> {
    let id = user_id.to_string();
    let default = state.config.storage.default_quota_bytes;
    let (used, quota) = state
        .db
        .query(move |conn| {
            Ok((
                store::usage(conn, &id)?.0,
                store::quota(conn, &id, default)?,
            ))
        })
        .await?;
    let room = (quota - used).max(0) as u64;
    let max = state.config.storage.max_upload_bytes;
    Ok(if room < max {
        (room, true)
    } else {
        (max, false)
    })
}

async fn stage(
    state: &AppState,
    user_id: &str,
    reader: impl tokio::io::AsyncRead + Unpin,
) -> ApiResult<StagedBlob> {
    let (limit, by_quota) = upload_room(state, user_id).await?;
    state.blobs.stage(reader, limit).await.map_err(|e| match e {
        BlobError::TooLarge { .. } if by_quota => ApiError::PayloadTooLarge(
            "This upload does not fit in your storage quota. Delete some files first.".into(),
        ),
        BlobError::TooLarge { limit } => {
            ApiError::PayloadTooLarge(format!("Files can be at most {limit} bytes."))
        }
        BlobError::Read(e) => ApiError::BadRequest(format!("The upload was interrupted: {e}")),
        BlobError::Io(e) => ApiError::Internal(e.into()),
    })
}

/// Checks what a staged upload really is, cleans it, and adds it to the library.
async fn ingest(
    state: &AppState,
    user_id: &str,
    purpose: Purpose,
    staged: StagedBlob,
    filename: String,
    mime: Option<String>,
) -> ApiResult<Asset> {
    let path = staged.path.clone();
    let size = staged.size;
    let blobs = state.blobs.clone();
    let claimed_name = filename.clone();
    let max_triangles = state.config.storage.max_triangles;
    let prepared = tokio::task::spawn_blocking(move || -> Result<_, MediaError> {
        let mut head = Vec::with_capacity(8192);
        std::fs::File::open(&path)
            .and_then(|f| f.take(8192).read_to_end(&mut head))
            .map_err(|e| MediaError::Invalid(e.to_string()))?;
        let actual = media::sniff(&head, size).ok_or(MediaError::Unsupported)?;
        if let Some(claimed) = Format::claimed(&claimed_name, mime.as_deref())
            && claimed != actual
        {
            return Err(MediaError::Mismatch {
                claimed: claimed.mime(),
                actual: actual.mime(),
            });
        }
        if purpose == Purpose::Likeness && !actual.is_image() {
            return Err(MediaError::Mismatch {
                claimed: "image/png, image/jpeg or image/webp (a likeness sample is a photo)",
                actual: actual.mime(),
            });
        }
        let file = std::fs::File::open(&path).map_err(|e| MediaError::Invalid(e.to_string()))?;
        let stage = |bytes: &[u8]| {
            blobs
                .stage_bytes(bytes)
                .map_err(|e| MediaError::Invalid(e.to_string()))
        };
        if actual.is_image() {
            let image = media::prepare_image(BufReader::new(file), actual)?;
            let clean = stage(&image.clean)?;
            let thumbnail = stage(&image.thumbnail)?;
            let preview = stage(&image.preview)?;
            Ok((
                actual,
                Some((image.width, image.height)),
                None,
                Some(clean),
                Some(thumbnail),
                Some(preview),
            ))
        } else {
            let count = media::check_model(BufReader::new(file), actual, size)?;
            if count > max_triangles {
                return Err(MediaError::TooManyTriangles {
                    count,
                    limit: max_triangles,
                });
            }
            let bytes = std::fs::read(&path).map_err(|e| MediaError::Invalid(e.to_string()))?;
            let mesh = media::read_model(&bytes, actual)?;
            let (thumbnail, preview) = media::model_thumbnails(&mesh, None)?;
            Ok((
                actual,
                None,
                Some(MeshInfo::from_facts(&check::facts(&mesh))),
                None,
                Some(stage(&thumbnail)?),
                Some(stage(&preview)?),
            ))
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    let (format, dimensions, mesh, cleaned, thumbnail, preview) = match prepared {
        Ok(p) => p,
        Err(error) => {
            staged.discard();
            return Err(media_error(error));
        }
    };
    // Images are kept as their clean re-encoding; other files as uploaded.
    let original = match cleaned {
        Some(clean) => {
            staged.discard();
            clean
        }
        None => staged,
    };
    let title = filename
        .rsplit_once('.')
        .map_or(filename.as_str(), |(stem, _)| stem)
        .chars()
        .take(120)
        .collect::<String>();
    let new = NewAsset {
        user_id: user_id.to_string(),
        kind: if format.is_image() { "image" } else { "model" },
        source: "upload",
        purpose,
        title: if title.trim().is_empty() {
            "Untitled".into()
        } else {
            title
        },
        filename: format!("{}.{}", sanitize_stem(&filename), format.extension()),
        format: format.extension(),
        mime: format.mime(),
        width: dimensions.map(|d| d.0),
        height: dimensions.map(|d| d.1),
        triangles: mesh.as_ref().map(|m| m.triangles),
        params: None,
        mesh,
        original,
        thumbnail,
        preview,
    };
    let now = state.now();
    let blobs = state.blobs.clone();
    let default_quota = state.config.storage.default_quota_bytes;
    let id = state
        .db
        .write(
            move |tx| match store::add(tx, &blobs, new, default_quota, now) {
                Ok(id) => Ok(Ok(id)),
                Err(AddError::OverQuota { used, quota }) => Ok(Err((used, quota))),
                Err(AddError::Failed(e)) => Err(ApiError::Internal(e)),
            },
        )
        .await?
        .map_err(|(used, quota)| {
            ApiError::PayloadTooLarge(format!(
                "This upload does not fit in your storage quota ({used} of {quota} bytes used)."
            ))
        })?;
    state
        .db
        .query(move |conn| store::get(conn, &id))
        .await?
        .ok_or(ApiError::NotFound)
}

/// A file name without folders or odd characters, without its extension.
fn sanitize_stem(filename: &str) -> String {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or("");
    let stem = base.rsplit_once('.').map_or(base, |(s, _)| s);
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if clean.trim().is_empty() {
        "file".into()
    } else {
        clean
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct UploadQuery {
    /// File name for a raw (non-multipart) upload.
    pub filename: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/assets", tag = "library", params(UploadQuery),
    request_body(content = String, description = "multipart/form-data with `file` parts, or the file itself as the body", content_type = "multipart/form-data"),
    responses((status = 201, body = Uploaded), (status = 413, body = crate::error::Problem),
              (status = 415, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn upload(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Uploaded>)> {
    user.require_scope(Scope::Generate)?;
    let items = receive(
        &state,
        &user.user_id,
        Purpose::Library,
        query,
        &headers,
        body,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(Uploaded { items })))
}

/// Stores the files of an upload request — a multipart form with `file` parts, or the
/// file itself as the body — as assets kept for `purpose`.
pub async fn receive(
    state: &AppState,
    user_id: &str,
    purpose: Purpose,
    query: UploadQuery,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Vec<Asset>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut items = Vec::new();
    if content_type.starts_with("multipart/form-data") {
        let request = axum::http::Request::builder()
            .header(header::CONTENT_TYPE, &content_type)
            .body(body)
            .map_err(|e| ApiError::Internal(e.into()))?;
        let mut multipart =
            <Multipart as axum::extract::FromRequest<()>>::from_request(request, &())
                .await
                .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?
        {
            if field.name() != Some("file") {
                continue;
            }
            let filename = field.file_name().unwrap_or("upload").to_string();
            let mime = field.content_type().map(str::to_string);
            let reader = StreamReader::new(field.map_err(std::io::Error::other));
            let staged = stage(state, user_id, reader).await?;
            items.push(ingest(state, user_id, purpose, staged, filename, mime).await?);
        }
        if items.is_empty() {
            return Err(ApiError::field(
                "file",
                "Add at least one part named `file`.",
            ));
        }
    } else {
        let filename = query.filename.unwrap_or_else(|| "upload".into());
        let mime = (!content_type.is_empty() && content_type != "application/octet-stream")
            .then_some(content_type);
        let reader = StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
        let staged = stage(state, user_id, reader).await?;
        items.push(ingest(state, user_id, purpose, staged, filename, mime).await?);
    }
    Ok(items)
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// `image`, `model` or `upload`.
    pub kind: Option<String>,
    pub q: Option<String>,
    /// `newest` (default) or `oldest`.
    pub sort: Option<String>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/assets", tag = "library", params(ListParams),
    responses((status = 200, body = Page<Asset>)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<Page<Asset>>> {
    user.require_scope(Scope::Read)?;
    if let Some(kind) = &params.kind
        && !matches!(kind.as_str(), "image" | "model" | "upload")
    {
        return Err(ApiError::field("kind", "Use image, model or upload."));
    }
    let newest_first = match params.sort.as_deref() {
        None | Some("newest") => true,
        Some("oldest") => false,
        Some(_) => return Err(ApiError::field("sort", "Use newest or oldest.")),
    };
    let after = match &params.cursor {
        Some(c) => Some(
            cursor::decode(c)
                .ok_or_else(|| ApiError::BadRequest("The cursor is not valid.".into()))?,
        ),
        None => None,
    };
    let query = ListQuery {
        user_id: user.user_id.clone(),
        kind: params.kind.clone(),
        pattern: params
            .q
            .as_deref()
            .filter(|q| !q.trim().is_empty())
            .map(cursor::like_contains),
        newest_first,
        after,
        limit: PAGE + 1,
    };
    let items = state
        .db
        .query(move |conn| {
            let mut items = store::list(conn, &query)?;
            for asset in &mut items {
                asset.visibility = asset_audience(conn, &asset.id)?.to_string();
            }
            Ok(items)
        })
        .await?;
    Ok(Json(Page::from_rows(items, PAGE as usize, |a: &Asset| {
        (a.created_at, a.id.as_str())
    })))
}

pub async fn own_asset(state: &AppState, user: &AuthUser, id: String) -> ApiResult<Asset> {
    let asset = state
        .db
        .query(move |conn| {
            let Some(mut asset) = store::get(conn, &id)? else {
                return Ok(None);
            };
            asset.visibility = asset_audience(conn, &asset.id)?.to_string();
            Ok(Some(asset))
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    if asset.user_id == user.user_id {
        Ok(asset)
    } else {
        Err(ApiError::NotFound)
    }
}

#[utoipa::path(get, path = "/api/v1/assets/{id}", tag = "library", params(("id" = String, Path)),
    responses((status = 200, body = Asset), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Asset>> {
    user.require_scope(Scope::Read)?;
    Ok(Json(own_asset(&state, &user, id).await?))
}

/// Tags as stored: trimmed, without a leading `#`, lower case, no repeats; at most 20
/// of 1 to 32 characters each.
pub fn clean_tags(tags: Vec<String>) -> ApiResult<Vec<String>> {
    let mut clean: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().trim_start_matches('#').to_lowercase();
        if tag.is_empty() || tag.chars().count() > 32 || tag.chars().any(char::is_control) {
            return Err(ApiError::field("tags", "Tags are 1 to 32 characters."));
        }
        if !clean.contains(&tag) {
            clean.push(tag);
        }
    }
    if clean.len() > 20 {
        return Err(ApiError::field("tags", "Use at most 20 tags."));
    }
    Ok(clean)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetPatch {
    pub title: Option<String>,
    pub tags: Option<Vec<String>>,
}

#[utoipa::path(patch, path = "/api/v1/assets/{id}", tag = "library", params(("id" = String, Path)), request_body = AssetPatch,
    responses((status = 200, body = Asset), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn patch(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Json(patch): Json<AssetPatch>,
) -> ApiResult<Json<Asset>> {
    user.require_scope(Scope::Generate)?;
    own_asset(&state, &user, id.clone()).await?;
    let title = patch.title.map(|t| t.trim().to_string());
    if let Some(title) = &title
        && (title.is_empty() || title.chars().count() > 120)
    {
        return Err(ApiError::field("title", "Use 1 to 120 characters."));
    }
    let tags = match patch.tags {
        Some(tags) => Some(
            serde_json::to_string(&clean_tags(tags)?).map_err(|e| ApiError::Internal(e.into()))?,
        ),
        None => None,
    };
    let asset_id = id.clone();
    state
        .db
        .write(move |tx| {
            if let Some(title) = &title {
                tx.execute(
                    "UPDATE assets SET title = ?2 WHERE id = ?1",
                    rusqlite::params![asset_id, title],
                )?;
            }
            if let Some(tags) = &tags {
                tx.execute(
                    "UPDATE assets SET tags = ?2 WHERE id = ?1",
                    rusqlite::params![asset_id, tags],
                )?;
            }
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(Json(own_asset(&state, &user, id).await?))
}

async fn delete_assets(state: &AppState, user: &AuthUser, ids: Vec<String>) -> ApiResult<usize> {
    user.require_scope(Scope::Generate)?;
    let now = state.now();
    let user_id = user.user_id.clone();
    state
        .db
        .write(move |tx| {
            // Likeness samples are deleted from the privacy page, at once, with their files.
            let mut library_ids = Vec::new();
            for id in ids {
                if store::get(tx, &id)?.is_some_and(|a| !a.is_likeness()) {
                    library_ids.push(id);
                }
            }
            Ok::<_, ApiError>(store::delete(tx, &user_id, &library_ids, now)?)
        })
        .await
}

#[utoipa::path(delete, path = "/api/v1/assets/{id}", tag = "library", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = crate::error::Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    match delete_assets(&state, &user, vec![id]).await? {
        0 => Err(ApiError::NotFound),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BulkDelete {
    pub ids: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/assets/delete", tag = "library", request_body = BulkDelete,
    responses((status = 204, description = "The user's assets among the ids are deleted")))]
pub async fn delete_many(
    State(state): State<AppState>,
    user: AuthUser,
    Json(request): Json<BulkDelete>,
) -> ApiResult<StatusCode> {
    if request.ids.is_empty() || request.ids.len() > 500 {
        return Err(ApiError::field("ids", "Give 1 to 500 asset ids."));
    }
    delete_assets(&state, &user, request.ids).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/me/storage", tag = "library", responses((status = 200, body = store::Storage)))]
pub async fn storage(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Json<store::Storage>> {
    user.require_scope(Scope::Read)?;
    let default = state.config.storage.default_quota_bytes;
    let id = user.user_id.clone();
    let storage = state
        .db
        .query(move |conn| store::storage(conn, &id, default))
        .await?;
    Ok(Json(storage))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct QuotaOverride {
    /// Bytes the user may store; none to go back to the default.
    pub quota_bytes: Option<i64>,
}

#[utoipa::path(put, path = "/api/v1/admin/users/{id}/quota", tag = "admin", request_body = QuotaOverride,
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = store::Storage), (status = 404, body = crate::error::Problem)))]
pub async fn set_quota(
    State(state): State<AppState>,
    admin: AuthUser,
    Path(id): Path<String>,
    Json(request): Json<QuotaOverride>,
) -> ApiResult<Json<store::Storage>> {
    admin.require_admin()?;
    if request.quota_bytes.is_some_and(|q| q < 0) {
        return Err(ApiError::field(
            "quota_bytes",
            "Use a number of bytes, 0 or more.",
        ));
    }
    let now = state.now();
    let default = state.config.storage.default_quota_bytes;
    let user_id = id.clone();
    let storage = state
        .db
        .write(move |tx| {
            let user =
                crate::domains::auth::store::user_by_id(tx, &user_id)?.ok_or(ApiError::NotFound)?;
            match request.quota_bytes {
                Some(bytes) => tx.execute(
                    "INSERT INTO storage_quotas (user_id, quota_bytes) VALUES (?1, ?2)
                     ON CONFLICT(user_id) DO UPDATE SET quota_bytes = excluded.quota_bytes",
                    rusqlite::params![user_id, bytes],
                )?,
                None => tx.execute("DELETE FROM storage_quotas WHERE user_id = ?1", [&user_id])?,
            };
            let detail = request
                .quota_bytes
                .map_or("default".to_string(), |b| format!("{b} bytes"));
            crate::domains::admin::audit::record(
                tx,
                Some(&admin.user_id),
                "user.quota",
                &user.username,
                &detail,
                now,
            )?;
            Ok::<_, ApiError>(store::storage(tx, &user_id, default)?)
        })
        .await?;
    Ok(Json(storage))
}
