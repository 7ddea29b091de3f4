//! Starting a server for one test ([`spawn_app`], on the launcher every
//! test crate shares: `tests/support`), and small clients for each
//! technique.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pushlab::Config;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::support::Server;

/// The longest any single step of a test may take before it fails.
pub const STEP: Duration = Duration::from_secs(10);

/// Awaits `fut`, failing the test if it takes longer than [`STEP`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A running server and an HTTP client for it, stopped when dropped.
pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    server: Server,
}

/// Settings for tests: generator off, so only the test publishes, and the
/// publish rate unlimited, so tests can publish in bursts (the limit's own
/// tests set it).
pub fn test_config() -> Config {
    Config {
        rate: 0.0,
        publish_rate: 0,
        workers: Some(1),
        ..Config::default()
    }
}

pub fn spawn_app(config: Config) -> TestApp {
    app_of(Server::start(config))
}

/// `pushlab serve` as a process of its own, started with `args`: for a test
/// that measures the server's own memory or CPU.
pub fn spawn_app_process(args: &[&str]) -> TestApp {
    app_of(Server::start_process(args))
}

fn app_of(server: Server) -> TestApp {
    TestApp {
        addr: server.addr,
        http: reqwest::Client::new(),
        server,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = within(path, self.http.get(self.url(path)).send())
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    pub async fn publish(&self, author: &str, text: &str) -> u64 {
        let response = within(
            "publish",
            self.http
                .post(self.url("/api/messages"))
                .json(&serde_json::json!({"author": author, "text": text}))
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        body["id"].as_u64().unwrap()
    }

    /// The text of `/metrics`.
    pub async fn metrics(&self) -> String {
        within("/metrics", async {
            let response = self.http.get(self.url("/metrics")).send().await.unwrap();
            response.text().await.unwrap()
        })
        .await
    }

    pub async fn stats(&self) -> Value {
        self.get_json("/api/stats").await.1
    }

    pub async fn technique_stat(&self, technique: &str, field: &str) -> u64 {
        self.stats().await["techniques"][technique][field]
            .as_u64()
            .unwrap()
    }

    /// Polls `/api/stats` until `field` of `technique` equals `want`.
    pub async fn wait_for_stat(&self, technique: &str, field: &str, want: u64) {
        within(&format!("{technique}.{field} == {want}"), async {
            loop {
                if self.technique_stat(technique, field).await == want {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
    }

    /// Stops the server gracefully and waits for it to finish.
    pub fn stop(&mut self) -> std::io::Result<()> {
        self.server.shut_down()
    }
}

/// The ids of a JSON array of messages.
pub fn ids(messages: &Value) -> Vec<u64> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect()
}

/// A Server-Sent Events client that parses the stream into events.
pub struct SseClient {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    /// Bytes, not text: a chunk may end in the middle of a character.
    buffer: Vec<u8>,
}

#[derive(Debug, Default, Clone)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

impl SseClient {
    pub async fn connect(app: &TestApp, path: &str, last_event_id: Option<u64>) -> SseClient {
        let mut request = app.http.get(app.url(path));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = within("SSE connect", request.send()).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        SseClient {
            body: Box::pin(response.bytes_stream()),
            buffer: Vec::new(),
        }
    }

    /// The next event (comments skipped), or None when the stream ends.
    pub async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = find(&self.buffer, b"\n\n") {
                let bytes: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let block = String::from_utf8(bytes).expect("an SSE event is UTF-8");
                let mut event = SseEvent {
                    event: "message".into(),
                    ..Default::default()
                };
                let mut is_event = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        event.id = Some(v.into());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event.event = v.into();
                        is_event = true;
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        event.data = v.into();
                        is_event = true;
                    }
                }
                if is_event {
                    return Some(event);
                }
                continue;
            }
            match within("an SSE chunk", self.body.next()).await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                _ => return None,
            }
        }
    }

    /// The next `event: message`, parsed.
    pub async fn next_message(&mut self) -> Value {
        loop {
            let event = self.next_event().await.expect("the stream ended");
            if event.event == "message" {
                return serde_json::from_str(&event.data).unwrap();
            }
        }
    }
}

pub type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

pub async fn ws_connect(app: &TestApp, path: &str) -> WsStream {
    let (socket, _) = within(
        "WebSocket connect",
        tokio_tungstenite::connect_async(app.ws_url(path)),
    )
    .await
    .expect("WebSocket handshake");
    socket
}

/// The next JSON text frame.
pub async fn ws_next_json(socket: &mut WsStream) -> Value {
    loop {
        match within("a WebSocket frame", socket.next()).await {
            Some(Ok(WsMessage::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// The next `{"type":"message"}` frame.
pub async fn ws_next_message(socket: &mut WsStream) -> Value {
    loop {
        let frame = ws_next_json(socket).await;
        if frame["type"] == "message" {
            return frame;
        }
    }
}

pub async fn ws_send_json(socket: &mut WsStream, value: Value) {
    within(
        "WebSocket send",
        socket.send(WsMessage::text(value.to_string())),
    )
    .await
    .unwrap();
}

/// A raw TCP connection, for tests where the exact bytes matter.
pub struct Raw {
    pub stream: TcpStream,
    /// Bytes written so far.
    pub sent: usize,
}

impl Raw {
    pub async fn connect(app: &TestApp) -> Raw {
        let stream = within("TCP connect", TcpStream::connect(app.addr))
            .await
            .unwrap();
        Raw { stream, sent: 0 }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        within("raw send", self.stream.write_all(bytes))
            .await
            .unwrap();
        self.sent += bytes.len();
    }

    /// Reads one HTTP response with a content-length body; returns it whole.
    pub async fn read_response(&mut self) -> Vec<u8> {
        let mut data = Vec::new();
        within("a raw HTTP response", async {
            loop {
                let mut chunk = [0u8; 4096];
                let n = self.stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "connection closed before a full response");
                data.extend_from_slice(&chunk[..n]);
                if let Some(head_end) = find(&data, b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&data[..head_end]).to_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if data.len() >= head_end + 4 + length {
                        return;
                    }
                }
            }
        })
        .await;
        data
    }

    /// Reads until the response head is complete; returns the head.
    pub async fn read_head(&mut self) -> String {
        let mut data = Vec::new();
        within("a raw HTTP head", async {
            while find(&data, b"\r\n\r\n").is_none() {
                let mut byte = [0u8; 1];
                let n = self.stream.read(&mut byte).await.unwrap();
                assert!(n > 0, "connection closed before a full head");
                data.push(byte[0]);
            }
        })
        .await;
        String::from_utf8(data).unwrap()
    }

    /// Opens a WebSocket by hand; returns the response head.
    pub async fn ws_handshake(&mut self, path: &str, origin: Option<&str>) -> String {
        let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{origin}\r\n"
        );
        self.send(request.as_bytes()).await;
        self.read_head().await
    }

    /// Sends one masked client frame.
    pub async fn send_frame(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        let mut frame = vec![(if fin { 0x80 } else { 0 }) | opcode];
        let len = payload.len();
        if len < 126 {
            frame.push(0x80 | len as u8);
        } else if len < 65536 {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
        let mask = [0x12, 0x34, 0x56, 0x78];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.send(&frame).await;
    }

    /// Reads server frames until a close frame; returns its status code.
    pub async fn read_close_code(&mut self) -> u16 {
        within("a close frame", async {
            loop {
                let mut header = [0u8; 2];
                self.stream.read_exact(&mut header).await.unwrap();
                let opcode = header[0] & 0x0f;
                let mut len = (header[1] & 0x7f) as usize;
                if len == 126 {
                    let mut ext = [0u8; 2];
                    self.stream.read_exact(&mut ext).await.unwrap();
                    len = u16::from_be_bytes(ext) as usize;
                } else if len == 127 {
                    let mut ext = [0u8; 8];
                    self.stream.read_exact(&mut ext).await.unwrap();
                    len = u64::from_be_bytes(ext) as usize;
                }
                let mut payload = vec![0u8; len];
                self.stream.read_exact(&mut payload).await.unwrap();
                if opcode == 0x8 {
                    return u16::from_be_bytes([payload[0], payload[1]]);
                }
            }
        })
        .await
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
