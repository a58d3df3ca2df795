//! The accounts domain: the signed-in user's profile, sessions and personal access
//! tokens, notification choices (`/api/v1/me...`) and one-click unsubscribe. It works through the auth domain's store functions.

pub mod notifications;
pub mod profile;
pub mod sessions;
pub mod tokens;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::platform::personal_data::{Erase, PersonalTable};

pub const PERSONAL_DATA: &[PersonalTable] = &[PersonalTable {
    section: "account",
    key: "notification_settings",
    table: "notification_settings",
    user_column: "user_id",
    export_columns: &[
        "generation_done",
        "community",
        "digest_sent_at",
        "updated_at",
    ],
    erase: Erase::Delete,
}];

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(profile::get_me, profile::patch_me))
        .routes(routes!(profile::change_password))
        .routes(routes!(profile::change_email))
        .routes(routes!(sessions::list))
        .routes(routes!(sessions::revoke))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(notifications::get, notifications::put))
        .routes(routes!(notifications::unsubscribe))
}
