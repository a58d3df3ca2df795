//! The Stable Diffusion pipeline on ONNX Runtime: prompt → CLIP text embeddings →
//! denoising loop (UNet + sampler, classifier-free guidance in one batched call) →
//! VAE decoder → RGB image; image-to-image through the VAE encoder.
//!
//! It follows diffusers' ONNX pipelines step for step, so that for the same initial
//! latents and noise it gives the same latents (checked against fixtures made by
//! diffusers): the batch is `[unconditional, conditional]`, guidance is skipped when the
//! scale is ≤ 1, the UNet gets the timestep as a one-element tensor of the type the
//! graph declares, and latents are scaled by the VAE factor on the way in and out.
//!
//! Float16 graphs get float16 tensors; everything between the calls is f32. Randomness
//! comes from one seeded stream ([`Noise`]): initial latents first, then whatever the
//! sampler draws, step by step.

use std::path::Path;
use std::time::{Duration, Instant};

use image::RgbImage;
use ort::session::{Session, SessionInputValue};
use ort::value::{Tensor, TensorElementType, ValueType};

use super::manifest::Manifest;
use super::noise::Noise;
use super::scheduler::{Scheduler, SchedulerConfig, SchedulerError, SchedulerKind};
use super::tokenizer::{ClipTokenizer, MAX_LENGTH};
use crate::engines::onnx::{OnnxError, Runtime, float_tensor, to_f32};

/// Latent channels of the SD VAE and its downscale factor.
const LATENT_CHANNELS: usize = 4;
const VAE_FACTOR: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    #[error("ONNX Runtime: {0}")]
    Run(String),
    #[error("the model's {part} is not usable: {detail}")]
    Model { part: &'static str, detail: String },
    #[error(transparent)]
    Scheduler(#[from] SchedulerError),
    #[error("{0}")]
    Request(String),
    #[error("stopped")]
    Stopped,
}

fn run_error(e: impl std::fmt::Display) -> PipelineError {
    PipelineError::Run(e.to_string())
}

/// One graph with the element types of its inputs, looked up once.
struct Graph {
    session: Session,
    part: &'static str,
}

impl Graph {
    fn open(runtime: &Runtime, dir: &Path, part: &'static str) -> Result<Self, PipelineError> {
        let session = runtime.session(&dir.join(part).join("model.onnx"))?;
        Ok(Self { session, part })
    }

    /// Element type of the named input (or the first input when the name is absent).
    fn input_type(&self, name: &str) -> Result<TensorElementType, PipelineError> {
        let outlet = self
            .session
            .inputs()
            .iter()
            .find(|i| i.name() == name)
            .ok_or_else(|| PipelineError::Model {
                part: self.part,
                detail: format!("it has no input named {name:?}"),
            })?;
        match outlet.dtype() {
            ValueType::Tensor { ty, .. } => Ok(*ty),
            other => Err(PipelineError::Model {
                part: self.part,
                detail: format!("input {name:?} is a {other:?}, not a tensor"),
            }),
        }
    }

    /// Whether the named input is declared with exactly one element (`[1]`).
    fn takes_single(&self, name: &str) -> bool {
        self.session.inputs().iter().any(|i| {
            i.name() == name
                && matches!(i.dtype(), ValueType::Tensor { shape, .. } if shape.len() == 1 && shape[0] == 1)
        })
    }

    /// Runs with named inputs; returns the first output as f32 values.
    fn run(
        &mut self,
        inputs: Vec<(&'static str, SessionInputValue<'_>)>,
        timer: &mut Duration,
    ) -> Result<(Vec<i64>, Vec<f32>), PipelineError> {
        let started = Instant::now();
        let outputs = self.session.run(inputs).map_err(run_error)?;
        *timer += started.elapsed();
        let (_, first) = outputs.iter().next().ok_or_else(|| PipelineError::Model {
            part: self.part,
            detail: "it produced no output".into(),
        })?;
        Ok(to_f32(&first)?)
    }
}

/// The text conditioning of a generation: `[uncond, cond]` embeddings (batch 2) with
/// guidance, `[cond]` (batch 1) without.
pub struct Conditioning {
    embeddings: Vec<f32>,
    shape: Vec<i64>,
    guided: bool,
}

/// What a generation asks for.
#[derive(Debug, Clone)]
pub struct Request {
    pub prompt: String,
    pub negative_prompt: String,
    pub width: u32,
    pub height: u32,
    pub steps: u32,
    pub guidance_scale: f32,
    pub scheduler: SchedulerKind,
    pub seed: u64,
    /// Image to image: the start image (already `width × height`) and how much of it
    /// to repaint (0 < strength ≤ 1).
    pub init: Option<(RgbImage, f32)>,
}

/// Progress after a denoising step.
pub struct StepReport<'a> {
    /// 1-based.
    pub step: usize,
    pub steps: usize,
    /// Current latents of the image, `[4, h, w]`.
    pub latents: &'a [f32],
    pub latent_height: usize,
    pub latent_width: usize,
}

/// A loaded model, ready to generate.
pub struct Pipeline {
    pub manifest: Manifest,
    tokenizer: ClipTokenizer,
    scheduler_config: SchedulerConfig,
    text_encoder: Graph,
    unet: Graph,
    vae_decoder: Graph,
    vae_encoder: Option<Graph>,
    /// Time spent inside ONNX Runtime `run` calls since the last reset.
    pub onnx_time: Duration,
}

impl Pipeline {
    /// Opens every graph of a model folder (the manifest was verified by the caller).
    pub fn load(runtime: &Runtime, dir: &Path, manifest: Manifest) -> Result<Self, PipelineError> {
        if !manifest.family.is_supported() {
            return Err(PipelineError::Request(format!(
                "models of family {:?} are not supported yet",
                manifest.family
            )));
        }
        let tokenizer =
            ClipTokenizer::from_dir(&dir.join("tokenizer")).map_err(|e| PipelineError::Model {
                part: "tokenizer",
                detail: e.to_string(),
            })?;
        let config_text = std::fs::read_to_string(dir.join("scheduler/scheduler_config.json"))
            .map_err(|e| PipelineError::Model {
                part: "scheduler",
                detail: e.to_string(),
            })?;
        let scheduler_config = SchedulerConfig::from_json(&config_text)?;
        let vae_encoder = if dir.join("vae_encoder/model.onnx").is_file() {
            Some(Graph::open(runtime, dir, "vae_encoder")?)
        } else {
            None
        };
        Ok(Self {
            tokenizer,
            scheduler_config,
            text_encoder: Graph::open(runtime, dir, "text_encoder")?,
            unet: Graph::open(runtime, dir, "unet")?,
            vae_decoder: Graph::open(runtime, dir, "vae_decoder")?,
            vae_encoder,
            manifest,
            onnx_time: Duration::ZERO,
        })
    }

    pub fn supports_image_to_image(&self) -> bool {
        self.vae_encoder.is_some()
    }

    /// Token ids of a prompt, as the text encoder gets them.
    pub fn tokens(&self, text: &str) -> Vec<i64> {
        self.tokenizer.encode(text)
    }

    fn embed(&mut self, text: &str) -> Result<(Vec<i64>, Vec<f32>), PipelineError> {
        let ids = self.tokens(text);
        let shape = vec![1, MAX_LENGTH as i64];
        let input = match self.text_encoder.input_type("input_ids")? {
            TensorElementType::Int32 => {
                let ids: Vec<i32> = ids.iter().map(|&id| id as i32).collect();
                Tensor::from_array((shape, ids))
                    .map_err(run_error)?
                    .into_dyn()
            }
            _ => Tensor::from_array((shape, ids))
                .map_err(run_error)?
                .into_dyn(),
        };
        self.text_encoder
            .run(vec![("input_ids", input.into())], &mut self.onnx_time)
    }

    /// Encodes the prompt, and the negative prompt when guidance is on.
    pub fn condition(
        &mut self,
        prompt: &str,
        negative_prompt: &str,
        guidance_scale: f32,
    ) -> Result<Conditioning, PipelineError> {
        let (mut shape, cond) = self.embed(prompt)?;
        if guidance_scale <= 1.0 {
            return Ok(Conditioning {
                embeddings: cond,
                shape,
                guided: false,
            });
        }
        let (_, mut embeddings) = self.embed(negative_prompt)?;
        embeddings.extend_from_slice(&cond);
        shape[0] = 2;
        Ok(Conditioning {
            embeddings,
            shape,
            guided: true,
        })
    }

    /// The sampler for a request.
    pub fn scheduler(
        &self,
        kind: SchedulerKind,
        steps: u32,
        strength: f32,
    ) -> Result<Scheduler, PipelineError> {
        Ok(Scheduler::new(
            kind,
            &self.scheduler_config,
            steps as usize,
            f64::from(strength),
        )?)
    }

    /// The denoising loop over `latents` (`[1, 4, h, w]`, updated in place). `noise`
    /// supplies the sampler's random draws; `observe` is told after every step and
    /// stops the loop by returning false.
    #[allow(clippy::too_many_arguments)]
    pub fn denoise(
        &mut self,
        conditioning: &Conditioning,
        latents: &mut [f32],
        latent_size: (usize, usize),
        scheduler: &mut Scheduler,
        guidance_scale: f32,
        noise: &mut dyn FnMut(&mut [f32]),
        observe: &mut dyn FnMut(StepReport<'_>) -> bool,
    ) -> Result<(), PipelineError> {
        let (h, w) = latent_size;
        let batch = if conditioning.guided { 2 } else { 1 };
        let sample_type = self.unet.input_type("sample")?;
        let timestep_type = self.unet.input_type("timestep")?;
        let hidden_type = self.unet.input_type("encoder_hidden_states")?;
        // One value per batch row, unless the graph declares a single timestep.
        let timesteps = if self.unet.takes_single("timestep") {
            1
        } else {
            batch
        };
        let per_image = latents.len();
        let mut scaled = vec![0f32; per_image];
        let steps = scheduler.len();
        // The text conditioning is the same at every step: one tensor for all of them.
        let hidden = float_tensor(
            conditioning.shape.clone(),
            conditioning.embeddings.clone(),
            hidden_type,
        )?;
        for step in 0..steps {
            let t = scheduler.timesteps()[step];
            scheduler.scale_model_input(step, latents, &mut scaled)?;
            let mut input = Vec::with_capacity(per_image * batch);
            for _ in 0..batch {
                input.extend_from_slice(&scaled);
            }
            let sample = float_tensor(
                vec![batch as i64, LATENT_CHANNELS as i64, h as i64, w as i64],
                input,
                sample_type,
            )?;
            let shape = vec![timesteps as i64];
            let timestep = match timestep_type {
                TensorElementType::Int64 => Tensor::from_array((shape, vec![t as i64; timesteps]))
                    .map_err(run_error)?
                    .into_dyn(),
                TensorElementType::Int32 => Tensor::from_array((shape, vec![t as i32; timesteps]))
                    .map_err(run_error)?
                    .into_dyn(),
                float => float_tensor(shape, vec![t as f32; timesteps], float)?,
            };
            let (_, prediction) = self.unet.run(
                vec![
                    ("sample", sample.into()),
                    ("timestep", timestep.into()),
                    ("encoder_hidden_states", (&hidden).into()),
                ],
                &mut self.onnx_time,
            )?;
            if prediction.len() != per_image * batch {
                return Err(PipelineError::Model {
                    part: "unet",
                    detail: format!(
                        "it returned {} values for {} expected",
                        prediction.len(),
                        per_image * batch
                    ),
                });
            }
            let guided: Vec<f32> = if conditioning.guided {
                let (uncond, cond) = prediction.split_at(per_image);
                uncond
                    .iter()
                    .zip(cond)
                    .map(|(u, c)| u + guidance_scale * (c - u))
                    .collect()
            } else {
                prediction
            };
            scheduler.step(step, &guided, latents, noise)?;
            let keep_going = observe(StepReport {
                step: step + 1,
                steps,
                latents,
                latent_height: h,
                latent_width: w,
            });
            if !keep_going {
                return Err(PipelineError::Stopped);
            }
        }
        Ok(())
    }

    /// Latents (`[1, 4, h, w]`, still scaled) → decoded pixels `[1, 3, 8h, 8w]` in [-1, 1].
    pub fn decode(
        &mut self,
        latents: &[f32],
        latent_size: (usize, usize),
    ) -> Result<Vec<f32>, PipelineError> {
        let (h, w) = latent_size;
        let factor = self.manifest.vae_scaling_factor;
        let unscaled: Vec<f32> = latents.iter().map(|v| v / factor).collect();
        let ty = self.vae_decoder.input_type("latent_sample")?;
        let input = float_tensor(
            vec![1, LATENT_CHANNELS as i64, h as i64, w as i64],
            unscaled,
            ty,
        )?;
        let (_, pixels) = self
            .vae_decoder
            .run(vec![("latent_sample", input.into())], &mut self.onnx_time)?;
        Ok(pixels)
    }

    /// An RGB image (`width × height`) → scaled latents `[1, 4, h/8, w/8]`.
    pub fn encode_image(&mut self, image: &RgbImage) -> Result<Vec<f32>, PipelineError> {
        let encoder = self.vae_encoder.as_mut().ok_or_else(|| {
            PipelineError::Request(
                "this model has no VAE encoder, so it cannot start from an image".into(),
            )
        })?;
        let (width, height) = (image.width() as usize, image.height() as usize);
        let plane = width * height;
        let mut pixels = vec![0f32; 3 * plane];
        for (i, pixel) in image.pixels().enumerate() {
            for channel in 0..3 {
                pixels[channel * plane + i] = f32::from(pixel[channel]) / 127.5 - 1.0;
            }
        }
        let ty = encoder.input_type("sample")?;
        let input = float_tensor(vec![1, 3, height as i64, width as i64], pixels, ty)?;
        let (_, latents) = encoder.run(vec![("sample", input.into())], &mut self.onnx_time)?;
        let factor = self.manifest.vae_scaling_factor;
        // Some exports return the distribution's mean and log-variance (8 channels).
        let per_latent = LATENT_CHANNELS * plane / (VAE_FACTOR * VAE_FACTOR);
        Ok(latents[..per_latent.min(latents.len())]
            .iter()
            .map(|v| v * factor)
            .collect())
    }

    /// Runs a whole generation: seeded noise, optional start image, denoising, decoding.
    pub fn generate(
        &mut self,
        request: &Request,
        observe: &mut dyn FnMut(StepReport<'_>) -> bool,
    ) -> Result<RgbImage, PipelineError> {
        if !request.width.is_multiple_of(8) || !request.height.is_multiple_of(8) {
            return Err(PipelineError::Request(
                "width and height must be multiples of 8".into(),
            ));
        }
        let latent_size = (
            request.height as usize / VAE_FACTOR,
            request.width as usize / VAE_FACTOR,
        );
        let count = LATENT_CHANNELS * latent_size.0 * latent_size.1;
        let mut rng = Noise::new(request.seed);
        let strength = request.init.as_ref().map_or(1.0, |(_, s)| *s);
        let mut scheduler = self.scheduler(request.scheduler, request.steps, strength)?;
        let conditioning = self.condition(
            &request.prompt,
            &request.negative_prompt,
            request.guidance_scale,
        )?;
        let mut start = vec![0f32; count];
        rng.fill(&mut start);
        let mut latents = match &request.init {
            None => {
                let sigma = scheduler.init_noise_sigma();
                start.iter().map(|v| v * sigma).collect()
            }
            Some((image, _)) => {
                let encoded = self.encode_image(image)?;
                let mut noised = vec![0f32; count];
                scheduler.add_noise(&encoded, &start, &mut noised)?;
                noised
            }
        };
        self.denoise(
            &conditioning,
            &mut latents,
            latent_size,
            &mut scheduler,
            request.guidance_scale,
            &mut |buffer| rng.fill(buffer),
            observe,
        )?;
        let pixels = self.decode(&latents, latent_size)?;
        Ok(to_image(&pixels, request.width, request.height))
    }
}

/// Decoded pixels `[1, 3, H, W]` in [-1, 1] → an RGB image, rounding as diffusers does.
pub fn to_image(pixels: &[f32], width: u32, height: u32) -> RgbImage {
    let plane = (width * height) as usize;
    RgbImage::from_fn(width, height, |x, y| {
        let at = (y * width + x) as usize;
        let channel = |c: usize| {
            let v = pixels.get(c * plane + at).copied().unwrap_or(0.0);
            ((v / 2.0 + 0.5).clamp(0.0, 1.0) * 255.0).round() as u8
        };
        image::Rgb([channel(0), channel(1), channel(2)])
    })
}
