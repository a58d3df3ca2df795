//! People: public profiles with follower counts (`GET /api/v1/users/{username}`),
//! follows (`POST|DELETE /api/v1/users/{username}/follow`, followers and following
//! lists) and blocks (`GET|POST /api/v1/blocks`, `DELETE /api/v1/blocks/{username}`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, Row, named_params, params};
use serde::{Deserialize, Serialize};

use super::markdown;
use super::notifications::{self, Kind};
use super::posts::parse_cursor;
use super::visibility::{Door, post_visible, user_visible, viewer_param};
use super::{Action, rate_limit};
use crate::app::AppState;
use crate::domains::auth::extract::{AuthUser, MaybeUser, Scope};
use crate::domains::library::store as library;
use crate::error::{ApiError, ApiResult};
use crate::platform::cursor::Page;

const PAGE: usize = 50;

/// A person as lists show them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Person {
    #[serde(skip)]
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub url: String,
    #[serde(skip)]
    pub created_at: i64,
}

const PERSON_COLUMNS: &str = "u.id, u.username, u.display_name, u.avatar_asset_id, u.created_at";

fn person_from_row(conn: &Connection, row: &Row<'_>) -> rusqlite::Result<Person> {
    let username: String = row.get(1)?;
    let avatar: Option<String> = row.get(3)?;
    Ok(Person {
        id: row.get(0)?,
        url: format!("/u/{username}"),
        username,
        display_name: row.get(2)?,
        avatar_url: avatar_url(conn, avatar.as_deref())?,
        created_at: row.get(4)?,
    })
}

/// The picture of an avatar asset.
pub fn avatar_url(conn: &Connection, asset_id: Option<&str>) -> rusqlite::Result<Option<String>> {
    Ok(match asset_id {
        Some(id) => library::get(conn, id)?.and_then(|a| a.thumbnail_url),
        None => None,
    })
}

/// The user whose `column` (`username` or `id`) is `value`, if the viewer may see them
/// (active, no block either way).
fn visible_person(
    conn: &Connection,
    column: &str,
    value: &str,
    viewer: Option<&str>,
) -> rusqlite::Result<Option<Person>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PERSON_COLUMNS} FROM users u WHERE u.{column} = :value AND {}",
        user_visible("u")
    ))?;
    let mut rows =
        stmt.query(named_params! {":value": value.trim(), ":viewer": viewer_param(viewer)})?;
    match rows.next()? {
        Some(row) => person_from_row(conn, row).map(Some),
        None => Ok(None),
    }
}

/// The picture of user `user_id`'s avatar, if they chose one.
pub fn avatar_of(conn: &Connection, user_id: &str) -> rusqlite::Result<Option<String>> {
    let asset: Option<Option<String>> = conn
        .prepare_cached("SELECT avatar_asset_id FROM users WHERE id = ?1")?
        .query_row([user_id], |r| r.get(0))
        .optional()?;
    avatar_url(conn, asset.flatten().as_deref())
}

/// User `username` if the viewer may see them.
pub fn visible_user(
    conn: &Connection,
    username: &str,
    viewer: Option<&str>,
) -> rusqlite::Result<Option<Person>> {
    visible_person(conn, "username", username, viewer)
}

/// User `id` if the viewer may see them.
pub fn visible_user_by_id(
    conn: &Connection,
    id: &str,
    viewer: Option<&str>,
) -> rusqlite::Result<Option<Person>> {
    visible_person(conn, "id", id, viewer)
}

/// Whether an avatar asset belongs to an active user: its files are then public —
/// unless moderators hid or removed a post of it (an avatar cannot bring it back).
pub fn is_avatar(conn: &Connection, asset_id: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM users WHERE avatar_asset_id = ?1 AND disabled_at IS NULL)
            AND NOT EXISTS (SELECT 1 FROM posts WHERE asset_id = ?1 AND moderation <> 'ok')",
    )?
    .query_row([asset_id], |r| r.get(0))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Profile {
    #[serde(skip)]
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub bio: String,
    pub bio_html: String,
    pub links: Vec<String>,
    pub avatar_url: Option<String>,
    pub url: String,
    pub joined_at: i64,
    pub followers: i64,
    pub following: i64,
    /// Posts the viewer may see on the profile.
    pub posts: i64,
    pub is_me: bool,
    pub you_follow: bool,
    pub follows_you: bool,
}

/// The profile of `username` as the viewer sees it.
pub fn profile(
    conn: &Connection,
    username: &str,
    viewer: Option<&str>,
) -> rusqlite::Result<Option<Profile>> {
    let Some(person) = visible_user(conn, username, viewer)? else {
        return Ok(None);
    };
    let (bio, links): (String, String) = conn.query_row(
        "SELECT bio, links FROM users WHERE id = ?1",
        [&person.id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let counts = format!(
        "SELECT
            (SELECT COUNT(*) FROM follows f JOIN users u ON u.id = f.follower_id
             WHERE f.followee_id = :id AND {visible}),
            (SELECT COUNT(*) FROM follows f JOIN users u ON u.id = f.followee_id
             WHERE f.follower_id = :id AND {visible}),
            (SELECT COUNT(*) FROM posts p JOIN users u ON u.id = p.user_id
             WHERE p.user_id = :id AND {post}),
            EXISTS (SELECT 1 FROM follows WHERE follower_id = :viewer AND followee_id = :id),
            EXISTS (SELECT 1 FROM follows WHERE follower_id = :id AND followee_id = :viewer)",
        visible = user_visible("u"),
        post = post_visible("p", "u", Door::Listed),
    );
    let (followers, following, posts, you_follow, follows_you) =
        conn.prepare_cached(&counts)?.query_row(
            named_params! {":id": person.id, ":viewer": viewer_param(viewer)},
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
    Ok(Some(Profile {
        is_me: viewer == Some(person.id.as_str()),
        id: person.id,
        bio_html: markdown::render(&bio),
        bio,
        links: serde_json::from_str(&links).unwrap_or_default(),
        username: person.username,
        display_name: person.display_name,
        avatar_url: person.avatar_url,
        url: person.url,
        joined_at: person.created_at,
        followers,
        following,
        posts,
        you_follow,
        follows_you,
    }))
}

#[utoipa::path(get, path = "/api/v1/users/{username}", tag = "community",
    params(("username" = String, Path)),
    responses((status = 200, body = Profile), (status = 404, body = crate::error::Problem)))]
pub async fn get_profile(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Path(username): Path<String>,
) -> ApiResult<Json<Profile>> {
    let viewer = viewer.reader_id()?;
    state
        .db
        .query(move |conn| profile(conn, &username, viewer.as_deref()))
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FollowState {
    pub following: bool,
    pub followers: i64,
}

/// Follows (or unfollows) `username`; a block either way is a 404.
async fn set_follow(
    state: &AppState,
    user: &AuthUser,
    username: String,
    on: bool,
) -> ApiResult<FollowState> {
    user.require_scope(Scope::Publish)?;
    if on {
        rate_limit(state, user, Action::Follow)?;
    }
    let now = state.now();
    let viewer = user.user_id.clone();
    state
        .db
        .write(move |tx| {
            let me = Some(viewer.as_str());
            let person = visible_user(tx, &username, me)?.ok_or(ApiError::NotFound)?;
            if person.id == viewer {
                return Err(ApiError::field("username", "You cannot follow yourself."));
            }
            if on {
                let added = tx.execute(
                    "INSERT OR IGNORE INTO follows (follower_id, followee_id, created_at)
                     VALUES (?1, ?2, ?3)",
                    params![viewer, person.id, now],
                )?;
                if added > 0 {
                    notifications::notify(
                        tx,
                        &notifications::Event {
                            recipient: &person.id,
                            actor: &viewer,
                            kind: Kind::Follow,
                            post_id: None,
                            comment_id: None,
                            detail: "",
                        },
                        now,
                    )?;
                }
            } else {
                tx.execute(
                    "DELETE FROM follows WHERE follower_id = ?1 AND followee_id = ?2",
                    params![viewer, person.id],
                )?;
            }
            let profile = profile(tx, &person.username, me)?.ok_or(ApiError::NotFound)?;
            Ok(FollowState {
                following: profile.you_follow,
                followers: profile.followers,
            })
        })
        .await
}

#[utoipa::path(post, path = "/api/v1/users/{username}/follow", tag = "community",
    params(("username" = String, Path)),
    responses((status = 200, body = FollowState), (status = 404, body = crate::error::Problem),
        (status = 429, body = crate::error::Problem)))]
pub async fn follow(
    State(state): State<AppState>,
    user: AuthUser,
    Path(username): Path<String>,
) -> ApiResult<Json<FollowState>> {
    Ok(Json(set_follow(&state, &user, username, true).await?))
}

#[utoipa::path(delete, path = "/api/v1/users/{username}/follow", tag = "community",
    params(("username" = String, Path)),
    responses((status = 200, body = FollowState), (status = 404, body = crate::error::Problem)))]
pub async fn unfollow(
    State(state): State<AppState>,
    user: AuthUser,
    Path(username): Path<String>,
) -> ApiResult<Json<FollowState>> {
    Ok(Json(set_follow(&state, &user, username, false).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PeopleQuery {
    pub cursor: Option<String>,
}

/// Followers (`followers = true`) or followees of a user, newest follow first.
fn follow_list(
    conn: &Connection,
    user_id: &str,
    followers: bool,
    viewer: Option<&str>,
    after: Option<(i64, String)>,
) -> rusqlite::Result<Page<Person>> {
    let (mine, theirs) = if followers {
        ("followee_id", "follower_id")
    } else {
        ("follower_id", "followee_id")
    };
    let (after_time, after_id) = after.unwrap_or((i64::MAX, String::new()));
    let sql = format!(
        "SELECT {PERSON_COLUMNS}, f.created_at FROM follows f JOIN users u ON u.id = f.{theirs}
         WHERE f.{mine} = :id AND {visible}
           AND (f.created_at < :after_time OR (f.created_at = :after_time AND u.id < :after_id))
         ORDER BY f.created_at DESC, u.id DESC LIMIT :limit",
        visible = user_visible("u")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(named_params! {
        ":id": user_id, ":viewer": viewer_param(viewer), ":after_time": after_time,
        ":after_id": after_id, ":limit": PAGE as i64 + 1,
    })?;
    let mut people = Vec::new();
    while let Some(row) = rows.next()? {
        let mut person = person_from_row(conn, row)?;
        person.created_at = row.get(5)?;
        people.push(person);
    }
    Ok(Page::from_rows(people, PAGE, |p| {
        (p.created_at, p.id.as_str())
    }))
}

async fn people_of(
    state: &AppState,
    viewer: MaybeUser,
    username: String,
    followers: bool,
    cursor: Option<String>,
) -> ApiResult<Page<Person>> {
    let viewer = viewer.reader_id()?;
    let after = parse_cursor(cursor.as_deref())?;
    state
        .db
        .query(move |conn| {
            let viewer = viewer.as_deref();
            match visible_user(conn, &username, viewer)? {
                Some(person) => follow_list(conn, &person.id, followers, viewer, after).map(Some),
                None => Ok(None),
            }
        })
        .await?
        .ok_or(ApiError::NotFound)
}

#[utoipa::path(get, path = "/api/v1/users/{username}/followers", tag = "community",
    params(("username" = String, Path), PeopleQuery),
    responses((status = 200, body = Page<Person>), (status = 404, body = crate::error::Problem)))]
pub async fn followers(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Path(username): Path<String>,
    Query(query): Query<PeopleQuery>,
) -> ApiResult<Json<Page<Person>>> {
    Ok(Json(
        people_of(&state, viewer, username, true, query.cursor).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/users/{username}/following", tag = "community",
    params(("username" = String, Path), PeopleQuery),
    responses((status = 200, body = Page<Person>), (status = 404, body = crate::error::Problem)))]
pub async fn following(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Path(username): Path<String>,
    Query(query): Query<PeopleQuery>,
) -> ApiResult<Json<Page<Person>>> {
    Ok(Json(
        people_of(&state, viewer, username, false, query.cursor).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/blocks", tag = "community",
    responses((status = 200, body = Page<Person>)))]
pub async fn blocks(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Json<Page<Person>>> {
    user.require_scope(Scope::Read)?;
    let id = user.user_id.clone();
    let people = state
        .db
        .query(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {PERSON_COLUMNS} FROM blocks b JOIN users u ON u.id = b.blocked_id
                 WHERE b.user_id = ?1 ORDER BY b.created_at DESC LIMIT 1000"
            ))?;
            let mut rows = stmt.query([&id])?;
            let mut people = Vec::new();
            while let Some(row) = rows.next()? {
                people.push(person_from_row(conn, row)?);
            }
            Ok(people)
        })
        .await?;
    Ok(Json(Page {
        items: people,
        next_cursor: None,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBlock {
    pub username: String,
}

#[utoipa::path(post, path = "/api/v1/blocks", tag = "community", request_body = NewBlock,
    responses((status = 204, description = "Blocked; follows both ways are gone"),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn block(
    State(state): State<AppState>,
    user: AuthUser,
    Json(request): Json<NewBlock>,
) -> ApiResult<StatusCode> {
    user.require_scope(Scope::Publish)?;
    let now = state.now();
    let viewer = user.user_id.clone();
    state
        .db
        .write(move |tx| {
            let target: Option<String> = tx
                .query_row(
                    "SELECT id FROM users WHERE username = ?1",
                    [request.username.trim()],
                    |r| r.get(0),
                )
                .optional()?;
            let target = target.ok_or(ApiError::NotFound)?;
            if target == viewer {
                return Err(ApiError::field("username", "You cannot block yourself."));
            }
            tx.execute(
                "INSERT OR IGNORE INTO blocks (user_id, blocked_id, created_at) VALUES (?1, ?2, ?3)",
                params![viewer, target, now],
            )?;
            tx.execute(
                "DELETE FROM follows WHERE (follower_id = ?1 AND followee_id = ?2)
                                        OR (follower_id = ?2 AND followee_id = ?1)",
                params![viewer, target],
            )?;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/blocks/{username}", tag = "community",
    params(("username" = String, Path)),
    responses((status = 204, description = "Unblocked"), (status = 404, body = crate::error::Problem)))]
pub async fn unblock(
    State(state): State<AppState>,
    user: AuthUser,
    Path(username): Path<String>,
) -> ApiResult<StatusCode> {
    user.require_scope(Scope::Publish)?;
    let viewer = user.user_id.clone();
    state
        .db
        .write(move |tx| {
            let removed = tx.execute(
                "DELETE FROM blocks WHERE user_id = ?1
                   AND blocked_id = (SELECT id FROM users WHERE username = ?2)",
                params![viewer, username.trim()],
            )?;
            if removed == 0 {
                return Err(ApiError::NotFound);
            }
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
