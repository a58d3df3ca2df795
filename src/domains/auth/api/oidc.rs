//! Sign-in with an OpenID Connect provider the admin configured.
//!
//! `GET /api/v1/auth/oidc/{provider}/start` sends the browser to the provider;
//! `.../callback` verifies the answer and either signs in the linked account, or keeps
//! the identity pending: a new person chooses a username (`POST .../oidc/complete`),
//! and an email that already has an account is linked only after its password is given
//! (`POST .../oidc/link`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::session::open_session;
use crate::app::AppState;
use crate::domains::auth::cookies::{self, TokenResponse};
use crate::domains::auth::extract::Client;
use crate::domains::auth::oidc::{self, Identity};
use crate::domains::auth::store::{self, EmailPurpose, NewUser, Role};
use crate::domains::auth::{password, validate};
use crate::error::{ApiError, ApiResult};
use crate::platform::mail;
use crate::platform::tokens::{hash_token, new_token};

/// How long a pending identity waits for a username or a password.
const PENDING_SECONDS: i64 = 15 * 60;

fn redirect_uri(state: &AppState, provider: &str) -> String {
    format!(
        "{}/api/v1/auth/oidc/{provider}/callback",
        state.config.public_base()
    )
}

/// Only paths on this site are followed after sign-in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

/// Sends the browser to a page of the UI with cookies set.
fn redirect_with(to: &str, cookies: Vec<HeaderValue>) -> Response {
    let mut response = Redirect::to(to).into_response();
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn login_error(message: &str) -> Response {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("error", message)
        .finish();
    redirect_with(&format!("/login?{query}"), Vec::new())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct StartQuery {
    /// Page to return to after sign-in (a path on this site).
    pub next: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/auth/oidc/{provider}/start", tag = "auth",
    params(("provider" = String, Path, description = "Provider id from the configuration"), StartQuery),
    responses((status = 303, description = "To the provider's sign-in page"),
              (status = 404, description = "No such provider", body = crate::error::Problem)))]
pub async fn start(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(query): Query<StartQuery>,
) -> ApiResult<Response> {
    state
        .oidc
        .provider(&provider)
        .map_err(|_| ApiError::NotFound)?;
    let next = safe_next(query.next.as_deref());
    let (url, flow) = match state
        .oidc
        .start(
            &provider,
            &redirect_uri(&state, &provider),
            next,
            state.now(),
        )
        .await
    {
        Ok(started) => started,
        Err(error) => {
            tracing::error!(%provider, %error, "OpenID Connect sign-in could not start");
            return Ok(login_error(
                "The sign-in provider cannot be reached right now.",
            ));
        }
    };
    let sealed = oidc::seal(&state.secrets.hmac_key, &flow);
    let cookie = cookies::flow_cookie(&state, cookies::OIDC_FLOW, &sealed, oidc::FLOW_SECONDS);
    Ok(redirect_with(&url, vec![cookie]))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// What to do with a verified identity.
enum Outcome {
    SignIn(String),
    Disabled,
    Pending {
        token: String,
        existing_account: bool,
    },
}

#[utoipa::path(get, path = "/api/v1/auth/oidc/{provider}/callback", tag = "auth",
    params(("provider" = String, Path, description = "Provider id"), CallbackQuery),
    responses((status = 303, description = "Signed in, or on to choosing a username or linking an account")))]
pub async fn callback(
    State(state): State<AppState>,
    Client(client, ip): Client,
    Path(provider): Path<String>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let clear_flow = cookies::flow_cookie(&state, cookies::OIDC_FLOW, "", 0);
    let now = state.now();
    let flow = cookies::read(&headers, &cookies::name(&state, cookies::OIDC_FLOW))
        .and_then(|sealed| oidc::unseal(&state.secrets.hmac_key, &sealed, now));
    let Some(flow) = flow.filter(|f| f.provider == provider) else {
        return login_error(
            "The sign-in took too long or was started elsewhere. Please try again.",
        );
    };
    if let Some(error) = &query.error {
        tracing::info!(%provider, %error, description = ?query.error_description, "provider refused the sign-in");
        return login_error("The sign-in was cancelled or refused by the provider.");
    }
    let state_ok = query.state.as_deref().is_some_and(|s| {
        crate::platform::tokens::constant_time_eq(s.as_bytes(), flow.state.as_bytes())
    });
    let (true, Some(code)) = (state_ok, query.code.as_deref()) else {
        tracing::warn!(target: "stratamake::auth", "authentication failure: oidc state mismatch provider={provider} ip={ip}");
        return login_error("The sign-in answer did not match this browser. Please try again.");
    };
    let identity = match state
        .oidc
        .finish(&flow, code, &redirect_uri(&state, &provider))
        .await
    {
        Ok(identity) => identity,
        Err(error) => {
            tracing::warn!(target: "stratamake::auth", "authentication failure: oidc provider={provider} ip={ip}: {error}");
            return login_error("The sign-in could not be verified. Please try again.");
        }
    };
    let outcome = match resolve(&state, &provider, identity).await {
        Ok(outcome) => outcome,
        Err(error) => return error.into_response(),
    };
    match outcome {
        Outcome::SignIn(user_id) => match open_session(&state, &user_id, client).await {
            Ok((_, session_cookies)) => {
                let mut all = session_cookies.to_vec();
                all.push(clear_flow);
                redirect_with(&flow.next, all)
            }
            Err(error) => error.into_response(),
        },
        Outcome::Disabled => login_error("This account is disabled. Contact the administrator."),
        Outcome::Pending {
            token,
            existing_account,
        } => {
            let pending =
                cookies::flow_cookie(&state, cookies::OIDC_PENDING, &token, PENDING_SECONDS);
            let page = if existing_account {
                "/oidc/link"
            } else {
                "/oidc/welcome"
            };
            redirect_with(page, vec![clear_flow, pending])
        }
    }
}

async fn resolve(state: &AppState, provider: &str, identity: Identity) -> ApiResult<Outcome> {
    let now = state.now();
    let provider = provider.to_string();
    state
        .db
        .write(move |tx| {
            let linked: Option<(String, bool)> = tx
                .query_row(
                    "SELECT u.id, u.disabled_at IS NOT NULL FROM oidc_identities i
                     JOIN users u ON u.id = i.user_id WHERE i.provider = ?1 AND i.subject = ?2",
                    params![provider, identity.subject],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((user_id, disabled)) = linked {
                return Ok(if disabled { Outcome::Disabled } else { Outcome::SignIn(user_id) });
            }
            let existing_account = match &identity.email {
                Some(email) => store::user_by_email(tx, email)?.is_some(),
                None => false,
            };
            tx.execute("DELETE FROM oidc_pending WHERE expires_at <= ?1", [now])?;
            let token = new_token();
            tx.execute(
                "INSERT INTO oidc_pending (token_hash, provider, subject, email, email_verified, name,
                                           created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    hash_token(&token),
                    provider,
                    identity.subject,
                    identity.email,
                    identity.email_verified,
                    identity.preferred_username.or(identity.name),
                    now,
                    now + PENDING_SECONDS
                ],
            )?;
            Ok(Outcome::Pending { token, existing_account })
        })
        .await
}

struct PendingIdentity {
    provider: String,
    subject: String,
    email: Option<String>,
    email_verified: bool,
    name: Option<String>,
}

async fn load_pending(
    state: &AppState,
    headers: &HeaderMap,
) -> ApiResult<(String, PendingIdentity)> {
    let token =
        cookies::read(headers, &cookies::name(state, cookies::OIDC_PENDING)).ok_or_else(|| {
            ApiError::unauthorized("No sign-in is waiting. Start again from the sign-in page.")
        })?;
    let now = state.now();
    let hash = hash_token(&token);
    let found = state
        .db
        .query(move |conn| {
            conn.query_row(
                "SELECT provider, subject, email, email_verified, name FROM oidc_pending
                 WHERE token_hash = ?1 AND expires_at > ?2",
                params![hash, now],
                |r| {
                    Ok(PendingIdentity {
                        provider: r.get(0)?,
                        subject: r.get(1)?,
                        email: r.get(2)?,
                        email_verified: r.get(3)?,
                        name: r.get(4)?,
                    })
                },
            )
            .optional()
        })
        .await?;
    let pending = found.ok_or_else(|| {
        ApiError::unauthorized("This sign-in has expired. Start again from the sign-in page.")
    })?;
    Ok((token, pending))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PendingView {
    pub provider: String,
    pub provider_name: String,
    pub email: Option<String>,
    /// A username derived from the provider's profile, if it is free.
    pub suggested_username: Option<String>,
    /// An account already uses this email: it must be linked with its password.
    pub existing_account: bool,
}

#[utoipa::path(get, path = "/api/v1/auth/oidc/pending", tag = "auth",
    responses((status = 200, body = PendingView), (status = 401, body = crate::error::Problem)))]
pub async fn pending(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<PendingView>> {
    let (_, pending) = load_pending(&state, &headers).await?;
    let provider_name = state
        .oidc
        .provider(&pending.provider)
        .map(|p| p.name.clone())
        .unwrap_or_else(|_| pending.provider.clone());
    let email = pending.email.clone();
    let candidate = pending
        .name
        .as_deref()
        .or(pending.email.as_deref().and_then(|e| e.split('@').next()))
        .map(|n| {
            n.to_lowercase()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        })
        .and_then(|n| validate::username(&n).ok());
    let (existing_account, suggested_username) = state
        .db
        .query(move |conn| {
            let existing = match &email {
                Some(e) => store::user_by_email(conn, e)?.is_some(),
                None => false,
            };
            let free = match candidate {
                Some(name) if !store::username_taken(conn, &name)? => Some(name),
                _ => None,
            };
            Ok((existing, free))
        })
        .await?;
    Ok(Json(PendingView {
        provider: pending.provider,
        provider_name,
        email: pending.email,
        suggested_username,
        existing_account,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CompleteRequest {
    pub username: String,
    #[serde(default)]
    pub age_confirmed: bool,
    #[serde(default)]
    pub accept_terms: bool,
}

fn clear_pending(state: &AppState, mut response: Response) -> Response {
    let cookie = cookies::flow_cookie(state, cookies::OIDC_PENDING, "", 0);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

#[utoipa::path(post, path = "/api/v1/auth/oidc/complete", tag = "auth", request_body = CompleteRequest,
    responses((status = 200, description = "Account created and signed in", body = TokenResponse),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn complete(
    State(state): State<AppState>,
    Client(client, _): Client,
    headers: HeaderMap,
    Json(request): Json<CompleteRequest>,
) -> ApiResult<Response> {
    let username = validate::username(&request.username)?;
    validate::consents(request.age_confirmed, request.accept_terms)?;
    let (token, pending) = load_pending(&state, &headers).await?;
    let email = pending
        .email
        .clone()
        .ok_or_else(|| {
            ApiError::BadRequest(
                "The provider did not share an email address, which an account needs.".into(),
            )
        })
        .and_then(|e| validate::email("email", &e))?;
    let now = state.now();
    let state2 = state.clone();
    let user_id = state
        .db
        .write(move |tx| {
            if store::username_taken(tx, &username)? {
                return Err(ApiError::Conflict("This username is taken.".into()));
            }
            if store::user_by_email(tx, &email)?.is_some() {
                return Err(ApiError::Conflict(
                    "An account already uses this email: sign in with its password to link it."
                        .into(),
                ));
            }
            let id = crate::domains::privacy::create_account(
                tx,
                &NewUser {
                    username: &username,
                    email: &email,
                    password_hash: None,
                    role: Role::User,
                    email_verified: pending.email_verified,
                },
                now,
            )?;
            link_identity(tx, &token, &pending, &id, now)?;
            if !pending.email_verified {
                let verify = store::create_email_token(
                    tx,
                    &id,
                    EmailPurpose::Verify,
                    None,
                    super::signup::VERIFY_TOKEN_SECONDS,
                    now,
                )?;
                mail::enqueue(
                    tx,
                    &super::signup::verification_mail(&state2, &email, &id, &username, &verify),
                    now,
                )?;
            }
            Ok(id)
        })
        .await?;
    state.mailer.wake();
    let (tokens, session_cookies) = open_session(&state, &user_id, client).await?;
    Ok(clear_pending(
        &state,
        cookies::json_response(tokens, session_cookies),
    ))
}

fn link_identity(
    tx: &rusqlite::Transaction<'_>,
    token: &str,
    pending: &PendingIdentity,
    user_id: &str,
    now: i64,
) -> ApiResult<()> {
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO oidc_identities (provider, subject, user_id, email, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            pending.provider,
            pending.subject,
            user_id,
            pending.email,
            now
        ],
    )?;
    if inserted == 0 {
        return Err(ApiError::Conflict(
            "This sign-in is already linked to an account.".into(),
        ));
    }
    tx.execute(
        "DELETE FROM oidc_pending WHERE token_hash = ?1",
        [hash_token(token)],
    )?;
    Ok(())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LinkRequest {
    /// Username or email of the existing account.
    pub login: String,
    pub password: String,
}

#[utoipa::path(post, path = "/api/v1/auth/oidc/link", tag = "auth", request_body = LinkRequest,
    responses((status = 200, description = "Linked and signed in", body = TokenResponse),
              (status = 401, body = crate::error::Problem)))]
pub async fn link(
    State(state): State<AppState>,
    Client(client, ip): Client,
    headers: HeaderMap,
    Json(request): Json<LinkRequest>,
) -> ApiResult<Response> {
    let (token, pending) = load_pending(&state, &headers).await?;
    state
        .limiter
        .hit(&format!("login-ip:{ip}"), super::login::LOGINS_PER_IP)
        .map_err(|retry_after_seconds| ApiError::TooManyRequests {
            retry_after_seconds,
        })?;
    let login = request.login.trim().to_lowercase();
    let user = state
        .db
        .query(move |conn| store::user_by_login(conn, &login))
        .await?;
    let given = request.password.clone();
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || password::verify(&given, stored.as_deref()))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let user = user
        .filter(|u| ok && u.disabled_at.is_none())
        .ok_or(ApiError::Unauthorized {
            slug: "invalid-credentials",
            detail: "The username or email and password do not match.".into(),
        })?;
    let now = state.now();
    let user_id = user.id.clone();
    let linked_client = client.clone();
    state
        .db
        .write(move |tx| {
            link_identity(tx, &token, &pending, &user_id, now)?;
            store::log_event(
                tx,
                &user_id,
                &format!("oidc_linked:{}", pending.provider),
                &linked_client,
                now,
            )?;
            Ok::<_, ApiError>(())
        })
        .await?;
    let (tokens, session_cookies) = open_session(&state, &user.id, client).await?;
    Ok(clear_pending(
        &state,
        cookies::json_response(tokens, session_cookies),
    ))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_next(Some("/settings/security")), "/settings/security");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
