//! `stratamake models pull`: fetching a model over HTTP on machines that have internet.
//!
//! Either a URL of a folder that serves `model.toml` and the files it lists (pinned by
//! the SHA-256 in that manifest), or the name of an entry in the short built-in
//! catalogue of known ONNX exports. A catalogue entry pins files where it knows their
//! hashes; for the others the hash is taken from the download and written into the
//! installed `model.toml` (and the command says so). Files stream to disk while being
//! hashed, into a staging folder that only becomes the model once everything checks.

use std::path::Path;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::models::{self, ImportError};
use crate::engines::diffusion::manifest::{Defaults, Family, FileEntry, Manifest};

/// A known ONNX export: where it is and what it holds.
pub struct CatalogueEntry {
    pub name: &'static str,
    pub description: &'static str,
    pub base_url: &'static str,
    pub family: Family,
    pub license: &'static str,
    pub defaults: (u32, u32, u32, f32, &'static str),
    /// Paths, with their SHA-256 where the catalogue pins it.
    pub files: &'static [(&'static str, Option<&'static str>)],
}

pub const CATALOGUE: &[CatalogueEntry] = &[CatalogueEntry {
    name: "sd-turbo",
    description: "SD-Turbo (distilled Stable Diffusion 2.1), ONNX export by the ONNX Runtime team: \
                  good images in 1 to 4 steps at 512x512",
    base_url: "https://huggingface.co/onnxruntime/sd-turbo/resolve/main/",
    family: Family::SdTurbo,
    license: "Stability AI Non-Commercial Research Community License",
    defaults: (512, 512, 1, 0.0, "euler"),
    files: &[
        ("model_index.json", None),
        ("scheduler/scheduler_config.json", None),
        ("text_encoder/model.onnx", None),
        ("tokenizer/merges.txt", None),
        ("tokenizer/special_tokens_map.json", None),
        ("tokenizer/tokenizer_config.json", None),
        ("tokenizer/vocab.json", None),
        ("unet/model.onnx", None),
        ("vae_decoder/model.onnx", None),
    ],
}];

/// Downloads one file into `target`, hashing as it goes; returns (size, sha256).
async fn download(
    client: &reqwest::Client,
    url: &str,
    target: &Path,
) -> Result<(u64, String), ImportError> {
    let failed = |e: String| ImportError::Download(format!("{url}: {e}"));
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("HTTP {}", response.status())));
    }
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let mut file = tokio::fs::File::create(target).await?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| failed(e.to_string()))?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk).await?;
    }
    file.sync_all().await?;
    Ok((size, hex::encode(hasher.finalize())))
}

fn join(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path)
}

/// What a pull fetched and installed.
pub struct Pulled {
    pub manifest: Manifest,
    /// Files whose hash nobody pinned in advance.
    pub unpinned: Vec<String>,
}

/// Fetches a model (a catalogue name or a folder URL) into `models_dir`.
pub async fn pull(what: &str, models_dir: &Path) -> Result<Pulled, ImportError> {
    let client = reqwest::Client::builder()
        .user_agent(concat!("stratamake/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ImportError::Download(e.to_string()))?;
    let from_url = what.starts_with("http://") || what.starts_with("https://");
    let (base, manifest, unpinned) = if from_url {
        let text = client
            .get(join(what, "model.toml"))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| ImportError::Download(format!("{what}model.toml: {e}")))?
            .text()
            .await
            .map_err(|e| ImportError::Download(e.to_string()))?;
        (what.to_string(), Manifest::parse(&text)?, Vec::new())
    } else {
        let entry = CATALOGUE.iter().find(|e| e.name == what).ok_or_else(|| {
            let names: Vec<&str> = CATALOGUE.iter().map(|e| e.name).collect();
            ImportError::Download(format!(
                "{what:?} is not in the catalogue ({}); give a URL of a model folder instead",
                names.join(", ")
            ))
        })?;
        catalogue_manifest(&client, entry, models_dir).await?
    };
    let staged_dir = models_dir.join(format!(".{}.download", manifest.id));
    if from_url {
        // A catalogue entry's files were fetched while building its manifest.
        let _ = tokio::fs::remove_dir_all(&staged_dir).await;
        for file in &manifest.files {
            let target = staged_dir.join(&file.path);
            if let Err(e) = download(&client, &join(&base, &file.path), &target).await {
                let _ = tokio::fs::remove_dir_all(&staged_dir).await;
                return Err(e);
            }
        }
    }
    let source = staged_dir.clone();
    let folder = models_dir.to_path_buf();
    let installed = tokio::task::spawn_blocking(move || {
        models::install_with(&folder, manifest, |staging, manifest| {
            std::fs::remove_dir_all(staging)?;
            std::fs::rename(&source, staging)?;
            std::fs::write(
                staging.join("model.toml"),
                toml::to_string(manifest).map_err(|e| ImportError::Download(e.to_string()))?,
            )?;
            Ok(())
        })
    })
    .await
    .map_err(|e| ImportError::Download(e.to_string()))?;
    let _ = tokio::fs::remove_dir_all(&staged_dir).await;
    let (manifest, _) = installed?;
    Ok(Pulled { manifest, unpinned })
}

/// Downloads a catalogue entry's files first (to learn unpinned hashes and sizes) and
/// builds its manifest; pinned files must match.
async fn catalogue_manifest(
    client: &reqwest::Client,
    entry: &CatalogueEntry,
    models_dir: &Path,
) -> Result<(String, Manifest, Vec<String>), ImportError> {
    let staged_dir = models_dir.join(format!(".{}.download", entry.name));
    let mut files = Vec::new();
    let mut unpinned = Vec::new();
    for (path, pin) in entry.files {
        let (size, sha256) =
            download(client, &join(entry.base_url, path), &staged_dir.join(path)).await?;
        match pin {
            Some(pinned) if !pinned.eq_ignore_ascii_case(&sha256) => {
                let _ = tokio::fs::remove_dir_all(&staged_dir).await;
                return Err(ImportError::Download(format!(
                    "{path}: SHA-256 {sha256}, the catalogue pins {pinned}"
                )));
            }
            Some(_) => {}
            None => unpinned.push(path.to_string()),
        }
        files.push(FileEntry {
            path: path.to_string(),
            sha256,
            size,
        });
    }
    let (width, height, steps, guidance_scale, scheduler) = entry.defaults;
    let manifest = Manifest {
        id: entry.name.to_string(),
        name: entry
            .description
            .split(',')
            .next()
            .unwrap_or(entry.name)
            .to_string(),
        family: entry.family,
        test_only: false,
        license: entry.license.to_string(),
        description: entry.description.to_string(),
        prediction_type: "epsilon".into(),
        vae_scaling_factor: 0.18215,
        vision: None,
        defaults: Defaults {
            width,
            height,
            steps,
            guidance_scale,
            scheduler: scheduler.into(),
            credit_cost: 1,
        },
        files,
    };
    Ok((entry.base_url.to_string(), manifest, unpinned))
}
