//! What a generation request may ask for, checked once when it is queued; the job keeps
//! the checked, complete parameters (model, seed and defaults filled in).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::models::{Model, SCHEDULERS};
use crate::engines::diffusion::png::Parameters;
use crate::engines::diffusion::scheduler::{
    Scheduler, SchedulerConfig, SchedulerError, SchedulerKind,
};
use crate::error::ApiError;

pub const MAX_PROMPT_CHARS: usize = 2000;
pub const MIN_SIDE: u32 = 64;
pub const MAX_SIDE: u32 = 2048;
pub const MAX_STEPS: u32 = 150;
pub const MAX_COUNT: u32 = 4;

/// The body of `POST /api/v1/generations`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerationRequest {
    /// `image` (the default), `relief`, `lithophane`, `extrusion` (these three from the
    /// image `source_asset_id`) or `prompt_to_3d` (an image from the prompt, then `mode`).
    #[serde(default = "image_kind")]
    pub kind: String,
    /// What to generate (`image` and `prompt_to_3d`).
    #[serde(default)]
    pub prompt: String,
    #[serde(default)]
    pub negative_prompt: String,
    /// Model id; the instance's default when absent.
    pub model: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub steps: Option<u32>,
    pub guidance_scale: Option<f32>,
    /// `euler`, `euler_a`, `ddim`, `lcm` or `dpmpp_2m_karras`.
    pub scheduler: Option<String>,
    /// 0 to 4294967295; random when absent (the job shows the one used).
    pub seed: Option<u64>,
    /// Images to make, 1 to 4 (seeds `seed`, `seed + 1`, ...).
    pub count: Option<u32>,
    /// Image to image: an image asset of the user's library. For `relief`,
    /// `lithophane` and `extrusion`: the image the model is made from.
    pub source_asset_id: Option<String>,
    /// How much of the start image is repainted, above 0 up to 1 (default 0.75).
    pub strength: Option<f32>,
    /// Prompt to 3D: `relief` (default), `lithophane` or `extrusion`.
    pub mode: Option<String>,
    /// 3D: the model's width in mm (10–1000); its depth follows the image's aspect.
    pub width_mm: Option<f32>,
    /// Relief: thickness under the darkest point (default 2). Extrusion: base plate
    /// thickness, 0 (default) for none.
    pub base_mm: Option<f32>,
    /// Relief: height added by white (default 4). Extrusion: height of the shapes (default 5).
    pub max_height_mm: Option<f32>,
    /// Lithophane: thickness at white (default 0.8).
    pub min_thickness_mm: Option<f32>,
    /// Lithophane: thickness at black (default 3.2); also the frame's thickness.
    pub max_thickness_mm: Option<f32>,
    /// Relief and lithophane: gaussian smoothing in samples, 0–8.
    pub smoothing: Option<f32>,
    /// 3D: samples along the image's longer side, 16–2048 (default 1024 for reliefs, 400
    /// for lithophanes, 512 for extrusions).
    pub resolution: Option<u32>,
    /// Relief: dark is high. Extrusion: light shapes on a dark background.
    pub invert: Option<bool>,
    /// 3D level of detail: how far (mm, 0–2, default 0.05) the simplified surface may
    /// stray from the full-resolution one; 0 merges only flat areas.
    pub max_error_mm: Option<f32>,
    /// Lithophane: 0 (default) flat, or 10–300 degrees of cylinder.
    pub curve_degrees: Option<f32>,
    /// Lithophane: a frame this wide (mm) around the picture; 0 (default) for none.
    pub frame_mm: Option<f32>,
    /// Extrusion: where the silhouette comes from.
    pub mask: Option<super::mesh_params::MaskSource>,
    /// Extrusion with a brightness mask: 0–255 (default 128).
    pub threshold: Option<u8>,
    /// Extrusion: shapes and holes smaller than this many pixels are dropped (default 16).
    pub speck_px: Option<u32>,
    /// Relief: `brightness` (default), or `depth` from the installed depth model.
    pub height_from: Option<String>,
}

fn image_kind() -> String {
    "image".into()
}

impl Default for GenerationRequest {
    fn default() -> Self {
        GenerationRequest {
            kind: image_kind(),
            prompt: String::new(),
            negative_prompt: String::new(),
            model: None,
            width: None,
            height: None,
            steps: None,
            guidance_scale: None,
            scheduler: None,
            seed: None,
            count: None,
            source_asset_id: None,
            strength: None,
            mode: None,
            width_mm: None,
            base_mm: None,
            max_height_mm: None,
            min_thickness_mm: None,
            max_thickness_mm: None,
            smoothing: None,
            resolution: None,
            invert: None,
            max_error_mm: None,
            curve_degrees: None,
            frame_mm: None,
            mask: None,
            threshold: None,
            speck_px: None,
            height_from: None,
        }
    }
}

/// The complete parameters of an image job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationParams {
    pub prompt: String,
    pub negative_prompt: String,
    pub model: String,
    pub model_name: String,
    pub model_hash: String,
    pub width: u32,
    pub height: u32,
    pub steps: u32,
    pub guidance_scale: f32,
    pub scheduler: String,
    pub seed: u64,
    pub count: u32,
    pub source_asset_id: Option<String>,
    pub strength: Option<f32>,
}

impl GenerationRequest {
    /// Checks the image part of the request against the model and fills in its
    /// defaults.
    pub fn complete(&self, model: &Model, random_seed: u64) -> Result<GenerationParams, ApiError> {
        let prompt = self.prompt.trim().to_string();
        if prompt.is_empty() {
            return Err(ApiError::field("prompt", "Describe the image you want."));
        }
        if prompt.chars().count() > MAX_PROMPT_CHARS
            || self.negative_prompt.chars().count() > MAX_PROMPT_CHARS
        {
            return Err(ApiError::field(
                "prompt",
                format!("Keep prompts under {MAX_PROMPT_CHARS} characters."),
            ));
        }
        let defaults = &model.defaults;
        let side = |name: &str, value: Option<u32>, default: u32| -> Result<u32, ApiError> {
            let value = value.unwrap_or(default);
            if !(MIN_SIDE..=MAX_SIDE).contains(&value) || !value.is_multiple_of(8) {
                return Err(ApiError::field(
                    name,
                    format!("Use a multiple of 8 from {MIN_SIDE} to {MAX_SIDE}."),
                ));
            }
            Ok(value)
        };
        let width = side("width", self.width, defaults.width)?;
        let height = side("height", self.height, defaults.height)?;
        let steps = self.steps.unwrap_or(defaults.steps);
        if !(1..=MAX_STEPS).contains(&steps) {
            return Err(ApiError::field(
                "steps",
                format!("Use 1 to {MAX_STEPS} steps."),
            ));
        }
        let guidance_scale = self.guidance_scale.unwrap_or(defaults.guidance_scale);
        if !(0.0..=30.0).contains(&guidance_scale) || !guidance_scale.is_finite() {
            return Err(ApiError::field(
                "guidance_scale",
                "Use a guidance scale from 0 to 30.",
            ));
        }
        let scheduler = self
            .scheduler
            .clone()
            .unwrap_or_else(|| defaults.scheduler.clone());
        if !SCHEDULERS.contains(&scheduler.as_str()) {
            return Err(ApiError::field(
                "scheduler",
                format!("Choose one of: {}.", SCHEDULERS.join(", ")),
            ));
        }
        let seed = self.seed.unwrap_or(random_seed);
        if seed > u64::from(u32::MAX) {
            return Err(ApiError::field("seed", "Use a seed from 0 to 4294967295."));
        }
        let count = self.count.unwrap_or(1);
        if !(1..=MAX_COUNT).contains(&count) {
            return Err(ApiError::field(
                "count",
                format!("Make 1 to {MAX_COUNT} images at a time."),
            ));
        }
        let strength = match (&self.source_asset_id, self.strength) {
            (None, Some(_)) => {
                return Err(ApiError::field(
                    "strength",
                    "Strength applies only with a start image (source_asset_id).",
                ));
            }
            (None, None) => None,
            (Some(_), strength) => {
                let strength = strength.unwrap_or(0.75);
                if !(strength > 0.0 && strength <= 1.0) {
                    return Err(ApiError::field(
                        "strength",
                        "Use a strength above 0 and up to 1.",
                    ));
                }
                Some(strength)
            }
        };
        Ok(GenerationParams {
            prompt,
            negative_prompt: self.negative_prompt.trim().to_string(),
            model: model.id.clone(),
            model_name: model.name.clone(),
            model_hash: model.manifest.short_hash(),
            width,
            height,
            steps,
            guidance_scale,
            scheduler,
            seed,
            count,
            source_asset_id: self.source_asset_id.clone(),
            strength,
        })
    }
}

/// `value` as JSON with its `f32` numbers as written (0.05, not the 0.0500000007 that
/// widening the `f32` to `f64` would give, which `serde_json::to_value` does).
pub fn json_value(value: &impl Serialize) -> Value {
    serde_json::to_string(value)
        .and_then(|text| serde_json::from_str(&text))
        .unwrap_or(Value::Null)
}

/// A1111's name for each sampler.
fn a1111_sampler(scheduler: &str) -> &'static str {
    match scheduler {
        "euler_a" => "Euler a",
        "ddim" => "DDIM",
        "lcm" => "LCM",
        "dpmpp_2m_karras" => "DPM++ 2M Karras",
        _ => "Euler",
    }
}

impl GenerationParams {
    /// Checks that the model's sampler config gives a schedule for these settings (e.g.
    /// LCM allows at most its `original_inference_steps`), so a request that cannot
    /// run is refused when queued rather than failing later.
    pub fn check_schedule(&self, model_dir: &std::path::Path) -> Result<(), ApiError> {
        let text = std::fs::read_to_string(model_dir.join("scheduler/scheduler_config.json"))
            .map_err(|e| {
                ApiError::Unavailable(format!("The model's scheduler config cannot be read: {e}"))
            })?;
        let config = SchedulerConfig::from_json(&text).map_err(|e| {
            ApiError::Unavailable(format!("The model's scheduler config is not usable: {e}"))
        })?;
        let kind = self
            .scheduler_kind()
            .map_err(|e| ApiError::field("scheduler", e))?;
        Scheduler::new(
            kind,
            &config,
            self.steps as usize,
            f64::from(self.strength.unwrap_or(1.0)),
        )
        .map(|_| ())
        .map_err(|e| match e {
            SchedulerError::Strength(_) | SchedulerError::NoSteps { .. } => {
                ApiError::field("strength", e.to_string())
            }
            SchedulerError::Steps { .. } => ApiError::field("steps", e.to_string()),
            other => ApiError::field("scheduler", other.to_string()),
        })
    }

    pub fn scheduler_kind(&self) -> Result<SchedulerKind, String> {
        self.scheduler
            .parse()
            .map_err(|e: crate::engines::diffusion::scheduler::SchedulerError| e.to_string())
    }

    /// The `parameters` text for the PNG of the image made with `seed`.
    pub fn a1111(&self, model: &Model, seed: u64) -> String {
        Parameters {
            prompt: &self.prompt,
            negative_prompt: &self.negative_prompt,
            steps: self.steps,
            sampler: a1111_sampler(&self.scheduler),
            guidance_scale: self.guidance_scale,
            seed,
            width: self.width,
            height: self.height,
            model_hash: &self.model_hash,
            model_name: &model.id,
            denoising_strength: self.strength,
        }
        .to_a1111()
    }

    /// What a generated asset records (its own seed is added per image).
    pub fn asset_params(&self) -> Value {
        json!({
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "model": self.model,
            "model_name": self.model_name,
            "width": self.width,
            "height": self.height,
            "steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "scheduler": self.scheduler,
            "source_asset_id": self.source_asset_id,
            "strength": self.strength,
        })
    }

    /// A title for the library: the prompt's start.
    pub fn title(&self) -> String {
        let mut title: String = self.prompt.chars().take(80).collect();
        if self.prompt.chars().count() > 80 {
            title.push('…');
        }
        title
    }

    /// A file name stem from the prompt's first words.
    pub fn file_stem(&self) -> String {
        file_stem(&self.prompt, "image")
    }
}

/// A file name stem from the first words of `text` (`fallback` when it has none).
pub fn file_stem(text: &str, fallback: &str) -> String {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(6)
        .map(str::to_lowercase)
        .collect();
    if words.is_empty() {
        fallback.into()
    } else {
        words.join("-")
    }
}
