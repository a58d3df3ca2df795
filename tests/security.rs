//! Security properties through HTTP: no account enumeration, rate limits, forged and
//! expired tokens, disabled users, personal access token scopes, problem+json errors.

mod support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{PASSWORD, Server, problem};

#[tokio::test]
async fn no_account_enumeration() {
    let server = Server::start().await;
    server.verified_user("eve").await;
    let anon = server.api();

    // Login: unknown account and wrong password answer alike. (Their timing is measured
    // by benches/http_bench.py: tests hold no timing thresholds.)
    let mut answers = Vec::new();
    for login in ["eve", "nobody-here"] {
        let r = anon
            .post(
                "/api/v1/auth/login",
                json!({"login": login, "password": "wrong password 1"}),
            )
            .await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        answers.push((status, body));
    }
    assert_eq!(answers[0], answers[1]);

    // Forgot password: same answer for a known and an unknown address.
    let known = anon
        .post(
            "/api/v1/auth/password/forgot",
            json!({"email": "eve@example.org"}),
        )
        .await;
    let unknown = anon
        .post(
            "/api/v1/auth/password/forgot",
            json!({"email": "ghost@example.org"}),
        )
        .await;
    assert_eq!(known.status(), unknown.status());
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());

    // Signup with a known email: same answer as a new one; the owner gets a notice.
    let existing = server.signup("eve2", "eve@example.org").await;
    let fresh = server.signup("frank", "frank@example.org").await;
    assert_eq!(existing.status(), StatusCode::ACCEPTED);
    assert_eq!(existing.text().await.unwrap(), fresh.text().await.unwrap());
    server.smtp.wait_for("eve@example.org", "sign-up attempt");
    let eve_accounts: i64 = server
        .db()
        .query_row(
            "SELECT COUNT(*) FROM users WHERE email = 'eve@example.org'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(eve_accounts, 1);
}

#[tokio::test]
async fn login_is_rate_limited_per_account() {
    let server = Server::start().await;
    server.verified_user("rob").await;
    let anon = server.api();
    let mut last = None;
    for _ in 0..11 {
        last = Some(
            anon.post(
                "/api/v1/auth/login",
                json!({"login": "rob", "password": "not the password"}),
            )
            .await,
        );
    }
    let last = last.unwrap();
    assert_eq!(last.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = last.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900);
    problem(last, StatusCode::TOO_MANY_REQUESTS).await;
    // Even the right password waits now.
    let r = anon
        .post(
            "/api/v1/auth/login",
            json!({"login": "rob", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}

fn forge(header: &Value, claims: &Value, key: Option<&[u8]>) -> String {
    let head = URL_SAFE_NO_PAD.encode(header.to_string());
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature = match key {
        Some(key) => {
            use hmac::{Hmac, KeyInit, Mac};
            let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
            mac.update(format!("{head}.{body}").as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
        None => String::new(),
    };
    format!("{head}.{body}.{signature}")
}

#[tokio::test]
async fn forged_tampered_and_expired_tokens_are_refused() {
    let server = Server::start().await;
    let api = server.verified_user("tom").await;
    let token = api.token.clone().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let key: Vec<u8> = server
        .db()
        .query_row(
            "SELECT value FROM install_secrets WHERE name = 'jwt_hs256'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let hs256 = json!({"alg": "HS256", "typ": "JWT"});

    let mut cases = Vec::new();
    // alg none, and another algorithm with a valid-looking signature.
    cases.push((
        "alg none",
        forge(&json!({"alg": "none", "typ": "JWT"}), &claims, None),
    ));
    cases.push((
        "HS512",
        forge(&json!({"alg": "HS512", "typ": "JWT"}), &claims, Some(&key)),
    ));
    // A changed claim with the old signature.
    let mut admin_claims = claims.clone();
    admin_claims["sub"] = json!("someone-else");
    let tampered = forge(&hs256, &admin_claims, Some(&key));
    cases.push((
        "tampered",
        format!(
            "{}.{}.{}",
            parts[0],
            tampered.split('.').nth(1).unwrap(),
            parts[2]
        ),
    ));
    // Signed with the right key but expired, wrong issuer, wrong audience.
    let mut expired = claims.clone();
    expired["exp"] = json!(claims["iat"].as_i64().unwrap() - 1);
    cases.push(("expired", forge(&hs256, &expired, Some(&key))));
    let mut issuer = claims.clone();
    issuer["iss"] = json!("https://elsewhere.example");
    cases.push(("issuer", forge(&hs256, &issuer, Some(&key))));
    let mut audience = claims.clone();
    audience["aud"] = json!("another-api");
    cases.push(("audience", forge(&hs256, &audience, Some(&key))));
    cases.push((
        "wrong key",
        forge(&hs256, &claims, Some(b"not the install key, not at all")),
    ));

    for (name, forged) in cases {
        let mut client = server.api();
        client.token = Some(forged);
        let body = problem(client.get("/api/v1/me").await, StatusCode::UNAUTHORIZED).await;
        if name == "expired" {
            assert_eq!(
                body["type"], "urn:stratamake:problem:token-expired",
                "{name}"
            );
        }
    }
    // The genuine token still works.
    assert_eq!(api.get("/api/v1/me").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn disabling_a_user_ends_access_at_once() {
    let server = Server::start().await;
    let admin = server.admin().await;
    let user = server.verified_user("dan").await;
    let token: Value = user
        .post(
            "/api/v1/me/tokens",
            json!({"name": "script", "scopes": ["read"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut script = server.api();
    script.token = token["token"].as_str().map(str::to_string);
    assert_eq!(script.get("/api/v1/me").await.status(), StatusCode::OK);

    let id = user.json("/api/v1/me").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = admin
        .patch(
            &format!("/api/v1/admin/users/{id}"),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    problem(user.get("/api/v1/me").await, StatusCode::UNAUTHORIZED).await;
    problem(script.get("/api/v1/me").await, StatusCode::UNAUTHORIZED).await;
    problem(
        server
            .api()
            .post(
                "/api/v1/auth/refresh",
                json!({"refresh_token": user.refresh}),
            )
            .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    problem(
        server
            .api()
            .post(
                "/api/v1/auth/login",
                json!({"login": "dan", "password": PASSWORD}),
            )
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let audit = admin.json("/api/v1/admin/audit").await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "user.disable" && e["target"] == "dan")
    );

    admin
        .patch(
            &format!("/api/v1/admin/users/{id}"),
            json!({"disabled": false}),
        )
        .await;
    server.login("dan", PASSWORD).await;
}

#[tokio::test]
async fn personal_access_tokens_have_scopes_and_are_stored_hashed() {
    let server = Server::start().await;
    let user = server.verified_user("pat").await;
    let created = user
        .post(
            "/api/v1/me/tokens",
            json!({"name": "ci", "scopes": ["read"], "expires_in_days": 30}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let secret = created["token"].as_str().unwrap().to_string();
    assert!(secret.starts_with("smp_"));
    problem(
        user.post(
            "/api/v1/me/tokens",
            json!({"name": "x", "scopes": ["admin"]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        user.post(
            "/api/v1/me/tokens",
            json!({"name": "x", "scopes": ["teleport"]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    let mut script = server.api();
    script.token = Some(secret.clone());
    assert_eq!(script.json("/api/v1/me").await["username"], "pat");
    // No publish scope: cannot change the profile; tokens cannot manage account security.
    problem(
        script.patch("/api/v1/me", json!({"bio": "x"})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(script.get("/api/v1/me/tokens").await, StatusCode::FORBIDDEN).await;

    // Last use is recorded in the background, off the request's path.
    let started = std::time::Instant::now();
    let listed = loop {
        let listed = user.json("/api/v1/me/tokens").await;
        if listed["items"][0]["last_used_at"].is_i64() || started.elapsed().as_secs() > 10 {
            break listed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let item = &listed["items"][0];
    assert_eq!(item["name"], "ci");
    assert!(
        item["last_used_at"].is_i64(),
        "last use is recorded: {item}"
    );
    assert!(!listed.to_string().contains(&secret));
    let plain: i64 = server
        .db()
        .query_row(
            "SELECT COUNT(*) FROM access_tokens WHERE token_hash = ?1",
            [&secret],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(plain, 0);

    let id = item["id"].as_str().unwrap();
    assert_eq!(
        user.delete(&format!("/api/v1/me/tokens/{id}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    problem(script.get("/api/v1/me").await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn bad_input_gets_a_problem_never_a_500() {
    let server = Server::start().await;
    let user = server.verified_user("val").await;
    let anon = server.api();
    let raw = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", server.url);
    // Malformed JSON, wrong types, wrong content type, oversize body, unknown route.
    let cases = [
        raw.post(url("/api/v1/auth/login"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
        raw.post(url("/api/v1/auth/login"))
            .json(&json!({"login": 5}))
            .send()
            .await
            .unwrap(),
        raw.post(url("/api/v1/auth/login"))
            .body("login=x")
            .send()
            .await
            .unwrap(),
        // Its own connection: the server answers 413 without reading the body and closes it.
        reqwest::Client::new()
            .post(url("/api/v1/auth/signup"))
            .header("content-type", "application/json")
            .body(vec![b' '; 2 * 1024 * 1024])
            .send()
            .await
            .unwrap(),
        raw.get(url("/api/v1/no-such-thing")).send().await.unwrap(),
        raw.delete(url("/api/v1/auth/login")).send().await.unwrap(),
    ];
    for response in cases {
        let status = response.status();
        assert!(status.is_client_error(), "{status}");
        problem(response, status).await;
    }
    problem(
        user.patch("/api/v1/me", json!({"unknown_field": 1})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(user.get("/api/v1/admin/users").await, StatusCode::FORBIDDEN).await;
    problem(
        anon.get("/api/v1/admin/users?cursor=%%%").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    problem(
        anon.post(
            "/api/v1/auth/verify-email",
            json!({"token": "x".repeat(5000)}),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn every_response_has_security_headers_and_a_request_id() {
    let server = Server::start().await;
    for path in [
        "/",
        "/login",
        "/healthz",
        "/api/v1/config/public",
        "/api/v1/nothing",
    ] {
        let r = reqwest::get(format!("{}{path}", server.url)).await.unwrap();
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline")
                && csp.contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h.contains_key("referrer-policy"));
        assert!(h.contains_key("x-request-id"));
        assert!(
            !h.contains_key("strict-transport-security"),
            "no HSTS over plain HTTP"
        );
    }
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let trusted = Server::start_with(&[("STRATAMAKE_TRUSTED_PROXIES", "[\"127.0.0.1/32\"]")]).await;
    let untrusted = Server::start().await;
    for (server, expected) in [(&trusted, "203.0.113.x"), (&untrusted, "127.0.0.x")] {
        server.verified_user("ivy").await;
        let body: Value = server
            .api()
            .client
            .post(format!("{}/api/v1/auth/login", server.url))
            .header("x-forwarded-for", "198.51.100.1, 203.0.113.9")
            .json(&json!({"login": "ivy", "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut api = server.api();
        api.token = body["access_token"].as_str().map(str::to_string);
        let sessions = api.json("/api/v1/me/sessions").await;
        let current = sessions["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == true)
            .unwrap()
            .clone();
        assert_eq!(current["ip"], expected);
    }
}

#[tokio::test]
async fn sessions_end_after_their_absolute_lifetime() {
    let server = Server::start().await;
    let api = server.verified_user("old").await;
    let (created, expires): (i64, i64) = server
        .db()
        .query_row("SELECT created_at, expires_at FROM sessions", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(
        expires - created,
        30 * 24 * 3600,
        "30-day absolute lifetime"
    );
    // Rotation keeps the family's end, it never extends it.
    let rotated: Value = server
        .api()
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": api.refresh}),
        )
        .await
        .json()
        .await
        .unwrap();
    let after: i64 = server
        .db()
        .query_row("SELECT expires_at FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(after, expires);
    // Once the end has passed, neither the refresh token nor the access token works.
    server
        .db()
        .execute("UPDATE sessions SET expires_at = ?1", [created - 1])
        .unwrap();
    problem(
        server
            .api()
            .post(
                "/api/v1/auth/refresh",
                json!({"refresh_token": rotated["refresh_token"]}),
            )
            .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let mut client = server.api();
    client.token = rotated["access_token"].as_str().map(str::to_string);
    problem(client.get("/api/v1/me").await, StatusCode::UNAUTHORIZED).await;
}
