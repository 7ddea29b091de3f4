//! pushlab: permessage-deflate (RFC 7692), the compression a WebSocket
//! handshake may negotiate with `Sec-WebSocket-Extensions`.
//!
//! The negotiation is the caller's: it reads the client's offer and writes
//! the answer. This file compresses and inflates messages once both ends
//! agreed on a [`DeflateConfig`], for [`Codec::deflate`](super::Codec::deflate):
//!
//! - a compressed message has RSV1 set on its first frame; its payload is raw
//!   DEFLATE data ended by a sync flush, whose last four bytes (`00 00 ff ff`)
//!   are left off on the wire and put back before inflating (§7.2.1, §7.2.2);
//! - with context takeover, a side keeps its compressor's window from one
//!   message to the next: a better ratio, for a compressor per connection
//!   (zlib's is about 270 KB with a 15-bit window), made at its first message;
//! - without it, each message is compressed alone, so nothing needs to outlive
//!   a message: each thread keeps one compressor per window size, reset after
//!   every message, and the last short payloads it compressed, so a payload sent to
//!   a thousand connections (a broadcast) is compressed once per thread, not
//!   once per connection;
//! - a message over 16 KiB is stored (DEFLATE's level 0), not compressed:
//!   compressing one costs the server more than it saves the network;
//! - an inflated message larger than the codec's `max_size` is refused
//!   (`ProtocolError::Overflow`, close code 1009) as soon as inflating passes
//!   the limit, however small it was on the wire: a 10 MB message of zeros
//!   arrives as 10 KB.
//!
//! Control frames are never compressed, and RSV1 on a control frame or a
//! continuation frame is a protocol error.

use std::{
    cell::RefCell,
    collections::{HashMap, VecDeque},
    fmt, io,
};

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::ProtocolError;

/// The four bytes a sync flush ends with, left off every compressed message.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The largest window DEFLATE has: 2^15 bytes. An inflater with this window
/// reads what any smaller window wrote.
const MAX_WINDOW_BITS: u8 = 15;

/// How many recently compressed payloads each thread remembers (contexts
/// not taken over only): as many as a server keeps to resend (pushlab's
/// history holds 1,024), so a subscriber that lags far behind the others
/// still finds its messages compressed. Looked up by address, not scanned.
const RECENT: usize = 1024;

/// Messages larger than this are stored, not compressed: sent as DEFLATE's
/// stored blocks (level 0), which cost a copy to write and to read. Only
/// `/ws/echo` carries such a message (pushlab's own frames are under
/// 4 KiB), and compressing it would cost the server more than everything
/// else it does for it: 3 ms at level 1 for 128 KiB of a bitmap that
/// shrinks by 15%, so a client echoing large messages could keep a core
/// busy. A stored message still has RSV1 set: RFC 7692 allows a message
/// without it on a compressing connection, but some clients mishandle one
/// (kosoku 0.1.0, which runs Autobahn's cases, does).
const STORED_ABOVE: usize = 16 * 1024;

/// The largest payload remembered: broadcast messages are short, and a
/// large payload (an echo) is seldom sent twice but would be held until
/// forgotten.
const RECENT_MAX_PAYLOAD: usize = 4 * 1024;

/// What the two ends agreed on, in the handshake's words (RFC 7692 §7.1).
/// The codec compresses with its own side's parameters (`server_*` for a
/// server) and inflates with the peer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateConfig {
    /// `server_no_context_takeover`: the server compresses each message alone.
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover`: the client compresses each message alone.
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits`: the server's window, 9 to 15 (zlib has no 8).
    pub server_max_window_bits: u8,
    /// `client_max_window_bits`: the client's window, 8 to 15.
    pub client_max_window_bits: u8,
    /// The compression level, 0 (none) to 9 (best).
    pub level: u32,
}

impl Default for DeflateConfig {
    /// Context takeover both ways, 15-bit windows, zlib's default level.
    fn default() -> Self {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
            level: 6,
        }
    }
}

/// A codec's compression state: its compressor and its inflater.
pub(crate) struct Deflate {
    config: DeflateConfig,
    deflater: Deflater,
    inflater: Inflater,
}

impl Deflate {
    /// The state for one side: `server` compresses with the `server_*`
    /// parameters and inflates what the client compressed.
    pub(crate) fn new(config: DeflateConfig, server: bool) -> Self {
        let (own_alone, own_bits, peer_alone) = if server {
            (
                config.server_no_context_takeover,
                config.server_max_window_bits,
                config.client_no_context_takeover,
            )
        } else {
            (
                config.client_no_context_takeover,
                config.client_max_window_bits,
                config.server_no_context_takeover,
            )
        };
        Deflate {
            config,
            deflater: Deflater {
                window_bits: own_bits.clamp(9, MAX_WINDOW_BITS),
                level: config.level.min(9),
                alone: own_alone,
                own: None,
            },
            inflater: Inflater {
                alone: peer_alone,
                own: None,
                inflated: 0,
            },
        }
    }

    /// The payload of a compressed message (without the sync flush's tail).
    pub(crate) fn compress(&mut self, payload: Bytes) -> Result<Bytes, ProtocolError> {
        self.deflater.compress(payload)
    }

    /// Inflates one frame of a compressed message; `last` on its final frame.
    /// Fails with `Overflow` once the message inflates past `max_size`.
    pub(crate) fn inflate(
        &mut self,
        payload: &[u8],
        last: bool,
        max_size: usize,
    ) -> Result<Bytes, ProtocolError> {
        self.inflater.inflate(payload, last, max_size)
    }
}

impl Clone for Deflate {
    /// A clone starts with fresh contexts: a compressor's window belongs to
    /// the one stream it compressed.
    fn clone(&self) -> Self {
        Deflate {
            config: self.config,
            deflater: Deflater {
                own: None,
                ..self.deflater
            },
            inflater: Inflater {
                own: None,
                inflated: 0,
                ..self.inflater
            },
        }
    }
}

impl fmt::Debug for Deflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflate")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The sending side.
struct Deflater {
    window_bits: u8,
    level: u32,
    /// No context takeover: every message compressed alone.
    alone: bool,
    /// With context takeover: this connection's compressor.
    own: Option<Box<Compress>>,
}

impl Deflater {
    fn compress(&mut self, payload: Bytes) -> Result<Bytes, ProtocolError> {
        let level = self.level_for(payload.len());
        if self.alone || level != self.level {
            if let Some(own) = &mut self.own {
                // A large message is stored alone, with context takeover
                // too. The peer's window will hold it and our compressor's
                // would not: start afresh, so nothing refers back across it.
                own.reset();
            }
            return SHARED.with(|shared| {
                shared
                    .borrow_mut()
                    .compress(payload, self.window_bits, level)
            });
        }
        let (bits, level) = (self.window_bits, self.level);
        let compress = self
            .own
            .get_or_insert_with(|| Box::new(new_compressor(bits, level)));
        let mut out = Vec::new();
        deflate_into(compress, &payload, &mut out)?;
        Ok(Bytes::from(out))
    }

    /// The level for a message of `len` bytes: the configured one, or 0
    /// (stored) for a large one (see [`STORED_ABOVE`]).
    fn level_for(&self, len: usize) -> u32 {
        if len > STORED_ABOVE {
            0
        } else {
            self.level
        }
    }
}

fn new_compressor(window_bits: u8, level: u32) -> Compress {
    Compress::new_with_window_bits(Compression::new(level), false, window_bits)
}

thread_local! {
    static SHARED: RefCell<Shared> = RefCell::new(Shared::default());
}

/// A thread's compressors for messages compressed alone.
#[derive(Default)]
struct Shared {
    /// One per window size and level in use, reset after every message.
    compressors: Vec<(u8, u32, Compress)>,
    /// The payloads compressed last, with what they became.
    recent: HashMap<Key, Recent>,
    /// Their keys, oldest first: the first to be forgotten.
    order: VecDeque<Key>,
}

/// A payload's address and length, and how it was compressed.
type Key = (usize, usize, u8, u32);

/// A payload compressed alone, and the result. Holding the payload keeps
/// its bytes alive and unchanged, so a payload at the same address with the
/// same length is this very payload.
struct Recent {
    /// Held, never read: while it is, no other payload can have its address.
    _payload: Bytes,
    compressed: Bytes,
}

impl Shared {
    fn compress(
        &mut self,
        payload: Bytes,
        window_bits: u8,
        level: u32,
    ) -> Result<Bytes, ProtocolError> {
        let key = (payload.as_ptr() as usize, payload.len(), window_bits, level);
        if let Some(recent) = self.recent.get(&key) {
            return Ok(recent.compressed.clone());
        }
        let compress = self.compressor(window_bits, level);
        let mut out = Vec::new();
        let result = deflate_into(compress, &payload, &mut out);
        compress.reset();
        result?;
        let compressed = Bytes::from(out);
        if payload.len() > RECENT_MAX_PAYLOAD {
            return Ok(compressed);
        }
        if self.order.len() == RECENT {
            if let Some(oldest) = self.order.pop_front() {
                self.recent.remove(&oldest);
            }
        }
        self.order.push_back(key);
        self.recent.insert(
            key,
            Recent {
                _payload: payload,
                compressed: compressed.clone(),
            },
        );
        Ok(compressed)
    }

    fn compressor(&mut self, window_bits: u8, level: u32) -> &mut Compress {
        let at = self
            .compressors
            .iter()
            .position(|(bits, lvl, _)| (*bits, *lvl) == (window_bits, level));
        let at = at.unwrap_or_else(|| {
            let compress = new_compressor(window_bits, level);
            self.compressors.push((window_bits, level, compress));
            self.compressors.len() - 1
        });
        &mut self.compressors[at].2
    }
}

/// Compresses `input` as one message: everything, then a sync flush, whose
/// four-byte tail is left off.
fn deflate_into(
    compress: &mut Compress,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    let start = compress.total_in();
    out.reserve(input.len() / 2 + 16);
    loop {
        let done = (compress.total_in() - start) as usize;
        compress
            .compress_vec(&input[done..], out, FlushCompress::Sync)
            .map_err(|err| invalid(format!("compression failed: {err}")))?;
        let all_in = (compress.total_in() - start) as usize == input.len();
        // Room left after a sync flush means the flush is complete.
        if all_in && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity().max(64));
    }
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
    Ok(())
}

/// The receiving side.
struct Inflater {
    /// The peer compresses every message alone: no window to keep.
    alone: bool,
    /// The inflater, made at the first compressed message; kept between
    /// messages only when the peer takes its context over.
    own: Option<Box<Decompress>>,
    /// Bytes inflated so far of the message being received.
    inflated: usize,
}

impl Inflater {
    fn inflate(
        &mut self,
        payload: &[u8],
        last: bool,
        max_size: usize,
    ) -> Result<Bytes, ProtocolError> {
        let decompress = self.own.get_or_insert_with(|| {
            Box::new(Decompress::new_with_window_bits(false, MAX_WINDOW_BITS))
        });
        let room = max_size.saturating_sub(self.inflated);
        let mut out = Vec::new();
        let mut result = inflate_into(decompress, payload, &mut out, room);
        if last && result.is_ok() {
            result = inflate_into(decompress, &TAIL, &mut out, room);
        }
        if result.is_err() || last {
            // A failed message ends the connection; a finished one starts
            // the next message's count (and, alone, its inflater) afresh.
            self.inflated = 0;
            if self.alone || result.is_err() {
                self.own = None;
            }
        } else {
            self.inflated += out.len();
        }
        result.map(|()| Bytes::from(out))
    }
}

/// Inflates `input` into `out`, failing with `Overflow` as soon as `out`
/// would hold more than `room` bytes.
fn inflate_into(
    decompress: &mut Decompress,
    input: &[u8],
    out: &mut Vec<u8>,
    room: usize,
) -> Result<(), ProtocolError> {
    let start = decompress.total_in();
    loop {
        if out.len() == out.capacity() {
            // Never more than one byte past the limit: enough to tell.
            let grow = out.capacity().clamp(1024, 64 * 1024);
            out.reserve_exact(grow.min(room + 1 - out.len().min(room)));
        }
        let before = (decompress.total_in(), out.len());
        let status = decompress
            .decompress_vec(
                &input[(decompress.total_in() - start) as usize..],
                out,
                FlushDecompress::Sync,
            )
            .map_err(|err| invalid(format!("invalid compressed data: {err}")))?;
        if out.len() > room {
            return Err(ProtocolError::Overflow);
        }
        let all_in = (decompress.total_in() - start) as usize == input.len();
        if all_in && out.len() < out.capacity() {
            return Ok(());
        }
        if status == Status::StreamEnd {
            // A block marked final ends the DEFLATE stream; a message may
            // still carry more (RFC 7692 §7.2.3.4): start a new one.
            decompress.reset(false);
            continue;
        }
        if (decompress.total_in(), out.len()) == before && out.len() < out.capacity() {
            return Err(invalid("invalid compressed data: no progress".to_owned()));
        }
    }
}

/// An error in the compressed data. Its words name it for the caller, who
/// closes with 1007 (a payload inconsistent with its message).
fn invalid(message: String) -> ProtocolError {
    ProtocolError::Io(io::Error::new(io::ErrorKind::InvalidData, message))
}
