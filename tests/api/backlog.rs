//! A client's resume does not skew everyone's latency: messages published
//! more than `LIVE_WINDOW` before the request or connection that delivers
//! them began are counted under `backlog`, with their own percentiles, and
//! `latency_ms` keeps the live deliveries only. Reads that take the whole
//! ring (`since=0` again and again) are counted in `full_ring_reads`.

use std::time::Duration;

use pushlab::stats::LIVE_WINDOW;
use serde_json::Value;

use crate::helpers::*;

/// The four techniques, as `/api/stats` names them.
const TECHNIQUES: [&str; 4] = ["poll", "longpoll", "sse", "ws"];

/// Polling `since=0` three times is three reads of the whole ring; reading
/// from a cursor inside the ring is none. Every technique counts them, and
/// `/metrics` shows them. Fresh messages read from the ring are still live.
#[tokio::test]
async fn reads_of_the_whole_ring_are_counted_per_technique() {
    let app = spawn_app(test_config());
    for text in ["one", "two", "three"] {
        app.publish("test", text).await;
    }
    for _ in 0..3 {
        let (_, answer) = app.get_json("/api/poll?since=0").await;
        assert_eq!(ids(&answer["messages"]), [1, 2, 3]);
    }
    app.get_json("/api/poll?since=1").await;
    app.get_json("/api/poll?since=3").await;
    app.get_json("/api/longpoll?since=0&timeout=0").await;
    let mut sse = SseClient::connect(&app, "/api/sse?since=0", None).await;
    for _ in 0..3 {
        sse.next_message().await;
    }
    let mut ws = ws_connect(&app, "/ws?since=0").await;
    for _ in 0..3 {
        ws_next_message(&mut ws).await;
    }

    for (technique, reads) in [("poll", 3), ("longpoll", 1), ("sse", 1), ("ws", 1)] {
        app.wait_for_stat(technique, "full_ring_reads", reads).await;
        let stats = technique_stats(&app, technique).await;
        assert_eq!(
            stats["backlog"]["messages_delivered"], 0,
            "{technique}: {stats}"
        );
    }
    assert_eq!(app.technique_stat("poll", "messages_delivered").await, 11);
    let metrics = app.metrics().await;
    assert!(metrics.contains("pushlab_full_ring_reads_total{technique=\"poll\"} 3"));
    assert!(metrics.contains("pushlab_backlog_messages_delivered_total{technique=\"ws\"} 0"));
}

/// Messages older than the live window when a client comes back for them
/// — with `since=0` or with an old cursor — are backlog deliveries on every
/// technique: counted apart, with their own (long) latency, while
/// `latency_ms` holds only the message published while the clients were
/// there.
#[tokio::test]
async fn a_resumed_backlog_is_reported_apart_from_live_deliveries() {
    let app = spawn_app(test_config());
    for text in ["a", "b", "c", "d"] {
        app.publish("test", text).await;
    }
    // Not a synchronisation: the messages must age past the window.
    tokio::time::sleep(LIVE_WINDOW + Duration::from_millis(500)).await;

    // Everyone comes back: 4 old messages each, 2 more for a poll that
    // resumes from its cursor.
    app.get_json("/api/poll?since=0").await;
    app.get_json("/api/poll?since=2").await;
    app.get_json("/api/longpoll?since=0&timeout=0").await;
    let mut sse = SseClient::connect(&app, "/api/sse?since=0", None).await;
    let mut ws = ws_connect(&app, "/ws?since=0").await;
    for _ in 0..4 {
        sse.next_message().await;
        ws_next_message(&mut ws).await;
    }

    // One live message, to every technique.
    let live = app.publish("test", "live").await;
    assert_eq!(live, 5);
    app.get_json("/api/poll?since=4").await;
    app.get_json("/api/longpoll?since=4&timeout=0").await;
    assert_eq!(sse.next_message().await["id"], live);
    assert_eq!(ws_next_message(&mut ws).await["id"], live);

    let window_ms = LIVE_WINDOW.as_millis() as f64;
    for technique in TECHNIQUES {
        let backlog = if technique == "poll" { 6 } else { 4 };
        app.wait_for_stat(technique, "messages_delivered", backlog + 1)
            .await;
        let stats = technique_stats(&app, technique).await;
        let at = format!("{technique}: {stats}");
        assert_eq!(stats["backlog"]["messages_delivered"], backlog, "{at}");
        assert_eq!(stats["backlog"]["latency_ms"]["count"], backlog, "{at}");
        assert!(
            stats["backlog"]["latency_ms"]["p50"].as_f64().unwrap() >= window_ms,
            "{at}"
        );
        assert_eq!(stats["latency_ms"]["count"], 1, "{at}");
        assert!(
            stats["latency_ms"]["max"].as_f64().unwrap() < window_ms,
            "{at}"
        );
    }
    assert!(
        app.metrics()
            .await
            .contains("pushlab_backlog_messages_delivered_total{technique=\"poll\"} 6")
    );
}

async fn technique_stats(app: &TestApp, technique: &str) -> Value {
    app.stats().await["techniques"][technique].clone()
}
