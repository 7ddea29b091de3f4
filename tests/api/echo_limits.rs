//! `/ws/echo` inside the limits: its own connection cap (`--max-echo`), and
//! an outgoing queue bounded in bytes (`--echo-max-queued`). A client that
//! sends large messages and never reads what comes back is closed with
//! 1008, costs the server a bounded amount of memory meanwhile, and the
//! memory is given back when it leaves.
//!
//! The memory test runs the server as a child process — the real binary,
//! with its real allocator — and reads that process's resident memory from
//! `/proc/<pid>/status`: what the other tests in this process do cannot
//! move it, and it cannot move theirs.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pushlab::Config;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::JoinHandle;

use crate::helpers::*;

/// The messages the non-reading clients send: 1 MiB, the default
/// `--echo-max-message`.
const MESSAGE: usize = 1 << 20;

/// How many each non-reading client sends, at most: 16 MiB, which a queue
/// bounded by message count (32 frames) would hold whole.
const MESSAGES: usize = 16;

/// How many clients stop reading at once in the memory test.
const CLIENTS: usize = 10;

/// What one client that stops reading may cost the server, by
/// construction: `--echo-max-queued` (2 MiB) waiting to be sent, the 1 MiB
/// message it is sending, the 32 KiB write buffer and a 64 KiB slice.
const PER_CLIENT: u64 = (2 << 20) + (1 << 20) + (96 << 10);

/// Room for everything else the server allocates meanwhile (the clients'
/// connections, the allocator's own bookkeeping): 16 MiB.
const SLACK: u64 = 16 << 20;

/// How close to where it started the server's memory must come back once
/// the clients are gone.
const RETURN_MARGIN: u64 = 8 << 20;

/// How long the allocator may take to give memory back: jemalloc returns
/// unused pages after `dirty_decay_ms` (see src/main.rs).
const RETURN_WITHIN: Duration = Duration::from_secs(20);

/// The third echo connection on a server limited to two gets a JSON 503;
/// the class's `/ws` places are not taken by it, and once an echo
/// connection closes, a new one gets in.
#[tokio::test]
async fn an_echo_connection_over_max_echo_is_refused_with_503() {
    let app = spawn_app(Config {
        max_echo: 2,
        max_websockets: 1,
        ..test_config()
    });
    let first = ws_connect(&app, "/ws/echo").await;
    let _second = ws_connect(&app, "/ws/echo").await;

    let response = within("a third echo handshake", upgrade(&app, "/ws/echo").send())
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: Value = within("the refusal", response.json()).await.unwrap();
    assert_eq!(body["error"], "server_full", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("/ws/echo"),
        "{body}"
    );
    let echo = app.stats().await["echo"].clone();
    assert_eq!(echo["rejected"], 1, "{echo}");
    assert_eq!(echo["connections_open"], 2, "{echo}");
    assert!(
        app.metrics()
            .await
            .contains("pushlab_echo_rejected_total 1\n")
    );

    // The one /ws place is still free: echo connections count apart.
    let mut ws = ws_connect(&app, "/ws").await;
    assert_eq!(ws_next_json(&mut ws).await["type"], "hello");
    assert_eq!(app.technique_stat("ws", "rejected").await, 0);

    drop(first);
    wait_for_echo(&app, "connections_open", |n| n == 1).await;
    let mut third = ws_connect(&app, "/ws/echo").await;
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    within("send", third.send(WsMessage::text("let in")))
        .await
        .unwrap();
    let reply = within("the echo", third.next()).await.unwrap().unwrap();
    assert_eq!(reply, WsMessage::text("let in"));
}

/// A client that sends 1 MiB messages and never reads is closed once more
/// than `--echo-max-queued` waits for it: what it then reads is whole
/// echoes (the one on its way is finished) and a close frame with 1008,
/// far fewer echoes than it sent, and it is counted as a slow consumer.
#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_1008_after_the_byte_bound() {
    let app = spawn_app(test_config());
    let (reader, writer) = non_reading_client(app.addr).await;
    wait_for_echo(&app, "slow_consumers", |n| n == 1).await;
    let (sent, _writing) = within("the writer", writer).await.unwrap();
    assert_eq!(
        sent, MESSAGES,
        "what a cut client still sends is read and dropped"
    );

    let (echoes, code) = within("the rest of the stream", read_to_close(reader)).await;
    assert_eq!(code, Some(1008), "after {echoes} whole echoes");
    assert!(
        echoes < MESSAGES,
        "{echoes} of {MESSAGES} echoes were kept for a client that did not read"
    );
    wait_for_echo(&app, "connections_open", |n| n == 0).await;
    // Counted: every echo sent whole went out, every message echoed came
    // in (what a cut client sends after is dropped unread, and not counted).
    let echo = app.stats().await["echo"].clone();
    let counted = |field: &str| echo[field].as_u64().unwrap();
    assert!(counted("messages") >= echoes as u64, "{echo}");
    assert!(
        counted("bytes_in") >= counted("messages") * MESSAGE as u64,
        "{echo}"
    );
    assert!(counted("bytes_out") >= (echoes * MESSAGE) as u64, "{echo}");
    assert!(
        app.metrics()
            .await
            .contains("pushlab_echo_slow_consumers_total 1\n")
    );
}

/// Ten clients that each send 16 MiB of 1 MiB messages and never read:
/// the server's resident memory grows by no more than ten times what one
/// may hold (about 3 MiB) plus slack — not by what they sent (160 MiB) —
/// and comes back to within 8 MiB of where it was once they have gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_stop_reading_hold_bounded_memory_and_give_it_back() {
    let server = ChildServer::start(&["--rate", "0", "--workers", "1"]);
    // One echo first, so that what every connection needs is allocated.
    let (mut warm, _) = within(
        "warm-up connect",
        tokio_tungstenite::connect_async(format!("ws://{}/ws/echo", server.addr)),
    )
    .await
    .unwrap();
    {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message as WsMessage;
        within("warm-up", warm.send(WsMessage::binary(vec![1u8; MESSAGE])))
            .await
            .unwrap();
        within("warm-up echo", warm.next()).await.unwrap().unwrap();
    }
    drop(warm);
    server.wait_for_echo("connections_open", |n| n == 0).await;
    let before = server.resident_bytes();

    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(non_reading_client(server.addr).await);
    }
    let mut peak = before;
    within("every client closed as a slow consumer", async {
        loop {
            peak = peak.max(server.resident_bytes());
            let cut = server.echo("slow_consumers").await;
            if cut == CLIENTS as u64 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let mut open = Vec::new();
    for (reader, writer) in clients {
        open.push((reader, within("a writer", writer).await.unwrap()));
        peak = peak.max(server.resident_bytes());
    }
    let growth = peak.saturating_sub(before);
    let bound = CLIENTS as u64 * PER_CLIENT + SLACK;
    eprintln!(
        "server RSS: {} MiB before, peak +{} MiB (bound {} MiB)",
        before >> 20,
        growth >> 20,
        bound >> 20
    );
    assert!(
        growth <= bound,
        "the server grew by {} MiB for {CLIENTS} clients that stopped reading (bound {} MiB)",
        growth >> 20,
        bound >> 20
    );

    drop(open);
    server.wait_for_echo("connections_open", |n| n == 0).await;
    let started = Instant::now();
    let mut after = server.resident_bytes();
    while after > before + RETURN_MARGIN && started.elapsed() < RETURN_WITHIN {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = server.resident_bytes();
    }
    eprintln!(
        "server RSS after the clients left: {} MiB ({:?})",
        after >> 20,
        started.elapsed()
    );
    assert!(
        after <= before + RETURN_MARGIN,
        "{} MiB before, {} MiB {RETURN_WITHIN:?} after the clients left",
        before >> 20,
        after >> 20
    );
}

/// A WebSocket handshake as a plain request, to see a refusal's status.
fn upgrade(app: &TestApp, path: &str) -> reqwest::RequestBuilder {
    app.http
        .get(app.url(path))
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("Sec-WebSocket-Version", "13")
}

/// Polls `/api/stats` until `echo.<field>` satisfies `ok`.
async fn wait_for_echo(app: &TestApp, field: &str, ok: impl Fn(u64) -> bool) {
    within(&format!("echo.{field}"), async {
        while !ok(app.stats().await["echo"][field].as_u64().unwrap()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// Opens `/ws/echo` with a small receive buffer, then sends [`MESSAGES`]
/// binary messages of [`MESSAGE`] bytes on a task of its own, never
/// reading. Returns the unread half and the writer, which answers how many
/// messages it sent, and the writing half.
async fn non_reading_client(
    addr: SocketAddr,
) -> (OwnedReadHalf, JoinHandle<(usize, OwnedWriteHalf)>) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = within("connect", socket.connect(addr)).await.unwrap();
    let handshake = format!(
        "GET /ws/echo HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    within("handshake", stream.write_all(handshake.as_bytes()))
        .await
        .unwrap();
    let mut head = Vec::new();
    within("101", async {
        while !head.ends_with(b"\r\n\r\n") {
            head.push(stream.read_u8().await.unwrap());
        }
    })
    .await;
    assert!(head.starts_with(b"HTTP/1.1 101"));
    let (reader, writer) = stream.into_split();
    (reader, tokio::spawn(send_messages(writer)))
}

/// Writes the messages; how many went out before the connection failed,
/// and the writing half, still open: closing it would tell the server the
/// client is gone.
async fn send_messages(mut writer: OwnedWriteHalf) -> (usize, OwnedWriteHalf) {
    // A zero masking key leaves the payload as it is: no XOR to compute.
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(MESSAGE as u64).to_be_bytes());
    header.extend_from_slice(&[0; 4]);
    let payload = vec![b'e'; MESSAGE];
    for sent in 0..MESSAGES {
        if writer.write_all(&header).await.is_err() || writer.write_all(&payload).await.is_err() {
            return (sent, writer);
        }
    }
    (MESSAGES, writer)
}

/// Reads server frames to the end: how many whole echoes of [`MESSAGE`]
/// bytes came, and the close code, if a close frame came.
async fn read_to_close(mut reader: impl AsyncRead + Unpin) -> (usize, Option<u16>) {
    let mut echoes = 0;
    loop {
        let mut head = [0u8; 2];
        if reader.read_exact(&mut head).await.is_err() {
            return (echoes, None);
        }
        let len = match head[1] & 0x7f {
            126 => u64::from(reader.read_u16().await.unwrap()),
            127 => reader.read_u64().await.unwrap(),
            short => u64::from(short),
        };
        let mut payload = vec![0u8; len as usize];
        reader.read_exact(&mut payload).await.unwrap();
        match head[0] & 0x0f {
            0x8 => return (echoes, Some(u16::from_be_bytes([payload[0], payload[1]]))),
            0x2 => {
                assert_eq!(payload.len(), MESSAGE, "an echo came whole");
                assert!(payload.iter().all(|&b| b == b'e'), "an echo came unchanged");
                echoes += 1;
            }
            _ => {} // pings
        }
    }
}

/// The pushlab binary serving on 127.0.0.1, killed when dropped.
struct ChildServer {
    child: Child,
    addr: SocketAddr,
}

impl ChildServer {
    fn start(args: &[&str]) -> ChildServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pushlab"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the pushlab binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let (found, address) = std::sync::mpsc::channel();
        // The log line that names the address; the rest of the log is read
        // and dropped so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(at) = line.find("serving on http://") {
                    let rest = &line[at + "serving on http://".len()..];
                    let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                    if let Some(found) = found.take() {
                        let _ = found.send(addr);
                    }
                }
            }
        });
        let addr = address
            .recv_timeout(STEP)
            .expect("the server says where it listens")
            .parse()
            .expect("an address");
        ChildServer { child, addr }
    }

    /// `echo.<field>` of the child's `/api/stats`.
    async fn echo(&self, field: &str) -> u64 {
        let url = format!("http://{}/api/stats", self.addr);
        let stats: Value = within("/api/stats", async {
            reqwest::get(url).await.unwrap().json().await.unwrap()
        })
        .await;
        stats["echo"][field].as_u64().unwrap()
    }

    /// Polls the child's `/api/stats` until `echo.<field>` satisfies `ok`.
    async fn wait_for_echo(&self, field: &str, ok: impl Fn(u64) -> bool) {
        within(&format!("echo.{field}"), async {
            while !ok(self.echo(field).await) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    }

    /// The child's resident memory in bytes (`VmRSS` in /proc/<pid>/status).
    fn resident_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read the server's /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("VmRSS in kB");
        kib * 1024
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill(); // it may have exited already
        let _ = self.child.wait();
    }
}
