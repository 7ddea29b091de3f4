//! The load tool measures correctly: polling latency follows the poll
//! interval, nothing is lost or duplicated, and its byte counts are the
//! bytes on the wire.

use clap::Parser;
use pushlab::load::report::Report;

use crate::helpers::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    load: pushlab::load::LoadArgs,
}

/// Runs `pushlab load` against `app` with extra arguments.
async fn load(app: &TestApp, args: &[&str]) -> Report {
    let url = app.url("");
    let mut argv = vec!["load", "--url", &url];
    argv.extend_from_slice(args);
    let args = Cli::parse_from(argv).load;
    let local = tokio::task::LocalSet::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        local.run_until(pushlab::load::run_all(args)),
    )
    .await
    .expect("the load run finishes within a minute")
    .expect("the load run succeeds")
}

/// With a poll interval T, short-poll latency is about T/2 on average and at
/// most about T; SSE and WebSocket deliver far sooner.
#[tokio::test]
async fn poll_latency_follows_the_interval_and_push_is_far_faster() {
    let app = spawn_app(test_config());
    let report = load(
        &app,
        &[
            "--clients",
            "5",
            "--rate",
            "20",
            "--duration",
            "2s",
            "--poll-interval",
            "200ms",
        ],
    )
    .await;
    // Ratios and generous bounds, not speed figures: the machine may be busy.
    let poll = &report.techniques["poll"].latency_ms;
    assert!(
        poll.p50 > 40.0 && poll.p50 < 2.0 * 200.0,
        "poll p50 {} ms, expected about 100 (half the interval)",
        poll.p50
    );
    // Not the max: one poll held up by a busy machine would decide it.
    assert!(
        poll.p90 < 2.0 * 200.0,
        "poll p90 {} ms, expected at most about one 200 ms interval",
        poll.p90
    );
    for push in ["sse", "ws", "longpoll"] {
        let p50 = report.techniques[push].latency_ms.p50;
        assert!(
            p50 < poll.p50 / 3.0,
            "{push} p50 {p50} ms should be far below the poll's {} ms",
            poll.p50
        );
    }
}

#[tokio::test]
async fn the_tools_websockets_answer_pings() {
    let app = spawn_app(pushlab::Config {
        // Silence is dropped after 1 s, well inside the 2 s run: a client
        // that did not answer would be dropped and reconnect. (Not 200 ms:
        // a busy machine can hold a pong up that long.)
        ws_ping_interval: std::time::Duration::from_millis(50),
        ws_idle_timeout: std::time::Duration::from_secs(1),
        ..test_config()
    });
    let args = [
        "--technique",
        "ws",
        "--clients",
        "20",
        "--rate",
        "2",
        "--duration",
        "2s",
    ];
    let report = load(&app, &args).await;
    let ws = &report.techniques["ws"];
    assert_eq!(ws.connections, 20, "no client was dropped and reconnected");
    assert_eq!(ws.delivered, ws.expected);
    assert_eq!((ws.lost, ws.gaps), (0, 0));
}

/// The bytes the tool counts for polls are the bytes the server counts on
/// its side of the same sockets (which a raw-socket test checks exactly).
#[tokio::test]
async fn the_tools_poll_bytes_equal_the_bytes_on_the_wire() {
    let app = spawn_app(test_config());
    let report = load(
        &app,
        &[
            "--technique",
            "poll",
            "--clients",
            "1",
            "--rate",
            "5",
            "--duration",
            "1s",
            "--poll-interval",
            "100ms",
        ],
    )
    .await;
    let tool = &report.techniques["poll"];
    let server = &app.stats().await["techniques"]["poll"];
    assert_eq!(server["requests"].as_u64(), Some(tool.requests));
    assert_eq!(server["bytes_in"].as_u64(), Some(tool.bytes_up));
    assert_eq!(server["bytes_out"].as_u64(), Some(tool.bytes_down));
}

/// With `--deflate` the tool's WebSocket clients offer compression as
/// Chromium does; against a server with `--ws-deflate no-context-takeover`
/// the report names the server's answer, the messages inflate to more than
/// every byte that came down (101s and frame headers included), and each
/// delivered message costs fewer bytes down than in the same run without
/// `--deflate` (500 bytes of repeated text: several times fewer). Byte
/// counts, not timing. Guards `load --deflate` (cb6e8ec) and the server's
/// answer (10e2ab6): without them there is no `deflate` in the report.
#[tokio::test]
async fn the_tools_deflate_offer_is_answered_and_shrinks_the_bytes_down() {
    let args = [
        "--technique",
        "ws",
        "--clients",
        "2",
        "--rate",
        "20",
        "--arrivals",
        "fixed",
        "--duration",
        "1s",
        "--payload",
        "500",
    ];
    let config = || pushlab::Config {
        ws_deflate: pushlab::techniques::ws::DeflatePolicy::NoContextTakeover,
        ..test_config()
    };
    let plain = load(&spawn_app(config()), &args).await;
    let compressed = load(&spawn_app(config()), &[&args[..], &["--deflate"]].concat()).await;

    let (plain, compressed) = (&plain.techniques["ws"], &compressed.techniques["ws"]);
    assert!(plain.deflate.is_none(), "no offer, no deflate figures");
    let deflate = compressed
        .deflate
        .as_ref()
        .expect("--deflate reports its answer");
    assert_eq!(
        deflate.extension,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    );
    assert!(
        deflate.payload_bytes_inflated > compressed.bytes_down,
        "{} bytes inflated from {} bytes down",
        deflate.payload_bytes_inflated,
        compressed.bytes_down
    );
    for run in [plain, compressed] {
        assert!(
            run.delivered > 0 && run.delivered == run.expected,
            "{run:?}"
        );
    }
    let per_message =
        |run: &pushlab::load::report::TechniqueReport| run.bytes_down as f64 / run.delivered as f64;
    assert!(
        per_message(compressed) < per_message(plain),
        "{:.0} bytes down per message compressed, {:.0} plain",
        per_message(compressed),
        per_message(plain)
    );
}
