//! Opaque pagination cursors: a position `(sort key, id)` wrapped in URL-safe base64.

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

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_and_rejects_garbage() {
        let c = super::encode(42, "abc");
        assert_eq!(super::decode(&c), Some((42, "abc".into())));
        assert_eq!(super::decode("%%%"), None);
    }
}
