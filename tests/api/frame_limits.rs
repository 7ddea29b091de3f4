//! A WebSocket frame's size is judged when its header arrives, not when its
//! payload has been buffered.
//!
//! A frame header says how long the payload is (up to 2^63 bytes). A server
//! that waits for the whole payload before checking that length lets one
//! client fill its memory by declaring a huge frame and streaming data into
//! it. These tests declare 2^40 bytes, stream, and expect close 1009
//! (Message Too Big) at once, with the server's memory flat. The test server
//! runs in this process, so this process's resident memory is the server's
//! (plus the test's own, which stays small).

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::oneshot;

use crate::helpers::*;

/// A declared payload far above any limit the server sets.
const HUGE: u64 = 1 << 40;

/// How long the server may take to refuse a frame whose header it has read.
const PROMPT: Duration = Duration::from_secs(2);

/// What a hostile client streams into the declared frame: 64 MiB.
const STREAMED: usize = 64 << 20;

/// How much the process's resident memory may grow while it streams; the
/// payload itself is 64 MiB, so a server that buffers it grows by more.
const MEMORY_MARGIN: u64 = 8 << 20;

/// Held by each test that measures memory, so they do not measure each other.
static MEASURING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Both WebSocket endpoints, each with its own limit (64 KiB frames on /ws,
/// `--echo-max-message` on /ws/echo).
const ENDPOINTS: [&str; 2] = ["/ws", "/ws/echo"];

/// A masked client frame header that declares `declared` payload bytes.
fn header(fin: bool, opcode: u8, declared: u64) -> Vec<u8> {
    let mut header = vec![(if fin { 0x80 } else { 0 }) | opcode, 0x80 | 127];
    header.extend_from_slice(&declared.to_be_bytes());
    header.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]);
    header
}

/// The process's resident memory in bytes (`VmRSS` in /proc/self/status).
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("a VmRSS line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS in kB");
    kib * 1024
}

/// Reads server frames until a close frame; returns its code, or `None` if
/// the connection ended without one.
async fn close_code(mut reader: impl AsyncRead + Unpin) -> Option<u16> {
    loop {
        let mut head = [0u8; 2];
        reader.read_exact(&mut head).await.ok()?;
        let mut len = u64::from(head[1] & 0x7f);
        if len == 126 {
            let mut ext = [0u8; 2];
            reader.read_exact(&mut ext).await.ok()?;
            len = u64::from(u16::from_be_bytes(ext));
        } else if len == 127 {
            let mut ext = [0u8; 8];
            reader.read_exact(&mut ext).await.ok()?;
            len = u64::from_be_bytes(ext);
        }
        let mut payload = vec![0u8; usize::try_from(len).ok()?];
        reader.read_exact(&mut payload).await.ok()?;
        if head[0] & 0x0f == 0x8 {
            return Some(u16::from_be_bytes([payload[0], payload[1]]));
        }
    }
}

/// What streaming into a declared frame showed.
struct Streamed {
    /// The close code the server sent, if any.
    code: Option<u16>,
    /// Bytes written after the header before the writer stopped.
    bytes: usize,
    /// The largest growth of resident memory seen while streaming.
    peak_growth: u64,
}

/// Writes `chunk` again and again, `pause` apart, up to `total` bytes or
/// until the server closes or refuses them, sampling resident memory as it
/// goes.
async fn stream_until_closed(
    mut writer: OwnedWriteHalf,
    mut closed: oneshot::Receiver<()>,
    total: usize,
    chunk: &[u8],
    pause: Duration,
) -> (usize, u64) {
    let before = resident_bytes();
    let mut peak = before;
    let mut sent = 0;
    while sent < total && closed.try_recv().is_err() {
        if writer.write_all(chunk).await.is_err() {
            break; // the server closed the connection: the point of the test
        }
        sent += chunk.len();
        peak = peak.max(resident_bytes());
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    (sent, peak.saturating_sub(before))
}

/// Opens a WebSocket on `path`, sends `prefix` (frames and a header), then
/// streams `chunk` after it until the server answers with a close.
async fn declare_and_stream(
    app: &TestApp,
    path: &str,
    prefix: &[u8],
    total: usize,
    chunk: &[u8],
    pause: Duration,
) -> Streamed {
    let mut raw = Raw::connect(app).await;
    let head = raw.ws_handshake(path, None).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{path}: {head}");
    raw.send(prefix).await;

    let (reader, writer) = raw.stream.into_split();
    let (closed_tx, closed) = oneshot::channel();
    let reading = tokio::spawn(async move {
        let code = close_code(reader).await;
        let _ = closed_tx.send(()); // the writer may have stopped already
        code
    });
    let (bytes, peak_growth) = within(
        "streaming into the declared frame",
        stream_until_closed(writer, closed, total, chunk, pause),
    )
    .await;
    let code = tokio::time::timeout(PROMPT, reading)
        .await
        .unwrap_or_else(|_| panic!("{path}: no close {PROMPT:?} after streaming stopped"))
        .expect("the reader task");
    Streamed {
        code,
        bytes,
        peak_growth,
    }
}

/// A header declaring 2^40 bytes, with the payload trickled after it, is
/// closed with 1009 at once, on both endpoints: the server does not wait
/// for a payload it will refuse.
#[tokio::test]
async fn a_huge_declared_frame_is_closed_with_1009_as_its_header_arrives() {
    let app = spawn_app(test_config());
    for path in ENDPOINTS {
        let started = std::time::Instant::now();
        // 1 KiB every 10 ms for at most PROMPT: 200 KiB, far below 2^40.
        let trickle = 1024 * (PROMPT.as_millis() as usize / 10);
        let streamed = declare_and_stream(
            &app,
            path,
            &header(true, 0x2, HUGE),
            trickle,
            &[0x55; 1024],
            Duration::from_millis(10),
        )
        .await;
        assert_eq!(streamed.code, Some(1009), "{path}");
        assert!(
            started.elapsed() < PROMPT && streamed.bytes < trickle,
            "{path}: the close came after {:?} and {} trickled bytes",
            started.elapsed(),
            streamed.bytes
        );
    }
}

/// Streaming 64 MiB into a frame declared at 2^40 bytes leaves the
/// server's memory flat: nothing past the limit is buffered.
#[tokio::test]
async fn streaming_into_a_huge_declared_frame_does_not_grow_memory() {
    let _measuring = MEASURING.lock().await;
    let app = spawn_app(test_config());
    for path in ENDPOINTS {
        let streamed = declare_and_stream(
            &app,
            path,
            &header(true, 0x2, HUGE),
            STREAMED,
            &[0x55; 64 * 1024],
            Duration::ZERO,
        )
        .await;
        assert!(
            streamed.peak_growth < MEMORY_MARGIN,
            "{path}: resident memory grew by {} MiB while {} MiB were streamed",
            streamed.peak_growth >> 20,
            streamed.bytes >> 20
        );
        assert_eq!(streamed.code, Some(1009), "{path}");
    }
}

/// In a fragmented message, a continuation frame whose header declares
/// 2^40 bytes is closed with 1009 at its header, like a whole frame.
#[tokio::test]
async fn a_huge_declared_fragment_is_closed_with_1009_as_its_header_arrives() {
    let app = spawn_app(test_config());
    for path in ENDPOINTS {
        let mut prefix = Vec::new();
        masked_frame(&mut prefix, false, 0x1, &[b'a'; 1024]);
        prefix.extend(header(false, 0x0, HUGE));
        let started = std::time::Instant::now();
        let trickle = 1024 * (PROMPT.as_millis() as usize / 10);
        let streamed = declare_and_stream(
            &app,
            path,
            &prefix,
            trickle,
            &[0x55; 1024],
            Duration::from_millis(10),
        )
        .await;
        assert_eq!(streamed.code, Some(1009), "{path}");
        assert!(
            started.elapsed() < PROMPT && streamed.bytes < trickle,
            "{path}: the close came after {:?} and {} trickled bytes",
            started.elapsed(),
            streamed.bytes
        );
    }
}

/// Fragments that each fit the frame limit but add up past the message
/// limit are closed with 1009 as the total crosses it, fragment by
/// fragment, with the server's memory flat while 64 MiB of them stream in.
#[tokio::test]
async fn fragments_adding_up_past_the_limit_are_closed_with_1009_before_the_total_arrives() {
    let _measuring = MEASURING.lock().await;
    let app = spawn_app(test_config());
    for path in ENDPOINTS {
        // The first fragment opens the message; what is streamed after it
        // is continuation frames of 16 KiB each, back to back.
        let mut prefix = Vec::new();
        masked_frame(&mut prefix, false, 0x1, &[b'a'; 16 * 1024]);
        let mut fragment = Vec::new();
        masked_frame(&mut fragment, false, 0x0, &[b'a'; 16 * 1024]);
        let streamed =
            declare_and_stream(&app, path, &prefix, STREAMED, &fragment, Duration::ZERO).await;
        assert!(
            streamed.peak_growth < MEMORY_MARGIN,
            "{path}: resident memory grew by {} MiB while {} MiB were streamed",
            streamed.peak_growth >> 20,
            streamed.bytes >> 20
        );
        assert_eq!(streamed.code, Some(1009), "{path}");
        assert!(
            streamed.bytes < STREAMED,
            "{path}: all {} MiB of fragments were taken",
            streamed.bytes >> 20
        );
    }
}

/// Appends one masked client frame carrying `payload`.
fn masked_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8]) {
    let mask = [0x12, 0x34, 0x56, 0x78];
    out.push((if fin { 0x80 } else { 0 }) | opcode);
    match payload.len() {
        len @ 0..=125 => out.push(0x80 | len as u8),
        len @ 126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
}
