//! The community domain: posts of library assets, comments, reactions, follows, blocks,
//! feeds, notifications, reports and moderation, search over public content, and the
//! server-rendered public pages (`/p/{id}`, `/u/{username}`, sitemap, robots).
//! Who sees what is decided in one place, `visibility`.

pub mod comments;
pub mod feed;
pub mod markdown;
pub mod notifications;
pub mod people;
pub mod posts;
pub mod reactions;
pub mod reports;
pub mod search;
pub mod sitemap;
pub mod visibility;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::domains::auth::extract::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::platform::personal_data::{Erase, PersonalTable};
use crate::platform::rate_limit::Limit;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(posts::create, posts::list_posts))
        .routes(routes!(posts::get, posts::patch, posts::delete))
        .routes(routes!(comments::list, comments::create))
        .routes(routes!(comments::patch, comments::delete))
        .routes(routes!(reactions::react))
        .routes(routes!(feed::feed))
        .routes(routes!(people::get_profile))
        .routes(routes!(people::follow, people::unfollow))
        .routes(routes!(people::followers))
        .routes(routes!(people::following))
        .routes(routes!(people::blocks, people::block))
        .routes(routes!(people::unblock))
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::unread))
        .routes(routes!(notifications::mark_read))
        .routes(routes!(reports::create, reports::list))
        .routes(routes!(reports::resolve))
        .routes(routes!(search::search))
}

/// User-written text as stored: trimmed, at most `max` characters, and not empty
/// when `required`; otherwise a 422 naming `field`.
pub fn clean_text(field: &str, text: &str, max: usize, required: bool) -> ApiResult<String> {
    let text = text.trim();
    if text.chars().count() > max || (required && text.is_empty()) {
        let range = if required { "1 to " } else { "at most " };
        return Err(ApiError::field(
            field,
            format!("Use {range}{max} characters."),
        ));
    }
    Ok(text.to_string())
}

/// What the community rate-limits.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    Post,
    Comment,
    React,
    Follow,
    Report,
}

impl Action {
    /// Per hour: (established accounts, new accounts).
    fn limits(self) -> (Limit, Limit) {
        let hourly = |max| Limit::new(max, 3600);
        match self {
            Action::Post => (hourly(30), hourly(5)),
            Action::Comment => (hourly(120), hourly(20)),
            Action::React => (hourly(600), hourly(120)),
            Action::Follow => (hourly(200), hourly(30)),
            Action::Report => (hourly(30), hourly(10)),
        }
    }
}

/// Counts one `action` of the user against their hourly limit.
pub fn rate_limit(state: &AppState, user: &AuthUser, action: Action) -> ApiResult<()> {
    let (established, new) = action.limits();
    let new_account_seconds = state.config.community.new_account_hours * 3600;
    let limit = if state.now() - user.account.created_at < new_account_seconds {
        new
    } else {
        established
    };
    state
        .limiter
        .hit(&format!("community:{action:?}:{}", user.user_id), limit)
        .map_err(|retry_after_seconds| ApiError::TooManyRequests {
            retry_after_seconds,
        })
}

pub const PERSONAL_DATA: &[PersonalTable] = &[
    PersonalTable {
        section: "notifications",
        key: "notifications",
        table: "notifications",
        user_column: "user_id",
        export_columns: &[
            "kind",
            "post_id",
            "comment_id",
            "detail",
            "created_at",
            "read_at",
        ],
        erase: Erase::Delete,
    },
    PersonalTable {
        section: "notifications",
        key: "caused_by_you",
        table: "notifications",
        user_column: "actor_id",
        export_columns: &["kind", "post_id", "comment_id", "created_at"],
        erase: Erase::Delete,
    },
    PersonalTable {
        section: "reactions",
        key: "reactions",
        table: "reactions",
        user_column: "user_id",
        export_columns: &["post_id", "comment_id", "kind", "created_at"],
        erase: Erase::Delete,
    },
    PersonalTable {
        section: "follows",
        key: "following",
        table: "follows",
        user_column: "follower_id",
        export_columns: &["followee_id", "created_at"],
        erase: Erase::Delete,
    },
    PersonalTable {
        section: "follows",
        key: "followers",
        table: "follows",
        user_column: "followee_id",
        export_columns: &["follower_id", "created_at"],
        erase: Erase::Delete,
    },
    PersonalTable {
        section: "follows",
        key: "blocked",
        table: "blocks",
        user_column: "user_id",
        export_columns: &["blocked_id", "created_at"],
        erase: Erase::Delete,
    },
    PersonalTable {
        section: "follows",
        key: "blocked_by",
        table: "blocks",
        user_column: "blocked_id",
        export_columns: &["created_at"],
        erase: Erase::Delete,
    },
    PersonalTable {
        section: "reports",
        key: "reports_made",
        table: "reports",
        user_column: "reporter_id",
        export_columns: &[
            "target_kind",
            "target_id",
            "reason",
            "details",
            "status",
            "created_at",
        ],
        erase: Erase::Unlink,
    },
    PersonalTable {
        section: "reports",
        key: "reports_resolved",
        table: "reports",
        user_column: "resolved_by",
        export_columns: &[
            "target_kind",
            "target_id",
            "status",
            "resolution",
            "resolved_at",
        ],
        erase: Erase::Unlink,
    },
    // Comments in others' threads stay as "[deleted]", without a link to their author.
    PersonalTable {
        section: "comments",
        key: "comments",
        table: "comments",
        user_column: "user_id",
        export_columns: &[
            "id",
            "post_id",
            "parent_id",
            "body",
            "created_at",
            "edited_at",
        ],
        erase: Erase::Rewrite("user_id = NULL, body = '[deleted]', edited_at = NULL"),
    },
    PersonalTable {
        section: "posts",
        key: "posts",
        table: "posts",
        user_column: "user_id",
        export_columns: &[
            "id",
            "asset_id",
            "title",
            "description",
            "tags:json",
            "visibility",
            "remix",
            "created_at",
            "updated_at",
        ],
        erase: Erase::Delete,
    },
];
