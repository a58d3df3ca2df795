//! Email verification and password recovery:
//! `POST /api/v1/auth/verify-email`, `/verify-email/resend`, `/password/forgot`,
//! `/password/reset`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::signup::{MessageResponse, VERIFY_TOKEN_SECONDS, verification_mail};
use crate::app::AppState;
use crate::domains::auth::emails::{Compose, compose, link};
use crate::domains::auth::extract::{AuthUser, Client};
use crate::domains::auth::store::{self, EmailPurpose};
use crate::domains::auth::{password, validate};
use crate::error::{ApiError, ApiResult};
use crate::platform::mail;
use crate::platform::rate_limit::Limit;

pub const RESET_TOKEN_SECONDS: i64 = 30 * 60;
const RESENDS_PER_ACCOUNT: Limit = Limit::new(3, 3600);
const FORGOT_PER_IP: Limit = Limit::new(10, 3600);
const FORGOT_PER_EMAIL: Limit = Limit::new(3, 3600);
const VERIFY_PER_IP: Limit = Limit::new(30, 3600);

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    pub token: String,
}

fn invalid_link() -> ApiError {
    ApiError::BadRequest(
        "This link is not valid any more: it was used already or has expired.".into(),
    )
}

#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "auth", request_body = TokenRequest,
    responses(
        (status = 200, description = "Email verified (or the new address confirmed)", body = MessageResponse),
        (status = 400, description = "Unknown, used or expired link", body = crate::error::Problem)))]
pub async fn verify_email(
    State(state): State<AppState>,
    Client(client, ip): Client,
    Json(request): Json<TokenRequest>,
) -> ApiResult<Json<MessageResponse>> {
    state
        .limiter
        .hit(&format!("verify:{ip}"), VERIFY_PER_IP)
        .map_err(|retry_after_seconds| ApiError::TooManyRequests {
            retry_after_seconds,
        })?;
    let now = state.now();
    let state2 = state.clone();
    let message = state
        .db
        .write(move |tx| {
            let redeemed = store::redeem_email_token(
                tx,
                &request.token,
                &[EmailPurpose::Verify, EmailPurpose::EmailChange],
                now,
            )?
            .ok_or_else(invalid_link)?;
            match (redeemed.purpose, redeemed.new_email) {
                (EmailPurpose::EmailChange, Some(new_email)) => {
                    if store::user_by_email(tx, &new_email)?.is_some() {
                        return Err(ApiError::Conflict(
                            "This address now belongs to another account.".into(),
                        ));
                    }
                    let user = store::user_by_id(tx, &redeemed.user_id)?.ok_or(ApiError::NotFound)?;
                    store::set_email(tx, &user.id, &new_email, now)?;
                    store::log_event(tx, &user.id, "email_changed", &client, now)?;
                    let paragraphs = [format!(
                        "The email address of your account {} was changed to {new_email}. \
                         If you did not do this, reset your password and contact the administrator.",
                        user.username
                    )];
                    let notice = compose(
                        &state2,
                        Compose {
                            to: &user.email,
                            user_id: Some(&user.id),
                            kind: "email_changed",
                            subject: "your email address was changed",
                            paragraphs: &paragraphs,
                            action: None,
                        },
                    );
                    mail::enqueue(tx, &notice, now)?;
                    Ok("Your new email address is confirmed.")
                }
                _ => {
                    store::mark_email_verified(tx, &redeemed.user_id, now)?;
                    store::log_event(tx, &redeemed.user_id, "email_verified", &client, now)?;
                    Ok("Your email address is verified. Welcome!")
                }
            }
        })
        .await?;
    state.mailer.wake();
    Ok(MessageResponse::new(message))
}

#[utoipa::path(post, path = "/api/v1/auth/verify-email/resend", tag = "auth",
    responses(
        (status = 202, description = "A new verification link was sent", body = MessageResponse),
        (status = 429, description = "Too many resends", body = crate::error::Problem)))]
pub async fn resend_verification(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<(StatusCode, Json<MessageResponse>)> {
    if user.email_verified {
        return Err(ApiError::Conflict(
            "Your email address is already verified.".into(),
        ));
    }
    state
        .limiter
        .hit(&format!("resend:{}", user.user_id), RESENDS_PER_ACCOUNT)
        .map_err(|retry_after_seconds| ApiError::TooManyRequests {
            retry_after_seconds,
        })?;
    let now = state.now();
    let state2 = state.clone();
    state
        .db
        .write(move |tx| {
            let account = store::user_by_id(tx, &user.user_id)?.ok_or(ApiError::NotFound)?;
            let token = store::create_email_token(
                tx,
                &account.id,
                EmailPurpose::Verify,
                None,
                VERIFY_TOKEN_SECONDS,
                now,
            )?;
            let mail = verification_mail(
                &state2,
                &account.email,
                &account.id,
                &account.username,
                &token,
            );
            mail::enqueue(tx, &mail, now)?;
            Ok::<_, ApiError>(())
        })
        .await?;
    state.mailer.wake();
    Ok((
        StatusCode::ACCEPTED,
        MessageResponse::new("We sent you a new verification link."),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ForgotRequest {
    pub email: String,
}

const FORGOT_ANSWER: &str = "If an account uses this address, we sent it a link to choose a new password. The link works for 30 minutes.";

#[utoipa::path(post, path = "/api/v1/auth/password/forgot", tag = "auth", request_body = ForgotRequest,
    responses((status = 202, description = "Same answer whether or not the account exists", body = MessageResponse)))]
pub async fn forgot_password(
    State(state): State<AppState>,
    Client(_client, ip): Client,
    Json(request): Json<ForgotRequest>,
) -> ApiResult<(StatusCode, Json<MessageResponse>)> {
    let email = validate::email("email", &request.email)?;
    let limited = |r: i64| ApiError::TooManyRequests {
        retry_after_seconds: r,
    };
    state
        .limiter
        .hit(&format!("forgot-ip:{ip}"), FORGOT_PER_IP)
        .map_err(limited)?;
    state
        .limiter
        .hit(
            &format!("forgot-email:{}", email.to_lowercase()),
            FORGOT_PER_EMAIL,
        )
        .map_err(limited)?;
    // The work happens after the answer, so its duration tells nothing.
    tokio::spawn(send_reset_link(state, email));
    Ok((StatusCode::ACCEPTED, MessageResponse::new(FORGOT_ANSWER)))
}

async fn send_reset_link(state: AppState, email: String) {
    let now = state.now();
    let state2 = state.clone();
    let result = state
        .db
        .write(move |tx| {
            let Some(user) = store::user_by_email(tx, &email)? else {
                return Ok::<_, ApiError>(());
            };
            if user.disabled_at.is_some() {
                return Ok(());
            }
            let token = store::create_email_token(
                tx,
                &user.id,
                EmailPurpose::Reset,
                None,
                RESET_TOKEN_SECONDS,
                now,
            )?;
            let paragraphs = [
                format!("Someone asked to reset the password of your account {}.", user.username),
                "The link works once, for 30 minutes. If you did not ask, ignore this mail: your password stays as it is.".to_string(),
            ];
            let mail = compose(
                &state2,
                Compose {
                    to: &user.email,
                    user_id: Some(&user.id),
                    kind: "reset",
                    subject: "reset your password",
                    paragraphs: &paragraphs,
                    action: Some(("Choose a new password", link(&state2, "/reset", &token))),
                },
            );
            mail::enqueue(tx, &mail, now)?;
            Ok(())
        })
        .await;
    match result {
        Ok(()) => state.mailer.wake(),
        Err(error) => tracing::error!(%error, "sending a password reset link failed"),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResetRequest {
    pub token: String,
    pub password: String,
}

#[utoipa::path(post, path = "/api/v1/auth/password/reset", tag = "auth", request_body = ResetRequest,
    responses(
        (status = 200, description = "Password changed; every session was signed out", body = MessageResponse),
        (status = 400, description = "Unknown, used or expired link", body = crate::error::Problem),
        (status = 422, description = "Password does not meet the rules", body = crate::error::Problem)))]
pub async fn reset_password(
    State(state): State<AppState>,
    Client(client, ip): Client,
    Json(request): Json<ResetRequest>,
) -> ApiResult<Json<MessageResponse>> {
    password::check_policy("password", &request.password, &[])?;
    state
        .limiter
        .hit(&format!("verify:{ip}"), VERIFY_PER_IP)
        .map_err(|retry_after_seconds| ApiError::TooManyRequests {
            retry_after_seconds,
        })?;
    let new_password = request.password.clone();
    let hash = tokio::task::spawn_blocking(move || password::hash(&new_password))
        .await
        .map_err(|e| ApiError::Internal(e.into()))??;
    let now = state.now();
    let state2 = state.clone();
    state
        .db
        .write(move |tx| {
            let redeemed =
                store::redeem_email_token(tx, &request.token, &[EmailPurpose::Reset], now)?
                    .ok_or_else(invalid_link)?;
            let user = store::user_by_id(tx, &redeemed.user_id)?.ok_or(ApiError::NotFound)?;
            store::set_password(tx, &user.id, &hash)?;
            // Whoever could read the reset mail proved they own the address.
            store::mark_email_verified(tx, &user.id, now)?;
            store::revoke_user_sessions(tx, &user.id, None, "password reset", now)?;
            store::log_event(tx, &user.id, "password_reset", &client, now)?;
            let mail = password_changed_mail(&state2, &user.email, &user.id, &user.username);
            mail::enqueue(tx, &mail, now)?;
            Ok::<_, ApiError>(())
        })
        .await?;
    state.mailer.wake();
    Ok(MessageResponse::new(
        "Your password was changed. Sign in with the new one.",
    ))
}

pub fn password_changed_mail(
    state: &AppState,
    email: &str,
    user_id: &str,
    username: &str,
) -> mail::OutgoingMail {
    let paragraphs = [
        format!(
            "The password of your account {username} was just changed, and other sessions were signed out."
        ),
        "If this was not you, reset your password now and contact the administrator.".to_string(),
    ];
    compose(
        state,
        Compose {
            to: email,
            user_id: Some(user_id),
            kind: "password_changed",
            subject: "your password was changed",
            paragraphs: &paragraphs,
            action: Some((
                "Reset your password",
                format!("{}/forgot", state.config.public_base()),
            )),
        },
    )
}
