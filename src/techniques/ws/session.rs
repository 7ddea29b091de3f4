//! The session loop every WebSocket runs once the handshake is done: one
//! task per connection, one `select!` over everything that can happen to it.
//!
//! What the loop does itself, for `/ws` and `/ws/echo` alike (actix-ws
//! does none of it):
//! - answer pings with pongs, and the peer's close with a close;
//! - ping every 10 s and drop a peer silent for 30 s: a dead peer behind a
//!   NAT never closes its end;
//! - close with the code that says why when a frame cannot be accepted
//!   (`close.rs`), and with 1001 when the server shuts down;
//! - give up on a peer that stopped reading, after
//!   `--slow-consumer-timeout` (10 s), counted in `slow_consumers`. Two
//!   ways to notice it: actix-ws queues at most 32 frames of the session's
//!   own (pongs, replies); once the socket and that queue are full, queuing
//!   the next waits until the peer reads, and without a bound that wait
//!   would freeze the session (heartbeat included) for as long as the peer
//!   keeps the socket open. So every step of the loop is bounded by the
//!   timeout. And `/ws`'s messages do not pass through the loop at all
//!   (its connection pulls them, see `mod.rs`), so the heartbeat asks the
//!   endpoint whether they have stalled ([`Endpoint::stalled`]). Either way
//!   the session ends and frees what it held; every other client's
//!   messages go out meanwhile.
//!
//! What differs between the endpoints — what to do with a text or binary
//! message, and whether pushed messages stalled — is an [`Endpoint`]:
//! `/ws` publishes the client's messages (`mod.rs`), `/ws/echo` sends each
//! one back (`echo.rs`).

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, ProtocolError, Session};
use bytestring::ByteString;
use tokio::time::{Instant, MissedTickBehavior};

use super::close::{self, Ending};
use crate::plumbing::limits::outbox::Outbox;
use crate::plumbing::state::AppState;
use crate::technique::Technique;

/// What an endpoint does with its connection besides keeping it alive.
pub trait Endpoint {
    /// Asked at every heartbeat tick, at least once per
    /// `--slow-consumer-timeout`: have messages pushed to the client waited
    /// since the last tick without the connection taking them? Then the
    /// client stopped reading. An endpoint that pushes nothing never stalls.
    fn stalled(&mut self, _state: &AppState) -> bool {
        false
    }

    /// The client sent a text message.
    async fn on_text(&mut self, connection: &mut Connection, text: ByteString) -> Step;

    /// The client sent a binary message.
    async fn on_binary(&mut self, connection: &mut Connection, bytes: Bytes) -> Step;
}

/// One step of the loop: carry on, or end (see [`Ending`]).
pub type Step = Result<(), Ending>;

/// One open WebSocket.
pub struct Connection {
    pub session: Session,
    frames: AggregatedMessageStream,
    pub state: Arc<AppState>,
    /// When we last heard anything from the peer (a pong counts).
    last_heard: Instant,
    /// When we last pinged the peer.
    last_ping: Instant,
    /// `/ws/echo` only: the outgoing queue, bounded in bytes.
    outbox: Option<Rc<Outbox>>,
}

impl Connection {
    pub fn new(
        session: Session,
        frames: AggregatedMessageStream,
        state: Arc<AppState>,
        outbox: Option<Rc<Outbox>>,
    ) -> Self {
        Connection {
            session,
            frames,
            state,
            last_heard: Instant::now(),
            last_ping: Instant::now(),
            outbox,
        }
    }

    /// The session loop: one `select!` over the server shutting down, the
    /// client's frames and the heartbeat.
    pub async fn run(mut self, mut endpoint: impl Endpoint) {
        let tick = heartbeat_tick(&self.state);
        let mut heartbeat = tokio::time::interval_at(Instant::now() + tick, tick);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Every step is bounded by the slow-consumer timeout (see `bounded`).
        let state = Arc::clone(&self.state);
        // One wait for the shutdown for the whole session, not one per step.
        let mut shutdown = std::pin::pin!(self.state.shutdown.clone().cancelled_owned());
        // A client's frame is handled in a boxed future: publishing it is
        // the deepest thing the loop does, and inline its state would sit
        // in every idle connection's task (measured: 0.47 KB of 9.6 per
        // idle WebSocket). One allocation per frame a client sends (a pong
        // every 10 s, a publish) is the cheaper side.
        // docs:start ws-loop
        let ending: Ending = loop {
            let step = tokio::select! {
                biased;
                () = &mut shutdown => Err(Some(close::going_away())),
                frame = self.frames.recv() => bounded(&state, Box::pin(self.on_frame(frame, &mut endpoint))).await,
                _ = heartbeat.tick() => bounded(&state, self.heartbeat(&mut endpoint)).await,
            };
            if let Err(ending) = step {
                break ending;
            }
        };
        // docs:end ws-loop
        if let Some(reason) = ending {
            self.close(reason).await;
        }
    }

    /// Sends the close frame — or, on `/ws/echo` with no room behind what
    /// waits, drops what waits and sends it instead.
    async fn close(self, reason: actix_ws::CloseReason) {
        match &self.outbox {
            Some(outbox) if !outbox.admit(close::close_payload(&reason)) => {
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

    /// Handles one frame from the client: control frames here, messages by
    /// the endpoint.
    async fn on_frame(
        &mut self,
        frame: Option<Result<AggregatedMessage, ProtocolError>>,
        endpoint: &mut impl Endpoint,
    ) -> Step {
        self.last_heard = Instant::now();
        match frame {
            None => Err(None), // the peer closed the TCP connection
            Some(Err(error)) => Err(close::protocol_close(&error)),
            Some(Ok(AggregatedMessage::Close(reason))) => Err(Some(close::reply_to_close(reason))),
            Some(Ok(AggregatedMessage::Ping(payload))) => {
                self.make_room(payload.len())?;
                self.session.pong(&payload).await.map_err(|_| None)
            }
            Some(Ok(AggregatedMessage::Pong(_))) => Ok(()),
            Some(Ok(AggregatedMessage::Text(text))) => endpoint.on_text(self, text).await,
            Some(Ok(AggregatedMessage::Binary(bytes))) => endpoint.on_binary(self, bytes).await,
        }
    }

    /// Sends a text frame; a peer that is gone ends the session.
    pub async fn text(&mut self, text: impl Into<ByteString>) -> Step {
        self.session.text(text).await.map_err(|_| None)
    }

    /// On `/ws/echo`, makes room in the outbox for a frame of `payload`
    /// bytes, or gives up on a client that stopped reading while more than
    /// `--echo-max-queued` bytes waited for it: 1008, counted as a slow
    /// consumer. The outbox then sends the close frame itself, after the
    /// frame already on its way. Nothing to do on `/ws`.
    pub fn make_room(&self, payload: usize) -> Step {
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

    /// A ping is due at the first tick at least `--ws-ping-interval` after
    /// the last one. Ticks come a little late or early, so half a tick
    /// early counts: with both at 10 s, every tick pings.
    fn ping_due(&self) -> bool {
        let half_tick = heartbeat_tick(&self.state) / 2;
        self.last_ping.elapsed() + half_tick >= self.state.config.ws_ping_interval
    }

    /// Gives up on a peer that stopped reading or has been silent too
    /// long; pings it when a ping is due.
    async fn heartbeat(&mut self, endpoint: &mut impl Endpoint) -> Step {
        if endpoint.stalled(&self.state) {
            return Err(slow_consumer(&self.state));
        }
        let idle: Duration = self.last_heard.elapsed();
        if idle > self.state.config.ws_idle_timeout {
            return Err(Some(close::close(CloseCode::Policy, "no answer to pings")));
        }
        if !self.ping_due() {
            return Ok(());
        }
        self.last_ping = Instant::now();
        self.make_room(0)?;
        self.session.ping(b"").await.map_err(|_| None)
    }
}

/// One timer for pings and for noticing a stalled client: it ticks at the
/// shorter of `--ws-ping-interval` and `--slow-consumer-timeout`.
fn heartbeat_tick(state: &AppState) -> Duration {
    let config = &state.config;
    config.ws_ping_interval.min(config.slow_consumer_timeout)
}

// docs:start ws-slow
/// Runs one step of the session loop, giving up on the peer when the step
/// cannot hand its frames to actix-ws within `--slow-consumer-timeout`:
/// the session queue is full because the peer stopped reading. The session
/// then ends without a close frame (there is no room to queue one); its
/// queue and subscription are freed, and the socket closes once the peer
/// reads what is already on its way or goes away.
async fn bounded(state: &AppState, step: impl Future<Output = Step>) -> Step {
    match tokio::time::timeout(state.config.slow_consumer_timeout, step).await {
        Ok(result) => result,
        Err(_elapsed) => Err(slow_consumer(state)),
    }
}
// docs:end ws-slow

/// Counts a client that stopped reading, and ends its session without a
/// close frame: there may be no room to queue one.
fn slow_consumer(state: &AppState) -> Ending {
    state.stats.technique(Technique::ws).slow_consumers.inc();
    None
}
