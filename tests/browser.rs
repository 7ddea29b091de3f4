//! The page in a real browser, as part of `cargo test`: starts the real
//! server on 127.0.0.1:0 with the generator on, and runs
//! `tests/browser/page.test.mjs` (Node + playwright-core driving Debian's
//! headless Chromium) against it. The screenshot lands in
//! `target/browser/page.png`.
//!
//! Without Chromium or `tests/browser/node_modules` (`npm ci --prefix
//! tests/browser`) the test says "skipped" and passes — unless `CI` is set,
//! where a skipped browser test would be a silent hole, so it fails.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{Server, wait_bounded};

const CHROMIUM: &str = "/usr/bin/chromium";
/// The whole browser run; every step inside has its own, shorter bound.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(150);
/// Messages per second from the generator, so every lane has traffic.
const RATE: f64 = 4.0;

/// Loads the page in headless Chromium: four live lanes, publishing, HTML
/// shown as text, the other-tabs notice, no console errors.
#[test]
fn the_page_works_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(missing) = missing_tools(root) {
        if std::env::var_os("CI").is_some() {
            panic!("the browser test cannot run in CI: {missing}");
        }
        // Straight to stderr: libtest would swallow a println! of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: the browser test needs {missing}"
        );
        return;
    }

    let server = Server::start(pushlab::Config {
        rate: RATE,
        workers: Some(2),
        ..pushlab::Config::default()
    });
    let screenshot = root.join("target/browser/page.png");
    let node = Command::new("node")
        .arg(root.join("tests/browser/page.test.mjs"))
        .arg(format!("http://{}/", server.addr))
        .arg(&screenshot)
        .spawn()
        .expect("start node");
    let status = wait_bounded(node, BROWSER_TIMEOUT);
    server.stop();
    assert_eq!(
        status,
        Some(0),
        "the browser test failed (its output is above)"
    );
}

/// What is missing to run the browser test, if anything.
fn missing_tools(root: &Path) -> Option<String> {
    let node_modules: PathBuf = root.join("tests/browser/node_modules/playwright-core");
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} (apt-get install -y chromium)"));
    }
    if !node_modules.exists() {
        return Some("playwright-core (npm ci --prefix tests/browser)".into());
    }
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => None,
        _ => Some("node (Node.js 20 or later)".into()),
    }
}
