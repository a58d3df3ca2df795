//! CLIP text tokenizer for the Stable Diffusion text encoders.
//!
//! Owns turning a prompt into the 77 token ids a CLIP text encoder expects:
//! loading Hugging Face-format `vocab.json` + `merges.txt` (the `tokenizer/`
//! folder of Stable Diffusion exports), text normalisation, byte-level BPE,
//! and adding start/end tokens, truncation and padding.
//!
//! The output is meant to be identical to `transformers.CLIPTokenizer` (the
//! Python implementation, transformers 4.x) running *without* `ftfy`, called
//! the way the diffusers pipelines call it:
//! `tokenizer(text, padding="max_length", max_length=77, truncation=True)`.
//! Without ftfy that tokenizer cleans text like this, and so does this module:
//!
//! 1. `<|startoftext|>`, `<|endoftext|>` (and the pad token, if it is another
//!    token such as SD 2.x's `!`) written literally in the text are cut out
//!    first and become their own ids.
//! 2. In each remaining piece: NUL, U+FFFD and every character of general
//!    category C (control, format such as zero-width joiners and soft hyphens,
//!    private use, unassigned) are deleted, except tab, CR and LF; those three
//!    and every space separator (Zs, e.g. no-break or ideographic space)
//!    become a plain space.
//! 3. Every CJK ideograph gets a space on each side (so each becomes its own
//!    word); kana, hangul and other scripts are left alone.
//! 4. Unicode NFC; split on whitespace; each word lowercased (full Unicode
//!    lowercasing, final sigma included); rejoined with single spaces.
//!    Accents are kept. HTML entities are *not* unescaped (`&amp;` stays
//!    `&`, `amp`, `;`).
//! 5. Pre-tokenisation into contractions (`'s`, `'t`, `'re`, `'ve`, `'m`,
//!    `'ll`, `'d`), letter runs, single digits and runs of other non-space
//!    characters (punctuation, symbols, emoji, stray combining marks), then
//!    byte-level BPE on each piece's UTF-8 bytes with `</w>` marking the end
//!    of the piece.
//!
//! Character classes come from the Unicode tables of the `regex` crate and
//! the standard library, while the reference uses its Python's `unicodedata`
//! (Unicode 14 on Python 3.11). Code points assigned in later Unicode versions
//! are therefore kept here but deleted as "unassigned" by older Pythons; every
//! other code point was checked to tokenize identically.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

/// Number of ids a CLIP text encoder takes: start token, up to 75 text
/// tokens, end token, padding.
pub const MAX_LENGTH: usize = 77;

/// Text token marking the start of a sequence (id 49406 in CLIP's vocab).
pub const START_OF_TEXT: &str = "<|startoftext|>";

/// Text token marking the end of a sequence and, for SD 1.x, padding (49407).
pub const END_OF_TEXT: &str = "<|endoftext|>";

/// Marker appended to the last symbol of every pre-token before BPE.
const END_OF_WORD: &str = "</w>";

/// The reference only reads this many merge rules (CLIP's 49408-token vocab is
/// 256 bytes, 256 bytes + `</w>`, these merges and the two special tokens).
const MAX_MERGES: usize = 49152 - 256 - 2;

/// Entries kept in the BPE cache before it is emptied and refilled.
const CACHE_LIMIT: usize = 16_384;

/// Characters removed outright: NUL, U+FFFD and category C except `\t\n\r`.
static DROPPED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[[\p{C}\x{0}\x{FFFD}]--[\t\n\r]]+").expect("valid dropped-character class")
});

/// Characters turned into a plain space: `\t\n\r` and space separators.
static SPACES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\t\n\r\p{Zs}]").expect("valid space class"));

/// CLIP's pre-tokeniser. The reference compiles its pattern case-insensitively
/// (on already lowercased text); the two places where that changes anything
/// are spelled out: `ſ` (U+017F) matches `s`, and U+0345 (combining
/// ypogegrammeni, which case-folds to a letter) is matched by no branch and
/// thus skipped.
static PRE_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"<\|[sſ]tartoftext\|>|<\|endoftext\|>",
        r"|'[sſ]|'t|'re|'ve|'m|'ll|'d",
        r"|\p{L}+|\p{N}|[^\s\p{L}\p{N}\x{345}]+",
    ))
    .expect("valid pre-token pattern")
});

/// BPE merge rules: `(left, right)` symbol ids → `(rank, merged id)`.
type MergeTable = HashMap<(u32, u32), (u32, u32)>;

/// Errors raised while loading or configuring a [`ClipTokenizer`].
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A tokenizer file could not be read.
    #[error("cannot read tokenizer file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `vocab.json` (or a config file) is not the expected JSON.
    #[error("{file} is not valid: {reason}")]
    InvalidJson { file: &'static str, reason: String },
    /// A `vocab.json` id is not a non-negative 32-bit integer.
    #[error("vocab.json maps {token:?} to {value}, expected a non-negative integer id")]
    InvalidId { token: String, value: String },
    /// A token the tokenizer cannot work without is absent from `vocab.json`.
    #[error("vocab.json has no entry for {0:?}; is this a CLIP tokenizer vocabulary?")]
    MissingToken(String),
    /// A `merges.txt` rule is not two space-separated symbols.
    #[error("merges.txt line {line}: expected two space-separated symbols, found {text:?}")]
    MalformedMerge { line: usize, text: String },
    /// A `merges.txt` rule uses or produces a token absent from `vocab.json`.
    #[error(
        "merges.txt line {line}: {token:?} is not in vocab.json (mismatched vocab and merges?)"
    )]
    UnknownMergeToken { line: usize, token: String },
}

/// CLIP byte-level BPE tokenizer producing fixed-length id sequences.
///
/// `Send + Sync`: encoding takes `&self` (the BPE cache is behind a mutex).
pub struct ClipTokenizer {
    vocab: HashMap<String, u32>,
    merges: MergeTable,
    /// Id of each byte's printable stand-in character, alone and with `</w>`.
    byte_ids: [u32; 256],
    byte_end_ids: [u32; 256],
    bos_id: u32,
    eos_id: u32,
    pad_id: u32,
    /// Tokens cut out of the text before normalisation, longest first.
    unsplittable: Vec<(String, u32)>,
    cache: Mutex<HashMap<String, Vec<u32>>>,
}

impl fmt::Debug for ClipTokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClipTokenizer")
            .field("vocab_size", &self.vocab.len())
            .field("merges", &self.merges.len())
            .field("bos_id", &self.bos_id)
            .field("eos_id", &self.eos_id)
            .field("pad_id", &self.pad_id)
            .finish_non_exhaustive()
    }
}

impl ClipTokenizer {
    /// Loads `vocab.json` and `merges.txt`. Padding uses `<|endoftext|>`
    /// (Stable Diffusion 1.x); see [`ClipTokenizer::with_pad_token`].
    pub fn from_files(vocab_json: &Path, merges_txt: &Path) -> Result<Self, TokenizerError> {
        let vocab = read_file(vocab_json)?;
        let merges = read_file(merges_txt)?;
        Self::from_strs(&vocab, &merges)
    }

    /// Loads a tokenizer folder: `vocab.json`, `merges.txt` and, when present,
    /// the pad token named in `special_tokens_map.json` (or else
    /// `tokenizer_config.json`), which is how SD 2.x exports ask for `!`.
    pub fn from_dir(dir: &Path) -> Result<Self, TokenizerError> {
        let tokenizer = Self::from_files(&dir.join("vocab.json"), &dir.join("merges.txt"))?;
        for name in ["special_tokens_map.json", "tokenizer_config.json"] {
            let path = dir.join(name);
            if !path.is_file() {
                continue;
            }
            if let Some(pad) = pad_token_from_config(&read_file(&path)?, name)? {
                return tokenizer.with_pad_token(&pad);
            }
        }
        Ok(tokenizer)
    }

    /// Builds a tokenizer from the contents of `vocab.json` and `merges.txt`.
    ///
    /// As in the reference, the first line of `merges.txt` is a header
    /// (`#version: 0.2`) and is skipped, and at most 48 894 rules are read.
    pub fn from_strs(vocab_json: &str, merges_txt: &str) -> Result<Self, TokenizerError> {
        let vocab = parse_vocab(vocab_json)?;
        let lookup = |token: &str| -> Result<u32, TokenizerError> {
            vocab
                .get(token)
                .copied()
                .ok_or_else(|| TokenizerError::MissingToken(token.to_owned()))
        };

        let alphabet = byte_alphabet();
        let mut byte_ids = [0u32; 256];
        let mut byte_end_ids = [0u32; 256];
        for (byte, ch) in alphabet.iter().enumerate() {
            byte_ids[byte] = lookup(&ch.to_string())?;
            byte_end_ids[byte] = lookup(&format!("{ch}{END_OF_WORD}"))?;
        }
        let bos_id = lookup(START_OF_TEXT)?;
        let eos_id = lookup(END_OF_TEXT)?;
        let merges = parse_merges(merges_txt, &vocab)?;

        Ok(Self {
            vocab,
            merges,
            byte_ids,
            byte_end_ids,
            bos_id,
            eos_id,
            pad_id: eos_id,
            unsplittable: vec![
                (START_OF_TEXT.to_owned(), bos_id),
                (END_OF_TEXT.to_owned(), eos_id),
            ],
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Pads with `token` instead of `<|endoftext|>`; SD 2.x exports use `!`
    /// (id 0). Like the reference, a pad token becomes a special token: where
    /// it appears literally in a prompt it is cut out and encoded alone, so
    /// with `!` as pad, `"wow!!!"` encodes its `!!!` as three pad ids.
    pub fn with_pad_token(mut self, token: &str) -> Result<Self, TokenizerError> {
        let id = self
            .vocab
            .get(token)
            .copied()
            .ok_or_else(|| TokenizerError::MissingToken(token.to_owned()))?;
        self.pad_id = id;
        if !token.is_empty() && self.unsplittable.iter().all(|(t, _)| t != token) {
            self.unsplittable.push((token.to_owned(), id));
            self.unsplittable
                .sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        }
        self.lock_cache().clear();
        Ok(self)
    }

    /// Id of `<|startoftext|>`.
    pub fn bos_id(&self) -> i64 {
        i64::from(self.bos_id)
    }

    /// Id of `<|endoftext|>`.
    pub fn eos_id(&self) -> i64 {
        i64::from(self.eos_id)
    }

    /// Id used for padding (49407 for SD 1.x, 0 for SD 2.x).
    pub fn pad_id(&self) -> i64 {
        i64::from(self.pad_id)
    }

    /// Number of entries in the vocabulary (49408 for CLIP).
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// The prompt's token ids without start/end tokens, padding or
    /// truncation. More than `MAX_LENGTH - 2` ids means [`encode`] will cut
    /// the prompt short.
    ///
    /// [`encode`]: ClipTokenizer::encode
    pub fn tokenize(&self, text: &str) -> Vec<i64> {
        let mut ids = Vec::new();
        self.tokenize_into(text, &mut ids);
        ids.into_iter().map(i64::from).collect()
    }

    /// The [`MAX_LENGTH`] ids for the text encoder: start token, the first 75
    /// text tokens, end token, then the pad id up to 77.
    pub fn encode(&self, text: &str) -> Vec<i64> {
        let mut ids = Vec::with_capacity(MAX_LENGTH);
        ids.push(self.bos_id);
        self.tokenize_into(text, &mut ids);
        ids.truncate(MAX_LENGTH - 1);
        ids.push(self.eos_id);
        ids.resize(MAX_LENGTH, self.pad_id);
        ids.into_iter().map(i64::from).collect()
    }

    fn tokenize_into(&self, text: &str, out: &mut Vec<u32>) {
        let mut rest = text;
        while !rest.is_empty() {
            match self.next_unsplittable(rest) {
                Some((start, token, id)) => {
                    self.tokenize_plain(&rest[..start], out);
                    out.push(id);
                    rest = &rest[start + token.len()..];
                }
                None => {
                    self.tokenize_plain(rest, out);
                    break;
                }
            }
        }
    }

    /// Leftmost (then longest) literal occurrence of a special/pad token.
    fn next_unsplittable<'a>(&'a self, text: &str) -> Option<(usize, &'a str, u32)> {
        let mut best: Option<(usize, &str, u32)> = None;
        for (token, id) in &self.unsplittable {
            if let Some(start) = text.find(token.as_str())
                && best.is_none_or(|(b, _, _)| start < b)
            {
                best = Some((start, token.as_str(), *id));
            }
        }
        best
    }

    /// Normalises and BPE-encodes text that contains no special tokens.
    fn tokenize_plain(&self, text: &str, out: &mut Vec<u32>) {
        if text.is_empty() {
            return;
        }
        let normalized = normalize(text);
        let mut cache = self.lock_cache();
        for piece in PRE_TOKEN.find_iter(&normalized) {
            let piece = piece.as_str();
            if piece == START_OF_TEXT {
                out.push(self.bos_id);
            } else if piece == END_OF_TEXT {
                out.push(self.eos_id);
            } else if let Some(ids) = cache.get(piece) {
                out.extend_from_slice(ids);
            } else {
                let ids = self.bpe(piece.as_bytes());
                out.extend_from_slice(&ids);
                if cache.len() >= CACHE_LIMIT {
                    cache.clear();
                }
                cache.insert(piece.to_owned(), ids);
            }
        }
    }

    /// Byte-level BPE: start from one symbol per byte (the last one carrying
    /// `</w>`), then repeatedly merge every occurrence of the best-ranked
    /// adjacent pair until no pair has a merge rule.
    fn bpe(&self, bytes: &[u8]) -> Vec<u32> {
        let Some((&last, init)) = bytes.split_last() else {
            return Vec::new();
        };
        let mut symbols: Vec<u32> = init
            .iter()
            .map(|&b| self.byte_ids[usize::from(b)])
            .collect();
        symbols.push(self.byte_end_ids[usize::from(last)]);

        while symbols.len() > 1 {
            let best = symbols
                .windows(2)
                .filter_map(|pair| {
                    self.merges
                        .get(&(pair[0], pair[1]))
                        .map(|&(rank, merged)| (rank, pair[0], pair[1], merged))
                })
                .min_by_key(|&(rank, ..)| rank);
            let Some((_, left, right, merged)) = best else {
                break;
            };
            let mut next = Vec::with_capacity(symbols.len());
            let mut i = 0;
            while i < symbols.len() {
                if i + 1 < symbols.len() && symbols[i] == left && symbols[i + 1] == right {
                    next.push(merged);
                    i += 2;
                } else {
                    next.push(symbols[i]);
                    i += 1;
                }
            }
            symbols = next;
        }
        symbols
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u32>>> {
        // The cache only ever holds complete entries, so a poisoned lock is safe to reuse.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Text cleanup of the reference's no-ftfy path (steps 2-4 of the module docs).
fn normalize(text: &str) -> String {
    let dropped = DROPPED.replace_all(text, "");
    let spaced = SPACES.replace_all(&dropped, " ");
    let mut cjk_split = String::with_capacity(spaced.len());
    for ch in spaced.chars() {
        if is_cjk_ideograph(ch) {
            cjk_split.push(' ');
            cjk_split.push(ch);
            cjk_split.push(' ');
        } else {
            cjk_split.push(ch);
        }
    }
    let composed: String = cjk_split.nfc().collect();
    let mut normalized = String::with_capacity(composed.len());
    for word in composed.split_whitespace() {
        if !normalized.is_empty() {
            normalized.push(' ');
        }
        normalized.push_str(&word.to_lowercase());
    }
    normalized
}

/// The CJK blocks the reference surrounds with spaces (unified ideographs,
/// extensions A-E and the compatibility blocks).
fn is_cjk_ideograph(ch: char) -> bool {
    matches!(
        u32::from(ch),
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x2_0000..=0x2_A6DF
            | 0x2_A700..=0x2_B73F
            | 0x2_B740..=0x2_B81F
            | 0x2_B820..=0x2_CEAF
            | 0xF900..=0xFAFF
            | 0x2_F800..=0x2_FA1F
    )
}

/// The printable character standing for each byte in CLIP's vocabulary:
/// bytes that are visible, non-space Latin-1 characters stand for
/// themselves; the others get U+0100, U+0101, ... in byte order.
fn byte_alphabet() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next_free = 256u32;
    for (byte, slot) in (0u32..).zip(table.iter_mut()) {
        let visible = matches!(byte, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF);
        let code = if visible {
            byte
        } else {
            next_free += 1;
            next_free - 1
        };
        *slot = char::from_u32(code).expect("byte alphabet stays below the surrogate range");
    }
    table
}

fn read_file(path: &Path) -> Result<String, TokenizerError> {
    std::fs::read_to_string(path).map_err(|source| TokenizerError::Io {
        path: path.to_owned(),
        source,
    })
}

fn parse_vocab(json: &str) -> Result<HashMap<String, u32>, TokenizerError> {
    let entries: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json).map_err(|err| TokenizerError::InvalidJson {
            file: "vocab.json",
            reason: err.to_string(),
        })?;
    entries
        .into_iter()
        .map(
            |(token, value)| match value.as_u64().and_then(|id| u32::try_from(id).ok()) {
                Some(id) => Ok((token, id)),
                None => Err(TokenizerError::InvalidId {
                    token,
                    value: value.to_string(),
                }),
            },
        )
        .collect()
}

fn parse_merges(text: &str, vocab: &HashMap<String, u32>) -> Result<MergeTable, TokenizerError> {
    let id = |token: &str, line: usize| {
        vocab
            .get(token)
            .copied()
            .ok_or_else(|| TokenizerError::UnknownMergeToken {
                line,
                token: token.to_owned(),
            })
    };
    let mut merges = HashMap::new();
    // Like the reference: trim the file, skip the header line, read at most
    // MAX_MERGES lines; a rule's rank is its position, a repeated rule keeps
    // its last rank, blank lines only use up a position.
    let lines = text.trim().split('\n').enumerate().skip(1).take(MAX_MERGES);
    for (rank, (index, line)) in (0u32..).zip(lines) {
        let number = index + 1;
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            [] => {}
            [left, right] => {
                let pair = (id(left, number)?, id(right, number)?);
                let merged = id(&format!("{left}{right}"), number)?;
                merges.insert(pair, (rank, merged));
            }
            _ => {
                return Err(TokenizerError::MalformedMerge {
                    line: number,
                    text: line.to_owned(),
                });
            }
        }
    }
    Ok(merges)
}

/// The `pad_token` a Hugging Face tokenizer config names, as a plain string
/// or as an `{"content": ...}` added-token object.
fn pad_token_from_config(json: &str, file: &'static str) -> Result<Option<String>, TokenizerError> {
    let config: serde_json::Value =
        serde_json::from_str(json).map_err(|err| TokenizerError::InvalidJson {
            file,
            reason: err.to_string(),
        })?;
    let pad = match config.get("pad_token") {
        Some(serde_json::Value::String(token)) => Some(token.clone()),
        Some(serde_json::Value::Object(token)) => token
            .get("content")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        _ => None,
    };
    Ok(pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/diffusion/tokenizer.json"
    );
    const TOKENIZER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/tiny-sd/tokenizer/");

    fn clip() -> ClipTokenizer {
        let dir = Path::new(TOKENIZER_DIR);
        ClipTokenizer::from_files(&dir.join("vocab.json"), &dir.join("merges.txt"))
            .expect("load models/tiny-sd/tokenizer")
    }

    fn fixture_cases(key: &str) -> Vec<(String, Vec<i64>)> {
        let text = std::fs::read_to_string(FIXTURE).expect("read tokenizer fixture");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("fixture is JSON");
        doc[key]
            .as_array()
            .unwrap_or_else(|| panic!("fixture has no {key:?} list"))
            .iter()
            .map(|case| {
                let text = case["text"].as_str().expect("case text").to_owned();
                let ids = case["ids"]
                    .as_array()
                    .expect("case ids")
                    .iter()
                    .map(|id| id.as_i64().expect("integer id"))
                    .collect();
                (text, ids)
            })
            .collect()
    }

    fn assert_matches_fixture(tokenizer: &ClipTokenizer, key: &str, min_cases: usize) {
        let cases = fixture_cases(key);
        assert!(cases.len() >= min_cases, "only {} {key}", cases.len());
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|(text, expected)| {
                let got = tokenizer.encode(text);
                (&got != expected)
                    .then(|| format!("{text:?}\n  expected {expected:?}\n  got      {got:?}"))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} of {} {key} differ:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn matches_reference_fixture() {
        assert_matches_fixture(&clip(), "cases", 30);
    }

    #[test]
    fn matches_reference_fixture_with_sd2_padding() {
        let tokenizer = clip().with_pad_token("!").expect("'!' is in the vocab");
        assert_eq!(tokenizer.pad_id(), 0);
        assert_matches_fixture(&tokenizer, "sd2_cases", 1);
    }

    #[test]
    fn fixture_is_stable_across_repeated_and_cached_calls() {
        let tokenizer = clip();
        for (text, expected) in fixture_cases("cases").iter().rev() {
            assert_eq!(&tokenizer.encode(text), expected, "{text:?} (second pass)");
        }
    }

    #[test]
    fn known_ids_and_layout() {
        let tokenizer = clip();
        assert_eq!(tokenizer.vocab_size(), 49408);
        assert_eq!(
            (tokenizer.bos_id(), tokenizer.eos_id(), tokenizer.pad_id()),
            (49406, 49407, 49407)
        );
        assert_eq!(
            tokenizer.tokenize("a photo of a cat"),
            vec![320, 1125, 539, 320, 2368]
        );
        let ids = tokenizer.encode("a photo of a cat");
        assert_eq!(ids.len(), MAX_LENGTH);
        assert_eq!(&ids[..7], &[49406, 320, 1125, 539, 320, 2368, 49407]);
        assert!(ids[7..].iter().all(|&id| id == 49407));
        assert_eq!(tokenizer.tokenize(""), Vec::<i64>::new());
    }

    #[test]
    fn truncates_so_the_end_token_is_last() {
        let tokenizer = clip();
        let text = "dragon ".repeat(200);
        assert_eq!(tokenizer.tokenize(&text).len(), 200);
        let ids = tokenizer.encode(&text);
        assert_eq!(ids.len(), MAX_LENGTH);
        assert_eq!(ids[0], 49406);
        assert_eq!(ids[MAX_LENGTH - 1], 49407);
        assert!(ids[1..MAX_LENGTH - 1].iter().all(|&id| id == ids[1]));
    }

    #[test]
    fn normalization_steps() {
        assert_eq!(normalize("  Hello\t\tWORLD\r\n"), "hello world");
        assert_eq!(normalize("cafe\u{301}"), "caf\u{e9}");
        assert_eq!(
            normalize("\u{6771}\u{4eac}\u{306e}"),
            "\u{6771} \u{4eac} \u{306e}"
        );
        assert_eq!(
            normalize("zero\u{200b}width\u{a0}nbsp\u{0}"),
            "zerowidth nbsp"
        );
        assert_eq!(normalize("\u{3a3}\u{391}\u{3a3}"), "\u{3c3}\u{3b1}\u{3c2}");
        assert_eq!(normalize("&amp;"), "&amp;");
    }

    #[test]
    fn byte_alphabet_is_a_bijection_onto_the_clip_alphabet() {
        let table = byte_alphabet();
        assert_eq!(table[usize::from(b'a')], 'a');
        assert_eq!(table[usize::from(b' ')], '\u{120}');
        assert_eq!(table[0], '\u{100}');
        assert_eq!(table[0xAD], '\u{143}');
        let mut sorted = table.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 256);
    }

    /// A minimal vocabulary: the byte alphabet, the special tokens and the
    /// tokens produced by `merges`.
    fn tiny(merges: &[(&str, &str)]) -> (String, String) {
        let mut tokens: Vec<String> = byte_alphabet().iter().map(char::to_string).collect();
        tokens.extend(byte_alphabet().iter().map(|c| format!("{c}</w>")));
        tokens.extend(merges.iter().map(|(l, r)| format!("{l}{r}")));
        tokens.push(START_OF_TEXT.to_owned());
        tokens.push(END_OF_TEXT.to_owned());
        let vocab: serde_json::Map<String, serde_json::Value> = tokens
            .into_iter()
            .zip(0u32..)
            .map(|(token, id)| (token, id.into()))
            .collect();
        let mut merges_txt = String::from("#version: 0.2\n");
        for (left, right) in merges {
            merges_txt.push_str(&format!("{left} {right}\n"));
        }
        (serde_json::Value::Object(vocab).to_string(), merges_txt)
    }

    #[test]
    fn from_strs_applies_merges_by_rank() {
        let (vocab, merges) = tiny(&[("h", "i</w>"), ("h", "i"), ("hi", "hi</w>")]);
        let tokenizer = ClipTokenizer::from_strs(&vocab, &merges).expect("tiny tokenizer");
        let id = |token: &str| i64::from(tokenizer.vocab[token]);
        assert_eq!(tokenizer.tokenize("hi"), vec![id("hi</w>")]);
        assert_eq!(tokenizer.tokenize("hihi"), vec![id("hihi</w>")]);
        assert_eq!(tokenizer.tokenize("hih"), vec![id("hi"), id("h</w>")]);
        assert_eq!(tokenizer.eos_id(), tokenizer.pad_id());
    }

    #[test]
    fn rejects_broken_files() {
        let (vocab, merges) = tiny(&[("h", "i")]);
        assert!(matches!(
            ClipTokenizer::from_strs("[1, 2]", &merges),
            Err(TokenizerError::InvalidJson {
                file: "vocab.json",
                ..
            })
        ));
        assert!(matches!(
            ClipTokenizer::from_strs(r#"{"a": -1}"#, &merges),
            Err(TokenizerError::InvalidId { .. })
        ));
        assert!(matches!(
            ClipTokenizer::from_strs(r#"{"a": 0}"#, &merges),
            Err(TokenizerError::MissingToken(_))
        ));
        assert!(matches!(
            ClipTokenizer::from_strs(&vocab, "#version: 0.2\nh i x\n"),
            Err(TokenizerError::MalformedMerge { line: 2, .. })
        ));
        let err = ClipTokenizer::from_strs(&vocab, "#version: 0.2\nh i\nq z\n").unwrap_err();
        assert!(
            matches!(err, TokenizerError::UnknownMergeToken { line: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("\"qz\""), "{err}");
        let tokenizer = ClipTokenizer::from_strs(&vocab, &merges).expect("tiny tokenizer");
        assert!(matches!(
            tokenizer.with_pad_token("<pad>"),
            Err(TokenizerError::MissingToken(token)) if token == "<pad>"
        ));
        let missing = Path::new("/nonexistent/vocab.json");
        let err = ClipTokenizer::from_files(missing, missing).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/vocab.json"), "{err}");
    }

    #[test]
    fn reads_pad_token_from_configs() {
        let read = |json: &str| pad_token_from_config(json, "special_tokens_map.json").unwrap();
        assert_eq!(read(r#"{"pad_token": "!"}"#).as_deref(), Some("!"));
        assert_eq!(
            read(r#"{"pad_token": {"content": "<|endoftext|>", "lstrip": false}}"#).as_deref(),
            Some(END_OF_TEXT)
        );
        assert_eq!(read(r#"{"bos_token": "<|startoftext|>"}"#), None);
        assert!(pad_token_from_config("not json", "tokenizer_config.json").is_err());
    }

    #[test]
    fn from_dir_uses_the_configured_pad_token() {
        let dir = std::env::temp_dir().join(format!("clip-tokenizer-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        for name in ["vocab.json", "merges.txt"] {
            std::fs::copy(Path::new(TOKENIZER_DIR).join(name), dir.join(name)).expect("copy");
        }
        let sd1 = ClipTokenizer::from_dir(&dir).expect("load dir");
        std::fs::write(dir.join("special_tokens_map.json"), r#"{"pad_token": "!"}"#)
            .expect("write");
        let sd2 = ClipTokenizer::from_dir(&dir).expect("load dir with pad");
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(sd1.pad_id(), 49407);
        assert_eq!(sd2.pad_id(), 0);
        assert_eq!(&sd2.encode("wow!!!")[..6], &[49406, 2781, 0, 0, 0, 49407]);
        assert_eq!(&sd1.encode("wow!!!")[..4], &[49406, 2781, 995, 49407]);
    }
}
