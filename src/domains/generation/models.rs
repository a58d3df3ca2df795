//! The model registry: folders under `data/models/<id>/`, each described by its
//! `model.toml`, and their rows in `models` (enabled, default, credit cost, last check).
//!
//! An import copies a folder into a temporary sibling, verifies every file's SHA-256
//! against the manifest there, and only then renames it into place and records it, so a
//! half-copied or damaged model is never offered.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::engines::diffusion::manifest::{Defaults, Family, Manifest, ManifestError};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Model {
    pub id: String,
    pub name: String,
    pub family: String,
    pub license: String,
    pub description: String,
    pub enabled: bool,
    pub is_default: bool,
    pub credit_cost: i64,
    /// Made for tests (random weights): never offered to users.
    pub test_only: bool,
    /// Whether this build can run the model's family.
    pub supported: bool,
    pub verified_at: Option<i64>,
    pub verify_error: Option<String>,
    #[schema(value_type = Object)]
    pub defaults: Defaults,
    /// Schedulers users may pick.
    pub schedulers: Vec<&'static str>,
    #[serde(skip)]
    pub manifest: Manifest,
}

pub const SCHEDULERS: [&str; 5] = ["euler", "euler_a", "ddim", "lcm", "dpmpp_2m_karras"];

const COLUMNS: &str = "id, manifest, enabled, is_default, credit_cost, verified_at, verify_error";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Model>> {
    let text: String = row.get(1)?;
    // A manifest that no longer parses (e.g. after a downgrade) hides the model.
    let Ok(manifest) = Manifest::parse(&text) else {
        return Ok(None);
    };
    Ok(Some(Model {
        id: row.get(0)?,
        name: manifest.name.clone(),
        family: serde_json::to_value(manifest.family)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        license: manifest.license.clone(),
        description: manifest.description.clone(),
        enabled: row.get(2)?,
        is_default: row.get(3)?,
        credit_cost: row.get(4)?,
        test_only: manifest.test_only,
        supported: manifest.family.is_supported(),
        verified_at: row.get(5)?,
        verify_error: row.get(6)?,
        defaults: manifest.defaults.clone(),
        schedulers: SCHEDULERS.to_vec(),
        manifest,
    }))
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<Model>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM models ORDER BY is_default DESC, name"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect())
}

pub fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<Model>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM models WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?
        .flatten())
}

/// Image models users may generate with: enabled, supported, verified, and — unless the
/// instance runs its tests — not test-only.
pub fn usable(conn: &Connection, allow_test_models: bool) -> rusqlite::Result<Vec<Model>> {
    Ok(image_models(&list(conn)?, allow_test_models))
}

/// [`usable`] among `models` (all installed ones, as [`list`] gives them).
pub fn image_models(models: &[Model], allow_test_models: bool) -> Vec<Model> {
    models
        .iter()
        .filter(|m| m.manifest.family.makes_images() && ready(m, allow_test_models))
        .cloned()
        .collect()
}

/// Enabled, supported, verified, and not test-only unless the instance runs its tests.
fn ready(m: &Model, allow_test_models: bool) -> bool {
    m.enabled && m.supported && m.verify_error.is_none() && (allow_test_models || !m.test_only)
}

/// The ready model of an image-to-map family (depth, background removal) among
/// `models`, if one is installed: the default of that family (each has its own), else the
/// first.
pub fn of_family(models: &[Model], family: Family, allow_test_models: bool) -> Option<Model> {
    let candidates: Vec<Model> = models
        .iter()
        .filter(|m| m.manifest.family == family && ready(m, allow_test_models))
        .cloned()
        .collect();
    pick(&candidates, None)
}

/// The model a request without one uses: the admin's default if usable, else the first.
pub fn pick(models: &[Model], wanted: Option<&str>) -> Option<Model> {
    match wanted {
        Some(id) => models.iter().find(|m| m.id == id).cloned(),
        None => models
            .iter()
            .find(|m| m.is_default)
            .or(models.first())
            .cloned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("a model with id {0:?} is installed already; remove it first")]
    Exists(String),
    #[error("copying the model failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("downloading the model failed: {0}")]
    Download(String),
}

fn copy_tree(from: &Path, to: &Path, manifest: &Manifest) -> std::io::Result<()> {
    for file in &manifest.files {
        let target = to.join(&file.path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(from.join(&file.path), &target)?;
        std::fs::File::open(&target)?.sync_all()?;
    }
    std::fs::copy(from.join("model.toml"), to.join("model.toml"))?;
    Ok(())
}

/// Copies and verifies a model folder into `models_dir/<id>` (blocking). The caller
/// records the row with [`record_import`].
pub fn install_folder(
    source: &Path,
    models_dir: &Path,
) -> Result<(Manifest, PathBuf), ImportError> {
    let manifest = Manifest::read(source)?;
    install_with(models_dir, manifest, |staging, manifest| {
        copy_tree(source, staging, manifest).map_err(ImportError::from)
    })
}

/// Fills a staging folder with `fill`, verifies it against the manifest, then moves it
/// to `models_dir/<id>`; on any failure nothing is left behind.
pub fn install_with(
    models_dir: &Path,
    manifest: Manifest,
    fill: impl FnOnce(&Path, &Manifest) -> Result<(), ImportError>,
) -> Result<(Manifest, PathBuf), ImportError> {
    let target = models_dir.join(&manifest.id);
    if target.exists() {
        return Err(ImportError::Exists(manifest.id));
    }
    std::fs::create_dir_all(models_dir)?;
    let staging = models_dir.join(format!(".{}.partial", manifest.id));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    let filled = fill(&staging, &manifest)
        .and_then(|()| manifest.verify(&staging).map_err(ImportError::from));
    if let Err(e) = filled {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    std::fs::rename(&staging, &target)?;
    std::fs::File::open(models_dir)?.sync_all()?;
    Ok((manifest, target))
}

/// Removes leftovers of interrupted imports (at start).
pub fn clean_partial_imports(models_dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(models_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') && (name.ends_with(".partial") || name.ends_with(".download"))
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Which default a model can be: image models share one, each image-to-map family has
/// its own (SQL over the `family` column).
const DEFAULT_GROUP: &str =
    "CASE WHEN family IN ('depth', 'background-removal') THEN family ELSE 'image' END";

pub fn record_import(tx: &Transaction<'_>, manifest: &Manifest, now: i64) -> rusqlite::Result<()> {
    let text = toml::to_string(manifest).unwrap_or_default();
    let family = serde_json::to_value(manifest.family)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string));
    let first: bool = tx.query_row(
        &format!(
            "SELECT NOT EXISTS (SELECT 1 FROM models WHERE is_default = 1 AND {DEFAULT_GROUP} = \
             (SELECT {DEFAULT_GROUP} FROM (SELECT ?1 AS family)))"
        ),
        [&family],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO models (id, name, family, manifest, enabled, is_default, credit_cost, test_only, verified_at, imported_at)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?8, ?8)",
        params![
            manifest.id,
            manifest.name,
            family,
            text,
            first && !manifest.test_only,
            manifest.defaults.credit_cost,
            manifest.test_only,
            now
        ],
    )?;
    Ok(())
}

pub fn record_verification(
    tx: &Transaction<'_>,
    id: &str,
    outcome: &Result<(), ManifestError>,
    now: i64,
) -> rusqlite::Result<()> {
    let error = outcome.as_ref().err().map(ToString::to_string);
    tx.execute(
        "UPDATE models SET verified_at = ?2, verify_error = ?3 WHERE id = ?1",
        params![id, now, error],
    )?;
    Ok(())
}

/// What an admin may change about an installed model.
#[derive(Debug, Default)]
pub struct ModelChange {
    pub enabled: Option<bool>,
    pub is_default: Option<bool>,
    pub credit_cost: Option<i64>,
}

pub fn update(tx: &Transaction<'_>, id: &str, change: &ModelChange) -> rusqlite::Result<bool> {
    if get(tx, id)?.is_none() {
        return Ok(false);
    }
    if let Some(enabled) = change.enabled {
        tx.execute(
            "UPDATE models SET enabled = ?2 WHERE id = ?1",
            params![id, enabled],
        )?;
    }
    if let Some(cost) = change.credit_cost {
        tx.execute(
            "UPDATE models SET credit_cost = ?2 WHERE id = ?1",
            params![id, cost],
        )?;
    }
    match change.is_default {
        Some(true) => {
            tx.execute(
                &format!(
                    "UPDATE models SET is_default = 0 WHERE is_default = 1 AND {DEFAULT_GROUP} = \
                     (SELECT {DEFAULT_GROUP} FROM models WHERE id = ?1)"
                ),
                [id],
            )?;
            tx.execute("UPDATE models SET is_default = 1 WHERE id = ?1", [id])?;
        }
        Some(false) => {
            tx.execute("UPDATE models SET is_default = 0 WHERE id = ?1", [id])?;
        }
        None => {}
    }
    Ok(true)
}

pub fn delete(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<bool> {
    Ok(tx.execute("DELETE FROM models WHERE id = ?1", [id])? > 0)
}
