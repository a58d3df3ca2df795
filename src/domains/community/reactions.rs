//! Reactions to posts and comments from a fixed set, toggled one kind at a time:
//! `POST /api/v1/posts/{id}/reactions`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use rusqlite::{Connection, OptionalExtension, named_params, params};
use serde::{Deserialize, Serialize};

use super::notifications::{self, Kind};
use super::posts::{refresh_engagement, visible_post};
use super::visibility::{Door, comment_visible, user_visible, viewer_param};
use super::{Action, rate_limit};
use crate::app::AppState;
use crate::domains::auth::extract::{AuthUser, Scope};
use crate::error::{ApiError, ApiResult};

/// The reactions there are.
pub const KINDS: [&str; 5] = ["like", "love", "wow", "fire", "laugh"];

/// The reactions on a post or a comment, as the viewer may count them.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Reactions {
    /// How many of each kind (kinds nobody chose are left out).
    pub counts: BTreeMap<String, i64>,
    pub total: i64,
    /// The viewer's own.
    pub mine: Vec<String>,
}

/// The reactions on post `post_id` (or on its comment `comment_id`) by people the
/// viewer may see.
pub fn summary(
    conn: &Connection,
    post_id: &str,
    comment_id: Option<&str>,
    viewer: Option<&str>,
) -> rusqlite::Result<Reactions> {
    let target = ":post = r.post_id AND r.comment_id IS :comment";
    let mut reactions = Reactions::default();
    let mut counts = conn.prepare_cached(&format!(
        "SELECT r.kind, COUNT(*) FROM reactions r JOIN users u ON u.id = r.user_id
         WHERE {target} AND {} GROUP BY r.kind",
        user_visible("u")
    ))?;
    let rows = counts.query_map(
        named_params! {":post": post_id, ":comment": comment_id, ":viewer": viewer_param(viewer)},
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
    )?;
    for row in rows {
        let (kind, count) = row?;
        reactions.total += count;
        reactions.counts.insert(kind, count);
    }
    if let Some(viewer) = viewer {
        let mut mine = conn.prepare_cached(&format!(
            "SELECT r.kind FROM reactions r WHERE {target} AND r.user_id = :viewer ORDER BY r.id"
        ))?;
        reactions.mine = mine
            .query_map(
                named_params! {":post": post_id, ":comment": comment_id, ":viewer": viewer},
                |r| r.get(0),
            )?
            .collect::<Result<_, _>>()?;
    }
    Ok(reactions)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactionChange {
    /// `like`, `love`, `wow`, `fire` or `laugh`.
    pub kind: String,
    /// React to this comment of the post instead of the post.
    pub comment_id: Option<String>,
    /// `true` to add, `false` to take back; absent to toggle.
    pub on: Option<bool>,
}

/// The author of what is reacted to, if the reactor may see it.
fn target_author(
    conn: &Connection,
    post_id: &str,
    comment_id: Option<&str>,
    viewer: &str,
) -> rusqlite::Result<Option<Option<String>>> {
    let Some(post) = visible_post(conn, post_id, Some(viewer), Door::Direct)? else {
        return Ok(None);
    };
    let Some(comment_id) = comment_id else {
        return Ok(Some(Some(post.user_id)));
    };
    conn.prepare_cached(&format!(
        "SELECT c.user_id FROM comments c LEFT JOIN users u ON u.id = c.user_id
         WHERE c.id = :comment AND c.post_id = :post AND {}",
        comment_visible("c", "u")
    ))?
    .query_row(
        named_params! {":comment": comment_id, ":post": post_id, ":viewer": viewer},
        |r| r.get::<_, Option<String>>(0),
    )
    .optional()
}

#[utoipa::path(post, path = "/api/v1/posts/{id}/reactions", tag = "community",
    params(("id" = String, Path)), request_body = ReactionChange,
    responses((status = 200, body = Reactions), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn react(
    State(state): State<AppState>,
    user: AuthUser,
    Path(post_id): Path<String>,
    Json(change): Json<ReactionChange>,
) -> ApiResult<Json<Reactions>> {
    user.require_scope(Scope::Publish)?;
    if !KINDS.contains(&change.kind.as_str()) {
        return Err(ApiError::field(
            "kind",
            format!("Choose one of {}.", KINDS.join(", ")),
        ));
    }
    rate_limit(&state, &user, Action::React)?;
    let now = state.now();
    let viewer = user.user_id.clone();
    let reactions = state
        .db
        .write(move |tx| {
            let comment = change.comment_id.as_deref();
            let author =
                target_author(tx, &post_id, comment, &viewer)?.ok_or(ApiError::NotFound)?;
            let existing: Option<i64> = tx
                .query_row(
                    "SELECT id FROM reactions
                     WHERE post_id = ?1 AND comment_id IS ?2 AND user_id = ?3 AND kind = ?4",
                    params![post_id, comment, viewer, change.kind],
                    |r| r.get(0),
                )
                .optional()?;
            let on = change.on.unwrap_or(existing.is_none());
            match (existing, on) {
                (None, true) => {
                    tx.execute(
                        "INSERT INTO reactions (user_id, post_id, comment_id, kind, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![viewer, post_id, comment, change.kind, now],
                    )?;
                    if let Some(author) = author {
                        notifications::notify(
                            tx,
                            &notifications::Event {
                                recipient: &author,
                                actor: &viewer,
                                kind: Kind::Reaction,
                                post_id: Some(&post_id),
                                comment_id: comment,
                                detail: &change.kind,
                            },
                            now,
                        )?;
                    }
                }
                (Some(id), false) => {
                    tx.execute("DELETE FROM reactions WHERE id = ?1", [id])?;
                }
                _ => {}
            }
            refresh_engagement(tx, &post_id)?;
            Ok::<_, ApiError>(summary(tx, &post_id, comment, Some(&viewer))?)
        })
        .await?;
    Ok(Json(reactions))
}
