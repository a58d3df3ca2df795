//! Reports and moderation: anyone signed in reports a post, a comment or a person
//! (`POST /api/v1/reports`); moderators and admins work the queue
//! (`GET /api/v1/reports`) and act on it (`POST /api/v1/reports/{id}/resolve`): hide,
//! remove or restore content, suspend its author, or dismiss. Every action is in the
//! audit log.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

use super::posts::{Author, post_by_id, refresh_engagement, visible_post};
use super::visibility::{Door, comment_visible};
use super::{Action, clean_text, rate_limit};
use crate::app::AppState;
use crate::domains::admin::audit;
use crate::domains::auth::extract::{AuthUser, Scope};
use crate::domains::auth::store::{self as accounts, Role};
use crate::error::{ApiError, ApiResult};
use crate::platform::tokens::new_sortable_id;

/// Longest report details or moderator note.
const MAX_NOTE: usize = 1000;

/// Why something is reported.
pub const REASONS: [&str; 8] = [
    "spam",
    "harassment",
    "hate",
    "violence",
    "sexual",
    "self_harm",
    "copyright",
    "other",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Post,
    Comment,
    User,
}

impl TargetKind {
    fn as_str(self) -> &'static str {
        match self {
            TargetKind::Post => "post",
            TargetKind::Comment => "comment",
            TargetKind::User => "user",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "post" => TargetKind::Post,
            "comment" => TargetKind::Comment,
            _ => TargetKind::User,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    pub target_kind: TargetKind,
    /// The post's or comment's id, or the person's username.
    pub target_id: String,
    /// One of spam, harassment, hate, violence, sexual, self_harm, copyright, other.
    pub reason: String,
    #[serde(default)]
    pub details: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportCreated {
    pub id: String,
}

/// The id a report stores for what the reporter may see, or None.
fn reportable(
    conn: &Connection,
    kind: TargetKind,
    target: &str,
    reporter: &str,
) -> rusqlite::Result<Option<String>> {
    let viewer = Some(reporter);
    Ok(match kind {
        TargetKind::Post => visible_post(conn, target, viewer, Door::Direct)?.map(|p| p.id),
        TargetKind::Comment => {
            let post: Option<String> = conn
                .query_row(
                    &format!(
                        "SELECT c.post_id FROM comments c LEFT JOIN users u ON u.id = c.user_id
                         WHERE c.id = :id AND {}",
                        comment_visible("c", "u")
                    ),
                    rusqlite::named_params! {":id": target, ":viewer": reporter},
                    |r| r.get(0),
                )
                .optional()?;
            match post {
                Some(post) if visible_post(conn, &post, viewer, Door::Direct)?.is_some() => {
                    Some(target.to_string())
                }
                _ => None,
            }
        }
        TargetKind::User => super::people::visible_user(conn, target, viewer)?.map(|p| p.id),
    })
}

#[utoipa::path(post, path = "/api/v1/reports", tag = "community", request_body = NewReport,
    responses((status = 201, body = ReportCreated), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(request): Json<NewReport>,
) -> ApiResult<(StatusCode, Json<ReportCreated>)> {
    user.require_scope(Scope::Publish)?;
    if !REASONS.contains(&request.reason.as_str()) {
        return Err(ApiError::field(
            "reason",
            format!("Choose one of {}.", REASONS.join(", ")),
        ));
    }
    let details = clean_text("details", &request.details, MAX_NOTE, false)?;
    rate_limit(&state, &user, Action::Report)?;
    let now = state.now();
    let reporter = user.user_id.clone();
    let id = state
        .db
        .write(move |tx| {
            let target = reportable(tx, request.target_kind, &request.target_id, &reporter)?
                .ok_or(ApiError::NotFound)?;
            let id = new_sortable_id();
            tx.execute(
                "INSERT INTO reports (id, reporter_id, target_kind, target_id, reason, details, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    reporter,
                    request.target_kind.as_str(),
                    target,
                    request.reason,
                    details,
                    now
                ],
            )?;
            Ok::<_, ApiError>(id)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(ReportCreated { id })))
}

/// What a report points at, as moderators see it (whatever its visibility).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportTarget {
    pub kind: TargetKind,
    pub id: String,
    /// The post's title, the comment's text, or the person's name.
    pub text: String,
    /// Whose content it is.
    pub author: Option<Author>,
    /// `ok`, `hidden`, `removed`, or for people `active` / `suspended`; `gone` once deleted.
    pub state: String,
    /// Where to look at it.
    pub url: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub id: String,
    pub reason: String,
    pub details: String,
    pub status: String,
    pub resolution: String,
    pub reporter: Option<String>,
    pub target: ReportTarget,
    /// Open reports about the same target.
    pub open_reports: i64,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
}

fn target(conn: &Connection, kind: TargetKind, id: &str) -> rusqlite::Result<ReportTarget> {
    let gone = || ReportTarget {
        kind,
        id: id.to_string(),
        text: String::new(),
        author: None,
        state: "gone".into(),
        url: None,
    };
    Ok(match kind {
        TargetKind::Post => match post_by_id(conn, id)? {
            Some(post) => ReportTarget {
                kind,
                id: post.id.clone(),
                text: post.title.clone(),
                author: Some(Author::new(&post.username, &post.display_name)),
                state: post.moderation.clone(),
                url: Some(format!("/p/{}", post.id)),
            },
            None => gone(),
        },
        TargetKind::Comment => conn
            .query_row(
                "SELECT c.post_id, c.body, c.moderation, u.username, u.display_name
                 FROM comments c LEFT JOIN users u ON u.id = c.user_id WHERE c.id = ?1",
                [id],
                |r| {
                    let username: Option<String> = r.get(3)?;
                    let display: Option<String> = r.get(4)?;
                    let post: String = r.get(0)?;
                    Ok(ReportTarget {
                        kind,
                        id: id.to_string(),
                        text: r.get(1)?,
                        author: username.map(|u| Author::new(&u, display.as_deref().unwrap_or(""))),
                        state: r.get(2)?,
                        url: Some(format!("/p/{post}#comment-{id}")),
                    })
                },
            )
            .optional()?
            .unwrap_or_else(gone),
        TargetKind::User => match accounts::user_by_id(conn, id)? {
            Some(user) => ReportTarget {
                kind,
                id: user.id.clone(),
                text: user.display_name.clone(),
                author: Some(Author::new(&user.username, &user.display_name)),
                state: if user.disabled_at.is_some() {
                    "suspended"
                } else {
                    "active"
                }
                .into(),
                url: Some(format!("/u/{}", user.username)),
            },
            None => gone(),
        },
    })
}

/// Whose content (or who) a report is about.
fn author_id(
    conn: &Connection,
    kind: TargetKind,
    target_id: &str,
) -> rusqlite::Result<Option<String>> {
    let sql = match kind {
        TargetKind::Post => "SELECT user_id FROM posts WHERE id = ?1",
        TargetKind::Comment => "SELECT user_id FROM comments WHERE id = ?1",
        TargetKind::User => "SELECT id FROM users WHERE id = ?1",
    };
    Ok(conn
        .query_row(sql, [target_id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

fn require_moderator(user: &AuthUser) -> ApiResult<()> {
    user.require_scope(Scope::Admin)?;
    match user.role {
        Role::Moderator | Role::Admin => Ok(()),
        Role::User => Err(ApiError::Forbidden(
            "Only moderators and administrators can do this.".into(),
        )),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReportQuery {
    /// `open` (the default), `resolved`, `dismissed` or `all`.
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/reports", tag = "moderation", params(ReportQuery),
    responses((status = 200, body = Vec<Report>), (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ReportQuery>,
) -> ApiResult<Json<Vec<Report>>> {
    require_moderator(&user)?;
    let status = query.status.unwrap_or_else(|| "open".into());
    if !["open", "resolved", "dismissed", "all"].contains(&status.as_str()) {
        return Err(ApiError::field(
            "status",
            "Use open, resolved, dismissed or all.",
        ));
    }
    let reports = state
        .db
        .query(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT r.id, r.reason, r.details, r.status, r.resolution, u.username,
                        r.target_kind, r.target_id, r.created_at, r.resolved_at,
                        (SELECT COUNT(*) FROM reports o WHERE o.target_kind = r.target_kind
                           AND o.target_id = r.target_id AND o.status = 'open')
                 FROM reports r LEFT JOIN users u ON u.id = r.reporter_id
                 WHERE ?1 = 'all' OR r.status = ?1
                 ORDER BY r.created_at DESC LIMIT 500",
            )?;
            let mut rows = stmt.query([&status])?;
            let mut reports = Vec::new();
            while let Some(r) = rows.next()? {
                let kind: String = r.get(6)?;
                let target_id: String = r.get(7)?;
                reports.push(Report {
                    target: target(conn, TargetKind::parse(&kind), &target_id)?,
                    id: r.get(0)?,
                    reason: r.get(1)?,
                    details: r.get(2)?,
                    status: r.get(3)?,
                    resolution: r.get(4)?,
                    reporter: r.get(5)?,
                    created_at: r.get(8)?,
                    resolved_at: r.get(9)?,
                    open_reports: r.get(10)?,
                });
            }
            Ok(reports)
        })
        .await?;
    Ok(Json(reports))
}

/// What a moderator does about a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Nothing wrong: close the report.
    Dismiss,
    /// Only its author still sees the post or comment.
    Hide,
    /// Nobody sees it any more.
    Remove,
    /// Undo a hide or a remove.
    Restore,
    /// Suspend the author (or the reported person): all their content disappears and
    /// they are signed out.
    Suspend,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    pub decision: Decision,
    #[serde(default)]
    pub note: String,
}

/// Sets the moderation state of a post or comment.
fn moderate(
    tx: &Transaction<'_>,
    kind: TargetKind,
    id: &str,
    state: &str,
) -> rusqlite::Result<usize> {
    match kind {
        TargetKind::Post => tx.execute(
            "UPDATE posts SET moderation = ?2 WHERE id = ?1",
            params![id, state],
        ),
        TargetKind::Comment => {
            let post: Option<String> = tx
                .query_row("SELECT post_id FROM comments WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?;
            let changed = tx.execute(
                "UPDATE comments SET moderation = ?2 WHERE id = ?1",
                params![id, state],
            )?;
            if let Some(post) = post {
                refresh_engagement(tx, &post)?;
            }
            Ok(changed)
        }
        TargetKind::User => Ok(0),
    }
}

#[utoipa::path(post, path = "/api/v1/reports/{id}/resolve", tag = "moderation",
    params(("id" = String, Path)), request_body = Resolution,
    responses((status = 204, description = "Done; every open report about the same target is closed"),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn resolve(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Json(resolution): Json<Resolution>,
) -> ApiResult<StatusCode> {
    require_moderator(&user)?;
    let note = clean_text("note", &resolution.note, MAX_NOTE, false)?;
    let now = state.now();
    let moderator = user.user_id.clone();
    let moderator_role = user.role;
    state
        .db
        .write(move |tx| {
            let (kind, target_id): (String, String) = tx
                .query_row(
                    "SELECT target_kind, target_id FROM reports WHERE id = ?1",
                    [&id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .ok_or(ApiError::NotFound)?;
            let kind = TargetKind::parse(&kind);
            let about = target(tx, kind, &target_id)?;
            if about.state == "gone" && resolution.decision != Decision::Dismiss {
                return Err(ApiError::Conflict(
                    "What was reported no longer exists; dismiss the report.".into(),
                ));
            }
            let decision = resolution.decision;
            match decision {
                Decision::Dismiss => {}
                Decision::Hide | Decision::Remove | Decision::Restore => {
                    if kind == TargetKind::User {
                        return Err(ApiError::field(
                            "decision",
                            "People are suspended, not hidden or removed.",
                        ));
                    }
                    let state = match decision {
                        Decision::Hide => "hidden",
                        Decision::Remove => "removed",
                        _ => "ok",
                    };
                    moderate(tx, kind, &target_id, state)?;
                }
                Decision::Suspend => {
                    let author = match author_id(tx, kind, &target_id)? {
                        Some(id) => accounts::user_by_id(tx, &id)?,
                        None => None,
                    }
                    .ok_or_else(|| ApiError::Conflict("The author's account is gone.".into()))?;
                    if author.role == Role::Admin
                        || (author.role == Role::Moderator && moderator_role != Role::Admin)
                    {
                        return Err(ApiError::Forbidden(
                            "Staff accounts are suspended by an administrator.".into(),
                        ));
                    }
                    accounts::set_disabled(tx, &author.id, true, now)?;
                    crate::domains::privacy::deletion::keep_disabled(tx, &author.id)?;
                }
            }
            let status = if decision == Decision::Dismiss {
                "dismissed"
            } else {
                "resolved"
            };
            let summary = format!("{decision:?}").to_lowercase();
            let resolution_text = if note.is_empty() {
                summary.clone()
            } else {
                format!("{summary}: {note}")
            };
            tx.execute(
                "UPDATE reports SET status = ?3, resolution = ?4, resolved_by = ?5, resolved_at = ?6
                 WHERE target_kind = ?1 AND target_id = ?2 AND status = 'open'",
                params![
                    kind.as_str(),
                    target_id,
                    status,
                    resolution_text,
                    moderator,
                    now
                ],
            )?;
            tx.execute(
                "UPDATE reports SET status = ?2, resolution = ?3, resolved_by = ?4, resolved_at = ?5
                 WHERE id = ?1 AND status = 'open'",
                params![id, status, resolution_text, moderator, now],
            )?;
            audit::record(
                tx,
                Some(&moderator),
                &format!("moderation.{summary}"),
                &format!("{} {}", kind.as_str(), target_id),
                &format!("report {id}; {resolution_text}"),
                now,
            )?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Forgets a purged account in reports about it: they keep what was reported, not whom.
pub fn forget_reported_user(tx: &Transaction<'_>, user_id: &str) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE reports SET target_id = '' WHERE target_kind = 'user' AND target_id = ?1",
        [user_id],
    )
}
