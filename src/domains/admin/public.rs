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
    pub terms_version: String,
    pub privacy_version: String,
}

#[utoipa::path(get, path = "/api/v1/config/public", tag = "instance", responses((status = 200, body = PublicConfig)))]
pub async fn public_config(State(state): State<AppState>) -> ApiResult<Json<PublicConfig>> {
    let instance = state.db.query(settings::get).await?;
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
        terms_version: config.auth.terms_version.clone(),
        privacy_version: config.auth.privacy_version.clone(),
    }))
}
