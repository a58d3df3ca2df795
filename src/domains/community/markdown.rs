//! The Markdown subset of post descriptions and comments, rendered to safe HTML.
//!
//! Only what the renderer below emits can reach a page: paragraphs, line breaks,
//! emphasis, strong, strikethrough, inline and block code, quotes, lists, and links to
//! `http`, `https` and `mailto` addresses (marked `nofollow ugc`). Headings become bold
//! paragraphs, images their alt text, raw HTML plain text. `@username` becomes a link
//! to the profile. Everything else is escaped.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::platform::mail::html_escape;

fn parser(text: &str) -> Parser<'_> {
    Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH)
}

/// Whether a link may be followed from a page.
fn safe_href(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:")
}

/// The `@username`s in `text`, in order, without repeats.
/// Only text counts, as rendered: not code, not link addresses.
pub fn mentions(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for event in parser(text) {
        let Event::Text(text) = event else { continue };
        for (_, name) in mention_spans(&text) {
            if !found.iter().any(|f| f.eq_ignore_ascii_case(name)) {
                found.push(name.to_string());
            }
        }
    }
    found
}

/// `(byte offset of '@', username)` for each mention: an `@` at the start or after a
/// character that cannot be part of an email address, then a username (3 to 30
/// letters, digits, `_` or `.`; a final `.` ends the sentence, not the name).
fn mention_spans(text: &str) -> Vec<(usize, &str)> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    let mut spans = Vec::new();
    let mut previous: Option<char> = None;
    for (i, c) in text.char_indices() {
        if c == '@' && !previous.is_some_and(|p| is_name(p) || p == '.' || p == '@') {
            let rest = &text[i + 1..];
            let end = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
            let name = rest[..end].trim_end_matches('.');
            if (3..=30).contains(&name.len()) {
                spans.push((i, name));
            }
        }
        previous = Some(c);
    }
    spans
}

/// Escaped text with its mentions linked to profiles.
fn push_text(out: &mut String, text: &str) {
    let mut at = 0;
    for (start, name) in mention_spans(text) {
        // Names are ASCII letters, digits, '_' and '.': nothing to escape.
        out.push_str(&html_escape(&text[at..start]));
        out.push_str(&format!(
            "<a class=\"mention\" href=\"/u/{name}\">@{name}</a>"
        ));
        at = start + 1 + name.len();
    }
    out.push_str(&html_escape(&text[at..]));
}

/// Renders the Markdown subset to HTML that is safe to put in any page.
pub fn render(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    // Links to refused addresses keep their text but lose the anchor.
    let mut open_links: Vec<bool> = Vec::new();
    let mut in_image = 0usize;
    for event in parser(text) {
        if in_image > 0 {
            match event {
                Event::Start(Tag::Image { .. }) => in_image += 1,
                Event::End(TagEnd::Image) => in_image -= 1,
                Event::Text(t) | Event::Code(t) => push_text(&mut out, &t),
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(tag) => match tag {
                Tag::Paragraph | Tag::Heading { .. } => out.push_str("<p>"),
                Tag::BlockQuote(_) => out.push_str("<blockquote>"),
                Tag::CodeBlock(_) => out.push_str("<pre><code>"),
                Tag::List(Some(1)) => out.push_str("<ol>"),
                Tag::List(Some(start)) => out.push_str(&format!("<ol start=\"{start}\">")),
                Tag::List(None) => out.push_str("<ul>"),
                Tag::Item => out.push_str("<li>"),
                Tag::Emphasis => out.push_str("<em>"),
                Tag::Strong => out.push_str("<strong>"),
                Tag::Strikethrough => out.push_str("<del>"),
                Tag::Link { dest_url, .. } => {
                    let safe = safe_href(&dest_url);
                    if safe {
                        out.push_str(&format!(
                            "<a href=\"{}\" rel=\"nofollow ugc noopener\">",
                            html_escape(dest_url.trim())
                        ));
                    }
                    open_links.push(safe);
                }
                Tag::Image { .. } => in_image = 1,
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Paragraph | TagEnd::Heading(_) => out.push_str("</p>"),
                TagEnd::BlockQuote(_) => out.push_str("</blockquote>"),
                TagEnd::CodeBlock => out.push_str("</code></pre>"),
                TagEnd::List(true) => out.push_str("</ol>"),
                TagEnd::List(false) => out.push_str("</ul>"),
                TagEnd::Item => out.push_str("</li>"),
                TagEnd::Emphasis => out.push_str("</em>"),
                TagEnd::Strong => out.push_str("</strong>"),
                TagEnd::Strikethrough => out.push_str("</del>"),
                TagEnd::Link if open_links.pop() == Some(true) => out.push_str("</a>"),
                _ => {}
            },
            Event::Text(text) | Event::Html(text) | Event::InlineHtml(text) => {
                push_text(&mut out, &text)
            }
            Event::Code(code) => {
                out.push_str("<code>");
                out.push_str(&html_escape(&code));
                out.push_str("</code>");
            }
            Event::SoftBreak => out.push('\n'),
            Event::HardBreak => out.push_str("<br>"),
            Event::Rule => out.push_str("<hr>"),
            _ => {}
        }
    }
    out
}

/// The text without its markup, for search, previews and page descriptions.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for event in parser(text) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                out.push_str(&t)
            }
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            Event::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item) => out.push(' '),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_subset() {
        assert_eq!(
            render("Hello **bold** _em_ `code`"),
            "<p>Hello <strong>bold</strong> <em>em</em> <code>code</code></p>"
        );
        assert_eq!(render("- a\n- b"), "<ul><li>a</li><li>b</li></ul>");
        assert_eq!(render("# Title"), "<p>Title</p>");
        assert_eq!(
            render("[site](https://example.org/a?b=1&c=2)"),
            "<p><a href=\"https://example.org/a?b=1&amp;c=2\" rel=\"nofollow ugc noopener\">site</a></p>"
        );
    }

    /// The only tags the renderer writes.
    const ALLOWED: [&str; 13] = [
        "p",
        "br",
        "hr",
        "em",
        "strong",
        "del",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "a",
    ];

    #[test]
    fn nothing_unsafe_gets_through() {
        for hostile in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[x](javascript:alert(1))",
            "[x]( JAVASCRIPT:alert(1))",
            "![alt <b>](javascript:alert(1))",
            "<a href=\"javascript:x\">y</a>",
            "[x](data:text/html,<script>)",
            "\"><svg onload=alert(1)>",
        ] {
            let html = render(hostile);
            for tag in html.split('<').skip(1) {
                let name = tag.split([' ', '>']).next().unwrap_or("");
                assert!(
                    ALLOWED.contains(&name.trim_start_matches('/')),
                    "{hostile} → {html}"
                );
                if name == "a" {
                    assert!(
                        tag.starts_with("a href=\"http") || tag.starts_with("a class=\"mention\""),
                        "{hostile} → {html}"
                    );
                }
            }
        }
        assert_eq!(render("![a cat](https://x/cat.png)"), "<p>a cat</p>");
    }

    #[test]
    fn mentions_are_found_and_linked() {
        assert_eq!(
            mentions("thanks @ann_b and @Bob.9, @ANN_B again; mail me@example.org, @x. Bye @carl."),
            vec!["ann_b", "Bob.9", "carl"]
        );
        assert_eq!(
            render("hi @ann"),
            "<p>hi <a class=\"mention\" href=\"/u/ann\">@ann</a></p>"
        );
        assert_eq!(render("`@ann`"), "<p><code>@ann</code></p>");
        assert!(mentions("`@ann` and [x](https://example.org/@bob)").is_empty());
    }

    #[test]
    fn plain_text_drops_markup() {
        assert_eq!(
            plain("# Dragon\n\nA **red** [dragon](https://x)\n\n- one\n- two"),
            "Dragon A red dragon one two"
        );
    }
}
