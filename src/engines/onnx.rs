//! ONNX Runtime: finding its shared library, loading it once per process, choosing the
//! execution provider and opening sessions.
//!
//! The library is loaded at run time (`ort`'s `load-dynamic`), so the binary starts and
//! serves without it; generation then reports itself unavailable with the exact fix.
//! Search order: an explicit path (config `generation.onnxruntime_library` or
//! `ORT_DYLIB_PATH`), beside the binary (and `../lib/stratamake/` for the Debian
//! package), `<data dir>/lib/`, then the `onnxruntime` Python wheel if one is installed.
//!
//! A provider the admin asked for (CUDA, TensorRT) that cannot be registered is an error,
//! never a silent fall back to the CPU; `auto` picks CUDA when ONNX Runtime has it and
//! says which it chose.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::ep::{self, ExecutionProvider};
use ort::session::Session;
use ort::value::{DynValue, Tensor, TensorElementType};
use serde::{Deserialize, Serialize};

/// File names the library has on Linux, newest naming first.
const LIBRARY_NAMES: [&str; 2] = ["libonnxruntime.so", "libonnxruntime.so.1"];

/// The command that installs the library beside the binaries of a source checkout.
pub const INSTALL_HINT: &str = "run `scripts/setup.sh run` (it unpacks ONNX Runtime 1.31 from the onnxruntime wheel beside the binary), \
     or `pip install onnxruntime==1.31.1`, or set ORT_DYLIB_PATH to a libonnxruntime.so of version 1.31 or newer";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProviderChoice {
    /// CUDA when ONNX Runtime offers it, else the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
    TensorRt,
}

/// What the runtime was asked for and where to look.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    pub explicit_library: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub provider: ProviderChoice,
    /// Threads inside one operator; 0 lets ONNX Runtime choose (one per core).
    pub intra_threads: usize,
    /// Threads across operators; 0 lets ONNX Runtime choose.
    pub inter_threads: usize,
}

/// Why the runtime cannot be used, and what fixes it.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{reason}; fix: {fix}")]
pub struct Unavailable {
    pub reason: String,
    pub fix: String,
    pub searched: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    #[error("execution provider {provider} could not be used: {detail}")]
    Provider {
        provider: &'static str,
        detail: String,
    },
}

/// The loaded runtime: which library, which version, which provider sessions use.
#[derive(Debug)]
pub struct Runtime {
    pub library: PathBuf,
    pub version: String,
    pub provider: &'static str,
    options: RuntimeOptions,
    environment: ort::environment::Environment,
}

/// Where the library may be, in search order.
pub fn candidate_paths(options: &RuntimeOptions) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(path) = &options.explicit_library {
        paths.push(path.clone());
        return paths;
    }
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        paths.push(PathBuf::from(path));
        return paths;
    }
    let mut folders = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        folders.push(dir.join("../lib/stratamake"));
        folders.push(dir);
    }
    folders.push(options.data_dir.join("lib"));
    if let Some(dir) = python_wheel_dir() {
        folders.push(dir);
    }
    for folder in folders {
        for name in LIBRARY_NAMES {
            paths.push(folder.join(name));
        }
        // Wheels ship only the fully versioned name.
        if let Ok(entries) = std::fs::read_dir(&folder) {
            let mut versioned: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("libonnxruntime.so.1."))
                })
                .collect();
            versioned.sort();
            paths.extend(versioned.into_iter().rev());
        }
    }
    paths
}

/// `capi/` of the installed `onnxruntime` wheel, asked of Python (at most once).
fn python_wheel_dir() -> Option<PathBuf> {
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import importlib.util, os; s = importlib.util.find_spec('onnxruntime'); \
             print(os.path.join(os.path.dirname(s.origin), 'capi') if s else '')",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let dir = text.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

static RUNTIME: OnceLock<Result<Runtime, Unavailable>> = OnceLock::new();

/// Loads the runtime on first use; later calls return the same outcome (the library
/// cannot be unloaded or swapped within a process).
pub fn runtime(options: &RuntimeOptions) -> Result<&'static Runtime, Unavailable> {
    RUNTIME
        .get_or_init(|| load(options))
        .as_ref()
        .map_err(Clone::clone)
}

fn load(options: &RuntimeOptions) -> Result<Runtime, Unavailable> {
    let searched = candidate_paths(options);
    let Some(library) = searched.iter().find(|p| p.is_file()).cloned() else {
        return Err(Unavailable {
            reason: "the ONNX Runtime library (libonnxruntime.so) was not found".into(),
            fix: INSTALL_HINT.into(),
            searched,
        });
    };
    let builder = ort::init_from(&library).map_err(|e| Unavailable {
        reason: format!("ONNX Runtime at {} cannot be used: {e}", library.display()),
        fix: INSTALL_HINT.into(),
        searched: searched.clone(),
    })?;
    let environment = builder
        .with_name("stratamake")
        .with_telemetry(false)
        .build()
        .map_err(|e| Unavailable {
            reason: format!("ONNX Runtime did not start: {e}"),
            fix: INSTALL_HINT.into(),
            searched: searched.clone(),
        })?;
    // Wheels and release archives name the file with its version (after symlinks).
    let version = std::fs::canonicalize(&library)
        .ok()
        .and_then(|real| {
            real.file_name()?
                .to_str()?
                .strip_prefix("libonnxruntime.so.")
                .map(str::to_string)
        })
        .unwrap_or_else(|| "of unknown version".into());
    let provider = match options.provider {
        ProviderChoice::Cpu => "cpu",
        ProviderChoice::Cuda => "cuda",
        ProviderChoice::TensorRt => "tensorrt",
        ProviderChoice::Auto => {
            if ep::CUDA::is_available().unwrap_or(false) {
                "cuda"
            } else {
                "cpu"
            }
        }
    };
    tracing::info!(library = %library.display(), %version, provider, "ONNX Runtime loaded");
    Ok(Runtime {
        library,
        version,
        provider,
        options: options.clone(),
        environment,
    })
}

impl Runtime {
    /// Opens a model file on the chosen provider. Weights kept in external files next
    /// to the model are found by ONNX Runtime relative to it.
    pub fn session(&self, model: &Path) -> Result<Session, OnnxError> {
        let runtime = |e: ort::Error<ort::session::builder::SessionBuilder>| {
            OnnxError::Runtime(e.to_string())
        };
        let mut builder = Session::builder(&self.environment)
            .map_err(|e| OnnxError::Runtime(e.to_string()))?
            .with_no_environment_execution_providers()
            .map_err(runtime)?;
        if self.options.intra_threads > 0 {
            builder = builder
                .with_intra_threads(self.options.intra_threads)
                .map_err(runtime)?;
        }
        if self.options.inter_threads > 0 {
            builder = builder
                .with_inter_threads(self.options.inter_threads)
                .map_err(runtime)?;
        }
        let providers = match self.provider {
            "cuda" => vec![ep::CUDA::default().build().error_on_failure()],
            "tensorrt" => vec![
                ep::TensorRT::default().build().error_on_failure(),
                ep::CUDA::default().build().error_on_failure(),
            ],
            _ => Vec::new(),
        };
        if !providers.is_empty() {
            builder =
                builder
                    .with_execution_providers(providers)
                    .map_err(|e| OnnxError::Provider {
                        provider: self.provider,
                        detail: e.to_string(),
                    })?;
        }
        builder
            .commit_from_file(model)
            .map_err(|e| OnnxError::Runtime(format!("{}: {e}", model.display())))
    }

    /// A check of the configured provider for `stratamake doctor`: a provider asked
    /// for by name must be offered by the loaded library.
    pub fn provider_problem(&self) -> Option<String> {
        let available = match self.provider {
            "cuda" => ep::CUDA::is_available(),
            "tensorrt" => ep::TensorRT::is_available(),
            _ => return None,
        };
        match available {
            Ok(true) => None,
            Ok(false) => Some(format!(
                "execution provider {} was requested but this ONNX Runtime ({}) does not include it; \
                 install the GPU build (pip package onnxruntime-gpu) or set generation.execution_provider = \"cpu\"",
                self.provider,
                self.library.display()
            )),
            Err(e) => Some(format!(
                "cannot query execution provider {}: {e}",
                self.provider
            )),
        }
    }
}

fn runtime_error(e: impl std::fmt::Display) -> OnnxError {
    OnnxError::Runtime(e.to_string())
}

/// A float tensor in the element type (f32 or f16) a graph wants.
pub fn float_tensor(
    shape: Vec<i64>,
    values: Vec<f32>,
    ty: TensorElementType,
) -> Result<DynValue, OnnxError> {
    match ty {
        TensorElementType::Float16 => {
            let halves: Vec<half::f16> = values.into_iter().map(half::f16::from_f32).collect();
            Ok(Tensor::from_array((shape, halves))
                .map_err(runtime_error)?
                .into_dyn())
        }
        TensorElementType::Float32 => Ok(Tensor::from_array((shape, values))
            .map_err(runtime_error)?
            .into_dyn()),
        other => Err(OnnxError::Runtime(format!(
            "expected a float input, the graph wants {other:?}"
        ))),
    }
}

/// A float output (f32 or f16) as its shape and f32 values.
pub fn to_f32(value: &ort::value::DynValueRef<'_>) -> Result<(Vec<i64>, Vec<f32>), OnnxError> {
    if let Ok((shape, data)) = value.try_extract_tensor::<f32>() {
        return Ok((shape.to_vec(), data.to_vec()));
    }
    let (shape, data) = value
        .try_extract_tensor::<half::f16>()
        .map_err(runtime_error)?;
    Ok((shape.to_vec(), data.iter().map(|h| h.to_f32()).collect()))
}
