//! Comments on posts, with one level of replies and @mentions:
//! `GET|POST /api/v1/posts/{id}/comments`, `PATCH|DELETE
//! /api/v1/posts/{id}/comments/{comment_id}`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, Row, named_params, params};
use serde::{Deserialize, Serialize};

use super::markdown;
use super::notifications::{self, Kind};
use super::posts::{Author, parse_cursor, refresh_engagement, require_publisher, visible_post};
use super::reactions::{self, Reactions};
use super::visibility::{Door, comment_visible, viewer_param};
use super::{Action, clean_text, rate_limit};
use crate::app::AppState;
use crate::domains::auth::extract::{AuthUser, MaybeUser, Scope};
use crate::error::{ApiError, ApiResult};
use crate::platform::cursor::Page;
use crate::platform::tokens::new_sortable_id;

const PAGE: usize = 50;
const MAX_BODY: usize = 2000;
/// People told of one comment's mentions (the rest are plain text).
const MAX_MENTIONS: usize = 10;
/// Replies shown under one comment.
const MAX_REPLIES: i64 = 200;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Comment {
    pub id: String,
    pub post_id: String,
    pub parent_id: Option<String>,
    /// None once the author's account is gone ("[deleted]").
    pub author: Option<Author>,
    pub body: String,
    /// The body rendered as safe HTML, mentions linked.
    pub body_html: String,
    pub reactions: Reactions,
    pub mine: bool,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    /// Replies, oldest first (top-level comments only).
    #[schema(no_recursion)]
    pub replies: Vec<Comment>,
}

struct CommentRow {
    id: String,
    post_id: String,
    parent_id: Option<String>,
    user_id: Option<String>,
    username: Option<String>,
    display_name: Option<String>,
    body: String,
    created_at: i64,
    edited_at: Option<i64>,
    avatar: Option<String>,
}

const COLUMNS: &str = "c.id, c.post_id, c.parent_id, c.user_id, u.username, u.display_name, \
     c.body, c.created_at, c.edited_at, u.avatar_asset_id";

fn comment_from_row(row: &Row<'_>) -> rusqlite::Result<CommentRow> {
    Ok(CommentRow {
        id: row.get(0)?,
        post_id: row.get(1)?,
        parent_id: row.get(2)?,
        user_id: row.get(3)?,
        username: row.get(4)?,
        display_name: row.get(5)?,
        body: row.get(6)?,
        created_at: row.get(7)?,
        edited_at: row.get(8)?,
        avatar: row.get(9)?,
    })
}

fn view(conn: &Connection, row: CommentRow, viewer: Option<&str>) -> rusqlite::Result<Comment> {
    let reactions = reactions::summary(conn, &row.post_id, Some(&row.id), viewer)?;
    let (author, body) = match (&row.username, &row.display_name) {
        (Some(username), Some(display_name)) => (
            Some(Author::new(username, display_name).with_avatar(conn, row.avatar.as_deref())?),
            row.body,
        ),
        _ => (None, "[deleted]".to_string()),
    };
    Ok(Comment {
        mine: viewer.is_some() && row.user_id.as_deref() == viewer,
        body_html: markdown::render(&body),
        body,
        author,
        reactions,
        id: row.id,
        post_id: row.post_id,
        parent_id: row.parent_id,
        created_at: row.created_at,
        edited_at: row.edited_at,
        replies: Vec::new(),
    })
}

/// Visible comments of a post (top-level ones when `parent` is None, else the replies
/// to `parent`), oldest first, after `after`.
fn visible_comments(
    conn: &Connection,
    post_id: &str,
    parent: Option<&str>,
    viewer: Option<&str>,
    after: (i64, &str),
    limit: i64,
) -> rusqlite::Result<Vec<CommentRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM comments c LEFT JOIN users u ON u.id = c.user_id
         WHERE c.post_id = :post AND c.parent_id IS :parent AND {}
           AND (c.created_at > :after_time OR (c.created_at = :after_time AND c.id > :after_id))
         ORDER BY c.created_at, c.id LIMIT :limit",
        comment_visible("c", "u")
    ))?
    .query_map(
        named_params! {
            ":post": post_id, ":parent": parent, ":viewer": viewer_param(viewer),
            ":after_time": after.0, ":after_id": after.1, ":limit": limit,
        },
        comment_from_row,
    )?
    .collect()
}

/// How many comments of a post the viewer sees.
pub fn visible_count(
    conn: &Connection,
    post_id: &str,
    viewer: Option<&str>,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(&format!(
        "SELECT COUNT(*) FROM comments c LEFT JOIN users u ON u.id = c.user_id
         WHERE c.post_id = :post AND {}",
        comment_visible("c", "u"),
    ))?
    .query_row(
        named_params! {":post": post_id, ":viewer": viewer_param(viewer)},
        |r| r.get(0),
    )
}

/// A page of a post's visible top-level comments after `after`, oldest first, each with
/// its visible replies. The caller has checked the viewer may see the post.
fn thread_page(
    conn: &Connection,
    post_id: &str,
    viewer: Option<&str>,
    after: (i64, &str),
) -> rusqlite::Result<Page<Comment>> {
    let rows = visible_comments(conn, post_id, None, viewer, after, PAGE as i64 + 1)?;
    let page = Page::from_rows(rows, PAGE, |c| (c.created_at, c.id.as_str()));
    let mut items = Vec::with_capacity(page.items.len());
    for row in page.items {
        let replies = visible_comments(
            conn,
            post_id,
            Some(&row.id),
            viewer,
            (i64::MIN, ""),
            MAX_REPLIES,
        )?;
        let mut comment = view(conn, row, viewer)?;
        comment.replies = replies
            .into_iter()
            .map(|reply| view(conn, reply, viewer))
            .collect::<Result<_, _>>()?;
        items.push(comment);
    }
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// The first page of a post's thread, for the public page (the caller has checked the
/// viewer may see the post).
pub fn thread(
    conn: &Connection,
    post_id: &str,
    viewer: Option<&str>,
) -> rusqlite::Result<Vec<Comment>> {
    Ok(thread_page(conn, post_id, viewer, (i64::MIN, ""))?.items)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CommentQuery {
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/posts/{id}/comments", tag = "community",
    params(("id" = String, Path), CommentQuery),
    responses((status = 200, body = Page<Comment>), (status = 404, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Path(post_id): Path<String>,
    Query(query): Query<CommentQuery>,
) -> ApiResult<Json<Page<Comment>>> {
    let viewer = viewer.reader_id()?;
    let after = parse_cursor(query.cursor.as_deref())?.unwrap_or((i64::MIN, String::new()));
    let page = state
        .db
        .query(move |conn| {
            let viewer = viewer.as_deref();
            if visible_post(conn, &post_id, viewer, Door::Direct)?.is_none() {
                return Ok(None);
            }
            thread_page(conn, &post_id, viewer, (after.0, &after.1)).map(Some)
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(page))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    pub body: String,
    /// Reply to this top-level comment.
    pub parent_id: Option<String>,
}

fn clean_body(body: &str) -> ApiResult<String> {
    clean_text("body", body, MAX_BODY, true)
}

/// One comment the viewer may see, with no replies.
fn visible_comment(
    conn: &Connection,
    post_id: &str,
    id: &str,
    viewer: Option<&str>,
) -> rusqlite::Result<Option<CommentRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM comments c LEFT JOIN users u ON u.id = c.user_id
         WHERE c.id = :id AND c.post_id = :post AND {}",
        comment_visible("c", "u")
    ))?
    .query_row(
        named_params! {":id": id, ":post": post_id, ":viewer": viewer_param(viewer)},
        comment_from_row,
    )
    .optional()
}

#[utoipa::path(post, path = "/api/v1/posts/{id}/comments", tag = "community",
    params(("id" = String, Path)), request_body = NewComment,
    responses((status = 201, body = Comment), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
        (status = 429, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Path(post_id): Path<String>,
    Json(request): Json<NewComment>,
) -> ApiResult<(StatusCode, Json<Comment>)> {
    require_publisher(&user)?;
    let body = clean_body(&request.body)?;
    rate_limit(&state, &user, Action::Comment)?;
    let now = state.now();
    let viewer = user.user_id.clone();
    let comment = state
        .db
        .write(move |tx| {
            let me = Some(viewer.as_str());
            let post = visible_post(tx, &post_id, me, Door::Direct)?.ok_or(ApiError::NotFound)?;
            let parent = match &request.parent_id {
                Some(parent_id) => {
                    let parent = visible_comment(tx, &post_id, parent_id, me)?
                        .ok_or_else(|| ApiError::field("parent_id", "No such comment here."))?;
                    if parent.parent_id.is_some() {
                        return Err(ApiError::field(
                            "parent_id",
                            "Reply to the comment this reply answers.",
                        ));
                    }
                    Some(parent)
                }
                None => None,
            };
            let id = new_sortable_id();
            tx.execute(
                "INSERT INTO comments (id, post_id, parent_id, user_id, body, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, post_id, request.parent_id, viewer, body, now],
            )?;
            refresh_engagement(tx, &post_id)?;
            let mut told: Vec<String> = vec![viewer.clone()];
            let mut tell = |recipient: &str, kind: Kind| -> rusqlite::Result<()> {
                if told.iter().any(|t| t == recipient) {
                    return Ok(());
                }
                told.push(recipient.to_string());
                notifications::notify(
                    tx,
                    &notifications::Event {
                        recipient,
                        actor: &viewer,
                        kind,
                        post_id: Some(&post_id),
                        comment_id: Some(&id),
                        detail: "",
                    },
                    now,
                )
            };
            if let Some(parent_author) = parent.as_ref().and_then(|p| p.user_id.as_deref()) {
                tell(parent_author, Kind::Reply)?;
            }
            tell(&post.user_id, Kind::Comment)?;
            for username in markdown::mentions(&body).into_iter().take(MAX_MENTIONS) {
                if let Some(mentioned) = super::people::visible_user(tx, &username, me)? {
                    tell(&mentioned.id, Kind::Mention)?;
                }
            }
            let row = visible_comment(tx, &post_id, &id, me)?.ok_or(ApiError::NotFound)?;
            Ok::<_, ApiError>(view(tx, row, me)?)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(comment)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentPatch {
    pub body: String,
}

#[utoipa::path(patch, path = "/api/v1/posts/{id}/comments/{comment_id}", tag = "community",
    params(("id" = String, Path), ("comment_id" = String, Path)), request_body = CommentPatch,
    responses((status = 200, body = Comment), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn patch(
    State(state): State<AppState>,
    user: AuthUser,
    Path((post_id, comment_id)): Path<(String, String)>,
    Json(request): Json<CommentPatch>,
) -> ApiResult<Json<Comment>> {
    require_publisher(&user)?;
    let body = clean_body(&request.body)?;
    let now = state.now();
    let viewer = user.user_id.clone();
    let comment = state
        .db
        .write(move |tx| {
            let me = Some(viewer.as_str());
            visible_post(tx, &post_id, me, Door::Direct)?.ok_or(ApiError::NotFound)?;
            let changed = tx.execute(
                "UPDATE comments SET body = ?3, edited_at = ?4
                 WHERE id = ?1 AND post_id = ?2 AND user_id = ?5 AND moderation = 'ok'",
                params![comment_id, post_id, body, now, viewer],
            )?;
            if changed == 0 {
                return Err(ApiError::NotFound);
            }
            let row = visible_comment(tx, &post_id, &comment_id, me)?.ok_or(ApiError::NotFound)?;
            Ok(view(tx, row, me)?)
        })
        .await?;
    Ok(Json(comment))
}

#[utoipa::path(delete, path = "/api/v1/posts/{id}/comments/{comment_id}", tag = "community",
    params(("id" = String, Path), ("comment_id" = String, Path)),
    responses((status = 204, description = "Deleted, with its replies"),
        (status = 404, body = crate::error::Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    Path((post_id, comment_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    user.require_scope(Scope::Publish)?;
    let viewer = user.user_id.clone();
    state
        .db
        .write(move |tx| {
            let post = visible_post(tx, &post_id, Some(&viewer), Door::Direct)?
                .ok_or(ApiError::NotFound)?;
            // Their own comment, or any comment under their own post.
            let deleted = tx.execute(
                "DELETE FROM comments WHERE id = ?1 AND post_id = ?2 AND (user_id = ?3 OR ?4)",
                params![comment_id, post_id, viewer, post.user_id == viewer],
            )?;
            if deleted == 0 {
                return Err(ApiError::NotFound);
            }
            refresh_engagement(tx, &post_id)?;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
