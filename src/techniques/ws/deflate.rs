//! permessage-deflate (RFC 7692): the handshake header that asks for
//! compression, and the server's answer.
//!
//! Every browser opens every WebSocket with
//! `Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits`:
//! "I can compress each message with DEFLATE, and you may tell me how big a
//! window to use". The server answers with the one offer it accepts, and the
//! parameters it settles on, or leaves the header out: no compression. The
//! parameters, each at most once per offer:
//!
//! | parameter | in the offer | in the answer |
//! |---|---|---|
//! | `server_no_context_takeover` | "compress each message alone" | "I will" |
//! | `client_no_context_takeover` | "I can compress each message alone" | "do" |
//! | `server_max_window_bits=N` | "use a window of at most 2^N" | "I will (N or less)" |
//! | `client_max_window_bits[=N]` | "you may limit my window" | "limit it to 2^N" |
//!
//! Context takeover is what makes compression pay for small messages: the
//! second `{"type":"message",…}` frame refers back to the first and shrinks
//! to a few bytes. It costs a compressor per connection, kept between
//! messages. Without it, each message is compressed alone — less saving,
//! but nothing kept at rest, and one broadcast message compressed once for
//! every connection (see actix-http's `ws/deflate.rs` in `vendor/`). The
//! policy is `--ws-deflate`:
//! - `off`: decline every offer;
//! - `on`: accept the first acceptable offer, with context takeover unless
//!   the offer asks otherwise;
//! - `no-context-takeover` (the default): accept it, and answer with both
//!   `server_no_context_takeover` and `client_no_context_takeover` — so
//!   the page's wire view can inflate any one frame it shows, and a
//!   broadcast is compressed once.
//!
//! An offer this server cannot honour (a window of 2^8, which zlib cannot
//! write) or that breaks the grammar (an unknown or repeated parameter, a
//! bad value) is passed over for the next one; with none left the answer
//! has no extension and the WebSocket opens uncompressed. A malformed offer
//! is never an error: the client may still talk without compression.
//!
//! The frames themselves — RSV1, the stripped `00 00 ff ff`, the inflate
//! limit that stops a zip bomb — are the codec's: see `vendor/README.md`.

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_ws::DeflateConfig;

/// The extension's name in the header.
const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// zlib's compression level for WebSocket messages. Level 1 ("quick" in
/// zlib-rs) writes only fixed Huffman codes: a 119-byte message compressed
/// alone came out at 121 bytes. Level 2 finds what the default (6) finds
/// (105 bytes), for less CPU on the echo's large messages.
const LEVEL: u32 = 2;

/// `--ws-deflate`: what the server does with a client's offer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeflatePolicy {
    /// Decline: messages go uncompressed.
    Off,
    /// Accept, with context takeover unless the client asks otherwise.
    On,
    /// Accept, every message compressed alone, both ways.
    #[default]
    NoContextTakeover,
}

/// What the handshake settled on: the codec's parameters and the answer's
/// header.
#[derive(Debug, PartialEq)]
pub struct Negotiated {
    pub config: DeflateConfig,
    pub answer: HeaderValue,
}

/// One permessage-deflate offer, as the client wrote it.
#[derive(Debug, Default, PartialEq)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: offered without a value.
    client_max_window_bits: Option<Option<u8>>,
}

// docs:start ws-deflate
/// The answer to the request's offers under `policy`, or `None`: no
/// compression (declined, nothing offered, or nothing acceptable).
pub fn negotiate(headers: &HeaderMap, policy: DeflatePolicy) -> Option<Negotiated> {
    if policy == DeflatePolicy::Off {
        return None;
    }
    headers
        .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| split_outside_quotes(value, ','))
        .filter_map(parse_offer)
        .find_map(|offer| accept(&offer, policy))
}

/// The answer to one acceptable offer. A window of 2^8 is not: zlib's
/// smallest is 2^9, and answering more than was asked is not allowed.
fn accept(offer: &Offer, policy: DeflatePolicy) -> Option<Negotiated> {
    if offer.server_max_window_bits == Some(8) {
        return None;
    }
    let alone = policy == DeflatePolicy::NoContextTakeover;
    let server_alone = alone || offer.server_no_context_takeover;
    let client_alone = alone || offer.client_no_context_takeover;
    let mut answer = String::from(PERMESSAGE_DEFLATE);
    if server_alone {
        answer.push_str("; server_no_context_takeover");
    }
    if client_alone {
        answer.push_str("; client_no_context_takeover");
    }
    if let Some(bits) = offer.server_max_window_bits {
        answer.push_str(&format!("; server_max_window_bits={bits}"));
    }
    let config = DeflateConfig {
        server_no_context_takeover: server_alone,
        client_no_context_takeover: client_alone,
        server_max_window_bits: offer.server_max_window_bits.unwrap_or(15),
        client_max_window_bits: offer.client_max_window_bits.flatten().unwrap_or(15),
        level: LEVEL,
    };
    let answer = HeaderValue::from_str(&answer).ok()?;
    Some(Negotiated { config, answer })
}
// docs:end ws-deflate

/// One comma-separated element: an offer if it is permessage-deflate and
/// well formed, else `None`.
fn parse_offer(element: &str) -> Option<Offer> {
    let mut parts = split_outside_quotes(element, ';').into_iter();
    let name = parts.next()?;
    if !name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
        return None;
    }
    let mut offer = Offer::default();
    for part in parts {
        let (key, value) = match part.split_once('=') {
            Some((key, value)) => (key.trim(), Some(unquote(value.trim())?)),
            None => (part, None),
        };
        match (key.to_ascii_lowercase().as_str(), value) {
            ("server_no_context_takeover", None) if !offer.server_no_context_takeover => {
                offer.server_no_context_takeover = true;
            }
            ("client_no_context_takeover", None) if !offer.client_no_context_takeover => {
                offer.client_no_context_takeover = true;
            }
            ("server_max_window_bits", Some(value)) if offer.server_max_window_bits.is_none() => {
                offer.server_max_window_bits = Some(window_bits(value)?);
            }
            ("client_max_window_bits", value) if offer.client_max_window_bits.is_none() => {
                let bits = match value {
                    Some(value) => Some(window_bits(value)?),
                    None => None,
                };
                offer.client_max_window_bits = Some(bits);
            }
            _ => return None, // unknown, repeated, or a value where none belongs
        }
    }
    Some(offer)
}

/// A window size: 8 to 15, digits only, no leading zero (RFC 7692 §7.1.2).
fn window_bits(value: &str) -> Option<u8> {
    if value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok().filter(|bits| (8..=15).contains(bits))
}

/// A value as a token or a quoted string (RFC 7692 §7.1 allows both).
fn unquote(value: &str) -> Option<&str> {
    match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"'),
        None => Some(value),
    }
}

/// Splits on `separator` where it is not inside a quoted string, trimming
/// each piece and skipping empty ones (`a, , b` is two elements).
fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut pieces = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (at, c) in text.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            pieces.push(text[start..at].trim());
            start = at + 1;
        }
    }
    pieces.push(text[start..].trim());
    pieces.retain(|piece| !piece.is_empty());
    pieces
}

#[cfg(test)]
mod tests {
    use actix_http::ws::{Codec, Frame, Message};
    use actix_web::http::header::HeaderName;
    use bytes::{Bytes, BytesMut};
    use tokio_util::codec::{Decoder, Encoder};

    use super::*;

    fn answer(offers: &[&str], policy: DeflatePolicy) -> Option<String> {
        let mut headers = HeaderMap::new();
        for offer in offers {
            headers.append(
                HeaderName::from_static("sec-websocket-extensions"),
                HeaderValue::from_str(offer).unwrap(),
            );
        }
        negotiate(&headers, policy).map(|n| n.answer.to_str().unwrap().to_owned())
    }

    const ON: DeflatePolicy = DeflatePolicy::On;
    const ALONE: DeflatePolicy = DeflatePolicy::NoContextTakeover;

    #[test]
    fn a_browsers_offer_is_accepted_by_each_policy() {
        let chromium = "permessage-deflate; client_max_window_bits";
        assert_eq!(
            answer(&[chromium], ON).as_deref(),
            Some("permessage-deflate")
        );
        assert_eq!(
            answer(&[chromium], ALONE).as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        );
        assert_eq!(answer(&[chromium], DeflatePolicy::Off), None);
        assert_eq!(answer(&[], ON), None);
    }

    #[test]
    fn the_answer_honours_what_the_offer_asks() {
        assert_eq!(
            answer(
                &["permessage-deflate; server_no_context_takeover; server_max_window_bits=10"],
                ON
            )
            .as_deref(),
            Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=10")
        );
        assert_eq!(
            answer(&["permessage-deflate; client_no_context_takeover"], ON).as_deref(),
            Some("permessage-deflate; client_no_context_takeover")
        );
        assert_eq!(
            answer(&["PerMessage-Deflate; server_max_window_bits=\"12\""], ON).as_deref(),
            Some("permessage-deflate; server_max_window_bits=12")
        );
    }

    #[test]
    fn the_first_acceptable_of_several_offers_wins() {
        let offers = "permessage-deflate; server_max_window_bits=8, x-webkit-deflate-frame, \
                      permessage-deflate; server_no_context_takeover, permessage-deflate";
        assert_eq!(
            answer(&[offers], ON).as_deref(),
            Some("permessage-deflate; server_no_context_takeover")
        );
        // The same offers in two header lines.
        assert_eq!(
            answer(&["foo", "permessage-deflate; client_max_window_bits=9"], ON).as_deref(),
            Some("permessage-deflate")
        );
    }

    #[test]
    fn malformed_offers_are_declined_not_refused() {
        for bad in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_max_window_bits=1x",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; mystery",
            "permessage-deflate; server_max_window_bits=\"10",
            "permessage-deflate; server_max_window_bits=8",
        ] {
            assert_eq!(answer(&[bad], ON), None, "{bad}");
        }
    }

    /// What a server codec with the negotiated parameters writes, a client
    /// codec with the same parameters reads back: RSV1, the stripped tail
    /// and the context are the codec's, and agree.
    #[test]
    fn both_directions_compress_and_inflate() {
        for policy in [ON, ALONE] {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::SEC_WEBSOCKET_EXTENSIONS,
                HeaderValue::from_static("permessage-deflate; client_max_window_bits"),
            );
            let config = negotiate(&headers, policy).unwrap().config;
            let mut server = Codec::new().deflate(config);
            let mut client = Codec::new().client_mode().deflate(config);
            for text in [
                "{\"type\":\"message\",\"id\":1}",
                "{\"type\":\"message\",\"id\":2}",
                "",
            ] {
                let mut wire = BytesMut::new();
                server
                    .encode(Message::Text(text.into()), &mut wire)
                    .unwrap();
                assert_eq!(wire[0] & 0x40, 0x40, "RSV1 marks a compressed message");
                assert_eq!(
                    client.decode(&mut wire).unwrap(),
                    Some(Frame::Text(text.into()))
                );

                let mut wire = BytesMut::new();
                client
                    .encode(Message::Text(text.into()), &mut wire)
                    .unwrap();
                assert_eq!(
                    server.decode(&mut wire).unwrap(),
                    Some(Frame::Text(text.into()))
                );
            }
            let mut wire = BytesMut::new();
            server
                .encode(Message::Ping(Bytes::from_static(b"p")), &mut wire)
                .unwrap();
            assert_eq!(wire[0] & 0x40, 0, "control frames are never compressed");
        }
    }

    /// 10 MiB of zeros compressed by a client (by hand: the codec stores a
    /// message that large rather than compress it), sent as one masked
    /// frame with RSV1: refused as soon as it inflates past the limit.
    #[test]
    fn a_zip_bomb_is_refused_at_the_limit() {
        let zeros = vec![0u8; 10 * 1024 * 1024];
        let mut deflate = flate2::Compress::new(flate2::Compression::default(), false);
        let mut bomb = Vec::with_capacity(64 * 1024);
        deflate
            .compress_vec(&zeros, &mut bomb, flate2::FlushCompress::Sync)
            .unwrap();
        assert_eq!(
            deflate.total_in(),
            zeros.len() as u64,
            "one call took it all"
        );
        bomb.truncate(bomb.len() - 4); // the sync flush's 00 00 ff ff
        let len = u16::try_from(bomb.len()).expect("under 64 KiB on the wire");
        // FIN, RSV1, binary; masked with a zero key, so the payload is as is.
        let mut wire = BytesMut::from(&[0xc2, 0x80 | 126][..]);
        wire.extend_from_slice(&len.to_be_bytes());
        wire.extend_from_slice(&[0, 0, 0, 0]);
        wire.extend_from_slice(&bomb);
        let mut server = Codec::new()
            .max_size(1 << 20)
            .deflate(DeflateConfig::default());
        let refused = server.decode(&mut wire);
        assert!(
            matches!(refused, Err(actix_ws::ProtocolError::Overflow)),
            "{refused:?}"
        );
    }
}
