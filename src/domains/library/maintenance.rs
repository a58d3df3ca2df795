//! Keeping the store and the database in agreement: garbage collection of unreferenced
//! files after their grace period, and `fsck`, which re-hashes every file.

use serde::Serialize;

use super::store;
use crate::app::AppState;
use crate::error::ApiError;

/// Deletes files unreferenced for longer than the grace period; returns their hashes.
pub async fn collect_garbage(state: &AppState) -> Result<Vec<String>, ApiError> {
    let now = state.now();
    let grace = state.config.storage.gc_grace_seconds;
    let blobs = state.blobs.clone();
    state
        .db
        .write(move |tx| Ok::<_, ApiError>(store::collect_garbage(tx, &blobs, now, grace)?))
        .await
}

#[derive(Debug, Default, Serialize)]
pub struct FsckReport {
    pub checked: usize,
    /// Files whose content no longer matches their hash (moved to quarantine).
    pub corrupt: Vec<String>,
    /// Blob rows whose file is missing.
    pub missing: Vec<String>,
    /// Assets that refer to a missing or corrupt file.
    pub broken_assets: Vec<String>,
    /// Files with no row (left by an interrupted upload; collected by the next gc).
    pub untracked: Vec<String>,
}

impl FsckReport {
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty() && self.missing.is_empty() && self.broken_assets.is_empty()
    }
}

/// Re-hashes every file, quarantines corrupt ones and reports missing ones.
pub async fn fsck(state: &AppState) -> anyhow::Result<FsckReport> {
    let rows = state.db.query(store::blob_hashes).await?;
    let store_handle = state.blobs.clone();
    let mut report = tokio::task::spawn_blocking(move || -> anyhow::Result<FsckReport> {
        let mut report = FsckReport::default();
        let on_disk = store_handle.list()?;
        for hash in &on_disk {
            report.checked += 1;
            if !store_handle.verify(hash)? {
                let moved = store_handle.quarantine_blob(hash)?;
                tracing::error!(%hash, to = %moved.display(), "corrupt blob quarantined");
                report.corrupt.push(hash.clone());
            }
            if !rows.contains(hash) {
                report.untracked.push(hash.clone());
            }
        }
        report.missing = rows
            .iter()
            .filter(|h| !on_disk.contains(h))
            .cloned()
            .collect();
        Ok(report)
    })
    .await??;
    let bad: Vec<String> = report
        .corrupt
        .iter()
        .chain(report.missing.iter())
        .cloned()
        .collect();
    report.broken_assets = state
        .db
        .query(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id FROM assets WHERE blob_hash = ?1 OR thumb_hash = ?1 OR preview_hash = ?1",
            )?;
            let mut ids = Vec::new();
            for hash in &bad {
                for id in stmt.query_map([hash], |r| r.get::<_, String>(0))? {
                    ids.push(id?);
                }
            }
            Ok(ids)
        })
        .await?;
    Ok(report)
}
