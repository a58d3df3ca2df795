//! The privacy center: each promise of the privacy policy as something the software
//! does. This domain owns consents, policies and their acceptance, data exports,
//! account deletion and the purge, likeness consent, and the reading side of local
//! usage analytics. It runs every domain's personal-data rules (the registry in
//! `domains::personal_data_registry`) for exports and purges.

mod admin;
pub mod consents;
pub mod deletion;
pub mod export;
pub mod likeness;
pub mod policies;
pub mod usage;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::domains::auth::store::{self, NewUser};
use crate::platform::clock::Clock;
use crate::platform::db::DbError;
use crate::platform::personal_data::{Erase, PersonalTable};
use crate::platform::usage::UsageRecorder;

/// What the privacy domain keeps in memory while the server runs.
pub struct PrivacyRuntime {
    /// Usage counts waiting to be written, and who opted out.
    pub usage: Arc<UsageRecorder>,
    /// Wakes the export worker when an export is requested.
    pub exports: Notify,
}

impl PrivacyRuntime {
    pub fn new(clock: Clock, analytics: bool) -> Self {
        Self {
            usage: Arc::new(UsageRecorder::new(clock, analytics)),
            exports: Notify::new(),
        }
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(policies::list))
        .routes(routes!(policies::get))
        .routes(routes!(policies::my_pending))
        .routes(routes!(policies::acknowledge))
        .routes(routes!(policies::publish))
        .routes(routes!(consents::get, consents::put))
        .routes(routes!(likeness::get, likeness::give, likeness::withdraw))
        .routes(routes!(likeness::upload))
        .routes(routes!(likeness::delete_sample))
        .routes(routes!(export::request))
        .routes(routes!(export::list))
        .routes(routes!(export::get))
        .routes(routes!(export::download))
        .routes(routes!(deletion::request))
        .routes(routes!(deletion::cancel))
        .routes(routes!(usage::page_view))
        .routes(routes!(usage::mine))
        .routes(routes!(admin::dashboard))
        .routes(routes!(admin::deletions))
        .routes(routes!(admin::exports))
        .routes(routes!(admin::export_for))
        .routes(routes!(admin::delete_for))
        .routes(routes!(admin::child_account))
        .routes(routes!(admin::announce))
}

/// Creates an account that accepts the current Terms and Privacy Policy and starts with
/// the default consents (signup, OpenID signup and the first admin all come here).
pub fn create_account(
    tx: &rusqlite::Transaction<'_>,
    user: &NewUser<'_>,
    now: i64,
) -> rusqlite::Result<String> {
    let [terms, privacy] = policies::in_force_at_signup(tx)?;
    let id = store::insert_user(tx, user, &terms.1.to_string(), &privacy.1.to_string(), now)?;
    for (slug, version) in [terms, privacy] {
        policies::accept(tx, &id, slug, version, "signup", now)?;
    }
    consents::at_signup(tx, &id, now)?;
    Ok(id)
}

/// Readies the domain at start: default policies, the analytics opt-outs, and the
/// background work (the export worker, purges, retention, usage counts).
pub async fn start(
    state: &AppState,
    shutdown: &tokio::sync::watch::Sender<bool>,
) -> anyhow::Result<()> {
    let now = state.now();
    let opted_out = state
        .db
        .write(move |tx| {
            policies::seed_defaults(tx, now)?;
            export::requeue_interrupted(tx)?;
            Ok::<_, DbError>(consents::analytics_opted_out(tx)?)
        })
        .await?;
    state.privacy.usage.load_opted_out(opted_out);
    export::remove_orphans(state).await?;
    tokio::spawn(
        state
            .privacy
            .usage
            .clone()
            .run(state.db.clone(), shutdown.subscribe()),
    );
    tokio::spawn(export::run_worker(state.clone(), shutdown.subscribe()));
    tokio::spawn(run_upkeep(state.clone(), shutdown.subscribe()));
    Ok(())
}

/// Every hour (and at start): purges accounts whose grace period is over, deletes
/// expired exports, shortens and drops old usage records.
async fn run_upkeep(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        match deletion::purge_due(&state).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "accounts purged after their grace period"),
            Err(error) => tracing::error!(%error, "account purge failed"),
        }
        if let Err(error) = export::expire(&state).await {
            tracing::error!(%error, "expiring data exports failed");
        }
        if let Err(error) = usage::apply_retention(&state).await {
            tracing::error!(%error, "usage retention failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The privacy domain's own personal data.
pub const PERSONAL_DATA: &[PersonalTable] = &[
    PersonalTable {
        section: "consents",
        key: "consents",
        table: "consents",
        user_column: "user_id",
        export_columns: &[
            "purpose",
            "granted",
            "text_version",
            "method",
            "detail:json",
            "created_at",
        ],
        erase: Erase::Delete,
    },
    PersonalTable {
        section: "policies",
        key: "acceptances",
        table: "policy_acceptances",
        user_column: "user_id",
        export_columns: &["slug", "version", "method", "accepted_at"],
        erase: Erase::Delete,
    },
    PersonalTable {
        section: "policies",
        key: "versions_written",
        table: "policy_versions",
        user_column: "created_by",
        export_columns: &["slug", "version", "title", "created_at"],
        erase: Erase::Unlink,
    },
    PersonalTable {
        section: "privacy_requests",
        key: "exports",
        table: "data_exports",
        user_column: "user_id",
        export_columns: &[
            "id",
            "status",
            "size",
            "created_at",
            "finished_at",
            "expires_at",
        ],
        erase: Erase::Delete,
    },
    PersonalTable {
        section: "privacy_requests",
        key: "exports_run_for_others",
        table: "data_exports",
        user_column: "requested_by",
        export_columns: &["id", "created_at"],
        erase: Erase::Unlink,
    },
    PersonalTable {
        section: "privacy_requests",
        key: "deletion",
        table: "account_deletions",
        user_column: "user_id",
        export_columns: &["requested_at", "purge_after", "reason"],
        erase: Erase::Delete,
    },
    PersonalTable {
        section: "privacy_requests",
        key: "deletions_run_for_others",
        table: "account_deletions",
        user_column: "requested_by",
        export_columns: &["requested_at", "reason"],
        erase: Erase::Unlink,
    },
    // Usage counts stay for the totals, with no identifier: no person, no address.
    PersonalTable {
        section: "usage",
        key: "daily",
        table: "usage_daily",
        user_column: "user_id",
        export_columns: &["day", "kind", "name", "ip", "count"],
        erase: Erase::Rewrite("user_id = NULL, ip = ''"),
    },
];
