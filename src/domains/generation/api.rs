//! `/api/v1/generations` (queue, follow, cancel, list), `/api/v1/models` (what can be
//! used and whether generation is available at all), and the admin's queue view.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::mesh_params::{self, MeshMode, MeshParams};
use super::models::{self, Model};
use super::params::{GenerationParams, GenerationRequest, json_value};
use crate::app::AppState;
use crate::domains::auth::extract::{AuthUser, Scope};
use crate::domains::auth::store::Role;
use crate::domains::credits::ledger::{self, LedgerError};
use crate::domains::library::store::{self as library, Asset, MeshInfo};
use crate::domains::privacy::likeness;
use crate::engines::diffusion::manifest::Family;
use crate::error::{ApiError, ApiResult};
use crate::platform::cursor::{self, Page};
use crate::platform::jobs::{self, Enqueued, Finished, Job, JobBoard, NewJob, Progress, Status};
use crate::platform::tokens::random_bytes;

const PAGE: i64 = 30;

/// A generated image as a job lists it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ResultImage {
    pub asset_id: String,
    pub url: String,
    pub thumbnail_url: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub seed: Option<u64>,
}

/// A 3D model a job made.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ResultModel {
    pub asset_id: String,
    /// The GLB file.
    pub url: String,
    pub thumbnail_url: Option<String>,
    pub mesh: Option<MeshInfo>,
}

/// A generation job as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Generation {
    pub id: String,
    pub kind: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: Status,
    /// A cancel was asked for and the job has not stopped yet.
    pub cancel_requested: bool,
    /// Whose job it is (in the admin's queue view only).
    pub username: Option<String>,
    /// The complete parameters, defaults and seed filled in.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Credits reserved (and charged on success).
    pub cost: i64,
    /// 1 = runs next; while queued.
    pub position: Option<i64>,
    /// While running.
    pub progress: Option<Progress>,
    /// Latest preview image while running.
    pub preview_url: Option<String>,
    pub error: Option<String>,
    pub images: Vec<ResultImage>,
    /// The model, for 3D kinds.
    pub model: Option<ResultModel>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// Builds the client view of a job (reads positions and result assets).
fn view(conn: &Connection, job: Job, board: &JobBoard) -> rusqlite::Result<Generation> {
    let position = jobs::queue_position(conn, &job)?;
    let progress = (job.status == Status::Running)
        .then(|| board.subscribe(&job.id).map(|rx| rx.borrow().clone()))
        .flatten()
        .filter(|p| p.steps > 0);
    let preview_url = progress.as_ref().filter(|p| p.preview_seq > 0).map(|p| {
        format!(
            "/api/v1/generations/{}/preview?seq={}",
            job.id, p.preview_seq
        )
    });
    let mut images = Vec::new();
    if let Some(result) = &job.result {
        let ids = result["asset_ids"].as_array().cloned().unwrap_or_default();
        let seeds = result["seeds"].as_array().cloned().unwrap_or_default();
        for (at, id) in ids.iter().enumerate() {
            let Some(asset) = id
                .as_str()
                .map(|id| library::get(conn, id))
                .transpose()?
                .flatten()
            else {
                continue;
            };
            images.push(ResultImage {
                asset_id: asset.id,
                url: asset.url,
                thumbnail_url: asset.preview_url.or(asset.thumbnail_url),
                width: asset.width,
                height: asset.height,
                seed: seeds.get(at).and_then(|s| s.as_u64()),
            });
        }
    }
    let model = job
        .result
        .as_ref()
        .and_then(|r| r["model_asset_id"].as_str())
        .map(|id| library::get(conn, id))
        .transpose()?
        .flatten()
        .map(|asset| ResultModel {
            asset_id: asset.id,
            url: asset.url,
            thumbnail_url: asset.preview_url.or(asset.thumbnail_url),
            mesh: asset.mesh,
        });
    Ok(Generation {
        id: job.id,
        kind: job.kind,
        status: job.status,
        cancel_requested: job.cancel_requested && !job.status.is_final(),
        username: None,
        params: job.params,
        cost: job.cost,
        position,
        progress,
        preview_url,
        error: job.error,
        images,
        model,
        created_at: job.created_at,
        started_at: job.started_at,
        finished_at: job.finished_at,
    })
}

/// Why generation cannot run here, and how to fix it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Unavailability {
    pub reason: String,
    pub fix: String,
    /// Shell commands that fix it, for copying.
    pub commands: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Models {
    /// Whether a generation can be queued now.
    pub available: bool,
    pub problem: Option<Unavailability>,
    /// ONNX Runtime version and execution provider when loaded.
    pub runtime: Option<String>,
    pub models: Vec<Model>,
    /// The user's credits.
    pub balance: i64,
    /// What a 3D model from an image costs (prompt to 3D adds the image model's cost).
    pub mesh_credit_cost: i64,
    /// The depth model reliefs can take their heights from, if one is installed.
    pub depth_model: Option<String>,
    /// The background-removal model silhouettes can use, if one is installed.
    pub background_model: Option<String>,
}

async fn usable_models(state: &AppState) -> ApiResult<Vec<Model>> {
    let allow = state.config.generation.allow_test_models;
    Ok(state
        .db
        .query(move |conn| models::usable(conn, allow))
        .await?)
}

#[utoipa::path(get, path = "/api/v1/models", tag = "generation", responses((status = 200, body = Models)))]
pub async fn list_models(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Models>> {
    user.require_scope(Scope::Read)?;
    let allow = state.config.generation.allow_test_models;
    let (models, depth_model, background_model) = state
        .db
        .query(move |conn| {
            let all = models::list(conn)?;
            let name = |family| models::of_family(&all, family, allow).map(|m| m.name);
            Ok::<_, rusqlite::Error>((
                models::image_models(&all, allow),
                name(Family::Depth),
                name(Family::BackgroundRemoval),
            ))
        })
        .await?;
    let engine = state.generation.clone();
    let runtime = tokio::task::spawn_blocking(move || {
        engine
            .runtime()
            .map(|r| format!("ONNX Runtime {} on {}", r.version, r.provider))
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    let problem = match (&runtime, models.is_empty()) {
        (Err(e), _) => Some(Unavailability {
            reason: e.reason.clone(),
            fix: e.fix.clone(),
            commands: vec!["scripts/setup.sh run".into(), "pip install onnxruntime==1.31.1".into()],
        }),
        (Ok(_), true) => Some(Unavailability {
            reason: "No image model is installed yet.".into(),
            fix: "An administrator imports one: `stratamake models import DIR` for a downloaded ONNX export \
                  (a folder with model.toml), or `stratamake models pull sd-turbo` on a machine with internet."
                .into(),
            commands: vec![
                "stratamake models import DIR".into(),
                "stratamake models pull sd-turbo".into(),
            ],
        }),
        (Ok(_), false) => None,
    };
    let starting = state.config.generation.starting_credits;
    let id = user.user_id.clone();
    let balance = state
        .db
        .query(move |conn| ledger::balance(conn, &id, starting))
        .await?;
    Ok(Json(Models {
        available: problem.is_none(),
        problem,
        runtime: runtime.ok(),
        models,
        balance,
        mesh_credit_cost: state.config.generation.mesh_credit_cost,
        depth_model,
        background_model,
    }))
}

async fn load_view(state: &AppState, id: String) -> ApiResult<Generation> {
    let board = state.jobs.clone();
    state
        .db
        .query(move |conn| {
            let job = jobs::get(conn, &id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
            view(conn, job, &board)
        })
        .await
        .map_err(|e| match e {
            crate::platform::db::DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows) => {
                ApiError::NotFound
            }
            other => other.into(),
        })
}

/// The job if the user may see it (owner or admin); 404 otherwise.
async fn visible_job(state: &AppState, user: &AuthUser, id: &str) -> ApiResult<Job> {
    let lookup = id.to_string();
    let job = state
        .db
        .query(move |conn| jobs::get(conn, &lookup))
        .await?
        .ok_or(ApiError::NotFound)?;
    if job.user_id != user.user_id && user.role != Role::Admin {
        return Err(ApiError::NotFound);
    }
    Ok(job)
}

/// What a request becomes on the queue.
struct Prepared {
    kind: &'static str,
    params: serde_json::Value,
    cost: i64,
}

/// Checks a request of any kind and completes its parameters.
async fn prepare(
    state: &AppState,
    user: &AuthUser,
    request: &GenerationRequest,
    idempotency_key: Option<&str>,
) -> ApiResult<Prepared> {
    let mesh_cost = state.config.generation.mesh_credit_cost;
    match request.kind.as_str() {
        "image" => {
            mesh_params::refuse_mesh_fields(request)?;
            let (params, model) = image_params(state, user, request, idempotency_key).await?;
            Ok(Prepared {
                kind: "image",
                cost: model.credit_cost * i64::from(params.count),
                params: json_value(&params),
            })
        }
        "relief" | "lithophane" | "extrusion" => {
            let params = model_from_image(state, user, request).await?.params;
            Ok(Prepared {
                kind: params.settings.name(),
                cost: mesh_cost,
                params: json_value(&params),
            })
        }
        "prompt_to_3d" => {
            if request.count.is_some_and(|c| c != 1) {
                return Err(ApiError::field("count", "Prompt to 3D makes one model."));
            }
            let settings =
                mesh_params::complete_mode(request.mode.as_deref().unwrap_or("relief"), request)?;
            let max_error_mm = mesh_params::max_error(request)?;
            let vision_model = vision_model(state, &settings, request).await?.map(|m| m.id);
            let (image, model) = image_params(state, user, request, idempotency_key).await?;
            Ok(Prepared {
                kind: "prompt_to_3d",
                cost: model.credit_cost + mesh_cost,
                params: json_value(&MeshParams {
                    settings,
                    max_error_mm,
                    source_asset_id: None,
                    image: Some(image),
                    vision_model,
                }),
            })
        }
        _ => Err(ApiError::field(
            "kind",
            "Choose image, relief, lithophane, extrusion or prompt_to_3d.",
        )),
    }
}

/// A request for a model from a library image (relief, lithophane, extrusion), checked:
/// its complete parameters, the source image, and the depth or background-removal model
/// the settings need.
pub(super) struct FromImage {
    pub params: MeshParams,
    pub source: Asset,
    pub vision: Option<Model>,
}

/// Checks a relief, lithophane or extrusion request (shared by the queue and previews).
pub(super) async fn model_from_image(
    state: &AppState,
    user: &AuthUser,
    request: &GenerationRequest,
) -> ApiResult<FromImage> {
    refuse_image_fields(request)?;
    let source_id = request.source_asset_id.clone().ok_or_else(|| {
        ApiError::field(
            "source_asset_id",
            "Choose the image to make the model from.",
        )
    })?;
    let source = owned_image(state, user, &source_id, likeness::Use::ModelFromImage).await?;
    let settings = mesh_params::complete_mode(&request.kind, request)?;
    let vision = vision_model(state, &settings, request).await?;
    Ok(FromImage {
        params: MeshParams {
            vision_model: vision.as_ref().map(|m| m.id.clone()),
            settings,
            max_error_mm: mesh_params::max_error(request)?,
            source_asset_id: Some(source_id),
            image: None,
        },
        source,
        vision,
    })
}

/// The depth or background-removal model the settings need, if they need one; 422 when
/// none is installed, 503 when ONNX Runtime is missing.
async fn vision_model(
    state: &AppState,
    settings: &MeshMode,
    request: &GenerationRequest,
) -> ApiResult<Option<Model>> {
    let Some(family) = mesh_params::vision_family(settings, request)? else {
        return Ok(None);
    };
    let allow = state.config.generation.allow_test_models;
    let model = state
        .db
        .query(move |conn| {
            Ok::<_, rusqlite::Error>(models::of_family(&models::list(conn)?, family, allow))
        })
        .await?;
    let Some(model) = model else {
        let (field, what) = match family {
            Family::Depth => ("height_from", "depth"),
            _ => ("mask", "background-removal"),
        };
        return Err(ApiError::field(
            field,
            format!(
                "No {what} model is installed; an administrator can import one (a folder with \
                 model.toml, family \"{what}\")."
            ),
        ));
    };
    require_runtime(state).await?;
    Ok(Some(model))
}

/// Succeeds when ONNX Runtime is loaded (loading it on first use); 503 with the fix
/// otherwise.
async fn require_runtime(state: &AppState) -> ApiResult<()> {
    let engine = state.generation.clone();
    tokio::task::spawn_blocking(move || engine.runtime().map(|_| ()))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(|e| {
            ApiError::Unavailable(format!(
                "Generation is unavailable: {}. Fix: {}",
                e.reason, e.fix
            ))
        })
}

/// Refuses image generation settings on a request that makes a model from an image.
fn refuse_image_fields(r: &GenerationRequest) -> ApiResult<()> {
    let set = [
        ("prompt", !r.prompt.trim().is_empty()),
        ("negative_prompt", !r.negative_prompt.trim().is_empty()),
        ("model", r.model.is_some()),
        ("width", r.width.is_some()),
        ("height", r.height.is_some()),
        ("steps", r.steps.is_some()),
        ("guidance_scale", r.guidance_scale.is_some()),
        ("scheduler", r.scheduler.is_some()),
        ("seed", r.seed.is_some()),
        ("count", r.count.is_some()),
        ("strength", r.strength.is_some()),
        ("mode", r.mode.is_some()),
    ];
    match set.iter().find(|(_, set)| *set) {
        Some((name, _)) => Err(ApiError::field(
            name,
            format!(
                "{name} applies to image generation; a {} is made from source_asset_id.",
                r.kind
            ),
        )),
        None => Ok(()),
    }
}

/// The image `id` of the user's library (422 for anything else, theirs or not). A
/// likeness sample serves only `use_` its consent names, while the consent is in force.
async fn owned_image(
    state: &AppState,
    user: &AuthUser,
    id: &str,
    use_: likeness::Use,
) -> ApiResult<Asset> {
    let owner = user.user_id.clone();
    let source = id.to_string();
    let (asset, consent) = state
        .db
        .query(move |conn| {
            let asset =
                library::get(conn, &source)?.filter(|a| a.user_id == owner && a.kind == "image");
            let consent = match &asset {
                Some(a) if a.is_likeness() => Some(likeness::permits(conn, &owner, use_)?),
                _ => None,
            };
            Ok((asset, consent))
        })
        .await?;
    let asset = asset
        .ok_or_else(|| ApiError::field("source_asset_id", "Choose an image from your library."))?;
    match consent {
        Some(Err(refusal)) => Err(ApiError::field("source_asset_id", refusal)),
        _ => Ok(asset),
    }
}

/// The seed of a request that names none: random, or — with an Idempotency-Key — drawn
/// from the user and the key, so a retry completes to the same parameters (and so to the
/// same job) instead of looking like a different request.
fn seed_for(user_id: &str, idempotency_key: Option<&str>) -> u64 {
    let bytes: [u8; 4] = match idempotency_key {
        Some(key) => {
            let digest = Sha256::digest(format!("{user_id}\n{key}").as_bytes());
            [digest[0], digest[1], digest[2], digest[3]]
        }
        None => random_bytes::<4>(),
    };
    u64::from(u32::from_le_bytes(bytes))
}

/// The image part of a request, complete, and the model that makes it (which must be
/// usable now: installed, and ONNX Runtime loaded).
async fn image_params(
    state: &AppState,
    user: &AuthUser,
    request: &GenerationRequest,
    idempotency_key: Option<&str>,
) -> ApiResult<(GenerationParams, Model)> {
    let models = usable_models(state).await?;
    let model =
        models::pick(&models, request.model.as_deref()).ok_or_else(|| match &request.model {
            Some(id) => ApiError::field("model", format!("There is no usable model {id:?}.")),
            None => ApiError::Unavailable(
                "No image model is installed yet; an administrator can import one.".into(),
            ),
        })?;
    require_runtime(state).await?;
    let params = request.complete(&model, seed_for(&user.user_id, idempotency_key))?;
    params.check_schedule(&state.generation.models_dir.join(&model.id))?;
    if let Some(source) = &params.source_asset_id {
        owned_image(state, user, source, likeness::Use::ImageToImage).await?;
    }
    Ok((params, model))
}

/// Queues a generation for `user` (shared by the native and the OpenAI-style API).
pub async fn queue(
    state: &AppState,
    user: &AuthUser,
    request: GenerationRequest,
    idempotency_key: Option<String>,
) -> ApiResult<(Generation, bool)> {
    user.require_scope(Scope::Generate)?;
    if user.account.email_verified_at.is_none() {
        return Err(ApiError::Forbidden(
            "Verify your email address before generating.".into(),
        ));
    }
    if let Some(key) = &idempotency_key
        && (key.is_empty() || key.len() > 200)
    {
        return Err(ApiError::BadRequest(
            "Idempotency-Key must be 1 to 200 characters.".into(),
        ));
    }
    let prepared = prepare(state, user, &request, idempotency_key.as_deref()).await?;
    let limit = state.config.generation.max_queued_per_user;
    let starting = state.config.generation.starting_credits;
    let now = state.now();
    let user_id = user.user_id.clone();
    let board = state.jobs.clone();
    let (generation, created) = state
        .db
        .write(move |tx| {
            let cost = prepared.cost;
            let new = NewJob {
                user_id: user_id.clone(),
                kind: prepared.kind.into(),
                params: prepared.params,
                cost,
                idempotency_key,
            };
            if jobs::queued_count_for_user(tx, &user_id)? >= limit {
                return Err(ApiError::Conflict(format!(
                    "You have {limit} generations waiting or running; wait for one to finish."
                )));
            }
            let (job, created) = match jobs::enqueue(tx, new, now)? {
                Enqueued::New(job) => (job, true),
                Enqueued::Existing(job) => (job, false),
                Enqueued::KeyReused => {
                    return Err(ApiError::Conflict(
                        "This Idempotency-Key was used for a different request.".into(),
                    ));
                }
            };
            if created {
                ledger::reserve(tx, &user_id, &job.id, cost, starting, now).map_err(
                    |e| match e {
                        LedgerError::Insufficient { needed, balance } => ApiError::PaymentRequired(
                            format!("This needs {needed} credits and you have {balance}."),
                        ),
                        LedgerError::Db(e) => e.into(),
                    },
                )?;
            }
            Ok::<_, ApiError>((view(tx, job, &board)?, created))
        })
        .await?;
    if created {
        state.jobs.touch();
    }
    Ok((generation, created))
}

#[utoipa::path(post, path = "/api/v1/generations", tag = "generation", request_body = GenerationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key, same request: the same job")),
    responses((status = 202, body = Generation), (status = 200, body = Generation, description = "Idempotent repeat"),
        (status = 402, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(request): Json<GenerationRequest>,
) -> ApiResult<Response> {
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| ApiError::BadRequest("Idempotency-Key must be text.".into()))?;
    let (generation, created) = queue(&state, &user, request, key).await?;
    let status = if created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let location = format!("/api/v1/generations/{}", generation.id);
    Ok((status, [(header::LOCATION, location)], Json(generation)).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/generations", tag = "generation", params(ListQuery),
    responses((status = 200, body = Page<Generation>)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Page<Generation>>> {
    user.require_scope(Scope::Read)?;
    let after = match &query.cursor {
        Some(c) => Some(
            cursor::decode(c)
                .ok_or_else(|| ApiError::BadRequest("The cursor is not valid.".into()))?,
        ),
        None => None,
    };
    let board = state.jobs.clone();
    let user_id = user.user_id.clone();
    let items = state
        .db
        .query(move |conn| {
            jobs::list_for_user(conn, &user_id, after, PAGE + 1)?
                .into_iter()
                .map(|job| view(conn, job, &board))
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;
    Ok(Json(Page::from_rows(
        items,
        PAGE as usize,
        |g: &Generation| (g.created_at, g.id.as_str()),
    )))
}

#[utoipa::path(get, path = "/api/v1/generations/{id}", tag = "generation",
    params(("id" = String, Path)), responses((status = 200, body = Generation), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Generation>> {
    user.require_scope(Scope::Read)?;
    visible_job(&state, &user, &id).await?;
    Ok(Json(load_view(&state, id).await?))
}

/// Cancels a job: a queued one ends at once with its credits refunded; a running one
/// stops at its next denoising step.
pub async fn cancel_job(state: &AppState, id: String) -> ApiResult<Generation> {
    let now = state.now();
    let lookup = id.clone();
    let queued_cancelled = state
        .db
        .write(move |tx| {
            let Some(job) = jobs::request_cancel(tx, &lookup)? else {
                return Err(ApiError::NotFound);
            };
            if job.status == Status::Queued {
                jobs::finish(tx, &job.id, &Finished::Cancelled, now)?;
                ledger::refund(tx, &job.user_id, &job.id, job.cost, "cancelled", now)?;
                return Ok(true);
            }
            Ok::<_, ApiError>(false)
        })
        .await?;
    if queued_cancelled {
        state.jobs.touch();
    } else {
        state.jobs.cancel(&id);
    }
    load_view(state, id).await
}

/// Jobs ended by [`stop_jobs`].
#[derive(Debug, Default)]
pub struct StoppedJobs {
    /// Queued jobs that failed (refunded).
    pub failed: usize,
    /// Running jobs asked to stop: stop them on the job board once committed.
    pub running: Vec<String>,
}

/// Which of a user's unfinished jobs to stop.
pub enum JobsToStop<'a> {
    /// Those whose source is one of these assets.
    Using(&'a [String]),
    /// All of them.
    All,
}

/// Ends the user's unfinished jobs that `which` names: queued ones fail with `reason`
/// (their credits refunded), running ones are asked to stop.
pub fn stop_jobs(
    tx: &rusqlite::Transaction<'_>,
    user_id: &str,
    which: JobsToStop<'_>,
    reason: &str,
    now: i64,
) -> rusqlite::Result<StoppedJobs> {
    let mut stopped = StoppedJobs::default();
    for job in jobs::unfinished_for_user(tx, user_id)? {
        let named = match which {
            JobsToStop::All => true,
            JobsToStop::Using(assets) => job
                .params
                .get("source_asset_id")
                .and_then(|v| v.as_str())
                .is_some_and(|source| assets.iter().any(|a| a == source)),
        };
        if !named {
            continue;
        }
        if job.status == Status::Queued {
            jobs::finish(tx, &job.id, &Finished::Failed(reason.to_string()), now)?;
            ledger::refund(tx, &job.user_id, &job.id, job.cost, reason, now)?;
            stopped.failed += 1;
        } else {
            jobs::request_cancel(tx, &job.id)?;
            stopped.running.push(job.id);
        }
    }
    Ok(stopped)
}

#[utoipa::path(delete, path = "/api/v1/generations/{id}", tag = "generation",
    params(("id" = String, Path)), responses((status = 202, body = Generation), (status = 404, body = crate::error::Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Generation>)> {
    user.require_scope(Scope::Generate)?;
    visible_job(&state, &user, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(cancel_job(&state, id).await?)))
}

#[utoipa::path(get, path = "/api/v1/generations/{id}/preview", tag = "generation",
    params(("id" = String, Path)), responses((status = 200, content_type = "image/png"), (status = 404, body = crate::error::Problem)))]
pub async fn preview(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    user.require_scope(Scope::Read)?;
    visible_job(&state, &user, &id).await?;
    let bytes = state
        .jobs
        .subscribe(&id)
        .and_then(|rx| rx.borrow().preview.clone())
        .ok_or(ApiError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response())
}

/// Where an event stream is.
enum Follow {
    Start,
    Waiting(tokio::sync::watch::Receiver<u64>),
    Running(tokio::sync::watch::Receiver<Progress>),
    Done,
}

#[utoipa::path(get, path = "/api/v1/generations/{id}/events", tag = "generation",
    params(("id" = String, Path)),
    responses((status = 200, content_type = "text/event-stream",
        description = "Server-Sent Events; every event carries the whole Generation as JSON, named by its status")))]
pub async fn events(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    user.require_scope(Scope::Read)?;
    visible_job(&state, &user, &id).await?;
    let stream = futures_util::stream::unfold(
        (Follow::Start, state, id),
        |(follow, state, id)| async move {
            let board = state.jobs.clone();
            tokio::select! {
                next = advance(follow) => follow_up(next, state, id).await,
                () = board.closed() => None,
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Waits for the next thing worth telling a follower.
async fn advance(follow: Follow) -> Follow {
    match follow {
        Follow::Done => Follow::Done,
        Follow::Start => Follow::Start,
        Follow::Waiting(mut changed) => {
            let _ = tokio::time::timeout(Duration::from_secs(15), changed.changed()).await;
            Follow::Waiting(changed)
        }
        Follow::Running(mut progress) => match progress.changed().await {
            Ok(()) => Follow::Running(progress),
            // The worker dropped the channel: the job ended.
            Err(_) => Follow::Start,
        },
    }
}

/// Sends the job's current state and decides how to follow on.
async fn follow_up(
    next: Follow,
    state: AppState,
    id: String,
) -> Option<(Result<Event, Infallible>, (Follow, AppState, String))> {
    if matches!(next, Follow::Done) {
        return None;
    }
    let generation = load_view(&state, id.clone()).await.ok()?;
    let event = Event::default()
        .event(generation.status.as_str())
        .json_data(&generation)
        .ok()?;
    let follow = match (generation.status, next) {
        (status, _) if status.is_final() => Follow::Done,
        (Status::Running, Follow::Running(rx)) => Follow::Running(rx),
        (Status::Running, _) => match state.jobs.subscribe(&id) {
            Some(rx) => Follow::Running(rx),
            None => Follow::Waiting(state.jobs.changed.subscribe()),
        },
        (_, Follow::Waiting(rx)) => Follow::Waiting(rx),
        _ => Follow::Waiting(state.jobs.changed.subscribe()),
    };
    Some((Ok(event), (follow, state, id)))
}

#[utoipa::path(get, path = "/api/v1/admin/jobs", tag = "admin",
    responses((status = 200, body = Vec<Generation>)))]
pub async fn admin_queue(
    State(state): State<AppState>,
    admin: AuthUser,
) -> ApiResult<Json<Vec<Generation>>> {
    admin.require_admin()?;
    let board = state.jobs.clone();
    let items = state
        .db
        .query(move |conn| {
            jobs::active(conn, 500)?
                .into_iter()
                .map(|job| {
                    let owner = crate::domains::auth::store::user_by_id(conn, &job.user_id)?;
                    let mut generation = view(conn, job, &board)?;
                    generation.username = owner.map(|u| u.username);
                    Ok(generation)
                })
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;
    Ok(Json(items))
}
