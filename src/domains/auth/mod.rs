//! The auth domain: identities and credentials. It owns the users, sessions,
//! refresh/email/personal tokens, OIDC identities and security-log tables, and the
//! extractors that tell handlers who is asking.

pub mod api;
pub mod cookies;
pub mod emails;
pub mod extract;
pub mod housekeeping;
pub mod jwt;
pub mod oidc;
pub mod password;
pub mod pow;
pub mod store;
pub mod validate;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::platform::personal_data::{Erase, PersonalTable};

pub fn routes() -> OpenApiRouter<AppState> {
    use api::{login, oidc, recovery, setup, signup};
    OpenApiRouter::new()
        .routes(routes!(signup::challenge))
        .routes(routes!(signup::signup))
        .routes(routes!(login::login))
        .routes(routes!(login::refresh))
        .routes(routes!(login::logout))
        .routes(routes!(recovery::verify_email))
        .routes(routes!(recovery::resend_verification))
        .routes(routes!(recovery::forgot_password))
        .routes(routes!(recovery::reset_password))
        .routes(routes!(setup::status))
        .routes(routes!(setup::setup))
        .routes(routes!(oidc::start))
        .routes(routes!(oidc::callback))
        .routes(routes!(oidc::pending))
        .routes(routes!(oidc::complete))
        .routes(routes!(oidc::link))
}

/// The auth domain's personal data. Secrets (password and token hashes) are never
/// exported.
pub const PERSONAL_DATA: &[PersonalTable] = &[
    PersonalTable {
        section: "account",
        key: "account",
        table: "users",
        user_column: "id",
        export_columns: &[
            "id",
            "username",
            "email",
            "email_verified_at",
            "display_name",
            "bio",
            "links:json",
            "role",
            "disabled_at",
            "age_confirmed_at",
            "terms_version",
            "privacy_version",
            "terms_accepted_at",
            "created_at",
            "last_login_at",
        ],
        erase: Erase::Delete,
    },
    PersonalTable {
        section: "security",
        key: "sessions",
        table: "sessions",
        user_column: "user_id",
        export_columns: &[
            "id",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "revoked_why",
            "user_agent",
            "ip",
        ],
        erase: Erase::Delete,
    },
    PersonalTable {
        section: "security",
        key: "email_tokens",
        table: "email_tokens",
        user_column: "user_id",
        export_columns: &[
            "purpose",
            "new_email",
            "created_at",
            "expires_at",
            "used_at",
        ],
        erase: Erase::Delete,
    },
    PersonalTable {
        section: "security",
        key: "access_tokens",
        table: "access_tokens",
        user_column: "user_id",
        export_columns: &[
            "id",
            "name",
            "prefix",
            "scopes",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
        ],
        erase: Erase::Delete,
    },
    PersonalTable {
        section: "security",
        key: "sign_in_providers",
        table: "oidc_identities",
        user_column: "user_id",
        export_columns: &["provider", "subject", "email", "created_at"],
        erase: Erase::Delete,
    },
    PersonalTable {
        section: "security",
        key: "security_log",
        table: "security_events",
        user_column: "user_id",
        export_columns: &["kind", "ip", "user_agent", "created_at"],
        erase: Erase::Delete,
    },
];
