//! The library domain: every user's private assets (uploads now, generations later)
//! on top of the content-addressed store, their files' serving, and the collection of
//! files nothing refers to any more.

pub mod api;
pub mod download;
pub mod maintenance;
pub mod serve;
pub mod store;

use axum::extract::DefaultBodyLimit;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::platform::personal_data::{Erase, PersonalTable};

pub fn routes() -> OpenApiRouter<AppState> {
    // Uploads stream to disk with their own size limit.
    let uploads = OpenApiRouter::new()
        .routes(routes!(api::upload, api::list))
        .layer(DefaultBodyLimit::disable());
    OpenApiRouter::new()
        .merge(uploads)
        .routes(routes!(api::get, api::patch, api::delete))
        .routes(routes!(api::delete_many))
        .routes(routes!(download::download))
        .routes(routes!(api::storage))
        .routes(routes!(api::set_quota))
}

pub const PERSONAL_DATA: &[PersonalTable] = &[
    PersonalTable {
        section: "assets",
        key: "assets",
        table: "assets",
        user_column: "user_id",
        export_columns: &[
            "id",
            "kind",
            "source",
            "title",
            "filename",
            "format",
            "mime",
            "blob_hash",
            "size",
            "width",
            "height",
            "triangles",
            "tags:json",
            "params:json",
            "visibility",
            "purpose",
            "mesh_facts:json",
            "created_at",
        ],
        erase: Erase::Delete,
    },
    PersonalTable {
        section: "assets",
        key: "storage_quota",
        table: "storage_quotas",
        user_column: "user_id",
        export_columns: &["quota_bytes"],
        erase: Erase::Delete,
    },
];
