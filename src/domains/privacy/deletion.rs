//! Account deletion. Confirmed with the password (or, for accounts without one, a
//! sign-in of the last few minutes), the account is locked and hidden at once — it is
//! disabled, so every session and token stops working and its content leaves every
//! door of the community — and a mail confirms it with a link to cancel. After the
//! grace period the purge runs every domain's erase rules in one transaction, deletes
//! the files only that account used, and mails a last confirmation. An admin can mark
//! an account as a child's: it is purged at once.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::domains::admin::audit;
use crate::domains::auth::api::login::LOGINS_PER_ACCOUNT;
use crate::domains::auth::emails::{Compose, compose};
use crate::domains::auth::extract::{AuthUser, Client};
use crate::domains::auth::store::{self, ClientMeta, User};
use crate::domains::auth::{cookies, password};
use crate::domains::community;
use crate::domains::generation::api::{JobsToStop, stop_jobs};
use crate::domains::library::store as library;
use crate::error::{ApiError, ApiResult};
use crate::platform::data_dir::DataDir;
use crate::platform::db::DbError;
use crate::platform::mail;
use crate::platform::rate_limit::Limit;
use crate::platform::search;
use crate::platform::tokens::{hash_token, new_token};

/// How recent a sign-in confirms a deletion for an account without a password.
const FRESH_SIGN_IN_SECONDS: i64 = 10 * 60;

/// Password confirmations of a deletion per account.
const CONFIRMS_PER_ACCOUNT: Limit = Limit {
    max: 10,
    window_seconds: 600,
};

/// Attempts to cancel a deletion per client address.
const CANCELS_PER_IP: Limit = Limit {
    max: 10,
    window_seconds: 600,
};

/// Who asked for a deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestedBy {
    /// The person, from their privacy page.
    Themselves,
    /// An admin, for a request the person sent by mail.
    Admin,
}

/// A deletion waiting for its purge.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PendingDeletion {
    pub user_id: String,
    pub username: String,
    pub email: String,
    pub requested_at: i64,
    pub purge_after: i64,
    /// `user` or `admin`.
    pub reason: String,
}

/// When the account `user_id` will be purged, if a deletion is pending.
pub fn pending_until(conn: &Connection, user_id: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT purge_after FROM account_deletions WHERE user_id = ?1")?
        .query_row([user_id], |r| r.get(0))
        .optional()
}

/// An account suspended while its deletion is pending stays disabled if the deletion is
/// cancelled; returns whether a deletion is pending.
pub fn keep_disabled(tx: &Transaction<'_>, user_id: &str) -> rusqlite::Result<bool> {
    Ok(tx.execute(
        "UPDATE account_deletions SET was_disabled = 1 WHERE user_id = ?1",
        [user_id],
    )? > 0)
}

/// Every pending deletion, the soonest purge first.
pub fn pending(conn: &Connection) -> rusqlite::Result<Vec<PendingDeletion>> {
    let mut stmt = conn.prepare(
        "SELECT d.user_id, u.username, u.email, d.requested_at, d.purge_after, d.reason
         FROM account_deletions d JOIN users u ON u.id = d.user_id ORDER BY d.purge_after",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(PendingDeletion {
            user_id: r.get(0)?,
            username: r.get(1)?,
            email: r.get(2)?,
            requested_at: r.get(3)?,
            purge_after: r.get(4)?,
            reason: r.get(5)?,
        })
    })?;
    rows.collect()
}

/// Locks `user`, stops their jobs and schedules the purge; mails them the link that
/// cancels it. Returns when the purge is due and the running jobs to stop on the job
/// board once committed (see [`scheduled`]).
pub fn schedule(
    tx: &Transaction<'_>,
    state: &AppState,
    user: &User,
    by: RequestedBy,
    admin_id: Option<&str>,
    now: i64,
) -> ApiResult<(i64, Vec<String>)> {
    if pending_until(tx, &user.id)?.is_some() {
        return Err(ApiError::Conflict(
            "This account is already scheduled for deletion.".into(),
        ));
    }
    let purge_after = now + state.config.privacy.deletion_grace_days * 86_400;
    let token = new_token();
    tx.execute(
        "INSERT INTO account_deletions (user_id, requested_at, purge_after, requested_by, reason,
                                        cancel_token_hash, was_disabled)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            user.id,
            now,
            purge_after,
            admin_id.unwrap_or(&user.id),
            match by {
                RequestedBy::Themselves => "user",
                RequestedBy::Admin => "admin",
            },
            hash_token(&token),
            user.disabled_at.is_some()
        ],
    )?;
    store::set_disabled(tx, &user.id, true, now)?;
    store::revoke_access_tokens(tx, &user.id, now)?;
    store::log_event(
        tx,
        &user.id,
        "deletion_requested",
        &ClientMeta::default(),
        now,
    )?;
    let stopped = stop_jobs(
        tx,
        &user.id,
        JobsToStop::All,
        "The account is scheduled for deletion.",
        now,
    )?;
    let link = format!(
        "{}/account/restore?token={token}",
        state.config.public_base()
    );
    let first = match by {
        RequestedBy::Themselves => "You asked us to delete your account.".to_string(),
        RequestedBy::Admin => {
            "As you asked us by mail, we scheduled your account for deletion.".to_string()
        }
    };
    let paragraphs = [
        format!(
            "{first} It is locked now: you are signed out everywhere and nothing you shared is shown any more."
        ),
        format!(
            "On {} everything we keep about you will be erased: your account, your library and its files, your posts and generations. Comments you left in other people's conversations will stay as \"[deleted]\", with no link to you.",
            crate::platform::clock::long_date(purge_after)
        ),
        "Changed your mind? Until then, the link below keeps your account as it was.".into(),
    ];
    let mail = compose(
        state,
        Compose {
            to: &user.email,
            user_id: Some(&user.id),
            kind: "deletion_scheduled",
            subject: "Your account will be deleted",
            paragraphs: &paragraphs,
            action: Some(("Keep my account", link)),
        },
    );
    mail::enqueue(tx, &mail, now)?;
    Ok((purge_after, stopped.running))
}

/// After a committed [`schedule`]: stops the running jobs and sends the mail; returns
/// when the purge is due.
pub fn scheduled(state: &AppState, (purge_after, running): (i64, Vec<String>)) -> i64 {
    for job in &running {
        state.jobs.cancel(job);
    }
    state.jobs.touch();
    state.mailer.wake();
    purge_after
}

/// Cancels the pending deletion of `user_id`: the account is as it was.
fn restore(tx: &Transaction<'_>, state: &AppState, user_id: &str, now: i64) -> ApiResult<User> {
    let was_disabled: bool = tx
        .query_row(
            "DELETE FROM account_deletions WHERE user_id = ?1 RETURNING was_disabled",
            [user_id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| {
            ApiError::BadRequest("This account is not scheduled for deletion.".into())
        })?;
    if !was_disabled {
        store::set_disabled(tx, user_id, false, now)?;
    }
    store::log_event(
        tx,
        user_id,
        "deletion_cancelled",
        &ClientMeta::default(),
        now,
    )?;
    let user = store::user_by_id(tx, user_id)?.ok_or(ApiError::NotFound)?;
    let paragraphs = [
        "Your account will not be deleted: it is back as it was, with everything in it."
            .to_string(),
        "Sign in again on your devices to continue.".to_string(),
    ];
    let mail = compose(
        state,
        Compose {
            to: &user.email,
            user_id: Some(&user.id),
            kind: "deletion_cancelled",
            subject: "Your account is kept",
            paragraphs: &paragraphs,
            action: Some(("Sign in", format!("{}/login", state.config.public_base()))),
        },
    );
    mail::enqueue(tx, &mail, now)?;
    Ok(user)
}

/// What a purge removed.
#[derive(Debug, Default, Serialize)]
pub struct Purged {
    pub rows: usize,
    pub files: usize,
    /// Data exports whose ZIPs must go (after the commit).
    #[serde(skip)]
    pub exports: Vec<String>,
    /// Mails whose `.eml` copies must go (after the commit).
    #[serde(skip)]
    pub mails: Vec<i64>,
    /// Jobs that were running, to stop on the job board (after the commit).
    #[serde(skip)]
    pub running_jobs: Vec<String>,
}

/// Erases every row of personal data of `user_id` and the files only they used, in
/// the caller's transaction, and mails them a last confirmation.
pub fn purge(
    tx: &Transaction<'_>,
    state: &AppState,
    user_id: &str,
    why: &str,
    now: i64,
) -> rusqlite::Result<Option<Purged>> {
    let Some(user) = store::user_by_id(tx, user_id)? else {
        return Ok(None);
    };
    let files = library::user_blob_hashes(tx, user_id)?;
    let stopped = stop_jobs(
        tx,
        user_id,
        JobsToStop::All,
        "The account was deleted.",
        now,
    )?;
    let mut purged = Purged {
        exports: super::export::ids_of(tx, user_id)?,
        running_jobs: stopped.running,
        ..Purged::default()
    };
    purged.mails = mail::ids_of_user(tx, user_id)?;
    for table in crate::domains::personal_data_registry() {
        purged.rows += table.erase(tx, user_id)?;
    }
    purged.mails.extend(mail::forget_address(tx, &user.email)?);
    audit::forget_subject(tx, &user.id, &user.username)?;
    community::reports::forget_reported_user(tx, user_id)?;
    // Deleted documents linger in the index's segment files until they are merged away:
    // a rebuild leaves none of the person's words on disk.
    search::request_rebuild(tx)?;
    let unreferenced = library::forget_unreferenced(tx, &files)?;
    purged.files = unreferenced.len();
    audit::record(
        tx,
        None,
        "privacy.purged",
        "",
        &format!("{why}: {} rows, {} files", purged.rows, purged.files),
        now,
    )?;
    let paragraphs = [
        "Your account has been deleted, as you asked. Everything we kept about you is erased: your account, library, files, posts and generations.".to_string(),
        "This is the last mail you will get from us. Thank you for the time you spent here.".to_string(),
    ];
    let mail = compose(
        state,
        Compose {
            to: &user.email,
            user_id: None,
            kind: "account_purged",
            subject: "Your account has been deleted",
            paragraphs: &paragraphs,
            action: None,
        },
    );
    mail::enqueue_forgetting_recipient(tx, &mail, now)?;
    state.privacy.usage.forget(user_id);
    library::remove_files(&state.blobs, &unreferenced);
    Ok(Some(purged))
}

/// Removes what a committed purge left outside the database.
fn remove_leftovers(state: &AppState, purged: &Purged) {
    for job in &purged.running_jobs {
        state.jobs.cancel(job);
    }
    super::export::remove_files(state, &purged.exports);
    let outbox = DataDir::of(state.config.data_dir()).mail_outbox_dir();
    for id in &purged.mails {
        let _ = std::fs::remove_file(mail::eml_path(&outbox, *id));
    }
    state.mailer.wake();
}

/// Purges `user_id` now (a child's account); returns what went, None if no such account.
pub async fn purge_now(
    state: &AppState,
    user_id: &str,
    admin_id: &str,
) -> ApiResult<Option<Purged>> {
    let now = state.now();
    let (id, admin) = (user_id.to_string(), admin_id.to_string());
    let tx_state = state.clone();
    let purged = state
        .db
        .write(move |tx| {
            let purged = purge(tx, &tx_state, &id, "child's account", now)?;
            if purged.is_some() {
                // No identifier of the child is kept, only who purged an account.
                audit::record(tx, Some(&admin), "privacy.child_purged", "", "", now)?;
            }
            Ok::<_, ApiError>(purged)
        })
        .await?;
    if let Some(purged) = &purged {
        remove_leftovers(state, purged);
    }
    Ok(purged)
}

/// Purges every account whose grace period is over; returns how many.
pub async fn purge_due(state: &AppState) -> Result<usize, DbError> {
    let now = state.now();
    let due: Vec<String> = state
        .db
        .query(move |conn| {
            let mut stmt =
                conn.prepare("SELECT user_id FROM account_deletions WHERE purge_after <= ?1")?;
            let rows = stmt.query_map([now], |r| r.get(0))?;
            rows.collect()
        })
        .await?;
    let mut count = 0;
    for user_id in due {
        let tx_state = state.clone();
        let purged = state
            .db
            .write(move |tx| {
                // Cancelled since it was listed: nothing to do.
                if pending_until(tx, &user_id)?.is_none_or(|t| t > now) {
                    return Ok::<_, DbError>(None);
                }
                Ok(purge(tx, &tx_state, &user_id, "grace period over", now)?)
            })
            .await?;
        if let Some(purged) = purged {
            remove_leftovers(state, &purged);
            count += 1;
        }
    }
    Ok(count)
}

#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    /// The account's password; accounts without one (OpenID sign-in only) confirm by
    /// having signed in within the last 10 minutes.
    pub password: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeletionScheduled {
    /// When the account will be purged (unless cancelled with the mailed link).
    pub purge_after: i64,
}

#[utoipa::path(post, path = "/api/v1/me/delete", tag = "privacy", request_body = DeleteRequest,
    responses((status = 202, body = DeletionScheduled),
        (status = 401, description = "Wrong password, or the sign-in is not recent enough", body = crate::error::Problem)))]
pub async fn request(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<DeleteRequest>,
) -> ApiResult<Response> {
    let session = user.require_session()?.to_string();
    let account = user.account.clone();
    state
        .limiter
        .hit(
            &format!("delete-confirm:{}", account.id),
            CONFIRMS_PER_ACCOUNT,
        )
        .map_err(|retry_after_seconds| ApiError::TooManyRequests {
            retry_after_seconds,
        })?;
    match account.password_hash.clone() {
        Some(hash) => {
            let given = body.password.clone().unwrap_or_default();
            let ok = tokio::task::spawn_blocking(move || password::verify(&given, Some(&hash)))
                .await
                .map_err(|e| ApiError::Internal(e.into()))?;
            if !ok {
                return Err(ApiError::Unauthorized {
                    slug: "wrong-password",
                    detail: "The password is not right.".into(),
                });
            }
        }
        None => {
            let started = state
                .db
                .query(move |conn| store::session_started_at(conn, &session))
                .await?
                .unwrap_or(0);
            if state.now() - started > FRESH_SIGN_IN_SECONDS {
                return Err(ApiError::Unauthorized {
                    slug: "sign-in-again",
                    detail: "Sign in again, then delete your account within 10 minutes.".into(),
                });
            }
        }
    }
    let now = state.now();
    let tx_state = state.clone();
    let purge_after = scheduled(
        &state,
        state
            .db
            .write(move |tx| schedule(tx, &tx_state, &account, RequestedBy::Themselves, None, now))
            .await?,
    );
    let mut response = (
        StatusCode::ACCEPTED,
        Json(DeletionScheduled { purge_after }),
    )
        .into_response();
    for cookie in cookies::clearing(&state) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// The token of the link in the deletion mail.
    pub token: Option<String>,
    /// Or the account's username or email and password.
    pub login: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Restored {
    pub username: String,
}

#[utoipa::path(post, path = "/api/v1/me/delete/cancel", tag = "privacy", request_body = CancelRequest,
    responses((status = 200, body = Restored), (status = 400, body = crate::error::Problem),
        (status = 429, body = crate::error::Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<CancelRequest>,
) -> ApiResult<Json<Restored>> {
    let Client(_, ip) = client;
    state
        .limiter
        .hit(&format!("deletion-cancel:{ip}"), CANCELS_PER_IP)
        .map_err(|retry_after_seconds| ApiError::TooManyRequests {
            retry_after_seconds,
        })?;
    let invalid = || {
        ApiError::BadRequest(
            "This link is not valid any more: the account may already be deleted, or kept.".into(),
        )
    };
    let user_id = match (&body.token, &body.login) {
        (Some(token), _) => {
            let hash = hash_token(token);
            state
                .db
                .query(move |conn| {
                    conn.query_row(
                        "SELECT user_id FROM account_deletions WHERE cancel_token_hash = ?1",
                        [hash],
                        |r| r.get::<_, String>(0),
                    )
                    .optional()
                })
                .await?
                .ok_or_else(invalid)?
        }
        (None, Some(login)) => {
            // As guarded as signing in: the same per-account limit, and one answer
            // whether the password or the account's state is what is wrong.
            let lookup = login.trim().to_lowercase();
            state
                .limiter
                .hit(&format!("login-account:{lookup}"), LOGINS_PER_ACCOUNT)
                .map_err(|retry_after_seconds| ApiError::TooManyRequests {
                    retry_after_seconds,
                })?;
            let user = state
                .db
                .query(move |conn| {
                    let user = store::user_by_login(conn, &lookup)?;
                    let pending = match &user {
                        Some(u) => pending_until(conn, &u.id)?.is_some(),
                        None => false,
                    };
                    Ok((user, pending))
                })
                .await?;
            let given = body.password.clone().unwrap_or_default();
            let stored = user.0.as_ref().and_then(|u| u.password_hash.clone());
            let ok =
                tokio::task::spawn_blocking(move || password::verify(&given, stored.as_deref()))
                    .await
                    .map_err(|e| ApiError::Internal(e.into()))?;
            match user {
                (Some(account), true) if ok => account.id,
                _ => {
                    return Err(ApiError::unauthorized(
                        "The login or password is not right, or this account is not waiting for deletion.",
                    ));
                }
            }
        }
        (None, None) => {
            return Err(ApiError::field(
                "token",
                "Send the token from the mail, or your login and password.",
            ));
        }
    };
    let now = state.now();
    let tx_state = state.clone();
    let user = state
        .db
        .write(move |tx| restore(tx, &tx_state, &user_id, now))
        .await?;
    state.mailer.wake();
    Ok(Json(Restored {
        username: user.username,
    }))
}
