//! Assembles the appliance: opens the data dir and database, starts background tasks,
//! builds the router with its middleware, and serves until told to stop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::config::Config;
use crate::domains::auth::oidc::OidcClients;
use crate::domains::generation::runner::Engine;
use crate::domains::privacy::PrivacyRuntime;
use crate::domains::{self, auth::cookies};
use crate::engines::onnx::RuntimeOptions;
use crate::error::{ApiError, problem_response};
use crate::platform::blobs::BlobStore;
use crate::platform::clock::Clock;
use crate::platform::data_dir::DataDir;
use crate::platform::db::Db;
use crate::platform::jobs::JobBoard;
use crate::platform::mail::Mailer;
use crate::platform::migrations;
use crate::platform::rate_limit::RateLimiter;
use crate::platform::search::Search;
use crate::platform::secrets::InstallSecrets;
use crate::platform::tokens::constant_time_eq;

#[derive(OpenApi)]
#[openapi(
    info(title = "StrataMake API", description = "The JSON API of the StrataMake appliance. Browsers authenticate with cookies and send `X-CSRF-Token` on unsafe requests; other clients send `Authorization: Bearer` with an access token or a personal access token."),
    tags(
        (name = "auth", description = "Signup, sign-in, tokens and recovery"),
        (name = "account", description = "The signed-in user's profile, sessions and tokens"),
        (name = "admin", description = "Administration"),
        (name = "library", description = "The private library and its files"),
        (name = "setup", description = "First-run setup"),
        (name = "instance", description = "Public facts about this instance"),
        (name = "privacy", description = "Data exports, account deletion, consents, likeness, policies and usage records"),
    )
)]
struct ApiDoc;

/// Opens everything the server needs.
pub async fn open_state(config: Config) -> anyhow::Result<AppState> {
    let clock = Clock::with_offset(config.clock_offset_seconds);
    let data_dir = DataDir::open(config.data_dir())?;
    let now = clock.now();
    let migrations = migrations::embedded()?;
    let db = Db::open(&data_dir.database(), |conn| {
        let applied = migrations::apply(conn, &migrations, now)?;
        if applied > 0 {
            tracing::info!(applied, "database migrations applied");
        }
        Ok(())
    })
    .with_context(|| format!("opening the database {}", data_dir.database().display()))?;
    let (secrets, created) = InstallSecrets::load_or_create(&db, now).await?;
    if created {
        tracing::info!("created this install's secret keys");
    }
    let mailer = Mailer::new(
        db.clone(),
        clock,
        config.smtp.clone(),
        data_dir.mail_outbox_dir(),
    );
    let oidc = Arc::new(OidcClients::new(&config.oidc)?);
    let blobs = BlobStore::open(data_dir.blobs_dir())
        .with_context(|| format!("opening the file store {}", data_dir.blobs_dir().display()))?;
    let models_dir = data_dir.models_dir();
    crate::domains::generation::models::clean_partial_imports(&models_dir);
    let generation = Arc::new(Engine::new(
        models_dir,
        RuntimeOptions {
            explicit_library: Some(config.generation.onnxruntime_library.clone())
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            data_dir: data_dir.root().to_path_buf(),
            provider: config.generation.execution_provider,
            intra_threads: config.generation.intra_threads,
            inter_threads: config.generation.inter_threads,
        },
        config.generation.model_memory_mb,
    ));
    Ok(AppState {
        privacy: Arc::new(PrivacyRuntime::new(clock, config.privacy.analytics)),
        blobs,
        oidc,
        jobs: JobBoard::new(),
        generation,
        search: Arc::default(),
        config: Arc::new(config),
        db,
        limiter: RateLimiter::new(clock),
        clock,
        mailer,
        secrets,
    })
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(domains::auth::routes())
        .merge(domains::accounts::routes())
        .merge(domains::admin::routes())
        .merge(domains::library::routes())
        .merge(domains::credits::routes())
        .merge(domains::generation::routes())
        .merge(domains::community::routes())
        .merge(domains::privacy::routes())
        .split_for_parts();
    let migrations_expected = migrations::embedded().map_or(i64::MAX, |m| m.len() as i64);
    let openapi_json = Arc::new(openapi.to_pretty_json().unwrap_or_default());
    let max_body = state.config.max_body_bytes;
    let request_id = HeaderName::from_static("x-request-id");
    api.route(
        "/api/v1/openapi.json",
        get(move || {
            let body = openapi_json.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], (*body).clone()) }
        }),
    )
    .route("/blobs/{hash}", get(domains::library::serve::serve))
    .route("/p/{id}", get(crate::web::public::post_page))
    .route("/u/{username}", get(crate::web::public::profile_page))
    .route("/sitemap.xml", get(crate::web::public::sitemap_xml))
    .route("/robots.txt", get(crate::web::public::robots_txt))
    .route("/policies/{slug}", get(crate::web::public::policy_page))
    .route("/terms", get(|| async { axum::response::Redirect::permanent("/policies/terms") }))
    .route("/privacy", get(|| async { axum::response::Redirect::permanent("/policies/privacy") }))
    .route("/healthz", get(|| async { "ok" }))
    .route(
        "/readyz",
        get(move |State(state): State<AppState>| readyz(state, migrations_expected)),
    )
    .fallback(crate::web::serve)
    .layer(middleware::from_fn_with_state(
        state.clone(),
        domains::privacy::usage::count_requests,
    ))
    .layer(middleware::from_fn_with_state(state.clone(), csrf_guard))
    .layer(middleware::from_fn(problem_for_plain_errors))
    .layer(DefaultBodyLimit::max(max_body))
    .layer(middleware::from_fn_with_state(state.clone(), security_headers))
    .layer(
        TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }),
    )
    .layer(PropagateRequestIdLayer::new(request_id.clone()))
    .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
    .with_state(state)
}

/// Ready when the database answers and has every migration this binary carries.
async fn readyz(state: AppState, expected: i64) -> Response {
    let applied = state
        .db
        .query(|conn| {
            conn.query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| {
                r.get::<_, i64>(0)
            })
        })
        .await;
    match applied {
        Ok(n) if n == expected => (StatusCode::OK, "ready").into_response(),
        Ok(n) => problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "Not ready",
            format!("{n} of {expected} migrations applied"),
        ),
        Err(_) => problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "Not ready",
            "the database does not answer".into(),
        ),
    }
}

/// Security headers on every response; HSTS when served over HTTPS.
async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'",
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        headers,
        header::REFERRER_POLICY,
        "strict-origin-when-cross-origin",
    );
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(
        headers,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        headers,
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=()",
    );
    if state.config.is_https() {
        set(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        );
    }
    response
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// CSRF protection. Unsafe requests from another origin are refused; unsafe requests
/// that carry session cookies (and no `Authorization` header) must repeat the CSRF
/// cookie in `X-CSRF-Token`. Responses give a browser its CSRF cookie when it has none.
async fn csrf_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let csrf_name = cookies::name(&state, cookies::CSRF);
    let csrf_cookie = cookies::read(headers, &csrf_name);
    if is_unsafe(request.method()) {
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let same_host = origin
                .split_once("://")
                .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host));
            if !same_host && origin != state.config.public_base() {
                return ApiError::Forbidden("Cross-origin requests are not accepted.".into())
                    .into_response();
            }
        }
        let uses_cookies = !headers.contains_key(header::AUTHORIZATION)
            && [cookies::ACCESS, cookies::REFRESH, cookies::OIDC_PENDING]
                .iter()
                .any(|base| cookies::read(headers, &cookies::name(&state, base)).is_some());
        if uses_cookies {
            let sent = headers
                .get(cookies::CSRF_HEADER)
                .and_then(|v| v.to_str().ok());
            let valid = match (sent, csrf_cookie.as_deref()) {
                (Some(sent), Some(cookie)) => {
                    !cookie.is_empty() && constant_time_eq(sent.as_bytes(), cookie.as_bytes())
                }
                _ => false,
            };
            if !valid {
                return problem_response(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "Forbidden",
                    "The CSRF token is missing or wrong. Reload the page and try again.".into(),
                );
            }
        }
    }
    let mut response = next.run(request).await;
    if csrf_cookie.is_none() {
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookies::csrf_cookie(&state));
    }
    response
}

/// Turns axum's plain-text rejections (malformed JSON, body too large, wrong method)
/// into problem+json, so every error has the same shape.
async fn problem_for_plain_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !is_plain {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    let detail = String::from_utf8_lossy(&body).trim().to_string();
    let (slug, title) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("payload-too-large", "Payload too large"),
        StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "Method not allowed"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", "Unsupported media type"),
        StatusCode::NOT_FOUND => ("not-found", "Not found"),
        s if s.is_server_error() => ("internal", "Internal server error"),
        _ => ("bad-request", "Bad request"),
    };
    let detail = if status.is_server_error() || detail.is_empty() {
        title.to_string()
    } else {
        detail
    };
    problem_response(status, slug, title, detail)
}

/// A running server: where it listens and how to stop it.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub shutdown: watch::Sender<bool>,
    pub handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Serves on `listener` until `shutdown` is set or the process gets SIGTERM/SIGINT.
pub async fn launch_with_listener(
    listener: TcpListener,
    state: AppState,
) -> anyhow::Result<RunningServer> {
    let started = Instant::now();
    let addr = listener.local_addr()?;
    let (shutdown, mut stop) = watch::channel(false);
    tokio::spawn(state.mailer.clone().run(shutdown.subscribe()));
    tokio::spawn(domains::run_housekeeping(
        state.clone(),
        shutdown.subscribe(),
    ));
    tokio::spawn(domains::community::notifications::run_mailer(
        state.clone(),
        shutdown.subscribe(),
    ));
    let search = Search::open(&DataDir::open(state.config.data_dir())?.index_dir())?;
    if state.search.set(search.clone()).is_err() {
        anyhow::bail!("the search index is already open in this process");
    }
    tokio::spawn(search.run_writer(
        state.db.clone(),
        Arc::new(domains::community::search::Documents),
        shutdown.subscribe(),
    ));
    crate::domains::auth::password::warm_up_in_background();
    crate::domains::generation::start_workers(&state).await?;
    crate::domains::privacy::start(&state, &shutdown).await?;
    if let Some(token) =
        crate::domains::auth::api::setup::issue_setup_token(&state.db, state.now()).await?
    {
        let link = format!("{}/setup?token={token}", state.config.public_base());
        tracing::warn!("no administrator exists yet: create one within 30 minutes at {link}");
        println!(
            "\n  First start: create the administrator account at\n  {link}\n  (valid 30 minutes; or run `stratamake admin create-user --admin`)\n"
        );
    }
    let app = router(state.clone());
    let jobs = state.jobs.clone();
    tracing::info!(%addr, public_url = %state.config.public_base(), mail = %state.mailer.describe(),
        ready_ms = started.elapsed().as_millis() as u64, "StrataMake is ready");
    // Responses go out as they are written, not held back by Nagle's algorithm waiting
    // for the client's delayed acknowledgement.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::warn!(%error, "cannot set TCP_NODELAY");
        }
    });
    let handle = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = stop.wait_for(|v| *v) => {}
                _ = termination_signal() => {}
            }
            tracing::info!("shutting down: finishing requests in flight");
            // Event streams never finish by themselves; a job still running is
            // queued again at the next start.
            jobs.close();
        })
        .await
        .context("the HTTP server failed")
    });
    Ok(RunningServer {
        addr,
        shutdown,
        handle,
    })
}

async fn termination_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
