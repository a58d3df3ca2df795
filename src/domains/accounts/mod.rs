//! The accounts domain: the signed-in user's profile, sessions and personal access
//! tokens (`/api/v1/me...`). It works through the auth domain's store functions.

pub mod profile;
pub mod sessions;
pub mod tokens;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(profile::get_me, profile::patch_me))
        .routes(routes!(profile::change_password))
        .routes(routes!(profile::change_email))
        .routes(routes!(sessions::list))
        .routes(routes!(sessions::revoke))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
}
