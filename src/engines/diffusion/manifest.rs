//! `model.toml`: what a model folder holds and how to use it — family, files with their
//! SHA-256, defaults (size, steps, guidance, scheduler) and credit cost for image models,
//! input size and normalisation for image-to-map models (depth, background removal) —
//! and the check of a folder against it.

use std::io::Read;
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Files every Stable-Diffusion-family folder must have.
pub const REQUIRED_FILES: [&str; 6] = [
    "text_encoder/model.onnx",
    "unet/model.onnx",
    "vae_decoder/model.onnx",
    "tokenizer/vocab.json",
    "tokenizer/merges.txt",
    "scheduler/scheduler_config.json",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Family {
    /// Monocular depth (Depth Anything V2 class): one image in, relative depth out.
    #[serde(rename = "depth")]
    Depth,
    /// Background removal (RMBG / U²-Net class): one image in, the subject's mask out.
    #[serde(rename = "background-removal")]
    BackgroundRemoval,
    #[serde(rename = "sd1")]
    Sd1,
    #[serde(rename = "sd2")]
    Sd2,
    #[serde(rename = "sd-turbo")]
    SdTurbo,
    #[serde(rename = "sdxl")]
    Sdxl,
    #[serde(rename = "sdxl-turbo")]
    SdxlTurbo,
}

impl Family {
    /// SDXL needs a second text encoder and time ids, which this pipeline does not run yet.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            Family::Sd1 | Family::Sd2 | Family::SdTurbo | Family::Depth | Family::BackgroundRemoval
        )
    }

    /// A Stable-Diffusion-family model that makes images from prompts.
    pub fn makes_images(self) -> bool {
        !matches!(self, Family::Depth | Family::BackgroundRemoval)
    }

    /// Files a folder of this family must have.
    pub fn required_files(self) -> &'static [&'static str] {
        if self.makes_images() {
            &REQUIRED_FILES
        } else {
            &["model.onnx"]
        }
    }
}

/// How an image-to-map model wants its input: a square of `input_size` pixels, each
/// channel `(value - mean) / std` with values in 0..1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisionInput {
    pub input_size: u32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub width: u32,
    pub height: u32,
    pub steps: u32,
    pub guidance_scale: f32,
    pub scheduler: String,
    pub credit_cost: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub family: Family,
    /// A model made for tests (random weights): never offered as a real one.
    #[serde(default)]
    pub test_only: bool,
    pub license: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "epsilon")]
    pub prediction_type: String,
    #[serde(default = "sd_scaling")]
    pub vae_scaling_factor: f32,
    /// Image models only (a depth or background model has none: it costs nothing extra).
    #[serde(default)]
    pub defaults: Defaults,
    /// Image-to-map models only.
    #[serde(default)]
    pub vision: Option<VisionInput>,
    pub files: Vec<FileEntry>,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            width: 512,
            height: 512,
            steps: 20,
            guidance_scale: 7.5,
            scheduler: "euler".into(),
            credit_cost: 0,
        }
    }
}

fn epsilon() -> String {
    "epsilon".into()
}

fn sd_scaling() -> f32 {
    0.18215
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{0} has no model.toml")]
    Missing(String),
    #[error("model.toml: {0}")]
    Invalid(String),
    #[error("{path}: {problem}")]
    File { path: String, problem: String },
    #[error("reading {0}: {1}")]
    Io(String, std::io::Error),
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| ManifestError::Invalid(e.message().to_string()))?;
        manifest.check()?;
        Ok(manifest)
    }

    pub fn read(dir: &Path) -> Result<Self, ManifestError> {
        let path = dir.join("model.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|_| ManifestError::Missing(dir.display().to_string()))?;
        Self::parse(&text)
    }

    fn check(&self) -> Result<(), ManifestError> {
        let invalid = |m: String| Err(ManifestError::Invalid(m));
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !id_ok {
            return invalid(format!(
                "id {:?} must be 1-64 characters of a-z, 0-9, '-' and '.'",
                self.id
            ));
        }
        for file in &self.files {
            let safe = Path::new(&file.path)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
            if !safe || file.path.is_empty() {
                return invalid(format!(
                    "file path {:?} must stay inside the folder",
                    file.path
                ));
            }
            if file.sha256.len() != 64 || !file.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return invalid(format!("{}: sha256 must be 64 hex digits", file.path));
            }
        }
        for required in self.family.required_files() {
            if !self.files.iter().any(|f| f.path == *required) {
                return invalid(format!("the files list lacks {required}"));
            }
        }
        if !self.family.makes_images() {
            let Some(vision) = &self.vision else {
                return invalid(
                    "a depth or background-removal model needs a [vision] table".into(),
                );
            };
            let positive_std = vision.std.iter().all(|s| s.is_finite() && *s > 0.0);
            if !(16..=2048).contains(&vision.input_size) || !positive_std {
                return invalid(
                    "[vision] needs an input_size of 16 to 2048 and std values above 0".into(),
                );
            }
            return Ok(());
        }
        let d = &self.defaults;
        if !d.width.is_multiple_of(8)
            || !d.height.is_multiple_of(8)
            || d.width == 0
            || d.height == 0
        {
            return invalid("default width and height must be positive multiples of 8".into());
        }
        if d.steps == 0 || d.credit_cost < 0 {
            return invalid("default steps must be at least 1 and credit_cost not negative".into());
        }
        Ok(())
    }

    /// Hashes every listed file and compares size and SHA-256; the first difference is
    /// the error. Constant memory for any size.
    pub fn verify(&self, dir: &Path) -> Result<(), ManifestError> {
        for file in &self.files {
            let path = dir.join(&file.path);
            let problem = |p: String| ManifestError::File {
                path: file.path.clone(),
                problem: p,
            };
            let mut reader = std::fs::File::open(&path).map_err(|_| problem("missing".into()))?;
            let mut hasher = Sha256::new();
            let mut buffer = vec![0u8; 1 << 20];
            let mut size = 0u64;
            loop {
                let n = reader
                    .read(&mut buffer)
                    .map_err(|e| ManifestError::Io(file.path.clone(), e))?;
                if n == 0 {
                    break;
                }
                size += n as u64;
                hasher.update(&buffer[..n]);
            }
            if size != file.size {
                return Err(problem(format!("size {size}, manifest says {}", file.size)));
            }
            let actual = hex::encode(hasher.finalize());
            if !actual.eq_ignore_ascii_case(&file.sha256) {
                return Err(problem(format!(
                    "SHA-256 {actual}, manifest says {}",
                    file.sha256
                )));
            }
        }
        Ok(())
    }

    /// A short hash that names the weights in PNG parameters ("Model hash"): the first
    /// 10 hex digits of the UNet's SHA-256.
    pub fn short_hash(&self) -> String {
        self.files
            .iter()
            .find(|f| f.path == "unet/model.onnx")
            .map(|f| f.sha256[..10].to_ascii_lowercase())
            .unwrap_or_default()
    }
}
