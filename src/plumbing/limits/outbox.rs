//! A WebSocket's outgoing queue, bounded in bytes, not in frames.
//!
//! actix-ws queues up to 32 frames per session, whatever their size, and
//! each time the connection asks its body for more, it encodes everything
//! queued into one buffer and hands that over whole. For `/ws`, whose
//! frames are at most a few KB, that is a bound. For `/ws/echo`, whose
//! messages may be 1 MiB, it was not: a client that sent 1 MiB messages
//! and stopped reading had 32 MiB waiting in the session's queue and as
//! much again in the connection's write buffer; ten such clients held about
//! 540 MB.
//!
//! An [`Outbox`] counts, in bytes and frames, what the session has queued
//! and the connection has not yet taken, and stands between the two:
//! - the session asks before it queues a frame ([`Outbox::admit`]). A frame
//!   fits when nothing waits, or when what waits stays within the bound with
//!   it (and within actix-ws's 32 frames, so queueing never blocks). One
//!   that does not fit means the client stopped reading while more than the
//!   bound waited for it: the session gives up on it;
//! - the response body ([`OutboxBody`]) hands the connection at most
//!   [`SLICE`] bytes at a time. actix-http asks a body for more only while
//!   its write buffer holds less than [`WRITE_BUFFER`], so what sits in that
//!   buffer stays under [`WRITE_BUFFER`] + [`SLICE`], and each slice handed
//!   over is taken off the count;
//! - a session that gives up ([`Outbox::cut`]) frees what is still queued
//!   at once, keeps only the rest of the frame on its way (so the client
//!   can still parse the stream) and ends it with a close frame.
//!
//! A frame is admitted at its uncompressed size, the most it can take; once
//! actix-ws has encoded it (compressed, when permessage-deflate was
//! negotiated) the count takes its true size instead, so that what is
//! handed over and what was counted agree.
//!
//! So a client that stops reading costs at most the bound (or one frame, if
//! larger), plus the write buffer and a slice, whatever it sends; after the
//! cut, at most one frame plus the write buffer, until it reads or goes.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::error::Error as StdError;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::web::Bytes;

/// The most the body hands the connection at once: small enough that the
/// connection's write buffer stays small, large enough that a big message
/// leaves in few writes.
pub const SLICE: usize = 64 * 1024;

/// The connection's write buffer: actix-http stops asking the body for
/// more once it holds this much (its default `h1_write_buffer_size`).
pub const WRITE_BUFFER: usize = 32 * 1024;

/// Frames actix-ws's session queue holds (`actix_ws::handle`'s channel):
/// one more would make the session wait.
const SESSION_QUEUE: usize = 32;

/// The bytes waiting for one client, shared by its session task and its
/// response body (both run on the same worker thread, hence `Rc`).
pub struct Outbox {
    max_queued: usize,
    state: RefCell<State>,
}

struct State {
    /// Bytes the session queued that the body has not handed over yet.
    queued: usize,
    /// The sizes counted for the frames the session queued that the body
    /// has not taken from actix-ws yet (they occupy its session queue), in
    /// the order they were queued.
    admitted: VecDeque<usize>,
    /// actix-ws's body: its session queue and encoder. `None` once cut.
    inner: Option<BoxBody>,
    /// Taken from `inner`, not yet handed to the connection. Starts at a
    /// frame boundary when taken: actix-ws encodes whole frames.
    pending: Bytes,
    /// Bytes of the frame on its way that are still in `pending`.
    frame_left: usize,
    /// The close frame to send after a cut.
    closing: Option<Bytes>,
    /// The connection's waker, to wake it when a cut makes a close frame
    /// ready.
    waker: Option<Waker>,
}

impl Outbox {
    /// An outbox around actix-ws's response body: the bound, and the body
    /// to hand to actix in place of the original.
    pub fn new(max_queued: usize, inner: BoxBody) -> (Rc<Outbox>, OutboxBody) {
        let outbox = Rc::new(Outbox {
            max_queued,
            state: RefCell::new(State {
                queued: 0,
                admitted: VecDeque::new(),
                inner: Some(inner),
                pending: Bytes::new(),
                frame_left: 0,
                closing: None,
                waker: None,
            }),
        });
        let body = OutboxBody(Rc::clone(&outbox));
        (outbox, body)
    }

    /// Counts a frame with `payload` bytes as queued, if it fits: when
    /// nothing waits (so one message of any accepted size always goes), or
    /// when what waits stays within the bound with it. False when it does
    /// not fit: the client is not reading what it was sent.
    pub fn admit(&self, payload: usize) -> bool {
        let frame = frame_len(payload);
        let mut state = self.state.borrow_mut();
        let fits = state.queued == 0
            || (state.queued + frame <= self.max_queued && state.admitted.len() < SESSION_QUEUE);
        if fits {
            state.queued += frame;
            state.admitted.push_back(frame);
        }
        fits
    }

    /// Bytes queued for the client now.
    pub fn queued(&self) -> usize {
        self.state.borrow().queued
    }

    /// Gives up on the client: drops every queued frame now, keeps the
    /// rest of the frame on its way, and ends the stream with a close frame
    /// (`code`, `reason`) once the client reads that far — if it ever does.
    pub fn cut(&self, code: u16, reason: &str) {
        let mut state = self.state.borrow_mut();
        state.inner = None; // actix-ws's queue and encoder buffer go with it
        let rest = state.frame_left;
        state.pending.truncate(rest);
        state.queued = state.pending.len();
        state.admitted.clear();
        state.closing = Some(close_frame(code, reason));
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
    }
}

/// The response body of a WebSocket with an [`Outbox`].
pub struct OutboxBody(Rc<Outbox>);

impl MessageBody for OutboxBody {
    type Error = Box<dyn StdError>;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let outbox = &self.0;
        let mut state = outbox.state.borrow_mut();
        if !state
            .waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            state.waker = Some(cx.waker().clone());
        }
        if state.pending.is_empty() {
            let Some(inner) = state.inner.as_mut() else {
                // Cut: the close frame, then the end.
                return Poll::Ready(state.closing.take().map(Ok));
            };
            match Pin::new(inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    // actix-ws took these frames off its session queue and
                    // encoded them: count what they became.
                    let taken = frames_in(&chunk).min(state.admitted.len());
                    let counted: usize = state.admitted.drain(..taken).sum();
                    state.queued = state.queued.saturating_sub(counted) + chunk.len();
                    state.pending = chunk;
                }
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => {
                    state.inner = None;
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        let slice = state.take_slice();
        state.queued = state.queued.saturating_sub(slice.len());
        Poll::Ready(Some(Ok(slice)))
    }
}

impl State {
    /// The next slice of `pending`, keeping track of where frames end.
    fn take_slice(&mut self) -> Bytes {
        let n = self.pending.len().min(SLICE);
        let mut at = 0;
        while at < n {
            if self.frame_left == 0 {
                self.frame_left = encoded_len(&self.pending[at..]);
            }
            let step = (n - at).min(self.frame_left);
            self.frame_left -= step;
            at += step;
        }
        self.pending.split_to(n)
    }
}

/// The length on the wire of a server frame (unmasked) with `payload`
/// bytes: a 2-byte header, plus 2 or 8 bytes of extended length from 126
/// and 65,536 bytes on (RFC 6455, section 5.2).
pub fn frame_len(payload: usize) -> usize {
    let extended = match payload {
        0..=125 => 0,
        126..=0xffff => 2,
        _ => 8,
    };
    2 + extended + payload
}

/// How many whole frames `chunk` holds.
fn frames_in(chunk: &[u8]) -> usize {
    let (mut at, mut count) = (0, 0);
    while at < chunk.len() {
        at += encoded_len(&chunk[at..]);
        count += 1;
    }
    count
}

/// The whole length of the frame whose header starts `bytes`.
fn encoded_len(bytes: &[u8]) -> usize {
    let masked = bytes[1] & 0x80 != 0;
    let (header, payload) = match bytes[1] & 0x7f {
        126 => (4, usize::from(u16::from_be_bytes([bytes[2], bytes[3]]))),
        127 => {
            let mut length = [0; 8];
            length.copy_from_slice(&bytes[2..10]);
            (10, u64::from_be_bytes(length) as usize)
        }
        short => (2, usize::from(short)),
    };
    header + if masked { 4 } else { 0 } + payload
}

/// A close frame: opcode 8, the code, a reason of at most 123 bytes.
fn close_frame(code: u16, reason: &str) -> Bytes {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let payload_len = 2 + end;
    let mut frame = Vec::with_capacity(2 + payload_len);
    frame.extend_from_slice(&[0x88, payload_len as u8]);
    frame.extend_from_slice(&code.to_be_bytes());
    frame.extend_from_slice(&reason.as_bytes()[..end]);
    Bytes::from(frame)
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;

    use super::*;

    async fn next(body: &mut OutboxBody) -> Option<Result<Bytes, Box<dyn StdError>>> {
        std::future::poll_fn(|cx| Pin::new(&mut *body).poll_next(cx)).await
    }

    /// A binary frame as actix-ws encodes it for a server.
    fn encoded(payload: usize) -> Vec<u8> {
        let mut frame = Vec::new();
        let len = payload;
        frame.push(0x82);
        match len {
            0..=125 => frame.push(len as u8),
            126..=0xffff => {
                frame.push(126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                frame.push(127);
                frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        frame.extend(std::iter::repeat_n(b'x', len));
        frame
    }

    #[test]
    fn a_frame_is_its_payload_and_a_header_of_2_4_or_10_bytes() {
        for payload in [0, 125, 126, 65_535, 65_536, 1 << 20] {
            let frame = encoded(payload);
            assert_eq!(frame_len(payload), frame.len(), "{payload}");
            assert_eq!(encoded_len(&frame), frame.len(), "{payload}");
        }
    }

    /// A body that yields `chunks`, then ends.
    fn body_of(chunks: Vec<Vec<u8>>) -> BoxBody {
        let stream = futures_util::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, std::io::Error>(Bytes::from(c))),
        );
        BoxBody::new(actix_web::body::BodyStream::new(stream))
    }

    /// A compressed frame is counted at its true size once encoded:
    /// otherwise the count would grow by the saving with every message,
    /// and a client reading everything would end as a "slow consumer".
    #[actix_web::test]
    async fn a_frame_smaller_than_admitted_is_counted_at_its_size() {
        let compressed = encoded(100);
        let (outbox, mut body) = Outbox::new(1 << 20, body_of(vec![compressed.clone()]));
        assert!(outbox.admit(16 * 1024));
        assert_eq!(outbox.queued(), frame_len(16 * 1024));
        let slice = next(&mut body).await.unwrap().unwrap();
        assert_eq!(slice.len(), compressed.len());
        assert_eq!(outbox.queued(), 0);
    }

    #[actix_web::test]
    async fn the_body_hands_over_slices_and_takes_each_off_the_count() {
        let message = encoded(200 * 1024);
        let (outbox, mut body) = Outbox::new(1 << 20, body_of(vec![message.clone()]));
        assert!(outbox.admit(200 * 1024));
        assert_eq!(outbox.queued(), message.len());
        let mut out = Vec::new();
        while let Some(slice) = next(&mut body).await {
            let slice = slice.unwrap();
            assert!(slice.len() <= SLICE);
            out.extend_from_slice(&slice);
            assert_eq!(outbox.queued(), message.len() - out.len());
        }
        assert_eq!(out, message);
        assert!(outbox.state.borrow().admitted.is_empty());
    }

    #[test]
    fn a_frame_fits_alone_or_within_the_bound() {
        let (outbox, _body) = Outbox::new(1000, body_of(vec![]));
        assert!(
            outbox.admit(5000),
            "alone, a message larger than the bound goes"
        );
        assert!(!outbox.admit(10), "nothing more while 5,004 bytes wait");
        let (outbox, _body) = Outbox::new(1000, body_of(vec![]));
        assert!(outbox.admit(400));
        assert!(outbox.admit(400));
        assert!(!outbox.admit(400), "1,212 bytes would wait");
    }

    #[test]
    fn no_more_frames_than_the_session_queue_holds() {
        let (outbox, _body) = Outbox::new(1 << 20, body_of(vec![]));
        for _ in 0..SESSION_QUEUE {
            assert!(outbox.admit(0));
        }
        assert!(!outbox.admit(0));
    }

    #[actix_web::test]
    async fn a_cut_keeps_the_rest_of_the_frame_on_its_way_then_closes() {
        let first = encoded(100 * 1024);
        let second = encoded(100 * 1024);
        let chunk = [first.clone(), second].concat();
        let (outbox, body) = Outbox::new(1 << 20, body_of(vec![chunk]));
        let mut body = body;
        assert!(outbox.admit(100 * 1024) && outbox.admit(100 * 1024));
        let slice = next(&mut body).await.unwrap().unwrap();
        assert_eq!(slice.len(), SLICE);
        outbox.cut(1008, "slow consumer");
        let rest = to_bytes(body).await.unwrap();
        let (frame_rest, close) = rest.split_at(first.len() - SLICE);
        assert_eq!(frame_rest, &first[SLICE..]);
        assert_eq!(close, &close_frame(1008, "slow consumer")[..]);
        assert_eq!(&close[2..4], &1008u16.to_be_bytes());
    }
}
