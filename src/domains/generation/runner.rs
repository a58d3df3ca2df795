//! Running generation jobs: the loaded-model cache, the job handler the queue's workers
//! call, and what a finished job leaves behind (library assets, a settled or refunded
//! reservation) — written in the one transaction that ends the job.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use image::{DynamicImage, RgbImage};
use rusqlite::Transaction;
use serde_json::json;

use super::models::{self, Model};
use super::params::GenerationParams;
use crate::app::AppState;
use crate::domains::accounts::notifications;
use crate::domains::auth::emails::{self, Compose};
use crate::domains::auth::store as auth_store;
use crate::domains::credits::ledger;
use crate::domains::library::store::{self as library, AddError, NewAsset};
use crate::engines::diffusion::manifest::Manifest;
use crate::engines::diffusion::pipeline::{Pipeline, PipelineError, Request, StepReport};
use crate::engines::diffusion::{png, preview};
use crate::engines::media;
use crate::engines::onnx::{self, Runtime, RuntimeOptions, Unavailable};
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
/// models kept loaded (least recently used first out, within the memory budget).
pub struct Engine {
    pub models_dir: PathBuf,
    options: RuntimeOptions,
    budget_bytes: u64,
    loaded: Mutex<VecDeque<Loaded>>,
}

impl Engine {
    pub fn new(models_dir: PathBuf, options: RuntimeOptions, budget_mb: u64) -> Self {
        Self {
            models_dir,
            options,
            budget_bytes: budget_mb.saturating_mul(1024 * 1024),
            loaded: Mutex::new(VecDeque::new()),
        }
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

/// The job handler for `image` generations.
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
        let handle = tokio::runtime::Handle::current();
        let id = asset_id.clone();
        let asset = handle
            .block_on(self.state.db.query(move |conn| library::get(conn, &id)))
            .map_err(|e| Failure::Error(e.to_string()))?
            .ok_or_else(|| Failure::Error("the start image was deleted".into()))?;
        let path = self
            .state
            .blobs
            .path(&asset.sha256)
            .ok_or_else(|| Failure::Error("the start image's file is missing".into()))?;
        // Stored files have no extension: the format comes from the bytes.
        let image = image::ImageReader::open(&path)
            .and_then(|reader| reader.with_guessed_format())
            .map_err(|e| Failure::Error(format!("the start image cannot be read: {e}")))?
            .decode()
            .map_err(|e| Failure::Error(format!("the start image cannot be read: {e}")))?;
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

impl JobHandler for Generator {
    type Output = Vec<Image>;

    fn run(&self, job: &Job, ctx: &JobContext) -> Result<Vec<Image>, Failure> {
        let params: GenerationParams = serde_json::from_value(job.params.clone())
            .map_err(|e| Failure::Error(format!("the job's parameters are not readable: {e}")))?;
        let handle = tokio::runtime::Handle::current();
        let wanted = params.model.clone();
        let model = handle
            .block_on(self.state.db.query(move |conn| models::get(conn, &wanted)))
            .map_err(|e| Failure::Error(e.to_string()))?
            .filter(|m| m.enabled)
            .ok_or_else(|| {
                Failure::Error(format!("model {} is not available any more", params.model))
            })?;
        let pipeline = self
            .state
            .generation
            .pipeline(&model)
            .map_err(Failure::Error)?;
        let mut pipeline = pipeline
            .lock()
            .map_err(|_| Failure::Error("the model crashed earlier; restart the server".into()))?;
        let init = self.source_image(&params)?;
        let started = Instant::now();
        let total_steps = params.steps * params.count;
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
                let done = index * report.steps as u32 + report.step as u32;
                let elapsed = started.elapsed();
                let per_step = elapsed / done.max(1);
                let left = total_steps.saturating_sub(done) * per_step.as_millis() as u32;
                ctx.report(Progress {
                    step: report.step as u32,
                    steps: report.steps as u32,
                    image: index + 1,
                    count: params.count,
                    elapsed_ms: elapsed.as_millis() as u64,
                    eta_ms: Some(u64::from(left)),
                    preview_seq,
                    preview: Some(Bytes::from(preview::preview_png(
                        report.latents,
                        report.latent_height,
                        report.latent_width,
                    ))),
                });
                !ctx.is_cancelled()
            };
            if ctx.is_cancelled() {
                return Err(Failure::Cancelled);
            }
            let rgb = pipeline.generate(&request, &mut observe).map_err(failure)?;
            let text = params.a1111(&model, seed);
            let bytes = png::encode(&rgb, &text)
                .map_err(|e| Failure::Error(format!("encoding the PNG failed: {e}")))?;
            let (thumb, large) = media::thumbnails(&DynamicImage::ImageRgb8(rgb))
                .map_err(|e| Failure::Error(e.to_string()))?;
            images.push(Image {
                png: self.stage(&bytes)?,
                thumbnail: self.stage(&thumb)?,
                preview: self.stage(&large)?,
                width: params.width,
                height: params.height,
                seed,
            });
        }
        Ok(images)
    }

    fn commit(
        &self,
        tx: &Transaction<'_>,
        job: &Job,
        outcome: Result<Vec<Image>, Failure>,
        now: i64,
    ) -> anyhow::Result<Finished> {
        let finished = self.record(tx, job, outcome, now)?;
        self.notify(tx, job, &finished, now)?;
        Ok(finished)
    }
}

impl Generator {
    /// Stores the images as assets and settles, or refunds; says how the job ended.
    fn record(
        &self,
        tx: &Transaction<'_>,
        job: &Job,
        outcome: Result<Vec<Image>, Failure>,
        now: i64,
    ) -> anyhow::Result<Finished> {
        let refund =
            |reason: &str| ledger::refund(tx, &job.user_id, &job.id, job.cost, reason, now);
        let images = match outcome {
            Ok(images) => images,
            Err(Failure::Cancelled) => {
                refund("cancelled")?;
                return Ok(Finished::Cancelled);
            }
            Err(Failure::Error(message)) => {
                refund("the job failed")?;
                return Ok(Finished::Failed(message));
            }
        };
        let params: GenerationParams = serde_json::from_value(job.params.clone())?;
        // All images or none: checked against the quota before any is added.
        let (used, _) = library::usage(tx, &job.user_id)?;
        let quota = library::quota(
            tx,
            &job.user_id,
            self.state.config.storage.default_quota_bytes,
        )?;
        let size: u64 = images.iter().map(|i| i.png.size).sum();
        if used + size as i64 > quota {
            for image in images {
                for staged in [image.png, image.thumbnail, image.preview] {
                    staged.discard();
                }
            }
            refund("over storage quota")?;
            return Ok(Finished::Failed(
                "The images do not fit in your storage quota. Delete some files and try again."
                    .into(),
            ));
        }
        let mut asset_ids = Vec::new();
        let mut seeds = Vec::new();
        for image in images {
            let mut recorded = params.asset_params();
            recorded["seed"] = json!(image.seed);
            recorded["job_id"] = json!(job.id);
            let new = NewAsset {
                user_id: job.user_id.clone(),
                kind: "image",
                source: "generated",
                title: params.title(),
                filename: format!("{}-{}.png", params.file_stem(), image.seed),
                format: "png",
                mime: "image/png",
                width: Some(image.width),
                height: Some(image.height),
                triangles: None,
                params: Some(recorded),
                original: image.png,
                thumbnail: Some(image.thumbnail),
                preview: Some(image.preview),
            };
            match library::add(
                tx,
                &self.state.blobs,
                new,
                self.state.config.storage.default_quota_bytes,
                now,
            ) {
                Ok(id) => asset_ids.push(id),
                Err(AddError::OverQuota { .. }) => anyhow::bail!("the quota changed while storing"),
                Err(AddError::Failed(e)) => return Err(e),
            }
            seeds.push(image.seed);
        }
        ledger::settle(tx, &job.user_id, &job.id, job.cost, now)?;
        Ok(Finished::Succeeded(json!({
            "asset_ids": asset_ids,
            "seeds": seeds,
        })))
    }

    /// Mails the user that the job ended, if they asked for such mails.
    fn notify(
        &self,
        tx: &Transaction<'_>,
        job: &Job,
        finished: &Finished,
        now: i64,
    ) -> anyhow::Result<()> {
        let title = job.params["prompt"]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(60)
            .collect::<String>();
        let (subject, summary) = match finished {
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
