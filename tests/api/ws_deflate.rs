//! permessage-deflate (RFC 7692) and the subprotocol on a real socket: what
//! the 101 answers to each offer under each `--ws-deflate` policy, frames
//! compressed both ways (RSV1 set, the sync flush's `00 00 ff ff` left off),
//! the inflate limit that stops a zip bomb, the frames a compressed
//! connection still refuses, and `Sec-WebSocket-Protocol: pushlab.v1`.
//!
//! The client side is written here by hand with flate2 — raw DEFLATE, a
//! sync flush per message — rather than with the server's own codec, so a
//! mistake shared by both ends of the codec cannot pass unseen. Every test
//! names its policy: the default is not what these tests are about.
//!
//! Without commit 10e2ab6 (the negotiation in `src/techniques/ws/deflate.rs`,
//! RSV1 and the inflate limit in the vendored codec, the subprotocol in
//! `src/techniques/ws/mod.rs`) each test here fails; its doc comment says
//! on which assertion.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use pushlab::techniques::ws::DeflatePolicy;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use crate::helpers::*;

/// What Chromium (and every other browser) offers on every WebSocket.
const CHROMIUM_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// The answers to [`CHROMIUM_OFFER`] under `on` and `no-context-takeover`.
const ANSWER_ON: &str = "permessage-deflate";
const ANSWER_ALONE: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// The four bytes a sync flush ends with, left off every compressed message.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// RSV1, which marks the first frame of a compressed message.
const RSV1: u8 = 0x40;

const CONTINUATION: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const PING: u8 = 0x9;
const PONG: u8 = 0xa;

/// A server with `policy` and the tests' usual settings.
fn app_with(policy: DeflatePolicy) -> TestApp {
    spawn_app(pushlab::Config {
        ws_deflate: policy,
        ..test_config()
    })
}

/// Opens a WebSocket on `path` by hand, adding `headers` (name, value) to
/// the handshake; returns the socket, positioned at the first frame, and
/// the 101's head.
async fn open(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (Raw, String) {
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    );
    let mut raw = Raw::connect(app).await;
    raw.send(request.as_bytes()).await;
    let head = raw.read_head().await;
    assert!(
        head.starts_with("HTTP/1.1 101"),
        "{path} {headers:?}: {head}"
    );
    (raw, head)
}

/// Opens `path` offering `offer` as `Sec-WebSocket-Extensions`.
async fn open_offering(app: &TestApp, path: &str, offer: &str) -> (Raw, String) {
    open(app, path, &[("Sec-WebSocket-Extensions", offer)]).await
}

/// The value of header `name` in a response head, if present; failing the
/// test if it is there twice (each of these headers may appear once).
fn header(head: &str, name: &str) -> Option<String> {
    let mut values = head.split("\r\n").skip(1).filter_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    });
    let first = values.next();
    assert!(values.next().is_none(), "{name} twice in {head}");
    first
}

/// One server frame, its header taken apart.
#[derive(Debug)]
struct Frame {
    fin: bool,
    rsv1: bool,
    opcode: u8,
    payload: Vec<u8>,
}

/// Reads the next server frame, whatever it is.
async fn read_frame(raw: &mut Raw) -> Frame {
    within("a server frame", async {
        let mut head = [0u8; 2];
        raw.stream.read_exact(&mut head).await.unwrap();
        assert_eq!(head[1] & 0x80, 0, "a server frame is never masked");
        let len = match head[1] & 0x7f {
            126 => {
                let mut ext = [0u8; 2];
                raw.stream.read_exact(&mut ext).await.unwrap();
                u64::from(u16::from_be_bytes(ext))
            }
            127 => {
                let mut ext = [0u8; 8];
                raw.stream.read_exact(&mut ext).await.unwrap();
                u64::from_be_bytes(ext)
            }
            short => u64::from(short),
        };
        let mut payload = vec![0u8; usize::try_from(len).unwrap()];
        raw.stream.read_exact(&mut payload).await.unwrap();
        Frame {
            fin: head[0] & 0x80 != 0,
            rsv1: head[0] & RSV1 != 0,
            opcode: head[0] & 0x0f,
            payload,
        }
    })
    .await
}

/// The next text, binary or close frame, skipping the server's pings.
async fn next_frame(raw: &mut Raw) -> Frame {
    loop {
        let frame = read_frame(raw).await;
        if !matches!(frame.opcode, PING | PONG) {
            return frame;
        }
    }
}

/// Compresses `data` as one message the way a client does: raw DEFLATE
/// (no zlib header), a sync flush, its four-byte tail left off. With
/// context takeover the caller keeps `compress` for the next message.
fn deflate(compress: &mut Compress, data: &[u8]) -> Vec<u8> {
    let start = compress.total_in();
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    loop {
        let done = usize::try_from(compress.total_in() - start).unwrap();
        compress
            .compress_vec(&data[done..], &mut out, FlushCompress::Sync)
            .expect("deflate");
        let all_in = usize::try_from(compress.total_in() - start).unwrap() == data.len();
        // Room left after a sync flush means the flush is complete.
        if all_in && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity().max(64));
    }
    assert!(out.ends_with(&TAIL), "a sync flush ends with 00 00 ff ff");
    out.truncate(out.len() - TAIL.len());
    out
}

/// `data` compressed alone, as with `client_no_context_takeover`.
fn deflate_alone(data: &[u8]) -> Vec<u8> {
    deflate(&mut Compress::new(Compression::default(), false), data)
}

/// Inflates one compressed message's payload, putting the tail back.
fn inflate(decompress: &mut Decompress, payload: &[u8]) -> Vec<u8> {
    let mut input = payload.to_vec();
    input.extend_from_slice(&TAIL);
    let start = decompress.total_in();
    let mut out = Vec::with_capacity(payload.len() * 4 + 64);
    loop {
        let before = (decompress.total_in(), out.len());
        let done = usize::try_from(decompress.total_in() - start).unwrap();
        decompress
            .decompress_vec(&input[done..], &mut out, FlushDecompress::Sync)
            .expect("the server's compressed data inflates");
        let all_in = usize::try_from(decompress.total_in() - start).unwrap() == input.len();
        if all_in && out.len() < out.capacity() {
            return out;
        }
        if (decompress.total_in(), out.len()) == before && out.len() < out.capacity() {
            panic!("inflating made no progress");
        }
        out.reserve(out.capacity().max(1024));
    }
}

/// A fresh inflater for raw DEFLATE data.
fn inflater() -> Decompress {
    Decompress::new(false)
}

/// A compressed text frame from the server, inflated and parsed.
fn compressed_json(frame: &Frame, decompress: &mut Decompress) -> Value {
    assert_eq!(
        (frame.fin, frame.rsv1, frame.opcode),
        (true, true, TEXT),
        "a whole compressed text frame: {frame:?}"
    );
    let text = inflate(decompress, &frame.payload);
    serde_json::from_slice(&text).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&text));
    })
}

/// An uncompressed text frame from the server, parsed.
fn plain_json(frame: &Frame) -> Value {
    assert_eq!(
        (frame.fin, frame.rsv1, frame.opcode),
        (true, false, TEXT),
        "a whole uncompressed text frame: {frame:?}"
    );
    serde_json::from_slice(&frame.payload).unwrap()
}

/// A publish frame's JSON text.
fn publish(text: &str) -> Vec<u8> {
    json!({"type": "publish", "author": "raw", "text": text})
        .to_string()
        .into_bytes()
}

/// Under each policy, Chromium's offer gets the answer the policy says —
/// nothing under `off` — on both endpoints, and /ws's hello repeats the
/// offer and the answer. Guards the negotiation (deflate.rs, handshake.rs):
/// without it neither `on` nor `no-context-takeover` answers anything.
#[tokio::test]
async fn chromiums_offer_is_answered_as_each_policy_says() {
    for (policy, answer) in [
        (DeflatePolicy::On, Some(ANSWER_ON)),
        (DeflatePolicy::NoContextTakeover, Some(ANSWER_ALONE)),
        (DeflatePolicy::Off, None),
    ] {
        let app = app_with(policy);
        for path in ["/ws", "/ws/echo"] {
            let (_, head) = open_offering(&app, path, CHROMIUM_OFFER).await;
            assert_eq!(
                header(&head, "Sec-WebSocket-Extensions").as_deref(),
                answer,
                "{policy:?} {path}: {head}"
            );
        }
        let (mut raw, _) = open_offering(&app, "/ws", CHROMIUM_OFFER).await;
        let hello = next_frame(&mut raw).await;
        let hello = match answer {
            Some(_) => compressed_json(&hello, &mut inflater()),
            None => plain_json(&hello),
        };
        assert_eq!(hello["type"], "hello", "{policy:?}: {hello}");
        assert_eq!(hello["offered"], CHROMIUM_OFFER, "{policy:?}: {hello}");
        assert_eq!(hello["accepted"], json!(answer), "{policy:?}: {hello}");
    }
}

/// An offer that breaks RFC 7692's grammar (a window of 2^16, an unknown
/// parameter, one given twice), or asks what zlib cannot do (a window of
/// 2^8), is declined, not refused, under both policies that accept: 101
/// without the header, and the socket talks uncompressed; a well-formed
/// offer to the same server is accepted. Guards the parser in deflate.rs:
/// without the feature the well-formed offer is not answered either.
#[tokio::test]
async fn a_malformed_offer_is_declined_and_the_socket_works_uncompressed() {
    for (policy, answer) in [
        (DeflatePolicy::On, ANSWER_ON),
        (DeflatePolicy::NoContextTakeover, ANSWER_ALONE),
    ] {
        let app = app_with(policy);
        for bad in [
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; mystery",
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; server_max_window_bits=8",
        ] {
            let (mut raw, head) = open_offering(&app, "/ws", bad).await;
            assert_eq!(header(&head, "Sec-WebSocket-Extensions"), None, "{bad}");
            let hello = plain_json(&next_frame(&mut raw).await);
            assert_eq!(hello["type"], "hello", "{bad}: {hello}");
            assert_eq!(hello["offered"], bad, "{hello}");
            assert_eq!(hello["accepted"], Value::Null, "{hello}");

            let (mut raw, head) = open_offering(&app, "/ws/echo", bad).await;
            assert_eq!(header(&head, "Sec-WebSocket-Extensions"), None, "{bad}");
            raw.send_frame(true, TEXT, b"plain").await;
            let echo = next_frame(&mut raw).await;
            assert_eq!((echo.rsv1, echo.payload.as_slice()), (false, &b"plain"[..]));
        }
        let (_, head) = open_offering(&app, "/ws", CHROMIUM_OFFER).await;
        assert_eq!(
            header(&head, "Sec-WebSocket-Extensions").as_deref(),
            Some(answer),
            "{policy:?}"
        );
    }
}

/// Of several offers in one header, the first this server cannot honour (a
/// window of 2^8, which zlib cannot write) is passed over and the second is
/// answered, with its own parameters; the messages then come compressed.
/// Guards the offer list in deflate.rs: without it nothing is answered.
#[tokio::test]
async fn the_second_offer_is_answered_when_the_first_cannot_be() {
    let offers = "permessage-deflate; server_max_window_bits=8, \
                  permessage-deflate; server_no_context_takeover; server_max_window_bits=10";
    for (policy, answer) in [
        (
            DeflatePolicy::On,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
        ),
        (
            DeflatePolicy::NoContextTakeover,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10",
        ),
    ] {
        let app = app_with(policy);
        let (mut raw, head) = open_offering(&app, "/ws", offers).await;
        assert_eq!(
            header(&head, "Sec-WebSocket-Extensions").as_deref(),
            Some(answer),
            "{policy:?}"
        );
        let hello = compressed_json(&next_frame(&mut raw).await, &mut inflater());
        assert_eq!(hello["accepted"], answer, "{hello}");
    }
}

/// The client's end of a compressed connection: a compressor and an
/// inflater, kept from one message to the next with context takeover, or
/// started afresh for each message without it.
struct Client {
    raw: Raw,
    compress: Compress,
    decompress: Decompress,
    /// `client_no_context_takeover`: each message we send is compressed alone.
    send_alone: bool,
    /// `server_no_context_takeover`: each of the server's messages inflates
    /// alone, so a fresh inflater per message must do (and proves it).
    receive_alone: bool,
}

impl Client {
    fn new(raw: Raw, send_alone: bool, receive_alone: bool) -> Client {
        Client {
            raw,
            compress: Compress::new(Compression::default(), false),
            decompress: inflater(),
            send_alone,
            receive_alone,
        }
    }

    /// Sends `data` as one compressed message; returns its size on the wire.
    async fn send(&mut self, opcode: u8, data: &[u8]) -> usize {
        if self.send_alone {
            self.compress.reset();
        }
        let compressed = deflate(&mut self.compress, data);
        self.raw.send_frame(true, RSV1 | opcode, &compressed).await;
        compressed.len()
    }

    /// The next message, which must come compressed with `opcode`, inflated.
    async fn receive(&mut self, opcode: u8) -> Vec<u8> {
        self.receive_sized(opcode).await.0
    }

    /// The same, with the message's size on the wire (its payload).
    async fn receive_sized(&mut self, opcode: u8) -> (Vec<u8>, usize) {
        let frame = next_frame(&mut self.raw).await;
        assert_eq!(
            (frame.fin, frame.rsv1, frame.opcode),
            (true, true, opcode),
            "a whole compressed frame: {frame:?}"
        );
        if self.receive_alone {
            self.decompress = inflater();
        }
        let inflated = inflate(&mut self.decompress, &frame.payload);
        (inflated, frame.payload.len())
    }

    async fn receive_json(&mut self) -> Value {
        let text = self.receive(TEXT).await;
        serde_json::from_slice(&text).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&text));
        })
    }

    /// Publishes `text` compressed on /ws and waits, in either order, for
    /// the `published` answer and the message itself, both compressed.
    /// Returns the publish's compressed size.
    async fn publish(&mut self, text: &str) -> usize {
        let size = self.send(TEXT, &publish(text)).await;
        let (mut published, mut delivered) = (false, false);
        while !(published && delivered) {
            let frame = self.receive_json().await;
            match frame["type"].as_str() {
                Some("published") => published = true,
                Some("message") if frame["text"] == text => delivered = true,
                _ => panic!("{text}: unexpected {frame}"),
            }
        }
        size
    }
}

/// Under `on`, /ws compresses both ways with context taken over: the hello
/// comes compressed (RSV1) and inflates to JSON naming the offer and the
/// answer; two publishes compressed with one compressor kept between them
/// are both accepted (the second, which refers back to the first, is a
/// fraction of its size) and their messages come back, inflated with one
/// inflater kept. Guards RSV1 and inflating in the vendored codec:
/// without them the hello is plain and the compressed publish is 1002.
#[tokio::test]
async fn on_compresses_both_ways_with_context_taken_over() {
    let app = app_with(DeflatePolicy::On);
    let (raw, _) = open_offering(&app, "/ws", CHROMIUM_OFFER).await;
    let mut client = Client::new(raw, false, false);
    let hello = client.receive_json().await;
    assert_eq!(hello["type"], "hello", "{hello}");
    assert_eq!(hello["offered"], CHROMIUM_OFFER, "{hello}");
    assert_eq!(hello["accepted"], ANSWER_ON, "{hello}");

    let text = "the same words twice, the second time for almost nothing";
    let first = client.publish(text).await;
    let second = client.publish(text).await;
    assert!(
        second * 2 < first,
        "the second publish ({second} bytes) refers back to the first ({first} bytes)"
    );
    assert_eq!(app.stats().await["hub"]["last_id"], 2);
}

/// Under `no-context-takeover`, /ws compresses both ways with each message
/// alone: every frame from the server inflates with a fresh inflater, and
/// publishes each compressed alone are accepted and delivered. Guards the
/// same as above, and the shared compressor of deflate.rs resetting after
/// every message (a fresh inflater fails on a frame that refers back).
#[tokio::test]
async fn no_context_takeover_compresses_each_message_alone_both_ways() {
    let app = app_with(DeflatePolicy::NoContextTakeover);
    let (raw, _) = open_offering(&app, "/ws", CHROMIUM_OFFER).await;
    let mut client = Client::new(raw, true, true);
    let hello = client.receive_json().await;
    assert_eq!(hello["type"], "hello", "{hello}");
    assert_eq!(hello["accepted"], ANSWER_ALONE, "{hello}");

    let text = "each message compressed alone";
    client.publish(text).await;
    client.publish(text).await;
    assert_eq!(app.stats().await["hub"]["last_id"], 2);
}

/// A zip bomb: 10 MB of zeros, about 10 KB compressed, sent to /ws/echo
/// (`--echo-max-message`, 1 MiB) is closed with 1009 under both policies
/// that accept the offer, and the server carries on: a new connection
/// echoes a compressed message. Guards the inflate limit in the vendored
/// deflate.rs (without compression this is 1002, for RSV1; without the
/// limit, 10 MB inflated and echoed).
#[tokio::test]
async fn a_zip_bomb_on_echo_is_closed_with_1009_and_the_server_carries_on() {
    let bomb = deflate_alone(&vec![0u8; 10_000_000]);
    assert!(bomb.len() < 20_000, "the bomb is {} bytes", bomb.len());
    for policy in [DeflatePolicy::On, DeflatePolicy::NoContextTakeover] {
        let app = app_with(policy);
        let (mut raw, head) = open_offering(&app, "/ws/echo", CHROMIUM_OFFER).await;
        assert!(
            header(&head, "Sec-WebSocket-Extensions").is_some(),
            "{head}"
        );
        raw.send_frame(true, RSV1 | BINARY, &bomb).await;
        assert_eq!(raw.read_close_code().await, 1009, "{policy:?}");

        let (raw, _) = open_offering(&app, "/ws/echo", CHROMIUM_OFFER).await;
        let alone = policy == DeflatePolicy::NoContextTakeover;
        let mut client = Client::new(raw, alone, alone);
        client.send(BINARY, &[0u8; 1000]).await;
        assert_eq!(client.receive(BINARY).await, vec![0u8; 1000], "{policy:?}");
    }
}

/// A message over 16 KiB is echoed stored, not compressed: RSV1 set, and
/// a few bytes larger on the wire than the message, however repetitive it
/// is; a short one is still compressed. Under `on` the short message after
/// the large one inflates with the same inflater, whose window holds the
/// stored message. Guards the vendored deflate.rs storing large messages
/// (without it the large echo shrinks), and its compressor starting afresh
/// after one (without that, a back-reference lands in the wrong place).
#[tokio::test]
async fn a_large_echo_comes_back_stored_and_the_context_carries_on() {
    let short = b"a short message, compressed, and compressed again".repeat(4);
    let large: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    for policy in [DeflatePolicy::On, DeflatePolicy::NoContextTakeover] {
        let app = app_with(policy);
        let (raw, _) = open_offering(&app, "/ws/echo", CHROMIUM_OFFER).await;
        let alone = policy == DeflatePolicy::NoContextTakeover;
        let mut client = Client::new(raw, alone, alone);
        for message in [&short, &large, &short] {
            client.send(BINARY, message).await;
            let (echo, on_the_wire) = client.receive_sized(BINARY).await;
            assert!(
                echo == *message,
                "{policy:?}: a {} byte echo",
                message.len()
            );
            if message.len() > 16 * 1024 {
                assert!(
                    on_the_wire > message.len(),
                    "{policy:?}: {on_the_wire} bytes stored for {}",
                    message.len()
                );
            } else {
                assert!(on_the_wire < message.len(), "{policy:?}: {on_the_wire}");
            }
        }
    }
}

/// On /ws a compressed message may inflate to 64 KiB, however small it is
/// on the wire: one that inflates to 100 KB is closed with 1009. Guards the
/// inflate limit (without compression this is 1002, for RSV1).
#[tokio::test]
async fn a_message_inflating_past_64_kib_on_ws_is_closed_with_1009() {
    let app = app_with(DeflatePolicy::On);
    let (mut raw, _) = open_offering(&app, "/ws", CHROMIUM_OFFER).await;
    let message = deflate_alone(&publish(&"a".repeat(100_000)));
    assert!(message.len() < 2_000, "{} bytes on the wire", message.len());
    raw.send_frame(true, RSV1 | TEXT, &message).await;
    assert_eq!(raw.read_close_code().await, 1009);
}

/// RSV1 means "compressed" only where the handshake negotiated it: echoed
/// then, and closed with 1002 where the server declined the offer
/// (`--ws-deflate off`, or a malformed offer) or nothing was offered.
/// Guards the codec allowing RSV1 only once negotiated (and the first case
/// fails without the feature).
#[tokio::test]
async fn rsv1_is_accepted_only_where_deflate_was_negotiated() {
    let on = app_with(DeflatePolicy::On);
    let (raw, _) = open_offering(&on, "/ws/echo", CHROMIUM_OFFER).await;
    let mut client = Client::new(raw, false, false);
    client.send(TEXT, b"negotiated").await;
    assert_eq!(client.receive(TEXT).await, b"negotiated");

    let compressed = deflate_alone(b"not negotiated");
    let off = app_with(DeflatePolicy::Off);
    for path in ["/ws", "/ws/echo"] {
        for (app, offer, case) in [
            (&off, Some(CHROMIUM_OFFER), "declined by --ws-deflate off"),
            (&on, None, "nothing offered"),
            (
                &on,
                Some("permessage-deflate; mystery"),
                "a malformed offer",
            ),
        ] {
            let headers: Vec<_> = offer
                .map(|offer| ("Sec-WebSocket-Extensions", offer))
                .into_iter()
                .collect();
            let (mut raw, head) = open(app, path, &headers).await;
            assert_eq!(header(&head, "Sec-WebSocket-Extensions"), None, "{case}");
            raw.send_frame(true, RSV1 | TEXT, &compressed).await;
            assert_eq!(raw.read_close_code().await, 1002, "{path}: {case}");
        }
    }
}

/// Control frames are never compressed: a ping with RSV1 is closed with
/// 1002 on a connection where compressed messages are accepted (one is
/// echoed first). Guards the codec's refusal of RSV1 outside a message's
/// first frame (and the echo fails without the feature).
#[tokio::test]
async fn rsv1_on_a_ping_is_closed_with_1002_even_when_compressing() {
    let app = app_with(DeflatePolicy::NoContextTakeover);
    let (raw, _) = open_offering(&app, "/ws/echo", CHROMIUM_OFFER).await;
    let mut client = Client::new(raw, true, true);
    client.send(TEXT, b"compressed").await;
    assert_eq!(client.receive(TEXT).await, b"compressed");
    client.raw.send_frame(true, RSV1 | PING, b"ping").await;
    assert_eq!(client.raw.read_close_code().await, 1002);
}

/// RSV1 belongs on a compressed message's first frame only: a message
/// split in two frames with RSV1 on the first is inflated whole and
/// echoed, and the same with RSV1 on the continuation too is closed with
/// 1002. Guards the codec's tracking of a compressed message across its
/// frames (the echo fails without the feature).
#[tokio::test]
async fn a_continuation_frame_with_rsv1_is_closed_with_1002() {
    let app = app_with(DeflatePolicy::On);
    let text = b"a compressed message in two frames";
    let compressed = deflate_alone(text);
    let (head, tail) = compressed.split_at(compressed.len() / 2);

    let (raw, _) = open_offering(&app, "/ws/echo", CHROMIUM_OFFER).await;
    let mut client = Client::new(raw, false, false);
    client.raw.send_frame(false, RSV1 | TEXT, head).await;
    client.raw.send_frame(true, CONTINUATION, tail).await;
    assert_eq!(client.receive(TEXT).await, text);

    let (mut raw, _) = open_offering(&app, "/ws/echo", CHROMIUM_OFFER).await;
    raw.send_frame(false, RSV1 | TEXT, head).await;
    raw.send_frame(true, RSV1 | CONTINUATION, tail).await;
    assert_eq!(raw.read_close_code().await, 1002);
}

/// Compressed data that does not inflate is an invalid payload: 1007 on
/// both endpoints, for a reserved block type and for a stored block whose
/// length and its complement disagree. Guards the inflater's errors and
/// their close code (close.rs); without the feature this is 1002.
#[tokio::test]
async fn garbage_compressed_data_is_closed_with_1007() {
    let app = app_with(DeflatePolicy::NoContextTakeover);
    let garbage: [&[u8]; 2] = [
        &[0xff, 0xff, 0xff, 0xff],                   // BTYPE 11: reserved
        &[0x00, 0x05, 0x00, 0x00, 0x00, b'h', b'i'], // LEN 5, NLEN not !LEN
    ];
    for path in ["/ws", "/ws/echo"] {
        for bytes in garbage {
            let (mut raw, _) = open_offering(&app, path, CHROMIUM_OFFER).await;
            raw.send_frame(true, RSV1 | TEXT, bytes).await;
            assert_eq!(raw.read_close_code().await, 1007, "{path} {bytes:02x?}");
        }
    }
}

/// /ws speaks the subprotocol `pushlab.v1`: offered alone or after another,
/// it is answered; offered none of it (or nothing), the 101 names no
/// protocol at all (RFC 6455 §4.2.2) and the socket works the same.
/// Guards the subprotocol in src/techniques/ws/mod.rs: without it,
/// `pushlab.v1` is never answered.
#[tokio::test]
async fn ws_answers_the_subprotocol_pushlab_v1_and_only_when_offered() {
    let app = app_with(DeflatePolicy::Off);
    for (offer, answer) in [
        (Some("pushlab.v1"), Some("pushlab.v1")),
        (Some("chat, pushlab.v1"), Some("pushlab.v1")),
        (Some("chat, superchat"), None),
        (None, None),
    ] {
        let headers: Vec<_> = offer
            .map(|offer| ("Sec-WebSocket-Protocol", offer))
            .into_iter()
            .collect();
        let (mut raw, head) = open(&app, "/ws", &headers).await;
        assert_eq!(
            header(&head, "Sec-WebSocket-Protocol").as_deref(),
            answer,
            "{offer:?}: {head}"
        );
        assert_eq!(plain_json(&next_frame(&mut raw).await)["type"], "hello");
        raw.send_frame(true, TEXT, &publish("with or without a protocol"))
            .await;
        let reply = plain_json(&next_frame(&mut raw).await);
        assert!(
            ["published", "message"].contains(&reply["type"].as_str().unwrap_or("")),
            "{offer:?}: {reply}"
        );
    }
}

/// The subprotocol and compression are answered together, each in its own
/// header. Guards both halves of `upgrade` in handshake.rs.
#[tokio::test]
async fn the_subprotocol_and_compression_are_answered_together() {
    let app = app_with(DeflatePolicy::NoContextTakeover);
    let (raw, head) = open(
        &app,
        "/ws",
        &[
            ("Sec-WebSocket-Protocol", "pushlab.v1"),
            ("Sec-WebSocket-Extensions", CHROMIUM_OFFER),
        ],
    )
    .await;
    assert_eq!(
        header(&head, "Sec-WebSocket-Protocol").as_deref(),
        Some("pushlab.v1")
    );
    assert_eq!(
        header(&head, "Sec-WebSocket-Extensions").as_deref(),
        Some(ANSWER_ALONE)
    );
    let mut client = Client::new(raw, true, true);
    assert_eq!(client.receive_json().await["type"], "hello");
}
