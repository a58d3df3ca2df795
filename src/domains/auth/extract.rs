//! Extractors that turn a request into who is asking: [`Client`] (IP and user agent)
//! and [`AuthUser`] (the signed-in user or a 401). Handlers never parse tokens.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use rusqlite::params;

use super::cookies;
use super::jwt::{self, TokenError};
use super::store::{self, ClientMeta, Role};
use crate::app::AppState;
use crate::error::ApiError;
use crate::platform::tokens::hash_token;
use crate::platform::usage::RequestUser;

/// The client of a request. The IP comes from `X-Forwarded-For` only when the peer is a
/// configured trusted proxy.
pub struct Client(pub ClientMeta, pub IpAddr);

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let ip = client_ip(peer, parts, state);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(512)
            .collect();
        Ok(Client(
            ClientMeta {
                ip: ip.to_string(),
                user_agent,
            },
            ip,
        ))
    }
}

fn client_ip(peer: IpAddr, parts: &Parts, state: &AppState) -> IpAddr {
    let trusted = |ip: &IpAddr| state.config.trusted_proxies.iter().any(|n| n.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    // Walk the chain from the right: the first address that is not a trusted proxy is
    // the client.
    let chain: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    chain
        .into_iter()
        .rev()
        .find(|ip| !trusted(ip))
        .unwrap_or(peer)
}

/// What a credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Generate,
    Publish,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Generate, Scope::Publish, Scope::Admin];

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "read" => Some(Scope::Read),
            "generate" => Some(Scope::Generate),
            "publish" => Some(Scope::Publish),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Generate => "generate",
            Scope::Publish => "publish",
            Scope::Admin => "admin",
        }
    }
}

/// How the request proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A session's access token (cookie or bearer), with the session id.
    Session(String),
    /// A personal access token, with its scopes.
    PersonalToken(Vec<Scope>),
}

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: String,
    pub role: Role,
    pub email_verified: bool,
    pub credential: Credential,
    /// The account as read when the request was authenticated.
    pub account: store::User,
}

impl AuthUser {
    fn new(account: store::User, credential: Credential) -> Self {
        AuthUser {
            user_id: account.id.clone(),
            role: account.role,
            email_verified: account.email_verified_at.is_some(),
            credential,
            account,
        }
    }

    pub fn session_id(&self) -> Option<&str> {
        match &self.credential {
            Credential::Session(id) => Some(id),
            Credential::PersonalToken(_) => None,
        }
    }

    /// Personal access tokens need the scope; sessions have every scope.
    pub fn require_scope(&self, scope: Scope) -> Result<(), ApiError> {
        match &self.credential {
            Credential::Session(_) => Ok(()),
            Credential::PersonalToken(scopes) if scopes.contains(&scope) => Ok(()),
            Credential::PersonalToken(_) => Err(ApiError::Forbidden(format!(
                "This access token lacks the `{}` scope.",
                scope.as_str()
            ))),
        }
    }

    /// Account security (password, email, sessions, tokens) needs a real session.
    pub fn require_session(&self) -> Result<&str, ApiError> {
        self.session_id().ok_or_else(|| {
            ApiError::Forbidden("Account security can only be changed from a signed-in session, not with an access token.".into())
        })
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        self.require_scope(Scope::Admin)?;
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "Only administrators can do this.".into(),
            ))
        }
    }
}

/// Prefix of personal access tokens, so they are recognisable in logs and scanners.
pub const PERSONAL_TOKEN_PREFIX: &str = "smp_";

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = authenticate(parts, state).await?;
        // Tells the usage counter who asked (it never reads tokens itself).
        if let Some(slot) = parts.extensions.get::<RequestUser>() {
            let _ = slot.0.set(user.user_id.clone());
        }
        Ok(user)
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<AuthUser, ApiError> {
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|v| v.trim().to_string());
    let token = match bearer {
        Some(token) => token,
        None => cookies::read(&parts.headers, &cookies::name(state, cookies::ACCESS))
            .ok_or_else(|| ApiError::unauthorized("Sign in to continue."))?,
    };
    if token.starts_with(PERSONAL_TOKEN_PREFIX) {
        return personal_token_user(state, token).await;
    }
    let now = state.now();
    let claims = jwt::verify(
        &state.secrets.jwt_key,
        &state.config.public_base(),
        &token,
        now,
    )
    .map_err(|e| match e {
        TokenError::Expired => ApiError::Unauthorized {
            slug: "token-expired",
            detail: "The access token has expired; refresh it.".into(),
        },
        TokenError::Invalid => ApiError::unauthorized("The access token is not valid."),
    })?;
    let (session_id, user_id) = (claims.sid, claims.sub);
    let sid = session_id.clone();
    let account = state
        .db
        .query(move |conn| store::active_session_user(conn, &sid, &user_id, now))
        .await?
        .ok_or_else(|| ApiError::unauthorized("This session has ended. Sign in again."))?;
    Ok(AuthUser::new(account, Credential::Session(session_id)))
}

async fn personal_token_user(state: &AppState, token: String) -> Result<AuthUser, ApiError> {
    let now = state.now();
    let hash = hash_token(&token);
    let found = state
        .db
        .query(move |conn| store::personal_token(conn, &hash, now))
        .await?
        .ok_or_else(|| ApiError::unauthorized("The access token is not valid."))?;
    if found.last_used_at.is_none_or(|t| now - t >= 60) {
        // Last use is kept to the minute so that reads do not each cost a write.
        let db = state.db.clone();
        let token_id = found.id.clone();
        tokio::spawn(async move {
            let _ = db
                .write(move |tx| {
                    tx.execute(
                        "UPDATE access_tokens SET last_used_at = ?2 WHERE id = ?1",
                        params![token_id, now],
                    )
                    .map_err(crate::platform::db::DbError::from)
                })
                .await;
        });
    }
    let scopes = found.scopes.split(',').filter_map(Scope::parse).collect();
    Ok(AuthUser::new(found.user, Credential::PersonalToken(scopes)))
}

/// The signed-in user if the request carries valid credentials, else anonymous.
pub struct MaybeUser(pub Option<AuthUser>);

impl MaybeUser {
    /// The viewer's id (None when anonymous), once a personal token is known to carry
    /// the read scope.
    pub fn reader_id(self) -> Result<Option<String>, ApiError> {
        match self.0 {
            Some(user) => {
                user.require_scope(Scope::Read)?;
                Ok(Some(user.user_id))
            }
            None => Ok(None),
        }
    }
}

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(MaybeUser(
            AuthUser::from_request_parts(parts, state).await.ok(),
        ))
    }
}
