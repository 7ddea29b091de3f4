//! The opening handshake: the one HTTP request of a WebSocket.
//!
//! The browser sends `GET /ws` with `Upgrade: websocket`,
//! `Connection: Upgrade`, `Sec-WebSocket-Version: 13` and a random
//! `Sec-WebSocket-Key`; the server answers `101 Switching Protocols` with
//! `Sec-WebSocket-Accept` (the key, hashed: see `ws_accept.rs`), and from
//! then on the connection carries frames, not HTTP. actix-ws answers the 101;
//! this file refuses, in words, what it must not answer: a plain GET, an
//! HTTP/1.0 request, a missing header or a malformed key get a JSON 400,
//! and a version other than 13 a `426 Upgrade Required` naming the version
//! this server speaks (RFC 6455 §4.4), so the client can retry.
//!
//! Two more headers may ask for something, and [`upgrade`] answers both:
//! - `Sec-WebSocket-Protocol`: the subprotocols the client speaks, in its
//!   order of preference. The server answers with the one it picked, or
//!   with no such header when it speaks none of them (RFC 6455 §4.2.2); a
//!   browser fails a connection whose answer names a protocol it never
//!   offered.
//! - `Sec-WebSocket-Extensions`: compression (`deflate.rs`).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{StatusCode, Version};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use actix_ws::{MessageStream, Session};

use super::deflate;
use crate::plumbing::config::Config;
use crate::plumbing::error::ApiError;
use crate::ws_accept;

/// The one version of the protocol there is: RFC 6455's. Earlier drafts
/// (8, or Hixie-76 with none) were never compatible with it.
const WEBSOCKET_VERSION: &str = "13";

// docs:start ws-handshake
/// The server's side of RFC 6455 §4.2.1: what a handshake must carry
/// before the server may answer 101. Each refusal says what was missing.
pub fn check_handshake(req: &HttpRequest) -> Result<(), ApiError> {
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
pub fn refuse(refusal: &ApiError) -> HttpResponse {
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

/// What the handshake's `Sec-WebSocket-Extensions` offered, and what the
/// server answered: a browser's script sees only the answer
/// (`WebSocket.extensions`), so `/ws` tells it both.
#[derive(Debug, Default)]
pub struct Extensions {
    pub offered: Option<String>,
    pub accepted: Option<String>,
}

/// The answer to a checked handshake: `101 Switching Protocols`, with the
/// subprotocol picked from `subprotocol` if the client offered it and the
/// compression `--ws-deflate` allows; then the session to send with and
/// the client's frames, both compressing as negotiated.
pub fn upgrade(
    req: &HttpRequest,
    body: web::Payload,
    config: &Config,
    subprotocol: Option<&str>,
) -> Result<(HttpResponse, Session, MessageStream, Extensions), ApiError> {
    let negotiated = deflate::negotiate(req.headers(), config.ws_deflate);
    let deflate = negotiated.as_ref().map(|n| n.config);
    let protocols: Vec<&str> = subprotocol.into_iter().collect();
    let (mut response, session, frames) =
        actix_ws::handle_with_deflate(req, body, &protocols, deflate).map_err(handshake_error)?;
    let extensions = Extensions {
        offered: offered_extensions(req),
        accepted: negotiated
            .as_ref()
            .and_then(|n| n.answer.to_str().ok())
            .map(str::to_owned),
    };
    if let Some(negotiated) = negotiated {
        let headers = response.headers_mut();
        headers.insert(header::SEC_WEBSOCKET_EXTENSIONS, negotiated.answer);
    }
    Ok((response, session, frames, extensions))
}

/// The request's `Sec-WebSocket-Extensions` lines, joined as one list.
fn offered_extensions(req: &HttpRequest) -> Option<String> {
    let lines: Vec<&str> = req
        .headers()
        .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
        .filter_map(|value| value.to_str().ok())
        .collect();
    (!lines.is_empty()).then(|| lines.join(", "))
}

/// What actix-ws still refuses after [`check_handshake`] let a request
/// through (nothing, today; kept so a refusal is never an HTML page).
fn handshake_error(err: actix_web::Error) -> ApiError {
    ApiError::bad_request(
        "bad_handshake",
        format!("not a valid WebSocket handshake: {err}"),
    )
}
