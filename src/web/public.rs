//! Server-rendered public pages: a post (`/p/{id}`) and a profile (`/u/{username}`)
//! that read fully with JavaScript off and carry their title, description, canonical
//! address and OpenGraph/Twitter card tags; `/sitemap.xml` of public content and
//! `/robots.txt`. The page is the web UI's `index.html` with the content in its app
//! root: with JavaScript on, the app boots over it and shows the same page.
//!
//! Who sees what is the community's visibility rules, through the same functions the
//! API uses; unlisted posts are served by link only and marked `noindex`.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Assets;
use crate::app::AppState;
use crate::domains::auth::extract::MaybeUser;
use crate::domains::community::comments::{self, Comment};
use crate::domains::community::people::{self, Profile};
use crate::domains::community::posts::{self, Audience, Listing, Post};
use crate::domains::community::visibility::Door;
use crate::domains::community::{markdown, sitemap};
use crate::domains::privacy::policies;
use crate::error::ApiResult;
use crate::platform::clock::{iso_date, long_date as date};
use crate::platform::mail::html_escape;

/// What a page says about itself.
struct Head {
    title: String,
    description: String,
    /// Path of the page (made absolute with the public address).
    path: String,
    /// Path or absolute URL of the preview picture.
    image: Option<String>,
    og_type: &'static str,
    indexable: bool,
    /// Made for a signed-in viewer (shared caches must not keep it).
    personal: bool,
}

/// The page: `index.html` with `head` and `body` in place.
fn page(state: &AppState, status: StatusCode, head: &Head, body: &str) -> Response {
    let Some(shell) = Assets::get("index.html") else {
        return (status, "the web UI was not built into this binary").into_response();
    };
    let shell = String::from_utf8_lossy(&shell.data).into_owned();
    let base = state.config.public_base();
    let site = &state.config.instance_name;
    let absolute = |path: &str| {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{base}{path}")
        }
    };
    let title = html_escape(&format!("{} · {site}", head.title));
    let description = html_escape(&head.description);
    let url = html_escape(&absolute(&head.path));
    let mut meta = String::new();
    let _ = write!(
        meta,
        "<title>{title}</title>\n    <meta name=\"description\" content=\"{description}\">\n    \
         <link rel=\"canonical\" href=\"{url}\">\n    \
         <meta property=\"og:site_name\" content=\"{site}\">\n    \
         <meta property=\"og:type\" content=\"{og_type}\">\n    \
         <meta property=\"og:title\" content=\"{og_title}\">\n    \
         <meta property=\"og:description\" content=\"{description}\">\n    \
         <meta property=\"og:url\" content=\"{url}\">\n    \
         <meta name=\"twitter:title\" content=\"{og_title}\">\n    \
         <meta name=\"twitter:description\" content=\"{description}\">\n    \
         <link rel=\"stylesheet\" href=\"/public.css\">",
        site = html_escape(site),
        og_type = head.og_type,
        og_title = html_escape(&head.title),
    );
    match &head.image {
        Some(image) => {
            let image = html_escape(&absolute(image));
            let _ = write!(
                meta,
                "\n    <meta property=\"og:image\" content=\"{image}\">\n    \
                 <meta name=\"twitter:card\" content=\"summary_large_image\">\n    \
                 <meta name=\"twitter:image\" content=\"{image}\">"
            );
        }
        None => meta.push_str("\n    <meta name=\"twitter:card\" content=\"summary\">"),
    }
    if !head.indexable {
        meta.push_str("\n    <meta name=\"robots\" content=\"noindex\">");
    }
    let html = replace_between(&shell, "<title>", "</title>", "")
        .replace("<title></title>", &meta)
        .replace(
            "<meta name=\"description\" content=\"StrataMake — a self-hosted AI creative studio for images and 3D.\">\n",
            "",
        );
    let html = replace_between(
        &html,
        "<div id=\"app\" class=\"app\">",
        "</div>\n    <div id=\"toasts\"",
        &format!(
            "\n      <div class=\"public-page\">\n{}\n{body}\n{}\n      </div>\n    ",
            masthead(site),
            footer(site)
        ),
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static(if head.personal {
            "private, no-cache"
        } else {
            "no-cache"
        }),
    );
    if !head.indexable {
        headers.insert("x-robots-tag", header::HeaderValue::from_static("noindex"));
    }
    response
}

/// `text` with what lies between `start` and `end` replaced (markers kept).
fn replace_between(text: &str, start: &str, end: &str, with: &str) -> String {
    match (text.find(start), text.find(end)) {
        (Some(a), Some(b)) if a + start.len() <= b => {
            format!("{}{with}{}", &text[..a + start.len()], &text[b..])
        }
        _ => text.to_string(),
    }
}

fn masthead(site: &str) -> String {
    format!(
        "<header class=\"public-masthead\"><a class=\"public-brand\" href=\"/community\">{}</a>\
         <nav><a href=\"/community\">Community</a><a href=\"/login\">Sign in</a>\
         <a class=\"public-join\" href=\"/signup\">Join</a></nav></header>",
        html_escape(site)
    )
}

/// Every page's footer: the policies.
fn footer(site: &str) -> String {
    let mut links = String::new();
    for (slug, label) in [
        ("terms", "Terms of Service"),
        ("privacy", "Privacy Policy"),
        ("cookies", "Cookie Policy"),
        ("accessibility", "Accessibility"),
        ("support", "Support"),
    ] {
        let _ = write!(links, "<li><a href=\"/policies/{slug}\">{label}</a></li>");
    }
    format!(
        "<footer class=\"public-footer\"><p>{}</p><nav aria-label=\"Policies\"><ul>{links}</ul></nav></footer>",
        html_escape(site)
    )
}

fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        text.to_string()
    } else {
        let cut: String = text.chars().take(limit - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

fn not_found(state: &AppState) -> Response {
    page(
        state,
        StatusCode::NOT_FOUND,
        &Head {
            title: "Not found".into(),
            description: "This page does not exist, or is not shared with you.".into(),
            path: "/".into(),
            image: None,
            og_type: "website",
            indexable: false,
            personal: false,
        },
        "<main class=\"public-main\"><h1>Not found</h1>\
         <p>This page does not exist, or is not shared with you.</p></main>",
    )
}

fn author_name(display_name: &str, username: &str) -> String {
    if display_name.is_empty() {
        format!("@{username}")
    } else {
        display_name.to_string()
    }
}

fn comment_html(out: &mut String, comment: &Comment) {
    let who = match &comment.author {
        Some(author) => format!(
            "<a href=\"/u/{}\">{}</a>",
            html_escape(&author.username),
            html_escape(&author_name(&author.display_name, &author.username))
        ),
        None => "<span class=\"public-muted\">[deleted]</span>".into(),
    };
    let _ = write!(
        out,
        "<li id=\"comment-{id}\"><p class=\"public-meta\">{who} · <time datetime=\"{iso}\">{date}</time></p>\
         <div class=\"public-text\">{body}</div>",
        id = html_escape(&comment.id),
        iso = iso_date(comment.created_at),
        date = date(comment.created_at),
        body = comment.body_html,
    );
    if !comment.replies.is_empty() {
        out.push_str("<ol class=\"public-replies\">");
        for reply in &comment.replies {
            comment_html(out, reply);
        }
        out.push_str("</ol>");
    }
    out.push_str("</li>");
}

fn post_body(post: &Post, thread: &[Comment]) -> String {
    let author = &post.author;
    let name = author_name(&author.display_name, &author.username);
    let picture = post
        .media
        .preview_url
        .as_deref()
        .unwrap_or(&post.media.image_url);
    let mut body = String::new();
    let _ = write!(
        body,
        "<main class=\"public-main\"><article class=\"public-post\">\
         <figure class=\"public-figure\"><img src=\"{picture}\" alt=\"{alt}\"{size}></figure>\
         <h1>{title}</h1>\
         <p class=\"public-meta\">by <a href=\"/u/{username}\" rel=\"author\">{name}</a> · \
         <time datetime=\"{iso}\">{date}</time></p>",
        picture = html_escape(picture),
        alt = html_escape(&post.title),
        size = match (post.media.width, post.media.height) {
            (Some(w), Some(h)) if post.media.kind == "image" =>
                format!(" width=\"{w}\" height=\"{h}\""),
            _ => String::new(),
        },
        title = html_escape(&post.title),
        username = html_escape(&author.username),
        name = html_escape(&name),
        iso = iso_date(post.created_at),
        date = date(post.created_at),
    );
    if let Some(mesh) = &post.media.mesh {
        let _ = write!(
            body,
            "<p class=\"public-facts\">3D model · {:.0} × {:.0} × {:.0} mm · {} triangles{}</p>",
            mesh.size_mm[0],
            mesh.size_mm[1],
            mesh.size_mm[2],
            mesh.triangles,
            if mesh.printable {
                " · ready to print"
            } else {
                ""
            }
        );
    }
    if !post.description_html.is_empty() {
        let _ = write!(
            body,
            "<div class=\"public-text\">{}</div>",
            post.description_html
        );
    }
    if let Some(prompt) = post
        .generation
        .as_ref()
        .and_then(|g| g.get("prompt"))
        .and_then(|p| p.as_str())
    {
        let _ = write!(
            body,
            "<p class=\"public-prompt\"><strong>Prompt:</strong> {}</p>",
            html_escape(prompt)
        );
    }
    if !post.tags.is_empty() {
        body.push_str("<ul class=\"public-tags\">");
        for tag in &post.tags {
            let tag = html_escape(tag);
            let _ = write!(body, "<li><a href=\"/community?tag={tag}\">#{tag}</a></li>");
        }
        body.push_str("</ul>");
    }
    let _ = write!(
        body,
        "<p class=\"public-meta\">{} reactions · {} comments</p>",
        post.reactions.total, post.comment_count
    );
    if !thread.is_empty() {
        body.push_str("<section class=\"public-comments\"><h2>Comments</h2><ol>");
        for comment in thread {
            comment_html(&mut body, comment);
        }
        body.push_str("</ol></section>");
    }
    body.push_str("</article></main>");
    body
}

pub async fn post_page(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let viewer = viewer.reader_id().unwrap_or(None);
    let personal = viewer.is_some();
    let found = state
        .db
        .query(move |conn| {
            let viewer = viewer.as_deref();
            let Some(row) = posts::visible_post(conn, &id, viewer, Door::Direct)? else {
                return Ok(None);
            };
            let post = posts::view(conn, row, viewer)?;
            let thread = comments::thread(conn, &post.id, viewer)?;
            Ok(Some((post, thread)))
        })
        .await?;
    let Some((post, thread)) = found else {
        return Ok(not_found(&state));
    };
    let plain = markdown::plain(&post.description);
    let name = author_name(&post.author.display_name, &post.author.username);
    let description = if plain.is_empty() {
        let what = if post.media.kind == "model" {
            "A 3D model"
        } else {
            "An image"
        };
        format!("{what} by {name}.")
    } else {
        shorten(&plain, 200)
    };
    let head = Head {
        title: format!("{} by {name}", post.title),
        description,
        path: post.url.clone(),
        image: post
            .media
            .preview_url
            .clone()
            .or(post.media.thumbnail_url.clone()),
        og_type: "article",
        indexable: post.visibility == Audience::Public,
        personal,
    };
    let body = post_body(&post, &thread);
    Ok(page(&state, StatusCode::OK, &head, &body))
}

fn profile_body(profile: &Profile, grid: &[Post]) -> String {
    let name = author_name(&profile.display_name, &profile.username);
    let mut body = String::new();
    let avatar = match &profile.avatar_url {
        Some(url) => format!(
            "<img class=\"public-avatar\" src=\"{}\" alt=\"\" width=\"96\" height=\"96\">",
            html_escape(url)
        ),
        None => format!(
            "<span class=\"public-avatar public-initial\" aria-hidden=\"true\">{}</span>",
            html_escape(
                &name
                    .trim_start_matches('@')
                    .chars()
                    .take(1)
                    .collect::<String>()
                    .to_uppercase()
            )
        ),
    };
    let _ = write!(
        body,
        "<main class=\"public-main\"><section class=\"public-profile\">{avatar}<div>\
         <h1>{name}</h1><p class=\"public-meta\">@{username} · joined {joined}</p>\
         <p class=\"public-meta\">{followers} followers · {following} following · {posts} posts</p>\
         <div class=\"public-text\">{bio}</div>",
        name = html_escape(&name),
        username = html_escape(&profile.username),
        joined = date(profile.joined_at),
        followers = profile.followers,
        following = profile.following,
        posts = profile.posts,
        bio = profile.bio_html,
    );
    if !profile.links.is_empty() {
        body.push_str("<ul class=\"public-links\">");
        for link in &profile.links {
            let link = html_escape(link);
            let _ = write!(
                body,
                "<li><a href=\"{link}\" rel=\"nofollow ugc me noopener\">{link}</a></li>"
            );
        }
        body.push_str("</ul>");
    }
    body.push_str("</div></section><ul class=\"public-grid\">");
    for post in grid {
        let picture = post
            .media
            .thumbnail_url
            .as_deref()
            .unwrap_or(&post.media.image_url);
        let _ = write!(
            body,
            "<li><a href=\"{url}\"><img src=\"{picture}\" alt=\"\" loading=\"lazy\" width=\"256\" height=\"256\">\
             <span>{title}</span></a></li>",
            url = html_escape(&post.url),
            picture = html_escape(picture),
            title = html_escape(&post.title),
        );
    }
    body.push_str("</ul></main>");
    body
}

pub async fn profile_page(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Path(username): Path<String>,
) -> ApiResult<Response> {
    let viewer = viewer.reader_id().unwrap_or(None);
    let personal = viewer.is_some();
    let found = state
        .db
        .query(move |conn| {
            let viewer = viewer.as_deref();
            let Some(profile) = people::profile(conn, &username, viewer)? else {
                return Ok(None);
            };
            let grid = posts::list(conn, Listing::Author(&profile.id), viewer, None)?;
            Ok(Some((profile, grid.items)))
        })
        .await?;
    let Some((profile, grid)) = found else {
        return Ok(not_found(&state));
    };
    let name = author_name(&profile.display_name, &profile.username);
    let bio = markdown::plain(&profile.bio);
    let head = Head {
        title: format!("{name} (@{})", profile.username),
        description: if bio.is_empty() {
            format!("Images and 3D models by {name}.")
        } else {
            shorten(&bio, 200)
        },
        path: profile.url.clone(),
        image: profile
            .avatar_url
            .clone()
            .or_else(|| grid.first().and_then(|p| p.media.thumbnail_url.clone())),
        og_type: "profile",
        indexable: true,
        personal,
    };
    let body = profile_body(&profile, &grid);
    Ok(page(&state, StatusCode::OK, &head, &body))
}

pub async fn sitemap_xml(State(state): State<AppState>) -> ApiResult<Response> {
    let entries = state.db.query(sitemap::entries).await?;
    let base = state.config.public_base();
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for entry in entries {
        let _ = writeln!(
            xml,
            "  <url><loc>{}</loc><lastmod>{}</lastmod></url>",
            html_escape(&format!("{base}{}", entry.path)),
            iso_date(entry.modified_at)
        );
    }
    xml.push_str("</urlset>\n");
    Ok((
        [
            (header::CONTENT_TYPE, "application/xml; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        xml,
    )
        .into_response())
}

pub async fn robots_txt(State(state): State<AppState>) -> Response {
    let body = format!(
        "User-agent: *\nAllow: /p/\nAllow: /u/\nAllow: /blobs/\nDisallow: /api/\n\
         Disallow: /library\nDisallow: /generate\nDisallow: /make-3d\nDisallow: /settings\n\
         Disallow: /admin\nDisallow: /notifications\nDisallow: /search\n\n\
         Sitemap: {}/sitemap.xml\n",
        state.config.public_base()
    );
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// `/policies/{slug}`: a policy, readable with JavaScript off.
pub async fn policy_page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<policies::VersionQuery>,
) -> ApiResult<Response> {
    let config = state.config.clone();
    let wanted = query.version;
    let Some(policy) = state
        .db
        .query(move |conn| policies::shown(conn, &config, &slug, wanted))
        .await?
    else {
        return Ok(not_found(&state));
    };
    let description = format!(
        "{} of {}, version {} of {}.",
        policy.title,
        state.config.instance_name,
        policy.version,
        date(policy.published_at)
    );
    let mut body = String::new();
    let _ = write!(
        body,
        "<main class=\"public-main public-policy\"><p class=\"public-meta\">Version {version} · \
         in force since <time datetime=\"{iso}\">{date}</time>{old}</p>\
         <div class=\"public-text\">{html}</div></main>",
        version = policy.version,
        iso = iso_date(policy.published_at),
        date = date(policy.published_at),
        old = if policy.current {
            String::new()
        } else {
            format!(
                " · an earlier version: <a href=\"/policies/{}\">read the current one</a>",
                html_escape(&policy.slug)
            )
        },
        html = policy.html,
    );
    Ok(page(
        &state,
        StatusCode::OK,
        &Head {
            title: policy.title.clone(),
            description,
            path: format!("/policies/{}", policy.slug),
            image: None,
            og_type: "article",
            indexable: policy.current,
            personal: false,
        },
        &body,
    ))
}
