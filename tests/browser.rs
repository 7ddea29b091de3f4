//! The page in a real browser, as part of `cargo test`: starts the real
//! server on 127.0.0.1:0 with the generator on, and runs
//! `tests/browser/page.test.mjs` (Node + playwright-core driving Debian's
//! headless Chromium) against it. The screenshot lands in
//! `target/browser/page.png`. A second test breaks the SSE lane's stream
//! through a proxy and watches it come back (`tests/browser/sse.test.mjs`);
//! a third runs two instances over a real Redis and
//! `tests/browser/broker.test.mjs` against a page on each.
//!
//! Without Chromium or `tests/browser/node_modules` (`npm ci --prefix
//! tests/browser`) the test says "skipped" and passes — unless `CI` is set,
//! where a skipped browser test would be a silent hole, so it fails.

#[allow(dead_code)] // each test crate uses a part of it
mod support;

use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use pushlab::techniques::ws::DeflatePolicy;
use support::Server;
use support::browser::{assert_passed, browser_ready};
use support::redis_server::RedisServer;

/// The whole browser run; every step inside has its own, shorter bound.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(150);
/// Messages per second from the generator, so every lane has traffic.
const RATE: f64 = 4.0;

/// Loads the page in headless Chromium: four live lanes, publishing, HTML
/// shown as text, the other-tabs notice, no console errors.
#[test]
fn the_page_works_in_a_real_browser() {
    check_page(
        "page",
        pushlab::Config {
            rate: RATE,
            workers: Some(2),
            // The burst of 25 publishes must overrun the limit however slowly a
            // busy machine sends it: at the default 20/s refill it may not.
            publish_rate: 1,
            ..pushlab::Config::default()
        },
        &[],
    );
}

/// The SSE lane reconnects as the chapter teaches: the browser's own
/// reconnect with `Last-Event-ID` when the stream breaks, the lane's backoff
/// and `?since=` only when EventSource gives up (a 503 while the server's
/// one SSE slot is taken), and no message lost or shown twice on the way.
#[test]
fn the_sse_lane_reconnects_as_the_browser_does() {
    check_page(
        "sse",
        pushlab::Config {
            rate: RATE,
            workers: Some(2),
            // One stream at a time, so the test can take the slot and make the
            // browser's reconnect get 503.
            max_sse: 1,
            ..pushlab::Config::default()
        },
        &[],
    );
}

/// Settings act at once (a new long-poll timeout is asked with at once),
/// and every control says which lane it acts on.
#[test]
fn settings_act_at_once_and_controls_say_what_they_act_on() {
    check_page(
        "controls",
        pushlab::Config {
            // Off: a parked long-poll stays parked until the test changes its timeout.
            rate: 0.0,
            workers: Some(2),
            ..pushlab::Config::default()
        },
        &[],
    );
}

/// Who steers the class: with the controls closed, a student's page shows
/// the generator rate read-only and follows it; the teacher's page, opened
/// with the key, changes it.
#[test]
fn the_teacher_steers_and_students_follow() {
    let key = "browser-test-teacher-key";
    check_page(
        "teacher",
        pushlab::Config {
            rate: 1.0,
            workers: Some(2),
            teacher_key: Some(key.into()),
            open_controls: Some(false),
            ..pushlab::Config::default()
        },
        &[&key],
    );
}

/// Two instances over one Redis, a page on each: a message published
/// through the box of one page shows in every lane of the other, and both
/// headers name the broker.
#[test]
fn two_pages_on_two_instances_show_one_stream() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !browser_ready(root) {
        return;
    }
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let instance = |rate| {
        Server::start(pushlab::Config {
            rate,
            workers: Some(1),
            broker: Some(redis.url()),
            ..pushlab::Config::default()
        })
    };
    // Only A's generator runs: B's lanes get everything through Redis.
    let (a, b) = (instance(RATE), instance(0.0));
    let status = run_script(
        root,
        "broker.test.mjs",
        &[
            &format!("http://{}/", a.addr),
            &format!("http://{}/", b.addr),
            &redis.url(),
        ],
    );
    a.stop();
    b.stop();
    assert_passed(status);
}

/// Six connections, as they happen, in one tab: a button opens streams
/// until the next one is queued in the browser, the notice and the lanes
/// say what waits, a clock measured through the queue stays true (no
/// negative latency), and released, the lanes flow again.
#[test]
fn six_connections_show_what_waits_in_the_browser() {
    check_page(
        "six",
        pushlab::Config {
            // Often enough that a parked long-poll soon lets its connection go
            // to the stream that waits for one.
            rate: 2.0,
            workers: Some(2),
            ..pushlab::Config::default()
        },
        &[],
    );
}

/// Follow your own message: at 4 msg/s, a message published from the box
/// (by POST and up the WebSocket) gets a row in "your messages" with this
/// browser's delay in each lane, is marked in every lane and stays in view
/// there, and every dot of a latency strip names its message and delay.
#[test]
fn your_own_message_is_followed_through_every_lane() {
    check_page(
        "mine",
        pushlab::Config {
            rate: RATE,
            workers: Some(2),
            // The test fills the table past its 20 rows, one publish after another.
            publish_burst: 100,
            ..pushlab::Config::default()
        },
        &[],
    );
}

/// Readable from the back row: at 1280×720, 1024×768, 1920×1080 and at
/// 150 % zoom, the four lanes side by side fill the screen, no text is
/// smaller than 14 px at 1280×720, no name is cut and no label is drawn
/// on a line. Screenshots in `target/browser/layout-*.png`.
#[test]
fn the_page_reads_from_the_back_row_at_every_classroom_size() {
    check_page(
        "layout",
        pushlab::Config {
            rate: RATE,
            workers: Some(2),
            ..pushlab::Config::default()
        },
        &[],
    );
}

/// Each tab sees its own figures beside the class's (`tabs.test.mjs`).
#[test]
fn each_tab_sees_its_own_figures_beside_the_class() {
    check_page(
        "tabs",
        pushlab::Config {
            rate: RATE,
            workers: Some(2),
            ..pushlab::Config::default()
        },
        &[],
    );
}

/// The wire view shows this tab's exchanges byte for byte (`wire.test.mjs`).
#[test]
fn the_wire_view_shows_this_tab_exchanges_byte_for_byte() {
    check_page(
        "wire",
        pushlab::Config {
            rate: RATE,
            workers: Some(2),
            ..pushlab::Config::default()
        },
        &[],
    );
}

/// A student breaks their own lanes and watches each recover its own way
/// (backoff, the browser's Last-Event-ID, since=, "missed N"); the teacher
/// restarts the hub and every lane of the student's page starts over
/// (`faults.test.mjs`).
#[test]
fn a_student_breaks_their_own_lanes_and_watches_them_recover() {
    let key = "browser-test-teacher-key";
    check_page(
        "faults",
        pushlab::Config {
            rate: RATE,
            workers: Some(2),
            // Small, so that a lane offline for a few seconds misses some.
            history: 16,
            teacher_key: Some(key.into()),
            open_controls: Some(false),
            ..pushlab::Config::default()
        },
        &[&key],
    );
}

/// Chromium's own WebSocket negotiates compression with pushlab under each
/// `--ws-deflate` policy, and the lane says so: the subprotocol
/// `pushlab.v1` asked for and named, what was offered and accepted, RSV1 on
/// the frames both ways in the server's wire log and the page's wire view
/// (inflated when compressed alone), and the saving beside the bytes — or,
/// with `off`, that the server declined (`compression.test.mjs`).
#[test]
fn the_websocket_lane_shows_what_compression_was_negotiated_and_saves() {
    for (policy, deflate) in [
        ("no-context-takeover", DeflatePolicy::NoContextTakeover),
        ("on", DeflatePolicy::On),
        ("off", DeflatePolicy::Off),
    ] {
        check_page(
            "compression",
            pushlab::Config {
                rate: RATE,
                workers: Some(2),
                ws_deflate: deflate,
                ..pushlab::Config::default()
            },
            &[&policy],
        );
    }
}

/// A server whose 101 names a subprotocol the page never offered: Chromium
/// fails the connection (an `error` event, close code 1006, never `open`)
/// and says why only in its console; offered, the same answer opens; a
/// protocol offered and not named, or named but not offered, fails too
/// (`subprotocol.test.mjs`, with its own few-line server in Node: pushlab
/// never answers so).
#[test]
fn chromium_fails_a_websocket_whose_answer_names_a_protocol_never_offered() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !browser_ready(root) {
        return;
    }
    let screenshot = root.join("target/browser/subprotocol.png");
    assert_passed(run_script(root, "subprotocol.test.mjs", &[&screenshot]));
}

/// Over HTTPS (`--tls self-signed`) Chromium speaks HTTP/2: each lane
/// shows its protocol (h2, and http/1.1 for the WebSocket) and ten more
/// event streams open at once, past HTTP/1.1's six connections
/// (`tests/browser/http2.test.mjs`).
#[test]
fn the_page_over_tls_runs_its_lanes_on_http2() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !browser_ready(root) {
        return;
    }
    let server = Server::start(pushlab::Config {
        rate: RATE,
        workers: Some(2),
        tls: vec!["self-signed".into()],
        ..pushlab::Config::default()
    });
    let url = format!("https://{}/", server.addr);
    let screenshot = root.join("target/browser/http2.png");
    let status = run_script(root, "http2.test.mjs", &[&url, &screenshot]);
    server.stop();
    assert_passed(status);
}

/// The crossover chart draws the page's own run: a point per technique at
/// each rate held, four lines once two rates are measured
/// (`tests/browser/crossover.test.mjs`).
#[test]
fn the_crossover_chart_draws_the_class_own_run() {
    check_page(
        "crossover",
        pushlab::Config {
            // Off: the test sets each rate itself; the chart first says what to do.
            rate: 0.0,
            workers: Some(2),
            ..pushlab::Config::default()
        },
        &[],
    );
}

/// Starts pushlab with `config`, runs `tests/browser/<name>.test.mjs`
/// against its page (the page's URL, then `extra`, then where to save a
/// screenshot: `target/browser/<name>.png`), stops the server, and fails if
/// the script did. Skips (and passes) without a browser, except in CI.
fn check_page(name: &str, config: pushlab::Config, extra: &[&dyn AsRef<OsStr>]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !browser_ready(root) {
        return;
    }
    let server = Server::start(config);
    let url = format!("http://{}/", server.addr);
    let screenshot = root.join(format!("target/browser/{name}.png"));
    let mut args: Vec<&dyn AsRef<OsStr>> = vec![&url];
    args.extend_from_slice(extra);
    args.push(&screenshot);
    let status = run_script(root, &format!("{name}.test.mjs"), &args);
    server.stop();
    assert_passed(status);
}

/// Runs `tests/browser/<script>` under Node with `args`, bounded by
/// [`BROWSER_TIMEOUT`]; its exit status, or None if it had to be stopped.
fn run_script(root: &Path, script: &str, args: &[&dyn AsRef<OsStr>]) -> Option<i32> {
    support::browser::run_script(root, script, args, BROWSER_TIMEOUT)
}
