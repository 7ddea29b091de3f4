//! Slow consumers: clients that keep their socket open but stop reading must
//! not slow down anyone else, must not make the server's memory grow, and
//! are dropped (WebSocket) or gapped (SSE) — and counted.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::helpers::*;

/// Messages are published in rounds of this many until the slow WebSocket
/// is dropped. Over loopback (64 KiB segments) the kernel grows a socket's
/// send buffer to several MiB, so it takes a few MiB to fill one.
const ROUND: u64 = 250;
/// ...but never more than this: 10 MiB of 1,000-byte texts.
const MAX_MESSAGES: u64 = 10_000;
/// The text of the last message, so the healthy clients know they are done.
const LAST: &str = "last";
/// The ring is smaller than what the slow SSE client misses, so it must get a gap.
const HISTORY: u64 = 256;
/// How late a healthy client may get a message while the slow ones stall.
const LATENCY_BOUND_MS: u64 = 2000;
/// The server's resident memory must stay below this (the whole test binary).
const RSS_BOUND_KB: u64 = 256 * 1024;

/// A healthy WebSocket and SSE client get every message promptly while a
/// WebSocket and an SSE client that never read sit on the same server; the
/// slow WebSocket is dropped, the slow SSE stream is gapped when it reads
/// again, both are counted, and memory stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_stop_reading_are_dropped_or_gapped_without_slowing_the_others() {
    let app = spawn_app(pushlab::Config {
        history: HISTORY,
        slow_consumer_timeout: Duration::from_millis(300),
        ..test_config()
    });
    let slow_ws = stalled(&app, &ws_request(&app)).await;
    let mut slow_sse = stalled(&app, &sse_request(&app)).await;
    let healthy_ws = tokio::spawn(read_ws(ws_connect(&app, "/ws").await));
    let healthy_sse = tokio::spawn(read_sse(SseClient::connect(&app, "/api/sse", None).await));
    // Two healthy and two slow subscribers before the first publish.
    wait_for_hub(&app, "subscribers", |n| n == 4).await;

    // 500 characters, 1,000 bytes.
    let text = "é".repeat(500);
    let mut published = 0;
    while app.technique_stat("ws", "slow_consumers").await == 0 {
        assert!(
            published < MAX_MESSAGES,
            "the slow WebSocket was never dropped"
        );
        for _ in 0..ROUND {
            app.publish("flood", &text).await;
        }
        published += ROUND;
    }
    app.publish("flood", LAST).await;
    published += 1;

    for (name, latencies) in [
        ("ws", within("healthy WebSocket", healthy_ws).await.unwrap()),
        ("sse", within("healthy SSE", healthy_sse).await.unwrap()),
    ] {
        let worst = latencies.iter().max().copied().unwrap_or_default();
        assert_eq!(
            latencies.len() as u64,
            published,
            "{name} got every message"
        );
        assert!(worst < LATENCY_BOUND_MS, "{name}: worst latency {worst} ms");
    }

    // The slow WebSocket was dropped (counted above): its subscription is freed.
    wait_for_hub(&app, "subscribers", |n| n <= 3).await;

    // The slow SSE client reads again: it is told what it missed.
    within(
        "the slow SSE client's gap",
        read_until(&mut slow_sse, b"event: gap"),
    )
    .await;
    wait_for_stat_at_least(&app, "sse", "slow_consumers", 1).await;
    assert!(app.technique_stat("sse", "messages_missed").await > 0);
    assert!(app.stats().await["hub"]["lagged"].as_u64().unwrap() >= 1);

    let rss_kb = app.stats().await["process"]["rss_kb"].as_u64().unwrap();
    assert!(rss_kb < RSS_BOUND_KB, "server RSS {rss_kb} KB");
    let metrics = app.metrics().await;
    assert!(metrics.contains("pushlab_slow_consumers_total{technique=\"ws\"} 1"));
    drop(slow_ws); // kept open, unread, until here
}

/// Opens a connection with a small receive buffer, sends `request`, reads
/// the response head and then never reads again.
async fn stalled(app: &TestApp, request: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    let mut stream = within("connect", socket.connect(app.addr)).await.unwrap();
    within("send", stream.write_all(request.as_bytes()))
        .await
        .unwrap();
    within("response head", read_until(&mut stream, b"\r\n\r\n")).await;
    stream
}

fn ws_request(app: &TestApp) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        app.addr
    )
}

fn sse_request(app: &TestApp) -> String {
    format!("GET /api/sse HTTP/1.1\r\nHost: {}\r\n\r\n", app.addr)
}

/// Reads until `needle` has gone by (it may straddle two reads).
async fn read_until(stream: &mut TcpStream, needle: &[u8]) {
    let mut tail: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the connection closed before {needle:?}");
        tail.extend_from_slice(&chunk[..n]);
        if tail.windows(needle.len()).any(|w| w == needle) {
            return;
        }
        let keep = tail.len().saturating_sub(needle.len());
        tail.drain(..keep);
    }
}

/// Receives every message on a WebSocket; returns each one's latency in ms.
async fn read_ws(mut socket: WsStream) -> Vec<u64> {
    let mut latencies = Vec::new();
    loop {
        let frame = match within("a WebSocket frame", socket.next()).await {
            Some(Ok(WsMessage::Text(text))) => serde_json::from_str::<Value>(&text).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("the healthy WebSocket ended: {other:?}"),
        };
        assert_ne!(frame["type"], "gap", "a healthy client must not be gapped");
        if frame["type"] == "message" {
            latencies.push(latency_ms(&frame));
            if frame["text"] == LAST {
                return latencies;
            }
        }
    }
}

/// Receives every message on an SSE stream; returns each one's latency in ms.
async fn read_sse(mut client: SseClient) -> Vec<u64> {
    let mut latencies = Vec::new();
    loop {
        let event = client
            .next_event()
            .await
            .expect("the healthy SSE stream ended");
        assert_ne!(event.event, "gap", "a healthy client must not be gapped");
        if event.event == "message" {
            let message: Value = serde_json::from_str(&event.data).unwrap();
            latencies.push(latency_ms(&message));
            if message["text"] == LAST {
                return latencies;
            }
        }
    }
}

fn latency_ms(message: &Value) -> u64 {
    let published = message["published_at_us"].as_u64().unwrap();
    pushlab::hub::now_us().saturating_sub(published) / 1000
}

async fn wait_for_hub(app: &TestApp, field: &str, ok: impl Fn(u64) -> bool) {
    within(&format!("hub.{field}"), async {
        while !ok(app.stats().await["hub"][field].as_u64().unwrap()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

async fn wait_for_stat_at_least(app: &TestApp, technique: &str, field: &str, want: u64) {
    within(&format!("{technique}.{field} >= {want}"), async {
        while app.technique_stat(technique, field).await < want {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}
