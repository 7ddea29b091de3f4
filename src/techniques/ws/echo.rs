//! `GET /ws/echo`: the same handshake and session loop as `/ws`, but each
//! message the client sends comes straight back — the "server answers the
//! client" demo (`/demo/echo`) and the target of the WebSocket conformance
//! suite (`tests/conformance.rs`, Autobahn's cases).
//!
//! Its messages may be 1 MiB (`--echo-max-message`), so actix-ws's 32
//! queued frames are no bound on what a client that stops reading can hold:
//! its frames leave through an [`Outbox`] bounded in bytes
//! (`--echo-max-queued`), and a client that stops reading while more than
//! that waits for it is closed with 1008 (policy violation: the server's
//! policy is to hold no more than that for anyone; 1013 would say the
//! *server* is overloaded, which it is not) and counted in
//! `echo.slow_consumers`. Its connections have their own limit,
//! `--max-echo`, and its traffic is counted under `echo`, apart from the
//! techniques.

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use bytestring::ByteString;

use super::handshake::{check_handshake, refuse, upgrade};
use super::session::{Connection, Endpoint, Step};
use crate::plumbing::error::ApiError;
use crate::plumbing::limits::outbox::Outbox;
use crate::plumbing::origin;
use crate::plumbing::state::AppState;

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
    let (response, session, frames, _extensions) = upgrade(&req, body, &state.config, None)?;
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
    let connection = Connection::new(session, frames, state.into_inner(), outbox);
    actix_web::rt::spawn(connection.run(Echo));
    Ok(response)
}

/// Sends every message back as it came, text as text, binary as binary.
struct Echo;

impl Endpoint for Echo {
    async fn on_text(&mut self, connection: &mut Connection, text: ByteString) -> Step {
        connection.make_room(text.len())?;
        connection.state.stats.echo.messages.inc();
        connection.text(text).await
    }

    async fn on_binary(&mut self, connection: &mut Connection, bytes: Bytes) -> Step {
        connection.make_room(bytes.len())?;
        connection.state.stats.echo.messages.inc();
        connection.session.binary(bytes).await.map_err(|_| None)
    }
}
