//! The personal-data registry: every table that holds a user's data says how that data
//! is exported and erased. The privacy domain runs the whole registry for an export or
//! an account purge; a test fails when a table with a user column is not covered.

use rusqlite::{Connection, Transaction, types::ValueRef};
use serde_json::{Map, Value};

/// What an account purge does with a table's rows of the user.
#[derive(Debug, Clone, Copy)]
pub enum Erase {
    /// The rows are deleted.
    Delete,
    /// The user column is set to NULL; the rows stay without a link to the user.
    Unlink,
    /// The user's rows are rewritten by this `SET` clause, which must leave no link to
    /// the user (e.g. `user_id = NULL, body = '[deleted]'`).
    Rewrite(&'static str),
}

/// How one table's rows of a user are exported and erased.
#[derive(Debug, Clone, Copy)]
pub struct PersonalTable {
    /// The export file (`<section>.json`) these rows go into.
    pub section: &'static str,
    /// Their name inside that file.
    pub key: &'static str,
    /// Table name.
    pub table: &'static str,
    /// The column that holds the user's id.
    pub user_column: &'static str,
    /// Columns included in a data export (secrets such as hashes are left out).
    pub export_columns: &'static [&'static str],
    pub erase: Erase,
}

impl PersonalTable {
    /// The user's rows as JSON objects of the export columns. A column named
    /// `name:json` holds JSON text and is exported as the JSON it holds.
    pub fn export(&self, conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<Value>> {
        let columns: Vec<(&str, bool)> = self
            .export_columns
            .iter()
            .map(|c| match c.strip_suffix(":json") {
                Some(name) => (name, true),
                None => (*c, false),
            })
            .collect();
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = ?1",
            names.join(", "),
            self.table,
            self.user_column
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([user_id], |row| {
            let mut object = Map::new();
            for (i, (column, json)) in columns.iter().enumerate() {
                let value = match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::from(n),
                    ValueRef::Real(f) => Value::from(f),
                    ValueRef::Text(t) => {
                        let text = String::from_utf8_lossy(t);
                        match json.then(|| serde_json::from_str(&text).ok()).flatten() {
                            Some(parsed) => parsed,
                            None => Value::from(text.into_owned()),
                        }
                    }
                    ValueRef::Blob(b) => Value::from(hex::encode(b)),
                };
                object.insert((*column).to_string(), value);
            }
            Ok(Value::Object(object))
        })?;
        rows.collect()
    }

    /// The column names this table exports (without the `:json` marks).
    pub fn exported_names(&self) -> impl Iterator<Item = &'static str> {
        self.export_columns
            .iter()
            .map(|c| c.strip_suffix(":json").unwrap_or(c))
    }

    /// Removes the user's link from this table.
    pub fn erase(&self, tx: &Transaction<'_>, user_id: &str) -> rusqlite::Result<usize> {
        let sql = match self.erase {
            Erase::Delete => format!("DELETE FROM {} WHERE {} = ?1", self.table, self.user_column),
            Erase::Unlink => format!(
                "UPDATE {} SET {col} = NULL WHERE {col} = ?1",
                self.table,
                col = self.user_column
            ),
            Erase::Rewrite(set) => format!(
                "UPDATE {} SET {set} WHERE {} = ?1",
                self.table, self.user_column
            ),
        };
        tx.execute(&sql, [user_id])
    }
}

/// Tables and columns that refer to `users(id)`, read from the schema itself.
pub fn user_referencing_columns(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut tables = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )?;
    let names: Vec<String> = tables
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut found = Vec::new();
    for table in names {
        let mut fks = conn.prepare(&format!("PRAGMA foreign_key_list({table})"))?;
        let columns =
            fks.query_map([], |r| Ok((r.get::<_, String>(2)?, r.get::<_, String>(3)?)))?;
        for column in columns {
            let (target, from) = column?;
            if target == "users" {
                found.push((table.clone(), from));
            }
        }
    }
    Ok(found)
}
