//! WebSocket: the Origin check, close codes, heartbeat and the echo endpoint.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::helpers::*;

/// A page from a foreign origin may not open a WebSocket: 403 before the upgrade.
#[tokio::test]
async fn a_foreign_origin_gets_403() {
    let app = spawn_app(test_config());
    for path in ["/ws", "/ws/echo"] {
        let mut raw = Raw::connect(&app).await;
        let head = raw.ws_handshake(path, Some("https://evil.example")).await;
        assert!(head.starts_with("HTTP/1.1 403"), "{path}: {head}");
    }
}

/// An origin named with --allowed-origin, the same origin, and no origin at all are let in.
#[tokio::test]
async fn listed_same_and_absent_origins_are_allowed() {
    let app = spawn_app(pushlab::Config {
        allowed_origins: vec!["https://class.example".into()],
        ..test_config()
    });
    for origin in [
        Some("https://class.example"),
        Some("http://localhost"),
        None,
    ] {
        let mut raw = Raw::connect(&app).await;
        let head = raw.ws_handshake("/ws", origin).await;
        assert!(head.starts_with("HTTP/1.1 101"), "{origin:?}: {head}");
    }
}

/// A frame over 64 KiB is closed with 1009.
#[tokio::test]
async fn an_oversized_frame_gets_close_1009() {
    let app = spawn_app(test_config());
    let mut raw = Raw::connect(&app).await;
    raw.ws_handshake("/ws", None).await;
    raw.send_frame(true, 0x1, &vec![b'a'; 64 * 1024 + 1]).await;
    assert_eq!(raw.read_close_code().await, 1009);
}

/// Fragments that add up to more than 1 MiB are closed with 1009.
#[tokio::test]
async fn an_oversized_fragmented_message_gets_close_1009() {
    let app = spawn_app(test_config());
    let mut raw = Raw::connect(&app).await;
    raw.ws_handshake("/ws", None).await;
    let piece = vec![b'a'; 60 * 1024];
    raw.send_frame(false, 0x1, &piece).await;
    for _ in 0..20 {
        raw.send_frame(false, 0x0, &piece).await;
    }
    raw.send_frame(true, 0x0, &piece).await;
    assert_eq!(raw.read_close_code().await, 1009);
}

/// A text frame that is not UTF-8 is closed with 1007.
#[tokio::test]
async fn invalid_utf8_gets_close_1007() {
    let app = spawn_app(test_config());
    for path in ["/ws", "/ws/echo"] {
        let mut raw = Raw::connect(&app).await;
        raw.ws_handshake(path, None).await;
        raw.send_frame(true, 0x1, &[0xce, 0xba, 0xff, 0xfe]).await;
        assert_eq!(raw.read_close_code().await, 1007, "{path}");
    }
}

/// A reserved opcode is a protocol error: close 1002.
#[tokio::test]
async fn a_reserved_opcode_gets_close_1002() {
    let app = spawn_app(test_config());
    let mut raw = Raw::connect(&app).await;
    raw.ws_handshake("/ws/echo", None).await;
    raw.send_frame(true, 0x3, b"?").await;
    assert_eq!(raw.read_close_code().await, 1002);
}

/// A frame with a reserved bit set (no extension was negotiated) gets close 1002.
#[tokio::test]
async fn reserved_bits_get_close_1002() {
    let app = spawn_app(test_config());
    let mut raw = Raw::connect(&app).await;
    raw.ws_handshake("/ws/echo", None).await;
    raw.send_frame(true, 0x40 | 0x1, b"rsv1").await; // RSV1 + text
    assert_eq!(raw.read_close_code().await, 1002);
}

/// A binary frame on /ws (which speaks JSON text) is closed with 1003.
#[tokio::test]
async fn a_binary_frame_on_ws_gets_close_1003() {
    let app = spawn_app(test_config());
    let mut raw = Raw::connect(&app).await;
    raw.ws_handshake("/ws", None).await;
    raw.send_frame(true, 0x2, b"\x00\x01").await;
    assert_eq!(raw.read_close_code().await, 1003);
}

/// A bad publish frame gets an error frame, and the connection stays usable.
#[tokio::test]
async fn a_bad_publish_frame_gets_an_error_frame_and_stays_open() {
    let app = spawn_app(test_config());
    let mut ws = ws_connect(&app, "/ws").await;
    ws_next_json(&mut ws).await; // hello
    for bad in [
        serde_json::json!("not an object"),
        serde_json::json!({"type": "shout", "text": "hi"}),
        serde_json::json!({"type": "publish", "author": "", "text": "hi"}),
        serde_json::json!({"type": "publish", "author": "a", "text": "x".repeat(501)}),
    ] {
        ws_send_json(&mut ws, bad.clone()).await;
        let reply = ws_next_json(&mut ws).await;
        assert_eq!(reply["type"], "error", "{bad}");
        assert!(reply["message"].as_str().unwrap().len() > 5);
    }
    within("send", ws.send(WsMessage::text("{not json")))
        .await
        .unwrap();
    assert_eq!(ws_next_json(&mut ws).await["error"], "bad_json");
    assert_eq!(
        app.stats().await["hub"]["last_id"],
        0,
        "nothing was published"
    );
    ws_send_json(
        &mut ws,
        serde_json::json!({"type": "publish", "author": "a", "text": "ok"}),
    )
    .await;
    assert_eq!(ws_next_json(&mut ws).await["type"], "published");
}

/// /ws/echo sends back text and binary messages, fragmented ones reassembled.
#[tokio::test]
async fn echo_echoes_text_and_binary() {
    let app = spawn_app(test_config());
    let mut ws = ws_connect(&app, "/ws/echo").await;
    within("send", ws.send(WsMessage::text("hello, échö")))
        .await
        .unwrap();
    let reply = within("echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(reply, WsMessage::text("hello, échö"));
    within("send", ws.send(WsMessage::binary(vec![0u8, 1, 2, 255])))
        .await
        .unwrap();
    let reply = within("echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(reply, WsMessage::binary(vec![0u8, 1, 2, 255]));

    let mut raw = Raw::connect(&app).await;
    raw.ws_handshake("/ws/echo", None).await;
    raw.send_frame(false, 0x1, b"frag").await;
    raw.send_frame(true, 0x0, b"mented").await;
    let mut expected = vec![0x81, 10];
    expected.extend_from_slice(b"fragmented");
    let mut got = vec![0u8; expected.len()];
    within(
        "echo",
        tokio::io::AsyncReadExt::read_exact(&mut raw.stream, &mut got),
    )
    .await
    .unwrap();
    assert_eq!(got, expected);
}

/// The client's close code is echoed back; an invalid one is answered with 1002.
#[tokio::test]
async fn close_codes_are_echoed_or_refused() {
    let app = spawn_app(test_config());
    for (sent, expected) in [(1000u16, 1000u16), (4000, 4000), (1005, 1002), (999, 1002)] {
        let mut raw = Raw::connect(&app).await;
        raw.ws_handshake("/ws/echo", None).await;
        raw.send_frame(true, 0x8, &sent.to_be_bytes()).await;
        assert_eq!(raw.read_close_code().await, expected, "sent {sent}");
    }
}

/// The server pings, and drops a peer that stays silent past the idle timeout.
#[tokio::test]
async fn a_silent_peer_is_pinged_then_dropped() {
    let app = spawn_app(pushlab::Config {
        ws_ping_interval: Duration::from_millis(50),
        ws_idle_timeout: Duration::from_millis(200),
        ..test_config()
    });
    let mut raw = Raw::connect(&app).await;
    raw.ws_handshake("/ws/echo", None).await;
    // We never answer pings: the server closes with 1008 after the timeout.
    assert_eq!(raw.read_close_code().await, 1008);
}

/// A peer that answers pings stays connected past the idle timeout.
#[tokio::test]
async fn a_peer_that_answers_pings_stays() {
    let app = spawn_app(pushlab::Config {
        ws_ping_interval: Duration::from_millis(50),
        ws_idle_timeout: Duration::from_millis(200),
        ..test_config()
    });
    // tungstenite answers pings on its own while we read.
    let mut ws = ws_connect(&app, "/ws").await;
    ws_next_json(&mut ws).await; // hello
    let deadline = tokio::time::Instant::now() + Duration::from_millis(600);
    let mut pings = 0;
    while let Ok(frame) = tokio::time::timeout_at(deadline, ws.next()).await {
        match frame {
            Some(Ok(WsMessage::Ping(_))) => pings += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(pings >= 3, "only {pings} pings");
    app.publish("test", "still here").await;
    assert_eq!(ws_next_message(&mut ws).await["text"], "still here");
}
