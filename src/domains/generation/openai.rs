//! `POST /v1/images/generations`, shaped like OpenAI's image API so existing clients
//! work against the appliance: a personal access token as the API key, `prompt`, `n`,
//! `size`, `response_format` (`url` or `b64_json`), an answer once the images exist,
//! and errors as `{"error": {"message", "type", "param", "code"}}`.
//!
//! Unknown model names (`dall-e-3`, `gpt-image-1`) use the instance's default model, so
//! clients need no change; an installed model's id picks that model. `url` answers are
//! signed links that work without signing in for an hour.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api;
use super::params::GenerationRequest;
use crate::app::AppState;
use crate::domains::auth::extract::AuthUser;
use crate::domains::library::{serve, store as library};
use crate::error::ApiError;
use crate::platform::jobs::Status;

/// How long a job may take before the request gives up waiting (the job goes on).
const WAIT: Duration = Duration::from_secs(600);
/// How long `url` links work.
const LINK_SECONDS: i64 = 3600;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ImagesRequest {
    pub prompt: String,
    pub model: Option<String>,
    /// Images to make (1 to 4 here).
    pub n: Option<u32>,
    /// `WIDTHxHEIGHT`, e.g. `512x512`.
    pub size: Option<String>,
    /// `url` (default) or `b64_json`.
    pub response_format: Option<String>,
    /// Accepted and ignored (OpenAI-specific).
    pub quality: Option<String>,
    pub style: Option<String>,
    pub user: Option<String>,
}

/// An OpenAI-style error answer.
fn error(status: StatusCode, kind: &str, message: &str, param: Option<&str>) -> Response {
    (
        status,
        Json(json!({ "error": { "message": message, "type": kind, "param": param, "code": Value::Null } })),
    )
        .into_response()
}

fn from_api_error(e: ApiError) -> Response {
    let message = match &e {
        ApiError::Validation { detail, .. } => detail.clone(),
        other => other.to_string(),
    };
    let param = match &e {
        ApiError::Validation { errors, .. } => {
            errors.keys().next().map(|field| match field.as_str() {
                "count" => "n",
                "width" | "height" => "size",
                other => other,
            })
        }
        _ => None,
    };
    let (status, kind) = match e {
        ApiError::Validation { .. } | ApiError::BadRequest(_) => {
            (StatusCode::BAD_REQUEST, "invalid_request_error")
        }
        ApiError::Unauthorized { .. } => (StatusCode::UNAUTHORIZED, "invalid_request_error"),
        ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "invalid_request_error"),
        ApiError::PaymentRequired(_) => (StatusCode::TOO_MANY_REQUESTS, "insufficient_quota"),
        ApiError::Conflict(_) | ApiError::TooManyRequests { .. } => {
            (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error")
        }
        ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "server_error"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
    };
    error(status, kind, &message, param)
}

fn parse_size(size: &str) -> Option<(u32, u32)> {
    let (w, h) = size.split_once('x')?;
    Some((w.trim().parse().ok()?, h.trim().parse().ok()?))
}

#[utoipa::path(post, path = "/v1/images/generations", tag = "generation", request_body = ImagesRequest,
    responses((status = 200, description = "`{created, data: [{url | b64_json, revised_prompt}]}`")))]
pub async fn images(
    State(state): State<AppState>,
    user: Result<AuthUser, ApiError>,
    body: Result<Json<ImagesRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let user = match user {
        Ok(user) => user,
        Err(e) => return from_api_error(e),
    };
    let Json(request) = match body {
        Ok(body) => body,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &e.body_text(),
                None,
            );
        }
    };
    let format = request.response_format.as_deref().unwrap_or("url");
    if format != "url" && format != "b64_json" {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "response_format must be url or b64_json",
            Some("response_format"),
        );
    }
    let (width, height) = match request.size.as_deref().map(parse_size) {
        None => (None, None),
        Some(Some((w, h))) => (Some(w), Some(h)),
        Some(None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "size must look like 512x512",
                Some("size"),
            );
        }
    };
    let model = match request.model.filter(|name| !name.is_empty()) {
        Some(name) => {
            let lookup = name.clone();
            let installed = state
                .db
                .query(move |conn| super::models::get(conn, &lookup))
                .await
                .ok()
                .flatten()
                .is_some();
            installed.then_some(name)
        }
        None => None,
    };
    let native = GenerationRequest {
        prompt: request.prompt,
        model,
        width,
        height,
        count: request.n,
        ..GenerationRequest::default()
    };
    let (generation, _) = match api::queue(&state, &user, native, None).await {
        Ok(queued) => queued,
        Err(e) => return from_api_error(e),
    };
    let mut changes = state.jobs.changed.subscribe();
    let deadline = tokio::time::Instant::now() + WAIT;
    let finished = loop {
        let id = generation.id.clone();
        let job = match state
            .db
            .query(move |conn| crate::platform::jobs::get(conn, &id))
            .await
        {
            Ok(Some(job)) => job,
            _ => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "the job disappeared",
                    None,
                );
            }
        };
        if job.status.is_final() {
            break job;
        }
        if tokio::time::timeout_at(deadline, changes.changed())
            .await
            .is_err()
        {
            return error(
                StatusCode::GATEWAY_TIMEOUT,
                "server_error",
                &format!(
                    "the images are not ready yet; follow /api/v1/generations/{}",
                    job.id
                ),
                None,
            );
        }
    };
    if finished.status != Status::Succeeded {
        let message = finished
            .error
            .unwrap_or_else(|| "the generation was cancelled".into());
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &message,
            None,
        );
    }
    let ids: Vec<String> = finished
        .result
        .as_ref()
        .and_then(|r| r["asset_ids"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let prompt = finished.params["prompt"].clone();
    let mut data = Vec::new();
    for id in ids {
        let asset = match state.db.query(move |conn| library::get(conn, &id)).await {
            Ok(Some(asset)) => asset,
            _ => continue,
        };
        let item = if format == "b64_json" {
            let Some(path) = state.blobs.path(&asset.sha256) else {
                continue;
            };
            match tokio::fs::read(&path).await {
                Ok(bytes) => json!({
                    "b64_json": base64::engine::general_purpose::STANDARD.encode(bytes),
                    "revised_prompt": prompt,
                }),
                Err(_) => continue,
            }
        } else {
            json!({
                "url": serve::signed_url(&state, &asset.sha256, state.now() + LINK_SECONDS),
                "revised_prompt": prompt,
            })
        };
        data.push(item);
    }
    Json(json!({ "created": finished.created_at, "data": data })).into_response()
}
