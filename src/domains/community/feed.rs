//! `GET /api/v1/feed?kind=following|latest|trending`: the three feeds. Latest and
//! Trending show public posts; Following shows what the viewer's followees shared with
//! them (public and followers-only posts). Trending orders by the rank that
//! `posts::refresh_engagement` keeps (reactions and comments, decayed by age).

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::posts::{self, Listing, Post, parse_cursor};
use crate::app::AppState;
use crate::domains::auth::extract::MaybeUser;
use crate::error::{ApiError, ApiResult};
use crate::platform::cursor::Page;

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FeedKind {
    Following,
    Latest,
    Trending,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FeedQuery {
    /// `following` (signed in), `latest` (the default) or `trending`.
    pub kind: Option<FeedKind>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/feed", tag = "community", params(FeedQuery),
    responses((status = 200, body = Page<Post>), (status = 401, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn feed(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Query(query): Query<FeedQuery>,
) -> ApiResult<Json<Page<Post>>> {
    let kind = query.kind.unwrap_or(FeedKind::Latest);
    let viewer = viewer.reader_id()?;
    if viewer.is_none() && matches!(kind, FeedKind::Following) {
        return Err(ApiError::Unauthorized {
            slug: "unauthorized",
            detail: "Sign in to see the people you follow.".into(),
        });
    }
    let after = parse_cursor(query.cursor.as_deref())?;
    let listing = match kind {
        FeedKind::Following => Listing::Following,
        FeedKind::Latest => Listing::Latest,
        FeedKind::Trending => Listing::Trending,
    };
    let page = state
        .db
        .query(move |conn| posts::list(conn, listing, viewer.as_deref(), after))
        .await?;
    Ok(Json(page))
}
