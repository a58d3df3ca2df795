//! Data exports (access and portability). A person asks for a copy of their data; a
//! background worker writes one ZIP into `data/exports/` — a JSON file per kind of data
//! made from every domain's export rules, the original files of their assets, a README
//! and the JSON Schemas of the format (`export-schema/`) — and mails them when it is
//! ready. It can be downloaded for `privacy.export_days` by the person (and by the
//! admin who ran it for a written request), then it is deleted.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path as FsPath, PathBuf};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use rust_embed::RustEmbed;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::domains::auth::emails::{Compose, compose};
use crate::domains::auth::extract::{AuthUser, Scope};
use crate::domains::auth::store::{self, Role};
use crate::domains::library::serve::content_disposition;
use crate::domains::library::store as library;
use crate::error::{ApiError, ApiResult};
use crate::platform::data_dir::DataDir;
use crate::platform::db::DbError;
use crate::platform::mail;
use crate::platform::personal_data::PersonalTable;
use crate::platform::tokens::new_sortable_id;

/// The version of the export format (`manifest.json` → `format_version`).
pub const FORMAT_VERSION: i64 = 1;

/// The JSON Schemas of the format, shipped inside every export.
#[derive(RustEmbed)]
#[folder = "src/domains/privacy/export-schema/"]
#[include = "*.json"]
pub struct Schemas;

const README: &str = include_str!("export-schema/README.md");

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DataExport {
    pub id: String,
    /// `queued`, `running`, `ready`, `failed` or `expired`.
    pub status: String,
    /// Size of the ZIP in bytes, once ready.
    pub size: Option<i64>,
    /// SHA-256 of the ZIP, once ready.
    pub sha256: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    /// Until when it can be downloaded.
    pub expires_at: Option<i64>,
    /// Made by an administrator for a request the person sent by mail.
    pub by_admin: bool,
    pub download_url: Option<String>,
    #[serde(skip)]
    pub user_id: String,
    #[serde(skip)]
    pub requested_by: Option<String>,
}

const COLUMNS: &str = "id, status, size, sha256, error, created_at, finished_at, expires_at, \
                       user_id, requested_by";

fn export_from_row(row: &Row<'_>) -> rusqlite::Result<DataExport> {
    let id: String = row.get(0)?;
    let status: String = row.get(1)?;
    let user_id: String = row.get(8)?;
    let requested_by: Option<String> = row.get(9)?;
    Ok(DataExport {
        download_url: (status == "ready").then(|| format!("/api/v1/me/exports/{id}/download")),
        by_admin: requested_by.as_deref().is_some_and(|r| r != user_id),
        id,
        status,
        size: row.get(2)?,
        sha256: row.get(3)?,
        error: row.get(4)?,
        created_at: row.get(5)?,
        finished_at: row.get(6)?,
        expires_at: row.get(7)?,
        user_id,
        requested_by,
    })
}

pub fn by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<DataExport>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM data_exports WHERE id = ?1"))?
        .query_row([id], export_from_row)
        .optional()
}

fn of_user(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<DataExport>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM data_exports WHERE user_id = ?1 ORDER BY created_at DESC, id DESC LIMIT 20"
    ))?;
    let rows = stmt.query_map([user_id], export_from_row)?;
    rows.collect()
}

/// Exports an admin ran for others, newest first.
pub fn run_by(conn: &Connection, admin_id: &str) -> rusqlite::Result<Vec<DataExport>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM data_exports WHERE requested_by = ?1 AND user_id <> ?1
         ORDER BY created_at DESC, id DESC LIMIT 50"
    ))?;
    let rows = stmt.query_map([admin_id], export_from_row)?;
    rows.collect()
}

/// Why an export was not queued.
pub enum Refused {
    /// The person asked too often; seconds until they may again.
    TooOften(i64),
}

/// Queues an export of `user_id`'s data asked for by `requested_by`. One that is still
/// queued or being written is returned instead of a second one.
pub fn queue(
    tx: &Transaction<'_>,
    user_id: &str,
    requested_by: &str,
    per_day: u32,
    now: i64,
) -> rusqlite::Result<Result<(DataExport, bool), Refused>> {
    let open: Option<DataExport> = tx
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM data_exports
             WHERE user_id = ?1 AND status IN ('queued', 'running') LIMIT 1"
        ))?
        .query_row([user_id], export_from_row)
        .optional()?;
    if let Some(open) = open {
        return Ok(Ok((open, false)));
    }
    let (recent, oldest): (i64, Option<i64>) = tx.query_row(
        "SELECT COUNT(*), MIN(created_at) FROM data_exports
         WHERE user_id = ?1 AND requested_by = ?2 AND created_at > ?3",
        params![user_id, requested_by, now - 86_400],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if recent >= i64::from(per_day) && requested_by == user_id {
        let wait = oldest.map_or(3600, |t| t + 86_400 - now).max(1);
        return Ok(Err(Refused::TooOften(wait)));
    }
    let id = new_sortable_id();
    tx.execute(
        "INSERT INTO data_exports (id, user_id, requested_by, status, created_at)
         VALUES (?1, ?2, ?3, 'queued', ?4)",
        params![id, user_id, requested_by, now],
    )?;
    Ok(Ok((
        by_id(tx, &id)?.expect("the export was just written"),
        true,
    )))
}

/// At start: exports that were being written go back in the queue.
pub fn requeue_interrupted(tx: &Transaction<'_>) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE data_exports SET status = 'queued' WHERE status = 'running'",
        [],
    )
}

fn exports_dir(state: &AppState) -> PathBuf {
    DataDir::of(state.config.data_dir()).exports_dir()
}

fn zip_path(state: &AppState, id: &str) -> PathBuf {
    exports_dir(state).join(format!("{id}.zip"))
}

/// Writes queued exports one at a time until `shutdown`.
pub async fn run_worker(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        let claimed = state
            .db
            .write(|tx| {
                let next: Option<String> = tx
                    .query_row(
                        "SELECT id FROM data_exports WHERE status = 'queued' ORDER BY created_at, id LIMIT 1",
                        [],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(id) = &next {
                    tx.execute("UPDATE data_exports SET status = 'running' WHERE id = ?1", [id])?;
                }
                Ok::<_, DbError>(next)
            })
            .await;
        match claimed {
            Ok(Some(id)) => {
                if let Err(error) = build_and_record(&state, &id).await {
                    tracing::error!(%error, export = %id, "data export failed");
                }
                continue;
            }
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "cannot claim a data export"),
        }
        tokio::select! {
            _ = state.privacy.exports.notified() => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn build_and_record(state: &AppState, id: &str) -> anyhow::Result<()> {
    // Usage counted a moment ago belongs in the copy too.
    state.privacy.usage.flush(&state.db).await?;
    let Some(export) = state
        .db
        .query({
            let id = id.to_string();
            move |conn| by_id(conn, &id)
        })
        .await?
    else {
        return Ok(());
    };
    let path = zip_path(state, id);
    let partial = path.with_extension("zip.partial");
    let blobs = state.blobs.clone();
    let instance = state.config.instance_name.clone();
    let now = state.now();
    let user_id = export.user_id.clone();
    let target = partial.clone();
    // Likeness samples are shown to no one else: an export an admin runs leaves them out.
    let likeness = export
        .requested_by
        .as_deref()
        .is_none_or(|by| by == export.user_id);
    let built = state
        .db
        .read(move |conn| {
            let zip = ZipRequest {
                user_id: &user_id,
                instance: &instance,
                likeness,
                now,
            };
            write_zip(conn, &blobs, &zip, &target).map_err(ApiError::Internal)
        })
        .await;
    let now = state.now();
    let expires = now + state.config.privacy.export_days * 86_400;
    let outcome = match built {
        Ok(()) => put_in_place(&partial, &path).map_err(|e| e.to_string()),
        Err(error) => Err(error.to_string()),
    };
    if outcome.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    let mail_state = state.clone();
    let export_id = id.to_string();
    let recorded = state
        .db
        .write(move |tx| {
            // Only an export still being made is recorded: its account may have been
            // purged, or the request withdrawn, while it was written.
            let changed = match &outcome {
                Ok((size, digest)) => tx.execute(
                    "UPDATE data_exports SET status = 'ready', size = ?2, sha256 = ?3,
                         finished_at = ?4, expires_at = ?5 WHERE id = ?1 AND status = 'running'",
                    params![export_id, size, digest, now, expires],
                )?,
                Err(error) => {
                    tracing::error!(%error, export = %export_id, "data export failed");
                    tx.execute(
                        "UPDATE data_exports SET status = 'failed', error = ?2, finished_at = ?3
                         WHERE id = ?1 AND status = 'running'",
                        params![export_id, "The export could not be written; the error was logged. Ask again in a while.", now],
                    )?
                }
            };
            if changed > 0 {
                tell(tx, &mail_state, &export, outcome.is_ok(), expires, now)?;
            }
            Ok::<_, DbError>(changed > 0)
        })
        .await?;
    if !recorded {
        let _ = std::fs::remove_file(&path);
    }
    state.mailer.wake();
    Ok(())
}

/// Moves a finished ZIP into place; returns its size and SHA-256.
fn put_in_place(partial: &FsPath, path: &FsPath) -> std::io::Result<(i64, String)> {
    let digest = sha256_file(partial)?;
    std::fs::rename(partial, path)?;
    Ok((std::fs::metadata(path)?.len() as i64, digest))
}

/// A mail to whoever asked: the person, or the admin who ran it for them.
fn tell(
    tx: &Transaction<'_>,
    state: &AppState,
    export: &DataExport,
    ready: bool,
    expires: i64,
    now: i64,
) -> rusqlite::Result<()> {
    let asker = export
        .requested_by
        .clone()
        .unwrap_or_else(|| export.user_id.clone());
    let Some(to) = store::user_by_id(tx, &asker)? else {
        return Ok(());
    };
    let for_other = asker != export.user_id;
    let subject = if ready {
        "Your data export is ready"
    } else {
        "Your data export failed"
    };
    let days = (expires - now) / 86_400;
    let paragraphs = if ready {
        vec![
            if for_other {
                "The data export you ran for a written request is ready. Download it from the Privacy requests page of the admin area.".to_string()
            } else {
                "The copy of your data you asked for is ready: one ZIP file with your account, your content and your files, described by a README inside.".to_string()
            },
            format!(
                "It can be downloaded for {days} days, only while signed in as the one who asked; then it is deleted."
            ),
        ]
    } else {
        vec!["We could not write the data export you asked for. The error was logged for the administrators; please ask again in a while.".to_string()]
    };
    let path = if for_other {
        "/admin/privacy".to_string()
    } else {
        format!("/settings/privacy?export={}", export.id)
    };
    let mail = compose(
        state,
        Compose {
            to: &to.email,
            user_id: Some(&to.id),
            kind: "export_ready",
            subject,
            paragraphs: &paragraphs,
            action: ready.then(|| {
                (
                    "Download your data",
                    format!("{}{path}", state.config.public_base()),
                )
            }),
        },
    );
    mail::enqueue(tx, &mail, now)?;
    Ok(())
}

fn sha256_file(path: &FsPath) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut file = File::open(path)?;
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}

/// One file of the export, in the manifest.
#[derive(Serialize)]
struct ExportedFile {
    path: String,
    asset_id: String,
    sha256: String,
    size: i64,
}

/// The export sections and their tables, in registry order.
pub fn sections() -> BTreeMap<&'static str, Vec<PersonalTable>> {
    let mut sections: BTreeMap<&'static str, Vec<PersonalTable>> = BTreeMap::new();
    for table in crate::domains::personal_data_registry() {
        sections.entry(table.section).or_default().push(table);
    }
    sections
}

/// A file name safe in a ZIP on every system.
fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    if cleaned.trim_matches('.').is_empty() {
        "file".into()
    } else {
        cleaned
    }
}

/// Whose data a ZIP holds, and what goes in.
struct ZipRequest<'a> {
    user_id: &'a str,
    instance: &'a str,
    /// Likeness samples (their rows and files) are included.
    likeness: bool,
    now: i64,
}

/// Writes the ZIP of a person's data to `target`, reading one consistent snapshot.
fn write_zip(
    conn: &Connection,
    blobs: &crate::platform::blobs::BlobStore,
    request: &ZipRequest<'_>,
    target: &FsPath,
) -> anyhow::Result<()> {
    let ZipRequest {
        user_id,
        instance,
        likeness,
        now,
    } = *request;
    let snapshot = conn.unchecked_transaction()?;
    let account = store::user_by_id(&snapshot, user_id)?
        .ok_or_else(|| anyhow::anyhow!("the account is gone"))?;
    let file = File::create(target)?;
    let mut zip = zip::ZipWriter::new(BufWriter::new(file));
    let text = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    let sections = sections();
    for (section, tables) in &sections {
        let mut content = serde_json::Map::new();
        for table in tables {
            let mut rows = table.export(&snapshot, user_id)?;
            if !likeness && table.table == "assets" {
                rows.retain(|row| row["purpose"] != "likeness");
            }
            match content.get_mut(table.key) {
                Some(Value::Array(existing)) => existing.extend(rows),
                _ => {
                    content.insert(table.key.to_string(), Value::Array(rows));
                }
            }
        }
        zip.start_file(format!("data/{section}.json"), text)?;
        serde_json::to_writer_pretty(&mut zip, &Value::Object(content))?;
    }
    let mut files = Vec::new();
    let mut assets = library::kept_for(&snapshot, user_id, library::Purpose::Library)?;
    if likeness {
        assets.extend(library::kept_for(
            &snapshot,
            user_id,
            library::Purpose::Likeness,
        )?);
    }
    for asset in assets {
        let Some(source) = blobs.path(&asset.sha256) else {
            continue;
        };
        let path = format!("files/{}/{}", asset.id, safe_name(&asset.filename));
        zip.start_file(&path, stored)?;
        let mut reader = File::open(&source)?;
        std::io::copy(&mut reader, &mut zip)?;
        files.push(ExportedFile {
            path,
            asset_id: asset.id,
            sha256: asset.sha256,
            size: asset.size,
        });
    }
    let manifest = json!({
        "format": "stratamake-export",
        "format_version": FORMAT_VERSION,
        "instance": instance,
        "generated_at": now,
        "account": { "id": account.id, "username": account.username },
        "sections": sections.keys().map(|s| format!("data/{s}.json")).collect::<Vec<_>>(),
        "files": files,
    });
    zip.start_file("manifest.json", text)?;
    serde_json::to_writer_pretty(&mut zip, &manifest)?;
    zip.start_file("README.md", text)?;
    zip.write_all(README.as_bytes())?;
    for name in Schemas::iter() {
        if let Some(schema) = Schemas::get(&name) {
            zip.start_file(format!("schema/{name}"), text)?;
            zip.write_all(&schema.data)?;
        }
    }
    let mut writer = zip.finish()?;
    writer.flush()?;
    writer.get_ref().sync_all()?;
    drop(snapshot);
    Ok(())
}

/// Marks ready exports past their date as expired and deletes their files.
pub async fn expire(state: &AppState) -> Result<usize, DbError> {
    let now = state.now();
    let expired: Vec<String> = state
        .db
        .write(move |tx| {
            let mut stmt = tx.prepare(
                "SELECT id FROM data_exports WHERE status = 'ready' AND expires_at <= ?1",
            )?;
            let ids: Vec<String> = stmt
                .query_map([now], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in &ids {
                tx.execute(
                    "UPDATE data_exports SET status = 'expired' WHERE id = ?1",
                    [id],
                )?;
            }
            Ok::<_, DbError>(ids)
        })
        .await?;
    for id in &expired {
        let _ = std::fs::remove_file(zip_path(state, id));
    }
    Ok(expired.len())
}

/// Ends the person's exports that hold data they just had deleted (a withdrawn likeness
/// consent): ready ones expire, those waiting or being written fail. Returns the ready
/// ones, whose files go once the transaction is committed.
pub fn discard_for(tx: &Transaction<'_>, user_id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = tx.prepare(
        "UPDATE data_exports SET status = 'expired'
         WHERE user_id = ?1 AND status = 'ready' RETURNING id",
    )?;
    let ready: Vec<String> = stmt
        .query_map([user_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    tx.execute(
        "UPDATE data_exports SET status = 'failed', error = ?2
         WHERE user_id = ?1 AND status IN ('queued', 'running')",
        params![
            user_id,
            "Some of the data it was to hold was deleted; ask for a new copy."
        ],
    )?;
    Ok(ready)
}

/// At start: deletes every file of the exports folder but the ZIPs of ready exports
/// (ZIPs being written when the process stopped, or written but never recorded).
pub async fn remove_orphans(state: &AppState) -> Result<usize, DbError> {
    let ready: Vec<String> = state
        .db
        .query(|conn| {
            let mut stmt = conn.prepare("SELECT id FROM data_exports WHERE status = 'ready'")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
        .await?;
    let mut removed = 0;
    let dir = exports_dir(state);
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let owned = path.extension().is_some_and(|e| e == "zip")
                && path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .is_some_and(|id| ready.iter().any(|r| r == id));
            if !owned {
                let _ = std::fs::remove_file(&path);
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Deletes the export files of `ids` (their account is being purged).
pub fn remove_files(state: &AppState, ids: &[String]) {
    for id in ids {
        let _ = std::fs::remove_file(zip_path(state, id));
    }
}

/// The export ids of a user.
pub fn ids_of(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM data_exports WHERE user_id = ?1")?;
    let rows = stmt.query_map([user_id], |r| r.get(0))?;
    rows.collect()
}

/// Queues an export and wakes the worker; 429 when asked too often.
pub async fn start(
    state: &AppState,
    user_id: &str,
    requested_by: &str,
) -> ApiResult<(DataExport, bool)> {
    let now = state.now();
    let per_day = state.config.privacy.exports_per_day;
    let (user, by) = (user_id.to_string(), requested_by.to_string());
    let queued = state
        .db
        .write(move |tx| Ok::<_, ApiError>(queue(tx, &user, &by, per_day, now)?))
        .await?;
    match queued {
        Ok(queued) => {
            state.privacy.exports.notify_one();
            Ok(queued)
        }
        Err(Refused::TooOften(wait)) => Err(ApiError::TooManyRequests {
            retry_after_seconds: wait,
        }),
    }
}

#[utoipa::path(post, path = "/api/v1/me/export", tag = "privacy",
    responses((status = 202, description = "Queued; a mail says when it is ready", body = DataExport),
        (status = 200, description = "One is already being made", body = DataExport),
        (status = 429, body = crate::error::Problem)))]
pub async fn request(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<(StatusCode, Json<DataExport>)> {
    user.require_session()?;
    let (export, new) = start(&state, &user.user_id, &user.user_id).await?;
    Ok((
        if new {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        },
        Json(export),
    ))
}

#[utoipa::path(get, path = "/api/v1/me/exports", tag = "privacy",
    responses((status = 200, body = Vec<DataExport>)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Json<Vec<DataExport>>> {
    user.require_scope(Scope::Read)?;
    let id = user.user_id;
    Ok(Json(state.db.query(move |conn| of_user(conn, &id)).await?))
}

/// The export `id` if `user` may see it: theirs, or one they ran while an admin, if they
/// still are one.
async fn visible(state: &AppState, user: &AuthUser, id: String) -> ApiResult<DataExport> {
    let me = user.user_id.clone();
    let admin = user.role == Role::Admin;
    state
        .db
        .query(move |conn| by_id(conn, &id))
        .await?
        .filter(|e| e.user_id == me || (admin && e.requested_by.as_deref() == Some(me.as_str())))
        .ok_or(ApiError::NotFound)
}

#[utoipa::path(get, path = "/api/v1/me/exports/{id}", tag = "privacy",
    params(("id" = String, Path)),
    responses((status = 200, body = DataExport), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<DataExport>> {
    user.require_scope(Scope::Read)?;
    Ok(Json(visible(&state, &user, id).await?))
}

#[utoipa::path(get, path = "/api/v1/me/exports/{id}/download", tag = "privacy",
    params(("id" = String, Path)),
    responses((status = 200, content_type = "application/zip"), (status = 404, body = crate::error::Problem),
        (status = 410, description = "Expired", body = crate::error::Problem)))]
pub async fn download(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    user.require_session()?;
    let export = visible(&state, &user, id).await?;
    match export.status.as_str() {
        "ready" => {}
        "expired" => {
            return Ok(crate::error::problem_response(
                StatusCode::GONE,
                "export-expired",
                "Expired",
                "This export has expired and was deleted. Ask for a new one.".into(),
            ));
        }
        _ => {
            return Err(ApiError::Conflict("This export is not ready yet.".into()));
        }
    }
    let file = tokio::fs::File::open(zip_path(&state, &export.id))
        .await
        .map_err(|_| ApiError::NotFound)?;
    let owner = export.user_id.clone();
    let username = state
        .db
        .query(move |conn| store::user_by_id(conn, &owner))
        .await?
        .map_or_else(|| "account".to_string(), |u| u.username);
    let filename = format!(
        "stratamake-export-{username}-{}.zip",
        crate::platform::clock::iso_date(export.finished_at.unwrap_or(export.created_at))
    );
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
            (
                header::CONTENT_DISPOSITION,
                content_disposition("attachment", &filename),
            ),
            (
                header::CONTENT_LENGTH,
                export.size.unwrap_or_default().to_string(),
            ),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every export section has a schema, and every exported column is described in it,
    /// so the committed schemas cannot fall behind the registry.
    #[test]
    fn the_committed_schemas_describe_every_exported_column() {
        for (section, tables) in sections() {
            let name = format!("{section}.schema.json");
            let schema = Schemas::get(&name).unwrap_or_else(|| panic!("{name} is missing"));
            let schema: Value = serde_json::from_slice(&schema.data).unwrap();
            for table in tables {
                let rows = &schema["properties"][table.key];
                assert!(rows.is_object(), "{name} does not describe `{}`", table.key);
                let props = &rows["items"]["properties"];
                for column in table.exported_names() {
                    assert!(
                        props[column].is_object(),
                        "{name}: `{}` items lack `{column}`",
                        table.key
                    );
                }
            }
        }
        assert!(Schemas::get("manifest.schema.json").is_some());
    }
}
