//! Diffusion samplers ("schedulers") for the Stable Diffusion pipeline, in pure Rust.
//!
//! This module owns everything between the UNet calls of a denoising loop: the training noise
//! schedule (betas → `alphas_cumprod`), the choice of inference timesteps (including the
//! image-to-image trimming by `strength`), the initial noise scale, the per-step model-input scaling,
//! the update rule of each sampler, and the img2img noising of the start latents. It does not own the
//! UNet, classifier-free guidance, the random number generator (noise is supplied by the caller), or
//! tensor shapes: every operation is element-wise over flattened `f32` latents.
//!
//! The samplers reproduce the diffusers classes created with `XScheduler.from_config(config)`:
//!
//! | name              | diffusers class                                                    |
//! |-------------------|--------------------------------------------------------------------|
//! | `euler`           | `EulerDiscreteScheduler`                                           |
//! | `euler_a`         | `EulerAncestralDiscreteScheduler`                                  |
//! | `ddim`            | `DDIMScheduler` (eta = 0, as the pipelines call it)                |
//! | `lcm`             | `LCMScheduler`                                                     |
//! | `dpmpp_2m_karras` | `DPMSolverMultistepScheduler` with `algorithm_type="dpmsolver++"`, |
//! |                   | `solver_order=2`, `use_karras_sigmas=True`                         |
//!
//! Only the `scheduler_config.json` keys the target class understands are read; everything else
//! defaults to that class's own defaults (which differ per class, e.g. DDIM clips by default and LCM
//! defaults to the scaled-linear SD betas). Where diffusers computes with float32 tensors the
//! arithmetic here is float32 with the same operation order; where it uses numpy float64 (timestep
//! spacing, interpolation, Karras sigmas) it is f64. Against the diffusers fixture the largest
//! deviation is ~2e-6 relative (torch's own CPU float32 `sqrt` is not correctly rounded, so bit
//! equality is not attainable).
//!
//! diffusers behaviours kept on purpose (so a model's config means what it means in diffusers):
//! - "leading" spacing adds `steps_offset` (SD 1.5: 4 steps → 751, 501, 251, 1); "trailing" uses
//!   numpy's `arange(N, 0, -N/steps)`, which for some step counts (61, 103, …) yields one extra
//!   timestep, -1; "linspace" with 1 step gives timestep 0.
//! - Euler/Euler-a `init_noise_sigma` is `sqrt(σ_max² + 1)` for "leading", `σ_max` otherwise.
//! - DDIM steps from `t` to `t - N/steps` whatever the spacing, and past 0 uses the "final alpha"
//!   (`1.0` if `set_alpha_to_one`, else `ᾱ_0`; SD configs say false).
//! - DPM++ 2M: first step and (with the default final σ = 0) last step are first order.
//! - img2img: every sampler here has `order == 1`, so the schedule keeps `timesteps[t_start..]`; for
//!   LCM this is the generic StableDiffusionImg2ImgPipeline behaviour, not the dedicated
//!   LatentConsistencyModelImg2ImgPipeline (which re-spaces all steps below `strength`).
//! - Noise: euler_a draws every step (also the last, where σ_up = 0); lcm every step but the last.
//!
//! Notation: `ᾱ_t = alphas_cumprod[t]`, `σ_t = sqrt((1 - ᾱ_t) / ᾱ_t)` (the "Karras"/VE noise level).
//! Euler-type samplers work on `x = x0 + σ·ε` (so the UNet input is `x / sqrt(σ² + 1)`), DDIM/LCM/DPM
//! work on `x = sqrt(ᾱ)·x0 + sqrt(1 - ᾱ)·ε` (UNet input unscaled).

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// Errors from building or driving a [`Scheduler`].
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("unknown scheduler {0:?}; expected one of: euler, euler_a, ddim, lcm, dpmpp_2m_karras")]
    UnknownScheduler(String),
    #[error("invalid scheduler config: {0}")]
    Config(String),
    #[error("scheduler {scheduler} does not support {what}")]
    Unsupported {
        scheduler: &'static str,
        what: String,
    },
    #[error("invalid number of inference steps {steps}: {reason}")]
    Steps { steps: usize, reason: String },
    #[error("strength must be in (0, 1], got {0}")]
    Strength(f64),
    #[error(
        "strength {strength} with {steps} steps leaves no denoising step (int(steps * strength) = 0); \
         increase steps or strength"
    )]
    NoSteps { steps: usize, strength: f64 },
    #[error("{what} has {got} elements, expected {expected}")]
    Length {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("step {got} is out of order: expected step {expected} (schedule has {len} steps)")]
    StepOrder {
        expected: usize,
        got: usize,
        len: usize,
    },
}

/// The samplers StrataMake exposes, by API name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchedulerKind {
    Euler,
    EulerAncestral,
    Ddim,
    Lcm,
    DpmPp2mKarras,
}

impl SchedulerKind {
    pub const ALL: [SchedulerKind; 5] = [
        SchedulerKind::Euler,
        SchedulerKind::EulerAncestral,
        SchedulerKind::Ddim,
        SchedulerKind::Lcm,
        SchedulerKind::DpmPp2mKarras,
    ];

    /// The API name (`euler`, `euler_a`, `ddim`, `lcm`, `dpmpp_2m_karras`).
    pub fn as_str(self) -> &'static str {
        match self {
            SchedulerKind::Euler => "euler",
            SchedulerKind::EulerAncestral => "euler_a",
            SchedulerKind::Ddim => "ddim",
            SchedulerKind::Lcm => "lcm",
            SchedulerKind::DpmPp2mKarras => "dpmpp_2m_karras",
        }
    }

    /// Whether `step` consumes caller-supplied noise.
    pub fn is_stochastic(self) -> bool {
        matches!(self, SchedulerKind::EulerAncestral | SchedulerKind::Lcm)
    }
}

impl fmt::Display for SchedulerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SchedulerKind {
    type Err = SchedulerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SchedulerKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| SchedulerError::UnknownScheduler(s.to_string()))
    }
}

/// The keys of a diffusers `scheduler_config.json` that the supported samplers understand.
///
/// Every field is optional: `None` (absent, or JSON `null`) means "the target class's default".
/// Unknown keys are ignored, and keys named in `_use_default_values` are dropped as diffusers does.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SchedulerConfig {
    #[serde(rename = "_class_name")]
    pub class_name: Option<String>,
    pub num_train_timesteps: Option<usize>,
    pub beta_start: Option<f64>,
    pub beta_end: Option<f64>,
    pub beta_schedule: Option<String>,
    pub trained_betas: Option<Vec<f64>>,
    pub prediction_type: Option<String>,
    pub timestep_spacing: Option<String>,
    pub steps_offset: Option<i64>,
    pub rescale_betas_zero_snr: Option<bool>,
    // DDIM / LCM
    pub clip_sample: Option<bool>,
    pub clip_sample_range: Option<f64>,
    pub set_alpha_to_one: Option<bool>,
    pub thresholding: Option<bool>,
    // LCM
    pub original_inference_steps: Option<usize>,
    pub timestep_scaling: Option<f64>,
    // Euler / DPM sigma options
    pub interpolation_type: Option<String>,
    pub use_karras_sigmas: Option<bool>,
    pub use_exponential_sigmas: Option<bool>,
    pub use_beta_sigmas: Option<bool>,
    pub use_flow_sigmas: Option<bool>,
    pub sigma_min: Option<f64>,
    pub sigma_max: Option<f64>,
    pub timestep_type: Option<String>,
    pub final_sigmas_type: Option<String>,
    // DPM-Solver
    pub solver_type: Option<String>,
    pub lower_order_final: Option<bool>,
    pub euler_at_final: Option<bool>,
    pub variance_type: Option<String>,
}

impl SchedulerConfig {
    /// Parses a diffusers `scheduler_config.json`.
    pub fn from_json(text: &str) -> Result<Self, SchedulerError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| SchedulerError::Config(e.to_string()))?;
        Self::from_value(value)
    }

    /// Same as [`SchedulerConfig::from_json`] for an already parsed JSON value.
    pub fn from_value(value: serde_json::Value) -> Result<Self, SchedulerError> {
        let serde_json::Value::Object(mut map) = value else {
            return Err(SchedulerError::Config("expected a JSON object".into()));
        };
        // diffusers' extract_init_dict: keys saved as "default was used" are not taken from the file.
        if let Some(serde_json::Value::Array(defaults)) = map.remove("_use_default_values") {
            for key in defaults.iter().filter_map(|k| k.as_str()) {
                map.remove(key);
            }
        }
        serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| SchedulerError::Config(e.to_string()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Prediction {
    Epsilon,
    Velocity,
    Sample,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Spacing {
    Leading,
    Trailing,
    Linspace,
}

/// Stepping state per sampler family.
#[derive(Debug)]
enum Algo {
    /// Euler and Euler-ancestral: `sigmas` has one more entry than the schedule (the final σ).
    Euler {
        sigmas: Vec<f32>,
        prediction: Prediction,
        ancestral: bool,
    },
    /// DDIM with eta = 0; `stride` = num_train_timesteps / steps (integer division, as diffusers).
    Ddim {
        alphas_cumprod: Vec<f32>,
        final_alpha_cumprod: f32,
        stride: i64,
        prediction: Prediction,
        clip: Option<f32>,
    },
    Lcm {
        alphas_cumprod: Vec<f32>,
        final_alpha_cumprod: f32,
        prediction: Prediction,
        clip: Option<f32>,
        timestep_scaling: f32,
    },
    /// DPM-Solver++ (2M): keeps the previous data prediction for the second-order update.
    Dpm {
        sigmas: Vec<f32>,
        prediction: Prediction,
        heun: bool,
        lower_order_final: bool,
        euler_at_final: bool,
        final_sigma_zero: bool,
        lower_order_nums: usize,
        prev_x0: Vec<f32>,
        cur_x0: Vec<f32>,
    },
}

/// One denoising schedule, ready to drive a pipeline loop.
///
/// ```text
/// let mut s = Scheduler::new(kind, &config, steps, strength)?;
/// // text-to-image: latents = noise * s.init_noise_sigma()
/// // image-to-image: s.add_noise(&image_latents, &noise, &mut latents)?
/// for i in 0..s.len() {
///     s.scale_model_input(i, &latents, &mut unet_in)?;           // UNet timestep: s.timesteps()[i]
///     let eps = unet(&unet_in, s.timesteps()[i]);
///     s.step(i, &eps, &mut latents, &mut |buf| fill_standard_normal(buf))?;
/// }
/// ```
#[derive(Debug)]
pub struct Scheduler {
    kind: SchedulerKind,
    /// The full schedule (diffusers' `scheduler.timesteps` after `set_timesteps`).
    full_timesteps: Vec<f64>,
    /// First kept index (img2img `t_start * order`; 0 for text-to-image).
    begin: usize,
    init_noise_sigma: f32,
    /// Next step index (relative to `begin`) `step` expects.
    next: usize,
    algo: Algo,
    scratch: Vec<f32>,
}

impl Scheduler {
    /// Builds the schedule for `steps` inference steps.
    ///
    /// `strength` in (0, 1] selects image-to-image (1.0 = text-to-image) and trims the schedule as
    /// diffusers' `StableDiffusionImg2ImgPipeline.get_timesteps` does: `init = min(int(steps *
    /// strength), steps)`, `t_start = steps - init`, keep `timesteps[t_start..]` (every sampler here
    /// has `order == 1`). It is an f64 so that `int(steps * strength)` matches Python exactly.
    pub fn new(
        kind: SchedulerKind,
        config: &SchedulerConfig,
        steps: usize,
        strength: f64,
    ) -> Result<Self, SchedulerError> {
        if steps == 0 {
            return Err(SchedulerError::Steps {
                steps,
                reason: "must be at least 1".into(),
            });
        }
        if !(strength > 0.0 && strength <= 1.0) {
            return Err(SchedulerError::Strength(strength));
        }
        let common = Common::resolve(kind, config)?;
        if steps > common.num_train {
            return Err(SchedulerError::Steps {
                steps,
                reason: format!("cannot exceed num_train_timesteps ({})", common.num_train),
            });
        }
        let (full_timesteps, init_noise_sigma, algo) = match kind {
            SchedulerKind::Euler | SchedulerKind::EulerAncestral => {
                build_euler(kind, config, &common, steps)?
            }
            SchedulerKind::Ddim => build_ddim(config, &common, steps)?,
            SchedulerKind::Lcm => build_lcm(config, &common, steps)?,
            SchedulerKind::DpmPp2mKarras => build_dpm(config, &common, steps)?,
        };

        // StableDiffusionImg2ImgPipeline.get_timesteps (order = 1 for all samplers here).
        let init_timestep = (((steps as f64) * strength).trunc() as usize).min(steps);
        let t_start = steps - init_timestep;
        if init_timestep == 0 || t_start >= full_timesteps.len() {
            return Err(SchedulerError::NoSteps { steps, strength });
        }
        Ok(Scheduler {
            kind,
            full_timesteps,
            begin: t_start,
            init_noise_sigma,
            next: 0,
            algo,
            scratch: Vec::new(),
        })
    }

    pub fn kind(&self) -> SchedulerKind {
        self.kind
    }

    /// The UNet `timestep` input for each step that will run (already trimmed for img2img).
    /// Euler-type samplers give float32 values (possibly fractional); the others give integers.
    pub fn timesteps(&self) -> &[f64] {
        &self.full_timesteps[self.begin..]
    }

    /// Number of steps that will run.
    pub fn len(&self) -> usize {
        self.full_timesteps.len() - self.begin
    }

    /// Always false for a constructed scheduler (construction fails when no step would run).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Text-to-image: the initial latents are standard normal noise times this.
    pub fn init_noise_sigma(&self) -> f32 {
        self.init_noise_sigma
    }

    /// Writes the UNet input for `step` into `out`: `sample / sqrt(σ² + 1)` for the Euler family,
    /// the sample itself for the others.
    pub fn scale_model_input(
        &self,
        step: usize,
        sample: &[f32],
        out: &mut [f32],
    ) -> Result<(), SchedulerError> {
        self.check_step_index(step)?;
        check_len("scale_model_input output", sample.len(), out.len())?;
        match &self.algo {
            Algo::Euler { sigmas, .. } => {
                let sigma = sigmas[self.begin + step];
                let denom = (sigma * sigma + 1.0).sqrt();
                for (o, &s) in out.iter_mut().zip(sample) {
                    *o = s / denom;
                }
            }
            _ => out.copy_from_slice(sample),
        }
        Ok(())
    }

    /// Advances `sample` (in place) from `timesteps()[step]` to the next noise level, given the
    /// (guided) model output. Steps must be taken in order 0, 1, …, len()-1. `noise` is called to fill
    /// a buffer with standard normal noise when the sampler needs it (euler_a every step, lcm every
    /// step but the last of the full schedule).
    pub fn step(
        &mut self,
        step: usize,
        model_output: &[f32],
        sample: &mut [f32],
        noise: &mut dyn FnMut(&mut [f32]),
    ) -> Result<(), SchedulerError> {
        if step != self.next {
            return Err(SchedulerError::StepOrder {
                expected: self.next,
                got: step,
                len: self.len(),
            });
        }
        self.check_step_index(step)?;
        check_len("model_output", sample.len(), model_output.len())?;
        let idx = self.begin + step;
        let t = self.full_timesteps[idx];
        let n_full = self.full_timesteps.len();
        let next_t = self.full_timesteps.get(idx + 1).copied();
        let scratch = &mut self.scratch;
        match &mut self.algo {
            Algo::Euler {
                sigmas,
                prediction,
                ancestral,
            } => {
                if *ancestral {
                    scratch.resize(sample.len(), 0.0);
                    noise(scratch);
                    euler_ancestral_step(
                        sigmas[idx],
                        sigmas[idx + 1],
                        *prediction,
                        model_output,
                        sample,
                        scratch,
                    );
                } else {
                    euler_step(
                        sigmas[idx],
                        sigmas[idx + 1],
                        *prediction,
                        model_output,
                        sample,
                    );
                }
            }
            Algo::Ddim {
                alphas_cumprod,
                final_alpha_cumprod,
                stride,
                prediction,
                clip,
            } => {
                let t = t as i64;
                let a_t = at_index(alphas_cumprod, t);
                let prev_t = t - *stride;
                let a_prev = if prev_t >= 0 {
                    at_index(alphas_cumprod, prev_t)
                } else {
                    *final_alpha_cumprod
                };
                ddim_step(a_t, a_prev, *prediction, *clip, model_output, sample);
            }
            Algo::Lcm {
                alphas_cumprod,
                final_alpha_cumprod,
                prediction,
                clip,
                timestep_scaling,
            } => {
                let t_i = t as i64;
                // The last step "goes" to its own timestep (diffusers: prev_timestep = timestep).
                let prev_t = next_t.map_or(t_i, |p| p as i64);
                let a_t = at_index(alphas_cumprod, t_i);
                let a_prev = if prev_t >= 0 {
                    at_index(alphas_cumprod, prev_t)
                } else {
                    *final_alpha_cumprod
                };
                let last = idx == n_full - 1;
                if !last {
                    scratch.resize(sample.len(), 0.0);
                    noise(scratch);
                }
                let step_noise = if last { None } else { Some(&scratch[..]) };
                lcm_step(
                    t_i,
                    *timestep_scaling,
                    a_t,
                    a_prev,
                    *prediction,
                    *clip,
                    model_output,
                    sample,
                    step_noise,
                );
            }
            Algo::Dpm {
                sigmas,
                prediction,
                heun,
                lower_order_final,
                euler_at_final,
                final_sigma_zero,
                lower_order_nums,
                prev_x0,
                cur_x0,
            } => {
                // diffusers DPMSolverMultistepScheduler.step with solver_order = 2.
                let lower_final = idx == n_full - 1
                    && (*euler_at_final
                        || (*lower_order_final && n_full < 15)
                        || *final_sigma_zero);
                std::mem::swap(prev_x0, cur_x0);
                dpm_convert_model_output(sigmas[idx], *prediction, model_output, sample, cur_x0);
                if *lower_order_nums < 1 || lower_final {
                    dpm_first_order(sigmas[idx + 1], sigmas[idx], cur_x0, sample);
                } else {
                    let s = (sigmas[idx + 1], sigmas[idx], sigmas[idx - 1]);
                    dpm_second_order(s, *heun, cur_x0, prev_x0, sample);
                }
                if *lower_order_nums < 2 {
                    *lower_order_nums += 1;
                }
            }
        }
        self.next += 1;
        Ok(())
    }

    /// Image-to-image start: noises `original` (the encoded image latents) to the first kept timestep,
    /// writing the result to `out` (as diffusers' `add_noise(original, noise, timesteps[:1])`).
    pub fn add_noise(
        &self,
        original: &[f32],
        noise: &[f32],
        out: &mut [f32],
    ) -> Result<(), SchedulerError> {
        check_len("noise", original.len(), noise.len())?;
        check_len("add_noise output", original.len(), out.len())?;
        let idx = self.begin;
        match &self.algo {
            Algo::Euler { sigmas, .. } => {
                let sigma = sigmas[idx];
                for ((o, &x), &n) in out.iter_mut().zip(original).zip(noise) {
                    *o = x + n * sigma;
                }
            }
            Algo::Ddim { alphas_cumprod, .. } | Algo::Lcm { alphas_cumprod, .. } => {
                let a = at_index(alphas_cumprod, self.full_timesteps[idx] as i64);
                let (sa, sb) = (a.sqrt(), (1.0 - a).sqrt());
                for ((o, &x), &n) in out.iter_mut().zip(original).zip(noise) {
                    *o = sa * x + sb * n;
                }
            }
            Algo::Dpm { sigmas, .. } => {
                let (alpha_t, sigma_t) = dpm_alpha_sigma(sigmas[idx]);
                for ((o, &x), &n) in out.iter_mut().zip(original).zip(noise) {
                    *o = alpha_t * x + sigma_t * n;
                }
            }
        }
        Ok(())
    }

    fn check_step_index(&self, step: usize) -> Result<(), SchedulerError> {
        if step >= self.len() {
            return Err(SchedulerError::StepOrder {
                expected: self.next,
                got: step,
                len: self.len(),
            });
        }
        Ok(())
    }
}

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), SchedulerError> {
    if expected == got {
        Ok(())
    } else {
        Err(SchedulerError::Length {
            what,
            expected,
            got,
        })
    }
}

/// torch-style indexing of a 1-D tensor by an integer timestep: negative counts from the end, which
/// diffusers hits for "trailing" schedules whose numpy `arange` yields a spurious last timestep -1
/// (e.g. 61 steps). Construction guarantees `t < len`.
fn at_index(v: &[f32], t: i64) -> f32 {
    let i = if t < 0 { v.len() as i64 + t } else { t };
    v[i.clamp(0, v.len() as i64 - 1) as usize]
}

// ---------------------------------------------------------------------------------------------
// Configuration resolution
// ---------------------------------------------------------------------------------------------

/// Keys every supported class understands, resolved with that class's defaults.
struct Common {
    num_train: usize,
    alphas_cumprod: Vec<f32>,
    beta_schedule: String,
    prediction: Prediction,
    spacing: Spacing,
    steps_offset: i64,
}

impl Common {
    fn resolve(kind: SchedulerKind, cfg: &SchedulerConfig) -> Result<Self, SchedulerError> {
        let name = kind.as_str();
        let unsupported = |what: String| SchedulerError::Unsupported {
            scheduler: name,
            what,
        };
        let lcm = kind == SchedulerKind::Lcm;
        if cfg.rescale_betas_zero_snr == Some(true) {
            return Err(unsupported(
                "rescale_betas_zero_snr = true (zero terminal SNR)".into(),
            ));
        }
        let num_train = cfg.num_train_timesteps.unwrap_or(1000);
        if num_train < 2 {
            return Err(SchedulerError::Config(format!(
                "num_train_timesteps must be at least 2, got {num_train}"
            )));
        }
        let beta_start = cfg.beta_start.unwrap_or(if lcm { 0.00085 } else { 0.0001 });
        let beta_end = cfg.beta_end.unwrap_or(if lcm { 0.012 } else { 0.02 });
        let beta_schedule = cfg
            .beta_schedule
            .clone()
            .unwrap_or_else(|| (if lcm { "scaled_linear" } else { "linear" }).into());
        let betas: Vec<f32> = if let Some(trained) = &cfg.trained_betas {
            if trained.len() != num_train {
                return Err(SchedulerError::Config(format!(
                    "trained_betas has {} entries but num_train_timesteps is {num_train}",
                    trained.len()
                )));
            }
            trained.iter().map(|&b| b as f32).collect()
        } else {
            match beta_schedule.as_str() {
                "linear" => torch_linspace_f32(beta_start, beta_end, num_train),
                "scaled_linear" => {
                    torch_linspace_f32(beta_start.sqrt(), beta_end.sqrt(), num_train)
                        .into_iter()
                        .map(|b| b * b)
                        .collect()
                }
                "squaredcos_cap_v2" => betas_for_alpha_bar_cosine(num_train),
                other => {
                    return Err(unsupported(format!(
                        "beta_schedule {other:?} (supported: linear, scaled_linear, squaredcos_cap_v2)"
                    )));
                }
            }
        };
        // alphas = 1 - betas (float32); torch.cumprod accumulates in double on CPU and rounds each
        // partial product to float32.
        let mut acc = 1.0f64;
        let alphas_cumprod = betas
            .iter()
            .map(|&b| {
                acc *= f64::from(1.0f32 - b);
                acc as f32
            })
            .collect();

        let prediction = match cfg.prediction_type.as_deref().unwrap_or("epsilon") {
            "epsilon" => Prediction::Epsilon,
            "v_prediction" => Prediction::Velocity,
            "sample" => Prediction::Sample,
            "original_sample" if kind == SchedulerKind::Euler => Prediction::Sample,
            other => return Err(unsupported(format!("prediction_type {other:?}"))),
        };
        if prediction == Prediction::Sample && kind == SchedulerKind::EulerAncestral {
            return Err(unsupported(
                "prediction_type \"sample\" (not implemented by diffusers either)".into(),
            ));
        }
        let default_spacing = match kind {
            SchedulerKind::Ddim | SchedulerKind::Lcm => "leading",
            _ => "linspace",
        };
        let spacing = match cfg.timestep_spacing.as_deref().unwrap_or(default_spacing) {
            "leading" => Spacing::Leading,
            "trailing" => Spacing::Trailing,
            "linspace" => Spacing::Linspace,
            // LCMScheduler never looks at timestep_spacing.
            _ if lcm => Spacing::Leading,
            other => {
                return Err(unsupported(format!(
                    "timestep_spacing {other:?} (supported: leading, trailing, linspace)"
                )));
            }
        };
        Ok(Common {
            num_train,
            alphas_cumprod,
            beta_schedule,
            prediction,
            spacing,
            steps_offset: cfg.steps_offset.unwrap_or(0),
        })
    }

    /// `σ_t = sqrt((1 - ᾱ_t) / ᾱ_t)` in float32, for every training timestep.
    fn train_sigmas(&self) -> Vec<f32> {
        self.alphas_cumprod
            .iter()
            .map(|&a| ((1.0 - a) / a).sqrt())
            .collect()
    }

    /// The final σ appended after the schedule: 0 ("zero") or σ of training timestep 0 ("sigma_min").
    fn final_sigma(
        &self,
        kind: SchedulerKind,
        cfg: &SchedulerConfig,
    ) -> Result<f32, SchedulerError> {
        match cfg.final_sigmas_type.as_deref().unwrap_or("zero") {
            "zero" => Ok(0.0),
            "sigma_min" => {
                let a = self.alphas_cumprod[0];
                Ok(((1.0 - a) / a).sqrt())
            }
            other => Err(SchedulerError::Unsupported {
                scheduler: kind.as_str(),
                what: format!("final_sigmas_type {other:?} (supported: zero, sigma_min)"),
            }),
        }
    }

    /// Timesteps of the Euler/DDIM spacing rules (numpy float64 arithmetic; rounding is numpy's
    /// round-half-to-even). Euler keeps them as float32, DDIM as int64.
    fn spaced_timesteps(&self, steps: usize, integer_linspace: bool) -> Vec<f64> {
        let n_train = self.num_train;
        match self.spacing {
            Spacing::Linspace => {
                let mut ts = np_linspace(0.0, (n_train - 1) as f64, steps, true);
                ts.reverse();
                if integer_linspace {
                    ts.iter().map(|t| t.round_ties_even()).collect()
                } else {
                    ts.iter().map(|&t| f64::from(t as f32)).collect()
                }
            }
            Spacing::Leading => {
                let ratio = (n_train / steps) as i64;
                (0..steps as i64)
                    .rev()
                    .map(|i| (i * ratio + self.steps_offset) as f64)
                    .collect()
            }
            Spacing::Trailing => {
                let ratio = n_train as f64 / steps as f64;
                np_arange(n_train as f64, 0.0, -ratio)
                    .into_iter()
                    .map(|t| t.round_ties_even() - 1.0)
                    .collect()
            }
        }
    }
}

fn bool_or(v: Option<bool>, default: bool) -> bool {
    v.unwrap_or(default)
}

fn reject_thresholding(kind: SchedulerKind, cfg: &SchedulerConfig) -> Result<(), SchedulerError> {
    if cfg.thresholding == Some(true) {
        return Err(SchedulerError::Unsupported {
            scheduler: kind.as_str(),
            what: "thresholding = true (dynamic thresholding)".into(),
        });
    }
    Ok(())
}

type Built = (Vec<f64>, f32, Algo);

/// EulerDiscreteScheduler / EulerAncestralDiscreteScheduler `set_timesteps`.
fn build_euler(
    kind: SchedulerKind,
    cfg: &SchedulerConfig,
    c: &Common,
    steps: usize,
) -> Result<Built, SchedulerError> {
    let ancestral = kind == SchedulerKind::EulerAncestral;
    let unsupported = |what: &str| SchedulerError::Unsupported {
        scheduler: kind.as_str(),
        what: what.into(),
    };
    let mut karras = false;
    let mut final_sigma = 0.0f32;
    if !ancestral {
        // Keys only EulerDiscreteScheduler understands.
        match cfg.interpolation_type.as_deref().unwrap_or("linear") {
            "linear" => {}
            "log_linear" => return Err(unsupported("interpolation_type \"log_linear\"")),
            _ => return Err(unsupported("interpolation_type other than \"linear\"")),
        }
        if bool_or(cfg.use_exponential_sigmas, false) || bool_or(cfg.use_beta_sigmas, false) {
            return Err(unsupported("use_exponential_sigmas / use_beta_sigmas"));
        }
        if cfg.timestep_type.as_deref() == Some("continuous")
            && c.prediction == Prediction::Velocity
        {
            return Err(unsupported(
                "timestep_type \"continuous\" with v_prediction",
            ));
        }
        karras = bool_or(cfg.use_karras_sigmas, false);
        final_sigma = c.final_sigma(kind, cfg)?;
    }

    let mut timesteps = c.spaced_timesteps(steps, false);
    let train_sigmas = c.train_sigmas();
    let xp_sigmas: Vec<f64> = train_sigmas.iter().map(|&s| f64::from(s)).collect();
    // Linear interpolation of σ at (possibly fractional) timesteps (np.interp, float64).
    let mut sigmas: Vec<f64> = timesteps
        .iter()
        .map(|&t| np_interp_index(t, &xp_sigmas))
        .collect();
    if karras {
        let log_sigmas = log_sigmas_f32(&train_sigmas);
        let in_min = *sigmas.last().expect("at least one step");
        let in_max = sigmas[0];
        sigmas = karras_sigmas(
            cfg.sigma_min.unwrap_or(in_min),
            cfg.sigma_max.unwrap_or(in_max),
            steps,
        );
        timesteps = sigmas
            .iter()
            .map(|&s| f64::from(sigma_to_t(s, &log_sigmas) as f32))
            .collect();
    }
    let mut sigmas: Vec<f32> = sigmas.iter().map(|&s| s as f32).collect();
    sigmas.push(final_sigma);

    let max_sigma = sigmas.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let init_noise_sigma = match c.spacing {
        Spacing::Linspace | Spacing::Trailing => max_sigma,
        Spacing::Leading => (max_sigma * max_sigma + 1.0).sqrt(),
    };
    Ok((
        timesteps,
        init_noise_sigma,
        Algo::Euler {
            sigmas,
            prediction: c.prediction,
            ancestral,
        },
    ))
}

/// DDIMScheduler `set_timesteps`.
fn build_ddim(cfg: &SchedulerConfig, c: &Common, steps: usize) -> Result<Built, SchedulerError> {
    reject_thresholding(SchedulerKind::Ddim, cfg)?;
    let timesteps = c.spaced_timesteps(steps, true);
    if let Some(t) = timesteps.iter().find(|&&t| t >= c.num_train as f64) {
        // diffusers would raise an IndexError indexing alphas_cumprod.
        return Err(SchedulerError::Config(format!(
            "timestep {t} (steps_offset {}) is beyond num_train_timesteps {}",
            c.steps_offset, c.num_train
        )));
    }
    let final_alpha_cumprod = if bool_or(cfg.set_alpha_to_one, true) {
        1.0
    } else {
        c.alphas_cumprod[0]
    };
    let clip = bool_or(cfg.clip_sample, true).then(|| cfg.clip_sample_range.unwrap_or(1.0) as f32);
    let algo = Algo::Ddim {
        alphas_cumprod: c.alphas_cumprod.clone(),
        final_alpha_cumprod,
        stride: (c.num_train / steps) as i64,
        prediction: c.prediction,
        clip,
    };
    Ok((timesteps, 1.0, algo))
}

/// LCMScheduler `set_timesteps` (strength 1): the `original_inference_steps` distillation schedule
/// `t_k = k·(num_train / original_steps) - 1`, from which `steps` entries are picked at
/// `floor(linspace(0, len, steps, endpoint=False))` counted from the top. Spacing and steps_offset are
/// not used by LCM.
fn build_lcm(cfg: &SchedulerConfig, c: &Common, steps: usize) -> Result<Built, SchedulerError> {
    reject_thresholding(SchedulerKind::Lcm, cfg)?;
    let original = cfg.original_inference_steps.unwrap_or(50);
    if original == 0 || original > c.num_train {
        return Err(SchedulerError::Config(format!(
            "original_inference_steps must be in 1..={}, got {original}",
            c.num_train
        )));
    }
    if steps > original {
        return Err(SchedulerError::Steps {
            steps,
            reason: format!("LCM cannot run more steps than original_inference_steps ({original})"),
        });
    }
    let k = (c.num_train / original) as i64;
    let origin: Vec<i64> = (1..=original as i64).rev().map(|i| i * k - 1).collect();
    let timesteps = np_linspace(0.0, origin.len() as f64, steps, false)
        .into_iter()
        .map(|x| origin[x.floor() as usize] as f64)
        .collect();
    let final_alpha_cumprod = if bool_or(cfg.set_alpha_to_one, true) {
        1.0
    } else {
        c.alphas_cumprod[0]
    };
    let clip = bool_or(cfg.clip_sample, false).then(|| cfg.clip_sample_range.unwrap_or(1.0) as f32);
    let algo = Algo::Lcm {
        alphas_cumprod: c.alphas_cumprod.clone(),
        final_alpha_cumprod,
        prediction: c.prediction,
        clip,
        timestep_scaling: cfg.timestep_scaling.unwrap_or(10.0) as f32,
    };
    Ok((timesteps, 1.0, algo))
}

/// DPMSolverMultistepScheduler `set_timesteps` with `use_karras_sigmas=True`: the Karras ramp between
/// the smallest and largest training σ (or the config's sigma_min / sigma_max), timesteps from
/// interpolating log σ back onto the training table (rounded, or truncated for squaredcos_cap_v2).
fn build_dpm(cfg: &SchedulerConfig, c: &Common, steps: usize) -> Result<Built, SchedulerError> {
    let kind = SchedulerKind::DpmPp2mKarras;
    let unsupported = |what: &str| SchedulerError::Unsupported {
        scheduler: kind.as_str(),
        what: what.into(),
    };
    reject_thresholding(kind, cfg)?;
    if bool_or(cfg.use_exponential_sigmas, false) || bool_or(cfg.use_beta_sigmas, false) {
        return Err(unsupported(
            "use_exponential_sigmas / use_beta_sigmas together with Karras sigmas",
        ));
    }
    if bool_or(cfg.use_flow_sigmas, false) {
        return Err(unsupported("use_flow_sigmas"));
    }
    if matches!(
        cfg.variance_type.as_deref(),
        Some("learned" | "learned_range")
    ) {
        return Err(unsupported("variance_type learned / learned_range"));
    }
    let heun = match cfg.solver_type.as_deref().unwrap_or("midpoint") {
        // diffusers maps the UniPC / DEIS names onto midpoint.
        "midpoint" | "logrho" | "bh1" | "bh2" => false,
        "heun" => true,
        other => return Err(unsupported(&format!("solver_type {other:?}"))),
    };
    let final_sigma = c.final_sigma(kind, cfg)?;

    let train_sigmas = c.train_sigmas();
    let log_sigmas = log_sigmas_f32(&train_sigmas);
    let in_min = f64::from(train_sigmas[0]);
    let in_max = f64::from(train_sigmas[c.num_train - 1]);
    let sigmas = karras_sigmas(
        cfg.sigma_min.unwrap_or(in_min),
        cfg.sigma_max.unwrap_or(in_max),
        steps,
    );
    let truncate_only = c.beta_schedule == "squaredcos_cap_v2";
    let timesteps = sigmas
        .iter()
        .map(|&s| {
            let t = sigma_to_t(s, &log_sigmas);
            // `.round()` (skipped for squaredcos_cap_v2), then `.to(torch.int64)` truncates.
            if truncate_only {
                t.trunc()
            } else {
                t.round_ties_even()
            }
        })
        .collect();
    let mut sigmas: Vec<f32> = sigmas.iter().map(|&s| s as f32).collect();
    sigmas.push(final_sigma);
    let algo = Algo::Dpm {
        sigmas,
        prediction: c.prediction,
        heun,
        lower_order_final: bool_or(cfg.lower_order_final, true),
        euler_at_final: bool_or(cfg.euler_at_final, false),
        final_sigma_zero: cfg.final_sigmas_type.as_deref().unwrap_or("zero") == "zero",
        lower_order_nums: 0,
        prev_x0: Vec::new(),
        cur_x0: Vec::new(),
    };
    Ok((timesteps, 1.0, algo))
}

// ---------------------------------------------------------------------------------------------
// Numeric helpers reproducing torch / numpy
// ---------------------------------------------------------------------------------------------

/// `torch.linspace(start, end, n, dtype=float32)` on CPU: float32 step, double arithmetic from each
/// end (first half from `start`, second half from `end`), rounded to float32.
fn torch_linspace_f32(start: f64, end: f64, n: usize) -> Vec<f32> {
    let (s, e) = (start as f32, end as f32);
    if n == 1 {
        return vec![s];
    }
    let step = (e - s) / (n - 1) as f32;
    let (s, e, step) = (f64::from(s), f64::from(e), f64::from(step));
    let half = n / 2;
    (0..n)
        .map(|i| {
            if i < half {
                (s + step * i as f64) as f32
            } else {
                (e - step * (n - i - 1) as f64) as f32
            }
        })
        .collect()
}

/// diffusers `betas_for_alpha_bar(n, max_beta=0.999, "cosine")` (Python floats, stored as float32).
fn betas_for_alpha_bar_cosine(n: usize) -> Vec<f32> {
    let alpha_bar = |t: f64| {
        let c = ((t + 0.008) / 1.008 * std::f64::consts::PI / 2.0).cos();
        c * c
    };
    (0..n)
        .map(|i| {
            let t1 = i as f64 / n as f64;
            let t2 = (i + 1) as f64 / n as f64;
            (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(0.999) as f32
        })
        .collect()
}

/// `np.linspace(start, stop, num, endpoint)` (float64).
fn np_linspace(start: f64, stop: f64, num: usize, endpoint: bool) -> Vec<f64> {
    let div = if endpoint { num.saturating_sub(1) } else { num };
    let delta = stop - start;
    let mut y: Vec<f64> = (0..num).map(|i| i as f64).collect();
    if div > 0 {
        let step = delta / div as f64;
        if step == 0.0 {
            y.iter_mut().for_each(|v| *v = *v / div as f64 * delta);
        } else {
            y.iter_mut().for_each(|v| *v *= step);
        }
    } else {
        y.iter_mut().for_each(|v| *v *= delta);
    }
    y.iter_mut().for_each(|v| *v += start);
    if endpoint && num > 1 {
        y[num - 1] = stop;
    }
    y
}

/// `np.arange(start, stop, step)` for float64: length `ceil((stop - start) / step)`, values
/// `start + i·((start + step) - start)` — which can yield one element more than expected
/// (e.g. 62 values for `arange(1000, 0, -1000/61)`).
fn np_arange(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let len = ((stop - start) / step).ceil();
    if len.is_nan() || len <= 0.0 {
        return Vec::new();
    }
    let len = len as usize;
    let delta = (start + step) - start;
    (0..len)
        .map(|i| match i {
            0 => start,
            1 => start + step,
            _ => start + i as f64 * delta,
        })
        .collect()
}

/// `np.interp(x, arange(len(fp)), fp)`.
fn np_interp_index(x: f64, fp: &[f64]) -> f64 {
    let last = fp.len() - 1;
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return fp[0];
    }
    if x >= last as f64 {
        return fp[last];
    }
    let j = x.floor() as usize;
    if j as f64 == x {
        return fp[j];
    }
    let slope = (fp[j + 1] - fp[j]) / 1.0;
    slope * (x - j as f64) + fp[j]
}

/// `np.log` of the float32 σ table (float32 results).
fn log_sigmas_f32(sigmas: &[f32]) -> Vec<f32> {
    sigmas.iter().map(|&s| s.ln()).collect()
}

/// Karras et al. (2022) noise levels: `(σ_max^(1/ρ) + ramp·(σ_min^(1/ρ) - σ_max^(1/ρ)))^ρ`, ρ = 7,
/// `ramp = linspace(0, 1, n)`.
fn karras_sigmas(sigma_min: f64, sigma_max: f64, n: usize) -> Vec<f64> {
    let rho = 7.0f64;
    let min_inv = sigma_min.powf(1.0 / rho);
    let max_inv = sigma_max.powf(1.0 / rho);
    np_linspace(0.0, 1.0, n, true)
        .into_iter()
        .map(|r| (max_inv + r * (min_inv - max_inv)).powf(rho))
        .collect()
}

/// diffusers `_sigma_to_t`: piecewise-linear inverse of log σ over the training table.
fn sigma_to_t(sigma: f64, log_sigmas: &[f32]) -> f64 {
    let log_sigma = sigma.max(1e-10).ln();
    // argmax(cumsum(dists >= 0)) = the last index whose log σ is <= log_sigma (0 if none).
    let low = log_sigmas
        .iter()
        .rposition(|&l| log_sigma - f64::from(l) >= 0.0)
        .unwrap_or(0)
        .min(log_sigmas.len() - 2);
    let high = low + 1;
    let (lo, hi) = (f64::from(log_sigmas[low]), f64::from(log_sigmas[high]));
    let w = ((lo - log_sigma) / (lo - hi)).clamp(0.0, 1.0);
    (1.0 - w) * low as f64 + w * high as f64
}

// ---------------------------------------------------------------------------------------------
// Update rules (float32, mirroring the diffusers tensor expressions operation by operation)
// ---------------------------------------------------------------------------------------------

/// Euler: `x0 = x - σ·ε` (v: `x0 = -σ/sqrt(σ²+1)·v + x/(σ²+1)`), `d = (x - x0)/σ`,
/// `x ← x + d·(σ_next - σ)`. (`s_churn = 0`, so σ̂ = σ.)
fn euler_step(
    sigma: f32,
    sigma_next: f32,
    prediction: Prediction,
    model_output: &[f32],
    sample: &mut [f32],
) {
    let sigma_hat = sigma * (0.0f32 + 1.0);
    let dt = sigma_next - sigma_hat;
    let v_out = -sigma / (sigma * sigma + 1.0).sqrt();
    let v_in = sigma * sigma + 1.0;
    for (x, &m) in sample.iter_mut().zip(model_output) {
        let s = *x;
        let pred = match prediction {
            Prediction::Epsilon => s - sigma_hat * m,
            Prediction::Velocity => m * v_out + s / v_in,
            Prediction::Sample => m,
        };
        let derivative = (s - pred) / sigma_hat;
        *x = s + derivative * dt;
    }
}

/// Euler ancestral: `σ_up = sqrt(σ_next²(σ² - σ_next²)/σ²)`, `σ_down = sqrt(σ_next² - σ_up²)`;
/// Euler step to σ_down, then add `σ_up·noise`.
fn euler_ancestral_step(
    sigma: f32,
    sigma_next: f32,
    prediction: Prediction,
    model_output: &[f32],
    sample: &mut [f32],
    noise: &[f32],
) {
    let (from, to) = (sigma, sigma_next);
    let sigma_up = ((to * to) * ((from * from) - (to * to)) / (from * from)).sqrt();
    let sigma_down = ((to * to) - (sigma_up * sigma_up)).sqrt();
    let dt = sigma_down - sigma;
    let v_out = -sigma / (sigma * sigma + 1.0).sqrt();
    let v_in = sigma * sigma + 1.0;
    for ((x, &m), &n) in sample.iter_mut().zip(model_output).zip(noise) {
        let s = *x;
        let pred = match prediction {
            Prediction::Epsilon => s - sigma * m,
            Prediction::Velocity => m * v_out + s / v_in,
            Prediction::Sample => m,
        };
        let derivative = (s - pred) / sigma;
        let prev = s + derivative * dt;
        *x = prev + n * sigma_up;
    }
}

/// DDIM (eta = 0): `x0 = (x - sqrt(1-ᾱ_t)·ε)/sqrt(ᾱ_t)`, `x ← sqrt(ᾱ_prev)·x0 + sqrt(1-ᾱ_prev)·ε`.
fn ddim_step(
    a_t: f32,
    a_prev: f32,
    prediction: Prediction,
    clip: Option<f32>,
    model_output: &[f32],
    sample: &mut [f32],
) {
    let b_t = 1.0 - a_t;
    let (sa, sb) = (a_t.sqrt(), b_t.sqrt());
    // std_dev_t = eta·sqrt(variance) = 0, so the direction coefficient is sqrt(1 - ᾱ_prev - 0).
    let dir = ((1.0 - a_prev) - 0.0f32).sqrt();
    let sa_prev = a_prev.sqrt();
    for (x, &m) in sample.iter_mut().zip(model_output) {
        let s = *x;
        let (mut x0, eps) = match prediction {
            Prediction::Epsilon => ((s - sb * m) / sa, m),
            Prediction::Sample => (m, (s - sa * m) / sb),
            Prediction::Velocity => (sa * s - sb * m, sa * m + sb * s),
        };
        if let Some(r) = clip {
            x0 = x0.clamp(-r, r);
        }
        *x = sa_prev * x0 + dir * eps;
    }
}

/// LCM: consistency-model boundary condition with `c_skip = σ_d²/(τ² + σ_d²)`,
/// `c_out = τ/sqrt(τ² + σ_d²)`, `τ = t·timestep_scaling`, `σ_d = 0.5`;
/// `denoised = c_out·x0 + c_skip·x`, then re-noise to the next timestep (except on the last step).
#[allow(clippy::too_many_arguments)]
fn lcm_step(
    t: i64,
    timestep_scaling: f32,
    a_t: f32,
    a_prev: f32,
    prediction: Prediction,
    clip: Option<f32>,
    model_output: &[f32],
    sample: &mut [f32],
    noise: Option<&[f32]>,
) {
    let scaled = t as f32 * timestep_scaling;
    let d = scaled * scaled + 0.25;
    let c_skip = 0.25f32 / d;
    let c_out = scaled / d.sqrt();
    let (b_t, b_prev) = (1.0 - a_t, 1.0 - a_prev);
    let (sa, sb) = (a_t.sqrt(), b_t.sqrt());
    let (sa_prev, sb_prev) = (a_prev.sqrt(), b_prev.sqrt());
    for (i, (x, &m)) in sample.iter_mut().zip(model_output).enumerate() {
        let s = *x;
        let mut x0 = match prediction {
            Prediction::Epsilon => (s - sb * m) / sa,
            Prediction::Sample => m,
            Prediction::Velocity => sa * s - sb * m,
        };
        if let Some(r) = clip {
            x0 = x0.clamp(-r, r);
        }
        let denoised = c_out * x0 + c_skip * s;
        *x = match noise {
            Some(n) => sa_prev * denoised + sb_prev * n[i],
            None => denoised,
        };
    }
}

/// `(α_t, σ_t) = (1/sqrt(σ²+1), σ·α_t)` — VP coefficients of a Karras σ.
fn dpm_alpha_sigma(sigma: f32) -> (f32, f32) {
    let alpha = 1.0f32 / (sigma * sigma + 1.0).sqrt();
    (alpha, sigma * alpha)
}

/// DPM-Solver++ works with data predictions: `x0 = (x - σ_t·ε)/α_t` (v: `α_t·x - σ_t·v`).
fn dpm_convert_model_output(
    sigma: f32,
    prediction: Prediction,
    model_output: &[f32],
    sample: &[f32],
    out: &mut Vec<f32>,
) {
    let (alpha_t, sigma_t) = dpm_alpha_sigma(sigma);
    out.clear();
    out.extend(
        sample
            .iter()
            .zip(model_output)
            .map(|(&s, &m)| match prediction {
                Prediction::Epsilon => (s - sigma_t * m) / alpha_t,
                Prediction::Sample => m,
                Prediction::Velocity => alpha_t * s - sigma_t * m,
            }),
    );
}

fn dpm_lambda(sigma: f32) -> (f32, f32, f32) {
    let (alpha, sig) = dpm_alpha_sigma(sigma);
    (alpha, sig, alpha.ln() - sig.ln())
}

/// First order (DDIM-like): `x ← (σ_t/σ_s)·x - α_t·(e^{-h} - 1)·x0`, `h = λ_t - λ_s`, `λ = ln α - ln σ`.
/// At the final σ = 0, h = ∞ and this returns x0.
fn dpm_first_order(sigma_next: f32, sigma: f32, x0: &[f32], sample: &mut [f32]) {
    let (alpha_t, sigma_t, lambda_t) = dpm_lambda(sigma_next);
    let (_, sigma_s, lambda_s) = dpm_lambda(sigma);
    let h = lambda_t - lambda_s;
    let c_x = sigma_t / sigma_s;
    let c_d = alpha_t * ((-h).exp() - 1.0);
    for (x, &d) in sample.iter_mut().zip(x0) {
        *x = c_x * *x - c_d * d;
    }
}

/// Second-order multistep update (midpoint or heun form) with `D1 = (x0 - x0_prev)/r0`,
/// `r0 = h_prev/h`.
fn dpm_second_order(
    sigmas: (f32, f32, f32),
    heun: bool,
    m0: &[f32],
    m1: &[f32],
    sample: &mut [f32],
) {
    let (alpha_t, sigma_t, lambda_t) = dpm_lambda(sigmas.0);
    let (_, sigma_s0, lambda_s0) = dpm_lambda(sigmas.1);
    let (_, _, lambda_s1) = dpm_lambda(sigmas.2);
    let h = lambda_t - lambda_s0;
    let h_0 = lambda_s0 - lambda_s1;
    let r0 = h_0 / h;
    let inv_r0 = 1.0f32 / r0;
    let em1 = (-h).exp() - 1.0;
    let c_x = sigma_t / sigma_s0;
    let c_d0 = alpha_t * em1;
    for ((x, &a), &b) in sample.iter_mut().zip(m0).zip(m1) {
        let d1 = inv_r0 * (a - b);
        *x = if heun {
            let c_d1 = alpha_t * (em1 / h + 1.0);
            c_x * *x - c_d0 * a + c_d1 * d1
        } else {
            let c_d1 = 0.5f32 * (alpha_t * em1);
            c_x * *x - c_d0 * a - c_d1 * d1
        };
    }
}

#[cfg(test)]
mod tests {
    //! Checks against `tests/fixtures/diffusion/schedulers.json`, produced from diffusers by
    //! `models/scripts/make_scheduler_fixtures.py`. Tolerance: `|got - want| <= 1e-4 · max(1, |want|)`,
    //! i.e. absolute for values up to 1 and relative above (Euler latents reach ~40 at σ_max ≈ 14.6).

    use super::*;
    use serde_json::Value;
    use std::collections::BTreeMap;

    const TOL: f64 = 1e-4;

    fn fixture() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/diffusion/schedulers.json"
        );
        let text = std::fs::read_to_string(path).expect("read scheduler fixture");
        serde_json::from_str(&text).expect("parse scheduler fixture")
    }

    fn floats(v: &Value) -> Vec<f64> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_f64().expect("number"))
            .collect()
    }

    fn f32s(v: &Value) -> Vec<f32> {
        floats(v).into_iter().map(|x| x as f32).collect()
    }

    fn config_for(fx: &Value, config: &str, overrides: &Value) -> SchedulerConfig {
        let mut map = fx["configs"][config].as_object().expect("config").clone();
        for (k, v) in overrides.as_object().expect("overrides") {
            map.insert(k.clone(), v.clone());
        }
        SchedulerConfig::from_value(Value::Object(map)).expect("config parses")
    }

    /// Largest error seen per scheduler: (absolute, scaled = abs / max(1, |want|)).
    #[derive(Default)]
    struct Errors {
        worst: BTreeMap<String, (f64, f64)>,
        worst_ctx: BTreeMap<String, String>,
        failures: Vec<String>,
    }

    impl Errors {
        fn check(&mut self, sched: &str, ctx: &str, got: &[f64], want: &[f64]) {
            if got.len() != want.len() {
                self.failures
                    .push(format!("{ctx}: length {} != {}", got.len(), want.len()));
                return;
            }
            let entry = self.worst.entry(sched.to_string()).or_default();
            for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
                let abs = (g - w).abs();
                let scaled = abs / w.abs().max(1.0);
                if abs > entry.0 {
                    self.worst_ctx
                        .insert(sched.to_string(), format!("{ctx}[{i}] got {g} want {w}"));
                }
                entry.0 = entry.0.max(abs);
                entry.1 = entry.1.max(scaled);
                if scaled > TOL || abs.is_nan() {
                    self.failures
                        .push(format!("{ctx}[{i}]: got {g}, want {w} (abs err {abs:e})"));
                    return;
                }
            }
        }

        fn check32(&mut self, sched: &str, ctx: &str, got: &[f32], want: &Value) {
            let got: Vec<f64> = got.iter().map(|&x| f64::from(x)).collect();
            self.check(sched, ctx, &got, &floats(want));
        }
    }

    fn algo_sigmas(s: &Scheduler) -> Option<&[f32]> {
        match &s.algo {
            Algo::Euler { sigmas, .. } | Algo::Dpm { sigmas, .. } => Some(sigmas),
            _ => None,
        }
    }

    #[test]
    fn matches_diffusers_fixture() {
        let fx = fixture();
        let bias = f32s(&fx["bias"]);
        let cases = fx["cases"].as_array().expect("cases");
        let mut errs = Errors::default();
        let mut counted = BTreeMap::<String, usize>::new();
        for (ci, case) in cases.iter().enumerate() {
            let name = case["scheduler"].as_str().unwrap();
            let kind: SchedulerKind = name.parse().unwrap();
            let cfg = config_for(&fx, case["config"].as_str().unwrap(), &case["overrides"]);
            let steps = case["steps"].as_u64().unwrap() as usize;
            let strength = case["strength"].as_f64().unwrap();
            let ctx = format!(
                "case {ci} {name} {} {} steps={steps} strength={strength}",
                case["config"], case["overrides"]
            );
            let built = Scheduler::new(kind, &cfg, steps, strength);
            if case["error"].as_str() == Some("no_steps") {
                if !matches!(built, Err(SchedulerError::NoSteps { .. })) {
                    errs.failures
                        .push(format!("{ctx}: expected NoSteps, got {built:?}"));
                }
                continue;
            }
            let mut s = match built {
                Ok(s) => s,
                Err(e) => {
                    errs.failures.push(format!("{ctx}: {e}"));
                    continue;
                }
            };
            *counted.entry(name.to_string()).or_default() += 1;
            errs.check(
                name,
                &format!("{ctx} full_timesteps"),
                &s.full_timesteps,
                &floats(&case["full_timesteps"]),
            );
            errs.check(
                name,
                &format!("{ctx} timesteps"),
                s.timesteps(),
                &floats(&case["timesteps"]),
            );
            if let (Some(want), Some(got)) = (case["sigmas"].as_array(), algo_sigmas(&s)) {
                errs.check32(
                    name,
                    &format!("{ctx} sigmas"),
                    got,
                    &Value::Array(want.clone()),
                );
            }
            errs.check(
                name,
                &format!("{ctx} init_noise_sigma"),
                &[f64::from(s.init_noise_sigma())],
                &[case["init_noise_sigma"].as_f64().unwrap()],
            );

            let mut latents: Vec<f32>;
            if strength < 1.0 {
                let image = f32s(&case["image_latents"]);
                let noise = f32s(&case["noise"]);
                latents = vec![0.0; image.len()];
                s.add_noise(&image, &noise, &mut latents).unwrap();
                errs.check32(name, &format!("{ctx} add_noise"), &latents, &case["noised"]);
            } else {
                let sigma = s.init_noise_sigma();
                latents = f32s(&case["init_noise"])
                    .iter()
                    .map(|&n| n * sigma)
                    .collect();
                errs.check32(
                    name,
                    &format!("{ctx} initial latents"),
                    &latents,
                    &case["latents"],
                );
            }

            let log = case["log"].as_array().unwrap();
            if log.len() != s.len() {
                errs.failures.push(format!(
                    "{ctx}: {} logged steps, scheduler has {}",
                    log.len(),
                    s.len()
                ));
                continue;
            }
            let mut scaled = vec![0.0f32; latents.len()];
            for (i, entry) in log.iter().enumerate() {
                s.scale_model_input(i, &latents, &mut scaled).unwrap();
                if entry["scaled"].is_null() {
                    if scaled != latents {
                        errs.failures.push(format!(
                            "{ctx} step {i}: scale_model_input is not the identity"
                        ));
                    }
                } else {
                    errs.check32(
                        name,
                        &format!("{ctx} step {i} scaled"),
                        &scaled,
                        &entry["scaled"],
                    );
                }
                let k = (1.0 + 0.25 * i as f64) as f32;
                let model_output: Vec<f32> = scaled
                    .iter()
                    .zip(&bias)
                    .map(|(&x, &b)| 0.1f32 * x + b * k)
                    .collect();
                let want_noise = entry["noise"]
                    .as_array()
                    .map(|a| f32s(&Value::Array(a.clone())));
                let mut calls = 0usize;
                let mut feed = |buf: &mut [f32]| {
                    calls += 1;
                    match &want_noise {
                        Some(n) => buf.copy_from_slice(n),
                        None => buf.fill(f32::NAN),
                    }
                };
                s.step(i, &model_output, &mut latents, &mut feed).unwrap();
                let expected_calls = usize::from(want_noise.is_some());
                if calls != expected_calls {
                    errs.failures.push(format!(
                        "{ctx} step {i}: noise drawn {calls} times, diffusers drew {expected_calls}"
                    ));
                }
                errs.check32(
                    name,
                    &format!("{ctx} step {i} sample"),
                    &latents,
                    &entry["sample"],
                );
            }
        }
        for (name, (abs, scaled)) in &errs.worst {
            println!(
                "{name:>16}: {:>3} cases, max abs err {abs:.3e}, max scaled err {scaled:.3e}",
                counted.get(name).copied().unwrap_or(0)
            );
        }
        for (k, v) in &errs.worst_ctx {
            println!("{k:>16}: largest absolute error at {v}");
        }
        assert!(cases.len() > 250, "fixture has only {} cases", cases.len());
        assert!(
            errs.failures.is_empty(),
            "{} mismatches:\n{}",
            errs.failures.len(),
            errs.failures.join("\n")
        );
    }

    #[test]
    fn timestep_tables_match_diffusers() {
        let fx = fixture();
        let mut errs = Errors::default();
        for table in fx["timestep_tables"].as_array().unwrap() {
            let name = table["scheduler"].as_str().unwrap();
            let spacing = table["spacing"].as_str().unwrap();
            let steps = table["steps"].as_u64().unwrap() as usize;
            let cfg = config_for(
                &fx,
                "sd15",
                &serde_json::json!({ "timestep_spacing": spacing }),
            );
            let ctx = format!("{name} {spacing} steps={steps}");
            let s = Scheduler::new(name.parse().unwrap(), &cfg, steps, 1.0).unwrap();
            errs.check(
                name,
                &format!("{ctx} timesteps"),
                &s.full_timesteps,
                &floats(&table["timesteps"]),
            );
            if let (Some(want), Some(got)) = (table["sigmas"].as_array(), algo_sigmas(&s)) {
                errs.check32(
                    name,
                    &format!("{ctx} sigmas"),
                    got,
                    &Value::Array(want.clone()),
                );
            }
        }
        for (name, (abs, _)) in &errs.worst {
            println!("tables {name:>16}: max abs err {abs:.3e}");
        }
        assert!(
            errs.failures.is_empty(),
            "{} mismatches:\n{}",
            errs.failures.len(),
            errs.failures.join("\n")
        );
    }

    #[test]
    fn alphas_cumprod_match_torch() {
        let fx = fixture();
        let cases = [
            ("sd15", serde_json::json!({})),
            ("empty", serde_json::json!({})),
            (
                "squaredcos",
                serde_json::json!({ "beta_schedule": "squaredcos_cap_v2" }),
            ),
        ];
        for (key, overrides) in cases {
            let base = if key == "empty" { "empty" } else { "sd15" };
            let cfg = config_for(&fx, base, &overrides);
            let c = Common::resolve(SchedulerKind::Ddim, &cfg).unwrap();
            let want = floats(&fx["alphas_cumprod"][key]);
            assert_eq!(c.alphas_cumprod.len(), want.len());
            let worst = c
                .alphas_cumprod
                .iter()
                .zip(&want)
                .map(|(&g, &w)| (f64::from(g) - w).abs() / w.abs().max(1e-30))
                .fold(0.0f64, f64::max);
            println!("alphas_cumprod {key}: max relative error {worst:.3e}");
            assert!(worst < 1e-6, "{key}: relative error {worst:e}");
        }
    }

    fn sd15() -> SchedulerConfig {
        SchedulerConfig::from_json(
            r#"{"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
                "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": false,
                "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null, "clip_sample": false,
                "some_future_key": {"nested": [1, 2]}}"#,
        )
        .unwrap()
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in SchedulerKind::ALL {
            assert_eq!(kind.as_str().parse::<SchedulerKind>().unwrap(), kind);
            assert_eq!(kind.to_string(), kind.as_str());
        }
        let err = "dpm++".parse::<SchedulerKind>().unwrap_err();
        assert!(matches!(err, SchedulerError::UnknownScheduler(ref n) if n == "dpm++"));
        assert!(err.to_string().contains("euler_a"), "{err}");
        assert!(
            "Euler".parse::<SchedulerKind>().is_err(),
            "names are case-sensitive"
        );
    }

    #[test]
    fn rejects_bad_steps_and_strength() {
        let cfg = sd15();
        for kind in SchedulerKind::ALL {
            let err = Scheduler::new(kind, &cfg, 0, 1.0).unwrap_err();
            assert!(
                matches!(err, SchedulerError::Steps { steps: 0, .. }),
                "{kind}: {err}"
            );
            for strength in [0.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
                let err = Scheduler::new(kind, &cfg, 10, strength).unwrap_err();
                assert!(
                    matches!(err, SchedulerError::Strength(_)),
                    "{kind} {strength}: {err}"
                );
                assert!(err.to_string().contains("(0, 1]"), "{err}");
            }
            let err = Scheduler::new(kind, &cfg, 3, 0.2).unwrap_err();
            assert!(
                matches!(err, SchedulerError::NoSteps { steps: 3, .. }),
                "{kind}: {err}"
            );
            let err = Scheduler::new(kind, &cfg, 1001, 1.0).unwrap_err();
            assert!(
                matches!(err, SchedulerError::Steps { steps: 1001, .. }),
                "{kind}: {err}"
            );
        }
        let mut offset = sd15();
        offset.timestep_spacing = Some("leading".into());
        offset.steps_offset = Some(1);
        let err = Scheduler::new(SchedulerKind::Ddim, &offset, 1000, 1.0).unwrap_err();
        assert!(
            err.to_string().contains("beyond num_train_timesteps"),
            "{err}"
        );
        let err = Scheduler::new(SchedulerKind::Lcm, &cfg, 51, 1.0).unwrap_err();
        assert!(
            err.to_string().contains("original_inference_steps"),
            "{err}"
        );
    }

    #[test]
    fn rejects_unsupported_config() {
        let with = |extra: &str| {
            let mut v: Value =
                serde_json::from_str(r#"{"beta_schedule": "scaled_linear"}"#).unwrap();
            let extra: Value = serde_json::from_str(extra).unwrap();
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            SchedulerConfig::from_value(v).unwrap()
        };
        for kind in SchedulerKind::ALL {
            let err =
                Scheduler::new(kind, &with(r#"{"beta_schedule": "sigmoid"}"#), 4, 1.0).unwrap_err();
            assert!(
                matches!(err, SchedulerError::Unsupported { .. }),
                "{kind}: {err}"
            );
            assert!(
                err.to_string().contains("sigmoid") && err.to_string().contains("scaled_linear"),
                "{err}"
            );
            let err = Scheduler::new(kind, &with(r#"{"rescale_betas_zero_snr": true}"#), 4, 1.0)
                .unwrap_err();
            assert!(
                err.to_string().contains("rescale_betas_zero_snr"),
                "{kind}: {err}"
            );
            let err = Scheduler::new(
                kind,
                &with(r#"{"prediction_type": "flow_prediction"}"#),
                4,
                1.0,
            )
            .unwrap_err();
            assert!(err.to_string().contains("flow_prediction"), "{kind}: {err}");
        }
        for kind in [
            SchedulerKind::Euler,
            SchedulerKind::Ddim,
            SchedulerKind::DpmPp2mKarras,
        ] {
            let err = Scheduler::new(kind, &with(r#"{"timestep_spacing": "sideways"}"#), 4, 1.0)
                .unwrap_err();
            assert!(err.to_string().contains("sideways"), "{kind}: {err}");
        }
        for kind in [
            SchedulerKind::Ddim,
            SchedulerKind::Lcm,
            SchedulerKind::DpmPp2mKarras,
        ] {
            let err = Scheduler::new(kind, &with(r#"{"thresholding": true}"#), 4, 1.0).unwrap_err();
            assert!(err.to_string().contains("thresholding"), "{kind}: {err}");
        }
        let err = Scheduler::new(
            SchedulerKind::EulerAncestral,
            &with(r#"{"prediction_type": "sample"}"#),
            4,
            1.0,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                SchedulerError::Unsupported {
                    scheduler: "euler_a",
                    ..
                }
            ),
            "{err}"
        );
        let err = Scheduler::new(
            SchedulerKind::Euler,
            &with(r#"{"interpolation_type": "log_linear"}"#),
            4,
            1.0,
        )
        .unwrap_err();
        assert!(err.to_string().contains("log_linear"), "{err}");
        let err = Scheduler::new(
            SchedulerKind::Euler,
            &with(r#"{"trained_betas": [0.1, 0.2]}"#),
            4,
            1.0,
        )
        .unwrap_err();
        assert!(matches!(err, SchedulerError::Config(_)), "{err}");

        assert!(matches!(
            SchedulerConfig::from_json("[1, 2]"),
            Err(SchedulerError::Config(_))
        ));
        assert!(matches!(
            SchedulerConfig::from_json("{"),
            Err(SchedulerError::Config(_))
        ));
        let err = SchedulerConfig::from_json(r#"{"steps_offset": "one"}"#).unwrap_err();
        assert!(
            err.to_string().contains("steps_offset") || err.to_string().contains("invalid type"),
            "{err}"
        );
    }

    #[test]
    fn config_quirks() {
        // Unknown keys are ignored, nulls mean "default", `_use_default_values` keys are dropped.
        let cfg = SchedulerConfig::from_json(
            r#"{"steps_offset": 1, "timestep_spacing": "trailing", "sigma_min": null, "whatever": 3,
                "_use_default_values": ["timestep_spacing"]}"#,
        )
        .unwrap();
        assert_eq!(cfg.steps_offset, Some(1));
        assert_eq!(cfg.timestep_spacing, None);
        assert_eq!(cfg.sigma_min, None);
        // SD 1.5 ("leading" + steps_offset 1) with euler: 999 is never reached, 1 is the last timestep.
        let mut cfg = sd15();
        cfg.timestep_spacing = Some("leading".into());
        let s = Scheduler::new(SchedulerKind::Euler, &cfg, 4, 1.0).unwrap();
        assert_eq!(s.timesteps(), &[751.0, 501.0, 251.0, 1.0]);
        // LCM ignores spacing / steps_offset and picks from its 50-step distillation schedule.
        let s = Scheduler::new(SchedulerKind::Lcm, &cfg, 4, 1.0).unwrap();
        assert_eq!(s.timesteps(), &[999.0, 759.0, 499.0, 259.0]);
        // img2img keeps the tail of the schedule.
        let s = Scheduler::new(SchedulerKind::Lcm, &cfg, 4, 0.5).unwrap();
        assert_eq!(s.timesteps(), &[499.0, 259.0]);
        assert_eq!(s.len(), 2);
        assert!(!s.is_empty());
    }

    #[test]
    fn step_misuse_is_reported() {
        let mut s = Scheduler::new(SchedulerKind::DpmPp2mKarras, &sd15(), 3, 1.0).unwrap();
        let mut x = vec![0.5f32; 8];
        let m = vec![0.1f32; 8];
        let mut no_noise = |_: &mut [f32]| panic!("dpm++ 2m must not draw noise");
        let err = s.step(1, &m, &mut x, &mut no_noise).unwrap_err();
        assert!(
            matches!(
                err,
                SchedulerError::StepOrder {
                    expected: 0,
                    got: 1,
                    len: 3
                }
            ),
            "{err}"
        );
        let err = s.step(0, &m[..4], &mut x, &mut no_noise).unwrap_err();
        assert!(
            matches!(
                err,
                SchedulerError::Length {
                    what: "model_output",
                    expected: 8,
                    got: 4
                }
            ),
            "{err}"
        );
        for i in 0..3 {
            s.step(i, &m, &mut x, &mut no_noise).unwrap();
        }
        assert!(s.step(3, &m, &mut x, &mut no_noise).is_err());
        let mut out = vec![0.0f32; 8];
        assert!(s.scale_model_input(3, &x, &mut out).is_err());
        assert!(s.add_noise(&x, &x[..2], &mut out).is_err());
    }
}
