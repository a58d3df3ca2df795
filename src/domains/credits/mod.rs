//! The credits domain: an append-only ledger of each user's credits (a starting
//! balance, admin grants, and reservations that jobs settle or refund), and its API.

pub mod api;
pub mod ledger;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::platform::personal_data::{Erase, PersonalTable};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::mine))
        .routes(routes!(api::grant))
}

pub const PERSONAL_DATA: &[PersonalTable] = &[PersonalTable {
    section: "credits",
    key: "ledger",
    table: "credit_entries",
    user_column: "user_id",
    export_columns: &["amount", "kind", "job_id", "note", "created_at"],
    erase: Erase::Delete,
}];
