//! WebSocket: the client asks once to switch protocols, and from then on
//! both sides send frames over the same socket whenever they like.
//!
//! `GET /ws?since=ID` starts as HTTP: the browser sends
//! `Upgrade: websocket` with a random `Sec-WebSocket-Key`, the server
//! answers `101 Switching Protocols` with the matching
//! `Sec-WebSocket-Accept`, and the connection stops being HTTP. The server
//! then pushes `{"type":"hello",…}`, one `{"type":"message",…}` text frame
//! per message and `{"type":"gap","missed":N}` when the cursor was too old;
//! the client may publish with `{"type":"publish","author":…,"text":…}`.
//! A message costs its text plus a 2-byte frame header (4 up to 64 KiB).
//!
//! The files of this folder, in the order a connection meets them:
//! - `handshake.rs` — the one HTTP request, and what it must carry;
//! - this file — `/ws`: subscribe, push the hub's messages, publish the
//!   client's;
//! - `session.rs` — the loop every connection runs: pings, pongs, frame
//!   limits (64 KiB a frame, 1 MiB a reassembled message), clients that
//!   stop reading;
//! - `close.rs` — the close code that says why a connection ended;
//! - `echo.rs` — `/ws/echo`, the same loop sending each message back.
//!
//! The hub's messages take the shortest way out: the connection pulls them
//! itself. Its response body, which actix polls whenever the socket can
//! take more, is fed by the subscription (actix-ws's `Session::feed`), so a
//! published message wakes each connection once and is encoded into the
//! chunk it writes next. The session loop only hears from the client and
//! keeps the connection alive.
//!
//! What one client that stops reading can hold on `/ws`: the frames are
//! small (a message frame is at most 3.4 KB: 500 characters of text, each
//! at most 6 bytes once escaped, and a 32-character author; an error frame
//! never quotes more than 300 characters). The hub's messages are pulled
//! only when the socket can take them, so they wait in the hub's shared
//! ring, not per client; what the session queues itself is at most 32
//! frames. With the 32 KiB chunk the body encodes and the connection's
//! write buffer, that is under 256 KiB — for at most twice
//! `--slow-consumer-timeout`: a client whose messages have waited a whole
//! heartbeat tick without being taken is dropped.
//!
//! Publishing as `teacher` or `generator` takes the teacher key, given at
//! the handshake (`/ws?key=…`, or `Authorization: Bearer` from a client
//! that can set headers): see [`crate::publish`].

mod close;
mod deflate;
mod echo;
mod handshake;
mod session;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::CloseCode;
use bytestring::ByteString;
use futures_util::{Stream, StreamExt, stream};
use serde::{Deserialize, Serialize};

pub use deflate::DeflatePolicy;
pub use echo::echo;

use crate::cursor::CursorQuery;
use crate::hub::{Batch, MAX_BATCH, Message, Subscription};
use crate::plumbing::error::ApiError;
use crate::plumbing::origin;
use crate::plumbing::state::AppState;
use crate::publish::NewMessage;
use crate::tally::Tally;
use crate::technique::Technique;
use close::close;
use handshake::{Extensions, check_handshake, refuse, upgrade};
use session::{Connection, Endpoint, Step};

/// The subprotocol of /ws's JSON frames, answered when a client offers it
/// (`new WebSocket(url, "pushlab.v1")`). A client that offers none gets
/// the same frames; one that offers only others gets no protocol in the
/// answer (RFC 6455 §4.2.2) and may close.
pub const SUBPROTOCOL: &str = "pushlab.v1";

/// Largest single frame /ws accepts (compressed, on the wire), and largest
/// message a compressed one may inflate to. Publishing needs a few hundred
/// bytes.
const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Largest message /ws accepts once its fragments are put together.
const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// The longest message an error frame carries, in characters: enough for
/// every message pushlab writes itself.
const MAX_ERROR_CHARS: usize = 300;

/// `GET /ws?since=ID`
pub async fn handle(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    query: CursorQuery,
) -> Result<HttpResponse, ApiError> {
    origin::check(&req, &state.config.allowed_origins)?;
    let cursor = query.cursor(None)?;
    if let Err(refusal) = check_handshake(&req) {
        return Ok(refuse(&refusal));
    }

    let (response, mut session, frames, extensions) =
        upgrade(&req, body, &state.config, Some(SUBPROTOCOL))?;
    let frames = frames
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_MESSAGE_BYTES);

    // Register for wake-ups and take the backlog, give the connection its
    // feed, then hand the socket to its own task and answer 101 at once.
    let subscription = state.hub.subscribe(cursor).await;
    let taken = Arc::new(Taken {
        cursor: AtomicU64::new(subscription.next()),
        batches: AtomicU64::new(0),
    });
    let feed = Feed {
        subscription,
        tally: Tally::of(&req, &state.stats, Technique::ws),
        taken: Arc::clone(&taken),
        write_delay: state.config.ws_write_delay,
    };
    if session.feed(feed.frames(&extensions)).is_err() {
        return Ok(response); // the connection is gone already
    }
    let subscriber = Publisher {
        peer: req.peer_addr().map(|peer| peer.ip()),
        teacher: state.teacher.allows(&req),
        taken,
        batches_at_tick: 0,
        waiting_at_tick: false,
    };
    let connection = Connection::new(session, frames, state.into_inner(), None);
    actix_web::rt::spawn(connection.run(subscriber));
    Ok(response)
}

/// The hub's messages on their way to one connection, pulled by it: a
/// hello, then per batch a gap frame if something was missed and one text
/// frame per message.
struct Feed {
    subscription: Subscription,
    /// Where deliveries are counted: the class's figures and the tab's.
    tally: Tally,
    /// What the connection took, for the session's stall check
    /// ([`Publisher::stalled`]).
    taken: Arc<Taken>,
    /// How long to wait for more after the first message (`--ws-write-delay`).
    write_delay: Duration,
}

/// How far a connection has pulled its feed.
struct Taken {
    /// The cursor after the last batch it took.
    cursor: AtomicU64,
    /// How many batches it took: this only grows, where the cursor starts
    /// over with a new run.
    batches: AtomicU64,
}

impl Feed {
    /// The frames, as the stream actix-ws pulls: the hello first (where
    /// the stream starts, and what the handshake settled), then a batch at
    /// a time as the hub has them.
    fn frames(self, extensions: &Extensions) -> impl Stream<Item = actix_ws::Message> + use<> {
        let hello = ServerFrame::Hello {
            epoch: self.subscription.epoch(),
            next: self.subscription.next(),
            offered: extensions.offered.as_deref(),
            accepted: extensions.accepted.as_deref(),
        };
        let hello = actix_ws::Message::Text(hello.text().into());
        let batches = stream::unfold(self, |mut feed| async move {
            let batch = feed.subscription.recv().await;
            let mut frames = feed.hand_over(&batch);
            if !feed.write_delay.is_zero() {
                feed.gather_for_delay(&mut frames).await;
            }
            Some((stream::iter(frames), feed))
        });
        stream::iter([hello]).chain(batches.flatten())
    }

    /// Waits `--ws-write-delay`, then adds what the hub published meanwhile
    /// (until `frames` holds [`MAX_BATCH`]), so it all goes out in one write.
    /// Every write costs a system call and, over loopback, the reader's
    /// wake-up: at 300 messages a second a 10 ms delay gathers about three
    /// more with each first message.
    async fn gather_for_delay(&mut self, frames: &mut Vec<actix_ws::Message>) {
        tokio::time::sleep(self.write_delay).await;
        while frames.len() < MAX_BATCH {
            let Some(batch) = self.subscription.try_recv() else {
                break;
            };
            frames.append(&mut self.hand_over(&batch));
        }
    }

    /// One batch's frames: a gap frame if something was missed, then the
    /// message frames, each encoded once for every connection (the hub
    /// keeps it with the message).
    fn hand_over(&mut self, batch: &Batch) -> Vec<actix_ws::Message> {
        let mut frames = Vec::with_capacity(batch.messages.len() + 1);
        if batch.missed > 0 || batch.reset {
            let gap = ServerFrame::Gap {
                missed: batch.missed,
                reset: batch.reset,
                epoch: self.subscription.epoch(),
            };
            frames.push(actix_ws::Message::Text(gap.text().into()));
        }
        for message in &batch.messages {
            let frame = message.ws_frame.get_or_init(|| message_frame(message));
            frames.push(actix_ws::Message::Text(frame.clone()));
        }
        self.tally.handed_over(batch);
        self.taken.cursor.store(self.subscription.next(), Relaxed);
        self.taken.batches.fetch_add(1, Relaxed);
        frames
    }
}

/// A server → client frame on /ws other than a message; `type` comes first.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ServerFrame<'a> {
    Hello {
        epoch: &'a str,
        next: u64,
        /// The client's `Sec-WebSocket-Extensions`, as it sent it: a
        /// browser's script cannot see its own request headers. Left out
        /// when it offered none.
        #[serde(skip_serializing_if = "Option::is_none")]
        offered: Option<&'a str>,
        /// The server's answer: what both sides now use. Left out when
        /// nothing was accepted.
        #[serde(skip_serializing_if = "Option::is_none")]
        accepted: Option<&'a str>,
    },
    /// `epoch` names the run the stream continues in: after a reset, the
    /// one a reconnecting client's cursor must name.
    Gap {
        missed: u64,
        reset: bool,
        epoch: &'a str,
    },
    Published {
        id: u64,
    },
    Error {
        error: &'a str,
        message: &'a str,
    },
}

impl ServerFrame<'_> {
    fn text(&self) -> String {
        serde_json::to_string(self).expect("plain fields serialise")
    }
}

/// A client → server frame on /ws.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ClientFrame {
    Publish(NewMessage),
}

/// `/ws`'s side of the session loop: the client's publishes in, and
/// watching that its connection keeps taking the feed.
struct Publisher {
    /// The client's address: its publishes count against its publish rate.
    peer: Option<IpAddr>,
    /// The handshake carried the teacher key (or the controls are open):
    /// this client may publish as `teacher` or `generator`.
    teacher: bool,
    /// What the connection took (see [`Feed`]).
    taken: Arc<Taken>,
    /// Batches taken by the last heartbeat tick.
    batches_at_tick: u64,
    /// Whether the hub had something the connection had not taken then
    /// (a newer message, or a new run to start over in).
    waiting_at_tick: bool,
}

impl Endpoint for Publisher {
    /// Stalled when the hub had something for the connection at the last
    /// tick and it has taken nothing since: it stopped pulling because its
    /// socket is full, for at least a tick. Counted in batches, not ids:
    /// a hub restart starts the ids over.
    fn stalled(&mut self, state: &AppState) -> bool {
        let batches = self.taken.batches.load(Relaxed);
        let stalled = self.waiting_at_tick && batches == self.batches_at_tick;
        self.batches_at_tick = batches;
        self.waiting_at_tick = state.hub.last_id() != self.taken.cursor.load(Relaxed);
        stalled
    }

    /// A text frame: publish it, and say how that went. A bad frame, or one
    /// over the client's publish rate, is answered with an error frame; the
    /// connection stays open.
    async fn on_text(&mut self, connection: &mut Connection, text: ByteString) -> Step {
        let reply = match self.publish(&connection.state, &text).await {
            Ok(id) => ServerFrame::Published { id }.text(),
            Err(error) => ServerFrame::Error {
                error: error.error,
                message: clipped(&error.message),
            }
            .text(),
        };
        connection.text(reply).await
    }

    async fn on_binary(&mut self, _connection: &mut Connection, _bytes: Bytes) -> Step {
        Err(Some(close(
            CloseCode::Unsupported,
            "this endpoint takes JSON text frames",
        )))
    }
}

impl Publisher {
    async fn publish(&self, state: &Arc<AppState>, text: &str) -> Result<u64, ApiError> {
        let ClientFrame::Publish(message) = serde_json::from_str(text).map_err(|e| {
            ApiError::bad_request(
                "bad_json",
                format!("expected {{\"type\":\"publish\",\"author\":…,\"text\":…}}: {e}"),
            )
        })?;
        state.publish_limit.check(self.peer)?;
        message
            .publish_to(state.broker.as_ref(), self.teacher)
            .await
    }
}

/// `{"type":"message",` followed by the rest of the message object.
fn message_frame(message: &Message) -> ByteString {
    ByteString::from(format!("{{\"type\":\"message\",{}", &message.json()[1..]))
}

/// An error frame's message, cut to [`MAX_ERROR_CHARS`]: a parser's error
/// may quote the client's input (serde's "unknown variant `…`"), and an
/// answer to a 1 MiB frame must not be a 1 MiB frame — nor, for a client
/// that stops reading, 32 of them.
fn clipped(message: &str) -> &str {
    match message.char_indices().nth(MAX_ERROR_CHARS) {
        Some((end, _)) => &message[..end],
        None => message,
    }
}
