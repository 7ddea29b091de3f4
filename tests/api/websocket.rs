//! WebSocket: the handshake's refusals (426 for a wrong version), the Origin
//! check, close codes, heartbeat, and the echo endpoint with its demo page.

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
    // 18 pieces of 60 KiB: the last one takes the message past 1 MiB.
    // Nothing is sent after it: the server closes as soon as it has read
    // it, and a write after that would meet a closed socket.
    let piece = vec![b'a'; 60 * 1024];
    raw.send_frame(false, 0x1, &piece).await;
    for _ in 0..16 {
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

/// An error frame never quotes a client's input at length: a publish frame
/// whose type is 60,000 characters long is answered in a few hundred bytes
/// (serde's "unknown variant" message would quote all of it), so what a
/// client that stops reading can pile up on `/ws` stays small.
#[tokio::test]
async fn an_error_frame_does_not_quote_a_long_input() {
    let app = spawn_app(test_config());
    let mut ws = ws_connect(&app, "/ws").await;
    ws_next_json(&mut ws).await; // hello
    ws_send_json(&mut ws, serde_json::json!({"type": "x".repeat(60_000)})).await;
    let reply = ws_next_json(&mut ws).await;
    assert_eq!(reply["error"], "bad_json", "{reply}");
    let message = reply["message"].as_str().unwrap();
    assert!(message.contains("xxx"), "the input is quoted: {message}");
    assert!(
        reply.to_string().len() < 400,
        "{} bytes",
        reply.to_string().len()
    );
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

/// With `--ws-write-delay` the first message waits the delay, and what is
/// published meanwhile goes out with it, in order: gathered, not delayed
/// one by one.
#[tokio::test]
async fn a_write_delay_gathers_what_is_published_meanwhile() {
    let delay = Duration::from_millis(500);
    let app = spawn_app(pushlab::Config {
        ws_write_delay: delay,
        ..test_config()
    });
    let mut ws = ws_connect(&app, "/ws").await;
    ws_next_json(&mut ws).await; // hello
    let start = std::time::Instant::now();
    for text in ["one", "two", "three"] {
        app.publish("test", text).await;
    }
    let published = start.elapsed();
    assert!(
        published < delay,
        "publishing took {published:?}: too slow to test"
    );
    assert_eq!(ws_next_message(&mut ws).await["text"], "one");
    let first = start.elapsed();
    assert!(first >= delay, "the first message came after {first:?}");
    for text in ["two", "three"] {
        assert_eq!(ws_next_message(&mut ws).await["text"], text);
    }
    let last = start.elapsed();
    assert!(
        last - first < delay,
        "the last came {:?} after the first",
        last - first
    );
}

/// A handshake request to `path` with `headers` (each `Name: value\r\n`)
/// after the request line and Host; returns the answer's head, lowercased,
/// and its JSON body.
async fn refused_handshake(
    app: &TestApp,
    path: &str,
    headers: &str,
) -> (String, serde_json::Value) {
    let mut raw = Raw::connect(app).await;
    raw.send(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n").as_bytes())
        .await;
    let response = raw.read_response().await;
    let head_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole head");
    let head = String::from_utf8_lossy(&response[..head_end]).to_lowercase();
    assert!(
        head.contains("content-type: application/json"),
        "{path}: a refusal is JSON: {head}"
    );
    let body = serde_json::from_slice(&response[head_end + 4..]).expect("a JSON body");
    (head, body)
}

/// What a browser sends, minus the header the test leaves out or changes.
const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
const KEY: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
const VERSION_13: &str = "Sec-WebSocket-Version: 13\r\n";

/// A version other than 13 is answered 426 with the version the server
/// speaks, so the client can try again with it (RFC 6455 §4.4).
#[tokio::test]
async fn a_wrong_websocket_version_gets_426_naming_version_13() {
    let app = spawn_app(test_config());
    for path in ["/ws", "/ws/echo"] {
        for version in ["8", "14", "thirteen"] {
            let headers = format!("{UPGRADE}{KEY}Sec-WebSocket-Version: {version}\r\n");
            let (head, body) = refused_handshake(&app, path, &headers).await;
            assert!(head.starts_with("http/1.1 426"), "{path} {version}: {head}");
            assert!(head.contains("\r\nsec-websocket-version: 13\r\n"), "{head}");
            assert!(head.contains("\r\nupgrade: websocket\r\n"), "{head}");
            assert_eq!(body["error"], "unsupported_websocket_version", "{body}");
            assert!(body["message"].as_str().unwrap().contains("13"), "{body}");
        }
    }
}

/// A handshake without `Sec-WebSocket-Version` is a 400 that names the header.
#[tokio::test]
async fn a_handshake_without_a_version_gets_400_naming_it() {
    let app = spawn_app(test_config());
    for path in ["/ws", "/ws/echo"] {
        let (head, body) = refused_handshake(&app, path, &format!("{UPGRADE}{KEY}")).await;
        assert!(head.starts_with("http/1.1 400"), "{path}: {head}");
        assert_eq!(body["error"], "bad_handshake", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("Sec-WebSocket-Version: 13"), "{message}");
    }
}

/// A missing key, or one that is not 16 bytes of base64, is a 400 that
/// names the header.
#[tokio::test]
async fn a_missing_or_bad_key_gets_400_naming_it() {
    let app = spawn_app(test_config());
    let keys = [
        "",
        "Sec-WebSocket-Key: not base64!\r\n",
        "Sec-WebSocket-Key: aGVsbG8=\r\n", // "hello": 5 bytes
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZXM=\r\n", // 17 bytes
    ];
    for path in ["/ws", "/ws/echo"] {
        for key in keys {
            let (head, body) =
                refused_handshake(&app, path, &format!("{UPGRADE}{key}{VERSION_13}")).await;
            assert!(head.starts_with("http/1.1 400"), "{path} {key:?}: {head}");
            assert_eq!(body["error"], "bad_handshake", "{body}");
            let message = body["message"].as_str().unwrap();
            assert!(message.contains("Sec-WebSocket-Key"), "{key:?}: {message}");
        }
    }
}

/// A plain GET, or one that asks to upgrade without `Connection: Upgrade`,
/// is told what a WebSocket handshake needs.
#[tokio::test]
async fn a_plain_get_is_told_a_handshake_is_expected() {
    let app = spawn_app(test_config());
    for path in ["/ws", "/ws/echo"] {
        let (head, body) = refused_handshake(&app, path, "").await;
        assert!(head.starts_with("http/1.1 400"), "{path}: {head}");
        assert_eq!(body["error"], "bad_handshake", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("Upgrade: websocket"), "{message}");

        let no_connection = format!("Upgrade: websocket\r\n{KEY}{VERSION_13}");
        let (head, body) = refused_handshake(&app, path, &no_connection).await;
        assert!(head.starts_with("http/1.1 400"), "{path}: {head}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("Connection: Upgrade"), "{message}");
    }
}

/// A handshake must be HTTP/1.1: an HTTP/1.0 one (what nginx forwards
/// unless told `proxy_http_version 1.1`) is refused with a 400 saying so.
#[tokio::test]
async fn an_http_1_0_handshake_gets_400() {
    let app = spawn_app(test_config());
    for path in ["/ws", "/ws/echo"] {
        let mut raw = Raw::connect(&app).await;
        let request =
            format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n{UPGRADE}{KEY}{VERSION_13}\r\n");
        raw.send(request.as_bytes()).await;
        let response = String::from_utf8(raw.read_response().await).unwrap();
        assert!(response.starts_with("HTTP/1.0 400"), "{path}: {response}");
        assert!(response.contains("HTTP/1.1 request"), "{response}");
    }
}

/// A handshake refused with 426 still counts every byte both ways, like
/// any refused handshake (`tests/api/counters.rs`).
#[tokio::test]
async fn a_426_handshake_is_counted_exactly() {
    let app = spawn_app(test_config());
    let mut raw = Raw::connect(&app).await;
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: localhost\r\n{UPGRADE}{KEY}Sec-WebSocket-Version: 8\r\n\r\n"
    );
    raw.send(request.as_bytes()).await;
    let mut answer = Vec::new();
    within(
        "the server closing",
        tokio::io::AsyncReadExt::read_to_end(&mut raw.stream, &mut answer),
    )
    .await
    .unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 426"));
    let ws = &app.stats().await["techniques"]["ws"];
    assert_eq!(ws["bytes_in"], raw.sent as u64);
    assert_eq!(ws["bytes_out"], answer.len() as u64);
}

/// The echo endpoint's connections are counted in `/api/stats` → `echo`:
/// open while the socket is, forgotten once it closes.
#[tokio::test]
async fn stats_count_open_echo_connections() {
    let app = spawn_app(test_config());
    let echo = |stats: serde_json::Value| stats["echo"].clone();
    let before = echo(app.stats().await);
    assert_eq!(before["connections_open"], 0, "{before}");
    assert_eq!(before["connections"], 0, "{before}");
    let mut first = ws_connect(&app, "/ws/echo").await;
    let mut second = ws_connect(&app, "/ws/echo").await;
    wait_for_echo(&app, 2).await;
    assert_eq!(echo(app.stats().await)["connections"], 2);

    // A close frame ends one session; a dropped TCP connection the other.
    within("close", first.close(None)).await.unwrap();
    wait_for_echo(&app, 1).await;
    within("send", second.send(WsMessage::text("still here")))
        .await
        .unwrap();
    drop(second);
    wait_for_echo(&app, 0).await;
    assert_eq!(echo(app.stats().await)["connections"], 2);
    assert!(
        app.metrics()
            .await
            .contains("pushlab_echo_connections_total 2\n")
    );
}

/// Polls `/api/stats` until `echo.connections_open` is `want`.
async fn wait_for_echo(app: &TestApp, want: u64) {
    within(&format!("echo.connections_open == {want}"), async {
        while app.stats().await["echo"]["connections_open"] != want {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// `/demo/echo`, the article's demo, is a page with a strict CSP whose only
/// code is its own module, which talks to `/ws/echo` and reads the count.
#[tokio::test]
async fn the_echo_demo_page_is_served_with_its_script() {
    let app = spawn_app(test_config());
    let response = within("/demo/echo", app.http.get(app.url("/demo/echo")).send())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<script type="module" src="/static/demo/echo.js"></script>"#));
    assert_eq!(html.matches("<script").count(), 1, "no inline script");
    assert!(!html.contains("style="), "no inline style");
    for marker in [
        r#"data-action="send""#,
        r#"data-action="close""#,
        "data-log",
        "data-echo-open",
    ] {
        assert!(html.contains(marker), "{marker}");
    }
    for (file, needle) in [
        ("/static/demo/echo.js", "/ws/echo"),
        ("/static/demo/echo.js", "connections_open"),
        ("/static/demo/echo.css", "font-family"),
    ] {
        let response = within(file, app.http.get(app.url(file)).send())
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{file}");
        assert!(response.text().await.unwrap().contains(needle), "{file}");
    }
}
