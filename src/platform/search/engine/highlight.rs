//! Query words and highlighting.
//!
//! Owns the rule for when a word of stored text matches a word of the query
//! (exact, within the allowed edit distance, or as a prefix for the last word),
//! which the engine mirrors in its tantivy query, and the rendering of stored
//! text as escaped HTML with those words wrapped in `<mark>`: whole titles, and
//! the densest fragment of a body. tantivy's `SnippetGenerator` only marks exact
//! terms, hence this module.

use std::ops::Range;

use tantivy::tokenizer::{TextAnalyzer, TokenStream};

/// The last query word matches as a prefix only from this many characters on.
const MIN_PREFIX_CHARS: usize = 2;
/// Edits allowed in a prefix match (of words long enough to allow any).
const MAX_PREFIX_EDITS: u8 = 1;
/// Longest fragment, in characters, not counting the ellipses.
const SNIPPET_MAX_CHARS: usize = 160;
/// How much text to keep before the first marked word of a fragment.
const SNIPPET_LEAD_CHARS: usize = 30;
/// Marked words tried as fragment anchors (bounds the work on huge bodies).
const SNIPPET_MAX_ANCHORS: usize = 64;
const ELLIPSIS: &str = "…";

/// One analyzed word of the user's query and how loosely it may match.
#[derive(Debug, Clone)]
pub(super) struct QueryWord {
    pub(super) text: String,
    chars: Vec<char>,
    /// Edit distance allowed (Levenshtein, an adjacent transposition counting as one).
    pub(super) max_edits: u8,
    /// The last word also matches as a prefix (as-you-type search).
    pub(super) is_prefix: bool,
    /// Edit distance allowed between the word and a prefix of a stored word.
    pub(super) prefix_edits: u8,
}

impl QueryWord {
    pub(super) fn new(text: String, is_last: bool) -> Self {
        let chars: Vec<char> = text.chars().collect();
        let max_edits = match chars.len() {
            0..=3 => 0,
            4..=7 => 1,
            _ => 2,
        };
        let is_prefix = is_last && chars.len() >= MIN_PREFIX_CHARS;
        Self {
            text,
            chars,
            max_edits,
            is_prefix,
            prefix_edits: max_edits.min(MAX_PREFIX_EDITS),
        }
    }

    /// Whether an analyzed word of stored text matches, as the index query would.
    fn matches(&self, word: &str) -> bool {
        if word == self.text || (self.is_prefix && word.starts_with(&self.text)) {
            return true;
        }
        let word: Vec<char> = word.chars().collect();
        if self.max_edits > 0 && within_edit_distance(&self.chars, &word, self.max_edits.into()) {
            return true;
        }
        self.is_prefix && self.prefix_edits > 0 && self.is_fuzzy_prefix_of(&word)
    }

    /// Whether some prefix of `word` is within `prefix_edits` of this word.
    fn is_fuzzy_prefix_of(&self, word: &[char]) -> bool {
        let edits = usize::from(self.prefix_edits);
        let shortest = self.chars.len().saturating_sub(edits);
        let longest = (self.chars.len() + edits).min(word.len());
        (shortest..=longest).any(|len| within_edit_distance(&self.chars, &word[..len], edits))
    }
}

/// Whether the optimal-string-alignment distance (Levenshtein plus adjacent
/// transpositions) between `a` and `b` is at most `max_edits`.
fn within_edit_distance(a: &[char], b: &[char], max_edits: usize) -> bool {
    if a.len().abs_diff(b.len()) > max_edits {
        return false;
    }
    let width = b.len() + 1;
    let mut before_previous = vec![0usize; width];
    let mut previous: Vec<usize> = (0..width).collect();
    let mut current = vec![0usize; width];
    for i in 1..=a.len() {
        current[0] = i;
        let mut row_min = i;
        for j in 1..=b.len() {
            let substitution = usize::from(a[i - 1] != b[j - 1]);
            let mut distance = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + substitution);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                distance = distance.min(before_previous[j - 2] + 1);
            }
            current[j] = distance;
            row_min = row_min.min(distance);
        }
        if row_min > max_edits {
            return false;
        }
        std::mem::swap(&mut before_previous, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()] <= max_edits
}

/// A word of stored text: its byte range and whether it matches a query word.
struct WordSpan {
    bytes: Range<usize>,
    marked: bool,
}

fn word_spans(analyzer: &mut TextAnalyzer, text: &str, words: &[QueryWord]) -> Vec<WordSpan> {
    let mut stream = analyzer.token_stream(text);
    let mut spans = Vec::new();
    while stream.advance() {
        let token = stream.token();
        spans.push(WordSpan {
            bytes: token.offset_from..token.offset_to,
            marked: words.iter().any(|word| word.matches(&token.text)),
        });
    }
    spans
}

/// All of `text` as escaped HTML with matching words marked.
pub(super) fn highlight_all(
    analyzer: &mut TextAnalyzer,
    text: &str,
    words: &[QueryWord],
) -> String {
    render_marked(text, 0..text.len(), &word_spans(analyzer, text, words))
}

/// The fragment of `text` (at most [`SNIPPET_MAX_CHARS`], cut at word
/// boundaries, "…" where cut) holding the most matching words, as escaped
/// HTML; `None` if no word matches.
pub(super) fn best_fragment(
    analyzer: &mut TextAnalyzer,
    text: &str,
    words: &[QueryWord],
) -> Option<String> {
    let spans = word_spans(analyzer, text, words);
    let anchors = spans
        .iter()
        .enumerate()
        .filter(|(_, span)| span.marked)
        .map(|(index, _)| index)
        .take(SNIPPET_MAX_ANCHORS);
    let mut best: Option<(usize, Range<usize>)> = None;
    for anchor in anchors {
        let window = fragment_around(text, &spans, anchor);
        let marked_count = marked_within(&spans, &window).count();
        if best.as_ref().is_none_or(|(count, _)| marked_count > *count) {
            best = Some((marked_count, window));
        }
    }
    let (_, window) = best?;
    let mut html = String::new();
    if window.start > 0 {
        html.push_str(ELLIPSIS);
    }
    html.push_str(&render_marked(text, window.clone(), &spans));
    if window.end < text.len() {
        html.push_str(ELLIPSIS);
    }
    Some(html)
}

/// Byte range of a fragment starting a little before `spans[anchor]`, cut at
/// word boundaries; near the end of `text` it starts earlier to fill the room.
fn fragment_around(text: &str, spans: &[WordSpan], anchor: usize) -> Range<usize> {
    let anchor_bytes = spans[anchor].bytes.clone();
    let lead_start = nth_char_back(&text[..anchor_bytes.start], SNIPPET_LEAD_CHARS);
    let start = first_word_from(spans, lead_start).min(anchor_bytes.start);
    let Some((limit, _)) = text[start..].char_indices().nth(SNIPPET_MAX_CHARS) else {
        let tail_start = nth_char_back(text, SNIPPET_MAX_CHARS);
        return first_word_from(spans, tail_start).min(start)..text.len();
    };
    let end = spans
        .iter()
        .map(|span| span.bytes.end)
        .take_while(|&word_end| word_end <= start + limit)
        .last()
        .unwrap_or(anchor_bytes.end)
        .max(anchor_bytes.end);
    start..end
}

/// Byte offset of the `count`-th character from the end of `text`, 0 if it is shorter.
fn nth_char_back(text: &str, count: usize) -> usize {
    text.char_indices()
        .rev()
        .nth(count - 1)
        .map_or(0, |(byte, _)| byte)
}

/// Start of the first word at or after `byte`, or 0 when `byte` is 0.
fn first_word_from(spans: &[WordSpan], byte: usize) -> usize {
    if byte == 0 {
        return 0;
    }
    spans
        .iter()
        .map(|span| span.bytes.start)
        .find(|&word_start| word_start >= byte)
        .unwrap_or(usize::MAX)
}

fn marked_within<'a>(
    spans: &'a [WordSpan],
    window: &'a Range<usize>,
) -> impl Iterator<Item = &'a WordSpan> {
    spans.iter().filter(|span| {
        span.marked && span.bytes.start >= window.start && span.bytes.end <= window.end
    })
}

/// Escapes `text[window]` as HTML, wrapping marked words in `<mark>`.
fn render_marked(text: &str, window: Range<usize>, spans: &[WordSpan]) -> String {
    let mut html = String::with_capacity(window.len() + 16);
    let mut cursor = window.start;
    for span in marked_within(spans, &window) {
        escape_html_into(&mut html, &text[cursor..span.bytes.start]);
        html.push_str("<mark>");
        escape_html_into(&mut html, &text[span.bytes.clone()]);
        html.push_str("</mark>");
        cursor = span.bytes.end;
    }
    escape_html_into(&mut html, &text[cursor..window.end]);
    html
}

fn escape_html_into(html: &mut String, text: &str) {
    for character in text.chars() {
        match character {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            other => html.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::word_analyzer;
    use super::*;

    fn words(text: &str) -> Vec<QueryWord> {
        let parts: Vec<&str> = text.split(' ').collect();
        let last = parts.len() - 1;
        parts
            .into_iter()
            .enumerate()
            .map(|(index, part)| QueryWord::new(part.to_owned(), index == last))
            .collect()
    }

    fn fragment(text: &str, query: &str) -> Option<String> {
        best_fragment(&mut word_analyzer(), text, &words(query))
    }

    fn visible_chars(html: &str) -> usize {
        html.replace("<mark>", "")
            .replace("</mark>", "")
            .chars()
            .count()
    }

    #[test]
    fn edit_distance_counts_a_transposition_once() {
        let within = |a: &str, b: &str, max| {
            within_edit_distance(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
                max,
            )
        };
        assert!(within("dargon", "dragon", 1));
        assert!(within("lanscape", "landscape", 1));
        assert!(within("mountian", "mountain", 1));
        assert!(!within("drag", "dragon", 1));
        assert!(within("drag", "dragon", 2));
        assert!(within("", "ab", 2));
        assert!(!within("cafe", "tea", 2));
        assert!(within("日本語", "日本人", 1));
    }

    #[test]
    fn words_match_exactly_fuzzily_or_as_last_prefix() {
        let query = words("dargon cat dra");
        let matching = |word: &str| query.iter().any(|query_word| query_word.matches(word));
        assert!(matching("dragon") && matching("cat") && matching("drama"));
        assert!(!matching("car") && !matching("dargonfly") && !matching("dro"));
        assert!(!QueryWord::new("d".to_owned(), true).matches("dragon"));
        let typing = QueryWord::new("dargo".to_owned(), true);
        assert!(typing.matches("dragonfly") && typing.matches("cargo") && !typing.matches("drug"));
        assert!(!QueryWord::new("dargo".to_owned(), false).matches("dragonfly"));
    }

    #[test]
    fn fragment_is_the_densest_window_cut_at_words() {
        let filler = "lorem ipsum dolor sit amet ".repeat(20);
        let text = format!(
            "{filler}one dragon here {filler}the red dragon sleeps by a dragon egg {filler}"
        );
        let html = fragment(&text, "dragon").unwrap();
        assert!(
            html.starts_with(ELLIPSIS) && html.ends_with(ELLIPSIS),
            "{html}"
        );
        assert_eq!(html.matches("<mark>dragon</mark>").count(), 2, "{html}");
        assert!(html.contains("red <mark>dragon</mark> sleeps"), "{html}");
        assert!(visible_chars(&html) <= SNIPPET_MAX_CHARS + 2, "{html}");
        let inner = html.trim_matches(|c| c == '…');
        assert!(inner.starts_with(char::is_alphanumeric) && inner.ends_with(char::is_alphanumeric));

        assert_eq!(
            fragment("short dragon text", "dragon").unwrap(),
            "short <mark>dragon</mark> text"
        );
        let opening = fragment(&"the dragon opens a long text ".repeat(20), "dragon").unwrap();
        assert!(
            opening.starts_with("the <mark>dragon</mark> opens"),
            "{opening}"
        );
        assert!(opening.ends_with(ELLIPSIS), "{opening}");
        let ending = format!("{}the last word is dragon.", "filler text ".repeat(11));
        assert_eq!(
            fragment(&ending, "dragon").unwrap(),
            ending.replace("dragon", "<mark>dragon</mark>")
        );
        assert_eq!(fragment("no match here", "dragon"), None);
        assert_eq!(fragment("", "dragon"), None);
    }

    #[test]
    fn multibyte_text_is_cut_on_char_boundaries() {
        let text = "日本語のテキスト 🐉 ".repeat(40) + "dragon " + &"é".repeat(300);
        let html = fragment(&text, "dragon").unwrap();
        assert!(html.contains("<mark>dragon</mark>"));
        assert!(visible_chars(&html) <= SNIPPET_MAX_CHARS + 2, "{html}");
        let html = fragment(&"日本語 ".repeat(100), "日本").unwrap();
        assert!(html.starts_with("<mark>日本語</mark> "), "{html}");
    }

    #[test]
    fn everything_but_marks_is_escaped() {
        let html = highlight_all(
            &mut word_analyzer(),
            "<b>\"Tom & Jerry's\"</b>",
            &words("jerry"),
        );
        assert_eq!(
            html,
            "&lt;b&gt;&quot;Tom &amp; <mark>Jerry</mark>&#39;s&quot;&lt;/b&gt;"
        );
    }
}
