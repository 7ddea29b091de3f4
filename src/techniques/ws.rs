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
//! What the server must do itself (actix-ws does not):
//! - refuse a handshake it cannot take, in words: a plain GET, an HTTP/1.0
//!   one, a missing `Connection: Upgrade` or `Sec-WebSocket-Version`, or a
//!   key that is not 16 bytes of base64 get a JSON 400; a `Sec-WebSocket-Version` other than
//!   13 gets `426 Upgrade Required` with `Sec-WebSocket-Version: 13`, the
//!   version this server speaks (RFC 6455 §4.4), so the client can retry;
//! - check `Origin` before upgrading (see `origin.rs`): browsers let any
//!   site open a WebSocket to any server;
//! - ping every 10 s and drop a peer silent for 30 s: a dead peer behind a
//!   NAT never closes its end;
//! - cap frames (64 KiB) and reassembled fragments (1 MiB), and close with
//!   the RFC 6455 code that says why: 1009 too big, 1007 invalid UTF-8,
//!   1002 any other protocol error, 1001 when the server shuts down;
//! - drop a client that stopped reading. actix-ws queues at most 32 frames
//!   per session; once the socket and that queue are full, handing over the
//!   next frame waits until the peer reads. Without a bound that wait would
//!   freeze the session (heartbeat included) for as long as the peer keeps
//!   the socket open. So every step of the loop gets `--slow-consumer-timeout`
//!   (10 s): a step that cannot hand its frames over in that time ends the
//!   session, frees its queue, and counts a `slow_consumers`. Messages still
//!   go to every other client at once: each session waits on its own task.
//!
//!
//! What one client that stops reading can hold on `/ws`: the frames are
//! small (a message frame is at most 3.4 KB: 500 characters of text, each
//! at most 6 bytes once escaped, and a 32-character author; an error frame
//! never quotes more than 300 characters), so actix-ws's 32 queued frames,
//! as many again encoded for the connection, and its 32 KiB write buffer
//! come to under 256 KiB — for at most `--slow-consumer-timeout`.
//!
//! `GET /ws/echo` runs the same session loop but echoes each message back:
//! the "server answers the client" demo and the conformance suite's target.
//! Its messages may be 1 MiB, so 32 queued frames are no bound: its frames
//! leave through an [`Outbox`] bounded in bytes (`--echo-max-queued`), and
//! a client that stops reading while more than that waits for it is closed
//! with 1008 (policy violation: the server's policy is to hold no more
//! than that for anyone; 1013 would say the *server* is overloaded, which
//! it is not) and counted in `echo.slow_consumers`. Its connections have
//! their own limit, `--max-echo`, and its traffic is counted under `echo`.
//!
//! Publishing as `teacher` or `generator` takes the teacher key, given at
//! the handshake (`/ws?key=…`, or `Authorization: Bearer` from a client
//! that can set headers): see [`crate::publish`].

use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{StatusCode, Version};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use actix_ws::{
    AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, ProtocolError, Session,
};
use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use tokio::time::{Instant, MissedTickBehavior};

use crate::cursor::CursorQuery;
use crate::error::ApiError;
use crate::hub::{Batch, Message, Subscription};
use crate::limits::outbox::Outbox;
use crate::origin;
use crate::publish::NewMessage;
use crate::state::AppState;
use crate::stats::Technique;
use crate::tally::Tally;
use crate::ws_accept;

/// Largest single frame /ws accepts. Publishing needs a few hundred bytes.
const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Largest message /ws accepts once its fragments are put together.
const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// The longest message an error frame carries, in characters: enough for
/// every message pushlab writes itself.
const MAX_ERROR_CHARS: usize = 300;
/// The one version of the protocol there is: RFC 6455's. Earlier drafts
/// (8, or Hixie-76 with none) were never compatible with it.
const WEBSOCKET_VERSION: &str = "13";

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
    let cursor = state.hub.caught_up(cursor).await;

    let (response, session, frames) = actix_ws::handle(&req, body).map_err(handshake_error)?;
    let frames = frames
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_MESSAGE_BYTES);

    // Register for wake-ups and take the backlog, then hand the socket to
    // its own task and answer 101 at once.
    let subscription = state.hub.subscribe(cursor);
    let mut connection = Connection::new(session, frames, state.into_inner());
    connection.peer = req.peer_addr().map(|peer| peer.ip());
    connection.teacher = connection.state.teacher.allows(&req);
    connection.tally = Tally::of(&req, &connection.state.stats, Technique::ws);
    actix_web::rt::spawn(connection.run(Role::Subscriber(subscription)));
    Ok(response)
}

/// `GET /ws/echo`
pub async fn echo(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    origin::check(&req, &state.config.allowed_origins)?;
    if let Err(refusal) = check_handshake(&req) {
        return Ok(refuse(&refusal));
    }

    let max = state.config.echo_max_message;
    let (response, session, frames) = actix_ws::handle(&req, body).map_err(handshake_error)?;
    let frames = frames
        .max_frame_size(max)
        .aggregate_continuations()
        .max_continuation_size(max);

    // The frames leave through an outbox bounded in bytes.
    let mut outbox = None;
    let response = response
        .map_body(|_, body| {
            let (queue, body) = Outbox::new(state.config.echo_max_queued, body);
            outbox = Some(queue);
            body
        })
        .map_into_boxed_body();
    state.stats.echo.connections.inc();
    let mut connection = Connection::new(session, frames, state.into_inner());
    connection.outbox = outbox;
    actix_web::rt::spawn(connection.run(Role::Echo));
    Ok(response)
}

// docs:start ws-handshake
/// The server's side of RFC 6455 §4.2.1: what a handshake must carry
/// before the server may answer 101. Each refusal says what was missing.
fn check_handshake(req: &HttpRequest) -> Result<(), ApiError> {
    let headers = req.headers();
    let value = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let asks_websocket = value(header::UPGRADE).is_some_and(|v| {
        v.split(',')
            .any(|p| p.trim().eq_ignore_ascii_case("websocket"))
    });
    if !asks_websocket {
        return Err(ApiError::bad_request(
            "bad_handshake",
            "a WebSocket handshake is expected here: a GET with `Upgrade: websocket`, \
             `Connection: Upgrade`, `Sec-WebSocket-Version: 13` and a `Sec-WebSocket-Key`",
        ));
    }
    // An upgrade is an HTTP/1.1 mechanism (RFC 6455 §4.1); a proxy that
    // forwards in HTTP/1.0 (nginx's default) must be told to use 1.1.
    if req.version() < Version::HTTP_11 {
        return Err(ApiError::bad_request(
            "bad_handshake",
            "a WebSocket handshake is an HTTP/1.1 request; this one came as HTTP/1.0 \
             (behind nginx: `proxy_http_version 1.1`)",
        ));
    }
    if !req.head().upgrade() {
        return Err(ApiError::bad_request(
            "bad_handshake",
            "a WebSocket handshake needs `Connection: Upgrade` next to `Upgrade: websocket`",
        ));
    }
    match value(header::SEC_WEBSOCKET_VERSION).map(str::trim) {
        None => {
            return Err(ApiError::bad_request(
                "bad_handshake",
                "a WebSocket handshake needs `Sec-WebSocket-Version: 13`",
            ));
        }
        Some(WEBSOCKET_VERSION) => {}
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::UPGRADE_REQUIRED,
                "unsupported_websocket_version",
                format!(
                    "this server speaks WebSocket version {WEBSOCKET_VERSION} (RFC 6455), \
                     not {other:?}: send `Sec-WebSocket-Version: {WEBSOCKET_VERSION}`"
                ),
            ));
        }
    }
    let key = value(header::SEC_WEBSOCKET_KEY).unwrap_or("");
    if !ws_accept::is_valid_key(key) {
        return Err(ApiError::bad_request(
            "bad_handshake",
            format!(
                "`Sec-WebSocket-Key` must be 16 random bytes in base64 (24 characters), not {key:?}"
            ),
        ));
    }
    Ok(())
}

/// The refusal as an answer. A 426 names what the client must upgrade to:
/// `Upgrade: websocket` (RFC 9110 §15.5.22) and the version this server
/// speaks (RFC 6455 §4.4).
fn refuse(refusal: &ApiError) -> HttpResponse {
    let mut response = refusal.error_response();
    if refusal.status == StatusCode::UPGRADE_REQUIRED {
        let headers = response.headers_mut();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static(WEBSOCKET_VERSION),
        );
    }
    response
}
// docs:end ws-handshake

/// What actix-ws still refuses after [`check_handshake`] let a request
/// through (nothing, today; kept so a refusal is never an HTML page).
fn handshake_error(err: actix_web::Error) -> ApiError {
    ApiError::bad_request(
        "bad_handshake",
        format!("not a valid WebSocket handshake: {err}"),
    )
}

/// What the session does besides keeping the connection alive.
enum Role {
    /// `/ws`: push the hub's messages, publish the client's.
    Subscriber(Subscription),
    /// `/ws/echo`: send each message back.
    Echo,
}

/// A server → client frame on /ws other than a message; `type` comes first.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ServerFrame<'a> {
    Hello {
        epoch: &'a str,
        next: u64,
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

/// One open WebSocket.
struct Connection {
    session: Session,
    frames: AggregatedMessageStream,
    state: Arc<AppState>,
    /// When we last heard anything from the peer (a pong counts).
    last_heard: Instant,
    /// The client's address: its publishes count against its publish rate.
    peer: Option<IpAddr>,
    /// The handshake carried the teacher key (or the controls are open):
    /// this client may publish as `teacher` or `generator`.
    teacher: bool,
    /// `/ws/echo` only: the outgoing queue, bounded in bytes.
    outbox: Option<Rc<Outbox>>,
    /// Where deliveries are counted: the class's figures and the tab's.
    tally: Tally,
}

/// Why the loop ended: with a close frame to send, or with the peer gone.
type Ending = Option<CloseReason>;

impl Connection {
    fn new(session: Session, frames: AggregatedMessageStream, state: Arc<AppState>) -> Self {
        Connection {
            tally: Tally::new(&state.stats, Technique::ws, None),
            session,
            frames,
            state,
            last_heard: Instant::now(),
            peer: None,
            teacher: false,
            outbox: None,
        }
    }

    /// The session loop: one `select!` over the server shutting down, the
    /// hub's messages, the client's frames and the heartbeat.
    async fn run(mut self, mut role: Role) {
        let ping_every = self.state.config.ws_ping_interval;
        let mut heartbeat = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        if let Role::Subscriber(subscription) = &role {
            let hello = ServerFrame::Hello {
                epoch: subscription.epoch(),
                next: subscription.next(),
            };
            if self.session.text(hello.text()).await.is_err() {
                return;
            }
        }
        // Every step is bounded by the slow-consumer timeout (see `bounded`).
        let state = Arc::clone(&self.state);
        // One wait for the shutdown for the whole session, not one per step.
        let mut shutdown = std::pin::pin!(self.state.shutdown.clone().cancelled_owned());
        // docs:start ws-loop
        let ending: Ending = loop {
            let step = tokio::select! {
                biased;
                () = &mut shutdown => Err(Some(close(CloseCode::Away, "server shutting down"))),
                batch = next_batch(&mut role) => bounded(&state, self.send_batch(&batch, &role)).await,
                frame = self.frames.recv() => bounded(&state, self.on_frame(frame, &role)).await,
                _ = heartbeat.tick() => bounded(&state, self.heartbeat()).await,
            };
            if let Err(ending) = step {
                break ending;
            }
        };
        // docs:end ws-loop
        let Some(reason) = ending else {
            return;
        };
        match &self.outbox {
            // No room for a close frame behind what waits: drop that.
            Some(outbox) if !outbox.admit(close_payload(&reason)) => {
                outbox.cut(
                    reason.code.into(),
                    reason.description.as_deref().unwrap_or(""),
                );
            }
            _ => {
                let _ = self.session.close(Some(reason)).await; // the peer may be gone
            }
        }
    }

    /// Pushes one batch: a gap frame if something was missed, then one text
    /// frame per message. actix-ws queues them, and they leave together in
    /// as few writes as the socket allows.
    async fn send_batch(&mut self, batch: &Batch, role: &Role) -> Result<(), Ending> {
        if batch.missed > 0 || batch.reset {
            let gap = ServerFrame::Gap {
                missed: batch.missed,
                reset: batch.reset,
                epoch: match role {
                    Role::Subscriber(subscription) => subscription.epoch(),
                    Role::Echo => "",
                },
            }
            .text();
            self.session.text(gap).await.map_err(|_| None)?;
            self.tally.missed(batch);
        }
        for message in &batch.messages {
            let frame = message.ws_frame.get_or_init(|| message_frame(message));
            self.session.text(frame.clone()).await.map_err(|_| None)?;
        }
        self.tally.delivered(&batch.messages);
        Ok(())
    }

    /// Handles one frame from the client.
    async fn on_frame(
        &mut self,
        frame: Option<Result<AggregatedMessage, ProtocolError>>,
        role: &Role,
    ) -> Result<(), Ending> {
        self.last_heard = Instant::now();
        let sent = match frame {
            None => return Err(None), // the peer closed the TCP connection
            Some(Err(error)) => return Err(protocol_close(&error)),
            Some(Ok(AggregatedMessage::Close(reason))) => return Err(Some(reply_to_close(reason))),
            Some(Ok(AggregatedMessage::Ping(payload))) => {
                self.make_room(payload.len())?;
                self.session.pong(&payload).await
            }
            Some(Ok(AggregatedMessage::Pong(_))) => Ok(()),
            Some(Ok(AggregatedMessage::Text(text))) => match role {
                Role::Echo => {
                    self.make_room(text.len())?;
                    self.state.stats.echo.messages.inc();
                    self.session.text(text).await
                }
                Role::Subscriber(_) => {
                    let reply = self.publish(&text).await;
                    self.session.text(reply).await
                }
            },
            Some(Ok(AggregatedMessage::Binary(bytes))) => match role {
                Role::Echo => {
                    self.make_room(bytes.len())?;
                    self.state.stats.echo.messages.inc();
                    self.session.binary(bytes).await
                }
                Role::Subscriber(_) => {
                    return Err(Some(close(
                        CloseCode::Unsupported,
                        "this endpoint takes JSON text frames",
                    )));
                }
            },
        };
        sent.map_err(|_| None)
    }

    /// A text frame on /ws: publish it, and say how that went. A bad frame,
    /// or one over the client's publish rate, is answered with an error
    /// frame; the connection stays open.
    async fn publish(&self, text: &str) -> String {
        match self.try_publish(text).await {
            Ok(id) => ServerFrame::Published { id }.text(),
            Err(error) => ServerFrame::Error {
                error: error.error,
                message: clipped(&error.message),
            }
            .text(),
        }
    }

    async fn try_publish(&self, text: &str) -> Result<u64, ApiError> {
        let ClientFrame::Publish(message) = serde_json::from_str(text).map_err(|e| {
            ApiError::bad_request(
                "bad_json",
                format!("expected {{\"type\":\"publish\",\"author\":…,\"text\":…}}: {e}"),
            )
        })?;
        self.state.publish_limit.check(self.peer)?;
        message
            .publish_to(self.state.broker.as_ref(), self.teacher)
            .await
    }

    /// On `/ws/echo`, makes room in the outbox for a frame of `payload`
    /// bytes, or gives up on a client that stopped reading while more than
    /// `--echo-max-queued` bytes waited for it: 1008, counted as a slow
    /// consumer. The outbox then sends the close frame itself, after the
    /// frame already on its way. Nothing to do on `/ws`.
    fn make_room(&self, payload: usize) -> Result<(), Ending> {
        let Some(outbox) = &self.outbox else {
            return Ok(());
        };
        if outbox.admit(payload) {
            return Ok(());
        }
        self.state.stats.echo.slow_consumers.inc();
        let reason = format!(
            "slow consumer: over {} bytes waited to be sent",
            self.state.config.echo_max_queued
        );
        outbox.cut(CloseCode::Policy.into(), &reason);
        Err(None)
    }

    /// Pings the peer, or gives up on it when it has been silent too long.
    async fn heartbeat(&mut self) -> Result<(), Ending> {
        let idle: Duration = self.last_heard.elapsed();
        if idle > self.state.config.ws_idle_timeout {
            return Err(Some(close(CloseCode::Policy, "no answer to pings")));
        }
        self.make_room(0)?;
        self.session.ping(b"").await.map_err(|_| None)
    }
}

// docs:start ws-slow
/// Runs one step of the session loop, giving up on the peer when the step
/// cannot hand its frames to actix-ws within `--slow-consumer-timeout`:
/// the session queue is full because the peer stopped reading. The session
/// then ends without a close frame (there is no room to queue one); its
/// queue and subscription are freed, and the socket closes once the peer
/// reads what is already on its way or goes away.
async fn bounded(
    state: &AppState,
    step: impl Future<Output = Result<(), Ending>>,
) -> Result<(), Ending> {
    match tokio::time::timeout(state.config.slow_consumer_timeout, step).await {
        Ok(result) => result,
        Err(_elapsed) => {
            state.stats.technique(Technique::ws).slow_consumers.inc();
            Err(None)
        }
    }
}
// docs:end ws-slow

/// `{"type":"message",` followed by the rest of the message object.
fn message_frame(message: &Message) -> ByteString {
    ByteString::from(format!("{{\"type\":\"message\",{}", &message.json()[1..]))
}

/// The next batch for a subscriber; an echo session never gets one.
async fn next_batch(role: &mut Role) -> Batch {
    match role {
        Role::Subscriber(subscription) => subscription.recv().await,
        Role::Echo => std::future::pending().await,
    }
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

/// The payload of the close frame for `reason`: the code, and the reason's
/// text as actix-ws sends it (at most 123 bytes).
fn close_payload(reason: &CloseReason) -> usize {
    2 + reason.description.as_ref().map_or(0, |d| d.len().min(123))
}

fn close(code: CloseCode, description: &str) -> CloseReason {
    CloseReason {
        code,
        description: Some(description.to_owned()),
    }
}

// docs:start close-codes
/// The RFC 6455 close code for a frame we could not accept, or `None` when
/// the connection itself failed and there is nobody to tell.
///
/// actix reports three different refusals as plain I/O errors; only their
/// text tells them apart, so it is matched here, in one place.
fn protocol_close(error: &ProtocolError) -> Ending {
    let reason = match error {
        ProtocolError::Overflow => close(CloseCode::Size, "frame too large"),
        ProtocolError::Io(io) => {
            let text = io.to_string();
            if text.contains("reserved bits") {
                close(
                    CloseCode::Protocol,
                    "reserved bits set without an extension",
                )
            } else if text.contains("maximum continuation size") {
                close(CloseCode::Size, "message too large")
            } else if io.kind() == std::io::ErrorKind::InvalidData {
                close(CloseCode::Invalid, "text is not valid UTF-8")
            } else {
                return None;
            }
        }
        other => close(CloseCode::Protocol, &other.to_string()),
    };
    Some(reason)
}
// docs:end close-codes

/// The peer started the closing handshake: answer with its code if that is
/// a code a peer may send, else with 1002.
fn reply_to_close(reason: Option<CloseReason>) -> CloseReason {
    let Some(reason) = reason else {
        return CloseReason {
            code: CloseCode::Normal,
            description: None,
        };
    };
    let code = u16::from(reason.code);
    let sendable = matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999);
    if sendable {
        CloseReason {
            code: reason.code,
            description: None,
        }
    } else {
        close(CloseCode::Protocol, "invalid close code")
    }
}
