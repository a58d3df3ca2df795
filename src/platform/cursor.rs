//! Helpers for lists: opaque pagination cursors (a position `(sort key, id)` wrapped in
//! URL-safe base64) and `LIKE` patterns for search boxes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub fn encode(key: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{key}:{id}"))
}

/// `None` for a cursor this server did not make.
pub fn decode(cursor: &str) -> Option<(i64, String)> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (key, id) = text.split_once(':')?;
    Some((key.parse().ok()?, id.to_string()))
}

/// One page of a list and the cursor of the next.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Cuts rows fetched with `limit + 1` into a page; `position` gives the cursor key
    /// of the last row kept.
    pub fn from_rows(
        mut items: Vec<T>,
        limit: usize,
        position: impl Fn(&T) -> (i64, &str),
    ) -> Self {
        let next_cursor = (items.len() > limit).then(|| {
            items.truncate(limit);
            let (key, id) = position(items.last().expect("a full page has a last row"));
            encode(key, id)
        });
        Page { items, next_cursor }
    }
}

/// A `LIKE ... ESCAPE '\\'` pattern that matches `text` anywhere, wildcards escaped.
pub fn like_contains(text: &str) -> String {
    let escaped = text
        .trim()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_and_rejects_garbage() {
        let c = super::encode(42, "abc");
        assert_eq!(super::decode(&c), Some((42, "abc".into())));
        assert_eq!(super::decode("%%%"), None);
        assert_eq!(super::like_contains(" 50%_off "), "%50\\%\\_off%");
    }
}
