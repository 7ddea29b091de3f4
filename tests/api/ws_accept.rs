//! GET /api/ws-accept computes the WebSocket handshake's accept key, and
//! it is the same one the server really sends on /ws.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// RFC 6455's example key gives RFC 6455's answer, with every step shown.
#[tokio::test]
async fn the_rfc_example_key_gives_the_rfc_accept() {
    let app = spawn_app(test_config());
    let (status, body) = app
        .get_json("/api/ws-accept?key=dGhlIHNhbXBsZSBub25jZQ%3D%3D")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["accept"], RFC_ACCEPT);
    assert_eq!(body["guid"], "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    assert_eq!(
        body["concatenated"],
        format!("{RFC_KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
    );
    assert_eq!(body["sha1_hex"], "b37a4f2cc0624f1690f64606cf385945b2bec4ea");
}

/// A missing key, one that is not base64, or not 16 bytes, is a JSON 400.
#[tokio::test]
async fn a_bad_key_is_a_json_400() {
    let app = spawn_app(test_config());
    for query in ["", "?key=", "?key=not%20base64!", "?key=aGVsbG8%3D"] {
        let (status, body) = app.get_json(&format!("/api/ws-accept{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["error"], "bad_key", "{query}");
    }
}

/// The server's real 101 answer on /ws carries the accept the endpoint computes.
#[tokio::test]
async fn the_real_handshake_sends_the_same_accept() {
    let app = spawn_app(test_config());
    let mut socket = TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {RFC_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        app.addr
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    within("the 101 answer", async {
        let mut buf = [0u8; 1024];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the server closed the connection");
            answer.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(answer.starts_with("http/1.1 101"), "{answer}");
    assert!(
        answer.contains(&format!(
            "sec-websocket-accept: {}",
            RFC_ACCEPT.to_lowercase()
        )),
        "{answer}"
    );
}
