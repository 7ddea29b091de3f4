//! Slow clients. Those that keep their socket open but stop reading must
//! not slow down anyone else, must not make the server's memory grow, and
//! are dropped (WebSocket) or gapped (SSE) — and counted. Those that send
//! slowly are cut off: a request head trickled on a keep-alive connection,
//! a body trickled to any route, a connection left idle (the first request's
//! head: tests/api/faults.rs; many at once: tests/api/descriptors.rs).

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
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
/// How much the server's resident memory may grow over the flood: less
/// than a few copies of it (2–3 MiB published), so the slow clients' share
/// is bounded by their queues and sockets.
const RSS_GROWTH_BOUND_KB: u64 = 8 * 1024;

/// A healthy WebSocket and SSE client get every message promptly while a
/// WebSocket and an SSE client that never read sit on the same server; the
/// slow WebSocket is dropped, the slow SSE stream is gapped when it reads
/// again, both are counted, and memory stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_stop_reading_are_dropped_or_gapped_without_slowing_the_others() {
    // A process of its own, so that its memory is the server's alone.
    let history = HISTORY.to_string();
    let app = spawn_app_process(&[
        "--rate=0",
        "--publish-rate=0",
        "--workers=1",
        "--history",
        &history,
        "--slow-consumer-timeout=300ms",
    ]);
    let slow_ws = stalled(&app, &ws_request(&app)).await;
    let mut slow_sse = stalled(&app, &sse_request(&app)).await;
    let healthy_ws = tokio::spawn(read_ws(ws_connect(&app, "/ws").await));
    let healthy_sse = tokio::spawn(read_sse(SseClient::connect(&app, "/api/sse", None).await));
    // Two healthy and two slow subscribers before the first publish.
    wait_for_hub(&app, "subscribers", |n| n == 4).await;
    let rss_before_kb = app.stats().await["process"]["rss_kb"].as_u64().unwrap();

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
    let growth_kb = rss_kb.saturating_sub(rss_before_kb);
    assert!(
        growth_kb < RSS_GROWTH_BOUND_KB,
        "server RSS grew by {growth_kb} KB over {published} messages"
    );
    let metrics = app.metrics().await;
    assert!(metrics.contains("pushlab_slow_consumers_total{technique=\"ws\"} 1"));
    drop(slow_ws); // kept open, unread, until here
}

/// The stall check runs at every heartbeat tick and must only ever catch a
/// client that stopped reading: one that reads, through quiet ticks, busy
/// ones and a hub restart (ids start over), on a server that checks every
/// 50 ms, stays connected, gets every message and is never counted slow.
#[tokio::test]
async fn a_websocket_that_reads_is_never_taken_for_a_slow_one() {
    let app = spawn_app(pushlab::Config {
        slow_consumer_timeout: Duration::from_millis(50),
        ..test_config()
    });
    let mut socket = ws_connect(&app, "/ws").await;
    assert_eq!(ws_next_json(&mut socket).await["type"], "hello");
    for round in 0..6 {
        // Quiet ticks go by: the hub has nothing for the client.
        tokio::time::sleep(Duration::from_millis(150)).await;
        let id = app.publish("author", &format!("round {round}")).await;
        assert_eq!(ws_next_message(&mut socket).await["id"], id);
        if round == 2 {
            // A new run starts the ids over: no reason to drop anyone.
            let response = within("restart", app.http.post(app.url("/api/hub/restart")).send())
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(ws_next_json(&mut socket).await["type"], "gap");
        }
    }
    assert_eq!(app.technique_stat("ws", "slow_consumers").await, 0);
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
    pushlab::clock::now_us().saturating_sub(published) / 1000
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

/// How long the tests below give a client to send a head or a body, or to
/// send its next request. Longer than the 500 ms between the updates of
/// the clock actix reckons deadlines from, so that a deadline set again
/// with every byte that arrives would be put off for ever, as a trickle
/// is, instead of falling within the same 500 ms.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(1200);
/// How much later than its timeout a slow connection may be cut off.
const CUT_OFF_SLACK: Duration = Duration::from_millis(1500);
/// A trickling client sends one byte this often.
const TRICKLE_EVERY: Duration = Duration::from_millis(20);

/// The head of a keep-alive connection's second request, trickled, gets a
/// JSON 408 and the connection is closed at the request timeout, as the
/// first request's head does (upstream actix times only the first).
#[tokio::test]
async fn a_later_request_head_trickled_on_a_keep_alive_connection_is_cut_off() {
    let app = spawn_app(pushlab::Config {
        request_timeout: CLIENT_TIMEOUT,
        ..test_config()
    });
    let mut raw = Raw::connect(&app).await;
    raw.send(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await;
    let first = String::from_utf8_lossy(&raw.read_response().await).into_owned();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");

    let head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa";
    let (answer, lived) = trickle_until_closed(&mut raw.stream, head).await;
    assert_timed_out(&answer);
    assert_cut_off_in_time("the trickled second head", lived);
}

/// A body trickled one byte at a time is cut off at the body timeout on
/// every kind of route: one that reads its body (publish, also when the
/// body is the stream of a WebSocket upgrade), one that waits without
/// reading it (long-poll) — these answer 408 — and ones that answer at
/// once and leave the body to be drained (a poll, a 405): these have
/// answered already, so the connection is just closed. (A WebSocket whose
/// upgrade was accepted is not timed: tests/api/websocket.rs.)
#[tokio::test]
async fn a_trickled_body_is_cut_off_at_the_body_timeout_on_any_route() {
    let app = spawn_app(pushlab::Config {
        body_timeout: CLIENT_TIMEOUT,
        ..test_config()
    });
    // Within the publish body limit, so the length alone is not refused.
    let length = "Content-Type: application/json\r\nContent-Length: 1000";
    let chunked = "Transfer-Encoding: chunked";
    // A WebSocket upgrade's bytes are read until the connection ends, not
    // to a length; what a handler reads of them before any 101 is a body.
    let upgrade = "Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: websocket";
    for (request, framing, answered) in [
        ("POST /api/messages", length, None),
        ("POST /api/messages", upgrade, None),
        ("GET /api/longpoll", length, None),
        ("GET /api/poll", chunked, Some("HTTP/1.1 200")),
        ("DELETE /api/poll", chunked, Some("HTTP/1.1 405")),
    ] {
        let mut raw = Raw::connect(&app).await;
        let head = format!(
            "{request} HTTP/1.1\r\nHost: {}\r\n{framing}\r\n\r\n",
            app.addr
        );
        raw.send(head.as_bytes()).await;
        // The chunked bodies: one endless chunk.
        let body: &[u8] = if framing == chunked {
            b"100000\r\n{\"text\": \"aaaaaaaaaaaaaaaa"
        } else {
            b"{\"text\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        };
        let (answer, lived) = trickle_until_closed(&mut raw.stream, body).await;
        match answered {
            None => assert_timed_out(&answer),
            Some(status) => {
                let answer = String::from_utf8_lossy(&answer);
                assert!(answer.starts_with(status), "{request}: {answer}");
                assert!(
                    !answer.contains(" 408 "),
                    "{request} answered twice: {answer}"
                );
            }
        }
        assert_cut_off_in_time(request, lived);
    }
}

/// An accepted WebSocket is no request body: its frames still go both ways
/// well after the body timeout.
#[tokio::test]
async fn an_accepted_websocket_outlives_the_body_timeout() {
    let app = spawn_app(pushlab::Config {
        body_timeout: CLIENT_TIMEOUT,
        ..test_config()
    });
    let mut socket = ws_connect(&app, "/ws/echo").await;
    // Time itself is what is tested: let the body timeout pass, twice over.
    tokio::time::sleep(CLIENT_TIMEOUT * 3).await;
    within("send", socket.send(WsMessage::text("still here")))
        .await
        .unwrap();
    loop {
        match within("the echo", socket.next()).await {
            Some(Ok(WsMessage::Text(text))) => break assert_eq!(text.as_str(), "still here"),
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
            other => panic!("the WebSocket ended: {other:?}"),
        }
    }
}

/// A keep-alive connection with no next request is closed after the idle
/// keep-alive timeout.
#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_its_timeout() {
    let app = spawn_app(pushlab::Config {
        keep_alive_timeout: CLIENT_TIMEOUT,
        ..test_config()
    });
    let mut raw = Raw::connect(&app).await;
    // The connection is idle from its answer on, a little after this.
    let idle = Instant::now();
    raw.send(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await;
    let first = String::from_utf8_lossy(&raw.read_response().await).into_owned();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(!first.contains("connection: close"), "{first}");
    let mut byte = [0u8; 1];
    let read = within("the idle connection to close", raw.stream.read(&mut byte)).await;
    assert!(matches!(read, Ok(0) | Err(_)), "sent {read:?} unasked");
    assert_cut_off_in_time("the idle connection", idle.elapsed());
}

/// Writes `bytes` over and over, one every [`TRICKLE_EVERY`], until the
/// server closes the connection; returns what it answered meanwhile and
/// how long the connection lived from the first byte.
async fn trickle_until_closed(stream: &mut TcpStream, bytes: &[u8]) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut answer = Vec::new();
    within("the server to cut the trickle off", async {
        for byte in bytes.iter().cycle() {
            if stream.write_all(&[*byte]).await.is_err() {
                break; // the server closed its end
            }
            let mut chunk = [0u8; 1024];
            match tokio::time::timeout(TRICKLE_EVERY, stream.read(&mut chunk)).await {
                Err(_) => continue, // nothing yet: trickle on
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(n)) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    (answer, started.elapsed())
}

/// A JSON 408 that closes the connection.
fn assert_timed_out(answer: &[u8]) {
    let answer = String::from_utf8_lossy(answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(
        answer.contains("content-type: application/json"),
        "{answer}"
    );
    assert!(answer.contains(r#""error":"request_timeout""#), "{answer}");
}

/// Cut off by its timeout, not much later. (Not "not before": actix reckons
/// the head and keep-alive deadlines from a clock it updates every 500 ms,
/// so they may come up to that much early.)
fn assert_cut_off_in_time(what: &str, lived: Duration) {
    eprintln!("{what}: cut off after {lived:?} (timeout {CLIENT_TIMEOUT:?})");
    assert!(
        lived < CLIENT_TIMEOUT + CUT_OFF_SLACK,
        "{what} was cut off after {lived:?}"
    );
}
