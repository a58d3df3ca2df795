//! `GET /api/v1/config/public`: what the sign-in and signup pages need to know.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::settings::{self, SignupMode};
use crate::app::AppState;
use crate::error::ApiResult;

#[derive(Serialize, utoipa::ToSchema)]
pub struct OidcProviderView {
    pub id: String,
    pub name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PublicConfig {
    pub instance_name: String,
    pub signup_mode: SignupMode,
    pub pow_required: bool,
    pub oidc_providers: Vec<OidcProviderView>,
    /// The policies in force, for the links in every page's footer.
    pub policies: Vec<crate::domains::privacy::policies::PolicyLink>,
    /// How long data is kept, as the privacy pages say it.
    pub privacy: PrivacyFacts,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PrivacyFacts {
    pub deletion_grace_days: i64,
    pub export_days: i64,
    pub analytics: bool,
    pub analytics_full_ip_days: i64,
    pub analytics_retention_days: i64,
}

#[utoipa::path(get, path = "/api/v1/config/public", tag = "instance", responses((status = 200, body = PublicConfig)))]
pub async fn public_config(State(state): State<AppState>) -> ApiResult<Json<PublicConfig>> {
    let (instance, policies) = state
        .db
        .query(|conn| {
            Ok((
                settings::get(conn)?,
                crate::domains::privacy::policies::links(conn)?,
            ))
        })
        .await?;
    let config = &state.config;
    Ok(Json(PublicConfig {
        instance_name: config.instance_name.clone(),
        signup_mode: instance.signup_mode,
        pow_required: instance.pow_required,
        oidc_providers: config
            .oidc
            .iter()
            .map(|p| OidcProviderView {
                id: p.id.clone(),
                name: p.name.clone(),
            })
            .collect(),
        policies,
        privacy: PrivacyFacts {
            deletion_grace_days: config.privacy.deletion_grace_days,
            export_days: config.privacy.export_days,
            analytics: config.privacy.analytics,
            analytics_full_ip_days: config.privacy.analytics_full_ip_days,
            analytics_retention_days: config.privacy.analytics_retention_days,
        },
    }))
}
