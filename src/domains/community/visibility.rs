//! Who may see what: the one place that decides whether a post, a comment, a reaction
//! or a user is visible to a viewer. Every door (feeds, search, profiles, sitemap,
//! notifications, counts, files) builds its SQL from these fragments, so a rule changed
//! here changes everywhere at once.
//!
//! The fragments use the named parameter `:viewer`, the viewer's user id (empty for an
//! anonymous visitor; no user has an empty id).

/// How a post is reached: through a list (feed, search, profile, sitemap), or directly
/// by its link, which is the only door to an unlisted post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Listed,
    Direct,
}

/// The viewer's id as the `:viewer` parameter.
pub fn viewer_param(viewer: Option<&str>) -> &str {
    viewer.unwrap_or("")
}

/// Neither the viewer nor user `{u}` (a `users` alias) blocks the other.
pub fn no_block(u: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.user_id = :viewer AND b.blocked_id = {u}.id) \
         OR (b.user_id = {u}.id AND b.blocked_id = :viewer))"
    )
}

/// User `{u}` is active (not suspended) and no block stands between them and the viewer.
pub fn user_visible(u: &str) -> String {
    format!("({u}.disabled_at IS NULL AND {})", no_block(u))
}

/// The viewer follows user `{u}`.
pub fn follows(u: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = :viewer AND f.followee_id = {u}.id)"
    )
}

/// Post `{p}` by author `{u}` is visible to the viewer through `door`. Its author sees it
/// unless moderators removed it; anyone else needs it unmoderated, its author visible to
/// them, and its audience to include them.
pub fn post_visible(p: &str, u: &str, door: Door) -> String {
    let unlisted = match door {
        Door::Direct => format!(" OR {p}.visibility = 'unlisted'"),
        Door::Listed => String::new(),
    };
    format!(
        "(({p}.user_id = :viewer AND {p}.moderation <> 'removed' AND {u}.disabled_at IS NULL) \
         OR ({p}.moderation = 'ok' AND {user} AND ({p}.visibility = 'public'{unlisted} \
         OR ({p}.visibility = 'followers' AND {follows}))))",
        user = user_visible(u),
        follows = follows(u),
    )
}

/// Comment `{c}` by author `{u}` (a LEFT JOIN: a purged author leaves NULL) is visible,
/// given that its post is: unmoderated, its author visible, and for a reply, its parent
/// comment visible by the same rule.
pub fn comment_visible(c: &str, u: &str) -> String {
    let own = |c: &str, u: &str| {
        format!(
            "({c}.moderation = 'ok' AND ({c}.user_id IS NULL OR {user}))",
            user = user_visible(u)
        )
    };
    format!(
        "({this} AND ({c}.parent_id IS NULL OR EXISTS (
            SELECT 1 FROM comments parent LEFT JOIN users parent_author
                ON parent_author.id = parent.user_id
            WHERE parent.id = {c}.parent_id AND {parent})))",
        this = own(c, u),
        parent = own("parent", "parent_author"),
    )
}
