//! The one error type of the HTTP API, answered as RFC 9457 `application/problem+json`
//! with a stable `type`, a human `detail` and never any internals.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::platform::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Input that cannot be accepted; `errors` names the fields.
    #[error("{detail}")]
    Validation {
        detail: String,
        errors: BTreeMap<String, String>,
    },
    #[error("{0}")]
    BadRequest(String),
    /// No or bad credentials; the slug says which (`unauthorized`, `token-expired`, ...).
    #[error("{detail}")]
    Unauthorized { slug: &'static str, detail: String },
    #[error("{0}")]
    Forbidden(String),
    /// Forbidden for a reason a client may act on; the slug names it.
    #[error("{detail}")]
    ForbiddenBecause { slug: &'static str, detail: String },
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_seconds: i64 },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Not enough credits for what was asked.
    #[error("{0}")]
    PaymentRequired(String),
    /// A part the request needs is not installed or not running (e.g. ONNX Runtime).
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// One field's validation failure.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut errors = BTreeMap::new();
        errors.insert(field.to_string(), message.clone());
        ApiError::Validation {
            detail: message,
            errors,
        }
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        ApiError::Unauthorized {
            slug: "unauthorized",
            detail: detail.into(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::Validation { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid input",
            ),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            ApiError::Unauthorized { slug, .. } => (StatusCode::UNAUTHORIZED, slug, "Unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::ForbiddenBecause { slug, .. } => (StatusCode::FORBIDDEN, slug, "Forbidden"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            ApiError::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
            ),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            ApiError::PaymentRequired(_) => (
                StatusCode::PAYMENT_REQUIRED,
                "insufficient-credits",
                "Not enough credits",
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        ApiError::Internal(error.into())
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(error: rusqlite::Error) -> Self {
        ApiError::Internal(error.into())
    }
}

/// The JSON body of an error response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, String>>,
}

/// Builds a problem response for a status and slug (also used by middleware).
pub fn problem_response(status: StatusCode, slug: &str, title: &str, detail: String) -> Response {
    let problem = Problem {
        problem_type: format!("urn:stratamake:problem:{slug}"),
        title: title.into(),
        status: status.as_u16(),
        detail,
        errors: None,
    };
    with_problem_type(status, &problem)
}

fn with_problem_type(status: StatusCode, problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.parts();
        let detail = match &self {
            ApiError::Internal(error) => {
                tracing::error!(error = %format!("{error:#}"), "request failed");
                "Something went wrong on the server. The error was logged.".to_string()
            }
            ApiError::NotFound => "Nothing was found at this address.".to_string(),
            ApiError::TooManyRequests {
                retry_after_seconds,
            } => format!("Too many attempts. Try again in {retry_after_seconds} seconds."),
            other => other.to_string(),
        };
        let errors = match &self {
            ApiError::Validation { errors, .. } => Some(errors.clone()),
            _ => None,
        };
        let problem = Problem {
            problem_type: format!("urn:stratamake:problem:{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            errors,
        };
        let mut response = with_problem_type(status, &problem);
        if let ApiError::TooManyRequests {
            retry_after_seconds,
        } = self
            && let Ok(value) = HeaderValue::from_str(&retry_after_seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
