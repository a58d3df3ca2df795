//! Runs the browser tests (`tests/browser/*.test.mjs`, Playwright driving headless
//! Chromium) against a real server with a real SMTP server behind it.
//! `BROWSER_TEST=meshes` runs only `tests/browser/meshes.test.mjs`.

mod support;

use std::path::Path;
use std::process::Command;

use support::Server;

#[tokio::test]
async fn browser_end_to_end() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `scripts/setup.sh test` (part of `make test`)"
    );
    let server = Server::start_with(&[("STRATAMAKE_GENERATION__ALLOW_TEST_MODELS", "true")]).await;
    server.admin().await;
    let screenshots = std::env::var("SCREENSHOT_DIR").ok();
    let mut command = Command::new("node");
    command
        .current_dir(root)
        .args(["--test", "--test-reporter=spec"])
        .arg(match std::env::var("BROWSER_TEST") {
            Ok(name) => format!("tests/browser/{name}.test.mjs"),
            Err(_) => "tests/browser/".into(),
        })
        .env("STRATAMAKE_URL", &server.url)
        .env("MAIL_DIR", &server.smtp.dir)
        .env("ADMIN_LOGIN", "boss")
        .env("ADMIN_PASSWORD", support::PASSWORD)
        .env("TINY_MODEL_DIR", root.join("models/tiny-sd"));
    if let Some(dir) = screenshots {
        command.env("SCREENSHOT_DIR", dir);
    }
    let status = command
        .status()
        .expect("node is needed for the browser tests");
    assert!(status.success(), "the browser tests failed");
}
