//! Running a browser test script: `node tests/browser/<script> <args…>`
//! (Node + playwright-core driving Debian's headless Chromium), bounded in
//! time, and the check that the tools are there at all.
//!
//! Without Chromium, Node or `tests/browser/node_modules` (`npm ci --prefix
//! tests/browser`) a browser test says "skipped" and passes — unless `CI`
//! is set, where a skipped browser test would be a silent hole, so it fails.

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::wait_bounded;

/// Where Debian puts Chromium (`apt-get install -y chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs `tests/browser/<script>` under Node with `args`, stopped after
/// `limit`; its exit status, or None if it had to be stopped.
pub fn run_script(
    root: &Path,
    script: &str,
    args: &[&dyn AsRef<OsStr>],
    limit: Duration,
) -> Option<i32> {
    let node = Command::new("node")
        .arg(root.join("tests/browser").join(script))
        .args(args.iter().map(|a| a.as_ref()))
        .spawn()
        .expect("start node");
    wait_bounded(node, limit)
}

/// The script passed; what failed, it printed above.
pub fn assert_passed(status: Option<i32>) {
    assert_eq!(
        status,
        Some(0),
        "the browser test failed (its output is above)"
    );
}

/// True when Chromium, Node and playwright-core are there. Otherwise says
/// "skipped" — or, with `CI` set, fails.
pub fn browser_ready(root: &Path) -> bool {
    let Some(missing) = missing_tools(root) else {
        return true;
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "the browser test cannot run in CI: {missing}"
    );
    // Straight to stderr: libtest would swallow a println! of a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "skipped: the browser test needs {missing}"
    );
    false
}

/// What is missing to run the browser tests, if anything.
fn missing_tools(root: &Path) -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} (apt-get install -y chromium)"));
    }
    if !root
        .join("tests/browser/node_modules/playwright-core")
        .exists()
    {
        return Some("playwright-core (npm ci --prefix tests/browser)".into());
    }
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => None,
        _ => Some("node (Node.js 20 or later)".into()),
    }
}
