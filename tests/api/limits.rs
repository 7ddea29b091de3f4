//! Limits: one connection over a technique's limit gets 503, one publish
//! over a client's rate gets 429 — both with `Retry-After`, a JSON body and
//! a counter moved — and nothing that was accepted is lost.

use pushlab::Config;
use serde_json::Value;

use crate::helpers::*;

/// A request the server refused: its status, `Retry-After` and JSON body.
struct Refusal {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

async fn send(request: reqwest::RequestBuilder) -> Refusal {
    let response = within("a refusal", request.send()).await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = within("the refusal's body", response.json()).await.unwrap();
    Refusal {
        status,
        retry_after,
        body,
    }
}

/// Checks a 503 for a full technique and its counters.
async fn assert_full(app: &TestApp, technique: &str, refusal: Refusal, open: u64) {
    assert_eq!(refusal.status, 503, "{}", refusal.body);
    assert_eq!(refusal.retry_after.as_deref(), Some("5"));
    assert_eq!(refusal.body["error"], "server_full");
    assert!(refusal.body["message"].as_str().unwrap().contains("limit"));
    assert_eq!(app.technique_stat(technique, "rejected").await, 1);
    assert_eq!(
        app.technique_stat(technique, "connections_open").await,
        open
    );
    let metrics = app.metrics().await;
    let line = format!("pushlab_rejected_total{{technique=\"{technique}\"}} 1");
    assert!(metrics.contains(&line), "no {line:?} in /metrics");
}

fn upgrade(app: &TestApp, path: &str) -> reqwest::RequestBuilder {
    app.http
        .get(app.url(path))
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("Sec-WebSocket-Version", "13")
}

/// The third WebSocket on a server limited to two is refused with 503;
/// once one closes, a new one is let in.
#[tokio::test]
async fn a_websocket_over_the_limit_is_refused_until_one_closes() {
    let app = spawn_app(Config {
        max_websockets: 2,
        ..test_config()
    });
    let mut first = ws_connect(&app, "/ws").await;
    let mut second = ws_connect(&app, "/ws").await;
    assert_eq!(ws_next_json(&mut first).await["type"], "hello");
    assert_eq!(ws_next_json(&mut second).await["type"], "hello");

    let refusal = send(upgrade(&app, "/ws")).await;
    assert_full(&app, "ws", refusal, 2).await;

    drop(first);
    app.wait_for_stat("ws", "connections_open", 1).await;
    let mut third = ws_connect(&app, "/ws").await;
    assert_eq!(ws_next_json(&mut third).await["type"], "hello");
    // The open ones were never disturbed.
    app.publish("test", "still here").await;
    assert_eq!(ws_next_message(&mut second).await["id"], 1);
    assert_eq!(ws_next_message(&mut third).await["id"], 1);
}

/// The third SSE stream on a server limited to two is refused with 503.
#[tokio::test]
async fn an_sse_stream_over_the_limit_is_refused() {
    let app = spawn_app(Config {
        max_sse: 2,
        ..test_config()
    });
    let mut streams = Vec::new();
    for _ in 0..2 {
        streams.push(SseClient::connect(&app, "/api/sse", None).await);
    }
    let refusal = send(app.http.get(app.url("/api/sse"))).await;
    assert_full(&app, "sse", refusal, 2).await;

    app.publish("test", "to the two").await;
    for stream in &mut streams {
        assert_eq!(stream.next_message().await["id"], 1);
    }
}

/// The third parked long-poll on a server limited to two is refused with
/// 503; the two parked ones still get the next message.
#[tokio::test]
async fn a_long_poll_over_the_limit_is_refused() {
    let app = spawn_app(Config {
        max_longpolls: 2,
        ..test_config()
    });
    let parked: Vec<_> = (0..2)
        .map(|_| {
            let request = app.http.get(app.url("/api/longpoll?since=0&timeout=30"));
            tokio::spawn(request.send())
        })
        .collect();
    app.wait_for_stat("longpoll", "connections_open", 2).await;

    let refusal = send(app.http.get(app.url("/api/longpoll?since=0&timeout=30"))).await;
    assert_full(&app, "longpoll", refusal, 2).await;

    app.publish("test", "wake up").await;
    for answer in parked {
        let response = within("a parked long-poll", answer).await.unwrap().unwrap();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(ids(&answer["messages"]), [1]);
    }
    // Short polls have no limit and are never refused.
    assert_eq!(app.get_json("/api/poll?since=0").await.0, 200);
}

fn post(app: &TestApp, text: &str) -> reqwest::RequestBuilder {
    app.http
        .post(app.url("/api/messages"))
        .json(&serde_json::json!({"author": "test", "text": text}))
}

/// A client may publish its burst; the next POST is refused with 429 and
/// Retry-After, counted, and every accepted message is delivered.
#[tokio::test]
async fn posting_faster_than_the_publish_rate_is_refused_with_429() {
    let app = spawn_app(Config {
        publish_rate: 1,
        publish_burst: 3,
        ..test_config()
    });
    for n in 1..=3 {
        assert_eq!(app.publish("test", &format!("message {n}")).await, n);
    }
    let refusal = send(post(&app, "one too many")).await;
    assert_eq!(refusal.status, 429, "{}", refusal.body);
    assert_eq!(refusal.retry_after.as_deref(), Some("1"));
    assert_eq!(refusal.body["error"], "rate_limited");
    assert_eq!(app.stats().await["publish_rejected"], 1);

    let (_, answer) = app.get_json("/api/poll?since=0").await;
    assert_eq!(ids(&answer["messages"]), [1, 2, 3]);
    let metrics = app.metrics().await;
    assert!(metrics.contains("pushlab_publish_rejected_total 1"));
}

/// A WebSocket publish over the rate is answered with an error frame and
/// the connection stays open: it still receives messages, and publishes
/// again once its bucket has refilled.
#[tokio::test]
async fn a_websocket_publish_over_the_rate_gets_an_error_frame_and_stays_open() {
    let app = spawn_app(Config {
        publish_rate: 5,
        publish_burst: 2,
        ..test_config()
    });
    let mut socket = ws_connect(&app, "/ws").await;
    assert_eq!(ws_next_json(&mut socket).await["type"], "hello");
    let publish = serde_json::json!({"type": "publish", "author": "ws", "text": "hi"});

    let mut replies = Vec::new();
    for _ in 0..3 {
        ws_send_json(&mut socket, publish.clone()).await;
        loop {
            let frame = ws_next_json(&mut socket).await;
            if frame["type"] != "message" {
                replies.push(frame);
                break;
            }
        }
    }
    assert_eq!(replies[0]["type"], "published");
    assert_eq!(replies[1]["type"], "published");
    assert_eq!(replies[2]["type"], "error");
    assert_eq!(replies[2]["error"], "rate_limited");
    assert_eq!(app.stats().await["publish_rejected"], 1);

    // Still open: once the bucket has a token again (5 a second), the same
    // socket publishes. Retried rather than slept on: the refill is the event.
    let id = within("the bucket to refill", async {
        loop {
            ws_send_json(&mut socket, publish.clone()).await;
            loop {
                let frame = ws_next_json(&mut socket).await;
                match frame["type"].as_str() {
                    Some("published") => return frame["id"].as_u64().unwrap(),
                    Some("error") => break,
                    _ => continue,
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    // Nothing accepted was lost, nothing refused was published.
    assert_eq!(id, 3);
    let (_, answer) = app.get_json("/api/poll?since=0").await;
    assert_eq!(ids(&answer["messages"]), [1, 2, 3]);
}
