//! The embedded web UI (`web/` at build time): static files by path, and the single-page
//! app's `index.html` for every other page address.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::error::ApiError;

pub mod public;

#[derive(RustEmbed)]
#[folder = "web/"]
#[exclude = "README.md"]
#[exclude = "*.test.*"]
struct Assets;

/// The file's strong ETag: the first 128 bits of its SHA-256, computed at build time.
fn etag_of(file: &rust_embed::EmbeddedFile) -> String {
    format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]))
}

fn file_response(
    path: &str,
    file: rust_embed::EmbeddedFile,
    etag: &str,
    cache: &'static str,
) -> Response {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let mut response = Response::new(Body::from(file.data.into_owned()));
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(mime.as_ref()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

/// Serves a UI file, or `index.html` for page addresses; API and file paths that do not
/// exist get a 404 problem.
pub async fn serve(method: Method, uri: Uri, headers: axum::http::HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return ApiError::NotFound.into_response();
    }
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("api/") || path.starts_with("blobs/") {
        return ApiError::NotFound.into_response();
    }
    let (name, file, cache) = match Assets::get(path).filter(|_| !path.is_empty()) {
        Some(file) => (path, file, "public, max-age=300, must-revalidate"),
        None if path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.')) =>
        {
            return ApiError::NotFound.into_response();
        }
        None => match Assets::get("index.html") {
            Some(file) => ("index.html", file, "no-cache"),
            None => {
                return (
                    StatusCode::NOT_FOUND,
                    "the web UI was not built into this binary",
                )
                    .into_response();
            }
        },
    };
    let etag = etag_of(&file);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag)
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    file_response(name, file, &etag, cache)
}
