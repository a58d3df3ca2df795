//! Numbered SQL migrations embedded from `migrations/`, applied in one transaction at
//! start with their SHA-256 recorded. A changed applied migration stops the start.

use anyhow::{Context, bail};
use rusqlite::Connection;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

#[derive(RustEmbed)]
#[folder = "migrations/"]
#[include = "*.sql"]
struct MigrationFiles;

pub struct Migration {
    pub version: i64,
    pub name: String,
    pub sql: String,
    pub checksum: String,
}

/// The embedded migrations, ordered by version.
pub fn embedded() -> anyhow::Result<Vec<Migration>> {
    let mut migrations = Vec::new();
    for name in MigrationFiles::iter() {
        let file = MigrationFiles::get(&name).context("embedded migration vanished")?;
        let version: i64 = name
            .split('_')
            .next()
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("migration {name} must start with a number"))?;
        let sql = String::from_utf8(file.data.into_owned())
            .with_context(|| format!("migration {name} is not UTF-8"))?;
        let checksum = hex::encode(Sha256::digest(sql.as_bytes()));
        migrations.push(Migration {
            version,
            name: name.to_string(),
            sql,
            checksum,
        });
    }
    migrations.sort_by_key(|m| m.version);
    Ok(migrations)
}

/// Applies what is missing; refuses to start when an applied migration changed.
pub fn apply(conn: &mut Connection, migrations: &[Migration], now: i64) -> anyhow::Result<usize> {
    let tx = conn.transaction()?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            checksum   TEXT NOT NULL,
            applied_at INTEGER NOT NULL
        )",
    )?;
    let mut applied = 0;
    for migration in migrations {
        let recorded: Option<(String, String)> = {
            let mut stmt =
                tx.prepare("SELECT name, checksum FROM schema_migrations WHERE version = ?1")?;
            let mut rows = stmt.query([migration.version])?;
            match rows.next()? {
                Some(row) => Some((row.get(0)?, row.get(1)?)),
                None => None,
            }
        };
        match recorded {
            Some((name, checksum)) if checksum != migration.checksum => bail!(
                "migration {} ({name}) was applied with checksum {checksum}, but the file in \
                 this binary has {}: an applied migration must never change; restore the \
                 original file or add a new migration",
                migration.version,
                migration.checksum
            ),
            Some(_) => {}
            None => {
                tx.execute_batch(&migration.sql)
                    .with_context(|| format!("applying migration {}", migration.name))?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at)
                     VALUES (?1, ?2, ?3, ?4)",
                    rusqlite::params![migration.version, migration.name, migration.checksum, now],
                )?;
                applied += 1;
            }
        }
    }
    let newest_known = migrations.last().map(|m| m.version).unwrap_or(0);
    let newest_applied: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    if newest_applied > newest_known {
        bail!(
            "the database has migration {newest_applied}, newer than this binary knows \
             ({newest_known}): run the newer stratamake version"
        );
    }
    tx.commit()?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_once_and_refuses_a_changed_file() {
        let mut conn = Connection::open_in_memory().unwrap();
        let mut migrations = embedded().unwrap();
        assert!(apply(&mut conn, &migrations, 1).unwrap() > 0);
        assert_eq!(apply(&mut conn, &migrations, 2).unwrap(), 0);
        migrations[0].checksum = "0".repeat(64);
        let err = apply(&mut conn, &migrations, 3).unwrap_err().to_string();
        assert!(err.contains("must never change"), "{err}");
    }
}
