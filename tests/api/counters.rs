//! The counters move as they should, and the bytes they count are the
//! bytes on the wire.

use crate::helpers::*;

/// One poll is one request; an empty answer is counted as empty.
#[tokio::test]
async fn one_poll_is_one_request_and_an_empty_answer_is_counted() {
    let app = spawn_app(test_config());
    app.get_json("/api/poll").await;
    let poll = &app.stats().await["techniques"]["poll"];
    assert_eq!(poll["requests"], 1);
    assert_eq!(poll["empty_responses"], 1);
    assert_eq!(poll["messages_delivered"], 0);

    app.publish("test", "one").await;
    app.get_json("/api/poll?since=0").await;
    let poll = &app.stats().await["techniques"]["poll"];
    assert_eq!(poll["requests"], 2);
    assert_eq!(poll["empty_responses"], 1);
    assert_eq!(poll["messages_delivered"], 1);
    assert_eq!(poll["latency_ms"]["count"], 1);
    // Reading the stats is not traffic of any technique.
    for technique in ["longpoll", "sse", "ws"] {
        assert_eq!(app.stats().await["techniques"][technique]["requests"], 0);
    }
}

/// The bytes counted for a poll are exactly the bytes of its request and
/// response on the wire, headers included.
#[tokio::test]
async fn poll_bytes_are_the_bytes_on_the_wire() {
    let app = spawn_app(test_config());
    app.publish("test", "counted").await;
    let mut raw = Raw::connect(&app).await;
    let request = b"GET /api/poll?since=0 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\nAccept: */*\r\n\r\n";
    raw.send(request).await;
    let response = raw.read_response().await;
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let poll = &app.stats().await["techniques"]["poll"];
    assert_eq!(poll["bytes_in"], request.len() as u64);
    assert_eq!(poll["bytes_out"], response.len() as u64);
    assert!(poll["bytes_out"].as_u64().unwrap() > head_end as u64);
}

/// A WebSocket's bytes are its handshake once plus each frame with its header.
#[tokio::test]
async fn websocket_bytes_count_the_handshake_and_frame_headers() {
    let app = spawn_app(test_config());
    let mut raw = Raw::connect(&app).await;
    let head = raw.ws_handshake("/ws", None).await;
    // The hello frame follows the 101 head.
    let hello_len = {
        let mut header = [0u8; 2];
        tokio::io::AsyncReadExt::read_exact(&mut raw.stream, &mut header)
            .await
            .unwrap();
        let len = (header[1] & 0x7f) as usize;
        let mut payload = vec![0u8; len];
        tokio::io::AsyncReadExt::read_exact(&mut raw.stream, &mut payload)
            .await
            .unwrap();
        2 + len
    };
    app.wait_for_stat("ws", "bytes_out", (head.len() + hello_len) as u64)
        .await;

    assert_eq!(
        app.technique_stat("ws", "bytes_in").await,
        raw.sent as u64,
        "the handshake"
    );
    // 2 header bytes + 4 mask bytes + payload, on top of the handshake request.
    let frame = serde_json::json!({"type": "publish", "author": "a", "text": "b"}).to_string();
    raw.send_frame(true, 0x1, frame.as_bytes()).await;
    assert_eq!(raw.sent, 150 + 6 + frame.len());
    within("the publish", async {
        while app.stats().await["hub"]["last_id"] != 1 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(app.technique_stat("ws", "bytes_in").await, raw.sent as u64);
}

/// /metrics carries the same figures in Prometheus text.
#[tokio::test]
async fn metrics_carry_the_same_figures() {
    let app = spawn_app(test_config());
    app.get_json("/api/poll").await;
    let text = app.metrics().await;
    assert!(
        text.contains("pushlab_requests_total{technique=\"poll\"} 1"),
        "{text}"
    );
    assert!(text.contains("pushlab_empty_responses_total{technique=\"poll\"} 1"));
    assert!(text.contains("pushlab_connections_open{technique=\"ws\"} 0"));
    assert!(text.ends_with("# EOF\n"));
}
