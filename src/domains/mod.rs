//! One folder per feature: its routes, its SQL, its rules.

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod community;
pub mod credits;
pub mod generation;
pub mod library;
pub mod privacy;

use std::time::Duration;

use crate::app::AppState;
use crate::platform::db::DbError;
use crate::platform::personal_data::{Erase, PersonalTable};

/// Runs every domain's periodic clean-up once an hour until `shutdown` fires.
pub async fn run_housekeeping(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        let now = state.now();
        let result = state
            .db
            .write(move |tx| {
                let removed = auth::housekeeping::clean(tx, now)?
                    + crate::platform::mail::forget_stale_bodies(tx, now)?;
                Ok::<_, DbError>(removed)
            })
            .await;
        match result {
            Ok(removed) if removed > 0 => {
                tracing::info!(removed, "housekeeping removed expired rows")
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "housekeeping failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Platform tables with a user column (the mail outbox keeps no link after a purge).
const PLATFORM_PERSONAL_DATA: &[PersonalTable] = &[PersonalTable {
    section: "mail",
    key: "mails",
    table: "mail_outbox",
    user_column: "user_id",
    export_columns: &[
        "to_addr",
        "subject",
        "kind",
        "status",
        "created_at",
        "sent_at",
    ],
    erase: Erase::Delete,
}];

/// Every table's export and erase rules, in the order a purge runs them (rows that
/// refer to the user first, the user row last).
pub fn personal_data_registry() -> Vec<PersonalTable> {
    let mut all: Vec<PersonalTable> = Vec::new();
    all.extend_from_slice(PLATFORM_PERSONAL_DATA);
    all.extend_from_slice(community::PERSONAL_DATA);
    all.extend_from_slice(admin::PERSONAL_DATA);
    all.extend_from_slice(accounts::PERSONAL_DATA);
    all.extend_from_slice(library::PERSONAL_DATA);
    all.extend_from_slice(credits::PERSONAL_DATA);
    all.extend_from_slice(generation::PERSONAL_DATA);
    all.extend_from_slice(privacy::PERSONAL_DATA);
    all.extend(auth::PERSONAL_DATA.iter().filter(|t| t.table != "users"));
    all.extend(auth::PERSONAL_DATA.iter().filter(|t| t.table == "users"));
    all
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::personal_data_registry;
    use crate::platform::migrations;
    use crate::platform::personal_data::user_referencing_columns;

    fn migrated() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        migrations::apply(&mut conn, &migrations::embedded().unwrap(), 0).unwrap();
        conn
    }

    /// Every column that refers to a user, read from the schema, has export and erase
    /// rules; a new table with a user column fails here until it is registered.
    #[test]
    fn every_user_column_is_covered_by_the_registry() {
        let conn = migrated();
        let registry = personal_data_registry();
        let mut missing = Vec::new();
        for (table, column) in user_referencing_columns(&conn).unwrap() {
            if !registry
                .iter()
                .any(|t| t.table == table && t.user_column == column)
            {
                missing.push(format!("{table}.{column}"));
            }
        }
        assert!(
            missing.is_empty(),
            "not in the personal-data registry: {missing:?}"
        );
        assert!(
            registry
                .iter()
                .any(|t| t.table == "users" && t.user_column == "id")
        );
    }

    /// Export queries run against the real schema (a wrong column name fails), and an
    /// erase in registry order leaves nothing that refers to the user.
    #[test]
    fn export_and_erase_run_on_the_schema() {
        let mut conn = migrated();
        conn.execute_batch(
            "INSERT INTO users (id, username, email, created_at) VALUES ('u1', 'ann', 'ann@example.org', 1);
             INSERT INTO sessions (id, user_id, created_at, expires_at, last_used_at) VALUES ('s1', 'u1', 1, 2, 1);
             INSERT INTO security_events (user_id, kind, created_at) VALUES ('u1', 'login', 1);
             INSERT INTO audit_log (actor_id, action, created_at) VALUES ('u1', 'x', 1);
             INSERT INTO mail_outbox (user_id, to_addr, subject, kind, body_text, body_html, next_attempt_at, created_at)
                 VALUES ('u1', 'ann@example.org', 's', 'verify', 't', 'h', 1, 1);",
        )
        .unwrap();
        let registry = personal_data_registry();
        for table in &registry {
            table.export(&conn, "u1").unwrap();
        }
        let tx = conn.transaction().unwrap();
        for table in &registry {
            table.erase(&tx, "u1").unwrap();
        }
        tx.commit().unwrap();
        for (table, column) in user_referencing_columns(&conn).unwrap() {
            let left: i64 = conn
                .query_row(
                    &format!("SELECT COUNT(*) FROM {table} WHERE {column} = 'u1'"),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(left, 0, "{table}.{column} still refers to the user");
        }
        let audit: i64 = conn
            .query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0))
            .unwrap();
        assert_eq!(audit, 1, "audit entries stay, unlinked");
    }
}
