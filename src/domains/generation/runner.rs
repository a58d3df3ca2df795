//! Running generation jobs: the loaded-model cache, the job handler the queue's workers
//! call (images, 3D models, prompt to 3D), and what a finished job leaves behind (library
//! assets, a settled or refunded reservation) — written in the one transaction that ends
//! the job.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use image::{DynamicImage, RgbImage};
use rusqlite::Transaction;
use serde_json::json;

use super::mesh_params::MeshParams;
use super::meshing::{self, BuildError};
use super::models::{self, Model};
use super::params::{GenerationParams, file_stem};
use crate::app::AppState;
use crate::domains::accounts::notifications;
use crate::domains::auth::emails::{self, Compose};
use crate::domains::auth::store as auth_store;
use crate::domains::credits::ledger;
use crate::domains::library::store::{self as library, AddError, MeshInfo, NewAsset};
use crate::domains::privacy::likeness;
use crate::engines::diffusion::manifest::Manifest;
use crate::engines::diffusion::pipeline::{Pipeline, PipelineError, Request, StepReport};
use crate::engines::diffusion::{png, preview};
use crate::engines::media::{self, Format};
use crate::engines::mesh::check::MeshFacts;
use crate::engines::onnx::{self, Runtime, RuntimeOptions, Unavailable};
use crate::engines::vision::MapModel;
use crate::platform::blobs::StagedBlob;
use crate::platform::jobs::{Failure, Finished, Job, JobContext, JobHandler, Progress};
use crate::platform::mail;

/// A loaded model and the memory it is counted for.
struct Loaded {
    id: String,
    bytes: u64,
    pipeline: Arc<Mutex<Pipeline>>,
}

/// Everything generation needs at run time: where models are, the runtime, and the
/// models kept loaded (image models least recently used first out, within the memory
/// budget; the small image-to-map models stay once loaded).
pub struct Engine {
    pub models_dir: PathBuf,
    options: RuntimeOptions,
    budget_bytes: u64,
    loaded: Mutex<VecDeque<Loaded>>,
    maps: Mutex<Vec<(String, Arc<Mutex<MapModel>>)>>,
}

impl Engine {
    pub fn new(models_dir: PathBuf, options: RuntimeOptions, budget_mb: u64) -> Self {
        Self {
            models_dir,
            options,
            budget_bytes: budget_mb.saturating_mul(1024 * 1024),
            loaded: Mutex::new(VecDeque::new()),
            maps: Mutex::new(Vec::new()),
        }
    }

    /// The map (depth, or the subject) a depth or background-removal model makes of
    /// `image`: one value in 0..=1 per pixel.
    pub fn vision_map(&self, model: &Model, image: &DynamicImage) -> Result<Vec<f32>, String> {
        let cached = {
            let maps = self.maps.lock().expect("map model cache poisoned");
            maps.iter()
                .find(|(id, _)| *id == model.id)
                .map(|(_, m)| m.clone())
        };
        let map_model = match cached {
            Some(map_model) => map_model,
            None => {
                let runtime = self.runtime().map_err(|e| e.to_string())?;
                let input =
                    model.manifest.vision.clone().ok_or_else(|| {
                        format!("model {} is not an image-to-map model", model.id)
                    })?;
                let loaded = MapModel::load(runtime, &self.models_dir.join(&model.id), input)
                    .map_err(|e| format!("model {} could not be loaded: {e}", model.id))?;
                let loaded = Arc::new(Mutex::new(loaded));
                let mut maps = self.maps.lock().expect("map model cache poisoned");
                maps.push((model.id.clone(), loaded.clone()));
                loaded
            }
        };
        let mut map_model = map_model
            .lock()
            .map_err(|_| "the model crashed earlier; restart the server".to_string())?;
        map_model
            .map(image)
            .map_err(|e| format!("model {} failed: {e}", model.id))
    }

    /// The ONNX Runtime, loaded on first use; the error says how to install it.
    pub fn runtime(&self) -> Result<&'static Runtime, Unavailable> {
        onnx::runtime(&self.options)
    }

    /// Ids of the models in memory, most recently used first.
    pub fn loaded_models(&self) -> Vec<String> {
        let loaded = self.loaded.lock().expect("model cache poisoned");
        loaded.iter().map(|l| l.id.clone()).collect()
    }

    /// A ready pipeline for the model: from memory, or loaded (unloading the least
    /// recently used ones until the budget holds).
    fn pipeline(&self, model: &Model) -> Result<Arc<Mutex<Pipeline>>, String> {
        {
            let mut loaded = self.loaded.lock().expect("model cache poisoned");
            if let Some(at) = loaded.iter().position(|l| l.id == model.id) {
                let entry = loaded.remove(at).expect("position is in range");
                let pipeline = entry.pipeline.clone();
                loaded.push_front(entry);
                return Ok(pipeline);
            }
        }
        let runtime = self.runtime().map_err(|e| e.to_string())?;
        let dir = self.models_dir.join(&model.id);
        let manifest: Manifest = model.manifest.clone();
        let bytes: u64 = manifest.files.iter().map(|f| f.size).sum();
        let pipeline = Pipeline::load(runtime, &dir, manifest)
            .map_err(|e| format!("model {} could not be loaded: {e}", model.id))?;
        let pipeline = Arc::new(Mutex::new(pipeline));
        let mut loaded = self.loaded.lock().expect("model cache poisoned");
        loaded.push_front(Loaded {
            id: model.id.clone(),
            bytes,
            pipeline: pipeline.clone(),
        });
        while loaded.len() > 1 && loaded.iter().map(|l| l.bytes).sum::<u64>() > self.budget_bytes {
            if let Some(out) = loaded.pop_back() {
                tracing::info!(model = %out.id, "model unloaded (memory budget)");
            }
        }
        Ok(pipeline)
    }

    /// Forgets a loaded model (after it was removed or replaced).
    pub fn unload(&self, id: &str) {
        self.loaded
            .lock()
            .expect("model cache poisoned")
            .retain(|l| l.id != id);
        self.maps
            .lock()
            .expect("map model cache poisoned")
            .retain(|(loaded, _)| loaded != id);
    }
}

/// One finished image, staged in the store's temporary area.
pub struct Image {
    png: StagedBlob,
    thumbnail: StagedBlob,
    preview: StagedBlob,
    width: u32,
    height: u32,
    seed: u64,
}

/// One finished 3D model, staged: its GLB, its thumbnails and its facts.
pub struct StagedModel {
    glb: StagedBlob,
    thumbnail: StagedBlob,
    preview: StagedBlob,
    facts: MeshFacts,
}

/// What a job made.
pub enum Made {
    Images(Vec<Image>),
    /// A model, and for prompt to 3D the image it was made from.
    Model {
        model: Box<StagedModel>,
        image: Option<Image>,
    },
}

impl Made {
    fn discard(self) {
        let (images, model) = match self {
            Made::Images(images) => (images, None),
            Made::Model { model, image } => (image.into_iter().collect(), Some(model)),
        };
        for image in images {
            for staged in [image.png, image.thumbnail, image.preview] {
                staged.discard();
            }
        }
        if let Some(model) = model {
            let model = *model;
            for staged in [model.glb, model.thumbnail, model.preview] {
                staged.discard();
            }
        }
    }

    fn size(&self) -> u64 {
        match self {
            Made::Images(images) => images.iter().map(|i| i.png.size).sum(),
            Made::Model { model, image } => {
                model.glb.size + image.as_ref().map_or(0, |i| i.png.size)
            }
        }
    }
}

/// The title of a 3D model: its mode and the prompt or the source image's title.
fn model_title(tx: &Transaction<'_>, params: &MeshParams) -> rusqlite::Result<String> {
    let source_title = match &params.source_asset_id {
        Some(id) => library::get(tx, id)?.map(|a| a.title),
        None => None,
    };
    Ok(params.title(source_title.as_deref()))
}

/// A generated image as a library asset.
fn image_asset(params: &GenerationParams, job: &Job, image: Image) -> NewAsset {
    let mut recorded = params.asset_params();
    recorded["seed"] = json!(image.seed);
    recorded["job_id"] = json!(job.id);
    NewAsset {
        user_id: job.user_id.clone(),
        kind: "image",
        source: "generated",
        purpose: library::Purpose::Library,
        title: params.title(),
        filename: format!("{}-{}.png", params.file_stem(), image.seed),
        format: "png",
        mime: "image/png",
        width: Some(image.width),
        height: Some(image.height),
        triangles: None,
        params: Some(recorded),
        mesh: None,
        original: image.png,
        thumbnail: Some(image.thumbnail),
        preview: Some(image.preview),
    }
}

/// How far a job is: steps done of all its steps (denoising steps, then the stages of
/// building a model), and since when it runs.
struct Plan<'a> {
    ctx: &'a JobContext,
    started: Instant,
    total: u32,
}

impl Plan<'_> {
    fn report(&self, done: u32, mut progress: Progress) {
        let elapsed = self.started.elapsed();
        let per_step = elapsed / done.max(1);
        progress.elapsed_ms = elapsed.as_millis() as u64;
        progress.eta_ms =
            Some(u64::from(self.total.saturating_sub(done)) * per_step.as_millis() as u64);
        self.ctx.report(progress);
    }
}

/// The job handler for every generation kind (images and 3D models).
pub struct Generator {
    pub state: AppState,
}

fn failure(error: PipelineError) -> Failure {
    match error {
        PipelineError::Stopped => Failure::Cancelled,
        other => Failure::Error(other.to_string()),
    }
}

impl Generator {
    /// The start image of an image-to-image job, at the requested size.
    fn source_image(&self, params: &GenerationParams) -> Result<Option<(RgbImage, f32)>, Failure> {
        let Some(asset_id) = &params.source_asset_id else {
            return Ok(None);
        };
        let image = self.library_image(asset_id, likeness::Use::ImageToImage)?;
        let resized = image
            .resize_exact(
                params.width,
                params.height,
                image::imageops::FilterType::Lanczos3,
            )
            .to_rgb8();
        Ok(Some((resized, params.strength.unwrap_or(0.75))))
    }

    fn stage(&self, bytes: &[u8]) -> Result<StagedBlob, Failure> {
        self.state
            .blobs
            .stage_bytes(bytes)
            .map_err(|e| Failure::Error(format!("storing the image failed: {e}")))
    }
}

impl Generator {
    /// Makes the images of `params`, reporting progress through `plan`; `steps_after`
    /// more steps follow the denoising ones (a model's stages).
    fn generate_images(
        &self,
        params: &GenerationParams,
        plan: &Plan<'_>,
        steps_after: u32,
    ) -> Result<Vec<(Image, RgbImage)>, Failure> {
        let model = self.enabled_model(&params.model)?;
        let pipeline = self
            .state
            .generation
            .pipeline(&model)
            .map_err(Failure::Error)?;
        let mut pipeline = pipeline
            .lock()
            .map_err(|_| Failure::Error("the model crashed earlier; restart the server".into()))?;
        let init = self.source_image(params)?;
        let mut images = Vec::new();
        for index in 0..params.count {
            let seed = params.seed + u64::from(index);
            let request = Request {
                prompt: params.prompt.clone(),
                negative_prompt: params.negative_prompt.clone(),
                width: params.width,
                height: params.height,
                steps: params.steps,
                guidance_scale: params.guidance_scale,
                scheduler: params.scheduler_kind().map_err(Failure::Error)?,
                seed,
                init: init.clone(),
            };
            let mut preview_seq = 0;
            let mut observe = |report: StepReport<'_>| {
                preview_seq += 1;
                plan.report(
                    index * report.steps as u32 + report.step as u32,
                    Progress {
                        step: report.step as u32,
                        steps: report.steps as u32 + steps_after,
                        image: index + 1,
                        count: params.count,
                        preview_seq,
                        preview: Some(Bytes::from(preview::preview_png(
                            report.latents,
                            report.latent_height,
                            report.latent_width,
                        ))),
                        ..Progress::default()
                    },
                );
                !plan.ctx.is_cancelled()
            };
            if plan.ctx.is_cancelled() {
                return Err(Failure::Cancelled);
            }
            let rgb = pipeline.generate(&request, &mut observe).map_err(failure)?;
            let text = params.a1111(&model, seed);
            let bytes = png::encode(&rgb, &text)
                .map_err(|e| Failure::Error(format!("encoding the PNG failed: {e}")))?;
            let (thumb, large) = media::thumbnails(&DynamicImage::ImageRgb8(rgb.clone()))
                .map_err(|e| Failure::Error(e.to_string()))?;
            images.push((
                Image {
                    png: self.stage(&bytes)?,
                    thumbnail: self.stage(&thumb)?,
                    preview: self.stage(&large)?,
                    width: params.width,
                    height: params.height,
                    seed,
                },
                rgb,
            ));
        }
        Ok(images)
    }

    /// An installed, enabled model.
    fn enabled_model(&self, id: &str) -> Result<Model, Failure> {
        let handle = tokio::runtime::Handle::current();
        let wanted = id.to_string();
        handle
            .block_on(self.state.db.query(move |conn| models::get(conn, &wanted)))
            .map_err(|e| Failure::Error(e.to_string()))?
            .filter(|m| m.enabled)
            .ok_or_else(|| Failure::Error(format!("model {id} is not available any more")))
    }

    /// An image of the library, decoded.
    /// A likeness sample serves only `use_` its consent names, while it is in force.
    fn library_image(&self, asset_id: &str, use_: likeness::Use) -> Result<DynamicImage, Failure> {
        let handle = tokio::runtime::Handle::current();
        let id = asset_id.to_string();
        let asset = handle
            .block_on(self.state.db.query(move |conn| library::get(conn, &id)))
            .map_err(|e| Failure::Error(e.to_string()))?
            .ok_or_else(|| Failure::Error("the source image was deleted".into()))?;
        if asset.is_likeness() {
            let owner = asset.user_id.clone();
            handle
                .block_on(
                    self.state
                        .db
                        .query(move |conn| likeness::permits(conn, &owner, use_)),
                )
                .map_err(|e| Failure::Error(e.to_string()))?
                .map_err(Failure::Error)?;
        }
        let path = self
            .state
            .blobs
            .path(&asset.sha256)
            .ok_or_else(|| Failure::Error("the source image's file is missing".into()))?;
        media::open_image(&path)
            .map_err(|e| Failure::Error(format!("the source image cannot be read: {e}")))
    }

    /// Makes a 3D model (after its image, for prompt to 3D).
    fn make_model(&self, params: &MeshParams, plan: &Plan<'_>) -> Result<Made, Failure> {
        let image_steps = params.image.as_ref().map_or(0, |p| p.steps);
        let (source, image) = match (&params.image, &params.source_asset_id) {
            (Some(image_params), _) => {
                let (image, rgb) = self
                    .generate_images(image_params, plan, meshing::STAGES.len() as u32)?
                    .pop()
                    .ok_or_else(|| Failure::Error("no image was made".into()))?;
                (DynamicImage::ImageRgb8(rgb), Some(image))
            }
            (None, Some(id)) => (self.library_image(id, likeness::Use::ModelFromImage)?, None),
            (None, None) => return Err(Failure::Error("the job names no image".into())),
        };
        let map = match &params.vision_model {
            Some(id) => Some(self.enabled_model(id).and_then(|m| {
                self.state
                    .generation
                    .vision_map(&m, &source)
                    .map_err(Failure::Error)
            })?),
            None => None,
        };
        let mut stage = |k: usize| {
            plan.report(
                image_steps + k as u32,
                Progress {
                    step: image_steps + k as u32,
                    steps: plan.total,
                    image: 1,
                    count: 1,
                    stage: Some(meshing::STAGES[k].into()),
                    ..Progress::default()
                },
            );
            !plan.ctx.is_cancelled()
        };
        let name = params.title(None);
        let built = match meshing::build(
            &source,
            map,
            &params.settings,
            params.max_error_mm,
            &name,
            &mut stage,
        ) {
            Ok(built) => built,
            Err(BuildError::Stopped) => return Err(Failure::Cancelled),
            Err(BuildError::Input(message)) => return Err(Failure::Error(message)),
        };
        if !stage(meshing::STAGES.len() - 1) {
            return Err(Failure::Cancelled);
        }
        let (thumb, large) = media::model_thumbnails(&built.mesh, built.texture.as_ref())
            .map_err(|e| Failure::Error(e.to_string()))?;
        Ok(Made::Model {
            model: Box::new(StagedModel {
                glb: self.stage(&built.glb)?,
                thumbnail: self.stage(&thumb)?,
                preview: self.stage(&large)?,
                facts: built.facts,
            }),
            image,
        })
    }
}

impl JobHandler for Generator {
    type Output = Made;

    fn run(&self, job: &Job, ctx: &JobContext) -> Result<Made, Failure> {
        let unreadable = |e: serde_json::Error| {
            Failure::Error(format!("the job's parameters are not readable: {e}"))
        };
        let started = Instant::now();
        if job.kind == "image" {
            let params: GenerationParams =
                serde_json::from_value(job.params.clone()).map_err(unreadable)?;
            let plan = Plan {
                ctx,
                started,
                total: params.steps * params.count,
            };
            let images = self.generate_images(&params, &plan, 0)?;
            return Ok(Made::Images(
                images.into_iter().map(|(image, _)| image).collect(),
            ));
        }
        let params: MeshParams = serde_json::from_value(job.params.clone()).map_err(unreadable)?;
        let plan = Plan {
            ctx,
            started,
            total: params.image.as_ref().map_or(0, |p| p.steps) + meshing::STAGES.len() as u32,
        };
        self.make_model(&params, &plan)
    }

    fn commit(
        &self,
        tx: &Transaction<'_>,
        job: &Job,
        outcome: Result<Made, Failure>,
        now: i64,
    ) -> anyhow::Result<Finished> {
        let finished = self.record(tx, job, outcome, now)?;
        self.notify(tx, job, &finished, now)?;
        Ok(finished)
    }
}

impl Generator {
    /// Stores what the job made as assets and settles, or refunds; says how the job
    /// ended.
    fn record(
        &self,
        tx: &Transaction<'_>,
        job: &Job,
        outcome: Result<Made, Failure>,
        now: i64,
    ) -> anyhow::Result<Finished> {
        let refund =
            |reason: &str| ledger::refund(tx, &job.user_id, &job.id, job.cost, reason, now);
        let made = match outcome {
            Ok(made) => made,
            Err(Failure::Cancelled) => {
                refund("cancelled")?;
                return Ok(Finished::Cancelled);
            }
            Err(Failure::Error(message)) => {
                refund("the job failed")?;
                return Ok(Finished::Failed(message));
            }
        };
        // A source deleted while the job ran (a likeness sample whose consent was
        // withdrawn, say) leaves nothing made from it.
        if let Some(source) = job.params.get("source_asset_id").and_then(|v| v.as_str())
            && library::get(tx, source)?.is_none()
        {
            made.discard();
            refund("the source image was deleted")?;
            return Ok(Finished::Failed(
                "The source image was deleted while the job ran, so nothing made from it was kept."
                    .into(),
            ));
        }
        // All files or none: checked against the quota before any is added.
        let (used, _) = library::usage(tx, &job.user_id)?;
        let quota = library::quota(
            tx,
            &job.user_id,
            self.state.config.storage.default_quota_bytes,
        )?;
        if used + made.size() as i64 > quota {
            made.discard();
            refund("over storage quota")?;
            return Ok(Finished::Failed(
                "The result does not fit in your storage quota. Delete some files and try again."
                    .into(),
            ));
        }
        let result = match made {
            Made::Images(images) => {
                let params: GenerationParams = serde_json::from_value(job.params.clone())?;
                let mut asset_ids = Vec::new();
                let mut seeds = Vec::new();
                for image in images {
                    seeds.push(image.seed);
                    asset_ids.push(self.add(tx, image_asset(&params, job, image), now)?);
                }
                json!({ "asset_ids": asset_ids, "seeds": seeds })
            }
            Made::Model { model, image } => {
                let params: MeshParams = serde_json::from_value(job.params.clone())?;
                let (image_id, seed) = match (image, &params.image) {
                    (Some(image), Some(image_params)) => {
                        let seed = image.seed;
                        let new = image_asset(image_params, job, image);
                        (Some(self.add(tx, new, now)?), Some(seed))
                    }
                    _ => (None, None),
                };
                let source_id = image_id.clone().or_else(|| params.source_asset_id.clone());
                let title = model_title(tx, &params)?;
                let mut recorded = params.asset_params(source_id.as_deref());
                recorded["job_id"] = json!(job.id);
                let new = NewAsset {
                    user_id: job.user_id.clone(),
                    kind: "model",
                    source: "generated",
                    purpose: library::Purpose::Library,
                    filename: format!("{}.{}", file_stem(&title, "model"), Format::Glb.extension()),
                    title,
                    format: Format::Glb.extension(),
                    mime: Format::Glb.mime(),
                    width: None,
                    height: None,
                    triangles: Some(model.facts.triangles as u64),
                    params: Some(recorded),
                    mesh: Some(MeshInfo::from_facts(&model.facts)),
                    original: model.glb,
                    thumbnail: Some(model.thumbnail),
                    preview: Some(model.preview),
                };
                let model_id = self.add(tx, new, now)?;
                json!({
                    "asset_ids": image_id.into_iter().collect::<Vec<_>>(),
                    "seeds": seed.into_iter().collect::<Vec<_>>(),
                    "model_asset_id": model_id,
                })
            }
        };
        ledger::settle(tx, &job.user_id, &job.id, job.cost, now)?;
        Ok(Finished::Succeeded(result))
    }

    fn add(&self, tx: &Transaction<'_>, new: NewAsset, now: i64) -> anyhow::Result<String> {
        match library::add(
            tx,
            &self.state.blobs,
            new,
            self.state.config.storage.default_quota_bytes,
            now,
        ) {
            Ok(id) => Ok(id),
            Err(AddError::OverQuota { .. }) => anyhow::bail!("the quota changed while storing"),
            Err(AddError::Failed(e)) => Err(e),
        }
    }

    /// Mails the user that the job ended, if they asked for such mails.
    fn notify(
        &self,
        tx: &Transaction<'_>,
        job: &Job,
        finished: &Finished,
        now: i64,
    ) -> anyhow::Result<()> {
        let title = match job.kind.as_str() {
            "image" => job.params["prompt"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            _ => model_title(tx, &serde_json::from_value(job.params.clone())?)?,
        };
        let title: String = title.chars().take(60).collect();
        let (subject, summary) = match finished {
            Finished::Succeeded(_) if job.kind != "image" => (
                "Your 3D model is ready",
                format!("\u{201c}{title}\u{201d} is in your library."),
            ),
            Finished::Succeeded(result) => {
                let count = result["asset_ids"].as_array().map_or(0, Vec::len);
                let images = if count == 1 { "image" } else { "images" };
                (
                    "Your images are ready",
                    format!("{count} {images} for \u{201c}{title}\u{201d} are in your library."),
                )
            }
            Finished::Failed(message) => (
                "A generation failed",
                format!(
                    "\u{201c}{title}\u{201d} could not be made: {message} Your credits were refunded."
                ),
            ),
            Finished::Cancelled => return Ok(()),
        };
        if !notifications::settings(tx, &job.user_id)?.generation_done {
            return Ok(());
        }
        let Some(user) = auth_store::user_by_id(tx, &job.user_id)? else {
            return Ok(());
        };
        let unsubscribe = notifications::unsubscribe_url(
            &self.state,
            &job.user_id,
            notifications::GENERATION_DONE,
        );
        let mut mail = emails::compose(
            &self.state,
            Compose {
                to: &user.email,
                user_id: Some(&job.user_id),
                kind: "generation_done",
                subject,
                paragraphs: &[
                    summary,
                    format!(
                        "You get this mail because you turned on mails for finished generations. \
                         Turn them off in your profile, or with one click: {unsubscribe}"
                    ),
                ],
                action: Some((
                    "Open your library",
                    format!("{}/library", self.state.config.public_base()),
                )),
            },
        );
        mail.unsubscribe_url = Some(unsubscribe);
        mail::enqueue(tx, &mail, now)?;
        self.state.mailer.wake();
        Ok(())
    }
}
