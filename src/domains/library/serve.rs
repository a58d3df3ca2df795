//! `GET /blobs/{sha256}`: a stored file, to whoever may see an asset that uses it.
//!
//! Knowing a hash is never enough: without access the answer is the same 404 as for a
//! hash that does not exist. Public files are cacheable forever (strong ETag, 304,
//! `immutable`); private ones carry `Cache-Control: private`. Single byte ranges are
//! served as 206. User files are never served as HTML: the type comes from the asset,
//! `nosniff` is set on every response, and downloads are attachments.

use std::io::SeekFrom;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::store;
use crate::app::AppState;
use crate::domains::auth::extract::MaybeUser;
use crate::domains::auth::store::Role;
use crate::domains::community::posts::{SharedFile, sharing};
use crate::error::{ApiError, ApiResult};

/// Bytes read from disk per body frame.
const CHUNK: usize = 256 * 1024;

#[derive(Deserialize)]
pub struct BlobQuery {
    pub download: Option<String>,
    /// A signed link (see [`signed_url`]): valid until this unix time.
    pub expires: Option<i64>,
    pub signature: Option<String>,
}

const LINK_PURPOSE: &str = "blob-link";

/// A link to a file that works without signing in until `expires` (for API clients
/// that fetch result URLs, as OpenAI's image API hands them out).
pub fn signed_url(state: &AppState, hash: &str, expires: i64) -> String {
    let signature = state
        .secrets
        .sign(LINK_PURPOSE, &format!("{hash}:{expires}"));
    format!(
        "{}/blobs/{hash}?expires={expires}&signature={signature}",
        state.config.public_base()
    )
}

fn valid_link(state: &AppState, hash: &str, query: &BlobQuery) -> bool {
    match (query.expires, &query.signature) {
        (Some(expires), Some(signature)) => {
            expires > state.now()
                && state
                    .secrets
                    .verify(LINK_PURPOSE, &format!("{hash}:{expires}"), signature)
        }
        _ => false,
    }
}

/// Parses a single `bytes=` range against a length; `Err` when unsatisfiable.
fn parse_range(header: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = header.strip_prefix("bytes=")?;
    // Several ranges: serve the whole file (allowed by RFC 9110).
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let range = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            if n == 0 || len == 0 {
                return Some(Err(()));
            }
            (len.saturating_sub(n), len - 1)
        }
        (start, "") => (start.parse().ok()?, len.saturating_sub(1)),
        (start, end) => (
            start.parse().ok()?,
            end.parse::<u64>().ok()?.min(len.saturating_sub(1)),
        ),
    };
    Some(if range.0 > range.1 || range.0 >= len {
        Err(())
    } else {
        Ok(range)
    })
}

pub async fn serve(
    State(state): State<AppState>,
    MaybeUser(viewer): MaybeUser,
    Path(hash): Path<String>,
    Query(query): Query<BlobQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let path = state.blobs.path(&hash).ok_or(ApiError::NotFound)?;
    let lookup = hash.clone();
    let viewer_id = viewer.as_ref().map(|v| v.user_id.clone());
    let (access, shared) = state
        .db
        .query(move |conn| {
            let Some(access) = store::blob_access(conn, &lookup)? else {
                return Ok(None);
            };
            let files: Vec<SharedFile> = access
                .assets
                .iter()
                .map(|(asset_id, carries_prompt)| SharedFile {
                    asset_id: asset_id.clone(),
                    carries_prompt: *carries_prompt,
                })
                .collect();
            let shared = sharing(conn, &files, viewer_id.as_deref())?;
            Ok(Some((access, shared)))
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    let allowed = shared.viewer
        || valid_link(&state, &hash, &query)
        || viewer
            .as_ref()
            .is_some_and(|v| v.role == Role::Admin || access.owners.contains(&v.user_id));
    if !allowed {
        return Err(ApiError::NotFound);
    }
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| ApiError::NotFound)?;
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .len();
    let etag = format!("\"{hash}\"");
    let cache = if shared.everyone {
        "public, max-age=31536000, immutable"
    } else {
        "private, max-age=0, must-revalidate"
    };

    let mut response_headers = HeaderMap::new();
    let set = |h: &mut HeaderMap, name, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set(&mut response_headers, header::ETAG, &etag);
    set(&mut response_headers, header::CACHE_CONTROL, cache);
    set(&mut response_headers, header::ACCEPT_RANGES, "bytes");
    set(&mut response_headers, header::CONTENT_TYPE, &access.mime);
    let disposition = if query.download.is_some() {
        "attachment"
    } else {
        "inline"
    };
    set(
        &mut response_headers,
        header::CONTENT_DISPOSITION,
        &content_disposition(disposition, &access.filename),
    );
    // Never rendered as a page, even if a browser is told to navigate to it.
    set(
        &mut response_headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
    );

    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| parse_range(r, len));
    match range {
        Some(Err(())) => {
            set(
                &mut response_headers,
                header::CONTENT_RANGE,
                &format!("bytes */{len}"),
            );
            Ok((StatusCode::RANGE_NOT_SATISFIABLE, response_headers).into_response())
        }
        Some(Ok((start, end))) => {
            file.seek(SeekFrom::Start(start))
                .await
                .map_err(|e| ApiError::Internal(e.into()))?;
            let body = Body::from_stream(ReaderStream::with_capacity(
                file.take(end - start + 1),
                CHUNK,
            ));
            set(
                &mut response_headers,
                header::CONTENT_RANGE,
                &format!("bytes {start}-{end}/{len}"),
            );
            set(
                &mut response_headers,
                header::CONTENT_LENGTH,
                &(end - start + 1).to_string(),
            );
            Ok((StatusCode::PARTIAL_CONTENT, response_headers, body).into_response())
        }
        None => {
            set(
                &mut response_headers,
                header::CONTENT_LENGTH,
                &len.to_string(),
            );
            Ok((
                StatusCode::OK,
                response_headers,
                Body::from_stream(ReaderStream::with_capacity(file, CHUNK)),
            )
                .into_response())
        }
    }
}

/// A `Content-Disposition` value (`inline` or `attachment`) with the file name made
/// ASCII-safe.
pub fn content_disposition(disposition: &str, filename: &str) -> String {
    let ascii_name: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{disposition}; filename=\"{ascii_name}\"")
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=50-500", 100), Some(Ok((50, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
