//! The community through HTTP: posts, comments, reactions, follows, feeds,
//! notifications and their mail, reports and moderation, rate limits, search (typos,
//! prefixes, crash safety, rebuilds), and the visibility matrix: every kind of hidden
//! content tried through every door by every kind of viewer.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Api, Server, png, problem};

/// Test servers give new accounts the established limits (one test checks the strict ones).
const ESTABLISHED: (&str, &str) = ("STRATAMAKE_COMMUNITY__NEW_ACCOUNT_HOURS", "0");

async fn server() -> Server {
    Server::start_with(&[ESTABLISHED]).await
}

/// Uploads a picture and shares it; returns the post.
async fn publish(api: &Api, title: &str, extra: Value) -> Value {
    let seed = title
        .bytes()
        .fold(7u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
    let asset = api.uploaded("picture.png", png(48, 32, seed)).await;
    let mut body = json!({"asset_id": asset["id"], "title": title});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let r = api.post("/api/v1/posts", body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "publish {title}");
    r.json().await.unwrap()
}

/// `reporter` reports the post, comment or user `target`, and `moderator` decides;
/// asserts both were accepted.
async fn report_and_decide(
    reporter: &Api,
    moderator: &Api,
    kind: &str,
    target: &Value,
    decision: &str,
) {
    let r = reporter
        .post(
            "/api/v1/reports",
            json!({"target_kind": kind, "target_id": target, "reason": "spam"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let report: Value = r.json().await.unwrap();
    let r = moderator
        .post(
            &format!("/api/v1/reports/{}/resolve", report["id"].as_str().unwrap()),
            json!({"decision": decision}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

/// Sets a reaction on post `id`; returns the post's reactions.
async fn react(api: &Api, id: &str, body: Value) -> Value {
    let r = api
        .post(&format!("/api/v1/posts/{id}/reactions"), body)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// What a list shows: post titles, usernames or tags.
fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let name = match (item.get("tag"), item.get("user")) {
                (Some(tag), _) => tag,
                (None, Some(user)) => &user["username"],
                (None, None) => &item.get("post").unwrap_or(item)["title"],
            };
            name.as_str().unwrap().to_string()
        })
        .collect()
}

/// The usernames of a list of people.
fn usernames(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|person| person["username"].as_str().unwrap().to_string())
        .collect()
}

/// Searches until `done` holds for the titles found (the index commits within a
/// second); returns the last answer.
async fn search_until(api: &Api, query: &str, done: impl Fn(&[String]) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let page = api.json(&format!("/api/v1/search?{query}")).await;
        if done(&titles(&page)) || tokio::time::Instant::now() > deadline {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts a 201 and returns what was created.
async fn created(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

/// The files a post shows: picture, thumbnail, preview and, for 3D models, the model.
fn media_urls(post: &Value) -> Vec<String> {
    ["image_url", "thumbnail_url", "preview_url", "model_url"]
        .iter()
        .filter_map(|key| post["media"][key].as_str().map(str::to_string))
        .collect()
}

/// Asserts whether `api` may fetch each of a post's files (404 when not).
async fn assert_files(api: &Api, post: &Value, allowed: bool, case: &str) {
    let urls = media_urls(post);
    assert!(!urls.is_empty(), "{case}: the post shows files");
    for url in urls {
        let status = api.get(&url).await.status();
        let wanted = if allowed {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(status, wanted, "file {url}: {case}");
    }
}

/// Every notification `api`'s user may see (all pages), after asserting that both doors
/// give an unread count equal to their number (nothing was read yet).
async fn unread_inbox(api: &Api) -> Vec<Value> {
    let mut items = Vec::new();
    let mut path = "/api/v1/notifications".to_string();
    let unread = loop {
        let page = api.json(&path).await;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/notifications?cursor={cursor}"),
            None => break page["unread"].as_i64().unwrap(),
        }
    };
    assert_eq!(
        unread,
        items.len() as i64,
        "the unread count counts what shows"
    );
    let alone = api.json("/api/v1/notifications/unread").await["unread"].clone();
    assert_eq!(alone, unread, "the bell's count");
    items
}

/// Whether a notification is about post `id`.
fn about_post(items: &[Value], id: &str) -> bool {
    items.iter().any(|n| n["post"]["id"] == id)
}

/// Whether a notification was caused by `username`.
fn caused_by(items: &[Value], username: &str) -> bool {
    items.iter().any(|n| n["actor"]["username"] == username)
}

/// Whether a notification points to `comment`.
fn about_comment(items: &[Value], comment: &Value) -> bool {
    items.iter().any(|n| n["comment_id"] == comment["id"])
}

#[tokio::test]
async fn posts_comments_reactions_follows_and_feeds() {
    let server = server().await;
    let ann = server.verified_user("ann").await;
    let bob = server.verified_user("bob").await;

    // Publishing: checked input, the author's own assets only.
    let asset = ann.uploaded("dragon.png", png(64, 48, 1)).await;
    for (body, field) in [
        (json!({"asset_id": asset["id"], "title": "  "}), "title"),
        (json!({"asset_id": "nope", "title": "x"}), "asset_id"),
        (
            json!({"asset_id": asset["id"], "title": "x", "tags": [""]}),
            "tags",
        ),
    ] {
        let p = problem(
            ann.post("/api/v1/posts", body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(p["errors"][field].is_string(), "{p}");
    }
    let r = ann
        .post(
            "/api/v1/posts",
            json!({"asset_id": asset["id"], "title": "x", "visibility": "everyone"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = bob
        .post(
            "/api/v1/posts",
            json!({"asset_id": asset["id"], "title": "mine now"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let post = ann
        .post(
            "/api/v1/posts",
            json!({"asset_id": asset["id"], "title": "Red dragon",
                   "description": "A **red** dragon <script>alert(1)</script>",
                   "tags": ["#Dragons", "red"], "visibility": "public"}),
        )
        .await;
    assert_eq!(post.status(), StatusCode::CREATED);
    let post: Value = post.json().await.unwrap();
    let id = post["id"].as_str().unwrap().to_string();
    assert_eq!(post["tags"], json!(["dragons", "red"]));
    assert_eq!(post["url"], format!("/p/{id}"));
    assert_eq!(post["author"]["username"], "ann");
    assert_eq!(post["media"]["kind"], "image");
    assert!(
        post["description_html"]
            .as_str()
            .unwrap()
            .contains("<strong>red</strong>")
    );
    assert!(
        !post["description_html"]
            .as_str()
            .unwrap()
            .contains("<script")
    );
    assert_eq!(post["mine"], true);

    // Anyone may read it, signed in or not; the file is public.
    let anonymous = server.api();
    let seen = anonymous.json(&format!("/api/v1/posts/{id}")).await;
    assert_eq!(seen["mine"], false);
    let thumb = seen["media"]["thumbnail_url"].as_str().unwrap();
    let r = anonymous.get(thumb).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("public")
    );

    // The library says the asset is shared; its picture can be the author's avatar.
    let mine = ann
        .json(&format!("/api/v1/assets/{}", asset["id"].as_str().unwrap()))
        .await;
    assert_eq!(mine["visibility"], "public");
    let portrait = ann.uploaded("me.png", png(32, 32, 9)).await;
    let r = ann
        .patch("/api/v1/me", json!({"avatar_asset_id": portrait["id"]}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let avatar = r.json::<Value>().await.unwrap()["avatar_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        anonymous.json("/api/v1/users/ann").await["avatar_url"],
        avatar.as_str()
    );
    assert_eq!(
        anonymous.get(&avatar).await.status(),
        StatusCode::OK,
        "avatars are public"
    );
    let r = bob
        .patch("/api/v1/me", json!({"avatar_asset_id": portrait["id"]}))
        .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "only one's own images"
    );

    // Following, and the feeds.
    let r = bob.post("/api/v1/users/ann/follow", json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"following": true, "followers": 1})
    );
    assert_eq!(
        titles(&bob.json("/api/v1/feed?kind=following").await),
        ["Red dragon"]
    );
    assert_eq!(
        titles(&anonymous.json("/api/v1/feed?kind=latest").await),
        ["Red dragon"]
    );
    assert_eq!(
        anonymous.get("/api/v1/feed?kind=following").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        anonymous.get("/api/v1/feed?kind=sideways").await.status(),
        StatusCode::BAD_REQUEST
    );
    let profile = bob.json("/api/v1/users/ann").await;
    assert_eq!(
        (profile["followers"].as_i64(), profile["posts"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(profile["you_follow"], true);
    assert_eq!(
        titles(&anonymous.json("/api/v1/posts?author=ann").await),
        ["Red dragon"]
    );
    assert_eq!(
        titles(&anonymous.json("/api/v1/posts?tag=dragons").await),
        ["Red dragon"]
    );
    let r = bob.post("/api/v1/users/bob/follow", json!({})).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Comments with a reply and a mention; reactions toggle.
    let r = bob
        .post(
            &format!("/api/v1/posts/{id}/comments"),
            json!({"body": "Lovely, @ann! _wow_"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let comment: Value = r.json().await.unwrap();
    let comment_id = comment["id"].as_str().unwrap().to_string();
    assert!(
        comment["body_html"]
            .as_str()
            .unwrap()
            .contains("href=\"/u/ann\"")
    );
    let r = ann
        .post(
            &format!("/api/v1/posts/{id}/comments"),
            json!({"body": "Thanks!", "parent_id": comment_id}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let reply: Value = r.json().await.unwrap();
    let r = bob
        .post(
            &format!("/api/v1/posts/{id}/comments"),
            json!({"body": "nested", "parent_id": reply["id"]}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "one level of replies"
    );
    let r = bob
        .post(&format!("/api/v1/posts/{id}/comments"), json!({"body": ""}))
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let thread = anonymous
        .json(&format!("/api/v1/posts/{id}/comments"))
        .await;
    assert_eq!(thread["items"].as_array().unwrap().len(), 1);
    assert_eq!(thread["items"][0]["replies"][0]["body"], "Thanks!");

    let reactions = react(&bob, &id, json!({"kind": "fire"})).await;
    assert_eq!(reactions["counts"], json!({"fire": 1}));
    assert_eq!(reactions["mine"], json!(["fire"]));
    react(&ann, &id, json!({"kind": "fire"})).await;
    let reactions = react(&bob, &id, json!({"kind": "fire"})).await;
    assert_eq!(
        (reactions["counts"].clone(), reactions["mine"].clone()),
        (json!({"fire": 1}), json!([]))
    );
    react(&bob, &id, json!({"kind": "love", "on": true})).await;
    let reactions = react(&bob, &id, json!({"kind": "love", "on": true})).await;
    assert_eq!(
        reactions["counts"],
        json!({"fire": 1, "love": 1}),
        "setting twice is once"
    );
    let on_comment = react(&ann, &id, json!({"kind": "like", "comment_id": comment_id})).await;
    assert_eq!(on_comment["counts"], json!({"like": 1}));
    let r = bob
        .post(
            &format!("/api/v1/posts/{id}/reactions"),
            json!({"kind": "meh"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let seen = anonymous.json(&format!("/api/v1/posts/{id}")).await;
    assert_eq!(
        (
            seen["comment_count"].as_i64(),
            seen["reactions"]["total"].as_i64()
        ),
        (Some(2), Some(2))
    );

    // Notifications: ann hears of the follow, the comment and the reactions (the
    // mention of her own post is not told twice); bob of the reply and the reaction.
    let inbox = ann.json("/api/v1/notifications").await;
    let kinds: Vec<&str> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["reaction", "reaction", "comment", "follow"],
        "{inbox}"
    );
    assert_eq!(inbox["unread"], 4);
    assert_eq!(inbox["items"][2]["excerpt"], "Lovely, @ann! wow");
    assert_eq!(ann.json("/api/v1/notifications/unread").await["unread"], 4);
    let r = ann.post("/api/v1/notifications/read", json!({})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["unread"], 0);
    let bob_inbox = bob.json("/api/v1/notifications").await;
    let kinds: Vec<&str> = bob_inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["reaction", "reply"]);

    // Editing and deleting.
    let r = ann
        .patch(
            &format!("/api/v1/posts/{id}"),
            json!({"title": "Red dragon, again", "tags": ["red"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        titles(&anonymous.json("/api/v1/posts?tag=dragons").await),
        Vec::<String>::new()
    );
    let r = bob
        .patch(&format!("/api/v1/posts/{id}"), json!({"title": "mine"}))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = bob
        .patch(
            &format!("/api/v1/posts/{id}/comments/{comment_id}"),
            json!({"body": "Edited"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.json::<Value>().await.unwrap()["edited_at"].is_i64());
    let r = ann
        .delete(&format!("/api/v1/posts/{id}/comments/{comment_id}"))
        .await;
    assert_eq!(
        r.status(),
        StatusCode::NO_CONTENT,
        "authors remove comments under their posts"
    );
    assert_eq!(
        anonymous.json(&format!("/api/v1/posts/{id}")).await["comment_count"],
        0
    );

    // Trending: a newer post without reactions ranks below the engaged one.
    publish(&ann, "Quiet newer post", json!({})).await;
    assert_eq!(
        titles(&anonymous.json("/api/v1/feed?kind=latest").await)[0],
        "Quiet newer post"
    );
    let trending = titles(&anonymous.json("/api/v1/feed?kind=trending").await);
    assert_eq!(trending, ["Red dragon, again", "Quiet newer post"]);

    let r = ann.delete(&format!("/api/v1/posts/{id}")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        anonymous.get(&format!("/api/v1/posts/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        anonymous.get(thumb).await.status(),
        StatusCode::NOT_FOUND,
        "its file is private again"
    );
    assert_eq!(
        ann.get(thumb).await.status(),
        StatusCode::OK,
        "still in the owner's library"
    );
}

#[tokio::test]
async fn unverified_accounts_cannot_post() {
    let server = server().await;
    assert_eq!(
        server.signup("cleo", "cleo@example.org").await.status(),
        StatusCode::ACCEPTED
    );
    let cleo = server.login("cleo", support::PASSWORD).await;
    let asset = cleo.uploaded("a.png", png(8, 8, 1)).await;
    let p = problem(
        cleo.post(
            "/api/v1/posts",
            json!({"asset_id": asset["id"], "title": "hi"}),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("Verify your email"));
}

/// What the rate-limit test does once more each time, and to what.
struct Targets {
    asset_id: Value,
    post_id: String,
}

/// One community action of `api`'s user (`n` keeps posts and comments apart).
async fn act(api: &Api, action: &str, targets: &Targets, n: usize) -> reqwest::Response {
    let post = &targets.post_id;
    match action {
        "post" => {
            api.post(
                "/api/v1/posts",
                json!({"asset_id": targets.asset_id, "title": format!("post {n}")}),
            )
            .await
        }
        "comment" => {
            api.post(
                &format!("/api/v1/posts/{post}/comments"),
                json!({"body": format!("comment {n}")}),
            )
            .await
        }
        // A toggle: on, off, on...
        "react" => {
            api.post(
                &format!("/api/v1/posts/{post}/reactions"),
                json!({"kind": "like"}),
            )
            .await
        }
        // Following again is accepted (and counted) like the first time.
        "follow" => api.post("/api/v1/users/eve/follow", json!({})).await,
        "report" => {
            api.post(
                "/api/v1/reports",
                json!({"target_kind": "post", "target_id": post, "reason": "spam"}),
            )
            .await
        }
        _ => unreachable!("{action}"),
    }
}

/// Asserts that `action` is accepted `allowed` times, then refused with 429 and a
/// Retry-After within the hour.
async fn hits_limit(api: &Api, action: &str, targets: &Targets, allowed: usize) {
    for n in 0..allowed {
        let status = act(api, action, targets, n).await.status();
        assert!(
            status.is_success(),
            "{action} {} of {allowed}: {status}",
            n + 1
        );
    }
    let r = act(api, action, targets, allowed).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "{action} {} of {allowed}",
        allowed + 1
    );
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry), "{action}: Retry-After {retry}");
    let p = problem(r, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(p["detail"].as_str().unwrap().contains("Try again"), "{p}");
}

/// A server this test starts itself on the harness's port and data dir (with flags the
/// harness does not pass), stopped when dropped.
struct OwnServer(std::process::Child);

impl OwnServer {
    /// Stops the harness's server and starts one with the global flags `flags`.
    async fn replace(server: &mut Server, flags: &[&str]) -> Self {
        server.kill9();
        let child = server
            .command()
            .args(flags)
            .args(["serve", "--listen"])
            .arg(format!("127.0.0.1:{}", server.port))
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut own = OwnServer(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/readyz", server.url)).await
                && r.status() == StatusCode::OK
            {
                return own;
            }
            assert!(
                own.0.try_wait().unwrap().is_none(),
                "the server exited during start"
            );
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Per hour: (action, new accounts, established accounts), as `community::Action::limits`.
const LIMITS: [(&str, usize, usize); 5] = [
    ("post", 5, 30),
    ("comment", 20, 120),
    ("react", 120, 600),
    ("follow", 30, 200),
    ("report", 10, 30),
];

#[tokio::test]
async fn new_accounts_get_stricter_rate_limits_until_established() {
    // The default: accounts are new for 24 hours.
    let mut server = Server::start().await;
    let dan = server.verified_user("dan").await;
    let eve = server.verified_user("eve").await;
    let targets = Targets {
        asset_id: dan.uploaded("a.png", png(8, 8, 2)).await["id"].clone(),
        post_id: publish(&eve, "Target", json!({})).await["id"]
            .as_str()
            .unwrap()
            .to_string(),
    };
    for (action, new, _) in LIMITS {
        hits_limit(&dan, action, &targets, new).await;
    }

    // A day and an hour later (the hidden clock flag; the restart also forgets the hour's
    // counts) dan's account is established and gets the higher limits...
    let _later = OwnServer::replace(&mut server, &["--clock-offset", "90000"]).await;
    let dan = server.login("dan", support::PASSWORD).await;
    for (action, _, established) in LIMITS {
        hits_limit(&dan, action, &targets, established).await;
    }
    // ...while an account made now is new by the same clock.
    let finn = server.verified_user("finn").await;
    hits_limit(&finn, "comment", &targets, 20).await;
}

/// Who looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Viewer {
    Anonymous,
    Other,
    Follower,
    Blocked,
    Owner,
}

/// What of the owner's is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Public,
    Unlisted,
    Followers,
    /// Public at first (people were told of it), then made followers-only.
    Turned,
    Hidden,
    Removed,
    Deleted,
}

/// Whether `viewer` may see `content` through a list (feeds, search, profile) or by
/// its link (the post, its comments, its files, notifications about it).
fn expected(content: Content, viewer: Viewer, by_link: bool) -> bool {
    use Content::*;
    use Viewer::*;
    match (content, viewer) {
        (_, Blocked) | (Deleted | Removed, _) => false,
        (Public, _) => true,
        (Unlisted, _) => by_link || viewer == Owner,
        (Followers | Turned, Follower | Owner) => true,
        (Followers | Turned, _) => false,
        (Hidden, Owner) => true,
        (Hidden, _) => false,
    }
}

#[tokio::test]
async fn visibility_matrix() {
    let server = server().await;
    let admin = server.admin().await;
    let owner = server.verified_user("olga").await;
    let follower = server.verified_user("fred").await;
    let other = server.verified_user("xena").await;
    let blocked = server.verified_user("kurt").await;
    let anonymous = server.api();
    follower.post("/api/v1/users/olga/follow", json!({})).await;
    blocked.post("/api/v1/users/olga/follow", json!({})).await;
    assert!(
        caused_by(&unread_inbox(&owner).await, "kurt"),
        "olga was told of kurt's follow"
    );
    let r = owner
        .post("/api/v1/blocks", json!({"username": "kurt"}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Sid, to be suspended, follows olga and is followed by fred.
    let suspended = server.verified_user("sid").await;
    for (api, whom) in [(&suspended, "olga"), (&follower, "sid")] {
        let r = api
            .post(&format!("/api/v1/users/{whom}/follow"), json!({}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    let mut posts = Vec::new();
    for (content, visibility) in [
        (Content::Public, "public"),
        (Content::Unlisted, "unlisted"),
        (Content::Followers, "followers"),
        (Content::Turned, "public"),
        (Content::Hidden, "public"),
        (Content::Removed, "public"),
        (Content::Deleted, "public"),
    ] {
        let title = format!("zebra {content:?}");
        let post = publish(
            &owner,
            &title,
            json!({"visibility": visibility, "tags": ["zebra"]}),
        )
        .await;
        posts.push((content, post));
    }
    let post_of = |content: Content| &posts.iter().find(|(c, _)| *c == content).unwrap().1;
    let id_of = |content: Content| post_of(content)["id"].as_str().unwrap().to_string();
    let sid_post = publish(&suspended, "zebra Suspended", json!({})).await;
    let sid_post_id = sid_post["id"].as_str().unwrap().to_string();

    // Notifications about every post while it can still be seen: olga mentions xena,
    // fred and kurt (blocked: never told), fred reacts, xena comments where she may.
    for (content, post) in &posts {
        let id = post["id"].as_str().unwrap();
        let comments = format!("/api/v1/posts/{id}/comments");
        created(
            owner
                .post(&comments, json!({"body": "ping @xena @fred @kurt"}))
                .await,
        )
        .await;
        react(&follower, id, json!({"kind": "like"})).await;
        let r = other.post(&comments, json!({"body": "seen"})).await;
        let may = *content != Content::Followers;
        assert_eq!(r.status().is_success(), may, "xena comments on {content:?}");
    }
    // On the public post: comments moderators will hide and remove, and the doings of
    // sid; on sid's post, a mention of fred.
    let public_id = id_of(Content::Public);
    let public_comments = format!("/api/v1/posts/{public_id}/comments");
    let hidden_comment = created(
        follower
            .post(&public_comments, json!({"body": "look @xena"}))
            .await,
    )
    .await;
    react(
        &owner,
        &public_id,
        json!({"kind": "love", "comment_id": hidden_comment["id"]}),
    )
    .await;
    let removed_comment = created(
        other
            .post(&public_comments, json!({"body": "buy now @fred"}))
            .await,
    )
    .await;
    let sid_comment = created(
        suspended
            .post(&public_comments, json!({"body": "hello @xena"}))
            .await,
    )
    .await;
    react(&suspended, &public_id, json!({"kind": "fire"})).await;
    created(
        other
            .post(
                &format!("/api/v1/posts/{sid_post_id}/comments"),
                json!({"body": "see this @fred"}),
            )
            .await,
    )
    .await;

    // Before anything is hidden, everyone was told, counts count it and files are public:
    // what follows can only pass by taking them away.
    let xena_inbox = unread_inbox(&other).await;
    let fred_inbox = unread_inbox(&follower).await;
    let olga_inbox = unread_inbox(&owner).await;
    for content in [
        Content::Public,
        Content::Unlisted,
        Content::Turned,
        Content::Hidden,
        Content::Removed,
        Content::Deleted,
    ] {
        assert!(
            about_post(&xena_inbox, &id_of(content)),
            "xena: {content:?}"
        );
        assert!(
            about_post(&olga_inbox, &id_of(content)),
            "olga: {content:?}"
        );
    }
    assert!(
        !about_post(&xena_inbox, &id_of(Content::Followers)),
        "xena is not told of a followers-only post"
    );
    assert!(about_post(&fred_inbox, &id_of(Content::Followers)));
    assert!(
        about_comment(&xena_inbox, &hidden_comment) && about_comment(&xena_inbox, &sid_comment)
    );
    assert!(
        about_comment(&fred_inbox, &hidden_comment) && about_comment(&fred_inbox, &removed_comment)
    );
    assert!(about_post(&fred_inbox, &sid_post_id));
    assert!(caused_by(&olga_inbox, "sid") && !caused_by(&olga_inbox, "kurt"));
    let public = anonymous.json(&format!("/api/v1/posts/{public_id}")).await;
    assert_eq!(
        (
            public["comment_count"].as_i64(),
            public["reactions"]["total"].as_i64()
        ),
        (Some(5), Some(2))
    );
    assert_eq!(anonymous.json("/api/v1/users/olga").await["followers"], 2);
    assert_eq!(anonymous.json("/api/v1/users/fred").await["following"], 2);
    for (content, post) in &posts {
        let public = *content != Content::Followers;
        assert_files(&anonymous, post, public, &format!("{content:?} at first")).await;
    }
    assert_files(&anonymous, &sid_post, true, "sid's post at first").await;

    // Each way of hiding a post takes its files from anonymous visitors at once.
    let r = owner
        .patch(
            &format!("/api/v1/posts/{}", id_of(Content::Turned)),
            json!({"visibility": "followers"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let turned = post_of(Content::Turned);
    assert_files(&anonymous, turned, false, "made followers-only").await;
    assert_files(&follower, turned, true, "made followers-only, a follower").await;
    for (content, decision) in [(Content::Hidden, "hide"), (Content::Removed, "remove")] {
        let post = post_of(content);
        report_and_decide(&other, &admin, "post", &post["id"], decision).await;
        assert_files(&anonymous, post, false, decision).await;
    }
    let r = owner
        .delete(&format!("/api/v1/posts/{}", id_of(Content::Deleted)))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_files(&anonymous, post_of(Content::Deleted), false, "deleted").await;
    report_and_decide(&owner, &admin, "comment", &hidden_comment["id"], "hide").await;
    report_and_decide(&owner, &admin, "comment", &removed_comment["id"], "remove").await;
    report_and_decide(&other, &admin, "user", &json!("sid"), "suspend").await;
    assert_files(&anonymous, &sid_post, false, "suspended author").await;
    // A private asset, never shared.
    let private = owner.uploaded("private.png", png(16, 16, 99)).await;

    // The search index holds the public post before absence means anything.
    search_until(&anonymous, "q=zebra", |found| found == ["zebra Public"]).await;

    let viewers = [
        (Viewer::Anonymous, &anonymous),
        (Viewer::Other, &other),
        (Viewer::Follower, &follower),
        (Viewer::Blocked, &blocked),
        (Viewer::Owner, &owner),
    ];
    for (viewer, api) in viewers {
        let signed_in = viewer != Viewer::Anonymous;
        let latest = titles(&api.json("/api/v1/feed?kind=latest").await);
        let trending = titles(&api.json("/api/v1/feed?kind=trending").await);
        let following = if signed_in {
            titles(&api.json("/api/v1/feed?kind=following").await)
        } else {
            Vec::new()
        };
        let searched = titles(&api.json("/api/v1/search?q=zebra").await);
        let tagged = titles(&api.json("/api/v1/posts?tag=zebra").await);
        let notifications = if signed_in {
            unread_inbox(api).await
        } else {
            Vec::new()
        };
        let profile = api.get("/api/v1/users/olga").await;
        let (profile_titles, profile_count) = if profile.status() == StatusCode::OK {
            let profile: Value = profile.json().await.unwrap();
            let followers = api.json("/api/v1/users/olga/followers").await;
            assert_eq!(
                (profile["followers"].clone(), usernames(&followers)),
                (json!(1), vec!["fred".to_string()]),
                "{viewer:?}: kurt's follow went with the block, sid's is not counted"
            );
            let count = profile["posts"].as_i64().unwrap();
            (titles(&api.json("/api/v1/posts?author=olga").await), count)
        } else {
            assert_eq!(
                viewer,
                Viewer::Blocked,
                "only the blocked user misses the profile"
            );
            (Vec::new(), 0)
        };
        assert_eq!(
            profile_titles.len() as i64,
            profile_count,
            "{viewer:?}: the count matches the list"
        );
        for (content, post) in &posts {
            let title = post["title"].as_str().unwrap().to_string();
            let listed = |list: &[String]| list.contains(&title);
            let public_listing = *content == Content::Public && expected(*content, viewer, false);
            let case = format!("{viewer:?} / {content:?}");
            assert_eq!(listed(&latest), public_listing, "latest: {case}");
            assert_eq!(listed(&trending), public_listing, "trending: {case}");
            assert_eq!(listed(&searched), public_listing, "search: {case}");
            assert_eq!(listed(&tagged), public_listing, "tag: {case}");
            let in_following = expected(*content, viewer, false)
                && viewer == Viewer::Follower
                && matches!(
                    content,
                    Content::Public | Content::Followers | Content::Turned
                );
            assert_eq!(listed(&following), in_following, "following: {case}");
            assert_eq!(
                listed(&profile_titles),
                expected(*content, viewer, false),
                "profile: {case}"
            );
            let id = post["id"].as_str().unwrap();
            let direct = api.get(&format!("/api/v1/posts/{id}")).await.status();
            let by_link = expected(*content, viewer, true);
            assert_eq!(
                direct == StatusCode::OK,
                by_link,
                "link: {case} got {direct}"
            );
            let comments = api
                .get(&format!("/api/v1/posts/{id}/comments"))
                .await
                .status();
            assert_eq!(comments == StatusCode::OK, by_link, "comments: {case}");
            let owns_file = viewer == Viewer::Owner;
            assert_files(api, post, by_link || owns_file, &case).await;
            assert_eq!(
                about_post(&notifications, id),
                signed_in && by_link,
                "notifications: {case}"
            );
        }
        for title in ["zebra Suspended"] {
            for list in [&latest, &trending, &searched, &tagged] {
                assert!(
                    !list.contains(&title.to_string()),
                    "{viewer:?} sees the suspended author's post"
                );
            }
        }
        let sid = api.get(&format!("/api/v1/posts/{sid_post_id}")).await;
        assert_eq!(sid.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            api.get("/api/v1/users/sid").await.status(),
            StatusCode::NOT_FOUND
        );
        assert_files(api, &sid_post, false, &format!("{viewer:?} / sid's post")).await;
        let file = api
            .get(private["thumbnail_url"].as_str().unwrap())
            .await
            .status();
        assert_eq!(
            file == StatusCode::OK,
            viewer == Viewer::Owner,
            "private file: {viewer:?}"
        );

        // Notifications: nothing by sid (suspended) or kurt (blocked), nothing about sid's
        // post or the hidden and removed comments (their mentions, replies, reactions).
        let case = format!("notifications of {viewer:?}");
        assert!(!caused_by(&notifications, "sid"), "{case}");
        assert!(!caused_by(&notifications, "kurt"), "{case}");
        assert!(!about_post(&notifications, &sid_post_id), "{case}");
        for comment in [&hidden_comment, &removed_comment, &sid_comment] {
            assert!(
                !about_comment(&notifications, comment),
                "{case}: {}",
                comment["body"]
            );
        }

        // Counts: the public post's comments and reactions leave out the moderated
        // comments and sid's; fred's followees leave out sid; a tag counts what its list
        // shows.
        if expected(Content::Public, viewer, true) {
            let seen = api.json(&format!("/api/v1/posts/{public_id}")).await;
            let thread = api.json(&public_comments).await;
            let bodies: Vec<&str> = thread["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["body"].as_str().unwrap())
                .collect();
            assert_eq!(bodies, ["ping @xena @fred @kurt", "seen"], "{viewer:?}");
            assert_eq!(
                (
                    seen["comment_count"].as_i64(),
                    seen["reactions"]["total"].as_i64()
                ),
                (Some(2), Some(1)),
                "{viewer:?}: counts of the public post"
            );
        }
        let fred = api.json("/api/v1/users/fred").await;
        let followees = usernames(&api.json("/api/v1/users/fred/following").await);
        assert_eq!(fred["following"].as_i64(), Some(followees.len() as i64));
        let olga_visible = viewer != Viewer::Blocked;
        assert_eq!(
            followees,
            if olga_visible { vec!["olga"] } else { vec![] },
            "{viewer:?}: fred's followees"
        );
        let tags = api.json("/api/v1/search?q=zebra&type=tags").await;
        let tag_count = tags["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["tag"] == "zebra")
            .map_or(0, |t| t["posts"].as_i64().unwrap());
        assert_eq!(
            tag_count,
            tagged.len() as i64,
            "{viewer:?}: the tag's count matches its list"
        );
        let people = titles(&api.json("/api/v1/search?q=olga&type=users").await);
        assert_eq!(
            people.contains(&"olga".to_string()),
            olga_visible,
            "{viewer:?}"
        );
        let people = titles(&api.json("/api/v1/search?q=sid&type=users").await);
        assert!(!people.contains(&"sid".to_string()), "{viewer:?}");
    }

    // The sitemap lists only what anyone may find.
    let sitemap = anonymous.get("/sitemap.xml").await.text().await.unwrap();
    for (content, post) in &posts {
        let listed = sitemap.contains(post["id"].as_str().unwrap());
        assert_eq!(listed, *content == Content::Public, "sitemap: {content:?}");
    }
    assert!(!sitemap.contains(&sid_post_id) && !sitemap.contains("/u/sid"));

    // The blocked user can neither follow, comment, react nor be mentioned.
    assert_eq!(
        blocked
            .post("/api/v1/users/olga/follow", json!({}))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let r = blocked.post(&public_comments, json!({"body": "hi"})).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = blocked
        .post(
            &format!("/api/v1/posts/{public_id}/reactions"),
            json!({"kind": "like"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    other
        .post(&public_comments, json!({"body": "look @kurt and @fred"}))
        .await;
    assert_eq!(
        unread_inbox(&blocked).await,
        Vec::<Value>::new(),
        "no notification about content kurt cannot see"
    );
    let fred_inbox = follower.json("/api/v1/notifications").await;
    assert_eq!(fred_inbox["items"][0]["kind"], "mention");

    // Counts and notifications leave out people the viewer blocked: xena blocks fred
    // after his comment (mentioning her) and reaction.
    follower
        .post(&public_comments, json!({"body": "from fred, @xena"}))
        .await;
    follower
        .post(
            &format!("/api/v1/posts/{public_id}/reactions"),
            json!({"kind": "wow"}),
        )
        .await;
    let before = other.json(&format!("/api/v1/posts/{public_id}")).await;
    assert!(caused_by(&unread_inbox(&other).await, "fred"));
    other
        .post("/api/v1/blocks", json!({"username": "fred"}))
        .await;
    let after = other.json(&format!("/api/v1/posts/{public_id}")).await;
    assert_eq!(
        after["comment_count"].as_i64().unwrap(),
        before["comment_count"].as_i64().unwrap() - 1
    );
    assert_eq!(
        after["reactions"]["total"].as_i64().unwrap(),
        before["reactions"]["total"].as_i64().unwrap() - 2,
        "fred's like and wow"
    );
    assert!(
        !caused_by(&unread_inbox(&other).await, "fred"),
        "nor is fred's mention counted"
    );
    let thread = other.json(&public_comments).await;
    assert!(
        thread["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["body"] != "from fred, @xena")
    );
    assert_eq!(
        other.get("/api/v1/users/fred").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        follower.get("/api/v1/users/xena").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn moderators_work_the_report_queue_with_an_audit_trail() {
    let server = server().await;
    let admin = server.admin().await;
    let ann = server.verified_user("ann").await;
    let bob = server.verified_user("bob").await;
    let post = publish(&ann, "Spammy", json!({})).await;
    let id = post["id"].as_str().unwrap();
    let r = bob
        .post(
            "/api/v1/reports",
            json!({"target_kind": "post", "target_id": id, "reason": "bad"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = bob
        .post(
            "/api/v1/reports",
            json!({"target_kind": "post", "target_id": "missing", "reason": "spam"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    for _ in 0..2 {
        let r = bob
            .post(
                "/api/v1/reports",
                json!({"target_kind": "post", "target_id": id, "reason": "spam", "details": "ads"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    assert_eq!(
        bob.get("/api/v1/reports").await.status(),
        StatusCode::FORBIDDEN
    );
    let queue = admin.json("/api/v1/reports").await;
    assert_eq!(queue.as_array().unwrap().len(), 2);
    assert_eq!(queue[0]["target"]["text"], "Spammy");
    assert_eq!(queue[0]["open_reports"], 2);
    assert_eq!(queue[0]["reporter"], "bob");
    let report = queue[0]["id"].as_str().unwrap();

    // A moderator (made by the admin) hides it: both reports close, the audit log says so.
    let users = admin.json("/api/v1/admin/users?q=bob").await;
    let bob_id = users["items"][0]["id"].as_str().unwrap();
    let r = admin
        .patch(
            &format!("/api/v1/admin/users/{bob_id}"),
            json!({"role": "moderator"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = bob
        .post(
            &format!("/api/v1/reports/{report}/resolve"),
            json!({"decision": "hide", "note": "ads"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(admin.json("/api/v1/reports").await, json!([]));
    let resolved = admin.json("/api/v1/reports?status=resolved").await;
    assert_eq!(resolved[0]["target"]["state"], "hidden");
    assert_eq!(resolved[0]["resolution"], "hide: ads");
    let audit = admin.json("/api/v1/admin/audit").await;
    assert!(audit.to_string().contains("moderation.hide"), "{audit}");
    assert_eq!(
        server
            .api()
            .get(&format!("/api/v1/posts/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let own = ann.json(&format!("/api/v1/posts/{id}")).await;
    assert_eq!(own["moderation"], "hidden");
    // Comments are moderated the same way.
    let other = publish(&ann, "Clean post", json!({})).await;
    let other_id = other["id"].as_str().unwrap();
    let r = bob
        .post(
            &format!("/api/v1/posts/{other_id}/comments"),
            json!({"body": "buy cheap watches"}),
        )
        .await;
    let spam: Value = r.json().await.unwrap();
    report_and_decide(&ann, &admin, "comment", &spam["id"], "remove").await;
    let thread = server
        .api()
        .json(&format!("/api/v1/posts/{other_id}/comments"))
        .await;
    assert_eq!(thread["items"], json!([]));
    assert_eq!(
        server
            .api()
            .json(&format!("/api/v1/posts/{other_id}"))
            .await["comment_count"],
        0
    );

    // Moderators cannot suspend an administrator.
    let r = ann
        .post(
            "/api/v1/reports",
            json!({"target_kind": "user", "target_id": "boss", "reason": "other"}),
        )
        .await;
    let report: Value = r.json().await.unwrap();
    let r = bob
        .post(
            &format!("/api/v1/reports/{}/resolve", report["id"].as_str().unwrap()),
            json!({"decision": "suspend"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn community_mail_comes_instantly_with_one_click_unsubscribe() {
    let server = server().await;
    let ann = server.verified_user("ann").await;
    let bob = server.verified_user("bob").await;
    let r = ann
        .put("/api/v1/me/notifications", json!({"community": "instant"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let settings: Value = r.json().await.unwrap();
    assert_eq!(
        settings,
        json!({"generation_done": false, "community": "instant"})
    );
    let post = publish(&ann, "Teapot", json!({})).await;
    bob.post(
        &format!("/api/v1/posts/{}/comments", post["id"].as_str().unwrap()),
        json!({"body": "Nice teapot"}),
    )
    .await;
    let mail = server.smtp.wait_for("ann@example.org", "commented");
    assert!(mail.text.contains("Nice teapot"), "{}", mail.text);
    let unsubscribe = mail.header("List-Unsubscribe").unwrap();
    assert_eq!(
        mail.header("List-Unsubscribe-Post").unwrap(),
        "List-Unsubscribe=One-Click"
    );
    let url = unsubscribe
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string();
    let r = reqwest::Client::new()
        .post(&url)
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        ann.json("/api/v1/me/notifications").await["community"],
        "off"
    );
}

#[tokio::test]
async fn the_daily_digest_collects_notifications_in_one_mail_a_day() {
    let server = server().await;
    let ann = server.verified_user("ann").await;
    let bob = server.verified_user("bob").await;
    let r = ann
        .put("/api/v1/me/notifications", json!({"community": "daily"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let post = publish(&ann, "Teapot", json!({})).await;
    let comments = format!("/api/v1/posts/{}/comments", post["id"].as_str().unwrap());
    bob.post(&comments, json!({"body": "First!"})).await;
    bob.post("/api/v1/users/ann/follow", json!({})).await;
    let digest = server
        .smtp
        .wait_for("ann@example.org", "Your StrataMake day");
    assert!(digest.text.contains("First!"), "{}", digest.text);
    assert!(digest.header("List-Unsubscribe-Post").is_some());
    // Later notifications wait for tomorrow's digest (the mailer looks every 5 s).
    bob.post(&comments, json!({"body": "Second!"})).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(
        server.smtp.count_to("ann@example.org"),
        2,
        "the verification mail and one digest"
    );
}

#[tokio::test]
async fn search_forgives_typos_completes_prefixes_and_filters() {
    let server = server().await;
    let ann = server.verified_user("annabel").await;
    let bob = server.verified_user("bob").await;
    publish(
        &ann,
        "Emerald dragon",
        json!({"description": "Scales of *green* glass", "tags": ["fantasy"]}),
    )
    .await;
    publish(&ann, "Harbour at dawn", json!({"tags": ["landscape"]})).await;
    // A second later, so that "newest" has an order to show.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = publish(
        &bob,
        "Dragonfly wings",
        json!({"tags": ["insects", "fantasy"]}),
    )
    .await;

    search_until(&bob, "q=drag", |t| t.len() == 2).await;
    let page = bob.json("/api/v1/search?q=dargon%20emerald").await;
    assert_eq!(
        titles(&page),
        ["Emerald dragon"],
        "a transposition is forgiven"
    );
    assert!(
        page["items"][0]["title_html"]
            .as_str()
            .unwrap()
            .contains("<mark>dragon</mark>")
    );
    let page = bob.json("/api/v1/search?q=harbor%20dawn").await;
    assert_eq!(
        titles(&page),
        ["Harbour at dawn"],
        "a missing letter is forgiven"
    );
    let page = bob.json("/api/v1/search?q=dargon").await;
    assert_eq!(
        titles(&page)[0],
        "Emerald dragon",
        "the whole word ranks above a prefix"
    );
    let page = bob.json("/api/v1/search?q=drag").await;
    assert_eq!(titles(&page).len(), 2, "the last word is a prefix: {page}");
    let page = bob.json("/api/v1/search?q=drag&sort=newest").await;
    assert_eq!(titles(&page), ["Dragonfly wings", "Emerald dragon"]);
    let page = bob.json("/api/v1/search?q=green%20glas").await;
    assert_eq!(
        titles(&page),
        ["Emerald dragon"],
        "description words, prefix on the last"
    );
    assert!(
        page["items"][0]["snippet_html"]
            .as_str()
            .unwrap()
            .contains("<mark>green</mark>")
    );
    assert_eq!(
        titles(&bob.json("/api/v1/search?q=drag&kind=model").await),
        Vec::<String>::new()
    );
    assert_eq!(
        titles(&bob.json("/api/v1/search?q=drag&kind=image").await).len(),
        2
    );
    assert_eq!(
        bob.get("/api/v1/search?q=drag&kind=sound").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    for hostile in [
        "%22",
        "%3A%28*",
        "%5C",
        "%F0%9F%90%89",
        "a%20b%20c%20d%20e%20f%20g%20h%20i%20j%20k%20l%20m%20n%20o%20p%20q%20r",
    ] {
        let r = bob.get(&format!("/api/v1/search?q={hostile}")).await;
        assert_eq!(r.status(), StatusCode::OK, "{hostile}");
    }

    let people = bob.json("/api/v1/search?q=anab&type=users").await;
    assert_eq!(
        people["items"][0]["user"]["username"], "annabel",
        "{people}"
    );
    let tags = search_until(&bob, "q=fanta&type=tags", |_| true).await;
    assert_eq!(tags["items"][0]["tag"], "fantasy", "{tags}");
    assert_eq!(tags["items"][0]["posts"], 2);

    // A post turned followers-only leaves anonymous results at once.
    let emerald = &titles(&bob.json("/api/v1/search?q=emerald").await)[0];
    assert_eq!(emerald, "Emerald dragon");
    let page = bob.json("/api/v1/search?q=emerald").await;
    let emerald_id = page["items"][0]["post"]["id"].as_str().unwrap().to_string();
    let r = ann
        .patch(
            &format!("/api/v1/posts/{emerald_id}"),
            json!({"visibility": "followers"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        titles(&server.api().json("/api/v1/search?q=emerald").await),
        Vec::<String>::new()
    );

    // A deleted post is gone from results at once, before the index commits.
    let id = later["id"].as_str().unwrap();
    assert_eq!(
        bob.delete(&format!("/api/v1/posts/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        titles(&bob.json("/api/v1/search?q=dragonfly").await),
        Vec::<String>::new()
    );

    // A 3D model shared as a post is found with kind=model, and only there.
    let model = ann.uploaded("crane.stl", tetrahedron_stl()).await;
    assert_eq!(model["kind"], "model");
    let r = ann
        .post(
            "/api/v1/posts",
            json!({"asset_id": model["id"], "title": "Harbour crane", "tags": ["landscape"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let mut both = titles(&search_until(&bob, "q=harbour", |t| t.len() == 2).await);
    both.sort();
    assert_eq!(both, ["Harbour at dawn", "Harbour crane"]);
    let models = bob.json("/api/v1/search?q=harbour&kind=model").await;
    assert_eq!(titles(&models), ["Harbour crane"]);
    assert_eq!(models["items"][0]["post"]["media"]["kind"], "model");
    assert_eq!(
        titles(&bob.json("/api/v1/search?q=harbour&kind=image").await),
        ["Harbour at dawn"]
    );
    assert_eq!(
        titles(&bob.json("/api/v1/search?q=crane&kind=image").await),
        Vec::<String>::new()
    );
    assert_eq!(
        titles(&bob.json("/api/v1/search?q=crane&kind=model").await),
        ["Harbour crane"]
    );
}

/// A closed tetrahedron with 10 mm edges along the axes, as binary STL.
fn tetrahedron_stl() -> Vec<u8> {
    let [a, b, c, d] = [
        [0.0f32, 0.0, 0.0],
        [10.0, 0.0, 0.0],
        [0.0, 10.0, 0.0],
        [0.0, 0.0, 10.0],
    ];
    // Counter-clockwise seen from outside.
    let faces = [[a, c, b], [a, b, d], [a, d, c], [b, c, d]];
    let mut stl = vec![0u8; 80];
    stl.extend_from_slice(&(faces.len() as u32).to_le_bytes());
    for face in faces {
        stl.extend_from_slice(&[0u8; 12]);
        for corner in face {
            for coordinate in corner {
                stl.extend_from_slice(&coordinate.to_le_bytes());
            }
        }
        stl.extend_from_slice(&[0u8; 2]);
    }
    stl
}

#[tokio::test]
async fn an_acknowledged_post_survives_kill9_and_is_found_after_restart() {
    let mut server = server().await;
    let ann = server.verified_user("ann").await;
    let asset = ann.uploaded("a.png", png(8, 8, 3)).await;
    let r = ann
        .post(
            "/api/v1/posts",
            json!({"asset_id": asset["id"], "title": "Unsinkable kettle"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    server.kill9();
    server.restart().await;
    let page = search_until(&server.api(), "q=unsinkable", |t| {
        t == ["Unsinkable kettle"]
    })
    .await;
    assert_eq!(titles(&page), ["Unsinkable kettle"]);
}

/// Posts the reindex test writes into the database directly.
const SEEDED: usize = 20_000;

/// Inserts `count` public posts by `username` of their first asset, titled "Lantern N",
/// and takes their entries out of the search outbox in the same transaction.
fn seed_unindexed_posts(server: &Server, username: &str, count: usize) {
    let mut db = server.db();
    db.busy_timeout(Duration::from_secs(30)).unwrap();
    let tx = db
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let (author, asset): (String, String) = tx
        .query_row(
            "SELECT u.id, a.id FROM users u JOIN assets a ON a.user_id = u.id
             WHERE u.username = ?1 ORDER BY a.created_at LIMIT 1",
            [username],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let last: i64 = tx
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM search_outbox", [], |r| {
            r.get(0)
        })
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO posts (id, user_id, asset_id, title, description, visibility, hot,
                                    created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 'A seeded post.', 'public',
                         ?5, ?5, ?5)",
            )
            .unwrap();
        for n in 0..count {
            let created = now - 3600 - n as i64;
            insert
                .execute(rusqlite::params![
                    format!("seeded{n:07}"),
                    author,
                    asset,
                    format!("Lantern {n}"),
                    created
                ])
                .unwrap();
        }
    }
    let taken = tx
        .execute("DELETE FROM search_outbox WHERE seq > ?1", [last])
        .unwrap();
    assert_eq!(taken, count);
    tx.commit().unwrap();
}

#[tokio::test]
async fn a_corrupt_index_is_rebuilt_at_start_and_reindex_keeps_answering() {
    let mut server = server().await;
    let ann = server.verified_user("ann").await;
    publish(&ann, "Copper kettle", json!({})).await;
    search_until(&server.api(), "q=copper", |t| t == ["Copper kettle"]).await;
    server.kill9();
    let index = server.data_dir().join("index");
    let current = std::fs::read_to_string(index.join("CURRENT")).unwrap();
    for entry in std::fs::read_dir(index.join(current.trim())).unwrap() {
        let path = entry.unwrap().path();
        std::fs::write(&path, b"garbage").unwrap();
    }
    server.restart().await;
    assert_eq!(server.api().get("/healthz").await.status(), StatusCode::OK);
    let page = search_until(&server.api(), "q=copper", |t| t == ["Copper kettle"]).await;
    assert_eq!(
        titles(&page),
        ["Copper kettle"],
        "rebuilt from the database"
    );

    // Enough posts that a rebuild takes a while, written straight into the database (as
    // a restored backup would hold them) and kept from the index's outbox: only a
    // rebuild finds them.
    seed_unindexed_posts(&server, "ann", SEEDED);
    assert_eq!(
        titles(&server.api().json("/api/v1/search?q=lantern").await),
        Vec::<String>::new()
    );

    // Searches go on from before the reindex command until the rebuild is over.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let searcher = tokio::spawn({
        let api = server.api();
        let stop = stop.clone();
        async move {
            let mut answers = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = api.get("/api/v1/search?q=copper").await;
                let status = r.status();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                answers.push((status, body));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            answers
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut reindex = server.command();
    reindex.args(["search", "reindex"]);
    let out = tokio::task::spawn_blocking(move || reindex.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("rebuilding"));
    let lanterns = search_until(&server.api(), "q=lantern", |t| t.len() == 20).await;
    assert_eq!(titles(&lanterns).len(), 20, "the rebuild read the database");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answers = searcher.await.unwrap();
    let mut while_rebuilding = 0;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "{body}");
        assert_eq!(titles(body), ["Copper kettle"], "{body}");
        if body["indexing"] == true {
            while_rebuilding += 1;
        }
    }
    assert!(
        while_rebuilding > 0,
        "no search was answered during the rebuild ({} in all)",
        answers.len()
    );
    let page = server.api().json("/api/v1/search?q=copper").await;
    assert_eq!(
        (titles(&page), page["indexing"].clone()),
        (vec!["Copper kettle".to_string()], json!(false))
    );

    server.kill9();
    let out = server
        .command()
        .args(["search", "reindex"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains("documents"), "{said}");
}

#[tokio::test]
async fn public_pages_read_without_javascript_and_the_sitemap_lists_public_content() {
    let server = server().await;
    let ann = server.verified_user("ann").await;
    let fred = server.verified_user("fred").await;
    fred.post("/api/v1/users/ann/follow", json!({})).await;
    let public = publish(
        &ann,
        "Glass <script>alert(1)</script> owl",
        json!({"description": "An owl of **blown glass**.", "tags": ["owls"]}),
    )
    .await;
    let unlisted = publish(&ann, "Unlisted owl", json!({"visibility": "unlisted"})).await;
    let followers = publish(&ann, "Followers owl", json!({"visibility": "followers"})).await;
    let anonymous = server.api();
    let page_of = |post: &Value| format!("/p/{}", post["id"].as_str().unwrap());

    let r = anonymous.get(&page_of(&public)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<h1>Glass &lt;script&gt;alert(1)&lt;/script&gt; owl</h1>"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("<strong>blown glass</strong>"));
    let canonical = format!(
        "<link rel=\"canonical\" href=\"{}{}\">",
        server.url,
        page_of(&public)
    );
    assert!(html.contains(&canonical), "{html}");
    assert!(html.contains("<meta property=\"og:title\" content=\"Glass &lt;script&gt;"));
    let image = format!(
        "<meta property=\"og:image\" content=\"{}{}\">",
        server.url,
        public["media"]["preview_url"].as_str().unwrap()
    );
    assert!(html.contains(&image), "{html}");
    assert!(html.contains("twitter:card"));
    assert!(html.contains("An owl of blown glass."), "description meta");
    assert!(!html.contains("noindex"));

    let r = anonymous.get(&page_of(&unlisted)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-robots-tag"], "noindex");
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("<meta name=\"robots\" content=\"noindex\">")
    );
    assert_eq!(
        anonymous.get(&page_of(&followers)).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        fred.get(&page_of(&followers)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        anonymous.get("/p/missing").await.status(),
        StatusCode::NOT_FOUND
    );

    let r = anonymous.get("/u/ann").await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("@ann"));
    assert!(html.contains("1 followers"));
    assert!(html.contains("Glass &lt;script&gt;alert(1)&lt;/script&gt; owl"));
    assert!(!html.contains("Unlisted owl") && !html.contains("Followers owl"));
    assert!(html.contains("og:type\" content=\"profile\""));
    assert_eq!(
        anonymous.get("/u/nobody").await.status(),
        StatusCode::NOT_FOUND
    );

    let sitemap = anonymous.get("/sitemap.xml").await;
    assert_eq!(sitemap.status(), StatusCode::OK);
    let sitemap = sitemap.text().await.unwrap();
    assert!(sitemap.contains(&format!("<loc>{}{}</loc>", server.url, page_of(&public))));
    assert!(sitemap.contains(&format!("<loc>{}/u/ann</loc>", server.url)));
    assert!(!sitemap.contains(unlisted["id"].as_str().unwrap()));
    assert!(!sitemap.contains(followers["id"].as_str().unwrap()));
    assert!(
        !sitemap.contains("/u/fred"),
        "people without public posts are not listed"
    );
    let robots = anonymous.get("/robots.txt").await.text().await.unwrap();
    assert!(robots.contains(&format!("Sitemap: {}/sitemap.xml", server.url)));
    assert!(robots.contains("Disallow: /api/"));

    // Deleting takes it off the page and the sitemap at once.
    ann.delete(&page_of(&public).replace("/p/", "/api/v1/posts/"))
        .await;
    assert_eq!(
        anonymous.get(&page_of(&public)).await.status(),
        StatusCode::NOT_FOUND
    );
    let sitemap = anonymous.get("/sitemap.xml").await.text().await.unwrap();
    assert!(!sitemap.contains(public["id"].as_str().unwrap()));
}

#[tokio::test]
async fn shared_files_keep_prompts_and_moderated_content_private() {
    let server = server().await;
    let admin = server.admin().await;
    let ann = server.verified_user("ann").await;
    let bob = server.verified_user("bob").await;
    let anonymous = server.api();

    // A generated image's PNG carries its prompt: without remix others get the picture only.
    let asset = ann.uploaded("made.png", png(40, 30, 5)).await;
    let asset_id = asset["id"].as_str().unwrap();
    server
        .db()
        .execute(
            "UPDATE assets SET source = 'generated', params = '{\"prompt\": \"a secret prompt\"}' WHERE id = ?1",
            [asset_id],
        )
        .unwrap();
    let r = ann
        .post(
            "/api/v1/posts",
            json!({"asset_id": asset_id, "title": "Made"}),
        )
        .await;
    let post: Value = r.json().await.unwrap();
    let post_path = format!("/api/v1/posts/{}", post["id"].as_str().unwrap());
    let seen = anonymous.json(&post_path).await;
    assert_eq!(seen["generation"], Value::Null);
    assert_eq!(seen["media"]["image_url"], seen["media"]["preview_url"]);
    let original = asset["url"].as_str().unwrap();
    assert_eq!(
        anonymous.get(original).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        anonymous
            .get(seen["media"]["preview_url"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    let download = format!("/api/v1/assets/{asset_id}/download");
    assert_eq!(
        anonymous.get(&download).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        ann.get(original).await.status(),
        StatusCode::OK,
        "the owner always"
    );
    ann.patch(&post_path, json!({"remix": true})).await;
    assert_eq!(
        anonymous.get(original).await.status(),
        StatusCode::OK,
        "shared with remix"
    );
    assert_eq!(
        anonymous.json(&post_path).await["generation"]["prompt"],
        "a secret prompt"
    );

    // A removed post's picture does not come back as an avatar.
    let removed = publish(&bob, "Removed one", json!({})).await;
    report_and_decide(&ann, &admin, "post", &removed["id"], "remove").await;
    let removed_path = format!("/api/v1/posts/{}", removed["id"].as_str().unwrap());
    let status = bob.get(&removed_path).await.status();
    assert_eq!(status, StatusCode::NOT_FOUND, "not even for its author");
    let bob_assets = bob.json("/api/v1/assets").await;
    let picture = bob_assets["items"][0].clone();
    bob.patch("/api/v1/me", json!({"avatar_asset_id": picture["id"]}))
        .await;
    assert_eq!(
        anonymous
            .get(picture["thumbnail_url"].as_str().unwrap())
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // A reply under a hidden comment is hidden with it, notification included.
    let open = publish(&ann, "Open thread", json!({})).await;
    let comments = format!("/api/v1/posts/{}/comments", open["id"].as_str().unwrap());
    let top: Value = bob
        .post(&comments, json!({"body": "top"}))
        .await
        .json()
        .await
        .unwrap();
    bob.post(
        &comments,
        json!({"body": "psst @boss", "parent_id": top["id"]}),
    )
    .await;
    assert_eq!(admin.json("/api/v1/notifications").await["unread"], 1);
    report_and_decide(&ann, &admin, "comment", &top["id"], "hide").await;
    assert_eq!(admin.json("/api/v1/notifications").await["unread"], 0);
    assert_eq!(
        anonymous
            .json(&format!("/api/v1/posts/{}", open["id"].as_str().unwrap()))
            .await["comment_count"],
        0
    );
}
