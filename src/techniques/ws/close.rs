//! How a WebSocket session ends: the close code it sends, and why.
//!
//! A WebSocket ends with a closing handshake: a close frame carrying a
//! 2-byte code and an optional reason, answered with a close frame. The code
//! tells the other side what went wrong (RFC 6455 §7.4.1), so a client can
//! tell "you sent me garbage" from "I am restarting". pushlab's policy, in
//! one table:
//!
//! | what happened                                    | code | name            |
//! |--------------------------------------------------|------|-----------------|
//! | the server is shutting down                      | 1001 | going away      |
//! | a frame breaks the protocol (unmasked, bad opcode, reserved bits) | 1002 | protocol error |
//! | a binary frame where JSON text is expected (`/ws`) | 1003 | unsupported data |
//! | text that is not UTF-8, compressed data that does not inflate | 1007 | invalid payload |
//! | silent for too long, or too slow to read (echo)  | 1008 | policy violation |
//! | a frame or a message over the size limit         | 1009 | message too big |
//!
//! The peer's own close is answered with its code, when that is a code a
//! peer may send; otherwise with 1002.

use actix_ws::{CloseCode, CloseReason, ProtocolError};

/// Why the session loop ended: with a close frame to send, or with the peer
/// gone (nobody to tell).
pub type Ending = Option<CloseReason>;

/// A close frame with `code` and a reason in words.
pub fn close(code: CloseCode, description: &str) -> CloseReason {
    CloseReason {
        code,
        description: Some(description.to_owned()),
    }
}

/// 1001: the server is shutting down; reconnect later with your cursor.
pub fn going_away() -> CloseReason {
    close(CloseCode::Away, "server shutting down")
}

// docs:start close-codes
/// The RFC 6455 close code for a frame we could not accept, or `None` when
/// the connection itself failed and there is nobody to tell.
pub fn protocol_close(error: &ProtocolError) -> Ending {
    let reason = match error {
        ProtocolError::Overflow => close(CloseCode::Size, "frame too large"),
        ProtocolError::Io(io) => match io_refusal(io)? {
            IoRefusal::ReservedBits => close(
                CloseCode::Protocol,
                "reserved bits set without an extension",
            ),
            IoRefusal::MessageTooLarge => close(CloseCode::Size, "message too large"),
            IoRefusal::InvalidUtf8 => close(CloseCode::Invalid, "text is not valid UTF-8"),
            IoRefusal::BadCompression => {
                close(CloseCode::Invalid, "compressed data does not inflate")
            }
        },
        other => close(CloseCode::Protocol, &other.to_string()),
    };
    Some(reason)
}
// docs:end close-codes

/// The refusals actix reports as plain I/O errors.
#[derive(Debug, PartialEq)]
enum IoRefusal {
    ReservedBits,
    MessageTooLarge,
    InvalidUtf8,
    BadCompression,
}

/// Tells apart the four refusals actix-http 3.20 and actix-ws 0.4 report
/// as `ProtocolError::Io`, which only their text distinguishes: a frame with
/// reserved bits set (actix-http's `ws/frame.rs`), a fragmented message over
/// the continuation limit (actix-ws's `aggregated.rs`), compressed data that
/// does not inflate (the vendored `ws/deflate.rs`), and text that is not
/// UTF-8 (actix-ws, `InvalidData`). Any other I/O error is the
/// connection failing: `None`. When actix gives these kinds of their own,
/// match on them instead.
fn io_refusal(io: &std::io::Error) -> Option<IoRefusal> {
    let text = io.to_string();
    if text.contains("reserved bits") {
        Some(IoRefusal::ReservedBits)
    } else if text.contains("maximum continuation size") {
        Some(IoRefusal::MessageTooLarge)
    } else if text.contains("compressed data") {
        Some(IoRefusal::BadCompression)
    } else if io.kind() == std::io::ErrorKind::InvalidData {
        Some(IoRefusal::InvalidUtf8)
    } else {
        None
    }
}

/// The peer started the closing handshake: answer with its code if that is
/// a code a peer may send, else with 1002.
pub fn reply_to_close(reason: Option<CloseReason>) -> CloseReason {
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

/// The payload of the close frame for `reason`: the code, and the reason's
/// text as actix-ws sends it (at most 123 bytes).
pub fn close_payload(reason: &CloseReason) -> usize {
    2 + reason.description.as_ref().map_or(0, |d| d.len().min(123))
}

#[cfg(test)]
mod tests {
    use std::io::{Error, ErrorKind};

    use super::*;

    /// The texts are actix's own: a newer actix that words them otherwise
    /// fails here, not in a browser.
    #[test]
    fn actix_io_errors_are_told_apart_by_their_text() {
        let io = |kind, text: &str| Error::new(kind, text.to_owned());
        let reserved = io(
            ErrorKind::InvalidData,
            "Received a frame with non-zero reserved bits",
        );
        let continuation = io(ErrorKind::Other, "Exceeded maximum continuation size");
        let utf8 = io(ErrorKind::InvalidData, "invalid utf-8 sequence");
        let inflate = io(
            ErrorKind::InvalidData,
            "invalid compressed data: corrupt deflate stream",
        );
        let reset = io(ErrorKind::ConnectionReset, "connection reset");
        assert_eq!(io_refusal(&reserved), Some(IoRefusal::ReservedBits));
        assert_eq!(io_refusal(&continuation), Some(IoRefusal::MessageTooLarge));
        assert_eq!(io_refusal(&utf8), Some(IoRefusal::InvalidUtf8));
        assert_eq!(io_refusal(&inflate), Some(IoRefusal::BadCompression));
        assert_eq!(io_refusal(&reset), None);
    }

    #[test]
    fn each_refusal_has_its_code() {
        let code = |error: ProtocolError| protocol_close(&error).map(|r| u16::from(r.code));
        assert_eq!(code(ProtocolError::Overflow), Some(1009));
        assert_eq!(code(ProtocolError::UnmaskedFrame), Some(1002));
        let utf8 = Error::new(ErrorKind::InvalidData, "bad utf-8");
        assert_eq!(code(ProtocolError::Io(utf8)), Some(1007));
    }

    #[test]
    fn a_peer_close_is_answered_with_its_code_when_it_may_send_it() {
        let reply = |code: u16| u16::from(reply_to_close(Some(close(code.into(), ""))).code);
        assert_eq!(reply(1000), 1000);
        assert_eq!(reply(4000), 4000);
        assert_eq!(reply(1005), 1002); // reserved: never on the wire
        assert_eq!(u16::from(reply_to_close(None).code), 1000);
    }
}
