//! Administration through HTTP: first-run setup link, signup modes and invites, user
//! roles, the mail outbox and test mail, the audit log, and the OpenAPI document.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{PASSWORD, Server, problem};

#[tokio::test]
async fn first_start_prints_a_setup_link_that_creates_the_admin_once() {
    let server = Server::start().await;
    let link = server
        .setup_link
        .clone()
        .expect("the first start prints a setup link");
    let token = link.split("token=").nth(1).unwrap().to_string();
    let anon = server.api();
    assert_eq!(
        anon.json(&format!("/api/v1/setup/status?token={token}"))
            .await["valid"],
        true
    );
    assert_eq!(
        anon.json("/api/v1/setup/status?token=wrong").await["valid"],
        false
    );
    let body = json!({"token": token, "email": "owner@example.org", "username": "owner", "password": PASSWORD});
    let created = anon.post("/api/v1/setup", body.clone()).await;
    assert_eq!(created.status(), StatusCode::OK);
    let tokens: Value = created.json().await.unwrap();
    let mut admin = server.api();
    admin.token = tokens["access_token"].as_str().map(str::to_string);
    let me = admin.json("/api/v1/me").await;
    assert_eq!(me["role"], "admin");
    assert_eq!(me["email_verified"], true);
    // Single use.
    let mut again = body;
    again["username"] = json!("owner2");
    again["email"] = json!("owner2@example.org");
    problem(
        anon.post("/api/v1/setup", again).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn signup_modes_and_invites() {
    let server = Server::start().await;
    let admin = server.admin().await;

    let set = |mode: &'static str| json!({"signup_mode": mode, "pow_required": true});
    assert_eq!(
        admin
            .put("/api/v1/admin/settings", set("closed"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        server.api().json("/api/v1/config/public").await["signup_mode"],
        "closed"
    );
    problem(
        server.signup("carl", "carl@example.org").await,
        StatusCode::FORBIDDEN,
    )
    .await;

    admin.put("/api/v1/admin/settings", set("invite")).await;
    let without = problem(
        server.signup("carl", "carl@example.org").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(without["errors"]["invite"].is_string());
    let invite: Value = admin
        .post("/api/v1/admin/invites", json!({"expires_in_days": 2}))
        .await
        .json()
        .await
        .unwrap();
    let code = invite["code"].as_str().unwrap().to_string();
    assert!(
        invite["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/signup?invite={code}"))
    );

    let api = server.api();
    let challenge = || async {
        let c: stratamake::domains::auth::pow::Challenge =
            serde_json::from_value(api.json("/api/v1/auth/challenge").await).unwrap();
        stratamake::domains::auth::pow::solve(&c).unwrap()
    };
    let signup = |name: &str, invite: &str, pow| {
        json!({"email": format!("{name}@example.org"), "username": name, "password": PASSWORD,
               "age_confirmed": true, "accept_terms": true, "invite": invite, "pow": pow})
    };
    let bad = api
        .post(
            "/api/v1/auth/signup",
            signup("carl", "not-a-code", challenge().await),
        )
        .await;
    problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;
    let good = api
        .post(
            "/api/v1/auth/signup",
            signup("carl", &code, challenge().await),
        )
        .await;
    assert_eq!(good.status(), StatusCode::ACCEPTED);
    let reused = api
        .post(
            "/api/v1/auth/signup",
            signup("dora", &code, challenge().await),
        )
        .await;
    problem(reused, StatusCode::UNPROCESSABLE_ENTITY).await;

    let invites = admin.json("/api/v1/admin/invites").await;
    assert_eq!(invites["items"][0]["used_by"], "carl");
    assert!(
        !invites.to_string().contains(&code),
        "the full code is shown only once"
    );

    // Proof of work can be turned off.
    admin
        .put(
            "/api/v1/admin/settings",
            json!({"signup_mode": "open", "pow_required": false}),
        )
        .await;
    let no_pow = api.post("/api/v1/auth/signup", json!({"email": "erin@example.org", "username": "erin", "password": PASSWORD, "age_confirmed": true, "accept_terms": true})).await;
    assert_eq!(no_pow.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn users_roles_outbox_and_audit() {
    let server = Server::start().await;
    let admin = server.admin().await;
    let user = server.verified_user("mona").await;
    let users = admin.json("/api/v1/admin/users?q=mon").await;
    assert_eq!(users["items"].as_array().unwrap().len(), 1);
    let id = users["items"][0]["id"].as_str().unwrap().to_string();
    let promoted: Value = admin
        .patch(
            &format!("/api/v1/admin/users/{id}"),
            json!({"role": "moderator"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(promoted["role"], "moderator");
    assert_eq!(user.json("/api/v1/me").await["role"], "moderator");
    problem(
        admin
            .patch(
                &format!("/api/v1/admin/users/{id}"),
                json!({"role": "emperor"}),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let me = admin.json("/api/v1/me").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    problem(
        admin
            .patch(
                &format!("/api/v1/admin/users/{me}"),
                json!({"disabled": true}),
            )
            .await,
        StatusCode::CONFLICT,
    )
    .await;

    // The outbox shows the verification mail as sent, with the server's answer gone.
    let outbox = admin.json("/api/v1/admin/mail").await;
    let verify = outbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["to"] == "mona@example.org")
        .unwrap()
        .clone();
    assert_eq!(verify["status"], "sent");
    assert_eq!(verify["kind"], "verify");
    // Delivered mail keeps no body: the single-use link inside is not stored at rest.
    let body: String = server
        .db()
        .query_row("SELECT body_text FROM mail_outbox WHERE to_addr = 'mona@example.org' AND kind = 'verify'", [], |r| r.get(0))
        .unwrap();
    assert!(body.is_empty());

    let test = admin
        .post("/api/v1/admin/mail/test", json!({"to": "ops@example.org"}))
        .await;
    let test: Value = test.json().await.unwrap();
    assert_eq!(test["ok"], true, "{test}");
    assert!(
        test["transcript"].as_str().unwrap().contains("250"),
        "{test}"
    );
    server.smtp.wait_for("ops@example.org", "test mail");

    let audit = admin.json("/api/v1/admin/audit").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"user.role")
            && actions.contains(&"mail.test")
            && actions.contains(&"admin.created"),
        "{actions:?}"
    );
    assert_eq!(audit["items"][0]["actor"], "boss");
}

#[tokio::test]
async fn failed_mail_is_retried_and_visible() {
    // An SMTP port where nothing listens: the mail stays queued with the error.
    let server = Server::start_with(&[("STRATAMAKE_SMTP__PORT", "9")]).await;
    assert_eq!(
        server.signup("nick", "nick@example.org").await.status(),
        StatusCode::ACCEPTED
    );
    let started = std::time::Instant::now();
    let (status, error) = loop {
        let row: (String, Option<String>) = server
            .db()
            .query_row(
                "SELECT status, last_error FROM mail_outbox WHERE to_addr = 'nick@example.org'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        if row.1.is_some() || started.elapsed().as_secs() > 20 {
            break row;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(status, "queued");
    assert!(error.unwrap().contains("SMTP"));
}

#[tokio::test]
async fn openapi_document_lists_every_endpoint() {
    let server = Server::start().await;
    let doc = server.api().json("/api/v1/openapi.json").await;
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/auth/signup",
        "/api/v1/auth/verify-email",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/password/forgot",
        "/api/v1/auth/password/reset",
        "/api/v1/auth/challenge",
        "/api/v1/me",
        "/api/v1/me/sessions",
        "/api/v1/me/sessions/{id}",
        "/api/v1/me/tokens",
        "/api/v1/me/tokens/{id}",
        "/api/v1/admin/users",
        "/api/v1/admin/audit",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(paths["/api/v1/me"].get("patch").is_some());
}
