//! The privacy center through the real binary: data exports (validated against the
//! committed JSON Schemas), account deletion and its cancellation, the purge after the
//! grace period (nothing of the person left, others' data intact), child accounts,
//! consents, likeness samples, policies, cookies and local usage analytics.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Api, PASSWORD, Server, png, problem, server_with_model};

const DAY: i64 = 86_400;

/// Runs a `stratamake` command against the server's data dir with its clock moved
/// forward by `days`.
fn run_later(server: &Server, days: i64, args: &[&str]) -> String {
    let out = server
        .command()
        .arg("--clock-offset")
        .arg((days * DAY).to_string())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stratamake {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Uploads a file as multipart form data to `path`.
async fn upload_to(api: &Api, path: &str, filename: &str, bytes: Vec<u8>) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string());
    let form = reqwest::multipart::Form::new().part("file", part);
    let mut request = api
        .client
        .post(format!("{}{path}", api.base))
        .multipart(form);
    if let Some(token) = &api.token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Requests an export and waits until it is ready; returns it.
async fn ready_export(api: &Api) -> Value {
    let started = api.post("/api/v1/me/export", json!({})).await;
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let export: Value = started.json().await.unwrap();
    let path = format!("/api/v1/me/exports/{}", export["id"].as_str().unwrap());
    for _ in 0..400 {
        let now = api.json(&path).await;
        if now["status"] == "ready" {
            return now;
        }
        assert_ne!(now["status"], "failed", "{now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the export never became ready")
}

/// Waits until the search writer has taken every change of the outbox.
async fn search_caught_up(server: &Server) {
    wait_until("the search index caught up", || async {
        server
            .db()
            .query_row("SELECT COUNT(*) FROM search_outbox", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
            == 0
    })
    .await;
}

/// `POST /api/v1/me/delete/cancel` without signing in.
async fn cancel_deletion(server: &Server, body: Value) -> reqwest::Response {
    server.api().post("/api/v1/me/delete/cancel", body).await
}

/// Every value of every column of every table that mentions `needle`.
fn rows_mentioning(db: &rusqlite::Connection, needle: &str) -> Vec<String> {
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut found = Vec::new();
    for table in tables {
        let columns: Vec<String> = db
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for column in columns {
            let hits: i64 = db
                .query_row(
                    &format!(
                        "SELECT COUNT(*) FROM \"{table}\" WHERE instr(lower(CAST(\"{column}\" AS TEXT)), lower(?1)) > 0"
                    ),
                    [needle],
                    |r| r.get(0),
                )
                .unwrap();
            if hits > 0 {
                found.push(format!("{table}.{column} ({hits})"));
            }
        }
    }
    found
}

fn blob_path(server: &Server, hash: &str) -> PathBuf {
    server
        .data_dir()
        .join("blobs/sha256")
        .join(&hash[..2])
        .join(&hash[2..4])
        .join(hash)
}

async fn balance(api: &Api) -> i64 {
    api.json("/api/v1/me/credits").await["balance"]
        .as_i64()
        .unwrap()
}

fn validate_export(zip: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/validate_export.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(zip)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && report.contains("validate_export: ok"),
        "the export does not validate:\n{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn zip_json(zip: &Path, name: &str) -> Value {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let file = archive.by_name(name).unwrap();
    serde_json::from_reader(file).unwrap()
}

async fn publish(api: &Api, asset_id: &str, title: &str) -> String {
    let r = api
        .post(
            "/api/v1/posts",
            json!({"asset_id": asset_id, "title": title, "description": "Made at home",
                   "tags": ["home"], "visibility": "public"}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let post: Value = r.json().await.unwrap();
    post["id"].as_str().unwrap().to_string()
}

async fn comment(api: &Api, post: &str, body: &str) -> String {
    let r = api
        .post(
            &format!("/api/v1/posts/{post}/comments"),
            json!({"body": body}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let c: Value = r.json().await.unwrap();
    c["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_export_holds_the_account_and_validates_against_the_committed_schemas() {
    let server = Server::start_with(&[("STRATAMAKE_PRIVACY__EXPORTS_PER_DAY", "1")]).await;
    let ann = server.verified_user("ann").await;
    let bob = server.verified_user("bob").await;
    let photo = ann.uploaded("harbour.png", png(40, 30, 7)).await;
    let other = ann.uploaded("field.png", png(20, 20, 9)).await;
    let post = publish(&ann, photo["id"].as_str().unwrap(), "Harbour at dawn").await;
    comment(&bob, &post, "Lovely light").await;
    comment(&ann, &post, "Thank you!").await;
    assert_eq!(
        bob.post(
            &format!("/api/v1/posts/{post}/reactions"),
            json!({"kind": "love"})
        )
        .await
        .status(),
        StatusCode::OK
    );
    assert!(
        ann.post("/api/v1/users/bob/follow", json!({}))
            .await
            .status()
            .is_success()
    );
    assert_eq!(
        ann.put("/api/v1/me/consents", json!({"marketing_email": true}))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        ann.post("/api/v1/usage/page-view", json!({"page": "/library"}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );

    let export = ready_export(&ann).await;
    let mail = server
        .smtp
        .wait_for("ann@example.org", "Your data export is ready");
    assert!(
        mail.text.contains("/settings/privacy?export="),
        "{}",
        mail.text
    );
    let id = export["id"].as_str().unwrap();
    let download = format!("/api/v1/me/exports/{id}/download");
    // Only for them: another person and an anonymous visitor get nothing.
    assert_eq!(bob.get(&download).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        server.api().get(&download).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let response = ann.get(&download).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/zip");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("stratamake-export-ann-")
    );
    let bytes = response.bytes().await.unwrap();
    assert_eq!(bytes.len() as i64, export["size"].as_i64().unwrap());
    let zip = server.root.path().join("ann-export.zip");
    std::fs::write(&zip, &bytes).unwrap();
    validate_export(&zip);

    let manifest = zip_json(&zip, "manifest.json");
    assert_eq!(manifest["account"]["username"], "ann");
    let files: BTreeSet<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["sha256"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        BTreeSet::from([
            photo["sha256"].as_str().unwrap(),
            other["sha256"].as_str().unwrap()
        ]),
        "the original of every asset is in the export"
    );
    let posts = zip_json(&zip, "data/posts.json");
    assert_eq!(posts["posts"][0]["title"], "Harbour at dawn");
    assert_eq!(posts["posts"][0]["tags"], json!(["home"]));
    let comments = zip_json(&zip, "data/comments.json");
    assert_eq!(
        comments["comments"].as_array().unwrap().len(),
        1,
        "only ann's own comment"
    );
    let follows = zip_json(&zip, "data/follows.json");
    assert_eq!(follows["following"].as_array().unwrap().len(), 1);
    let consents = zip_json(&zip, "data/consents.json");
    assert!(
        consents["consents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["purpose"] == "marketing_email"
                && c["granted"] == 1
                && c["method"] == "settings"),
        "{consents}"
    );
    let usage = zip_json(&zip, "data/usage.json");
    assert!(
        usage["daily"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["kind"] == "page" && u["name"] == "/library" && u["ip"] == "127.0.0.1"),
        "the user sees what is recorded about them: {usage}"
    );
    let account = zip_json(&zip, "data/account.json");
    assert_eq!(account["account"][0]["email"], "ann@example.org");
    // No secret is exported: not the password hash, not a token hash.
    assert!(account["account"][0].get("password_hash").is_none());
    let stored_hash: String = server
        .db()
        .query_row(
            "SELECT password_hash FROM users WHERE username = 'ann'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let name = file.name().unwrap().to_string();
        if name.starts_with("data/") {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut file, &mut text).unwrap();
            assert!(
                !text.contains(&stored_hash),
                "{name} holds the password hash"
            );
            assert!(!text.contains("$argon2"), "{name} holds a password hash");
        }
    }

    // Asked too often: one a day here.
    let again = ann.post("/api/v1/me/export", json!({})).await;
    let body = problem(again, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(body["detail"].as_str().unwrap().contains("Try again"));

    // Eight days later the link has expired and the file is gone.
    let zip_on_disk = server.data_dir().join(format!("exports/{id}.zip"));
    assert!(zip_on_disk.exists());
    run_later(&server, 8, &["privacy", "purge"]);
    assert_eq!(ann.get(&download).await.status(), StatusCode::GONE);
    assert!(!zip_on_disk.exists());
}

#[tokio::test]
async fn deleting_an_account_locks_it_at_once_and_the_mailed_link_cancels_it() {
    let server = Server::start().await;
    let admin = server.admin().await;
    let dora = server.verified_user("dora").await;
    let bob = server.verified_user("bob").await;
    let photo = dora.uploaded("sky.png", png(32, 32, 3)).await;
    let post = publish(&dora, photo["id"].as_str().unwrap(), "Evening sky").await;
    assert_eq!(
        bob.get(&format!("/api/v1/posts/{post}")).await.status(),
        StatusCode::OK
    );

    let token: Value = dora
        .post(
            "/api/v1/me/tokens",
            json!({"name": "script", "scopes": ["read"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut script = server.api();
    script.token = Some(token["token"].as_str().unwrap().to_string());
    assert_eq!(script.get("/api/v1/me").await.status(), StatusCode::OK);

    // Confirmed with the password.
    let wrong = dora
        .post("/api/v1/me/delete", json!({"password": "not it"}))
        .await;
    assert_eq!(
        problem(wrong, StatusCode::UNAUTHORIZED).await["type"],
        "urn:stratamake:problem:wrong-password"
    );
    assert_eq!(
        dora.get("/api/v1/me").await.status(),
        StatusCode::OK,
        "nothing changed"
    );
    let asked = dora
        .post("/api/v1/me/delete", json!({"password": PASSWORD}))
        .await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let scheduled: Value = asked.json().await.unwrap();
    let purge_after = scheduled["purge_after"].as_i64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (purge_after - now - 30 * DAY).abs() < 120,
        "30 days of grace"
    );

    // Locked and hidden at once.
    assert_eq!(
        dora.get("/api/v1/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        bob.get(&format!("/api/v1/posts/{post}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.api().get("/api/v1/users/dora").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.api().get(&format!("/p/{post}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server
            .api()
            .get(photo["url"].as_str().unwrap())
            .await
            .status(),
        StatusCode::NOT_FOUND,
        "the shared picture is no longer served"
    );
    let login = server
        .api()
        .post(
            "/api/v1/auth/login",
            json!({"login": "dora", "password": PASSWORD}),
        )
        .await;
    let refused = problem(login, StatusCode::FORBIDDEN).await;
    assert_eq!(
        refused["type"],
        "urn:stratamake:problem:account-pending-deletion"
    );
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("scheduled for deletion")
    );

    // Admins see it, and cannot simply re-enable the account.
    let pending = admin.json("/api/v1/admin/privacy/deletions").await;
    assert_eq!(pending[0]["username"], "dora");
    assert_eq!(pending[0]["reason"], "user");
    let dora_id = pending[0]["user_id"].as_str().unwrap().to_string();
    let enable = admin
        .patch(
            &format!("/api/v1/admin/users/{dora_id}"),
            json!({"disabled": false}),
        )
        .await;
    assert_eq!(enable.status(), StatusCode::CONFLICT);

    // The mailed link keeps the account.
    let mail = server
        .smtp
        .wait_for("dora@example.org", "Your account will be deleted");
    let token = mail.token("/account/restore");
    let kept = cancel_deletion(&server, json!({"token": token})).await;
    assert_eq!(kept.status(), StatusCode::OK);
    server
        .smtp
        .wait_for("dora@example.org", "Your account is kept");
    let dora = server.login("dora", PASSWORD).await;
    assert_eq!(dora.get("/api/v1/me").await.status(), StatusCode::OK);
    assert_eq!(
        script.get("/api/v1/me").await.status(),
        StatusCode::UNAUTHORIZED,
        "tokens were revoked, not just suspended"
    );
    // The right password for an account that is not waiting for deletion gets the same
    // answer as a wrong one: this door tells nothing about passwords.
    let not_pending =
        cancel_deletion(&server, json!({"login": "dora", "password": PASSWORD})).await;
    let not_pending = problem(not_pending, StatusCode::UNAUTHORIZED).await;
    let wrong = cancel_deletion(&server, json!({"login": "dora", "password": "nope"})).await;
    assert_eq!(problem(wrong, StatusCode::UNAUTHORIZED).await, not_pending);
    assert_eq!(
        bob.get(&format!("/api/v1/posts/{post}")).await.status(),
        StatusCode::OK
    );
    let reused = cancel_deletion(&server, json!({"token": token})).await;
    problem(reused, StatusCode::BAD_REQUEST).await;
    assert!(
        admin
            .json("/api/v1/admin/privacy/deletions")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Cancelling by signing in with the password works too.
    assert_eq!(
        dora.post("/api/v1/me/delete", json!({"password": PASSWORD}))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let wrong = cancel_deletion(&server, json!({"login": "dora", "password": "nope"})).await;
    problem(wrong, StatusCode::UNAUTHORIZED).await;
    let kept = cancel_deletion(
        &server,
        json!({"login": "dora@example.org", "password": PASSWORD}),
    )
    .await;
    assert_eq!(kept.status(), StatusCode::OK);
    server.login("dora", PASSWORD).await;
}

/// The purge test: a person with data of every kind, another person with data
/// that refers to theirs; after the grace period nothing anywhere names the person, no
/// file only they used is left, and the other person's data is intact.
#[tokio::test]
async fn the_purge_after_the_grace_period_leaves_nothing_of_the_person() {
    let (mut server, admin) = server_with_model(&[]).await;
    let eve = server.verified_user("eve").await;
    let frank = server.verified_user("frank").await;
    let eve_me = eve.json("/api/v1/me").await;
    let eve_id = eve_me["id"].as_str().unwrap().to_string();

    // Eve's data of every kind.
    let own = eve.uploaded("own.png", png(48, 48, 11)).await;
    let shared_bytes = png(36, 36, 12);
    let shared = eve.uploaded("shared.png", shared_bytes.clone()).await;
    let frank_copy = frank.uploaded("same.png", shared_bytes).await;
    assert_eq!(
        shared["sha256"], frank_copy["sha256"],
        "one stored file, two assets"
    );
    let job: Value = eve
        .post(
            "/api/v1/generations",
            json!({"prompt": "a lighthouse", "width": 64, "height": 64, "steps": 2, "seed": 5}),
        )
        .await
        .json()
        .await
        .unwrap();
    let events = eve.follow(job["id"].as_str().unwrap()).await;
    assert_eq!(events.last().unwrap().0, "succeeded");
    let generated = events.last().unwrap().1["images"][0]["asset_id"]
        .as_str()
        .unwrap()
        .to_string();
    let generated = eve.json(&format!("/api/v1/assets/{generated}")).await;
    let eve_post = publish(&eve, own["id"].as_str().unwrap(), "Eve's own").await;
    let frank_post = publish(&frank, frank_copy["id"].as_str().unwrap(), "Frank's view").await;
    let eve_comment_on_frank = comment(&eve, &frank_post, "What a view, @frank").await;
    comment(&frank, &eve_post, "Nice one").await;
    comment(&frank, &frank_post, "Thanks Eve").await;
    eve.post(
        &format!("/api/v1/posts/{frank_post}/reactions"),
        json!({"kind": "fire"}),
    )
    .await;
    frank
        .post(
            &format!("/api/v1/posts/{eve_post}/reactions"),
            json!({"kind": "like"}),
        )
        .await;
    eve.post("/api/v1/users/frank/follow", json!({})).await;
    frank.post("/api/v1/users/eve/follow", json!({})).await;
    let report = frank
        .post(
            "/api/v1/reports",
            json!({"target_kind": "user", "target_id": "eve", "reason": "spam", "details": "testing"}),
        )
        .await;
    assert_eq!(report.status(), StatusCode::CREATED);
    let report: Value = report.json().await.unwrap();
    let resolved = admin
        .post(
            &format!("/api/v1/reports/{}/resolve", report["id"].as_str().unwrap()),
            json!({"decision": "dismiss", "note": "fine"}),
        )
        .await;
    assert_eq!(resolved.status(), StatusCode::NO_CONTENT);
    eve.put(
        "/api/v1/me/consents",
        json!({"marketing_email": true, "analytics": true}),
    )
    .await;
    eve.put(
        "/api/v1/me/likeness",
        json!({"subject": "Me, Eve", "uses": ["image_to_image"], "agree": true, "text_version": "1"}),
    )
    .await;
    let sample = upload_to(
        &eve,
        "/api/v1/me/likeness/samples",
        "me.png",
        png(30, 40, 13),
    )
    .await;
    assert_eq!(sample.status(), StatusCode::CREATED);
    let sample: Value = sample.json().await.unwrap();
    eve.post("/api/v1/usage/page-view", json!({"page": "/generate"}))
        .await;
    let export = ready_export(&eve).await;
    let export_file = server
        .data_dir()
        .join(format!("exports/{}.zip", export["id"].as_str().unwrap()));
    assert!(export_file.exists());
    admin
        .post(
            &format!("/api/v1/admin/users/{eve_id}/credits"),
            json!({"amount": 5, "note": "thanks"}),
        )
        .await;
    // Eve's usage is written (the dashboard flushes what is buffered).
    admin.json("/api/v1/admin/analytics").await;
    let only_eves: Vec<String> = [&own, &generated, &sample]
        .iter()
        .flat_map(|a| {
            [
                a["sha256"].as_str(),
                a["thumbnail_url"].as_str(),
                a["preview_url"].as_str(),
            ]
            .into_iter()
            .flatten()
            .map(|s| s.trim_start_matches("/blobs/").to_string())
            .collect::<Vec<_>>()
        })
        .collect();
    for hash in &only_eves {
        assert!(blob_path(&server, hash).exists(), "{hash} is stored");
    }

    // Deletion, then the grace period passes.
    assert_eq!(
        eve.post("/api/v1/me/delete", json!({"password": PASSWORD}))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    server
        .smtp
        .wait_for("eve@example.org", "Your account will be deleted");
    let early = run_later(&server, 29, &["privacy", "purge"]);
    assert!(early.starts_with("0 account(s) purged"), "{early}");
    let purged = run_later(&server, 31, &["privacy", "purge"]);
    assert!(purged.starts_with("1 account(s) purged"), "{purged}");
    server.restart().await;
    server
        .smtp
        .wait_for("eve@example.org", "Your account has been deleted");
    wait_until("the last mail keeps no address", || async {
        rows_mentioning(&server.db(), "eve@example.org").is_empty()
    })
    .await;
    search_caught_up(&server).await;

    // Nothing anywhere names her.
    let db = server.db();
    assert_eq!(
        rows_mentioning(&db, &eve_id),
        Vec::<String>::new(),
        "rows still name eve's id"
    );
    assert_eq!(
        rows_mentioning(&db, "eve@example.org"),
        Vec::<String>::new()
    );
    for (table, column) in
        stratamake::platform::personal_data::user_referencing_columns(&db).unwrap()
    {
        let left: i64 = db
            .query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE {column} = ?1"),
                [&eve_id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0, "{table}.{column}");
    }
    for hash in &only_eves {
        assert!(
            !blob_path(&server, hash).exists(),
            "{hash} only eve used is still on disk"
        );
    }
    assert!(!export_file.exists(), "her export went too");
    let audit: String = db
        .query_row(
            "SELECT detail FROM audit_log WHERE action = 'privacy.purged'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(audit.starts_with("grace period over"), "{audit}");
    // Usage totals stay, without any identifier.
    let anonymous: i64 = db
        .query_row("SELECT COUNT(*) FROM usage_daily WHERE user_id IS NULL AND name = '/generate' AND ip = ''", [], |r| r.get(0))
        .unwrap();
    assert_eq!(anonymous, 1, "the page view is counted, for no one");

    // Frank's data is intact; her comment in his thread stays as "[deleted]".
    let frank = server.login("frank", PASSWORD).await;
    assert_eq!(
        frank.json(&format!("/api/v1/posts/{frank_post}")).await["title"],
        "Frank's view"
    );
    let thread = frank
        .json(&format!("/api/v1/posts/{frank_post}/comments"))
        .await;
    let thread = thread["items"].as_array().unwrap();
    let hers = thread
        .iter()
        .find(|c| c["id"] == eve_comment_on_frank.as_str())
        .expect("her comment stays");
    assert!(hers["author"].is_null());
    assert!(
        !hers["body_html"].as_str().unwrap().contains("What a view"),
        "her words are gone"
    );
    assert!(
        thread
            .iter()
            .any(|c| c["body_html"].as_str().unwrap().contains("Thanks Eve"))
    );
    let copy = frank.get(frank_copy["url"].as_str().unwrap()).await;
    assert_eq!(
        copy.status(),
        StatusCode::OK,
        "the file frank shares with her stays"
    );
    assert!(blob_path(&server, frank_copy["sha256"].as_str().unwrap()).exists());
    assert_eq!(
        frank
            .get(&format!("/api/v1/posts/{eve_post}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        frank.get("/api/v1/users/eve").await.status(),
        StatusCode::NOT_FOUND
    );
    let people = frank.json("/api/v1/search?q=eve&type=users").await;
    assert!(people["items"].as_array().unwrap().is_empty(), "{people}");
}

#[tokio::test]
async fn a_child_account_is_purged_at_once_by_an_admin() {
    let server = Server::start().await;
    let admin = server.admin().await;
    let kid = server.verified_user("kiddo").await;
    let photo = kid.uploaded("drawing.png", png(24, 24, 21)).await;
    let kid_id = kid.json("/api/v1/me").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/admin/users/{kid_id}/child");
    assert_eq!(
        kid.post(&path, json!({"confirm_username": "kiddo"}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    problem(
        admin
            .post(&path, json!({"confirm_username": "someone"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let purged = admin
        .post(&path, json!({"confirm_username": "kiddo"}))
        .await;
    assert_eq!(purged.status(), StatusCode::OK);
    let purged: Value = purged.json().await.unwrap();
    assert!(
        purged["rows"].as_i64().unwrap() > 3 && purged["files"].as_i64().unwrap() >= 1,
        "{purged}"
    );
    assert!(!blob_path(&server, photo["sha256"].as_str().unwrap()).exists());
    search_caught_up(&server).await;
    assert_eq!(rows_mentioning(&server.db(), &kid_id), Vec::<String>::new());
    assert_eq!(
        kid.get("/api/v1/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let audit = admin.json("/api/v1/admin/audit").await;
    assert!(
        audit.to_string().contains("privacy.child_purged"),
        "{audit}"
    );
}

#[tokio::test]
async fn admins_run_an_export_and_a_deletion_for_a_written_request() {
    let server = Server::start().await;
    let admin = server.admin().await;
    let gus = server.verified_user("gus").await;
    gus.uploaded("a.png", png(16, 16, 1)).await;
    let gus_id = gus.json("/api/v1/me").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let bob = server.verified_user("bob").await;
    assert_eq!(
        bob.post(&format!("/api/v1/admin/users/{gus_id}/export"), json!({}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let started = admin
        .post(&format!("/api/v1/admin/users/{gus_id}/export"), json!({}))
        .await;
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let export: Value = started.json().await.unwrap();
    server
        .smtp
        .wait_for("root@example.org", "Your data export is ready");
    let listed = admin.json("/api/v1/admin/privacy/exports").await;
    assert_eq!(listed[0]["username"], "gus");
    assert_eq!(listed[0]["by_admin"], true);
    let download = format!(
        "/api/v1/me/exports/{}/download",
        export["id"].as_str().unwrap()
    );
    let zip = admin.get(&download).await;
    assert_eq!(zip.status(), StatusCode::OK);
    let path = server.root.path().join("gus.zip");
    std::fs::write(&path, zip.bytes().await.unwrap()).unwrap();
    validate_export(&path);
    assert_eq!(
        zip_json(&path, "manifest.json")["account"]["username"],
        "gus"
    );

    let deleted = admin
        .post(&format!("/api/v1/admin/users/{gus_id}/delete"), json!({}))
        .await;
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    let mail = server
        .smtp
        .wait_for("gus@example.org", "Your account will be deleted");
    assert!(
        mail.text.contains("As you asked us by mail"),
        "{}",
        mail.text
    );
    assert_eq!(
        gus.get("/api/v1/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let pending = admin.json("/api/v1/admin/privacy/deletions").await;
    assert_eq!(pending[0]["reason"], "admin");
    let audit = admin.json("/api/v1/admin/audit").await.to_string();
    assert!(
        audit.contains("privacy.export_for") && audit.contains("privacy.delete_for"),
        "{audit}"
    );
}

#[tokio::test]
async fn consents_are_recorded_with_their_wording_and_withdrawn_as_easily() {
    let server = Server::start().await;
    let admin = server.admin().await;
    let hana = server.verified_user("hana").await;
    let ivan = server.verified_user("ivan").await;
    let consents = hana.json("/api/v1/me/consents").await;
    assert_eq!(
        consents["marketing_email"]["granted"], false,
        "news are opt-in"
    );
    assert_eq!(
        consents["analytics"]["granted"], true,
        "analytics are on, with an opt-out"
    );
    assert_eq!(consents["analytics"]["method"], "signup");
    assert!(
        consents["marketing_email"]["text"]
            .as_str()
            .unwrap()
            .contains("unsubscribe")
    );
    problem(
        hana.put("/api/v1/me/consents", json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        hana.put("/api/v1/me/consents", json!({"marketing_email": "yes"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let given: Value = hana
        .put("/api/v1/me/consents", json!({"marketing_email": true}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(given["marketing_email"]["granted"], true);
    assert_eq!(given["history"][0]["purpose"], "marketing_email");
    assert_eq!(given["history"][0]["method"], "settings");
    assert_eq!(given["history"][0]["text_version"], "1");

    // News go to those who opted in, each with a one-click unsubscribe that withdraws.
    let sent: Value = admin
        .post(
            "/api/v1/admin/announcements",
            json!({"subject": "New models", "text": "We added a model.\n\nEnjoy."}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sent["recipients"], 1);
    let news = server.smtp.wait_for("hana@example.org", "New models");
    let unsubscribe = news.header("List-Unsubscribe").unwrap();
    assert_eq!(
        news.header("List-Unsubscribe-Post").unwrap(),
        "List-Unsubscribe=One-Click"
    );
    assert_eq!(
        server.smtp.count_to("ivan@example.org"),
        1,
        "ivan only got his verification mail"
    );
    let url = unsubscribe.trim_start_matches('<').trim_end_matches('>');
    let done = reqwest::Client::new()
        .post(url)
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let after = hana.json("/api/v1/me/consents").await;
    assert_eq!(after["marketing_email"]["granted"], false);
    assert_eq!(after["history"][0]["method"], "unsubscribe");

    // Analytics opt-out: nothing more is counted for them.
    ivan.json("/api/v1/me").await;
    let counted = ivan.json("/api/v1/me/usage").await;
    assert_eq!(counted["counted"], true);
    let before = counted["api_requests"].as_i64().unwrap();
    assert!(before >= 1);
    ivan.put("/api/v1/me/consents", json!({"analytics": false}))
        .await;
    for _ in 0..5 {
        ivan.json("/api/v1/me").await;
    }
    let later = ivan.json("/api/v1/me/usage").await;
    assert_eq!(later["counted"], false);
    assert_eq!(
        later["api_requests"].as_i64().unwrap(),
        before,
        "no request counted after the opt-out"
    );
}

#[tokio::test]
async fn usage_records_keep_whole_addresses_for_days_then_shorten_and_drop_them() {
    let server = Server::start().await;
    let admin = server.admin().await;
    let jo = server.verified_user("joan").await;
    jo.uploaded("x.png", png(8, 8, 2)).await;
    jo.post("/api/v1/usage/page-view", json!({"page": "/library/:id"}))
        .await;
    problem(
        jo.post(
            "/api/v1/usage/page-view",
            json!({"page": "https://elsewhere.example/x?y=1"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let dashboard = admin.json("/api/v1/admin/analytics?days=7").await;
    assert_eq!(dashboard["days"].as_array().unwrap().len(), 7);
    let today = dashboard["days"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(today["active_users"].as_i64().unwrap() >= 1, "{today}");
    assert!(today["page_views"].as_i64().unwrap() >= 1);
    assert!(
        dashboard["top_features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "upload"),
        "{dashboard}"
    );
    problem(
        admin.get("/api/v1/admin/analytics?days=0").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        jo.get("/api/v1/admin/analytics").await.status(),
        StatusCode::FORBIDDEN
    );

    let ips = |db: &rusqlite::Connection| -> BTreeSet<String> {
        db.prepare("SELECT DISTINCT ip FROM usage_daily WHERE user_id IS NOT NULL")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(ips(&server.db()), BTreeSet::from(["127.0.0.1".to_string()]));
    let anonymous: i64 = server
        .db()
        .query_row(
            "SELECT COUNT(*) FROM usage_daily WHERE user_id IS NULL AND ip <> ''",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(anonymous, 0, "anonymous visits carry no address");
    run_later(&server, 8, &["privacy", "purge"]);
    assert_eq!(
        ips(&server.db()),
        BTreeSet::from(["127.0.0.0/24".to_string()])
    );
    run_later(&server, 400, &["privacy", "purge"]);
    let left: i64 = server
        .db()
        .query_row("SELECT COUNT(*) FROM usage_daily", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0, "records past the retention period are gone");
}

#[tokio::test]
async fn policies_are_versioned_and_a_material_change_is_acknowledged() {
    let server = Server::start().await;
    let admin = server.admin().await;
    let kim = server.verified_user("kim").await;
    let list = server.api().json("/api/v1/policies").await;
    let slugs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        slugs,
        ["privacy", "terms", "cookies", "accessibility", "support"]
    );
    let config = server.api().json("/api/v1/config/public").await;
    assert_eq!(config["policies"].as_array().unwrap().len(), 5);
    assert_eq!(config["privacy"]["deletion_grace_days"], 30);
    assert_eq!(config["privacy"]["export_days"], 7);
    let cookies = server.api().json("/api/v1/policies/cookies").await;
    assert!(cookies["html"].as_str().unwrap().contains("<table>"));
    assert_eq!(cookies["version"], 1);
    problem(
        server.api().get("/api/v1/policies/nope").await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // Readable without JavaScript, from every page's footer.
    let page = server.api().get("/policies/privacy").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("<h1>Privacy Policy</h1>"));
    for slug in ["terms", "privacy", "cookies", "accessibility", "support"] {
        assert!(
            html.contains(&format!("href=\"/policies/{slug}\"")),
            "footer links {slug}"
        );
    }
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/terms", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(redirect.headers()["location"], "/policies/terms");

    // Only admins edit; bad edits change nothing.
    let edit = json!({"title": "Privacy Policy", "markdown": "# Privacy Policy\n\nWe now keep less.\n\n<script>alert(1)</script>",
                      "material": true, "summary": "Usage records are kept for 90 days instead of a year."});
    assert_eq!(
        kim.put("/api/v1/admin/policies/privacy", edit.clone())
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    problem(
        admin
            .put(
                "/api/v1/admin/policies/privacy",
                json!({"title": "", "markdown": "x"}),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        admin
            .put(
                "/api/v1/admin/policies/privacy",
                json!({"title": "P", "markdown": "x", "material": true}),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        admin.put("/api/v1/admin/policies/nope", edit.clone()).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(
        kim.json("/api/v1/me/policies")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );

    let published: Value = admin
        .put("/api/v1/admin/policies/privacy", edit)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(published["version"], 2);
    assert!(
        published["html"]
            .as_str()
            .unwrap()
            .contains("&lt;script&gt;")
    );
    let mail = server
        .smtp
        .wait_for("kim@example.org", "We updated our Privacy Policy");
    assert!(mail.text.contains("90 days"), "{}", mail.text);
    let pending = kim.json("/api/v1/me/policies").await;
    assert_eq!(pending[0]["slug"], "privacy");
    assert_eq!(pending[0]["version"], 2);
    let left: Value = kim
        .post("/api/v1/me/policies/privacy/accept", json!({"version": 2}))
        .await
        .json()
        .await
        .unwrap();
    assert!(left.as_array().unwrap().is_empty());
    assert!(
        kim.json("/api/v1/me/policies")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    problem(
        kim.post("/api/v1/me/policies/privacy/accept", json!({"version": 9}))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // Someone who joins now accepts version 2 and is asked nothing.
    let lee = server.verified_user("lee").await;
    assert!(
        lee.json("/api/v1/me/policies")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    let accepted: String = server
        .db()
        .query_row(
            "SELECT privacy_version FROM users WHERE username = 'lee'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(accepted, "2");

    // A small fix is a new version that asks nothing; every version stays readable.
    admin
        .put("/api/v1/admin/policies/privacy", json!({"title": "Privacy Policy", "markdown": "# Privacy Policy\n\nWe now keep less data."}))
        .await;
    let current = server.api().json("/api/v1/policies/privacy").await;
    assert_eq!(current["version"], 3);
    assert_eq!(current["versions"].as_array().unwrap().len(), 3);
    let first = server
        .api()
        .json("/api/v1/policies/privacy?version=1")
        .await;
    assert_eq!(first["current"], false);
    assert!(first["html"].as_str().unwrap().contains("Your rights"));
    assert!(
        kim.json("/api/v1/me/policies")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// Names of the cookies a response sets.
fn cookie_names(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split('=').next())
        .map(|name| name.trim_start_matches("__Host-").to_string())
        .collect()
}

#[tokio::test]
async fn every_cookie_the_application_sets_is_named_in_the_cookie_policy() {
    let server = Server::start().await;
    let policy = server.api().json("/api/v1/policies/cookies").await;
    let listed = policy["markdown"].as_str().unwrap().to_string();
    let mut seen = BTreeSet::new();
    let browser = server.browser();
    let mut record = |response: &reqwest::Response| {
        for name in cookie_names(response) {
            seen.insert(name);
        }
    };
    let first = browser
        .get(format!("{}/", server.url))
        .send()
        .await
        .unwrap();
    record(&first);
    let csrf_token = first
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("sm_csrf="))
        .map(|v| v.split(';').next().unwrap().to_string())
        .expect("the first page gives the browser its CSRF cookie");
    let config = browser
        .get(format!("{}/api/v1/config/public", server.url))
        .send()
        .await
        .unwrap();
    record(&config);
    server.verified_user("mia").await;
    let login = browser
        .post(format!("{}/api/v1/auth/login", server.url))
        .header("origin", &server.url)
        .json(&json!({"login": "mia", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    record(&login);
    let refreshed = browser
        .post(format!("{}/api/v1/auth/refresh", server.url))
        .header("x-csrf-token", &csrf_token)
        .header("origin", &server.url)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    record(&refreshed);
    let oidc = browser
        .get(format!("{}/api/v1/auth/oidc/none/start", server.url))
        .send()
        .await
        .unwrap();
    record(&oidc);
    let logout = browser
        .post(format!("{}/api/v1/auth/logout", server.url))
        .header("x-csrf-token", &csrf_token)
        .header("origin", &server.url)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    record(&logout);
    assert!(
        seen.contains("sm_access") && seen.contains("sm_refresh") && seen.contains("sm_csrf"),
        "{seen:?}"
    );
    for name in &seen {
        assert!(
            listed.contains(&format!("`{name}`")),
            "the application sets the cookie {name}, which the Cookie Policy does not name"
        );
    }
    // And the names the code can set are all listed (OpenID flows included).
    for name in stratamake::domains::auth::cookies::ALL {
        assert!(
            listed.contains(&format!("`{name}`")),
            "{name} is not in the Cookie Policy"
        );
    }
}

#[tokio::test]
async fn likeness_samples_live_only_under_their_consent() {
    let (server, _admin) = server_with_model(&[]).await;
    let lia = server.verified_user("lia").await;
    let face = png(64, 64, 31);
    let refused = upload_to(&lia, "/api/v1/me/likeness/samples", "me.png", face.clone()).await;
    problem(refused, StatusCode::CONFLICT).await;
    for bad in [
        json!({"subject": "Me", "uses": ["image_to_image"], "agree": false, "text_version": "1"}),
        json!({"subject": "", "uses": ["image_to_image"], "agree": true, "text_version": "1"}),
        json!({"subject": "Me", "uses": [], "agree": true, "text_version": "1"}),
        json!({"subject": "Me", "uses": ["image_to_image"], "agree": true, "text_version": "0"}),
        json!({"subject": "Me", "uses": ["anything"], "agree": true, "text_version": "1"}),
    ] {
        let r = lia.put("/api/v1/me/likeness", bad.clone()).await;
        assert!(r.status().is_client_error(), "{bad}: {}", r.status());
    }
    let given: Value = lia
        .put("/api/v1/me/likeness", json!({"subject": "Me, Lia", "uses": ["image_to_image"], "agree": true, "text_version": "1"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(given["consent"]["subject"], "Me, Lia");
    let uploaded = upload_to(&lia, "/api/v1/me/likeness/samples", "me.png", face).await;
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let sample: Value = uploaded.json().await.unwrap();
    let sample = sample["items"][0].clone();
    let sample_id = sample["id"].as_str().unwrap().to_string();
    assert_eq!(sample["purpose"], "likeness");
    let stl = upload_to(
        &lia,
        "/api/v1/me/likeness/samples",
        "me.stl",
        b"solid x\nendsolid x\n".to_vec(),
    )
    .await;
    assert!(stl.status().is_client_error(), "a sample is a photo");

    // Kept out of the library and the community; only the consented use is allowed.
    let library = lia.json("/api/v1/assets").await;
    assert!(library["items"].as_array().unwrap().is_empty(), "{library}");
    let shared = lia
        .post(
            "/api/v1/posts",
            json!({"asset_id": sample_id, "title": "me", "visibility": "public"}),
        )
        .await;
    assert!(
        shared.status().is_client_error(),
        "a sample cannot be shared"
    );
    problem(
        lia.post(
            "/api/v1/generations",
            json!({"kind": "relief", "source_asset_id": sample_id}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let img2img = json!({"prompt": "me as a painting", "width": 64, "height": 64, "steps": 4,
                         "source_asset_id": sample_id, "strength": 0.6, "seed": 1});
    let made: Value = lia
        .post("/api/v1/generations", img2img.clone())
        .await
        .json()
        .await
        .unwrap();
    let events = lia.follow(made["id"].as_str().unwrap()).await;
    assert_eq!(events.last().unwrap().0, "succeeded", "{:?}", events.last());
    let derived = events.last().unwrap().1["images"][0]["asset_id"]
        .as_str()
        .unwrap()
        .to_string();
    let derived = lia.json(&format!("/api/v1/assets/{derived}")).await;

    // A long job holds the worker; the next one using the sample waits in the queue.
    let long: Value = lia
        .post(
            "/api/v1/generations",
            json!({"prompt": "slow", "width": 256, "height": 256, "steps": 150, "count": 4}),
        )
        .await
        .json()
        .await
        .unwrap();
    let waiting: Value = lia
        .post("/api/v1/generations", img2img.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(waiting["status"], "queued");
    let before = balance(&lia).await;

    let withdrawn = lia.delete("/api/v1/me/likeness").await;
    assert_eq!(withdrawn.status(), StatusCode::OK);
    let withdrawn: Value = withdrawn.json().await.unwrap();
    assert_eq!(withdrawn["samples_deleted"], 1);
    assert_eq!(withdrawn["made_from_deleted"], 1);
    assert_eq!(withdrawn["jobs_stopped"], 1);
    assert!(withdrawn["likeness"]["consent"].is_null());
    let failed = lia
        .json(&format!(
            "/api/v1/generations/{}",
            waiting["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("likeness consent was withdrawn"),
        "{failed}"
    );
    assert_eq!(
        balance(&lia).await,
        before + waiting["cost"].as_i64().unwrap(),
        "refunded"
    );
    for asset in [&sample, &derived] {
        let hash = asset["sha256"].as_str().unwrap();
        assert!(
            !blob_path(&server, hash).exists(),
            "{hash} is gone from disk at once"
        );
        assert_eq!(
            lia.get(asset["url"].as_str().unwrap()).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    problem(
        lia.post("/api/v1/generations", img2img).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let history = lia.json("/api/v1/me/consents").await["history"].clone();
    let likeness: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["purpose"] == "likeness")
        .collect();
    assert_eq!(likeness.len(), 2);
    assert_eq!(likeness[0]["granted"], false);
    assert_eq!(likeness[1]["detail"]["subject"], "Me, Lia");
    lia.delete(&format!(
        "/api/v1/generations/{}",
        long["id"].as_str().unwrap()
    ))
    .await;
}

/// Without an SMTP server mails are files in the outbox folder: the purge removes those of
/// the person, and the last one, to an erased account, is not kept at all.
#[tokio::test]
async fn a_purge_without_smtp_leaves_no_mail_file_naming_the_person() {
    let server = Server::start_with(&[("STRATAMAKE_SMTP__HOST", "")]).await;
    assert_eq!(
        server.signup("nia", "nia@example.org").await.status(),
        StatusCode::ACCEPTED
    );
    let nia = server.login("nia", PASSWORD).await;
    assert_eq!(
        nia.post("/api/v1/me/delete", json!({"password": PASSWORD}))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let outbox = server.data_dir().join("mail/outbox");
    let files_naming = |needle: &str| -> Vec<String> {
        std::fs::read_dir(&outbox)
            .unwrap()
            .flatten()
            .filter(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(needle)))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    wait_until("the deletion mail is written", || async {
        !files_naming("nia@example.org").is_empty()
    })
    .await;
    run_later(&server, 31, &["privacy", "purge"]);
    let mut server = server;
    server.restart().await;
    wait_until("the last mail is handled", || async {
        server
            .db()
            .query_row(
                "SELECT COUNT(*) FROM mail_outbox WHERE status = 'queued'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
            == 0
    })
    .await;
    assert_eq!(files_naming("nia@example.org"), Vec::<String>::new());
    assert!(rows_mentioning(&server.db(), "nia@example.org").is_empty());
}
