//! Crash safety and start-up checks: acknowledged writes survive kill -9, a changed
//! applied migration stops the start, and a wrong setting names itself.

mod support;

use std::process::Command;

use reqwest::StatusCode;
use serde_json::json;
use support::{PASSWORD, Server};

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let mut server = Server::start().await;
    let api = server.verified_user("kim").await;
    let patched = api
        .patch(
            "/api/v1/me",
            json!({"bio": "written just before the crash"}),
        )
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let token = api
        .post(
            "/api/v1/me/tokens",
            json!({"name": "kept", "scopes": ["read"]}),
        )
        .await;
    assert_eq!(token.status(), StatusCode::CREATED);
    server.kill9();
    server.restart().await;
    let again = server.login("kim", PASSWORD).await;
    let me = again.json("/api/v1/me").await;
    assert_eq!(me["bio"], "written just before the crash");
    assert_eq!(me["email_verified"], true);
    assert_eq!(
        again.json("/api/v1/me/tokens").await["items"][0]["name"],
        "kept"
    );
    // The refresh token issued before the crash still rotates.
    let r = server
        .api()
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": api.refresh}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_changed_applied_migration_stops_the_start() {
    let mut server = Server::start().await;
    server.kill9();
    server
        .db()
        .execute(
            "UPDATE schema_migrations SET checksum = 'f00d' WHERE version = 1",
            [],
        )
        .unwrap();
    let out = server
        .command()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("migration 1") && stderr.contains("must never change"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_wrong_setting_is_named() {
    let server = Server::start().await;
    let out = server
        .command()
        .env("STRATAMAKE_AUTH__ACCESS_TOKEN_SECONDS", "\"soon\"")
        .args(["config", "print"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("auth.access_token_seconds"), "{stderr}");
    // config print redacts secrets.
    let out = server
        .command()
        .env("STRATAMAKE_SMTP__PASSWORD", "hunter22")
        .args(["config", "print"])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && printed.contains("<redacted>") && !printed.contains("hunter22"),
        "{printed}"
    );
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let mut server = Server::start().await;
    // One server per data dir: the harness's own gives way to the one under test.
    server.terminate();
    let child = server
        .command()
        .args(["--log-format", "json", "serve", "--listen"])
        .arg(format!("127.0.0.1:{}", support::free_port()))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit after SIGTERM: {:?}", out.status);
    let logs = String::from_utf8_lossy(&out.stderr);
    // JSON log lines, one object per line.
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|_| panic!("not JSON: {line}"));
    }
}

#[tokio::test]
async fn without_smtp_mail_is_written_to_the_outbox_folder() {
    let server = Server::start_with(&[("STRATAMAKE_SMTP__HOST", "\"\"")]).await;
    assert_eq!(
        server.signup("otto", "otto@example.org").await.status(),
        StatusCode::ACCEPTED
    );
    let folder = server.data_dir().join("mail/outbox");
    let started = std::time::Instant::now();
    let eml = loop {
        let found = std::fs::read_dir(&folder)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "eml"));
        if let Some(path) = found {
            break std::fs::read_to_string(path).unwrap();
        }
        assert!(
            started.elapsed().as_secs() < 20,
            "no .eml file in {}",
            folder.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(eml.contains("To: otto@example.org"), "{eml}");
    assert!(eml.contains("/verify?token="), "the link is in the mail");
    assert_eq!(
        server.smtp.count_to("otto@example.org"),
        0,
        "nothing went over SMTP"
    );
}
