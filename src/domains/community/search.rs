//! Community search: which posts, people and tags the index holds (`Documents`, the
//! search platform's source) and `GET /api/v1/search`. Only public, unmoderated posts of
//! active authors are indexed; every hit is checked again against current visibility
//! before it is returned, so a post deleted or hidden a moment ago never shows.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Query, State};
use rusqlite::{Connection, OptionalExtension, named_params};
use serde::{Deserialize, Serialize};

use super::markdown;
use super::people::{Person, visible_user_by_id};
use super::posts::{POST_COLUMNS, Post, PostRow, post_from_row, view};
use super::visibility::{Door, post_visible, viewer_param};
use crate::app::AppState;
use crate::domains::auth::extract::MaybeUser;
use crate::domains::library::store as library;
use crate::error::{ApiError, ApiResult};
use crate::platform::db::DbError;
use crate::platform::search::{self, Change, DocKind, Document, SearchIndex, Sort};

/// Posts anyone may find: public, unmoderated, by an active author.
const FINDABLE: &str = "p.visibility = 'public' AND p.moderation = 'ok' AND u.disabled_at IS NULL";

/// Post `id` if it is still findable — the index may not have caught up with a change —
/// and visible to the viewer (the same rule for its author as for anyone: a search
/// lists only what everyone may find).
fn findable_post(
    conn: &Connection,
    id: &str,
    viewer: Option<&str>,
) -> rusqlite::Result<Option<PostRow>> {
    conn.prepare_cached(&format!(
        "SELECT {POST_COLUMNS} FROM posts p JOIN users u ON u.id = p.user_id
         WHERE p.id = :id AND {FINDABLE} AND {}",
        post_visible("p", "u", Door::Listed)
    ))?
    .query_row(
        named_params! {":id": id, ":viewer": viewer_param(viewer)},
        post_from_row,
    )
    .optional()
}

/// The index's source: posts, people and tags.
pub struct Documents;

const POST_SELECT: &str = "SELECT p.id, p.title, p.description, p.tags, p.asset_id, p.remix, \
     p.created_at FROM posts p JOIN users u ON u.id = p.user_id";

/// The document of a findable post (a row of `POST_SELECT`): its prompt is searchable
/// only when the author shares it.
fn post_from(conn: &Connection, row: &rusqlite::Row<'_>) -> rusqlite::Result<Document> {
    let asset = library::get(conn, &row.get::<_, String>(4)?)?;
    let remix: bool = row.get(5)?;
    let prompt = asset
        .as_ref()
        .filter(|_| remix)
        .and_then(|a| a.params.as_ref())
        .and_then(|p| p.get("prompt"))
        .and_then(|p| p.as_str())
        .unwrap_or_default()
        .to_string();
    Ok(Document {
        kind: DocKind::Post,
        id: row.get(0)?,
        title: row.get(1)?,
        body: markdown::plain(&row.get::<_, String>(2)?),
        tags: serde_json::from_str(&row.get::<_, String>(3)?).unwrap_or_default(),
        extra: prompt,
        filter: asset.map(|a| a.kind).unwrap_or_default(),
        created_at: row.get(6)?,
        popularity: 0,
    })
}

/// The document of tag `tag`, or None when no findable post has it.
fn tag_document(conn: &Connection, tag: &str) -> rusqlite::Result<Option<Document>> {
    let (count, latest): (i64, Option<i64>) = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*), MAX(p.created_at) FROM post_tags t JOIN posts p ON p.id = t.post_id
             JOIN users u ON u.id = p.user_id WHERE t.tag = ?1 AND {FINDABLE}"
        ))?
        .query_row([tag], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok((count > 0).then(|| Document {
        kind: DocKind::Tag,
        id: tag.to_string(),
        title: tag.to_string(),
        body: String::new(),
        tags: Vec::new(),
        extra: String::new(),
        filter: String::new(),
        created_at: latest.unwrap_or(0),
        popularity: count,
    }))
}

/// How many posts with `tag` the viewer finds in the tag's list (public, unmoderated,
/// by an active author no block stands between).
fn visible_tag_count(conn: &Connection, tag: &str, viewer: Option<&str>) -> rusqlite::Result<i64> {
    conn.prepare_cached(&format!(
        "SELECT COUNT(*) FROM post_tags t JOIN posts p ON p.id = t.post_id
         JOIN users u ON u.id = p.user_id
         WHERE t.tag = :tag AND p.visibility = 'public' AND p.moderation = 'ok' AND {}",
        post_visible("p", "u", Door::Listed)
    ))?
    .query_row(
        named_params! {":tag": tag, ":viewer": viewer_param(viewer)},
        |r| r.get(0),
    )
}

const USER_SELECT: &str = "SELECT u.id, u.username, u.display_name, u.bio, u.created_at, \
     (SELECT COUNT(*) FROM follows f WHERE f.followee_id = u.id) FROM users u";

fn user_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<Document> {
    let username: String = row.get(1)?;
    let display_name: String = row.get(2)?;
    Ok(Document {
        kind: DocKind::User,
        id: row.get(0)?,
        title: format!("{display_name} {username}").trim().to_string(),
        body: markdown::plain(&row.get::<_, String>(3)?),
        tags: Vec::new(),
        extra: String::new(),
        filter: String::new(),
        created_at: row.get(4)?,
        popularity: row.get(5)?,
    })
}

impl search::Source for Documents {
    fn changes(
        &self,
        conn: &Connection,
        index: &SearchIndex,
        kind: &str,
        key: &str,
    ) -> anyhow::Result<Vec<Change>> {
        let mut changes = Vec::new();
        match kind {
            "post" => {
                let post = conn
                    .prepare_cached(&format!("{POST_SELECT} WHERE p.id = ?1 AND {FINDABLE}"))?
                    .query_row([key], |row| post_from(conn, row))
                    .optional()?;
                let mut tags: BTreeSet<String> = index
                    .stored_tags(DocKind::Post, key)?
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                match post {
                    Some(document) => {
                        tags.extend(document.tags.iter().cloned());
                        changes.push(Change::Upsert(document));
                    }
                    None => changes.push(Change::Delete {
                        kind: DocKind::Post,
                        id: key.to_string(),
                    }),
                }
                for tag in tags {
                    changes.push(match tag_document(conn, &tag)? {
                        Some(document) => Change::Upsert(document),
                        None => Change::Delete {
                            kind: DocKind::Tag,
                            id: tag,
                        },
                    });
                }
            }
            "user" => {
                let user = conn
                    .prepare_cached(&format!(
                        "{USER_SELECT} WHERE u.id = ?1 AND u.disabled_at IS NULL"
                    ))?
                    .query_row([key], user_from)
                    .optional()?;
                changes.push(match user {
                    Some(document) => Change::Upsert(document),
                    None => Change::Delete {
                        kind: DocKind::User,
                        id: key.to_string(),
                    },
                });
            }
            _ => {}
        }
        Ok(changes)
    }

    fn every_document(
        &self,
        conn: &Connection,
        each: &mut dyn FnMut(Document) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut posts = conn.prepare(&format!("{POST_SELECT} WHERE {FINDABLE}"))?;
        let mut rows = posts.query([])?;
        while let Some(row) = rows.next()? {
            each(post_from(conn, row)?)?;
        }
        let mut users = conn.prepare(&format!("{USER_SELECT} WHERE u.disabled_at IS NULL"))?;
        let mut rows = users.query([])?;
        while let Some(row) = rows.next()? {
            each(user_from(row)?)?;
        }
        let mut tags = conn.prepare(&format!(
            "SELECT t.tag, COUNT(*), MAX(p.created_at) FROM post_tags t
             JOIN posts p ON p.id = t.post_id JOIN users u ON u.id = p.user_id
             WHERE {FINDABLE} GROUP BY t.tag"
        ))?;
        let mut rows = tags.query([])?;
        while let Some(row) = rows.next()? {
            let tag: String = row.get(0)?;
            each(Document {
                kind: DocKind::Tag,
                title: tag.clone(),
                id: tag,
                body: String::new(),
                tags: Vec::new(),
                extra: String::new(),
                filter: String::new(),
                popularity: row.get(1)?,
                created_at: row.get(2)?,
            })?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchType {
    Posts,
    Users,
    Tags,
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchSort {
    Relevance,
    Newest,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SearchQuery {
    /// The words; the last one also matches as a prefix, small typos are forgiven.
    pub q: String,
    /// `posts` (the default), `users` or `tags`.
    #[serde(rename = "type")]
    pub kind: Option<SearchType>,
    /// For posts: `image` or `model`.
    #[param(rename = "kind")]
    #[serde(rename = "kind")]
    pub media: Option<String>,
    /// `relevance` (the default) or `newest`.
    pub sort: Option<SearchSort>,
    pub cursor: Option<String>,
}

/// One result: the post, person or tag, with the matched words marked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post: Option<Post>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Person>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// For tags: how many posts in the tag's list the viewer may see.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub posts: Option<i64>,
    /// Safe HTML, matched words in `<mark>`.
    pub title_html: String,
    pub snippet_html: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    pub items: Vec<SearchItem>,
    pub next_cursor: Option<String>,
    /// The index is being rebuilt: results may be incomplete for a moment.
    pub indexing: bool,
}

const PAGE: usize = 20;

#[utoipa::path(get, path = "/api/v1/search", tag = "community", params(SearchQuery),
    responses((status = 200, body = SearchResults), (status = 422, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn search(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Query(query): Query<SearchQuery>,
) -> ApiResult<Json<SearchResults>> {
    let viewer = viewer.reader_id()?;
    if query.q.chars().count() > 200 {
        return Err(ApiError::field("q", "Search with at most 200 characters."));
    }
    let media = match query.media.as_deref() {
        None | Some("") => None,
        Some(kind @ ("image" | "model")) => Some(kind.to_string()),
        Some(_) => return Err(ApiError::field("kind", "Use image or model.")),
    };
    let offset = match query.cursor.as_deref() {
        Some(cursor) => cursor
            .parse::<usize>()
            .map_err(|_| ApiError::field("cursor", "Unknown cursor."))?,
        None => 0,
    };
    let search = state.search.get().cloned().ok_or_else(|| {
        ApiError::Unavailable("Search is starting; try again in a moment.".into())
    })?;
    let kind = match query.kind.unwrap_or(SearchType::Posts) {
        SearchType::Posts => DocKind::Post,
        SearchType::Users => DocKind::User,
        SearchType::Tags => DocKind::Tag,
    };
    let sort = match query.sort.unwrap_or(SearchSort::Relevance) {
        SearchSort::Relevance => Sort::Relevance,
        SearchSort::Newest => Sort::Newest,
    };
    let index = search.index();
    let text = query.q;
    // More hits than a page, as some may no longer be visible to this viewer.
    let (hits, total) = tokio::task::spawn_blocking(move || {
        index.search(&search::Query {
            text: &text,
            kind,
            filter: media.as_deref(),
            sort,
            limit: PAGE * 2,
            offset,
        })
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
    .map_err(|e| ApiError::Internal(e.into()))?;
    // Rechecking and viewing a page of hits is SQLite work: off the async workers.
    let (items, consumed) = state
        .db
        .read(move |conn| -> Result<_, DbError> {
            let viewer = viewer.as_deref();
            let mut items = Vec::new();
            let mut consumed = 0;
            for hit in hits {
                if items.len() == PAGE {
                    break;
                }
                consumed += 1;
                let item = match kind {
                    DocKind::Post => match findable_post(conn, &hit.id, viewer)? {
                        Some(row) => Some(SearchItem {
                            post: Some(view(conn, row, viewer)?),
                            user: None,
                            tag: None,
                            posts: None,
                            title_html: hit.title_html,
                            snippet_html: hit.snippet_html,
                        }),
                        None => None,
                    },
                    DocKind::User => {
                        visible_user_by_id(conn, &hit.id, viewer)?.map(|person| SearchItem {
                            post: None,
                            user: Some(person),
                            tag: None,
                            posts: None,
                            title_html: hit.title_html,
                            snippet_html: hit.snippet_html,
                        })
                    }
                    // Counted as the tag's list counts for this viewer (blocks); a tag
                    // only blocked people use is no result.
                    DocKind::Tag => match visible_tag_count(conn, &hit.id, viewer)? {
                        0 => None,
                        count => Some(SearchItem {
                            post: None,
                            user: None,
                            posts: Some(count),
                            tag: Some(hit.id),
                            title_html: hit.title_html,
                            snippet_html: String::new(),
                        }),
                    },
                };
                items.extend(item);
            }
            Ok::<_, DbError>((items, consumed))
        })
        .await?;
    let next = offset + consumed;
    Ok(Json(SearchResults {
        next_cursor: (next < total && consumed > 0).then(|| next.to_string()),
        items,
        indexing: search.rebuilding(),
    }))
}
