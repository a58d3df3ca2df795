//! Opening a session once a user has proved who they are (password, setup link, or an
//! OpenID Connect provider).

use axum::http::HeaderValue;
use axum::response::Response;

use crate::app::AppState;
use crate::domains::auth::cookies::{self, TokenResponse};
use crate::domains::auth::store::{self, ClientMeta};
use crate::error::{ApiError, ApiResult};

/// Creates the session and returns its tokens and cookies.
pub async fn open_session(
    state: &AppState,
    user_id: &str,
    client: ClientMeta,
) -> ApiResult<(TokenResponse, [HeaderValue; 2])> {
    let now = state.now();
    let lifetime = state.config.auth.session_lifetime_seconds;
    let id = user_id.to_string();
    let session = state
        .db
        .write(move |tx| {
            let session = store::create_session(tx, &id, &client, lifetime, now)?;
            store::mark_login(tx, &id, now)?;
            store::log_event(tx, &id, "login", &client, now)?;
            Ok::<_, ApiError>(session)
        })
        .await?;
    cookies::session_tokens(
        state,
        user_id,
        &session.session_id,
        session.refresh_token,
        session.expires_at,
    )
}

/// Signs the user in and answers like `POST /api/v1/auth/login`.
pub async fn sign_in(state: &AppState, user_id: &str, client: ClientMeta) -> ApiResult<Response> {
    let (tokens, session_cookies) = open_session(state, user_id, client).await?;
    Ok(cookies::json_response(tokens, session_cookies))
}
