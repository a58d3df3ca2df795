//! The state every request handler shares: configuration and the platform services.

use std::sync::{Arc, OnceLock};

use crate::config::Config;
use crate::domains::auth::oidc::OidcClients;
use crate::domains::generation::runner::Engine;
use crate::domains::privacy::PrivacyRuntime;
use crate::platform::blobs::BlobStore;
use crate::platform::clock::Clock;
use crate::platform::db::Db;
use crate::platform::jobs::JobBoard;
use crate::platform::mail::Mailer;
use crate::platform::rate_limit::RateLimiter;
use crate::platform::search::Search;
use crate::platform::secrets::InstallSecrets;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub clock: Clock,
    pub mailer: Mailer,
    pub limiter: RateLimiter,
    pub secrets: InstallSecrets,
    pub oidc: Arc<OidcClients>,
    pub blobs: BlobStore,
    /// Running jobs' progress and cancellation.
    pub jobs: JobBoard,
    /// Models, the ONNX runtime and the loaded-model cache.
    pub generation: Arc<Engine>,
    /// The search index, opened when the server starts (command-line tools that build
    /// an `AppState` leave it closed, so they never contend with a running server).
    pub search: Arc<OnceLock<Arc<Search>>>,
    /// Usage counting and the export worker's wake-up.
    pub privacy: Arc<PrivacyRuntime>,
}

impl AppState {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}
