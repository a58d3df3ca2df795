//! The generation domain: installed models, image and 3D model requests as jobs on the
//! queue, their progress and results (library assets), quick 3D previews, and the
//! admin's model management. The pipelines live in `engines::diffusion` and
//! `engines::mesh`.

pub mod admin;
pub mod api;
pub mod cli;
pub mod mesh_params;
pub mod mesh_preview;
pub mod meshing;
pub mod models;
pub mod openai;
pub mod params;
pub mod pull;
pub mod runner;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use std::sync::Arc;

use crate::app::AppState;
use crate::platform::db::DbError;
use crate::platform::personal_data::{Erase, PersonalTable};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::list_models))
        .routes(routes!(api::create, api::list))
        .routes(routes!(api::get, api::cancel))
        .routes(routes!(api::events))
        .routes(routes!(api::preview))
        .routes(routes!(mesh_preview::preview))
        .routes(routes!(api::admin_queue))
        .routes(routes!(admin::list, admin::create))
        .routes(routes!(admin::patch, admin::remove))
        .routes(routes!(admin::verify_one))
        .routes(routes!(admin::cancel_any))
        .routes(routes!(openai::images))
}

/// Puts jobs interrupted by the last stop back in the queue, loads ONNX Runtime (in the
/// background: the server serves without it) and starts the workers.
pub async fn start_workers(state: &AppState) -> anyhow::Result<()> {
    let requeued = state
        .db
        .write(|tx| Ok::<_, DbError>(crate::platform::jobs::requeue_running(tx)?))
        .await?;
    if requeued > 0 {
        tracing::info!(
            requeued,
            "jobs interrupted by the last stop are queued again"
        );
    }
    let engine = state.generation.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = engine.runtime() {
            tracing::warn!(reason = %e.reason, fix = %e.fix, "image generation is unavailable");
        }
    });
    let handler = Arc::new(runner::Generator {
        state: state.clone(),
    });
    crate::platform::jobs::spawn_workers(
        state.config.generation.workers,
        state.db.clone(),
        state.clock,
        state.jobs.clone(),
        handler,
    );
    Ok(())
}

pub const PERSONAL_DATA: &[PersonalTable] = &[PersonalTable {
    section: "generations",
    key: "jobs",
    table: "jobs",
    user_column: "user_id",
    export_columns: &[
        "id",
        "kind",
        "status",
        "params:json",
        "cost",
        "result:json",
        "error",
        "created_at",
        "started_at",
        "finished_at",
    ],
    erase: Erase::Delete,
}];
