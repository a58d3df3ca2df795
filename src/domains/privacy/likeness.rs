//! Likeness samples: photos of a person's own face or body that their generations may
//! start from. They are uploaded only under an explicit consent that names whose
//! likeness they show and what they may be used for; every use checks that the consent
//! is still in force. Withdrawing it deletes at once the samples, everything made from
//! them and their files, and stops the jobs that would use them.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::consents::{self, Purpose, Wording};
use super::export;
use crate::app::AppState;
use crate::domains::auth::extract::{AuthUser, Scope};
use crate::domains::generation::api::{JobsToStop, stop_jobs};
use crate::domains::library::api::{UploadQuery, Uploaded, receive};
use crate::domains::library::store::{self as library, Asset, Purpose as Kept};
use crate::error::{ApiError, ApiResult};

pub const CONSENT: Wording = Wording {
    version: "1",
    text: "These photos show me. I agree that they are stored on this machine, never \
           shown to anyone else or shared, and used only for the uses I chose, only in my \
           own generations. I can withdraw this consent at any time: the photos and \
           everything made from them are then deleted at once.",
};

/// Most samples under one consent.
const MAX_SAMPLES: usize = 20;

/// What a sample may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Use {
    /// The start image of an image-to-image generation.
    ImageToImage,
    /// The image a relief, lithophane or silhouette is made from.
    ModelFromImage,
}

impl Use {
    fn describe(self) -> &'static str {
        match self {
            Use::ImageToImage => "as the start image of an image generation",
            Use::ModelFromImage => "to make a 3D model from",
        }
    }
}

/// What a likeness consent names.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Named {
    /// Whose likeness the samples show, in the person's words (their own).
    pub subject: String,
    pub uses: Vec<Use>,
}

/// The likeness consent in force, if any.
pub fn in_force(conn: &Connection, user_id: &str) -> rusqlite::Result<Option<(Named, i64)>> {
    Ok(consents::latest(conn, user_id, Purpose::Likeness)?
        .filter(|c| c.granted)
        .and_then(|c| Some((serde_json::from_value(c.detail).ok()?, c.at))))
}

/// Whether the person's likeness samples may serve `use_` now; the refusal says why.
pub fn permits(
    conn: &Connection,
    user_id: &str,
    use_: Use,
) -> rusqlite::Result<Result<(), String>> {
    Ok(match in_force(conn, user_id)? {
        None => {
            Err("This likeness sample can no longer be used: its consent was withdrawn.".into())
        }
        Some((named, _)) if !named.uses.contains(&use_) => Err(format!(
            "Your likeness consent does not cover using samples {}.",
            use_.describe()
        )),
        Some(_) => Ok(()),
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LikenessConsent {
    pub subject: String,
    pub uses: Vec<Use>,
    pub given_at: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Likeness {
    /// The consent in force (None: no samples can be uploaded or used).
    pub consent: Option<LikenessConsent>,
    pub samples: Vec<Asset>,
    /// The words of the consent, and their version.
    pub text: String,
    pub text_version: String,
}

fn likeness_of(conn: &Connection, user_id: &str) -> rusqlite::Result<Likeness> {
    Ok(Likeness {
        consent: in_force(conn, user_id)?.map(|(named, at)| LikenessConsent {
            subject: named.subject,
            uses: named.uses,
            given_at: at,
        }),
        samples: library::kept_for(conn, user_id, Kept::Likeness)?,
        text: CONSENT.text.into(),
        text_version: CONSENT.version.into(),
    })
}

#[utoipa::path(get, path = "/api/v1/me/likeness", tag = "privacy",
    responses((status = 200, body = Likeness)))]
pub async fn get(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Likeness>> {
    user.require_scope(Scope::Read)?;
    let id = user.user_id;
    Ok(Json(
        state.db.query(move |conn| likeness_of(conn, &id)).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiveConsent {
    /// Whose likeness the samples show (the person's own), e.g. "Me, Ann Lee".
    pub subject: String,
    /// What the samples may be used for (at least one).
    pub uses: Vec<Use>,
    /// The person read the consent text (`text_version`) and agrees.
    pub agree: bool,
    pub text_version: String,
}

#[utoipa::path(put, path = "/api/v1/me/likeness", tag = "privacy", request_body = GiveConsent,
    responses((status = 200, body = Likeness), (status = 422, body = crate::error::Problem)))]
pub async fn give(
    State(state): State<AppState>,
    user: AuthUser,
    Json(consent): Json<GiveConsent>,
) -> ApiResult<Json<Likeness>> {
    user.require_session()?;
    let subject = consent.subject.trim().to_string();
    if subject.is_empty() || subject.chars().count() > 100 || subject.chars().any(char::is_control)
    {
        return Err(ApiError::field(
            "subject",
            "Say whose likeness the samples show (at most 100 characters).",
        ));
    }
    let mut uses = consent.uses;
    uses.dedup();
    if uses.is_empty() {
        return Err(ApiError::field("uses", "Choose at least one use."));
    }
    if !consent.agree {
        return Err(ApiError::field(
            "agree",
            "Agree to the consent text to go on.",
        ));
    }
    if consent.text_version != CONSENT.version {
        return Err(ApiError::field(
            "text_version",
            "The consent text changed; read the new text and agree again.",
        ));
    }
    let now = state.now();
    let id = user.user_id;
    let detail = json!(Named { subject, uses });
    let likeness = state
        .db
        .write(move |tx| {
            consents::record(tx, &id, Purpose::Likeness, true, "settings", &detail, now)?;
            Ok::<_, ApiError>(likeness_of(tx, &id)?)
        })
        .await?;
    Ok(Json(likeness))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Withdrawn {
    pub samples_deleted: usize,
    /// Images and models made from the samples, deleted with them.
    pub made_from_deleted: usize,
    /// Jobs that would have used a sample: queued ones failed, running ones stopped.
    pub jobs_stopped: usize,
    pub likeness: Likeness,
}

/// Why a job that would use a withdrawn sample did not run.
pub const WITHDRAWN_REASON: &str = "Your likeness consent was withdrawn, so its samples were deleted and this job cannot use them.";

#[utoipa::path(delete, path = "/api/v1/me/likeness", tag = "privacy",
    responses((status = 200, body = Withdrawn)))]
pub async fn withdraw(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Withdrawn>> {
    user.require_session()?;
    let now = state.now();
    let id = user.user_id;
    let blobs = state.blobs.clone();
    let (withdrawn, running, exports) = state
        .db
        .write(move |tx| {
            let samples: Vec<String> = library::kept_for(tx, &id, Kept::Likeness)?
                .into_iter()
                .map(|a| a.id)
                .collect();
            let made_from = library::made_from(tx, &id, &samples)?;
            let every: Vec<String> = samples.iter().chain(&made_from).cloned().collect();
            let stopped = stop_jobs(tx, &id, JobsToStop::Using(&every), WITHDRAWN_REASON, now)?;
            if in_force(tx, &id)?.is_some() {
                consents::record(
                    tx,
                    &id,
                    Purpose::Likeness,
                    false,
                    "settings",
                    &json!({}),
                    now,
                )?;
            }
            // Copies of the data on this machine go too.
            let exports = export::discard_for(tx, &id)?;
            let jobs_stopped = stopped.failed + stopped.running.len();
            library::delete_now(tx, &blobs, &id, &every, now)?;
            let withdrawn = Withdrawn {
                samples_deleted: samples.len(),
                made_from_deleted: made_from.len(),
                jobs_stopped,
                likeness: likeness_of(tx, &id)?,
            };
            Ok::<_, ApiError>((withdrawn, stopped.running, exports))
        })
        .await?;
    for job in &running {
        state.jobs.cancel(job);
    }
    state.jobs.touch();
    export::remove_files(&state, &exports);
    Ok(Json(withdrawn))
}

#[utoipa::path(post, path = "/api/v1/me/likeness/samples", tag = "privacy", params(UploadQuery),
    request_body(content = String, description = "multipart/form-data with `file` parts (PNG, JPEG or WebP photos), or one photo as the body", content_type = "multipart/form-data"),
    responses((status = 201, body = Uploaded), (status = 409, description = "No likeness consent is in force", body = crate::error::Problem),
              (status = 415, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn upload(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Uploaded>)> {
    user.require_session()?;
    let id = user.user_id.clone();
    let (consent, count) = state
        .db
        .query(move |conn| {
            Ok((
                in_force(conn, &id)?,
                library::count_kept(conn, &id, Kept::Likeness)?,
            ))
        })
        .await?;
    if consent.is_none() {
        return Err(ApiError::Conflict(
            "Give your likeness consent before uploading samples.".into(),
        ));
    }
    if count >= MAX_SAMPLES {
        return Err(ApiError::Conflict(format!(
            "You can keep at most {MAX_SAMPLES} likeness samples; delete one first."
        )));
    }
    let items = receive(&state, &user.user_id, Kept::Likeness, query, &headers, body).await?;
    // The consent may have been withdrawn, or the limit passed, while the upload ran:
    // then what it stored goes at once.
    let (id, now, blobs) = (user.user_id.clone(), state.now(), state.blobs.clone());
    let added: Vec<String> = items.iter().map(|a| a.id.clone()).collect();
    state
        .db
        .write(move |tx| {
            let kept = library::count_kept(tx, &id, Kept::Likeness)?;
            let refusal = if in_force(tx, &id)?.is_none() {
                Some("Your likeness consent was withdrawn; the upload was not kept.".to_string())
            } else if kept > MAX_SAMPLES {
                Some(format!(
                    "You can keep at most {MAX_SAMPLES} likeness samples; the upload was not kept."
                ))
            } else {
                None
            };
            match refusal {
                Some(refusal) => {
                    library::delete_now(tx, &blobs, &id, &added, now)?;
                    Ok(Err(ApiError::Conflict(refusal)))
                }
                None => Ok::<_, ApiError>(Ok(())),
            }
        })
        .await??;
    Ok((StatusCode::CREATED, Json(Uploaded { items })))
}

#[utoipa::path(delete, path = "/api/v1/me/likeness/samples/{id}", tag = "privacy",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)))]
pub async fn delete_sample(
    State(state): State<AppState>,
    user: AuthUser,
    Path(asset_id): Path<String>,
) -> ApiResult<StatusCode> {
    user.require_session()?;
    let now = state.now();
    let id = user.user_id;
    let blobs = state.blobs.clone();
    let stopped = state
        .db
        .write(move |tx| {
            let sample = library::get(tx, &asset_id)?
                .filter(|a| a.user_id == id && a.is_likeness())
                .ok_or(ApiError::NotFound)?;
            let stopped = stop_jobs(
                tx,
                &id,
                JobsToStop::Using(std::slice::from_ref(&sample.id)),
                "The likeness sample this job used was deleted.",
                now,
            )?;
            library::delete_now(tx, &blobs, &id, &[sample.id], now)?;
            Ok::<_, ApiError>(stopped)
        })
        .await?;
    for job in &stopped.running {
        state.jobs.cancel(job);
    }
    Ok(StatusCode::NO_CONTENT)
}
