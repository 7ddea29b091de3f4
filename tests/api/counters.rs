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

/// Whatever a request says about its connection (`close` on HTTP/1.1,
/// nothing or `keep-alive` on HTTP/1.0), the `connection` header actix
/// writes back is counted with the rest of the answer.
#[tokio::test]
async fn connection_headers_are_counted_as_sent() {
    let app = spawn_app(test_config());
    let requests: [&[u8]; 3] = [
        b"GET /api/poll HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        b"GET /api/poll HTTP/1.0\r\n\r\n",
        b"GET /api/poll HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ];
    let (mut sent, mut received) = (0, 0);
    for request in requests {
        let mut raw = Raw::connect(&app).await;
        raw.send(request).await;
        let response = raw.read_response().await;
        sent += request.len();
        received += response.len();
        let head = String::from_utf8_lossy(&response).to_lowercase();
        let poll = &app.stats().await["techniques"]["poll"];
        assert_eq!(poll["bytes_in"], sent as u64);
        assert_eq!(poll["bytes_out"], received as u64, "after {head}");
    }
}

/// A poll that offers to switch to HTTP/2 (`Upgrade: h2c`, as `curl --http2`
/// and Java's HttpClient send) is answered as the HTTP/1.1 it is: no
/// `connection: upgrade` on the answer, the connection open for the next
/// request, and every byte of both counted.
#[tokio::test]
async fn a_declined_upgrade_leaves_an_ordinary_connection() {
    let app = spawn_app(test_config());
    let mut raw = Raw::connect(&app).await;
    let offer = b"GET /api/poll HTTP/1.1\r\nHost: localhost\r\n\
        Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
        HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
    raw.send(offer).await;
    let first = raw.read_response().await;
    let head = String::from_utf8_lossy(&first).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("connection: upgrade"), "{head}");

    let plain = b"GET /api/poll HTTP/1.1\r\nHost: localhost\r\n\r\n";
    raw.send(plain).await;
    let second = raw.read_response().await;
    assert!(second.starts_with(b"HTTP/1.1 200"));

    let poll = &app.stats().await["techniques"]["poll"];
    assert_eq!(poll["bytes_in"], (offer.len() + plain.len()) as u64);
    assert_eq!(poll["bytes_out"], (first.len() + second.len()) as u64);
}

/// A refused WebSocket handshake (a foreign Origin) is counted to the byte:
/// its answer, and the `connection: close` actix adds to it.
#[tokio::test]
async fn a_refused_websocket_handshake_is_counted_exactly() {
    let app = spawn_app(test_config());
    let mut raw = Raw::connect(&app).await;
    let head = raw.ws_handshake("/ws", Some("http://evil.example")).await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    let mut body = Vec::new();
    within(
        "the server closing",
        tokio::io::AsyncReadExt::read_to_end(&mut raw.stream, &mut body),
    )
    .await
    .unwrap();
    let ws = &app.stats().await["techniques"]["ws"];
    assert_eq!(ws["bytes_in"], raw.sent as u64);
    assert_eq!(ws["bytes_out"], (head.len() + body.len()) as u64);
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
