//! Test harness: starts the real `stratamake` binary on a free port with a fresh data
//! dir, a real SMTP server (aiosmtpd) to receive its mail, and HTTP helpers.
#![allow(dead_code)]

pub mod mesh_files;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery staple";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real SMTP server that stores what it receives as `.eml` files.
pub struct Smtp {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Smtp {
    pub fn start(root: &Path) -> Self {
        let dir = root.join("received-mail");
        let port_file = root.join("smtp.port");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let child = Command::new("python3")
            .arg(script)
            .arg(&port_file)
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd is needed (installed by scripts/setup.sh)");
        let started = Instant::now();
        let port = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file)
                && let Ok(port) = text.trim().parse()
            {
                break port;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the SMTP sink did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Smtp { child, port, dir }
    }

    fn all(&self) -> Vec<Mail> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        paths.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        paths.sort();
        paths
            .iter()
            .map(|p| Mail::parse(&std::fs::read(p).unwrap()))
            .collect()
    }

    /// Waits for the `nth` (0-based) mail to `to` whose subject contains `subject`.
    pub fn wait_for(&self, to: &str, subject: &str) -> Mail {
        let started = Instant::now();
        loop {
            if let Some(mail) = self
                .all()
                .into_iter()
                .rev()
                .find(|m| m.to.eq_ignore_ascii_case(to) && m.subject.contains(subject))
            {
                return mail;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no mail to {to} about {subject:?}; received: {:?}",
                self.all()
                    .iter()
                    .map(|m| (&m.to, &m.subject))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn count_to(&self, to: &str) -> usize {
        self.all()
            .iter()
            .filter(|m| m.to.eq_ignore_ascii_case(to))
            .count()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    raw: Vec<u8>,
}

impl Mail {
    fn parse(raw: &[u8]) -> Self {
        let message = mail_parser::MessageParser::default()
            .parse(raw)
            .expect("a parsable mail");
        let to = message
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_string();
        Mail {
            to,
            subject: message.subject().unwrap_or_default().to_string(),
            text: message.body_text(0).unwrap_or_default().into_owned(),
            html: message.body_html(0).unwrap_or_default().into_owned(),
            raw: raw.to_vec(),
        }
    }

    /// A header's raw value, trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        let message = mail_parser::MessageParser::default().parse(&self.raw)?;
        message.header_raw(name).map(|v| v.trim().to_string())
    }

    /// The token of the first link to `path` (e.g. `/verify`) in the text part.
    pub fn token(&self, path: &str) -> String {
        let marker = format!("{path}?token=");
        let start = self
            .text
            .find(&marker)
            .unwrap_or_else(|| panic!("no {path} link in {}", self.text))
            + marker.len();
        self.text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

/// A running `stratamake serve` process.
pub struct Server {
    child: Option<Child>,
    pub url: String,
    pub port: u16,
    pub root: tempfile::TempDir,
    pub smtp: Smtp,
    pub setup_link: Option<String>,
    extra_env: Vec<(String, String)>,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_stratamake")
}

impl Server {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts with extra `STRATAMAKE_*` variables.
    pub async fn start_with(env: &[(&str, &str)]) -> Self {
        Self::start_on(free_port(), env).await
    }

    /// Starts on a given port (for peers that must know the address beforehand).
    pub async fn start_on(port: u16, env: &[(&str, &str)]) -> Self {
        let root = tempfile::tempdir().unwrap();
        let smtp = Smtp::start(root.path());
        let mut server = Server {
            child: None,
            url: format!("http://127.0.0.1:{port}"),
            port,
            root,
            smtp,
            setup_link: None,
            extra_env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        server.spawn().await;
        server
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(binary());
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("STRATAMAKE_DATA_DIR", self.data_dir())
            .env("STRATAMAKE_PUBLIC_URL", &self.url)
            .env("STRATAMAKE_SMTP__HOST", "127.0.0.1")
            .env("STRATAMAKE_SMTP__PORT", self.smtp.port.to_string())
            .env("STRATAMAKE_SMTP__SECURITY", "none")
            .env("STRATAMAKE_SMTP__FROM", "StrataMake <noreply@strata.test>")
            .env("STRATAMAKE_LOG", "error");
        for (k, v) in &self.extra_env {
            command.env(k, v);
        }
        command
    }

    async fn spawn(&mut self) {
        let mut child = self
            .command()
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (link_tx, link_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(at) = line.find("/setup?token=") {
                    let start = line[..at].rfind("http").unwrap_or(0);
                    let _ = link_tx.send(line[start..].trim().to_string());
                }
            }
        });
        self.child = Some(child);
        self.wait_ready().await;
        self.setup_link = link_rx
            .recv_timeout(Duration::from_millis(200))
            .ok()
            .or(self.setup_link.take());
    }

    async fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok(r) = reqwest::get(format!("{}/readyz", self.url)).await
                && r.status() == StatusCode::OK
            {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("the server exited during start: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the server did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("the server runs");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        child.wait().unwrap()
    }

    /// Kills the process with SIGKILL (no chance to flush anything).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub async fn restart(&mut self) {
        self.kill9();
        self.spawn().await;
    }

    /// The real database file, opened directly.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data_dir().join("stratamake.db")).unwrap()
    }

    /// A client that keeps cookies, like a browser.
    pub fn browser(&self) -> Client {
        Client::builder().cookie_store(true).build().unwrap()
    }

    pub fn api(&self) -> Api {
        Api {
            base: self.url.clone(),
            client: Client::new(),
            token: None,
            refresh: None,
        }
    }

    /// Signs up through the API (solving the proof of work) and returns the answer.
    pub async fn signup(&self, username: &str, email: &str) -> Response {
        let api = self.api();
        let challenge: Value = api
            .get("/api/v1/auth/challenge")
            .await
            .json()
            .await
            .unwrap();
        let challenge: stratamake::domains::auth::pow::Challenge =
            serde_json::from_value(challenge).unwrap();
        let solution = stratamake::domains::auth::pow::solve(&challenge).unwrap();
        api.post(
            "/api/v1/auth/signup",
            json!({"email": email, "username": username, "password": PASSWORD,
                   "age_confirmed": true, "accept_terms": true, "pow": solution}),
        )
        .await
    }

    /// Signs up, follows the verification link from the received mail and signs in.
    pub async fn verified_user(&self, username: &str) -> Api {
        let email = format!("{username}@example.org");
        assert_eq!(
            self.signup(username, &email).await.status(),
            StatusCode::ACCEPTED
        );
        let token = self.smtp.wait_for(&email, "verify").token("/verify");
        let api = self.api();
        let r = api
            .post("/api/v1/auth/verify-email", json!({"token": token}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        self.login(username, PASSWORD).await
    }

    /// Signs in and returns a client using the access token.
    pub async fn login(&self, login: &str, password: &str) -> Api {
        let mut api = self.api();
        let r = api
            .post(
                "/api/v1/auth/login",
                json!({"login": login, "password": password}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "login of {login}");
        let body: Value = r.json().await.unwrap();
        api.token = Some(body["access_token"].as_str().unwrap().to_string());
        api.refresh = body["refresh_token"].as_str().map(str::to_string);
        api
    }

    /// Creates an admin with the CLI and signs in.
    pub async fn admin(&self) -> Api {
        let mut child = self
            .command()
            .args([
                "admin",
                "create-user",
                "--admin",
                "--email",
                "root@example.org",
                "--username",
                "boss",
                "--password-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "create-user failed");
        self.login("boss", PASSWORD).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// An API client with an optional bearer token.
pub struct Api {
    pub base: String,
    pub client: Client,
    pub token: Option<String>,
    pub refresh: Option<String>,
}

impl Api {
    fn with_auth(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.with_auth(self.client.get(format!("{}{path}", self.base)))
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.with_auth(self.client.post(format!("{}{path}", self.base)).json(&body))
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, path: &str, body: Value) -> Response {
        self.with_auth(
            self.client
                .patch(format!("{}{path}", self.base))
                .json(&body),
        )
        .send()
        .await
        .unwrap()
    }

    pub async fn put(&self, path: &str, body: Value) -> Response {
        self.with_auth(self.client.put(format!("{}{path}", self.base)).json(&body))
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.with_auth(self.client.delete(format!("{}{path}", self.base)))
            .send()
            .await
            .unwrap()
    }

    /// Uploads one file to the library as multipart form data.
    pub async fn upload(&self, filename: &str, bytes: Vec<u8>) -> Response {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string());
        let form = reqwest::multipart::Form::new().part("file", part);
        self.with_auth(
            self.client
                .post(format!("{}/api/v1/assets", self.base))
                .multipart(form),
        )
        .send()
        .await
        .unwrap()
    }

    /// Uploads one file and returns its asset, asserting 201.
    pub async fn uploaded(&self, filename: &str, bytes: Vec<u8>) -> Value {
        let response = self.upload(filename, bytes).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "upload of {filename}"
        );
        let body: Value = response.json().await.unwrap();
        body["items"][0].clone()
    }

    /// Follows a generation job's event stream to its end; returns the events' (name,
    /// data).
    pub async fn follow(&self, id: &str) -> Vec<(String, Value)> {
        let response = self.get(&format!("/api/v1/generations/{id}/events")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let mut stream = response.bytes_stream();
        let mut buffer = String::new();
        let mut events = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        while let Ok(Some(chunk)) = tokio::time::timeout_at(deadline, stream.next()).await {
            buffer.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                let value: Value = serde_json::from_str(&data).unwrap();
                let done = ["succeeded", "failed", "cancelled"].contains(&name.as_str());
                events.push((name, value));
                if done {
                    return events;
                }
            }
        }
        panic!("the event stream ended without a final status: {events:?}");
    }

    pub async fn json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }
}

/// The tiny test model shipped in the repository.
pub fn tiny_model() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models/tiny-sd")
        .display()
        .to_string()
}

/// A server that offers the test-only model, which the admin has imported; with extra
/// `STRATAMAKE_*` variables.
pub async fn server_with_model(extra: &[(&str, &str)]) -> (Server, Api) {
    let mut env = vec![("STRATAMAKE_GENERATION__ALLOW_TEST_MODELS", "true")];
    env.extend_from_slice(extra);
    let server = Server::start_with(&env).await;
    let admin = server.admin().await;
    let imported = admin
        .post("/api/v1/admin/models", json!({ "path": tiny_model() }))
        .await;
    assert_eq!(imported.status(), StatusCode::CREATED);
    (server, admin)
}

/// A small PNG whose pixels depend on `seed`.
pub fn png(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let image = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x as u8).wrapping_add(seed), y as u8, seed])
    }));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Asserts a problem+json answer with `status` and returns its body.
pub async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    response.json().await.unwrap()
}
