//! The four techniques see the same messages, in the same order, once each —
//! also across a reconnect with the cursor — and say when they missed some.

use serde_json::Value;

use crate::helpers::*;

/// Everything after `since` over short polls.
async fn poll_all(app: &TestApp, since: u64) -> Vec<Value> {
    let (status, answer) = app.get_json(&format!("/api/poll?since={since}")).await;
    assert_eq!(status, 200);
    answer["messages"].as_array().unwrap().clone()
}

/// Long-polls from `since` until `until` is reached.
async fn longpoll_until(app: &TestApp, mut since: u64, until: u64) -> Vec<Value> {
    let mut got = Vec::new();
    while since < until {
        let (status, answer) = app
            .get_json(&format!("/api/longpoll?since={since}&timeout=5"))
            .await;
        assert_eq!(status, 200);
        got.extend(answer["messages"].as_array().unwrap().iter().cloned());
        since = answer["next"].as_u64().unwrap();
    }
    got
}

fn texts(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| format!("{}:{}", m["id"], m["text"]))
        .collect()
}

/// All four techniques receive the same messages in the same order, with
/// no duplicates, including across a reconnect with the cursor.
#[tokio::test]
async fn all_techniques_see_the_same_messages_in_order_across_reconnects() {
    let app = spawn_app(test_config());
    let mut sse = SseClient::connect(&app, "/api/sse", None).await;
    let mut ws = ws_connect(&app, "/ws").await;
    assert_eq!(ws_next_json(&mut ws).await["type"], "hello");

    for i in 1..=5 {
        app.publish("test", &format!("first {i}")).await;
    }
    let mut sse_got = Vec::new();
    let mut ws_got = Vec::new();
    for _ in 0..5 {
        sse_got.push(sse.next_message().await);
        ws_got.push(ws_next_message(&mut ws).await);
    }

    // Disconnect, miss five messages, come back with the cursor.
    drop(sse);
    drop(ws);
    for i in 6..=10 {
        app.publish("test", &format!("second {i}")).await;
    }
    let mut sse = SseClient::connect(&app, "/api/sse", Some(5)).await;
    let mut ws = ws_connect(&app, "/ws?since=5").await;
    for _ in 0..5 {
        sse_got.push(sse.next_message().await);
        ws_got.push(ws_next_message(&mut ws).await);
    }

    let mut poll_got = poll_all(&app, 0).await;
    poll_got.truncate(5);
    poll_got.extend(poll_all(&app, 5).await);
    let longpoll_got = longpoll_until(&app, 0, 10).await;

    let expected: Vec<u64> = (1..=10).collect();
    for (name, got) in [
        ("poll", &poll_got),
        ("longpoll", &longpoll_got),
        ("sse", &sse_got),
    ] {
        assert_eq!(ids(&Value::from(got.clone())), expected, "{name}");
        assert_eq!(texts(got), texts(&poll_got), "{name}");
    }
    let ws_ids: Vec<u64> = ws_got.iter().map(|m| m["id"].as_u64().unwrap()).collect();
    assert_eq!(ws_ids, expected, "ws");
    assert_eq!(texts(&ws_got), texts(&poll_got), "ws");
}

/// A message published over WebSocket reaches every technique.
#[tokio::test]
async fn a_message_published_over_websocket_reaches_the_polls() {
    let app = spawn_app(test_config());
    let mut ws = ws_connect(&app, "/ws").await;
    ws_next_json(&mut ws).await; // hello
    ws_send_json(
        &mut ws,
        serde_json::json!({"type": "publish", "author": "ws", "text": "over the socket"}),
    )
    .await;
    let ack = ws_next_json(&mut ws).await;
    assert_eq!(ack["type"], "published");
    assert_eq!(ack["id"], 1);
    let echoed = ws_next_message(&mut ws).await;
    assert_eq!(echoed["text"], "over the socket");
    let polled = poll_all(&app, 0).await;
    assert_eq!(polled[0]["author"], "ws");
}

/// A cursor older than the ring reports `missed > 0` on every technique.
#[tokio::test]
async fn a_cursor_older_than_the_ring_reports_missed_on_every_technique() {
    let app = spawn_app(pushlab::Config {
        history: 4,
        ..test_config()
    });
    for i in 1..=10 {
        app.publish("test", &i.to_string()).await;
    }
    // Asking after id 1: ids 2..=6 are gone, 7..=10 remain.
    for path in ["/api/poll?since=1", "/api/longpoll?since=1&timeout=1"] {
        let (_, answer) = app.get_json(path).await;
        assert_eq!(answer["missed"], 5, "{path}");
        assert_eq!(ids(&answer["messages"]), [7, 8, 9, 10], "{path}");
    }

    let mut sse = SseClient::connect(&app, "/api/sse", Some(1)).await;
    let gap = loop {
        let event = sse.next_event().await.unwrap();
        if event.event == "gap" {
            break event;
        }
    };
    let gap: Value = serde_json::from_str(&gap.data).unwrap();
    assert_eq!(gap["missed"], 5);
    assert_eq!(sse.next_message().await["id"], 7);

    let mut ws = ws_connect(&app, "/ws?since=1").await;
    assert_eq!(ws_next_json(&mut ws).await["type"], "hello");
    let gap = ws_next_json(&mut ws).await;
    assert_eq!(gap["type"], "gap");
    assert_eq!(gap["missed"], 5);
    assert_eq!(ws_next_message(&mut ws).await["id"], 7);

    let stats = app.stats().await;
    for technique in ["poll", "longpoll", "sse", "ws"] {
        assert_eq!(
            stats["techniques"][technique]["messages_missed"], 5,
            "{technique}"
        );
    }
}

/// A cursor from another run of the server starts over with a reset flag.
#[tokio::test]
async fn a_cursor_from_another_epoch_is_reported_as_a_reset() {
    let app = spawn_app(test_config());
    app.publish("test", "one").await;
    let (_, answer) = app.get_json("/api/poll?since=500").await;
    assert_eq!(answer["reset"], true);
    assert_eq!(ids(&answer["messages"]), [1]);
    let (_, answer) = app.get_json("/api/poll?since=0&epoch=not-this-one").await;
    assert_eq!(answer["reset"], true);
}
