//! The library's tables: assets, blob rows and storage quotas. Blob files move in and
//! out of the store inside write transactions, so garbage collection and uploads of
//! the same bytes never interleave.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engines::mesh::check::MeshFacts;
use crate::platform::blobs::{BlobStore, StagedBlob};
use crate::platform::tokens::new_sortable_id;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Asset {
    pub id: String,
    #[serde(skip)]
    pub user_id: String,
    /// `image` or `model`.
    pub kind: String,
    /// `upload` or `generated`.
    pub source: String,
    pub title: String,
    pub filename: String,
    pub format: String,
    pub mime: String,
    pub size: i64,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub triangles: Option<i64>,
    pub tags: Vec<String>,
    /// Generation parameters, for generated assets.
    pub params: Option<Value>,
    /// Who sees it through community posts: `private` (not shared), `followers`, or
    /// `public` (set by the library's handlers from the community's posts).
    pub visibility: String,
    pub sha256: String,
    pub created_at: i64,
    pub url: String,
    pub download_url: String,
    pub thumbnail_url: Option<String>,
    pub preview_url: Option<String>,
    /// For 3D models: what the mesh is (size, volume, whether it is printable).
    pub mesh: Option<MeshInfo>,
    /// `library`, or `likeness` for a likeness sample (kept out of the library grid
    /// and the community; it lives only under its owner's likeness consent).
    pub purpose: String,
}

/// What an asset is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Library,
    Likeness,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Library => "library",
            Purpose::Likeness => "likeness",
        }
    }
}

impl Asset {
    pub fn is_likeness(&self) -> bool {
        self.purpose == Purpose::Likeness.as_str()
    }
}

/// The facts of a 3D model's mesh, as the library shows and later stages quote them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MeshInfo {
    pub triangles: u64,
    pub vertices: u64,
    /// Every edge joins exactly two triangles: the surface has no holes.
    pub watertight: bool,
    /// Every edge has at most two triangles and every vertex one fan of them.
    pub manifold: bool,
    /// All triangles face the same side.
    pub consistent_winding: bool,
    /// Closed, manifold, consistently and outward wound, no degenerate triangles: a
    /// slicer can print it as is.
    pub printable: bool,
    /// Enclosed volume in cm³ (meaningful when watertight).
    pub volume_cm3: f64,
    /// Width (x), depth (y) and height (z) in millimetres.
    pub size_mm: [f32; 3],
    /// Lowest and highest corner, in millimetres, z up.
    pub bounding_box_mm: [[f32; 3]; 2],
}

impl MeshInfo {
    pub fn from_facts(facts: &MeshFacts) -> Self {
        let [min, max] = facts.bounding_box_mm;
        MeshInfo {
            triangles: facts.triangles as u64,
            vertices: facts.vertices as u64,
            watertight: facts.watertight,
            manifold: facts.manifold,
            consistent_winding: facts.consistent_winding,
            printable: facts.is_closed_solid(),
            volume_cm3: facts.volume_cm3(),
            size_mm: [max[0] - min[0], max[1] - min[1], max[2] - min[2]],
            bounding_box_mm: facts.bounding_box_mm,
        }
    }
}

const COLUMNS: &str = "id, user_id, kind, source, title, filename, format, mime, size, width, height, \
     triangles, tags, params, visibility, blob_hash, created_at, thumb_hash, preview_hash, mesh_facts, \
     purpose";

fn blob_url(hash: &str) -> String {
    format!("/blobs/{hash}")
}

fn asset_from_row(row: &Row<'_>) -> rusqlite::Result<Asset> {
    let tags: String = row.get(12)?;
    let params: Option<String> = row.get(13)?;
    let hash: String = row.get(15)?;
    let thumb: Option<String> = row.get(17)?;
    let preview: Option<String> = row.get(18)?;
    let mesh: Option<String> = row.get(19)?;
    Ok(Asset {
        id: row.get(0)?,
        user_id: row.get(1)?,
        kind: row.get(2)?,
        source: row.get(3)?,
        title: row.get(4)?,
        filename: row.get(5)?,
        format: row.get(6)?,
        mime: row.get(7)?,
        size: row.get(8)?,
        width: row.get(9)?,
        height: row.get(10)?,
        triangles: row.get(11)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        params: params.and_then(|p| serde_json::from_str(&p).ok()),
        visibility: row.get(14)?,
        url: blob_url(&hash),
        download_url: format!("{}?download=1", blob_url(&hash)),
        sha256: hash,
        created_at: row.get(16)?,
        thumbnail_url: thumb.as_deref().map(blob_url),
        preview_url: preview.as_deref().map(blob_url),
        mesh: mesh.and_then(|m| serde_json::from_str(&m).ok()),
        purpose: row.get(20)?,
    })
}

pub fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<Asset>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM assets WHERE id = ?1"))?
        .query_row([id], asset_from_row)
        .optional()
}

/// Which assets a list shows.
pub struct ListQuery {
    pub user_id: String,
    /// `image`, `model` or `upload`.
    pub kind: Option<String>,
    /// A `LIKE` pattern over title, filename, tags and parameters.
    pub pattern: Option<String>,
    pub newest_first: bool,
    /// Position after which the page starts: `(created_at, id)`.
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

pub fn list(conn: &Connection, query: &ListQuery) -> rusqlite::Result<Vec<Asset>> {
    let (compare, order) = if query.newest_first {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM assets
         WHERE user_id = ?1 AND purpose = 'library'
           AND (?2 IS NULL OR (?2 = 'upload' AND source = 'upload') OR kind = ?2)
           AND (?3 IS NULL OR title LIKE ?3 ESCAPE '\\' OR filename LIKE ?3 ESCAPE '\\'
                OR tags LIKE ?3 ESCAPE '\\' OR params LIKE ?3 ESCAPE '\\')
           AND (?4 IS NULL OR (created_at, id) {compare} (?4, ?5))
         ORDER BY created_at {order}, id {order} LIMIT ?6"
    );
    let (after_time, after_id) = match &query.after {
        Some((t, id)) => (Some(*t), Some(id.clone())),
        None => (None, None),
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            query.user_id,
            query.kind,
            query.pattern,
            after_time,
            after_id,
            query.limit
        ],
        asset_from_row,
    )?;
    rows.collect()
}

/// The user's assets kept for `purpose`, newest first.
pub fn kept_for(
    conn: &Connection,
    user_id: &str,
    purpose: Purpose,
) -> rusqlite::Result<Vec<Asset>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM assets WHERE user_id = ?1 AND purpose = ?2
         ORDER BY created_at DESC, id DESC"
    ))?;
    let rows = stmt.query_map(params![user_id, purpose.as_str()], asset_from_row)?;
    rows.collect()
}

/// How many assets the user keeps for `purpose`.
pub fn count_kept(conn: &Connection, user_id: &str, purpose: Purpose) -> rusqlite::Result<usize> {
    conn.prepare_cached("SELECT COUNT(*) FROM assets WHERE user_id = ?1 AND purpose = ?2")?
        .query_row(params![user_id, purpose.as_str()], |r| r.get::<_, i64>(0))
        .map(|n| n as usize)
}

/// The user's assets made from any of `sources`, directly or through other assets made
/// from them (an image made from a sample, then a 3D model made from that image).
pub fn made_from(
    conn: &Connection,
    user_id: &str,
    sources: &[String],
) -> rusqlite::Result<Vec<String>> {
    let mut found: Vec<String> = Vec::new();
    let mut frontier: Vec<String> = sources.to_vec();
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM assets WHERE user_id = ?1
           AND json_extract(params, '$.source_asset_id') = ?2",
    )?;
    while let Some(source) = frontier.pop() {
        let children: Vec<String> = stmt
            .query_map(params![user_id, source], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for child in children {
            if !found.contains(&child) && !sources.contains(&child) {
                found.push(child.clone());
                frontier.push(child);
            }
        }
    }
    Ok(found)
}

/// Bytes the user's assets take, and how many there are.
pub fn usage(conn: &Connection, user_id: &str) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(
        "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM assets WHERE user_id = ?1",
        [user_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// A user's storage use against their quota.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Storage {
    pub used_bytes: i64,
    pub quota_bytes: i64,
    pub asset_count: i64,
    /// Whether an admin set this user's quota (otherwise it is the instance default).
    pub quota_is_custom: bool,
}

/// `config_default` is the config's quota, used when the admin set no default.
pub fn storage(conn: &Connection, user_id: &str, config_default: u64) -> rusqlite::Result<Storage> {
    let (used_bytes, asset_count) = usage(conn, user_id)?;
    let custom = custom_quota(conn, user_id)?;
    Ok(Storage {
        used_bytes,
        asset_count,
        quota_bytes: match custom {
            Some(bytes) => bytes,
            None => default_quota(conn, config_default)?,
        },
        quota_is_custom: custom.is_some(),
    })
}

/// The quota of users without their own: the admin's setting, else the config's.
pub fn default_quota(conn: &Connection, config_default: u64) -> rusqlite::Result<i64> {
    let settings = crate::domains::admin::settings::get(conn)?;
    Ok(settings.default_quota_bytes.unwrap_or(config_default) as i64)
}

fn custom_quota(conn: &Connection, user_id: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT quota_bytes FROM storage_quotas WHERE user_id = ?1",
        [user_id],
        |r| r.get(0),
    )
    .optional()
}

pub fn quota(conn: &Connection, user_id: &str, config_default: u64) -> rusqlite::Result<i64> {
    match custom_quota(conn, user_id)? {
        Some(bytes) => Ok(bytes),
        None => default_quota(conn, config_default),
    }
}

/// A new asset and the staged files it consists of.
pub struct NewAsset {
    pub user_id: String,
    pub kind: &'static str,
    pub source: &'static str,
    pub purpose: Purpose,
    pub title: String,
    pub filename: String,
    pub format: &'static str,
    pub mime: &'static str,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub triangles: Option<u64>,
    pub params: Option<Value>,
    pub mesh: Option<MeshInfo>,
    pub original: StagedBlob,
    pub thumbnail: Option<StagedBlob>,
    pub preview: Option<StagedBlob>,
}

/// Why an asset was not added.
pub enum AddError {
    OverQuota { used: i64, quota: i64 },
    Failed(anyhow::Error),
}

impl From<rusqlite::Error> for AddError {
    fn from(error: rusqlite::Error) -> Self {
        AddError::Failed(error.into())
    }
}

fn upsert_blob(
    tx: &Transaction<'_>,
    store: &BlobStore,
    staged: StagedBlob,
    now: i64,
) -> Result<String, AddError> {
    let size = staged.size as i64;
    let hash = store
        .commit(staged)
        .map_err(|e| AddError::Failed(e.into()))?;
    tx.execute(
        "INSERT INTO blobs (hash, size, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(hash) DO UPDATE SET unreferenced_since = NULL",
        params![hash, size, now],
    )?;
    Ok(hash)
}

/// Adds the asset if it fits the quota; moves its files into the store.
pub fn add(
    tx: &Transaction<'_>,
    store: &BlobStore,
    asset: NewAsset,
    default_quota: u64,
    now: i64,
) -> Result<String, AddError> {
    let (used, _) = usage(tx, &asset.user_id)?;
    let quota = quota(tx, &asset.user_id, default_quota)?;
    let size = asset.original.size as i64;
    if used + size > quota {
        for staged in [Some(asset.original), asset.thumbnail, asset.preview]
            .into_iter()
            .flatten()
        {
            staged.discard();
        }
        return Err(AddError::OverQuota { used, quota });
    }
    let blob = upsert_blob(tx, store, asset.original, now)?;
    let thumb = asset
        .thumbnail
        .map(|s| upsert_blob(tx, store, s, now))
        .transpose()?;
    let preview = asset
        .preview
        .map(|s| upsert_blob(tx, store, s, now))
        .transpose()?;
    let id = new_sortable_id();
    tx.execute(
        "INSERT INTO assets (id, user_id, kind, source, title, filename, format, mime, blob_hash, size,
                             width, height, triangles, thumb_hash, preview_hash, params, mesh_facts, created_at,
                             purpose)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        params![
            id,
            asset.user_id,
            asset.kind,
            asset.source,
            asset.title,
            asset.filename,
            asset.format,
            asset.mime,
            blob,
            size,
            asset.width,
            asset.height,
            asset.triangles.map(|t| t as i64),
            thumb,
            preview,
            asset.params.map(|p| p.to_string()),
            asset
                .mesh
                .map(|m| serde_json::to_string(&m))
                .transpose()
                .map_err(|e| AddError::Failed(e.into()))?,
            now,
            asset.purpose.as_str()
        ],
    )?;
    Ok(id)
}

/// Deletes the user's assets among `ids`; their files become unreferenced (collected
/// after the grace period) unless another asset uses them. Returns how many went.
pub fn delete(
    tx: &Transaction<'_>,
    user_id: &str,
    ids: &[String],
    now: i64,
) -> rusqlite::Result<usize> {
    Ok(remove(tx, user_id, ids, now)?.0)
}

/// Deletes the user's assets among `ids`: how many went, and the files they used.
fn remove(
    tx: &Transaction<'_>,
    user_id: &str,
    ids: &[String],
    now: i64,
) -> rusqlite::Result<(usize, Vec<String>)> {
    let mut deleted = 0;
    let mut files = Vec::new();
    for id in ids {
        let hashes: Option<(String, Option<String>, Option<String>)> = tx
            .query_row(
                "SELECT blob_hash, thumb_hash, preview_hash FROM assets WHERE id = ?1 AND user_id = ?2",
                params![id, user_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((blob, thumb, preview)) = hashes else {
            continue;
        };
        tx.execute("DELETE FROM assets WHERE id = ?1", [id])?;
        deleted += 1;
        for hash in [Some(blob), thumb, preview].into_iter().flatten() {
            mark_if_unreferenced(tx, &hash, now)?;
            files.push(hash);
        }
    }
    Ok((deleted, files))
}

/// Every file the user's assets use (originals, thumbnails, previews).
pub fn user_blob_hashes(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT blob_hash FROM assets WHERE user_id = ?1
         UNION SELECT thumb_hash FROM assets WHERE user_id = ?1 AND thumb_hash IS NOT NULL
         UNION SELECT preview_hash FROM assets WHERE user_id = ?1 AND preview_hash IS NOT NULL",
    )?;
    let rows = stmt.query_map([user_id], |r| r.get(0))?;
    rows.collect()
}

/// Forgets at once — without the grace period — the files among `hashes` that no asset
/// uses any more: for data that must be gone now (a withdrawn likeness consent, an
/// account purge). Returns their hashes; remove the files with [`remove_files`] as the
/// transaction's last step, so nothing after it can roll back rows whose files are gone.
pub fn forget_unreferenced(
    tx: &Transaction<'_>,
    hashes: &[String],
) -> rusqlite::Result<Vec<String>> {
    let mut forgotten = Vec::new();
    for hash in hashes {
        let deleted = tx.execute(
            "DELETE FROM blobs WHERE hash = ?1 AND NOT EXISTS (SELECT 1 FROM assets
                 WHERE blob_hash = ?1 OR thumb_hash = ?1 OR preview_hash = ?1)",
            [hash],
        )?;
        if deleted > 0 && !forgotten.contains(hash) {
            forgotten.push(hash.clone());
        }
    }
    Ok(forgotten)
}

/// Removes the files of blobs forgotten by [`forget_unreferenced`].
pub fn remove_files(store: &BlobStore, hashes: &[String]) {
    for hash in hashes {
        if let Err(error) = store.remove(hash) {
            tracing::error!(%hash, %error, "cannot delete a purged blob file");
        }
    }
}

/// Deletes the user's assets among `ids` and at once the files nothing else uses;
/// returns the hashes of the files deleted. Call it as the transaction's last step.
pub fn delete_now(
    tx: &Transaction<'_>,
    store: &BlobStore,
    user_id: &str,
    ids: &[String],
    now: i64,
) -> rusqlite::Result<Vec<String>> {
    let (_, files) = remove(tx, user_id, ids, now)?;
    let forgotten = forget_unreferenced(tx, &files)?;
    remove_files(store, &forgotten);
    Ok(forgotten)
}

fn mark_if_unreferenced(tx: &Transaction<'_>, hash: &str, now: i64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE blobs SET unreferenced_since = ?2
         WHERE hash = ?1 AND unreferenced_since IS NULL
           AND NOT EXISTS (SELECT 1 FROM assets WHERE blob_hash = ?1 OR thumb_hash = ?1 OR preview_hash = ?1)",
        params![hash, now],
    )?;
    Ok(())
}

/// Who may see a blob: the owners of assets that use it, and everyone when one of them
/// is public.
pub struct BlobAccess {
    /// The users whose assets use the blob.
    pub owners: Vec<String>,
    /// Those assets, and for each whether the blob is a generated image's original
    /// (whose PNG carries the prompt).
    pub assets: Vec<(String, bool)>,
    /// MIME type and file name for the response (from an asset that uses it).
    pub mime: String,
    pub filename: String,
}

pub fn blob_access(conn: &Connection, hash: &str) -> rusqlite::Result<Option<BlobAccess>> {
    let mut stmt = conn.prepare_cached(
        "SELECT user_id, id, mime, filename, blob_hash = ?1,
                blob_hash = ?1 AND kind = 'image' AND source = 'generated'
         FROM assets WHERE blob_hash = ?1 OR thumb_hash = ?1 OR preview_hash = ?1",
    )?;
    let rows = stmt.query_map([hash], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, bool>(4)?,
            r.get::<_, bool>(5)?,
        ))
    })?;
    let mut access: Option<BlobAccess> = None;
    for row in rows {
        let (owner, asset, mime, filename, is_original, carries_prompt) = row?;
        let (mime, filename) = if is_original {
            (mime, filename)
        } else {
            (
                "image/webp".to_string(),
                format!(
                    "{}.webp",
                    filename
                        .rsplit_once('.')
                        .map_or(filename.as_str(), |(s, _)| s)
                ),
            )
        };
        let entry = access.get_or_insert(BlobAccess {
            owners: Vec::new(),
            assets: Vec::new(),
            mime,
            filename,
        });
        entry.owners.push(owner);
        entry.assets.push((asset, carries_prompt));
    }
    Ok(access)
}

/// Deletes blobs unreferenced for longer than the grace period, rows and files.
pub fn collect_garbage(
    tx: &Transaction<'_>,
    store: &BlobStore,
    now: i64,
    grace: i64,
) -> rusqlite::Result<Vec<String>> {
    // Blobs that lost their last reference without being marked (a cascade from an
    // account purge) start their grace period now.
    tx.execute(
        "UPDATE blobs SET unreferenced_since = ?1 WHERE unreferenced_since IS NULL
           AND NOT EXISTS (SELECT 1 FROM assets WHERE blob_hash = blobs.hash OR thumb_hash = blobs.hash
                           OR preview_hash = blobs.hash)",
        [now],
    )?;
    let mut stmt = tx.prepare(
        "SELECT hash FROM blobs WHERE unreferenced_since IS NOT NULL AND unreferenced_since <= ?1
           AND NOT EXISTS (SELECT 1 FROM assets WHERE blob_hash = blobs.hash OR thumb_hash = blobs.hash
                           OR preview_hash = blobs.hash)",
    )?;
    let hashes: Vec<String> = stmt
        .query_map([now - grace], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for hash in &hashes {
        tx.execute("DELETE FROM blobs WHERE hash = ?1", [hash])?;
        if let Err(error) = store.remove(hash) {
            tracing::error!(%hash, %error, "cannot delete an unreferenced blob file");
        }
    }
    Ok(hashes)
}

/// Every blob row's hash.
pub fn blob_hashes(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT hash FROM blobs")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}
