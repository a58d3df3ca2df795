//! Local usage analytics, the domain side: what is counted (every API request by its
//! route, the features those requests stand for, and the pages the web UI shows), for
//! whom (signed-in people who did not opt out; anonymous visitors without an address),
//! what a person sees about themselves, and when old records are shortened and dropped.
//! The counting itself is `platform::usage`.

use axum::Json;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::domains::auth::extract::{AuthUser, Client, MaybeUser, Scope};
use crate::error::{ApiError, ApiResult};
use crate::platform::clock::iso_date;
use crate::platform::db::DbError;
use crate::platform::rate_limit::Limit;
use crate::platform::usage::{self, Kind, NamedCount, RequestUser};

/// API routes that stand for a feature, and its name on the dashboard.
const FEATURES: &[(&str, &str, &str)] = &[
    ("POST", "/api/v1/generations", "generate"),
    ("POST", "/v1/images/generations", "generate (OpenAI API)"),
    ("POST", "/api/v1/meshes/preview", "3D preview"),
    ("POST", "/api/v1/assets", "upload"),
    ("GET", "/api/v1/assets/{id}/download", "download"),
    ("POST", "/api/v1/posts", "publish"),
    ("POST", "/api/v1/posts/{id}/comments", "comment"),
    ("POST", "/api/v1/posts/{id}/reactions", "react"),
    ("PUT", "/api/v1/users/{username}/follow", "follow"),
    ("GET", "/api/v1/search", "search"),
    ("POST", "/api/v1/reports", "report"),
    ("POST", "/api/v1/me/export", "data export"),
];

fn feature_of(method: &Method, route: &str) -> Option<&'static str> {
    FEATURES
        .iter()
        .find(|(m, r, _)| *r == route && method.as_str() == *m)
        .map(|(_, _, name)| *name)
}

/// Counts each API request (and the feature it stands for) once it is answered.
pub async fn count_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let recorder = state.privacy.usage.clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .filter(|r| r.starts_with("/api/") || r.starts_with("/v1/"));
    let Some(route) = route.filter(|_| recorder.enabled()) else {
        return next.run(request).await;
    };
    let method = request.method().clone();
    let (mut parts, body) = request.into_parts();
    let ip = Client::from_request_parts(&mut parts, &state)
        .await
        .ok()
        .map(|Client(_, ip)| ip);
    let asker = RequestUser::default();
    parts.extensions.insert(asker.clone());
    let response = next.run(Request::from_parts(parts, body)).await;
    // The page-view beacon is counted as the page it reports, not as a request.
    if route == PAGE_VIEW_ROUTE {
        return response;
    }
    let user = asker.0.get().map(String::as_str);
    recorder.count(user, Kind::Api, &format!("{method} {route}"), ip);
    if response.status().is_success()
        && let Some(feature) = feature_of(&method, &route)
    {
        recorder.count(user, Kind::Feature, feature, ip);
    }
    response
}

const PAGE_VIEW_ROUTE: &str = "/api/v1/usage/page-view";

/// Page views one address may report a minute (a person clicking fast stays well below).
const PAGE_VIEWS_PER_IP: Limit = Limit::new(120, 60);

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PageView {
    /// The page's route pattern as the web UI names it (`/library/:id`), never an
    /// address with ids in it.
    pub page: String,
}

#[utoipa::path(post, path = "/api/v1/usage/page-view", tag = "privacy", request_body = PageView,
    responses((status = 204), (status = 422, body = crate::error::Problem)))]
pub async fn page_view(
    State(state): State<AppState>,
    viewer: MaybeUser,
    client: Client,
    Json(view): Json<PageView>,
) -> ApiResult<StatusCode> {
    let Client(_, ip) = client;
    state
        .limiter
        .hit(&format!("page-view:{ip}"), PAGE_VIEWS_PER_IP)
        .map_err(|retry_after_seconds| ApiError::TooManyRequests {
            retry_after_seconds,
        })?;
    let page = view.page.trim();
    let well_formed = page.starts_with('/')
        && page.len() <= 80
        && page
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_:".contains(c));
    if !well_formed {
        return Err(ApiError::field(
            "page",
            "Name the page by its route, such as /library/:id.",
        ));
    }
    let user = viewer.0.map(|u| u.user_id);
    state
        .privacy
        .usage
        .count(user.as_deref(), Kind::Page, page, Some(ip));
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MyUsage {
    /// Whether usage is recorded on this instance at all.
    pub recording: bool,
    /// Whether it is recorded for you (your analytics consent).
    pub counted: bool,
    pub days: i64,
    pub page_views: i64,
    pub api_requests: i64,
    pub top_features: Vec<NamedCount>,
    pub top_pages: Vec<NamedCount>,
    /// How long addresses are kept whole, and records at all.
    pub full_ip_days: i64,
    pub retention_days: i64,
}

const SUMMARY_DAYS: i64 = 30;

#[utoipa::path(get, path = "/api/v1/me/usage", tag = "privacy",
    responses((status = 200, body = MyUsage)))]
pub async fn mine(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<MyUsage>> {
    user.require_scope(Scope::Read)?;
    // What is still buffered belongs in what the person sees.
    state.privacy.usage.flush(&state.db).await?;
    let since = iso_date(state.now() - (SUMMARY_DAYS - 1) * 86_400);
    let id = user.user_id;
    let config = state.config.privacy.clone();
    let recording = state.privacy.usage.enabled();
    let summary = state
        .db
        .query(move |conn| {
            let totals = |kind: Kind| {
                conn.query_row(
                    "SELECT COALESCE(SUM(count), 0) FROM usage_daily
                     WHERE user_id = ?1 AND kind = ?2 AND day >= ?3",
                    rusqlite::params![id, kind.as_str(), since],
                    |r| r.get::<_, i64>(0),
                )
            };
            Ok(MyUsage {
                recording,
                counted: recording
                    && super::consents::granted(conn, &id, super::consents::Purpose::Analytics)?,
                days: SUMMARY_DAYS,
                page_views: totals(Kind::Page)?,
                api_requests: totals(Kind::Api)?,
                top_features: usage::top(conn, Kind::Feature, &since, Some(&id), 5)?,
                top_pages: usage::top(conn, Kind::Page, &since, Some(&id), 5)?,
                full_ip_days: config.analytics_full_ip_days,
                retention_days: config.analytics_retention_days,
            })
        })
        .await?;
    Ok(Json(summary))
}

/// Shortens old addresses and drops records past the retention period.
pub async fn apply_retention(state: &AppState) -> Result<(usize, usize), DbError> {
    let now = state.now();
    let config = &state.config.privacy;
    let full_until = iso_date(now - config.analytics_full_ip_days * 86_400);
    let keep_from = iso_date(now - config.analytics_retention_days * 86_400);
    state
        .db
        .write(move |tx| Ok(usage::apply_retention(tx, &full_until, &keep_from)?))
        .await
}
