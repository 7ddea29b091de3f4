//! The WebSocket handshake's one calculation, shown step by step.
//!
//! A browser that wants a WebSocket sends an ordinary GET with
//! `Upgrade: websocket` and `Sec-WebSocket-Key`: 16 random bytes in base64.
//! The server proves it understood the request as a WebSocket handshake (and
//! is not some HTTP server or cache replaying an old answer) by answering
//! `Sec-WebSocket-Accept`: the SHA-1 of the key followed by the fixed GUID
//! `258EAFA5-E914-47DA-95CA-C5AB0DC85B11`, in base64. RFC 6455's own example:
//! key `dGhlIHNhbXBsZSBub25jZQ==` → accept `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`.
//!
//! actix-ws does this for `/ws`; `GET /api/ws-accept?key=...` does it again
//! in the open so students can check a handshake they captured by hand.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::plumbing::error::ApiError;

/// The GUID every WebSocket server appends to the key (RFC 6455, 1.3).
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// How many random bytes a valid `Sec-WebSocket-Key` carries.
const KEY_BYTES: usize = 16;

// docs:start accept-key
/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
pub fn accept_key(key: &str) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(WEBSOCKET_GUID.as_bytes());
    BASE64.encode(sha1.finalize())
}
// docs:end accept-key

#[derive(Deserialize)]
pub struct KeyQuery {
    key: Option<String>,
}

/// The calculation with its intermediate steps, for the docs and the curious.
#[derive(Serialize)]
struct Accept {
    key: String,
    guid: &'static str,
    /// What is hashed: the key followed by the GUID.
    concatenated: String,
    /// The 20 bytes of SHA-1, in hex.
    sha1_hex: String,
    /// The header value the server sends back.
    accept: String,
}

/// `GET /api/ws-accept?key=KEY`
pub async fn handle(query: web::Query<KeyQuery>) -> Result<HttpResponse, ApiError> {
    let key = query.key.as_deref().map(str::trim).unwrap_or("");
    check_key(key)?;
    let concatenated = format!("{key}{WEBSOCKET_GUID}");
    let digest = Sha1::digest(concatenated.as_bytes());
    let sha1_hex = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(Accept {
            key: key.to_owned(),
            guid: WEBSOCKET_GUID,
            accept: accept_key(key),
            concatenated,
            sha1_hex,
        }))
}

/// A key is base64 of exactly 16 bytes, as browsers send it. `/ws` and
/// `/ws/echo` refuse a handshake whose key is not (RFC 6455 §4.2.1).
pub fn is_valid_key(key: &str) -> bool {
    BASE64
        .decode(key)
        .is_ok_and(|bytes| bytes.len() == KEY_BYTES)
}

/// [`is_valid_key`], saying what is wrong with a key that is not.
fn check_key(key: &str) -> Result<(), ApiError> {
    if is_valid_key(key) {
        return Ok(());
    }
    if key.is_empty() {
        return Err(ApiError::bad_request(
            "bad_key",
            "give a Sec-WebSocket-Key as ?key=..., e.g. ?key=dGhlIHNhbXBsZSBub25jZQ%3D%3D",
        ));
    }
    match BASE64.decode(key) {
        Ok(bytes) => Err(ApiError::bad_request(
            "bad_key",
            format!(
                "a Sec-WebSocket-Key is {KEY_BYTES} random bytes in base64; {key:?} decodes to {} bytes",
                bytes.len()
            ),
        )),
        Err(e) => Err(ApiError::bad_request(
            "bad_key",
            format!(
                "{key:?} is not base64 (remember to write + as %2B and = as %3D in a URL): {e}"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_6455_example_key_gives_the_rfc_answer() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn keys_must_be_16_bytes_of_base64() {
        assert!(check_key("dGhlIHNhbXBsZSBub25jZQ==").is_ok());
        for bad in ["", "not base64!", "aGVsbG8=", "dGhlIHNhbXBsZSBub25jZQ"] {
            assert!(check_key(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
