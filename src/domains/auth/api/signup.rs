//! `GET /api/v1/auth/challenge` and `POST /api/v1/auth/signup`.
//!
//! Signup answers the same whether or not the email already has an account: a new
//! address gets a verification mail, a known one a notice that someone tried.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::domains::admin::{
    invites,
    settings::{self, SignupMode},
};
use crate::domains::auth::emails::{Compose, compose, link};
use crate::domains::auth::extract::Client;
use crate::domains::auth::pow::{self, Challenge, Solution};
use crate::domains::auth::store::{self, EmailPurpose, NewUser, Role};
use crate::domains::auth::{password, validate};
use crate::error::{ApiError, ApiResult};
use crate::platform::mail;
use crate::platform::rate_limit::Limit;

pub const VERIFY_TOKEN_SECONDS: i64 = 24 * 3600;
const SIGNUPS_PER_IP: Limit = Limit::new(10, 3600);

#[utoipa::path(get, path = "/api/v1/auth/challenge", tag = "auth",
    responses((status = 200, description = "A proof-of-work challenge for the signup form", body = Challenge)))]
pub async fn challenge(State(state): State<AppState>) -> Json<Challenge> {
    Json(pow::create(
        &state.secrets.hmac_key,
        state.config.auth.pow_max_number,
        state.now(),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignupRequest {
    pub email: String,
    pub username: String,
    pub password: String,
    /// The person confirms they are at least 13 years old.
    #[serde(default)]
    pub age_confirmed: bool,
    /// The person accepts the current Terms of Service and Privacy Policy.
    #[serde(default)]
    pub accept_terms: bool,
    /// Invite code, when signup is invite-only.
    pub invite: Option<String>,
    /// Solution of `GET /api/v1/auth/challenge`, when the proof of work is required.
    pub pow: Option<Solution>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MessageResponse {
    pub message: String,
}

impl MessageResponse {
    pub fn new(message: impl Into<String>) -> Json<Self> {
        Json(Self {
            message: message.into(),
        })
    }
}

#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = SignupRequest,
    responses(
        (status = 202, description = "Check the inbox (same answer whether or not the email is known)", body = MessageResponse),
        (status = 409, description = "Username taken", body = crate::error::Problem),
        (status = 422, description = "Invalid input", body = crate::error::Problem),
        (status = 429, description = "Too many signups from this address", body = crate::error::Problem)))]
pub async fn signup(
    State(state): State<AppState>,
    Client(_client, ip): Client,
    Json(request): Json<SignupRequest>,
) -> ApiResult<(StatusCode, Json<MessageResponse>)> {
    let email = validate::email("email", &request.email)?;
    let username = validate::username(&request.username)?;
    password::check_policy("password", &request.password, &[&username, &email])?;
    validate::consents(request.age_confirmed, request.accept_terms)?;
    state
        .limiter
        .hit(&format!("signup:{ip}"), SIGNUPS_PER_IP)
        .map_err(|retry| ApiError::TooManyRequests {
            retry_after_seconds: retry,
        })?;

    let instance = state.db.query(settings::get).await?;
    let invite = match instance.signup_mode {
        SignupMode::Closed => {
            return Err(ApiError::Forbidden(
                "Signups are closed on this instance.".into(),
            ));
        }
        SignupMode::Invite => Some(
            request
                .invite
                .clone()
                .filter(|c| !c.trim().is_empty())
                .ok_or_else(|| {
                    ApiError::field("invite", "Signup is by invitation: enter your invite code.")
                })?,
        ),
        SignupMode::Open => None,
    };
    let now = state.now();
    let pow_expiry = if instance.pow_required {
        let solution = request.pow.as_ref().ok_or_else(|| {
            ApiError::field("pow", "The anti-abuse check is missing; reload the page.")
        })?;
        let expiry = pow::verify(&state.secrets.hmac_key, solution, now).ok_or_else(|| {
            ApiError::field(
                "pow",
                "The anti-abuse check failed or expired; reload the page.",
            )
        })?;
        Some((solution.signature.clone(), expiry))
    } else {
        None
    };

    let password = request.password.clone();
    let hash = tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| ApiError::Internal(e.into()))??;

    let config = state.config.clone();
    let state2 = state.clone();
    state
        .db
        .write(move |tx| {
            if let Some((signature, expires_at)) = &pow_expiry {
                let fresh = tx.execute(
                    "INSERT OR IGNORE INTO pow_redeemed (signature, expires_at) VALUES (?1, ?2)",
                    params![signature, expires_at],
                )?;
                if fresh == 0 {
                    return Err(ApiError::field(
                        "pow",
                        "This anti-abuse check was already used; reload the page.",
                    ));
                }
                tx.execute("DELETE FROM pow_redeemed WHERE expires_at <= ?1", [now])?;
            }
            if store::username_taken(tx, &username)? {
                return Err(ApiError::Conflict("This username is taken.".into()));
            }
            if let Some(existing) = store::user_by_email(tx, &email)? {
                let paragraphs = [
                    "Someone (perhaps you) tried to create an account with this email address, \
                     which already has one."
                        .to_string(),
                    "If it was you, sign in instead, or reset your password if you forgot it. \
                     If it was not you, you can ignore this mail."
                        .to_string(),
                ];
                let reset_link = format!("{}/forgot", config.public_base());
                let mail = compose(
                    &state2,
                    Compose {
                        to: &existing.email,
                        user_id: Some(&existing.id),
                        kind: "signup_existing",
                        subject: "sign-up attempt with your address",
                        paragraphs: &paragraphs,
                        action: Some(("Reset your password", reset_link)),
                    },
                );
                mail::enqueue(tx, &mail, now)?;
                return Ok(());
            }
            let user_id = crate::domains::privacy::create_account(
                tx,
                &NewUser {
                    username: &username,
                    email: &email,
                    password_hash: Some(&hash),
                    role: Role::User,
                    email_verified: false,
                },
                now,
            )?;
            if let Some(code) = &invite
                && !invites::redeem(tx, code, &user_id, now)?
            {
                return Err(ApiError::field(
                    "invite",
                    "This invite code is not valid, was used, or has expired.",
                ));
            }
            let token = store::create_email_token(
                tx,
                &user_id,
                EmailPurpose::Verify,
                None,
                VERIFY_TOKEN_SECONDS,
                now,
            )?;
            mail::enqueue(
                tx,
                &verification_mail(&state2, &email, &user_id, &username, &token),
                now,
            )?;
            Ok(())
        })
        .await?;
    state.mailer.wake();
    Ok((
        StatusCode::ACCEPTED,
        MessageResponse::new(
            "Almost done: we sent a link to your email address. Open it to verify your account, then sign in.",
        ),
    ))
}

pub fn verification_mail(
    state: &AppState,
    email: &str,
    user_id: &str,
    username: &str,
    token: &str,
) -> mail::OutgoingMail {
    let paragraphs = [
        format!(
            "Welcome to {}, {username}! Please confirm that this is your email address.",
            state.config.instance_name
        ),
        "The link works for 24 hours. If you did not sign up, ignore this mail.".to_string(),
    ];
    compose(
        state,
        Compose {
            to: email,
            user_id: Some(user_id),
            kind: "verify",
            subject: "verify your email address",
            paragraphs: &paragraphs,
            action: Some(("Verify email address", link(state, "/verify", token))),
        },
    )
}
