//! Posts: a library asset shared with a title, a description, tags and an audience.
//! Their rows, the JSON every door returns for them, and `POST|GET /api/v1/posts`,
//! `GET|PATCH|DELETE /api/v1/posts/{id}`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, named_params, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::markdown;
use super::reactions::{self, Reactions};
use super::visibility::{Door, post_visible, viewer_param};
use super::{Action, clean_text, rate_limit};
use crate::app::AppState;
use crate::domains::auth::extract::{AuthUser, MaybeUser, Scope};
use crate::domains::library::api::clean_tags;
use crate::domains::library::store::{self as library, MeshInfo};
use crate::error::{ApiError, ApiResult};
use crate::platform::cursor::{self, Page};
use crate::platform::tokens::new_sortable_id;

pub const PAGE: usize = 24;
const MAX_TITLE: usize = 120;
const MAX_DESCRIPTION: usize = 5000;

/// Who a post is shown to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    /// Everyone, in feeds, search and profiles.
    Public,
    /// Anyone with the link; in no list.
    Unlisted,
    /// The author's followers.
    Followers,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Public => "public",
            Audience::Unlisted => "unlisted",
            Audience::Followers => "followers",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "unlisted" => Audience::Unlisted,
            "followers" => Audience::Followers,
            _ => Audience::Public,
        }
    }
}

/// A post's row with its author's names.
#[derive(Debug, Clone)]
pub struct PostRow {
    pub id: String,
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub asset_id: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub audience: Audience,
    pub remix: bool,
    pub moderation: String,
    pub hot: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub author_avatar: Option<String>,
}

/// The columns of a `PostRow`, for queries that name posts `p` and their authors `u`.
pub const POST_COLUMNS: &str = "p.id, p.user_id, u.username, u.display_name, p.asset_id, p.title, \
     p.description, p.tags, p.visibility, p.remix, p.moderation, p.hot, p.created_at, p.updated_at, \
     u.avatar_asset_id";

pub fn post_from_row(row: &Row<'_>) -> rusqlite::Result<PostRow> {
    let tags: String = row.get(7)?;
    let audience: String = row.get(8)?;
    Ok(PostRow {
        id: row.get(0)?,
        user_id: row.get(1)?,
        username: row.get(2)?,
        display_name: row.get(3)?,
        asset_id: row.get(4)?,
        title: row.get(5)?,
        description: row.get(6)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        audience: Audience::parse(&audience),
        remix: row.get(9)?,
        moderation: row.get(10)?,
        hot: row.get(11)?,
        created_at: row.get(12)?,
        updated_at: row.get(13)?,
        author_avatar: row.get(14)?,
    })
}

/// The post `id` if the viewer may see it through `door`.
pub fn visible_post(
    conn: &Connection,
    id: &str,
    viewer: Option<&str>,
    door: Door,
) -> rusqlite::Result<Option<PostRow>> {
    conn.prepare_cached(&format!(
        "SELECT {POST_COLUMNS} FROM posts p JOIN users u ON u.id = p.user_id
         WHERE p.id = :id AND {}",
        post_visible("p", "u", door)
    ))?
    .query_row(
        named_params! {":id": id, ":viewer": viewer_param(viewer)},
        post_from_row,
    )
    .optional()
}

/// The post `id` whoever may see it (for its author and moderators).
pub fn post_by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<PostRow>> {
    conn.prepare_cached(&format!(
        "SELECT {POST_COLUMNS} FROM posts p JOIN users u ON u.id = p.user_id WHERE p.id = ?1"
    ))?
    .query_row([id], post_from_row)
    .optional()
}

/// Who may see a library asset because it is shared (in a post, or as an avatar).
#[derive(Debug, Clone, Copy, Default)]
pub struct Sharing {
    /// The viewer may.
    pub viewer: bool,
    /// Anyone may, signed in or not.
    pub everyone: bool,
}

/// One file of a library asset that someone asks for.
#[derive(Debug, Clone)]
pub struct SharedFile {
    pub asset_id: String,
    /// The original of a generated image: its PNG carries the prompt and settings, so it
    /// is shared only by posts whose author lets others see them (remix); everyone else
    /// gets the metadata-free pictures.
    pub carries_prompt: bool,
}

/// How the files are shared, as seen by the viewer.
pub fn sharing(
    conn: &Connection,
    files: &[SharedFile],
    viewer: Option<&str>,
) -> rusqlite::Result<Sharing> {
    let mut shared = Sharing::default();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT EXISTS (SELECT 1 FROM posts p JOIN users u ON u.id = p.user_id
                        WHERE p.asset_id = :asset AND (:carries_prompt = 0 OR p.remix = 1)
                          AND {})",
        post_visible("p", "u", Door::Direct)
    ))?;
    for file in files {
        if !file.carries_prompt && super::people::is_avatar(conn, &file.asset_id)? {
            return Ok(Sharing {
                viewer: true,
                everyone: true,
            });
        }
        let mut visible_to = |who: &str| -> rusqlite::Result<bool> {
            stmt.query_row(
                named_params! {
                    ":asset": file.asset_id, ":carries_prompt": file.carries_prompt, ":viewer": who,
                },
                |r| r.get(0),
            )
        };
        shared.everyone |= visible_to("")?;
        // A signed-in viewer is asked about on their own: a block hides even public posts.
        shared.viewer |= match viewer {
            Some(viewer) => visible_to(viewer)?,
            None => shared.everyone,
        };
    }
    Ok(shared)
}

/// Who a library asset is shown to through its posts: `public` (anyone, in lists or
/// by link), `followers`, or `private` (not shared).
pub fn asset_audience(conn: &Connection, asset_id: &str) -> rusqlite::Result<&'static str> {
    let widest: Option<i64> = conn
        .prepare_cached(
            "SELECT MAX(CASE visibility WHEN 'followers' THEN 1 ELSE 2 END) FROM posts
             WHERE asset_id = ?1 AND moderation = 'ok'",
        )?
        .query_row([asset_id], |r| r.get(0))?;
    Ok(match widest {
        Some(2) => "public",
        Some(_) => "followers",
        None => "private",
    })
}

/// Who made a post, as pages show them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Author {
    pub username: String,
    pub display_name: String,
    pub url: String,
    /// Their profile picture, where lists show it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
}

impl Author {
    pub fn new(username: &str, display_name: &str) -> Self {
        Author {
            username: username.to_string(),
            display_name: display_name.to_string(),
            url: format!("/u/{username}"),
            avatar_url: None,
        }
    }

    /// With the picture of their avatar asset, if they chose one.
    pub fn with_avatar(
        mut self,
        conn: &Connection,
        avatar_asset_id: Option<&str>,
    ) -> rusqlite::Result<Self> {
        self.avatar_url = super::people::avatar_url(conn, avatar_asset_id)?;
        Ok(self)
    }
}

/// What a post shows: the shared asset's pictures and, for 3D models, the model.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PostMedia {
    /// The library asset shown (its files are readable by whoever sees the post).
    pub asset_id: String,
    /// `image` or `model`.
    pub kind: String,
    pub format: String,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub image_url: String,
    pub thumbnail_url: Option<String>,
    pub preview_url: Option<String>,
    /// For 3D models: the model as GLB, for the viewer.
    pub model_url: Option<String>,
    pub mesh: Option<MeshInfo>,
}

/// A post as every door returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Post {
    pub id: String,
    /// The public page of the post.
    pub url: String,
    pub author: Author,
    pub title: String,
    pub description: String,
    /// The description rendered as safe HTML.
    pub description_html: String,
    pub tags: Vec<String>,
    pub visibility: Audience,
    /// Others may see and reuse the prompt and settings.
    pub remix: bool,
    pub media: PostMedia,
    /// The generation's prompt and settings, when the author shares them (and always
    /// for the author).
    #[schema(value_type = Option<Object>)]
    pub generation: Option<Value>,
    pub comment_count: i64,
    pub reactions: Reactions,
    /// The viewer wrote it.
    pub mine: bool,
    /// For the author: `hidden` when moderators hid it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moderation: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The JSON of a post the viewer may see.
pub fn view(conn: &Connection, row: PostRow, viewer: Option<&str>) -> rusqlite::Result<Post> {
    let asset = library::get(conn, &row.asset_id)?;
    let mine = viewer == Some(row.user_id.as_str());
    let (media, params) = match asset {
        Some(asset) => (
            PostMedia {
                // Without remix, others see the metadata-free picture, not the PNG
                // that carries the prompt.
                image_url: match &asset.preview_url {
                    Some(preview)
                        if !mine
                            && !row.remix
                            && asset.source == "generated"
                            && asset.kind == "image" =>
                    {
                        preview.clone()
                    }
                    _ => asset.url.clone(),
                },
                asset_id: asset.id.clone(),
                model_url: (asset.kind == "model")
                    .then(|| format!("/api/v1/assets/{}/download?format=glb", asset.id)),
                kind: asset.kind,
                format: asset.format,
                width: asset.width,
                height: asset.height,
                thumbnail_url: asset.thumbnail_url,
                preview_url: asset.preview_url,
                mesh: asset.mesh,
            },
            asset.params,
        ),
        None => return Err(rusqlite::Error::QueryReturnedNoRows),
    };
    let comment_count = super::comments::visible_count(conn, &row.id, viewer)?;
    let reactions = reactions::summary(conn, &row.id, None, viewer)?;
    Ok(Post {
        url: format!("/p/{}", row.id),
        author: Author::new(&row.username, &row.display_name)
            .with_avatar(conn, row.author_avatar.as_deref())?,
        description_html: markdown::render(&row.description),
        generation: params.filter(|_| row.remix || mine),
        moderation: (mine && row.moderation != "ok").then(|| row.moderation.clone()),
        id: row.id,
        title: row.title,
        description: row.description,
        tags: row.tags,
        visibility: row.audience,
        remix: row.remix,
        media,
        comment_count,
        reactions,
        mine,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The JSON of several rows, in order.
pub fn views(
    conn: &Connection,
    rows: Vec<PostRow>,
    viewer: Option<&str>,
) -> rusqlite::Result<Vec<Post>> {
    rows.into_iter()
        .map(|row| view(conn, row, viewer))
        .collect()
}

/// Recounts a post's engagement (reactions + 2 × visible comments) and its trending
/// rank. The rank is `created_at + 43200 × ln(1 + engagement)`: every e-fold of
/// engagement is worth twelve hours of freshness, so a post needs ever more reactions to
/// stay above newer ones, and ranks never change merely with time (an index keeps the
/// order, no rescoring pass is needed).
pub fn refresh_engagement(tx: &Transaction<'_>, post_id: &str) -> rusqlite::Result<()> {
    let (engagement, created_at): (i64, i64) = match tx
        .query_row(
            "SELECT (SELECT COUNT(*) FROM reactions WHERE post_id = ?1)
                  + 2 * (SELECT COUNT(*) FROM comments WHERE post_id = ?1 AND moderation = 'ok'),
                    created_at
             FROM posts WHERE id = ?1",
            [post_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
    {
        Some(found) => found,
        None => return Ok(()),
    };
    tx.execute(
        "UPDATE posts SET engagement = ?2, hot = ?3 WHERE id = ?1",
        params![post_id, engagement, hot_rank(engagement, created_at)],
    )?;
    Ok(())
}

/// The trending rank of a post (see `refresh_engagement`).
pub fn hot_rank(engagement: i64, created_at: i64) -> i64 {
    created_at + (43_200.0 * (1.0 + engagement.max(0) as f64).ln()).round() as i64
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPost {
    /// The library asset to share (an image or a 3D model of yours).
    pub asset_id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// `public` (the default), `unlisted` or `followers`.
    pub visibility: Option<Audience>,
    /// Let others see and reuse the prompt and settings (default: no).
    #[serde(default)]
    pub remix: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub visibility: Option<Audience>,
    pub remix: Option<bool>,
}

fn clean_title(title: &str) -> ApiResult<String> {
    clean_text("title", title, MAX_TITLE, true)
}

fn clean_description(text: &str) -> ApiResult<String> {
    clean_text("description", text, MAX_DESCRIPTION, false)
}

fn save_tags(tx: &Transaction<'_>, post_id: &str, tags: &[String]) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM post_tags WHERE post_id = ?1", [post_id])?;
    for tag in tags {
        tx.execute(
            "INSERT INTO post_tags (tag, post_id) VALUES (?1, ?2)",
            params![tag, post_id],
        )?;
    }
    Ok(())
}

/// Publishing needs a verified address and the publish scope.
pub fn require_publisher(user: &AuthUser) -> ApiResult<()> {
    user.require_scope(Scope::Publish)?;
    if !user.email_verified {
        return Err(ApiError::Forbidden(
            "Verify your email address before you share with the community.".into(),
        ));
    }
    Ok(())
}

async fn post_json(state: &AppState, id: String, viewer: Option<String>) -> ApiResult<Post> {
    state
        .db
        .query(move |conn| {
            let Some(row) = visible_post(conn, &id, viewer.as_deref(), Door::Direct)? else {
                return Ok(None);
            };
            view(conn, row, viewer.as_deref()).map(Some)
        })
        .await?
        .ok_or(ApiError::NotFound)
}

#[utoipa::path(post, path = "/api/v1/posts", tag = "community", request_body = NewPost,
    responses((status = 201, body = Post), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
        (status = 429, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(request): Json<NewPost>,
) -> ApiResult<(StatusCode, Json<Post>)> {
    require_publisher(&user)?;
    let title = clean_title(&request.title)?;
    let description = clean_description(&request.description)?;
    let tags = clean_tags(request.tags)?;
    rate_limit(&state, &user, Action::Post)?;
    let id = new_sortable_id();
    let now = state.now();
    let audience = request.visibility.unwrap_or(Audience::Public);
    let (post_id, user_id) = (id.clone(), user.user_id.clone());
    state
        .db
        .write(move |tx| {
            // Likeness samples live only under their consent: never shared.
            let asset = library::get(tx, &request.asset_id)?
                .filter(|a| a.user_id == user_id && !a.is_likeness())
                .ok_or_else(|| ApiError::field("asset_id", "No such asset in your library."))?;
            tx.execute(
                "INSERT INTO posts (id, user_id, asset_id, title, description, tags, visibility,
                                    remix, hot, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                params![
                    post_id,
                    user_id,
                    asset.id,
                    title,
                    description,
                    serde_json::to_string(&tags).map_err(|e| ApiError::Internal(e.into()))?,
                    audience.as_str(),
                    request.remix,
                    hot_rank(0, now),
                    now
                ],
            )?;
            save_tags(tx, &post_id, &tags)?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(post_json(&state, id, Some(user.user_id)).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/posts/{id}", tag = "community", params(("id" = String, Path)),
    responses((status = 200, body = Post), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Post>> {
    let viewer = viewer.reader_id()?;
    Ok(Json(post_json(&state, id, viewer).await?))
}

/// The author's own post, or 404.
async fn own_post(state: &AppState, user: &AuthUser, id: String) -> ApiResult<PostRow> {
    let owner = user.user_id.clone();
    state
        .db
        .query(move |conn| post_by_id(conn, &id))
        .await?
        .filter(|p| p.user_id == owner && p.moderation != "removed")
        .ok_or(ApiError::NotFound)
}

#[utoipa::path(patch, path = "/api/v1/posts/{id}", tag = "community", params(("id" = String, Path)),
    request_body = PostPatch,
    responses((status = 200, body = Post), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn patch(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Json(patch): Json<PostPatch>,
) -> ApiResult<Json<Post>> {
    require_publisher(&user)?;
    let title = patch.title.as_deref().map(clean_title).transpose()?;
    let description = patch
        .description
        .as_deref()
        .map(clean_description)
        .transpose()?;
    let tags = patch.tags.map(clean_tags).transpose()?;
    let now = state.now();
    let (post_id, owner) = (id.clone(), user.user_id.clone());
    state
        .db
        .write(move |tx| {
            // Read inside the write: concurrent edits each change only what they name.
            let mut post = post_by_id(tx, &post_id)?
                .filter(|p| p.user_id == owner && p.moderation != "removed")
                .ok_or(ApiError::NotFound)?;
            post.title = title.unwrap_or(post.title);
            post.description = description.unwrap_or(post.description);
            let tags_changed = tags.is_some();
            post.tags = tags.unwrap_or(post.tags);
            post.audience = patch.visibility.unwrap_or(post.audience);
            post.remix = patch.remix.unwrap_or(post.remix);
            tx.execute(
                "UPDATE posts SET title = ?2, description = ?3, tags = ?4, visibility = ?5,
                                  remix = ?6, updated_at = ?7
                 WHERE id = ?1",
                params![
                    post.id,
                    post.title,
                    post.description,
                    serde_json::to_string(&post.tags).map_err(|e| ApiError::Internal(e.into()))?,
                    post.audience.as_str(),
                    post.remix,
                    now
                ],
            )?;
            if tags_changed {
                save_tags(tx, &post.id, &post.tags)?;
            }
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(Json(post_json(&state, id, Some(user.user_id)).await?))
}

#[utoipa::path(delete, path = "/api/v1/posts/{id}", tag = "community", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted, with its comments and reactions"),
        (status = 404, body = crate::error::Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    user.require_scope(Scope::Publish)?;
    let post = own_post(&state, &user, id).await?;
    state
        .db
        .write(move |tx| {
            tx.execute("DELETE FROM posts WHERE id = ?1", [&post.id])?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PostListQuery {
    /// A username: that person's posts the viewer may see.
    pub author: Option<String>,
    /// A tag: public posts with it, newest first.
    pub tag: Option<String>,
    pub cursor: Option<String>,
}

/// Which posts a list shows.
#[derive(Debug, Clone, Copy)]
pub enum Listing<'a> {
    /// Posts of one author (their id), newest first.
    Author(&'a str),
    /// Public posts with a tag, newest first.
    Tag(&'a str),
    /// Public posts, newest first.
    Latest,
    /// Posts of the people the viewer follows, newest first.
    Following,
    /// Public posts by trending rank (see `refresh_engagement`).
    Trending,
}

/// One page of a list of posts the viewer may see, after the cursor position `after`.
pub fn list(
    conn: &Connection,
    listing: Listing<'_>,
    viewer: Option<&str>,
    after: Option<(i64, String)>,
) -> rusqlite::Result<Page<Post>> {
    let (filter, key) = match listing {
        Listing::Author(id) => ("p.user_id = :key", id),
        // Discovery lists show what everyone sees, to authors too (not their hidden posts).
        Listing::Tag(tag) => (
            "p.visibility = 'public' AND p.moderation = 'ok'
             AND p.id IN (SELECT post_id FROM post_tags WHERE tag = :key)",
            tag,
        ),
        Listing::Latest | Listing::Trending => (
            "p.visibility = 'public' AND p.moderation = 'ok' AND :key = ''",
            "",
        ),
        Listing::Following => (
            "p.user_id IN (SELECT followee_id FROM follows WHERE follower_id = :viewer) AND :key = ''",
            "",
        ),
    };
    let order = match listing {
        Listing::Trending => "p.hot",
        _ => "p.created_at",
    };
    let (after_key, after_id) = after.unwrap_or((i64::MAX, String::new()));
    let sql = format!(
        "SELECT {POST_COLUMNS} FROM posts p JOIN users u ON u.id = p.user_id
         WHERE {filter} AND {visible}
           AND ({order} < :after_key OR ({order} = :after_key AND p.id < :after_id))
         ORDER BY {order} DESC, p.id DESC LIMIT :limit",
        visible = post_visible("p", "u", Door::Listed)
    );
    let rows: Vec<PostRow> = conn
        .prepare_cached(&sql)?
        .query_map(
            named_params! {
                ":key": key,
                ":viewer": viewer_param(viewer),
                ":after_key": after_key,
                ":after_id": after_id,
                ":limit": (PAGE + 1) as i64,
            },
            post_from_row,
        )?
        .collect::<Result<_, _>>()?;
    let page = Page::from_rows(rows, PAGE, |p| match listing {
        Listing::Trending => (p.hot, p.id.as_str()),
        _ => (p.created_at, p.id.as_str()),
    });
    Ok(Page {
        items: views(conn, page.items, viewer)?,
        next_cursor: page.next_cursor,
    })
}

/// Decodes a list cursor, or a 422 naming it.
pub fn parse_cursor(cursor: Option<&str>) -> ApiResult<Option<(i64, String)>> {
    cursor
        .map(|c| cursor::decode(c).ok_or_else(|| ApiError::field("cursor", "Unknown cursor.")))
        .transpose()
}

#[utoipa::path(get, path = "/api/v1/posts", tag = "community", params(PostListQuery),
    responses((status = 200, body = Page<Post>), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn list_posts(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Query(query): Query<PostListQuery>,
) -> ApiResult<Json<Page<Post>>> {
    let viewer = viewer.reader_id()?;
    let after = parse_cursor(query.cursor.as_deref())?;
    enum Wanted {
        Author(String),
        Tag(String),
    }
    let wanted = match (query.author, query.tag) {
        (Some(username), None) => Wanted::Author(username),
        (None, Some(tag)) => Wanted::Tag(tag.trim().trim_start_matches('#').to_lowercase()),
        _ => return Err(ApiError::field("author", "Give either an author or a tag.")),
    };
    let page = state
        .db
        .query(move |conn| {
            let viewer = viewer.as_deref();
            match wanted {
                Wanted::Author(username) => {
                    let Some(author) = super::people::visible_user(conn, &username, viewer)? else {
                        return Ok(None);
                    };
                    list(conn, Listing::Author(&author.id), viewer, after).map(Some)
                }
                Wanted::Tag(tag) => list(conn, Listing::Tag(&tag), viewer, after).map(Some),
            }
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(page))
}
