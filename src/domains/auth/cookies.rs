//! Browser cookies of a session and the JSON that carries the same tokens to other
//! clients. Over HTTPS the names take the `__Host-` prefix and `Secure`.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::jwt::{self, Claims};
use crate::app::AppState;
use crate::error::ApiResult;
use crate::platform::tokens::new_token;

pub const ACCESS: &str = "sm_access";
pub const REFRESH: &str = "sm_refresh";
pub const CSRF: &str = "sm_csrf";
/// The OpenID Connect flow between start and callback (state, nonce, PKCE verifier).
pub const OIDC_FLOW: &str = "sm_oidc";
/// An OpenID Connect sign-in waiting for a username or for proof of an account.
pub const OIDC_PENDING: &str = "sm_oidc_pending";
/// Every cookie the application sets (the Cookie Policy names each).
pub const ALL: [&str; 5] = [ACCESS, REFRESH, CSRF, OIDC_FLOW, OIDC_PENDING];
/// The header that must repeat the CSRF cookie on unsafe requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The cookie's name as sent: `__Host-` prefixed when served over HTTPS.
pub fn name(state: &AppState, base: &str) -> String {
    if state.config.is_https() {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// Reads one cookie from request headers.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn build(state: &AppState, base: &str, value: &str, max_age: i64, http_only: bool) -> HeaderValue {
    let mut cookie = format!(
        "{}={value}; Path=/; Max-Age={max_age}; SameSite={}",
        name(state, base),
        if base == CSRF { "Strict" } else { "Lax" }
    );
    if http_only {
        cookie.push_str("; HttpOnly");
    }
    if state.config.is_https() {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).expect("cookie values are URL-safe")
}

/// A fresh CSRF cookie (readable by the page's script, which echoes it in a header).
pub fn csrf_cookie(state: &AppState) -> HeaderValue {
    build(state, CSRF, &new_token(), 365 * 24 * 3600, false)
}

/// Cookies that remove the session from the browser.
pub fn clearing(state: &AppState) -> [HeaderValue; 2] {
    [
        build(state, ACCESS, "", 0, true),
        build(state, REFRESH, "", 0, true),
    ]
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub token_type: &'static str,
}

/// Signs an access token for the session: the token pair and the cookies that carry it.
pub fn session_tokens(
    state: &AppState,
    user_id: &str,
    session_id: &str,
    refresh_token: String,
    session_expires_at: i64,
) -> ApiResult<(TokenResponse, [HeaderValue; 2])> {
    let now = state.now();
    let ttl = state.config.auth.access_token_seconds;
    let claims = Claims {
        iss: state.config.public_base(),
        aud: jwt::AUDIENCE.into(),
        sub: user_id.into(),
        sid: session_id.into(),
        iat: now,
        exp: now + ttl,
    };
    let access_token = jwt::issue(&state.secrets.jwt_key, &claims)?;
    let refresh_max_age = (session_expires_at - now).max(0);
    let cookies = [
        build(state, ACCESS, &access_token, ttl, true),
        build(state, REFRESH, &refresh_token, refresh_max_age, true),
    ];
    let tokens = TokenResponse {
        access_token,
        refresh_token,
        expires_in: ttl,
        token_type: "Bearer",
    };
    Ok((tokens, cookies))
}

/// Answers with the session's token pair as JSON and as cookies.
pub fn issue(
    state: &AppState,
    user_id: &str,
    session_id: &str,
    refresh_token: String,
    session_expires_at: i64,
) -> ApiResult<Response> {
    let (tokens, cookies) = session_tokens(
        state,
        user_id,
        session_id,
        refresh_token,
        session_expires_at,
    )?;
    Ok(json_response(tokens, cookies))
}

/// The JSON answer of a sign-in, with its cookies, never cached.
pub fn json_response(tokens: TokenResponse, cookies: [HeaderValue; 2]) -> Response {
    let mut response = Json(tokens).into_response();
    let headers = response.headers_mut();
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A short-lived HttpOnly cookie (sign-in flows), or its removal with `max_age` 0.
pub fn flow_cookie(state: &AppState, base: &str, value: &str, max_age: i64) -> HeaderValue {
    build(state, base, value, max_age, true)
}
