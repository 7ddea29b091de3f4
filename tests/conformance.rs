//! WebSocket conformance, as part of `cargo test`: the Autobahn test-suite
//! cases, run by the PyPI package `kosoku` (`pip install kosoku==0.1.0`)
//! against `/ws/echo`, groups 1–7, 9 and 10 (framing, pings, reserved bits,
//! opcodes, fragmentation, UTF-8, closing, large messages, limits; no
//! compression). Every case must pass; the reports land in
//! `target/conformance/`.
//!
//! Without `kosoku` the test says "skipped" and passes — unless `CI` is set,
//! where it fails.

#[allow(dead_code)] // each test crate uses a part of it
mod support;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{Server, wait_bounded};

/// Group 9 sends messages of up to 16 MiB, so /ws/echo must take them.
const LARGEST_CASE_MESSAGE: usize = 16 << 20;
/// The whole suite; it takes seconds in a release build, under a minute in
/// a debug build.
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);
const GROUPS: [&str; 9] = [
    "1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*",
];

/// /ws/echo passes every Autobahn case of groups 1–7, 9 and 10.
#[test]
fn ws_echo_passes_the_autobahn_cases() {
    if Command::new("kosoku").arg("--help").output().is_err() {
        if std::env::var_os("CI").is_some() {
            panic!("the conformance suite cannot run in CI: kosoku is not installed");
        }
        let _ = writeln!(
            std::io::stderr(),
            "skipped: the conformance test needs kosoku (pip install kosoku==0.1.0)"
        );
        return;
    }
    let server = Server::start(pushlab::Config {
        rate: 0.0,
        workers: Some(2),
        echo_max_message: LARGEST_CASE_MESSAGE,
        ..pushlab::Config::default()
    });
    let reports = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/conformance");
    let mut kosoku = Command::new("kosoku");
    kosoku
        .arg(format!("ws://{}/ws/echo", server.addr))
        .args(["--parallelism", "2", "--outdir"])
        .arg(&reports);
    for group in GROUPS {
        kosoku.args(["--include", group]);
    }
    let status = wait_bounded(kosoku.spawn().expect("start kosoku"), SUITE_TIMEOUT);
    server.stop();
    assert_eq!(
        status,
        Some(0),
        "some conformance cases failed (listed above; reports in {})",
        reports.display()
    );
}
