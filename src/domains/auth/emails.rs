//! The mails the auth domain sends, each as plain text plus HTML with the install's name
//! and links built from the configured public URL.

use crate::app::AppState;
use crate::platform::mail::{OutgoingMail, html_escape};

/// One mail: a greeting, paragraphs and an optional button.
pub struct Compose<'a> {
    pub to: &'a str,
    pub user_id: Option<&'a str>,
    pub kind: &'static str,
    pub subject: &'a str,
    pub paragraphs: &'a [String],
    pub action: Option<(&'a str, String)>,
}

pub fn compose(state: &AppState, mail: Compose<'_>) -> OutgoingMail {
    let name = &state.config.instance_name;
    let mut text = String::from("Hello,\n\n");
    let mut html = String::from(
        "<!doctype html><html><body style=\"font-family:system-ui,sans-serif;color:#1d1b26;\
         background:#f6f5fb;padding:24px\"><div style=\"max-width:520px;margin:auto;\
         background:#fff;border-radius:12px;padding:28px\">",
    );
    html.push_str(&format!(
        "<p style=\"font-weight:700;color:#6d4aff;margin-top:0\">{}</p><p>Hello,</p>",
        html_escape(name)
    ));
    for paragraph in mail.paragraphs {
        text.push_str(paragraph);
        text.push_str("\n\n");
        html.push_str(&format!("<p>{}</p>", html_escape(paragraph)));
    }
    if let Some((label, url)) = &mail.action {
        text.push_str(&format!("{label}:\n{url}\n\n"));
        html.push_str(&format!(
            "<p><a href=\"{u}\" style=\"display:inline-block;background:#6d4aff;color:#fff;\
             padding:10px 18px;border-radius:8px;text-decoration:none\">{l}</a></p>\
             <p style=\"font-size:12px;color:#666\">Or open this link: {u}</p>",
            u = html_escape(url),
            l = html_escape(label)
        ));
    }
    text.push_str(&format!("— {name}\n{}\n", state.config.public_base()));
    html.push_str(&format!(
        "<p style=\"font-size:12px;color:#666\">— {}</p></div></body></html>",
        html_escape(name)
    ));
    OutgoingMail {
        user_id: mail.user_id.map(str::to_string),
        to: mail.to.to_string(),
        subject: format!("{}: {}", name, mail.subject),
        kind: mail.kind,
        text,
        html,
        unsubscribe_url: None,
    }
}

/// A link into the web UI.
pub fn link(state: &AppState, path: &str, token: &str) -> String {
    format!("{}{path}?token={token}", state.config.public_base())
}
