//! OpenID Connect relying party: discovery, the authorization code flow with PKCE,
//! `state` and `nonce`, and ID-token verification against the provider's JWKS.
//! The HTTP endpoints that use it are in `api/oidc.rs`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::config::OidcProviderConfig;
use crate::platform::tokens::{constant_time_eq, new_token};

/// How long discovery documents and key sets are kept before they are read again.
const CACHE_FOR: Duration = Duration::from_secs(3600);
/// How long a browser has between leaving for the provider and coming back.
pub const FLOW_SECONDS: i64 = 10 * 60;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("unknown sign-in provider")]
    UnknownProvider,
    #[error("the sign-in provider could not be reached: {0}")]
    Provider(String),
    #[error("the sign-in answer is not valid: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    userinfo_endpoint: Option<String>,
}

struct Cached {
    discovery: Discovery,
    keys: JwkSet,
    fetched: Instant,
}

/// The configured providers and what was learnt from them.
pub struct OidcClients {
    http: reqwest::Client,
    providers: HashMap<String, OidcProviderConfig>,
    cache: Mutex<HashMap<String, Cached>>,
}

/// What the browser carries (signed, in an HttpOnly cookie) between start and callback.
#[derive(Debug, Serialize, Deserialize)]
pub struct FlowState {
    pub provider: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub next: String,
    pub expires_at: i64,
}

/// The verified identity from an ID token.
#[derive(Debug, Clone)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
}

#[derive(Deserialize)]
struct IdClaims {
    sub: String,
    nonce: Option<String>,
    email: Option<String>,
    #[serde(default, deserialize_with = "bool_or_string")]
    email_verified: bool,
    name: Option<String>,
    preferred_username: Option<String>,
}

/// Some providers send `"email_verified": "true"`.
fn bool_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    Ok(match Flag::deserialize(d)? {
        Flag::Bool(b) => b,
        Flag::Text(t) => t.eq_ignore_ascii_case("true"),
    })
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: String,
    access_token: Option<String>,
}

/// Profile claims from the userinfo endpoint (for providers that keep them out of the
/// ID token).
#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    email: Option<String>,
    #[serde(default, deserialize_with = "bool_or_string")]
    email_verified: bool,
    name: Option<String>,
    preferred_username: Option<String>,
}

fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl OidcClients {
    pub fn new(providers: &[OidcProviderConfig]) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            providers: providers
                .iter()
                .map(|p| (p.id.clone(), p.clone()))
                .collect(),
            cache: Mutex::default(),
        })
    }

    pub fn provider(&self, id: &str) -> Result<&OidcProviderConfig, OidcError> {
        self.providers.get(id).ok_or(OidcError::UnknownProvider)
    }

    async fn fetch_json<T: for<'a> Deserialize<'a>>(&self, url: &str) -> Result<T, OidcError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| OidcError::Provider(e.to_string()))?;
        if !response.status().is_success() {
            return Err(OidcError::Provider(format!(
                "{url} answered {}",
                response.status()
            )));
        }
        response
            .json()
            .await
            .map_err(|e| OidcError::Provider(format!("{url}: {e}")))
    }

    /// Discovery and keys, from the cache or the provider (`refresh` forces a new read).
    async fn metadata(&self, id: &str, refresh: bool) -> Result<(Discovery, JwkSet), OidcError> {
        let provider = self.provider(id)?;
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.get(id)
            && !refresh
            && cached.fetched.elapsed() < CACHE_FOR
        {
            return Ok((cached.discovery.clone(), cached.keys.clone()));
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            provider.issuer.trim_end_matches('/')
        );
        let discovery: Discovery = self.fetch_json(&url).await?;
        if discovery.issuer.trim_end_matches('/') != provider.issuer.trim_end_matches('/') {
            return Err(OidcError::Provider(format!(
                "the discovery document names issuer {} instead of {}",
                discovery.issuer, provider.issuer
            )));
        }
        let keys: JwkSet = self.fetch_json(&discovery.jwks_uri).await?;
        cache.insert(
            id.to_string(),
            Cached {
                discovery: discovery.clone(),
                keys: keys.clone(),
                fetched: Instant::now(),
            },
        );
        Ok((discovery, keys))
    }

    /// Starts a sign-in: the provider URL to send the browser to, and the state to keep.
    pub async fn start(
        &self,
        id: &str,
        redirect_uri: &str,
        next: String,
        now: i64,
    ) -> Result<(String, FlowState), OidcError> {
        let provider = self.provider(id)?;
        let (discovery, _) = self.metadata(id, false).await?;
        let flow = FlowState {
            provider: id.to_string(),
            state: new_token(),
            nonce: new_token(),
            verifier: new_token(),
            next,
            expires_at: now + FLOW_SECONDS,
        };
        let mut url = url::Url::parse(&discovery.authorization_endpoint)
            .map_err(|e| OidcError::Provider(format!("authorization endpoint: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &provider.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "openid email profile")
            .append_pair("state", &flow.state)
            .append_pair("nonce", &flow.nonce)
            .append_pair("code_challenge", &pkce_challenge(&flow.verifier))
            .append_pair("code_challenge_method", "S256");
        Ok((url.to_string(), flow))
    }

    /// Exchanges the code and verifies the ID token (signature by the provider's key,
    /// issuer, audience, expiry and nonce).
    pub async fn finish(
        &self,
        flow: &FlowState,
        code: &str,
        redirect_uri: &str,
    ) -> Result<Identity, OidcError> {
        let provider = self.provider(&flow.provider)?;
        let (discovery, _) = self.metadata(&flow.provider, false).await?;
        let response = self
            .http
            .post(&discovery.token_endpoint)
            .basic_auth(
                form_encode(&provider.client_id),
                Some(form_encode(&provider.client_secret)),
            )
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", &flow.verifier),
            ])
            .send()
            .await
            .map_err(|e| OidcError::Provider(e.to_string()))?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            return Err(OidcError::Provider(format!(
                "the token endpoint answered {status}: {}",
                body.chars().take(300).collect::<String>()
            )));
        }
        let answer: TokenAnswer = response
            .json()
            .await
            .map_err(|e| OidcError::Invalid(format!("token answer: {e}")))?;
        let mut claims = self
            .verify_id_token(flow, provider, &discovery, &answer.id_token)
            .await?;
        if claims.email.is_none()
            && let (Some(endpoint), Some(access_token)) =
                (&discovery.userinfo_endpoint, &answer.access_token)
        {
            let info: UserInfo = self
                .http
                .get(endpoint)
                .bearer_auth(access_token)
                .send()
                .await
                .map_err(|e| OidcError::Provider(e.to_string()))?
                .json()
                .await
                .map_err(|e| OidcError::Invalid(format!("userinfo: {e}")))?;
            // OpenID Connect Core 5.3.2: the userinfo subject must be the ID token's.
            if info.sub != claims.sub {
                return Err(OidcError::Invalid(
                    "userinfo is about another subject".into(),
                ));
            }
            claims.email = info.email;
            claims.email_verified = info.email_verified;
            claims.name = claims.name.or(info.name);
            claims.preferred_username = claims.preferred_username.or(info.preferred_username);
        }
        Ok(Identity {
            subject: claims.sub,
            email: claims.email,
            email_verified: claims.email_verified,
            name: claims.name,
            preferred_username: claims.preferred_username,
        })
    }

    async fn verify_id_token(
        &self,
        flow: &FlowState,
        provider: &OidcProviderConfig,
        discovery: &Discovery,
        token: &str,
    ) -> Result<IdClaims, OidcError> {
        let header = decode_header(token).map_err(|e| OidcError::Invalid(e.to_string()))?;
        let allowed = [
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
        ];
        if !allowed.contains(&header.alg) {
            return Err(OidcError::Invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let (_, mut keys) = self.metadata(&flow.provider, false).await?;
        let find = |keys: &JwkSet| match &header.kid {
            Some(kid) => keys.find(kid).cloned(),
            None => keys.keys.first().cloned(),
        };
        let jwk = match find(&keys) {
            Some(jwk) => jwk,
            None => {
                // The provider may have rotated its keys.
                keys = self.metadata(&flow.provider, true).await?.1;
                find(&keys)
                    .ok_or_else(|| OidcError::Invalid("signed with an unknown key".into()))?
            }
        };
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| OidcError::Invalid(e.to_string()))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[discovery.issuer.as_str()]);
        validation.set_audience(&[provider.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = decode::<IdClaims>(token, &key, &validation)
            .map_err(|e| OidcError::Invalid(format!("ID token: {e}")))?;
        let nonce_ok = data
            .claims
            .nonce
            .as_deref()
            .is_some_and(|n| constant_time_eq(n.as_bytes(), flow.nonce.as_bytes()));
        if !nonce_ok {
            return Err(OidcError::Invalid("the nonce does not match".into()));
        }
        Ok(data.claims)
    }
}

/// RFC 6749 2.3.1: client credentials in Basic auth are form-encoded first.
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Seals the flow state for its cookie: base64 JSON and an HMAC.
pub fn seal(key: &[u8], flow: &FlowState) -> String {
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(flow).expect("flow state serializes"));
    format!("{body}.{}", mac(key, &body))
}

/// Opens a sealed flow state; `None` when forged, damaged or expired.
pub fn unseal(key: &[u8], sealed: &str, now: i64) -> Option<FlowState> {
    let (body, signature) = sealed.split_once('.')?;
    if !constant_time_eq(mac(key, body).as_bytes(), signature.as_bytes()) {
        return None;
    }
    let flow: FlowState = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
    (flow.expires_at > now).then_some(flow)
}

fn mac(key: &[u8], body: &str) -> String {
    crate::platform::secrets::mac(key, "oidc-flow", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_state_round_trips_and_resists_tampering() {
        let flow = FlowState {
            provider: "p".into(),
            state: "s".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            next: "/".into(),
            expires_at: 100,
        };
        let sealed = seal(b"key", &flow);
        assert_eq!(unseal(b"key", &sealed, 50).unwrap().state, "s");
        assert!(unseal(b"key", &sealed, 100).is_none());
        assert!(unseal(b"other", &sealed, 50).is_none());
        let mut forged = sealed.clone();
        forged.insert(3, 'x');
        assert!(unseal(b"key", &forged, 50).is_none());
    }

    #[test]
    fn pkce_uses_s256() {
        // BASE64URL(SHA-256(verifier)) without padding, as computed by Python's hashlib.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
