//! The auth domain's tables: users, sessions and refresh tokens, single-use email
//! tokens and the security log. Other domains call these functions, never the SQL.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::Serialize;

use crate::platform::tokens::{hash_token, new_id, new_token};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Moderator,
    Admin,
}

impl Role {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "user" => Some(Role::User),
            "moderator" => Some(Role::Moderator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: String,
    pub email_verified_at: Option<i64>,
    pub password_hash: Option<String>,
    pub display_name: String,
    pub bio: String,
    pub links: Vec<String>,
    pub role: Role,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

/// The user columns, for queries that name the users table `u`.
const USER_COLUMNS: &str = "u.id, u.username, u.email, u.email_verified_at, u.password_hash, \
     u.display_name, u.bio, u.links, u.role, u.disabled_at, u.created_at, u.last_login_at";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    user_from_row_at(row, 0)
}

/// Reads the [`USER_COLUMNS`] that start at column `at`.
fn user_from_row_at(row: &Row<'_>, at: usize) -> rusqlite::Result<User> {
    let links: String = row.get(at + 7)?;
    let role: String = row.get(at + 8)?;
    Ok(User {
        id: row.get(at)?,
        username: row.get(at + 1)?,
        email: row.get(at + 2)?,
        email_verified_at: row.get(at + 3)?,
        password_hash: row.get(at + 4)?,
        display_name: row.get(at + 5)?,
        bio: row.get(at + 6)?,
        links: serde_json::from_str(&links).unwrap_or_default(),
        role: Role::parse(&role).unwrap_or(Role::User),
        disabled_at: row.get(at + 9)?,
        created_at: row.get(at + 10)?,
        last_login_at: row.get(at + 11)?,
    })
}

pub fn user_by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1"
    ))?
    .query_row([id], user_from_row)
    .optional()
}

/// Finds a user by username or email (case-insensitive).
pub fn user_by_login(conn: &Connection, login: &str) -> rusqlite::Result<Option<User>> {
    conn.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.username = ?1 OR u.email = ?1"),
        [login.trim()],
        user_from_row,
    )
    .optional()
}

pub fn user_by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<User>> {
    conn.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.email = ?1"),
        [email.trim()],
        user_from_row,
    )
    .optional()
}

/// Users whose username or email matches the `LIKE` pattern, newest first, after the
/// position `(created_at, id)`.
pub fn search_users(
    conn: &Connection,
    pattern: &str,
    after: Option<(i64, String)>,
    limit: i64,
) -> rusqlite::Result<Vec<User>> {
    let (after_time, after_id) = after.unzip();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users u
         WHERE (u.username LIKE ?1 ESCAPE '\\' OR u.email LIKE ?1 ESCAPE '\\')
           AND (?2 IS NULL OR (u.created_at, u.id) < (?2, ?3))
         ORDER BY u.created_at DESC, u.id DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![pattern, after_time, after_id, limit], user_from_row)?;
    rows.collect()
}

/// Every active (not disabled) account: id and email address.
pub fn active_accounts(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare("SELECT id, email FROM users WHERE disabled_at IS NULL")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

pub fn username_taken(conn: &Connection, username: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM users WHERE username = ?1)",
        [username],
        |r| r.get(0),
    )
}

pub fn admin_exists(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM users WHERE role = 'admin')",
        [],
        |r| r.get(0),
    )
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password_hash: Option<&'a str>,
    pub role: Role,
    pub email_verified: bool,
}

/// Inserts an account that accepted the given versions of the Terms and the Privacy
/// Policy (new accounts are made through `privacy::create_account`, which records the
/// acceptance and the default consents too).
pub fn insert_user(
    tx: &Transaction<'_>,
    user: &NewUser<'_>,
    terms_version: &str,
    privacy_version: &str,
    now: i64,
) -> rusqlite::Result<String> {
    let id = new_id();
    tx.execute(
        "INSERT INTO users (id, username, email, email_verified_at, password_hash, display_name,
                            role, age_confirmed_at, terms_version, privacy_version,
                            terms_accepted_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?2, ?6, ?7, ?8, ?9, ?7, ?7)",
        params![
            id,
            user.username,
            user.email,
            user.email_verified.then_some(now),
            user.password_hash,
            user.role.as_str(),
            now,
            terms_version,
            privacy_version,
        ],
    )?;
    Ok(id)
}

pub fn set_password(tx: &Transaction<'_>, user_id: &str, hash: &str) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![user_id, hash],
    )?;
    Ok(())
}

pub fn mark_login(tx: &Transaction<'_>, user_id: &str, now: i64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE users SET last_login_at = ?2 WHERE id = ?1",
        params![user_id, now],
    )?;
    Ok(())
}

/// The request's client, for sessions and the security log.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub ip: String,
    pub user_agent: String,
}

pub fn log_event(
    tx: &Transaction<'_>,
    user_id: &str,
    kind: &str,
    client: &ClientMeta,
    now: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO security_events (user_id, kind, ip, user_agent, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user_id, kind, client.ip, client.user_agent, now],
    )?;
    Ok(())
}

/// A new session and its first refresh token.
pub struct NewSession {
    pub session_id: String,
    pub refresh_token: String,
    pub expires_at: i64,
}

pub fn create_session(
    tx: &Transaction<'_>,
    user_id: &str,
    client: &ClientMeta,
    lifetime_seconds: i64,
    now: i64,
) -> rusqlite::Result<NewSession> {
    let session_id = new_id();
    let expires_at = now + lifetime_seconds;
    tx.execute(
        "INSERT INTO sessions (id, user_id, created_at, expires_at, last_used_at, user_agent, ip)
         VALUES (?1, ?2, ?3, ?4, ?3, ?5, ?6)",
        params![
            session_id,
            user_id,
            now,
            expires_at,
            client.user_agent,
            client.ip
        ],
    )?;
    let refresh_token = insert_refresh_token(tx, &session_id, now)?;
    Ok(NewSession {
        session_id,
        refresh_token,
        expires_at,
    })
}

fn insert_refresh_token(
    tx: &Transaction<'_>,
    session_id: &str,
    now: i64,
) -> rusqlite::Result<String> {
    let token = new_token();
    tx.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?1, ?2, ?3)",
        params![hash_token(&token), session_id, now],
    )?;
    Ok(token)
}

/// What presenting a refresh token led to.
pub enum Rotation {
    /// A new refresh token for the same session.
    Rotated {
        user_id: String,
        session_id: String,
        refresh_token: String,
        expires_at: i64,
    },
    /// The token had been used before: the whole session was revoked.
    ReuseDetected { user_id: String },
    /// Unknown token, or its session ended (revoked, expired, user disabled).
    Invalid,
}

/// A refresh token's row as found when it is presented.
struct PresentedToken {
    session_id: String,
    rotated: bool,
    user_id: String,
    expires_at: i64,
    /// The session is not revoked or expired and the user not disabled.
    usable: bool,
}

pub fn rotate_refresh_token(
    tx: &Transaction<'_>,
    token: &str,
    client: &ClientMeta,
    now: i64,
) -> rusqlite::Result<Rotation> {
    let found = tx
        .query_row(
            "SELECT s.id, r.rotated_at IS NOT NULL, s.user_id, s.expires_at,
                    s.revoked_at IS NULL AND u.disabled_at IS NULL AND s.expires_at > ?2
             FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
             JOIN users u ON u.id = s.user_id
             WHERE r.token_hash = ?1",
            params![hash_token(token), now],
            |r| {
                Ok(PresentedToken {
                    session_id: r.get(0)?,
                    rotated: r.get(1)?,
                    user_id: r.get(2)?,
                    expires_at: r.get(3)?,
                    usable: r.get(4)?,
                })
            },
        )
        .optional()?;
    let Some(PresentedToken {
        session_id,
        rotated,
        user_id,
        expires_at,
        usable,
    }) = found
    else {
        return Ok(Rotation::Invalid);
    };
    if !usable {
        return Ok(Rotation::Invalid);
    }
    if rotated {
        revoke_session(tx, &session_id, "refresh token reused", now)?;
        log_event(tx, &user_id, "refresh_token_reuse", client, now)?;
        return Ok(Rotation::ReuseDetected { user_id });
    }
    tx.execute(
        "UPDATE refresh_tokens SET rotated_at = ?2 WHERE token_hash = ?1",
        params![hash_token(token), now],
    )?;
    tx.execute(
        "UPDATE sessions SET last_used_at = ?2, ip = ?3, user_agent = ?4 WHERE id = ?1",
        params![session_id, now, client.ip, client.user_agent],
    )?;
    let refresh_token = insert_refresh_token(tx, &session_id, now)?;
    Ok(Rotation::Rotated {
        user_id,
        session_id,
        refresh_token,
        expires_at,
    })
}

/// The session a refresh token belongs to, if it is still usable.
/// The live session a refresh token belongs to, as `(session id, user id)`.
pub fn session_of_refresh_token(
    conn: &Connection,
    token: &str,
) -> rusqlite::Result<Option<(String, String)>> {
    conn.query_row(
        "SELECT s.id, s.user_id FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
         WHERE r.token_hash = ?1 AND s.revoked_at IS NULL",
        [hash_token(token)],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

pub fn revoke_session(
    tx: &Transaction<'_>,
    session_id: &str,
    why: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    let changed = tx.execute(
        "UPDATE sessions SET revoked_at = ?2, revoked_why = ?3 WHERE id = ?1 AND revoked_at IS NULL",
        params![session_id, now, why],
    )?;
    Ok(changed > 0)
}

/// Suspends (signs out everywhere) or reinstates an account.
pub fn set_disabled(
    tx: &Transaction<'_>,
    user_id: &str,
    disabled: bool,
    now: i64,
) -> rusqlite::Result<()> {
    if disabled {
        tx.execute(
            "UPDATE users SET disabled_at = ?2 WHERE id = ?1 AND disabled_at IS NULL",
            params![user_id, now],
        )?;
        revoke_user_sessions(tx, user_id, None, "account disabled", now)?;
    } else {
        tx.execute(
            "UPDATE users SET disabled_at = NULL WHERE id = ?1",
            [user_id],
        )?;
    }
    Ok(())
}

/// Revokes every personal access token of the user.
pub fn revoke_access_tokens(
    tx: &Transaction<'_>,
    user_id: &str,
    now: i64,
) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE access_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
        params![user_id, now],
    )
}

/// When the session `id` was signed in (its refresh-token family began).
pub fn session_started_at(conn: &Connection, id: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT created_at FROM sessions WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .optional()
}

/// Revokes every session of the user except `keep`.
pub fn revoke_user_sessions(
    tx: &Transaction<'_>,
    user_id: &str,
    keep: Option<&str>,
    why: &str,
    now: i64,
) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE sessions SET revoked_at = ?3, revoked_why = ?4
         WHERE user_id = ?1 AND revoked_at IS NULL AND id IS NOT ?2",
        params![user_id, keep, now, why],
    )
}

/// The user behind a live session, or `None` when the session was revoked or ended, or
/// the user is disabled.
pub fn active_session_user(
    conn: &Connection,
    session_id: &str,
    user_id: &str,
    now: i64,
) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = ?1 AND s.user_id = ?2 AND s.revoked_at IS NULL AND s.expires_at > ?3
           AND u.disabled_at IS NULL"
    ))?
    .query_row(params![session_id, user_id, now], user_from_row)
    .optional()
}

/// A live personal access token and its user.
pub struct PersonalToken {
    pub id: String,
    pub scopes: String,
    pub last_used_at: Option<i64>,
    pub user: User,
}

/// The personal access token with this hash, if it is unrevoked, unexpired and its user
/// is not disabled.
pub fn personal_token(
    conn: &Connection,
    token_hash: &str,
    now: i64,
) -> rusqlite::Result<Option<PersonalToken>> {
    conn.prepare_cached(&format!(
        "SELECT t.id, t.scopes, t.last_used_at, {USER_COLUMNS}
         FROM access_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = ?1 AND t.revoked_at IS NULL
           AND (t.expires_at IS NULL OR t.expires_at > ?2) AND u.disabled_at IS NULL"
    ))?
    .query_row(params![token_hash, now], |r| {
        Ok(PersonalToken {
            id: r.get(0)?,
            scopes: r.get(1)?,
            last_used_at: r.get(2)?,
            user: user_from_row_at(r, 3)?,
        })
    })
    .optional()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailPurpose {
    Verify,
    Reset,
    EmailChange,
}

impl EmailPurpose {
    fn as_str(self) -> &'static str {
        match self {
            EmailPurpose::Verify => "verify",
            EmailPurpose::Reset => "reset",
            EmailPurpose::EmailChange => "email_change",
        }
    }
}

/// Creates a single-use token sent by email; earlier unused tokens of the same purpose
/// stop working.
pub fn create_email_token(
    tx: &Transaction<'_>,
    user_id: &str,
    purpose: EmailPurpose,
    new_email: Option<&str>,
    ttl_seconds: i64,
    now: i64,
) -> rusqlite::Result<String> {
    tx.execute(
        "UPDATE email_tokens SET used_at = ?3 WHERE user_id = ?1 AND purpose = ?2 AND used_at IS NULL",
        params![user_id, purpose.as_str(), now],
    )?;
    let token = new_token();
    tx.execute(
        "INSERT INTO email_tokens (token_hash, user_id, purpose, new_email, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            hash_token(&token),
            user_id,
            purpose.as_str(),
            new_email,
            now,
            now + ttl_seconds
        ],
    )?;
    Ok(token)
}

/// A redeemed email token.
pub struct RedeemedToken {
    pub user_id: String,
    pub purpose: EmailPurpose,
    pub new_email: Option<String>,
}

/// Marks the token used and returns it when it exists, is unused, unexpired and of one
/// of `purposes`.
pub fn redeem_email_token(
    tx: &Transaction<'_>,
    token: &str,
    purposes: &[EmailPurpose],
    now: i64,
) -> rusqlite::Result<Option<RedeemedToken>> {
    let hash = hash_token(token);
    let found: Option<(String, String, Option<String>)> = tx
        .query_row(
            "SELECT user_id, purpose, new_email FROM email_tokens
             WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
            params![hash, now],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((user_id, purpose, new_email)) = found else {
        return Ok(None);
    };
    let purpose = match purpose.as_str() {
        "verify" => EmailPurpose::Verify,
        "reset" => EmailPurpose::Reset,
        _ => EmailPurpose::EmailChange,
    };
    if !purposes.contains(&purpose) {
        return Ok(None);
    }
    tx.execute(
        "UPDATE email_tokens SET used_at = ?2 WHERE token_hash = ?1",
        params![hash, now],
    )?;
    Ok(Some(RedeemedToken {
        user_id,
        purpose,
        new_email,
    }))
}

pub fn mark_email_verified(tx: &Transaction<'_>, user_id: &str, now: i64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE users SET email_verified_at = COALESCE(email_verified_at, ?2) WHERE id = ?1",
        params![user_id, now],
    )?;
    Ok(())
}

pub fn set_email(
    tx: &Transaction<'_>,
    user_id: &str,
    email: &str,
    now: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE users SET email = ?2, email_verified_at = ?3 WHERE id = ?1",
        params![user_id, email, now],
    )?;
    Ok(())
}
