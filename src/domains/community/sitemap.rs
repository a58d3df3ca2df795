//! What `/sitemap.xml` lists: public, unmoderated posts of active authors and the
//! profiles of those authors, newest first — what an anonymous visitor finds in lists.

use rusqlite::{Connection, named_params};

use super::visibility::{Door, post_visible};

/// The sitemap protocol's limit of addresses in one file.
pub const MAX_ENTRIES: usize = 50_000;

pub struct Entry {
    /// The page's path (`/p/{id}` or `/u/{username}`).
    pub path: String,
    pub modified_at: i64,
}

pub fn entries(conn: &Connection) -> rusqlite::Result<Vec<Entry>> {
    let findable = format!(
        "p.visibility = 'public' AND {}",
        post_visible("p", "u", Door::Listed)
    );
    let mut entries: Vec<Entry> = conn
        .prepare_cached(&format!(
            "SELECT p.id, p.updated_at FROM posts p JOIN users u ON u.id = p.user_id
             WHERE {findable} ORDER BY p.created_at DESC LIMIT :limit"
        ))?
        .query_map(
            named_params! {":viewer": "", ":limit": MAX_ENTRIES as i64},
            |r| {
                Ok(Entry {
                    path: format!("/p/{}", r.get::<_, String>(0)?),
                    modified_at: r.get(1)?,
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    let room = MAX_ENTRIES.saturating_sub(entries.len()) as i64;
    let profiles = conn
        .prepare_cached(&format!(
            "SELECT u.username, MAX(p.updated_at) FROM posts p JOIN users u ON u.id = p.user_id
             WHERE {findable} GROUP BY u.id ORDER BY MAX(p.updated_at) DESC LIMIT :limit"
        ))?
        .query_map(named_params! {":viewer": "", ":limit": room}, |r| {
            Ok(Entry {
                path: format!("/u/{}", r.get::<_, String>(0)?),
                modified_at: r.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    entries.extend(profiles);
    Ok(entries)
}
