//! The account life cycle through HTTP against the real server, with a real SMTP
//! server receiving the mail: signup, verification, sign-in, refresh rotation,
//! recovery, password and email change, sessions.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{PASSWORD, Server, problem};

#[tokio::test]
async fn signup_verify_sign_in_and_profile() {
    let server = Server::start().await;
    let response = server.signup("ada", "ada@example.org").await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    // Signed in but unverified until the mailed link is opened.
    let api = server.login("ada", PASSWORD).await;
    let me = api.json("/api/v1/me").await;
    assert_eq!(me["username"], "ada");
    assert_eq!(me["email_verified"], false);
    let mail = server.smtp.wait_for("ada@example.org", "verify your email");
    assert!(
        mail.html.contains("/verify?token="),
        "HTML part carries the link too"
    );
    let token = mail.token("/verify");
    let verified = api
        .post("/api/v1/auth/verify-email", json!({"token": token}))
        .await;
    assert_eq!(verified.status(), StatusCode::OK);
    assert_eq!(api.json("/api/v1/me").await["email_verified"], true);
    // Single use.
    problem(
        api.post("/api/v1/auth/verify-email", json!({"token": token}))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    // Sign in by email too, and the consents were recorded with their versions.
    server.login("ADA@example.org", PASSWORD).await;
    let (terms, age): (String, Option<i64>) = server
        .db()
        .query_row(
            "SELECT terms_version, age_confirmed_at FROM users WHERE username = 'ada'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(terms, "1", "the version of the Terms in force at signup");
    assert!(age.is_some());

    let patched = api
        .patch("/api/v1/me", json!({"display_name": "Ada L.", "bio": "Engines", "links": ["https://example.org/ada"]}))
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let me: Value = patched.json().await.unwrap();
    assert_eq!(me["display_name"], "Ada L.");
    problem(
        api.patch("/api/v1/me", json!({"links": ["javascript:alert(1)"]}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        api.patch("/api/v1/me", json!({"username": "admin"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

#[tokio::test]
async fn signup_rules() {
    let server = Server::start().await;
    let api = server.api();
    let base = json!({"email": "x@example.org", "username": "xavier", "password": PASSWORD, "age_confirmed": true, "accept_terms": true});
    // Without the proof of work.
    let body = problem(
        api.post("/api/v1/auth/signup", base.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(body["errors"]["pow"].is_string());
    // Under 13 / terms not accepted / common password / bad email.
    for (field, value) in [
        ("age_confirmed", json!(false)),
        ("accept_terms", json!(false)),
        ("password", json!("password123")),
        ("email", json!("nope")),
    ] {
        let mut body = base.clone();
        body[field] = value;
        let answer = problem(
            api.post("/api/v1/auth/signup", body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(answer["errors"][field].is_string(), "{field}: {answer}");
    }
    // A replayed proof of work is refused.
    let challenge: stratamake::domains::auth::pow::Challenge =
        serde_json::from_value(api.json("/api/v1/auth/challenge").await).unwrap();
    let solution = stratamake::domains::auth::pow::solve(&challenge).unwrap();
    let mut body = base.clone();
    body["pow"] = serde_json::to_value(&solution).unwrap();
    assert_eq!(
        api.post("/api/v1/auth/signup", body.clone()).await.status(),
        StatusCode::ACCEPTED
    );
    body["username"] = json!("xavier2");
    body["email"] = json!("x2@example.org");
    let answer = problem(
        api.post("/api/v1/auth/signup", body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(answer["errors"]["pow"].is_string());
    // Username taken is a conflict (usernames are public anyway).
    problem(
        server.signup("xavier", "other@example.org").await,
        StatusCode::CONFLICT,
    )
    .await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let server = Server::start().await;
    let api = server.verified_user("rita").await;
    let first = api.refresh.clone().unwrap();
    let anon = server.api();

    let rotated: Value = anon
        .post("/api/v1/auth/refresh", json!({"refresh_token": first}))
        .await
        .json()
        .await
        .unwrap();
    let second = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert_eq!(rotated["expires_in"], 900);
    let mut fresh = server.api();
    fresh.token = rotated["access_token"].as_str().map(str::to_string);
    assert_eq!(fresh.get("/api/v1/me").await.status(), StatusCode::OK);

    // Presenting the already-rotated token again: the whole family is revoked.
    let reuse = problem(
        anon.post("/api/v1/auth/refresh", json!({"refresh_token": first}))
            .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(reuse["type"], "urn:stratamake:problem:refresh-token-reused");
    problem(
        anon.post("/api/v1/auth/refresh", json!({"refresh_token": second}))
            .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // The access token of that session stops working at once.
    problem(fresh.get("/api/v1/me").await, StatusCode::UNAUTHORIZED).await;
    // The stored form is a hash.
    let stored: i64 = server
        .db()
        .query_row(
            "SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = ?1 OR token_hash = ?2",
            [&first, &second],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn browser_cookies_csrf_and_logout() {
    let server = Server::start().await;
    server.verified_user("cora").await;
    let browser = server.browser();
    let url = |p: &str| format!("{}{p}", server.url);
    // The first page view hands out the CSRF cookie.
    let page = browser.get(url("/login")).send().await.unwrap();
    let csrf = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("sm_csrf="))
        .map(|c| c.split(';').next().unwrap().to_string())
        .expect("a CSRF cookie");
    let login = browser
        .post(url("/api/v1/auth/login"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"login": "cora", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let cookies: Vec<String> = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(cookies.iter().any(|c| c.starts_with("sm_access=")
        && c.contains("HttpOnly")
        && c.contains("SameSite=Lax")));
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("sm_refresh=") && c.contains("HttpOnly"))
    );
    assert_eq!(
        browser
            .get(url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // A profile change with the given headers, as the browser would send it.
    let patch_bio = |headers: &[(&str, &str)]| {
        let mut request = browser.patch(url("/api/v1/me")).json(&json!({"bio": "x"}));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    // Unsafe requests with session cookies need the CSRF header...
    let without = patch_bio(&[]).await.unwrap();
    assert_eq!(
        problem(without, StatusCode::FORBIDDEN).await["type"],
        "urn:stratamake:problem:csrf"
    );
    let wrong = patch_bio(&[("x-csrf-token", "forged")]).await.unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    // ...and are refused from another origin.
    let cross = patch_bio(&[("x-csrf-token", &csrf), ("origin", "https://evil.example")])
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let ok = patch_bio(&[("x-csrf-token", &csrf)]).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    // Refresh from the cookie, then log out: the cookies are cleared and the session ends.
    let refreshed = browser
        .post(url("/api/v1/auth/refresh"))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    let out = browser
        .post(url("/api/v1/auth/logout"))
        .header("x-csrf-token", &csrf)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        browser
            .get(url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let revoked: i64 = server
        .db()
        .query_row(
            "SELECT COUNT(*) FROM sessions WHERE revoked_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(revoked, 1);
}

#[tokio::test]
async fn password_reset_by_mail() {
    let server = Server::start().await;
    let old_session = server.verified_user("pia").await;
    let anon = server.api();
    let r = anon
        .post(
            "/api/v1/auth/password/forgot",
            json!({"email": "pia@example.org"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let token = server
        .smtp
        .wait_for("pia@example.org", "reset your password")
        .token("/reset");
    let weak = anon
        .post(
            "/api/v1/auth/password/reset",
            json!({"token": token, "password": "12345678"}),
        )
        .await;
    problem(weak, StatusCode::UNPROCESSABLE_ENTITY).await;
    let done = anon
        .post(
            "/api/v1/auth/password/reset",
            json!({"token": token, "password": "a brand new secret phrase"}),
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    server
        .smtp
        .wait_for("pia@example.org", "password was changed");
    // Single use, old sessions ended, old password gone, new one works.
    problem(
        anon.post(
            "/api/v1/auth/password/reset",
            json!({"token": token, "password": "another new secret phrase"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        old_session.get("/api/v1/me").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    problem(
        anon.post(
            "/api/v1/auth/login",
            json!({"login": "pia", "password": PASSWORD}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    server.login("pia", "a brand new secret phrase").await;
    // The token is stored hashed.
    let plain: i64 = server
        .db()
        .query_row(
            "SELECT COUNT(*) FROM email_tokens WHERE token_hash = ?1",
            [&token],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(plain, 0);
}

#[tokio::test]
async fn change_password_and_email_and_manage_sessions() {
    let server = Server::start().await;
    let laptop = server.verified_user("max").await;
    let phone = server.login("max", PASSWORD).await;

    let sessions = laptop.json("/api/v1/me/sessions").await;
    let items = sessions["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(items[0]["place"], "This machine");
    let other = items.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        laptop
            .delete(&format!("/api/v1/me/sessions/{other}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    problem(phone.get("/api/v1/me").await, StatusCode::UNAUTHORIZED).await;
    problem(
        laptop.delete(&format!("/api/v1/me/sessions/{other}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // Password change: needs the current one, ends other sessions, mails a notice.
    let tablet = server.login("max", PASSWORD).await;
    let wrong = laptop
        .post(
            "/api/v1/me/password",
            json!({"current_password": "nope nope", "new_password": "fresh secret phrase 1"}),
        )
        .await;
    problem(wrong, StatusCode::UNPROCESSABLE_ENTITY).await;
    let ok = laptop
        .post(
            "/api/v1/me/password",
            json!({"current_password": PASSWORD, "new_password": "fresh secret phrase 1"}),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    assert_eq!(laptop.get("/api/v1/me").await.status(), StatusCode::OK);
    problem(tablet.get("/api/v1/me").await, StatusCode::UNAUTHORIZED).await;
    server
        .smtp
        .wait_for("max@example.org", "password was changed");

    // Email change: re-authenticate, confirm from the new address, notice to the old.
    let r = laptop
        .post(
            "/api/v1/me/email",
            json!({"password": "fresh secret phrase 1", "new_email": "max@new.example.org"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    server
        .smtp
        .wait_for("max@example.org", "email change requested");
    let token = server
        .smtp
        .wait_for("max@new.example.org", "confirm your new email")
        .token("/verify");
    assert_eq!(laptop.json("/api/v1/me").await["email"], "max@example.org");
    assert_eq!(
        laptop
            .post("/api/v1/auth/verify-email", json!({"token": token}))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        laptop.json("/api/v1/me").await["email"],
        "max@new.example.org"
    );
    server
        .smtp
        .wait_for("max@example.org", "your email address was changed");
}

#[tokio::test]
async fn logout_everywhere() {
    let server = Server::start().await;
    let a = server.verified_user("lou").await;
    let b = server.login("lou", PASSWORD).await;
    let r = a
        .post(
            "/api/v1/auth/logout",
            json!({"all": true, "refresh_token": a.refresh}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    problem(a.get("/api/v1/me").await, StatusCode::UNAUTHORIZED).await;
    problem(b.get("/api/v1/me").await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn over_https_cookies_are_host_prefixed_and_secure_and_hsts_is_sent() {
    // Behind a TLS-terminating proxy: the public URL is HTTPS.
    let server =
        Server::start_with(&[("STRATAMAKE_PUBLIC_URL", "https://studio.example.org")]).await;
    server.verified_user("hana").await;
    let response = server
        .api()
        .post(
            "/api/v1/auth/login",
            json!({"login": "hana", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    for name in ["__Host-sm_access=", "__Host-sm_refresh=", "__Host-sm_csrf="] {
        let cookie = cookies
            .iter()
            .find(|c| c.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {cookies:?}"));
        assert!(
            cookie.contains("; Secure") && cookie.contains("Path=/") && !cookie.contains("Domain="),
            "{cookie}"
        );
    }
}
