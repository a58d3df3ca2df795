//! Consents, given and withdrawn: marketing email (opt-in, off by default), usage
//! analytics (on, with an opt-out) and the use of one's likeness (its own flow, in
//! `likeness`). Every choice is a row with its time, the version of the wording shown
//! and how it was given; the newest row of a purpose is in force. Withdrawing is the
//! same one switch as giving.

use axum::Json;
use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::AppState;
use crate::domains::auth::extract::{AuthUser, Scope};
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    MarketingEmail,
    Analytics,
    Likeness,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::MarketingEmail => "marketing_email",
            Purpose::Analytics => "analytics",
            Purpose::Likeness => "likeness",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "marketing_email" => Purpose::MarketingEmail,
            "analytics" => Purpose::Analytics,
            _ => Purpose::Likeness,
        }
    }

    /// In force when the person never chose.
    fn default_granted(self) -> bool {
        matches!(self, Purpose::Analytics)
    }
}

/// The words a person agrees to, versioned: a new wording gets a new version.
pub struct Wording {
    pub version: &'static str,
    pub text: &'static str,
}

pub const MARKETING_EMAIL: Wording = Wording {
    version: "1",
    text: "Send me occasional news about this site: new features, events and tips. \
           At most a few mails a month; every mail has a one-click unsubscribe link.",
};

pub const ANALYTICS: Wording = Wording {
    version: "1",
    text: "Count the pages I view, the features I use and the API requests I make, per \
           day, with my IP address (shortened after a few days), on this machine only, \
           so the administrators can see how the site is used. Nothing is shared.",
};

pub fn wording(purpose: Purpose) -> &'static Wording {
    match purpose {
        Purpose::MarketingEmail => &MARKETING_EMAIL,
        Purpose::Analytics => &ANALYTICS,
        Purpose::Likeness => &super::likeness::CONSENT,
    }
}

/// One recorded choice.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsentRecord {
    pub purpose: Purpose,
    pub granted: bool,
    /// The version of the wording the person saw.
    pub text_version: String,
    /// How it was given: `signup` (the default at signup), `settings`, `unsubscribe`, `api`.
    pub method: String,
    /// What a likeness consent names.
    #[schema(value_type = Object)]
    pub detail: Value,
    pub at: i64,
}

fn record_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ConsentRecord> {
    Ok(ConsentRecord {
        purpose: Purpose::parse(&row.get::<_, String>(0)?),
        granted: row.get(1)?,
        text_version: row.get(2)?,
        method: row.get(3)?,
        detail: serde_json::from_str(&row.get::<_, String>(4)?).unwrap_or(Value::Null),
        at: row.get(5)?,
    })
}

const RECORD_COLUMNS: &str = "purpose, granted, text_version, method, detail, created_at";

/// Records a choice.
pub fn record(
    tx: &Transaction<'_>,
    user_id: &str,
    purpose: Purpose,
    granted: bool,
    method: &str,
    detail: &Value,
    now: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO consents (user_id, purpose, granted, text_version, method, detail, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            user_id,
            purpose.as_str(),
            granted,
            wording(purpose).version,
            method,
            detail.to_string(),
            now
        ],
    )?;
    Ok(())
}

/// The choice in force, if the person ever made one.
pub fn latest(
    conn: &Connection,
    user_id: &str,
    purpose: Purpose,
) -> rusqlite::Result<Option<ConsentRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {RECORD_COLUMNS} FROM consents WHERE user_id = ?1 AND purpose = ?2
         ORDER BY id DESC LIMIT 1"
    ))?
    .query_row(params![user_id, purpose.as_str()], record_from_row)
    .optional()
}

/// Whether the consent is in force now.
pub fn granted(conn: &Connection, user_id: &str, purpose: Purpose) -> rusqlite::Result<bool> {
    Ok(latest(conn, user_id, purpose)?.map_or(purpose.default_granted(), |c| c.granted))
}

/// Every choice of the person, newest first.
pub fn history(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<ConsentRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RECORD_COLUMNS} FROM consents WHERE user_id = ?1 ORDER BY id DESC"
    ))?;
    let rows = stmt.query_map([user_id], record_from_row)?;
    rows.collect()
}

/// The defaults a new account starts with, recorded as such.
pub fn at_signup(tx: &Transaction<'_>, user_id: &str, now: i64) -> rusqlite::Result<()> {
    for purpose in [Purpose::MarketingEmail, Purpose::Analytics] {
        record(
            tx,
            user_id,
            purpose,
            purpose.default_granted(),
            "signup",
            &Value::Object(Default::default()),
            now,
        )?;
    }
    Ok(())
}

/// Accounts whose choice in force for `purpose` is `granted` (only those who chose).
fn chosen(conn: &Connection, purpose: Purpose, granted: bool) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.user_id FROM consents c
         WHERE c.purpose = ?1 AND c.granted = ?2
           AND c.id = (SELECT MAX(id) FROM consents l
                       WHERE l.user_id = c.user_id AND l.purpose = ?1)",
    )?;
    let rows = stmt.query_map(params![purpose.as_str(), granted], |r| r.get(0))?;
    rows.collect()
}

/// Accounts that opted out of analytics (the usage recorder leaves them out).
pub fn analytics_opted_out(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    chosen(conn, Purpose::Analytics, false)
}

/// Accounts that want news by mail now.
pub fn marketing_audience(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    chosen(conn, Purpose::MarketingEmail, true)
}

/// One consent as the privacy page shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentState {
    pub purpose: Purpose,
    pub granted: bool,
    /// The wording in force, and its version.
    pub text: String,
    pub text_version: String,
    /// When the choice in force was made (None: the default, never chosen).
    pub since: Option<i64>,
    pub method: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Consents {
    pub marketing_email: ConsentState,
    pub analytics: ConsentState,
    /// Every choice ever made, newest first (likeness consents included).
    pub history: Vec<ConsentRecord>,
}

fn state_of(conn: &Connection, user_id: &str, purpose: Purpose) -> rusqlite::Result<ConsentState> {
    let latest = latest(conn, user_id, purpose)?;
    let words = wording(purpose);
    Ok(ConsentState {
        purpose,
        granted: latest
            .as_ref()
            .map_or(purpose.default_granted(), |c| c.granted),
        text: words.text.into(),
        text_version: words.version.into(),
        since: latest.as_ref().map(|c| c.at),
        method: latest.map(|c| c.method),
    })
}

fn consents_of(conn: &Connection, user_id: &str) -> rusqlite::Result<Consents> {
    Ok(Consents {
        marketing_email: state_of(conn, user_id, Purpose::MarketingEmail)?,
        analytics: state_of(conn, user_id, Purpose::Analytics)?,
        history: history(conn, user_id)?,
    })
}

#[utoipa::path(get, path = "/api/v1/me/consents", tag = "privacy",
    responses((status = 200, body = Consents)))]
pub async fn get(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Consents>> {
    user.require_scope(Scope::Read)?;
    let id = user.user_id;
    Ok(Json(
        state.db.query(move |conn| consents_of(conn, &id)).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentChoices {
    pub marketing_email: Option<bool>,
    pub analytics: Option<bool>,
}

#[utoipa::path(put, path = "/api/v1/me/consents", tag = "privacy", request_body = ConsentChoices,
    responses((status = 200, body = Consents), (status = 422, body = crate::error::Problem)))]
pub async fn put(
    State(state): State<AppState>,
    user: AuthUser,
    Json(choices): Json<ConsentChoices>,
) -> ApiResult<Json<Consents>> {
    user.require_session()?;
    if choices.marketing_email.is_none() && choices.analytics.is_none() {
        return Err(ApiError::field(
            "marketing_email",
            "Choose marketing_email or analytics (true or false).",
        ));
    }
    let now = state.now();
    let id = user.user_id.clone();
    let consents = state
        .db
        .write(move |tx| {
            for (purpose, wanted) in [
                (Purpose::MarketingEmail, choices.marketing_email),
                (Purpose::Analytics, choices.analytics),
            ] {
                if let Some(wanted) = wanted
                    && granted(tx, &id, purpose)? != wanted
                {
                    record(
                        tx,
                        &id,
                        purpose,
                        wanted,
                        "settings",
                        &Value::Object(Default::default()),
                        now,
                    )?;
                }
            }
            Ok::<_, ApiError>(consents_of(tx, &id)?)
        })
        .await?;
    state
        .privacy
        .usage
        .set_opted_out(&user.user_id, !consents.analytics.granted);
    Ok(Json(consents))
}
