//! The admin domain: instance settings, invites, the audit log, and the admin API over
//! users and the mail outbox.

pub mod api;
pub mod audit;
pub mod invites;
pub mod public;
pub mod settings;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::platform::personal_data::{Erase, PersonalTable};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(public::public_config))
        .routes(routes!(api::list_users))
        .routes(routes!(api::patch_user))
        .routes(routes!(api::get_settings, api::put_settings))
        .routes(routes!(api::list_invites, api::create_invite))
        .routes(routes!(api::delete_invite))
        .routes(routes!(api::list_mail))
        .routes(routes!(api::test_mail))
        .routes(routes!(api::list_audit))
}

/// Admin tables that refer to users: links are dropped, the records stay.
pub const PERSONAL_DATA: &[PersonalTable] = &[
    PersonalTable {
        section: "admin",
        key: "audit_actions",
        table: "audit_log",
        user_column: "actor_id",
        export_columns: &["action", "target", "detail", "created_at"],
        erase: Erase::Unlink,
    },
    PersonalTable {
        section: "admin",
        key: "invites_created",
        table: "invites",
        user_column: "created_by",
        export_columns: &["id", "created_at", "expires_at", "used_at"],
        erase: Erase::Unlink,
    },
    PersonalTable {
        section: "admin",
        key: "invite_used",
        table: "invites",
        user_column: "used_by",
        export_columns: &["id", "used_at"],
        erase: Erase::Unlink,
    },
];
