//! A tab's wire log: the last exchanges of its own connections, byte for
//! byte, as the server read and wrote them.
//!
//! The lesson of the page is a dialogue and what it costs, and without
//! DevTools a student sees neither. So the page's wire view shows, for any
//! arrow of a lane's dialogue, the exact bytes behind it: the request line
//! and headers as the browser sent them (`RequestHead::raw`, kept by the
//! HTTP/1 decoder), the status line and headers as the encoder wrote them
//! (`HeadSink`), and the body as it went — chunk framing included, and for
//! a WebSocket each frame both ways, the browser's still masked. See
//! `vendor/README.md` for the two actix-http changes that make this exact.
//!
//! An exchange is one HTTP request and its answer (a poll, a long-poll);
//! for an SSE stream, its request, its answer's head and its chunks so far;
//! for a WebSocket, the handshake and then its frames. [`crate::plumbing::traffic`]
//! feeds it, as it counts the same bytes for the tab's figures: an
//! exchange's `bytes_in`/`bytes_out`, and its heads' `*_head_bytes`, are
//! what the tab's counters counted for it. Over HTTP/1.1 those are the
//! recorded bytes' own lengths. Over HTTP/2 the heads are logged as the
//! decoded fields and counted as HPACK's estimate (`plumbing/hpack.rs`),
//! and each DATA frame's header is counted but not shown: there the text
//! and the counts differ, and the view carries both.
//!
//! Nothing is recorded while the tab has no wire view open. The page says
//! it is open with `POST /api/tabs/{id}/wire/open`, a lease of [`LEASE`]
//! it renews while the view stays open, and `POST .../wire/close` when it
//! closes. One thing is kept while closed, because a view opened later
//! could not show it otherwise: the heads of the tab's open streams (its
//! SSE stream and WebSocket), so that opening the view shows the handshake
//! of the socket in use, and its frames from then on. Their bodies are not
//! recorded until the view opens.
//!
//! Memory is bounded three ways: the last [`KEPT_EXCHANGES`] exchanges per
//! tab (a stream still open stays among them while finished exchanges give
//! way); in each, at most [`SIDE_CAP`] bytes of body per direction (older
//! chunks and frames give way to newer ones, a longer one is cut and marked);
//! and [`ALL_TABS_CAP`] bytes of bodies recorded across all tabs.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::middleware::from_fn;
use actix_web::web::{self, Bytes};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;

use crate::clock::now_us;
use crate::plumbing::error::ApiError;
use crate::plumbing::origin;
use crate::plumbing::routing::{GET, POST, resource};
use crate::plumbing::state::AppState;
use crate::technique::Technique;

/// Exchanges kept per tab: the newest ones.
pub const KEPT_EXCHANGES: usize = 20;

/// Body bytes kept per exchange and direction. A poll's answer fits
/// whole; a stream keeps its newest chunks or frames within this.
pub const SIDE_CAP: usize = 16 * 1024;

/// Chunks or frames kept per exchange and direction, however small.
pub const KEPT_PARTS: usize = 64;

/// Body bytes kept by every tab's wire log together: thirty students with
/// their views open use a fraction of it; a flood of made-up tabs cannot
/// use more.
pub const ALL_TABS_CAP: usize = 64 * 1024 * 1024;

/// How long a `wire/open` keeps the log recording; the page renews it
/// well before (every 10 s), so a closed laptop stops it soon.
pub const LEASE: Duration = Duration::from_secs(30);

/// Body bytes held by all wire logs now (see [`ALL_TABS_CAP`]).
static RECORDED: AtomicUsize = AtomicUsize::new(0);

/// The recorder of one tab.
#[derive(Default)]
pub struct WireLog {
    lease: Arc<Lease>,
    log: Mutex<Log>,
}

/// Until when the tab's view is open; shared with its exchanges, which
/// check it for every chunk.
#[derive(Default)]
struct Lease {
    open_until_us: AtomicU64,
}

impl Lease {
    fn is_open(&self) -> bool {
        now_us() < self.open_until_us.load(Relaxed)
    }
}

#[derive(Default)]
struct Log {
    next_id: u64,
    /// Newest last.
    recent: VecDeque<Arc<Exchange>>,
    /// The tab's open streams, listed when a view opens.
    streams: Vec<Weak<Exchange>>,
    /// Whether `recent` belongs to a view still open (else it is cleared
    /// when one opens).
    was_open: bool,
}

impl WireLog {
    fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the tab's wire view is open now.
    pub fn is_open(&self) -> bool {
        self.lease.is_open()
    }

    /// A request of this tab arrived with head `raw`, counted as
    /// `counted` bytes: the exchange to record it in, if any. `None` (and
    /// no cost) while the view is closed, except for a stream (see the
    /// module's doc).
    pub fn begin(&self, technique: Technique, raw: &Bytes, counted: u64) -> Option<Arc<Exchange>> {
        let open = self.is_open();
        let stream = matches!(technique, Technique::sse | Technique::ws);
        if !open && !stream {
            return None;
        }
        let mut log = self.log();
        log.next_id += 1;
        let exchange = Arc::new(Exchange {
            id: log.next_id,
            technique,
            started_at_us: now_us(),
            lease: Arc::clone(&self.lease),
            record: Mutex::new(Record::new(raw.clone(), counted, technique)),
        });
        if stream {
            log.streams.retain(|stream| stream.strong_count() > 0);
            log.streams.push(Arc::downgrade(&exchange));
        }
        if open {
            log.list(Arc::clone(&exchange));
        }
        Some(exchange)
    }

    /// The view is open (or still open) for [`LEASE`] from now.
    pub fn open(&self) {
        let mut log = self.log();
        if !self.is_open() {
            // A new view: it starts with the streams open now.
            log.clear();
            let now = now_us();
            let streams: Vec<_> = log.streams.iter().filter_map(Weak::upgrade).collect();
            for stream in streams {
                stream.record().recorded_since_us = Some(now);
                log.list(stream);
            }
        }
        log.was_open = true;
        let until = now_us() + LEASE.as_micros() as u64;
        self.lease.open_until_us.store(until, Relaxed);
    }

    /// The view closed: stop recording and forget what was recorded.
    pub fn close(&self) {
        self.lease.open_until_us.store(0, Relaxed);
        self.log().clear();
    }

    /// The exchanges recorded, oldest first; none once the lease ran out.
    fn exchanges(&self) -> Vec<Arc<Exchange>> {
        let mut log = self.log();
        if !self.is_open() && log.was_open {
            log.clear();
        }
        log.recent.iter().cloned().collect()
    }
}

impl Log {
    /// Lists a new exchange; the oldest finished one gives way, so that a
    /// stream still open (the page's SSE stream, its WebSocket) stays
    /// listed however many polls came after it.
    fn list(&mut self, exchange: Arc<Exchange>) {
        if self.recent.len() == KEPT_EXCHANGES {
            let finished = self
                .recent
                .iter()
                .position(|old| old.record().ended_at_us.is_some());
            self.recent.remove(finished.unwrap_or(0));
        }
        self.recent.push_back(exchange);
    }

    /// Drops the listed exchanges' bodies (an open stream's exchange lives
    /// on with its connection, empty) and the list.
    fn clear(&mut self) {
        for exchange in self.recent.drain(..) {
            exchange.record().forget_parts();
        }
        self.was_open = false;
    }
}

/// One exchange: a request and its answer, or a stream so far.
pub struct Exchange {
    id: u64,
    technique: Technique,
    started_at_us: u64,
    lease: Arc<Lease>,
    record: Mutex<Record>,
}

/// Which way bytes went.
#[derive(Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Dir {
    /// Browser to server.
    In,
    /// Server to browser.
    Out,
}

struct Record {
    request_head: Bytes,
    response_head: Option<Bytes>,
    /// What the counters counted for each head (over HTTP/2 an estimate,
    /// not the length of the decoded text above).
    request_head_bytes: u64,
    response_head_bytes: Option<u64>,
    answered_at_us: Option<u64>,
    ended_at_us: Option<u64>,
    /// For a stream listed when a view opened after it began: from when
    /// its chunks or frames are recorded.
    recorded_since_us: Option<u64>,
    /// Everything this exchange carried, head included, recorded or not:
    /// what the tab's counters counted for it.
    bytes_in: u64,
    bytes_out: u64,
    /// Body chunks, or WebSocket frames, in the order they went.
    parts: VecDeque<Part>,
    /// Per direction: body bytes held in `parts`, and parts that gave way.
    held: [usize; 2],
    dropped: [u64; 2],
    /// A WebSocket's byte streams, cut into frames (`None` for HTTP).
    frames: Option<[Frames; 2]>,
}

impl Record {
    fn new(request_head: Bytes, counted: u64, technique: Technique) -> Self {
        Record {
            bytes_in: counted,
            request_head,
            response_head: None,
            request_head_bytes: counted,
            response_head_bytes: None,
            answered_at_us: None,
            ended_at_us: None,
            recorded_since_us: None,
            bytes_out: 0,
            parts: VecDeque::new(),
            held: [0; 2],
            dropped: [0; 2],
            frames: (technique == Technique::ws).then(Default::default),
        }
    }

    fn keep(&mut self, dir: Dir, bytes: Bytes, len: usize) {
        let side = dir as usize;
        let part = Part::new(dir, bytes, len);
        self.held[side] += part.bytes.len();
        self.parts.push_back(part);
        // Older parts of this side give way to the newest.
        while self.held[side] > SIDE_CAP || self.count(dir) > KEPT_PARTS {
            let Some(oldest) = self.parts.iter().position(|part| part.dir == dir) else {
                break;
            };
            let part = self.parts.remove(oldest).expect("found above");
            self.held[side] -= part.bytes.len();
            self.dropped[side] += 1;
        }
    }

    fn count(&self, dir: Dir) -> usize {
        self.parts.iter().filter(|part| part.dir == dir).count()
    }

    fn forget_parts(&mut self) {
        self.parts.clear();
        self.held = [0; 2];
        self.dropped = [0; 2];
    }
}

/// A body chunk or a frame, as it went (at most [`SIDE_CAP`] of it).
struct Part {
    dir: Dir,
    at_us: u64,
    bytes: Bytes,
    /// Its whole length; more than `bytes` holds when it was cut.
    len: usize,
}

impl Part {
    /// Cuts `bytes` to what the caps allow; counted in [`RECORDED`].
    fn new(dir: Dir, bytes: Bytes, len: usize) -> Part {
        let mut keep = bytes.len().min(SIDE_CAP);
        let before = RECORDED.fetch_add(keep, Relaxed);
        if before + keep > ALL_TABS_CAP {
            RECORDED.fetch_sub(keep, Relaxed);
            keep = 0;
        }
        Part {
            dir,
            at_us: now_us(),
            bytes: bytes.slice(..keep),
            len,
        }
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        RECORDED.fetch_sub(self.bytes.len(), Relaxed);
    }
}

impl Exchange {
    fn record(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The response's status line and headers, as the encoder wrote them
    /// (over HTTP/2, its fields), counted as `counted` bytes.
    pub fn response_head(&self, head: &[u8], counted: u64) {
        let mut record = self.record();
        record.bytes_out += counted;
        record.response_head_bytes = Some(counted);
        record.response_head = Some(Bytes::copy_from_slice(head));
        record.answered_at_us = Some(now_us());
    }

    /// Request body bytes as they were read (a WebSocket's frames,
    /// masked), counted as `counted` bytes.
    pub fn inbound(&self, bytes: &Bytes, counted: u64) {
        let recording = self.lease.is_open();
        let mut record = self.record();
        record.bytes_in += counted;
        self.body(&mut record, Dir::In, bytes, recording);
    }

    /// Response body bytes as written, counted as `counted` bytes: with
    /// the framing the encoder adds when `chunked` (`{len:X}\r\n`…`\r\n`;
    /// `None`: the last chunk, `0\r\n\r\n`). The framing is built only
    /// while recording.
    pub fn outbound(&self, chunk: Option<&Bytes>, chunked: bool, counted: u64) {
        let recording = self.lease.is_open();
        let mut record = self.record();
        record.bytes_out += counted;
        let wire = match (chunk, chunked) {
            (Some(chunk), false) => chunk.clone(),
            (Some(chunk), true) if chunk.is_empty() || !recording => return,
            (Some(chunk), true) => {
                let mut framed = format!("{:X}\r\n", chunk.len()).into_bytes();
                framed.extend_from_slice(chunk);
                framed.extend_from_slice(b"\r\n");
                Bytes::from(framed)
            }
            (None, true) => Bytes::from_static(b"0\r\n\r\n"),
            (None, false) => return,
        };
        self.body(&mut record, Dir::Out, &wire, recording);
    }

    fn body(&self, record: &mut Record, dir: Dir, bytes: &Bytes, recording: bool) {
        match &mut record.frames {
            Some(frames) => {
                let mut whole = Vec::new();
                frames[dir as usize].feed(bytes, recording, &mut |frame, len| {
                    whole.push((frame, len));
                });
                for (frame, len) in whole {
                    record.keep(dir, Bytes::from(frame), len);
                }
            }
            None if recording => record.keep(dir, bytes.clone(), bytes.len()),
            None => {}
        }
    }

    /// The answer is complete, or the connection closed.
    pub fn end(&self) {
        self.record().ended_at_us = Some(now_us());
    }

    fn view(&self) -> ExchangeView {
        let record = self.record();
        ExchangeView {
            id: self.id,
            technique: technique_name(self.technique),
            started_at_us: self.started_at_us,
            answered_at_us: record.answered_at_us,
            ended_at_us: record.ended_at_us,
            recorded_since_us: record.recorded_since_us,
            request_head: BASE64.encode(&record.request_head),
            response_head: record
                .response_head
                .as_ref()
                .map(|head| BASE64.encode(head)),
            request_head_bytes: record.request_head_bytes,
            response_head_bytes: record.response_head_bytes,
            parts: record
                .parts
                .iter()
                .map(|part| PartView {
                    dir: part.dir,
                    at_us: part.at_us,
                    bytes: BASE64.encode(&part.bytes),
                    len: part.len,
                })
                .collect(),
            parts_dropped_in: record.dropped[Dir::In as usize],
            parts_dropped_out: record.dropped[Dir::Out as usize],
            bytes_in: record.bytes_in,
            bytes_out: record.bytes_out,
        }
    }
}

fn technique_name(technique: Technique) -> &'static str {
    match technique {
        Technique::poll => "poll",
        Technique::longpoll => "longpoll",
        Technique::sse => "sse",
        Technique::ws => "ws",
    }
}

/// Cuts a WebSocket byte stream into frames (RFC 6455, section 5.2), so
/// that the log keeps whole frames — the newest ones — whichever way the
/// reads split them. While the view is closed it only follows where frames
/// begin, keeping nothing but a header.
#[derive(Default)]
struct Frames {
    /// The current frame's first bytes, up to its header's longest (14).
    header: [u8; 14],
    /// Bytes of the current frame seen so far.
    seen: usize,
    /// The current frame's whole length, once its header is complete.
    total: Option<usize>,
    /// Whether the current frame is recorded (the view was open when it
    /// began), and what of it is kept (at most [`SIDE_CAP`]).
    recording: bool,
    kept: Vec<u8>,
}

impl Frames {
    fn feed(&mut self, mut input: &[u8], recording: bool, emit: &mut dyn FnMut(Vec<u8>, usize)) {
        while !input.is_empty() {
            if self.seen == 0 {
                self.recording = recording;
                self.total = None;
            }
            let wanted = match self.total {
                Some(total) => total - self.seen,
                None => header_len(&self.header[..self.seen]) - self.seen,
            };
            let (now, rest) = input.split_at(wanted.min(input.len()));
            input = rest;
            if self.total.is_none() {
                self.header[self.seen..self.seen + now.len()].copy_from_slice(now);
            }
            if self.recording {
                let room = SIDE_CAP.saturating_sub(self.kept.len()).min(now.len());
                self.kept.extend_from_slice(&now[..room]);
            }
            self.seen += now.len();
            if self.total.is_none() && self.seen == header_len(&self.header[..self.seen]) {
                let header = &self.header[..self.seen];
                self.total = Some(self.seen.saturating_add(payload_len(header)));
            }
            if self.total == Some(self.seen) {
                if self.recording {
                    emit(std::mem::take(&mut self.kept), self.seen);
                }
                self.seen = 0;
            }
        }
    }
}

/// A frame header's length, as far as its first bytes tell: 2, plus 2 or 8
/// for a 16- or 64-bit length, plus 4 for a masking key.
fn header_len(first: &[u8]) -> usize {
    let Some(&second) = first.get(1) else {
        return 2;
    };
    let extended = match second & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    2 + extended + mask
}

/// The payload length a complete header declares.
fn payload_len(header: &[u8]) -> usize {
    match header[1] & 0x7f {
        126 => u16::from_be_bytes([header[2], header[3]]) as usize,
        127 => {
            let bytes: [u8; 8] = header[2..10].try_into().expect("a 64-bit length");
            usize::try_from(u64::from_be_bytes(bytes)).unwrap_or(usize::MAX)
        }
        short => short as usize,
    }
}

/// An exchange in `GET /api/tabs/{id}/wire`. Bytes are base64: they are
/// the wire's, not necessarily text.
#[derive(Serialize)]
struct ExchangeView {
    id: u64,
    technique: &'static str,
    /// When the request's head was read, the response's written, the
    /// answer complete (or the stream closed): the server's clock, µs.
    started_at_us: u64,
    answered_at_us: Option<u64>,
    ended_at_us: Option<u64>,
    recorded_since_us: Option<u64>,
    request_head: String,
    response_head: Option<String>,
    /// What the counters counted for each head: over HTTP/1.1 the text's
    /// length, over HTTP/2 HPACK's estimate of the HEADERS frame.
    request_head_bytes: u64,
    response_head_bytes: Option<u64>,
    parts: Vec<PartView>,
    parts_dropped_in: u64,
    parts_dropped_out: u64,
    bytes_in: u64,
    bytes_out: u64,
}

#[derive(Serialize)]
struct PartView {
    dir: Dir,
    at_us: u64,
    bytes: String,
    len: usize,
}

/// This part's routes under `/api/tabs/{id}/`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/tabs/{id}/wire", GET, list))
        .service(resource("/api/tabs/{id}/wire/open", POST, open).wrap(from_fn(origin::guard)))
        .service(resource("/api/tabs/{id}/wire/close", POST, close).wrap(from_fn(origin::guard)));
}

/// The tab named in the path, if the server knows it.
fn tab_of(state: &AppState, id: &str) -> Result<Arc<super::Tab>, ApiError> {
    let id = super::parse_id(id)?;
    state.tabs.get(id).ok_or_else(|| {
        ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "unknown_tab",
            "no tab with this id is open on this server",
        )
    })
}

/// `GET /api/tabs/{id}/wire`: the exchanges recorded, oldest first.
async fn list(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let tab = tab_of(&state, &id)?;
    let exchanges: Vec<_> = tab.wire.exchanges().iter().map(|e| e.view()).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "recording": tab.wire.is_open(),
        "lease_s": LEASE.as_secs(),
        "kept": KEPT_EXCHANGES,
        "exchanges": exchanges,
    })))
}

/// `POST /api/tabs/{id}/wire/open`: record for [`LEASE`] from now.
async fn open(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let tab = tab_of(&state, &id)?;
    tab.wire.open();
    Ok(HttpResponse::Ok().json(serde_json::json!({"recording": true, "lease_s": LEASE.as_secs()})))
}

/// `POST /api/tabs/{id}/wire/close`: stop, and forget what was recorded.
async fn close(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tab = tab_of(&state, &id)?;
    tab.wire.close();
    Ok(HttpResponse::Ok().json(serde_json::json!({"recording": false})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_of(stream: &[u8], step: usize) -> Vec<(Vec<u8>, usize)> {
        let mut frames = Frames::default();
        let mut out = Vec::new();
        for piece in stream.chunks(step) {
            frames.feed(piece, true, &mut |frame, len| out.push((frame, len)));
        }
        out
    }

    #[test]
    fn a_byte_stream_is_cut_into_frames_however_it_was_read() {
        let masked = [0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];
        let mut long = vec![0x82, 126, 0x01, 0x00];
        long.extend(std::iter::repeat_n(7, 256));
        let empty = [0x89, 0x00];
        let stream = [&masked[..], &long, &empty].concat();
        for step in [1, 3, 7, 1000] {
            let frames = frames_of(&stream, step);
            assert_eq!(frames.len(), 3, "read {step} bytes at a time");
            assert_eq!(frames[0].0, masked);
            assert_eq!(frames[1].1, 260);
            assert_eq!(frames[2].0, empty);
        }
    }

    #[test]
    fn an_exchange_keeps_at_most_its_caps_per_direction() {
        let mut record = Record::new(
            Bytes::from_static(b"GET / HTTP/1.1\r\n\r\n"),
            18,
            Technique::sse,
        );
        for _ in 0..3 {
            record.keep(
                Dir::Out,
                Bytes::from(vec![b'x'; SIDE_CAP / 2 + 1]),
                SIDE_CAP / 2 + 1,
            );
        }
        assert_eq!(record.count(Dir::Out), 1, "two halves and more do not fit");
        assert_eq!(record.dropped[Dir::Out as usize], 2);
        record.keep(
            Dir::Out,
            Bytes::from(vec![b'y'; SIDE_CAP + 10]),
            SIDE_CAP + 10,
        );
        let last = record.parts.back().unwrap();
        assert_eq!(
            (last.bytes.len(), last.len),
            (SIDE_CAP, SIDE_CAP + 10),
            "cut, and said so"
        );
        for _ in 0..KEPT_PARTS + 5 {
            record.keep(Dir::In, Bytes::from_static(b"z"), 1);
        }
        assert_eq!(record.count(Dir::In), KEPT_PARTS);
        assert!(record.held[Dir::Out as usize] <= SIDE_CAP);
    }

    #[test]
    fn frames_that_began_while_closed_are_not_kept() {
        let mut frames = Frames::default();
        let mut out = Vec::new();
        frames.feed(&[0x81, 0x02, b'a'], false, &mut |f, _| out.push(f));
        frames.feed(&[b'b', 0x81, 0x01, b'c'], true, &mut |f, _| out.push(f));
        assert_eq!(out, vec![vec![0x81, 0x01, b'c']]);
    }
}
