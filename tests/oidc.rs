//! Sign-in with OpenID Connect against a real provider (`oidc-provider` from npm) on
//! loopback: code flow with PKCE, state and nonce, ID token checked against the JWKS;
//! new accounts choose a username; existing accounts are linked only with their password.

mod support;

use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Client, StatusCode, Url};
use serde_json::{Value, json};
use support::{PASSWORD, Server, free_port, problem};

struct Provider {
    child: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_provider(dir: &Path, redirect_uri: &str) -> Provider {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("node_modules/oidc-provider").is_dir(),
        "oidc-provider is not installed: run `scripts/setup.sh test` (part of `make test`)"
    );
    let port_file = dir.join("oidc.port");
    let child = Command::new("node")
        .current_dir(root)
        .arg("tests/support/oidc_provider.mjs")
        .arg(&port_file)
        .arg(redirect_uri)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("node is needed");
    // Owned at once, so the process is reaped whatever happens next.
    let mut provider = Provider {
        child,
        issuer: String::new(),
    };
    let started = Instant::now();
    loop {
        if let Ok(port) = std::fs::read_to_string(&port_file)
            && !port.is_empty()
        {
            provider.issuer = format!("http://127.0.0.1:{port}");
            return provider;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the OpenID provider did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn setup() -> (Server, Provider) {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let redirect = format!("http://127.0.0.1:{port}/api/v1/auth/oidc/idp/callback");
    let provider = start_provider(dir.path(), &redirect);
    let providers = format!(
        "[{{ id = \"idp\", name = \"Test IdP\", issuer = \"{}\", client_id = \"stratamake-test\", client_secret = \"test-secret\" }}]",
        provider.issuer
    );
    let server = Server::start_on(port, &[("STRATAMAKE_OIDC", &providers)]).await;
    std::mem::forget(dir);
    (server, provider)
}

/// A browser-like client: cookies, redirects followed, forms posted.
struct Browser {
    client: Client,
    jar: Arc<Jar>,
    base: String,
}

impl Browser {
    fn new(server: &Server) -> Self {
        let jar = Arc::new(Jar::default());
        let client = Client::builder()
            .cookie_provider(jar.clone())
            .build()
            .unwrap();
        Browser {
            client,
            jar,
            base: server.url.clone(),
        }
    }

    fn csrf(&self) -> String {
        let url = Url::parse(&self.base).unwrap();
        let header = self
            .jar
            .cookies(&url)
            .map(|h| h.to_str().unwrap().to_string())
            .unwrap_or_default();
        header
            .split("; ")
            .find_map(|c| c.strip_prefix("sm_csrf="))
            .unwrap_or_default()
            .to_string()
    }

    /// Signs in at the provider as `login` and returns where the browser ends up.
    async fn sign_in_with_provider(&self, login: &str) -> Url {
        let mut response = self
            .client
            .get(format!(
                "{}/api/v1/auth/oidc/idp/start?next=/settings/security",
                self.base
            ))
            .send()
            .await
            .unwrap();
        // The provider's development pages: a login form, then a consent form.
        for _ in 0..4 {
            let url = response.url().clone();
            if url.as_str().starts_with(&self.base) {
                return url;
            }
            let html = response.text().await.unwrap();
            let action = between(&html, "action=\"", "\"").expect("a form at the provider");
            let mut form: Vec<(String, String)> = Vec::new();
            for input in html.split("<input").skip(1) {
                let name = between(input, "name=\"", "\"");
                let value = between(input, "value=\"", "\"").unwrap_or_default();
                match name.as_deref() {
                    Some("login") => form.push(("login".into(), login.into())),
                    Some("password") => form.push(("password".into(), "anything".into())),
                    Some(name) => form.push((name.into(), value)),
                    None => {}
                }
            }
            let target = url.join(&action).unwrap();
            response = self.client.post(target).form(&form).send().await.unwrap();
        }
        panic!("the provider never sent the browser back");
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("x-csrf-token", self.csrf())
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn me(&self) -> reqwest::Response {
        self.client
            .get(format!("{}/api/v1/me", self.base))
            .send()
            .await
            .unwrap()
    }
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(text[from..to].replace("&amp;", "&"))
}

#[tokio::test]
async fn new_person_chooses_a_username_then_signs_in_directly() {
    let (server, _provider) = setup().await;
    let public: Value = server.api().json("/api/v1/config/public").await;
    assert_eq!(public["oidc_providers"][0]["name"], "Test IdP");

    let browser = Browser::new(&server);
    let landed = browser.sign_in_with_provider("nora").await;
    assert_eq!(landed.path(), "/oidc/welcome");
    let pending: Value = browser
        .client
        .get(format!("{}/api/v1/auth/oidc/pending", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pending["email"], "nora@idp.example.org");
    assert_eq!(pending["suggested_username"], "nora");
    assert_eq!(pending["existing_account"], false);
    // The pending cookie is CSRF-protected like a session.
    let forged = browser
        .client
        .post(format!("{}/api/v1/auth/oidc/complete", server.url))
        .json(&json!({"username": "nora"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let missing_terms = browser
        .post(
            "/api/v1/auth/oidc/complete",
            json!({"username": "nora", "age_confirmed": true}),
        )
        .await;
    problem(missing_terms, StatusCode::UNPROCESSABLE_ENTITY).await;
    let done = browser
        .post(
            "/api/v1/auth/oidc/complete",
            json!({"username": "nora_s", "age_confirmed": true, "accept_terms": true}),
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    let me: Value = browser.me().await.json().await.unwrap();
    assert_eq!(me["username"], "nora_s");
    assert_eq!(
        me["email_verified"], true,
        "the provider verified the address"
    );
    assert_eq!(me["has_password"], false);

    // Next time the same identity signs straight in, to the page it asked for.
    let again = Browser::new(&server);
    let landed = again.sign_in_with_provider("nora").await;
    assert_eq!(landed.path(), "/settings/security");
    assert_eq!(again.me().await.status(), StatusCode::OK);
    let identities: i64 = server
        .db()
        .query_row("SELECT COUNT(*) FROM oidc_identities", [], |r| r.get(0))
        .unwrap();
    assert_eq!(identities, 1);
}

#[tokio::test]
async fn an_existing_account_is_linked_only_with_its_password() {
    let (server, _provider) = setup().await;
    // An account with the same email as the provider's identity.
    assert_eq!(
        server.signup("lina", "lina@idp.example.org").await.status(),
        StatusCode::ACCEPTED
    );

    let browser = Browser::new(&server);
    let landed = browser.sign_in_with_provider("lina").await;
    assert_eq!(landed.path(), "/oidc/link");
    assert_eq!(
        browser.me().await.status(),
        StatusCode::UNAUTHORIZED,
        "not signed in before proof"
    );
    let taken = browser
        .post(
            "/api/v1/auth/oidc/complete",
            json!({"username": "lina2", "age_confirmed": true, "accept_terms": true}),
        )
        .await;
    problem(taken, StatusCode::CONFLICT).await;
    let wrong = browser
        .post(
            "/api/v1/auth/oidc/link",
            json!({"login": "lina", "password": "not her password"}),
        )
        .await;
    problem(wrong, StatusCode::UNAUTHORIZED).await;
    let right = browser
        .post(
            "/api/v1/auth/oidc/link",
            json!({"login": "lina", "password": PASSWORD}),
        )
        .await;
    assert_eq!(right.status(), StatusCode::OK);
    assert_eq!(
        browser.me().await.json::<Value>().await.unwrap()["username"],
        "lina"
    );

    let later = Browser::new(&server);
    assert_eq!(
        later.sign_in_with_provider("lina").await.path(),
        "/settings/security"
    );
    assert_eq!(
        later.me().await.json::<Value>().await.unwrap()["username"],
        "lina"
    );
}

#[tokio::test]
async fn a_callback_without_the_matching_state_is_refused() {
    let (server, _provider) = setup().await;
    let browser = Browser::new(&server);
    // No flow cookie at all.
    let r = browser
        .client
        .get(format!(
            "{}/api/v1/auth/oidc/idp/callback?code=abc&state=xyz",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.url().path(), "/login");
    assert!(r.url().query().unwrap().contains("error="));
    // A real flow cookie but a different state.
    let start = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(browser.jar.clone())
        .build()
        .unwrap();
    let r = start
        .get(format!("{}/api/v1/auth/oidc/idp/start", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()["location"].to_str().unwrap();
    assert!(location.contains("code_challenge_method=S256") && location.contains("nonce="));
    let r = browser
        .client
        .get(format!(
            "{}/api/v1/auth/oidc/idp/callback?code=abc&state=forged",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.url().path(), "/login");
    assert_eq!(browser.me().await.status(), StatusCode::UNAUTHORIZED);
    // Unknown providers are 404.
    let r = browser
        .client
        .get(format!("{}/api/v1/auth/oidc/nope/start", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
