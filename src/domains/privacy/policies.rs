//! The policies — Privacy Policy, Terms of Service, Cookie Policy, Accessibility
//! statement, Support — as versioned Markdown. The defaults ship in `policies/*.md`
//! (version 1); every admin edit is a new version. A *material* version asks every
//! account that existed before it to acknowledge it (a banner, and a mail when it is
//! published); acceptances are recorded, at signup for the Terms and the Privacy Policy.

use axum::Json;
use axum::extract::{Path, Query, State};
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::config::Config;
use crate::domains::admin::audit;
use crate::domains::auth::emails::{Compose, compose};
use crate::domains::auth::extract::{AuthUser, Scope};
use crate::domains::auth::store;
use crate::error::{ApiError, ApiResult};
use crate::platform::mail;

/// Every policy: its slug (also its address, `/policies/<slug>`) and default text.
pub const DEFAULTS: [(&str, &str); 5] = [
    ("privacy", include_str!("policies/privacy.md")),
    ("terms", include_str!("policies/terms.md")),
    ("cookies", include_str!("policies/cookies.md")),
    ("accessibility", include_str!("policies/accessibility.md")),
    ("support", include_str!("policies/support.md")),
];

const MAX_TITLE: usize = 120;
const MAX_BODY: usize = 100_000;
const MAX_SUMMARY: usize = 500;

fn known(slug: &str) -> bool {
    DEFAULTS.iter().any(|(s, _)| *s == slug)
}

/// A default text's title is its first heading; the body keeps it.
fn default_title(body: &str) -> &str {
    body.lines()
        .next()
        .and_then(|l| l.strip_prefix("# "))
        .unwrap_or("Policy")
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionSummary {
    pub version: i64,
    pub material: bool,
    /// What changed, in a sentence (for material versions).
    pub summary: String,
    pub published_at: i64,
}

/// One version of a policy.
#[derive(Debug, Clone)]
pub struct PolicyVersion {
    pub slug: String,
    pub title: String,
    pub body: String,
    pub meta: VersionSummary,
}

fn version_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PolicyVersion> {
    Ok(PolicyVersion {
        slug: row.get(0)?,
        title: row.get(2)?,
        body: row.get(3)?,
        meta: VersionSummary {
            version: row.get(1)?,
            material: row.get(4)?,
            summary: row.get(5)?,
            published_at: row.get(6)?,
        },
    })
}

const VERSION_COLUMNS: &str = "slug, version, title, body, material, summary, created_at";

/// Writes version 1 of every policy that has none yet (at every start).
pub fn seed_defaults(tx: &Transaction<'_>, now: i64) -> rusqlite::Result<()> {
    for (slug, body) in DEFAULTS {
        tx.execute(
            "INSERT INTO policy_versions (slug, version, title, body, created_at)
             SELECT ?1, 1, ?2, ?3, ?4
             WHERE NOT EXISTS (SELECT 1 FROM policy_versions WHERE slug = ?1)",
            params![slug, default_title(body), body, now],
        )?;
    }
    Ok(())
}

/// The current version of `slug`.
pub fn current(conn: &Connection, slug: &str) -> rusqlite::Result<Option<PolicyVersion>> {
    conn.prepare_cached(&format!(
        "SELECT {VERSION_COLUMNS} FROM policy_versions WHERE slug = ?1 ORDER BY version DESC LIMIT 1"
    ))?
    .query_row([slug], version_from_row)
    .optional()
}

fn version(conn: &Connection, slug: &str, version: i64) -> rusqlite::Result<Option<PolicyVersion>> {
    conn.prepare_cached(&format!(
        "SELECT {VERSION_COLUMNS} FROM policy_versions WHERE slug = ?1 AND version = ?2"
    ))?
    .query_row(params![slug, version], version_from_row)
    .optional()
}

fn history(conn: &Connection, slug: &str) -> rusqlite::Result<Vec<VersionSummary>> {
    let mut stmt = conn.prepare_cached(
        "SELECT version, material, summary, created_at FROM policy_versions
         WHERE slug = ?1 ORDER BY version DESC",
    )?;
    let rows = stmt.query_map([slug], |r| {
        Ok(VersionSummary {
            version: r.get(0)?,
            material: r.get(1)?,
            summary: r.get(2)?,
            published_at: r.get(3)?,
        })
    })?;
    rows.collect()
}

/// The policies accepted at signup — the Terms and the Privacy Policy — with the
/// versions in force.
pub fn in_force_at_signup(conn: &Connection) -> rusqlite::Result<[(&'static str, i64); 2]> {
    let version =
        |slug| Ok::<_, rusqlite::Error>(current(conn, slug)?.map_or(1, |p| p.meta.version));
    Ok([
        ("terms", version("terms")?),
        ("privacy", version("privacy")?),
    ])
}

/// Records that `user_id` accepted `slug` at `version`.
pub fn accept(
    tx: &Transaction<'_>,
    user_id: &str,
    slug: &str,
    version: i64,
    method: &str,
    now: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO policy_acceptances (user_id, slug, version, method, accepted_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user_id, slug, version, method, now],
    )?;
    Ok(())
}

/// The placeholders a policy text may use, filled from the configuration.
fn fill(config: &Config, text: &str) -> String {
    let privacy = &config.privacy;
    let contact = if privacy.contact.trim().is_empty() {
        format!("the administrators of {}", config.instance_name)
    } else {
        privacy.contact.trim().to_string()
    };
    text.replace("{{instance}}", &config.instance_name)
        .replace("{{contact}}", &contact)
        .replace(
            "{{analytics_full_ip_days}}",
            &privacy.analytics_full_ip_days.to_string(),
        )
        .replace(
            "{{analytics_retention_days}}",
            &privacy.analytics_retention_days.to_string(),
        )
        .replace("{{export_days}}", &privacy.export_days.to_string())
        .replace(
            "{{deletion_grace_days}}",
            &privacy.deletion_grace_days.to_string(),
        )
}

/// Whether a link in a policy may be followed: the web, mail, or a page of this site.
fn safe_href(url: &str) -> bool {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:")
        || (url.starts_with('/') && !url.starts_with("//"))
        || url.starts_with('#')
}

/// A policy's Markdown (headings, lists, tables, links) as HTML that is safe in any
/// page: raw HTML is shown as text, images as their description, and links only to the
/// web, mail or this site.
pub fn render_html(config: &Config, markdown: &str) -> String {
    let text = fill(config, markdown);
    let mut dropped_links = Vec::new();
    let events = Parser::new_ext(
        &text,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    )
    .filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Link { dest_url, .. }) => {
            let safe = safe_href(&dest_url);
            dropped_links.push(!safe);
            safe.then_some(Event::Start(Tag::Link {
                link_type: pulldown_cmark::LinkType::Inline,
                dest_url,
                title: CowStr::Borrowed(""),
                id: CowStr::Borrowed(""),
            }))
        }
        Event::End(TagEnd::Link) => {
            (dropped_links.pop() != Some(true)).then_some(Event::End(TagEnd::Link))
        }
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        other => Some(other),
    });
    let mut html = String::with_capacity(text.len() * 5 / 4);
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// A policy as the API and the pages show it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Policy {
    pub slug: String,
    pub title: String,
    pub version: i64,
    /// The Markdown as written (placeholders such as `{{instance}}` unfilled).
    pub markdown: String,
    /// Safe HTML, placeholders filled.
    pub html: String,
    pub material: bool,
    pub summary: String,
    pub published_at: i64,
    /// Whether this is the version in force.
    pub current: bool,
    /// Every version, newest first.
    pub versions: Vec<VersionSummary>,
}

/// `slug`'s policy at `wanted` (the current one when None), as shown.
pub fn shown(
    conn: &Connection,
    config: &Config,
    slug: &str,
    wanted: Option<i64>,
) -> rusqlite::Result<Option<Policy>> {
    if !known(slug) {
        return Ok(None);
    }
    let Some(latest) = current(conn, slug)? else {
        return Ok(None);
    };
    let chosen = match wanted {
        Some(v) if v != latest.meta.version => match version(conn, slug, v)? {
            Some(p) => p,
            None => return Ok(None),
        },
        _ => latest.clone(),
    };
    Ok(Some(Policy {
        html: render_html(config, &chosen.body),
        current: chosen.meta.version == latest.meta.version,
        versions: history(conn, slug)?,
        slug: chosen.slug,
        title: chosen.title,
        version: chosen.meta.version,
        markdown: chosen.body,
        material: chosen.meta.material,
        summary: chosen.meta.summary,
        published_at: chosen.meta.published_at,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyLink {
    pub slug: String,
    pub title: String,
    pub version: i64,
    pub published_at: i64,
}

/// The current version of every policy, for footers and the privacy page.
pub fn links(conn: &Connection) -> rusqlite::Result<Vec<PolicyLink>> {
    // Every page's footer asks for these: titles only, not the texts.
    let mut stmt = conn.prepare_cached(
        "SELECT slug, title, version, created_at FROM policy_versions v
         WHERE version = (SELECT MAX(version) FROM policy_versions l WHERE l.slug = v.slug)",
    )?;
    let mut links: Vec<PolicyLink> = stmt
        .query_map([], |r| {
            Ok(PolicyLink {
                slug: r.get(0)?,
                title: r.get(1)?,
                version: r.get(2)?,
                published_at: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    links.sort_by_key(|l| DEFAULTS.iter().position(|(slug, _)| *slug == l.slug));
    Ok(links)
}

#[utoipa::path(get, path = "/api/v1/policies", tag = "privacy",
    responses((status = 200, body = Vec<PolicyLink>)))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<PolicyLink>>> {
    Ok(Json(state.db.query(links).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct VersionQuery {
    /// An earlier version; the current one when left out.
    pub version: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/policies/{slug}", tag = "privacy", params(VersionQuery),
    responses((status = 200, body = Policy), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<VersionQuery>,
) -> ApiResult<Json<Policy>> {
    let config = state.config.clone();
    state
        .db
        .query(move |conn| shown(conn, &config, &slug, query.version))
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// A material version the person has not acknowledged yet.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PendingPolicy {
    pub slug: String,
    pub title: String,
    pub version: i64,
    pub summary: String,
    pub published_at: i64,
}

/// Material versions published after `user_id` joined that they have not acknowledged
/// (the newest one per policy).
pub fn pending(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<PendingPolicy>> {
    let mut stmt = conn.prepare_cached(
        "SELECT v.slug, v.title, v.version, v.summary, v.created_at
         FROM policy_versions v JOIN users u ON u.id = ?1
         WHERE v.material = 1 AND v.created_at >= u.created_at
           AND v.version = (SELECT MAX(version) FROM policy_versions m
                            WHERE m.slug = v.slug AND m.material = 1)
           AND NOT EXISTS (SELECT 1 FROM policy_acceptances a
                           WHERE a.user_id = ?1 AND a.slug = v.slug AND a.version >= v.version)
         ORDER BY v.created_at",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(PendingPolicy {
            slug: r.get(0)?,
            title: r.get(1)?,
            version: r.get(2)?,
            summary: r.get(3)?,
            published_at: r.get(4)?,
        })
    })?;
    rows.collect()
}

#[utoipa::path(get, path = "/api/v1/me/policies", tag = "privacy",
    responses((status = 200, body = Vec<PendingPolicy>)))]
pub async fn my_pending(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Json<Vec<PendingPolicy>>> {
    user.require_scope(Scope::Read)?;
    let id = user.user_id;
    Ok(Json(state.db.query(move |conn| pending(conn, &id)).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acknowledge {
    /// The version read (from the banner or the policy page).
    pub version: i64,
}

#[utoipa::path(post, path = "/api/v1/me/policies/{slug}/accept", tag = "privacy",
    request_body = Acknowledge,
    responses((status = 200, body = Vec<PendingPolicy>), (status = 404, body = crate::error::Problem)))]
pub async fn acknowledge(
    State(state): State<AppState>,
    user: AuthUser,
    Path(slug): Path<String>,
    Json(body): Json<Acknowledge>,
) -> ApiResult<Json<Vec<PendingPolicy>>> {
    user.require_session()?;
    let now = state.now();
    let id = user.user_id;
    let left = state
        .db
        .write(move |tx| {
            if !known(&slug) || version(tx, &slug, body.version)?.is_none() {
                return Err(ApiError::NotFound);
            }
            accept(tx, &id, &slug, body.version, "banner", now)?;
            Ok(pending(tx, &id)?)
        })
        .await?;
    Ok(Json(left))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyEdit {
    pub title: String,
    /// Markdown; `{{instance}}`, `{{contact}}` and the retention settings
    /// (`{{export_days}}`, `{{deletion_grace_days}}`, `{{analytics_full_ip_days}}`,
    /// `{{analytics_retention_days}}`) are filled in when shown.
    pub markdown: String,
    /// A change people must be told about: a banner until they acknowledge it, and a
    /// mail to every active account.
    #[serde(default)]
    pub material: bool,
    /// What changed, in a sentence or two (required for material changes).
    #[serde(default)]
    pub summary: String,
}

fn check_edit(edit: &PolicyEdit) -> ApiResult<()> {
    let title = edit.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(ApiError::field(
            "title",
            format!("Give a title of at most {MAX_TITLE} characters."),
        ));
    }
    if edit.markdown.trim().is_empty() || edit.markdown.len() > MAX_BODY {
        return Err(ApiError::field(
            "markdown",
            format!("Write the policy (at most {MAX_BODY} bytes)."),
        ));
    }
    if edit.summary.chars().count() > MAX_SUMMARY {
        return Err(ApiError::field(
            "summary",
            format!("Summarise in at most {MAX_SUMMARY} characters."),
        ));
    }
    if edit.material && edit.summary.trim().is_empty() {
        return Err(ApiError::field(
            "summary",
            "Say what changed: people see this in the notice and the mail.",
        ));
    }
    Ok(())
}

#[utoipa::path(put, path = "/api/v1/admin/policies/{slug}", tag = "admin",
    request_body = PolicyEdit,
    responses((status = 200, body = Policy), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn publish(
    State(state): State<AppState>,
    user: AuthUser,
    Path(slug): Path<String>,
    Json(edit): Json<PolicyEdit>,
) -> ApiResult<Json<Policy>> {
    user.require_admin()?;
    if !known(&slug) {
        return Err(ApiError::NotFound);
    }
    check_edit(&edit)?;
    let now = state.now();
    let admin = user.user_id;
    let mail_state = state.clone();
    let config = state.config.clone();
    let policy = state
        .db
        .write(move |tx| {
            let next = current(tx, &slug)?.map_or(1, |p| p.meta.version + 1);
            tx.execute(
                "INSERT INTO policy_versions (slug, version, title, body, material, summary,
                                              created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    slug,
                    next,
                    edit.title.trim(),
                    edit.markdown,
                    edit.material,
                    edit.summary.trim(),
                    admin,
                    now
                ],
            )?;
            audit::record(
                tx,
                Some(&admin),
                "policy.published",
                &slug,
                &format!(
                    "version {next}{}",
                    if edit.material { ", material" } else { "" }
                ),
                now,
            )?;
            // Its author has read it.
            accept(tx, &admin, &slug, next, "author", now)?;
            if edit.material {
                let change = Change {
                    slug: &slug,
                    title: edit.title.trim(),
                    summary: &edit.summary,
                    author: &admin,
                };
                tell_everyone(tx, &mail_state, &change, now)?;
            }
            shown(tx, &config, &slug, None)?.ok_or(ApiError::NotFound)
        })
        .await?;
    state.mailer.wake();
    Ok(Json(policy))
}

/// A material change of a policy, as it is announced.
struct Change<'a> {
    slug: &'a str,
    title: &'a str,
    summary: &'a str,
    author: &'a str,
}

/// A mail to every active account but its author about a material change.
fn tell_everyone(
    tx: &Transaction<'_>,
    state: &AppState,
    change: &Change<'_>,
    now: i64,
) -> rusqlite::Result<()> {
    let Change {
        slug,
        title,
        summary,
        author,
    } = *change;
    let url = format!("{}/policies/{slug}", state.config.public_base());
    let subject = format!("We updated our {title}");
    let paragraphs = [
        format!("We made an important change to our {title}."),
        summary.trim().to_string(),
        "You will see a notice the next time you sign in; read the new version at any time from the link below.".into(),
    ];
    for (user_id, email) in store::active_accounts(tx)? {
        if user_id == author {
            continue;
        }
        let mail = compose(
            state,
            Compose {
                to: &email,
                user_id: Some(&user_id),
                kind: "policy_changed",
                subject: &subject,
                paragraphs: &paragraphs,
                action: Some(("Read the new version", url.clone())),
            },
        );
        mail::enqueue(tx, &mail, now)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_html_is_safe_and_keeps_structure() {
        let config = Config::default();
        let html = render_html(
            &config,
            "# Title\n\n| a | b |\n| --- | --- |\n| `x` | y |\n\n<script>alert(1)</script>\n\n\
             [bad](javascript:alert(1)) [ok](/settings/privacy) ![pic](http://x/y.png)\n\n{{instance}}",
        );
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(
            html.contains("<a href=\"/settings/privacy\">ok</a>"),
            "{html}"
        );
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("StrataMake"),
            "placeholders are filled: {html}"
        );
    }

    #[test]
    fn every_default_has_a_title_and_fills_every_placeholder() {
        let config = Config::default();
        for (slug, body) in DEFAULTS {
            assert_ne!(
                default_title(body),
                "Policy",
                "{slug} starts with a heading"
            );
            let html = render_html(&config, body);
            assert!(!html.contains("{{"), "{slug} leaves a placeholder unfilled");
        }
    }
}
