//! What an HTTP/2 request or response head costs on the wire — estimated.
//!
//! HTTP/1.1 spells every head out in text, and `traffic.rs` counts it to
//! the byte. HTTP/2 sends a head as a HEADERS frame (9 bytes of frame
//! header) whose fields are compressed with HPACK (RFC 7541): a field that
//! is in the protocol's static table (`:method: GET`, `:status: 200`) costs
//! one byte, a name from that table is one byte plus its value, and every
//! field the connection has sent before and kept in its *dynamic* table is
//! one byte too. The dynamic table belongs to the connection, its
//! contents to the two ends' encoders (how much each indexes is up to it),
//! and the compressed bytes never reach the application: actix-http hands
//! pushlab the decoded fields. So over HTTP/2 a head's size can only be
//! estimated here, and the figures that contain it say so (`estimated` in
//! `/api/stats`).
//!
//! The estimate: each field as HPACK encodes it on a fresh connection with
//! the static table only and no Huffman coding. That is an upper bound for
//! a first request and well above what later requests on the same
//! connection cost, once their repeated headers are one-byte references.
//! The exact figure, per connection, is what a client counts on its socket:
//! `pushlab load --http2` does.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

/// Every HEADERS and DATA frame opens with a 9-byte frame header.
pub const FRAME_HEADER: usize = 9;

/// The static table's fields that are a whole name and value (RFC 7541,
/// appendix A): one byte each.
const STATIC_PAIRS: [(&str, &str); 14] = [
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-encoding", "gzip, deflate"),
];

/// The static table's names (appendix A), each a one-byte reference.
const STATIC_NAMES: [&str; 52] = [
    ":authority",
    ":method",
    ":path",
    ":scheme",
    ":status",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "accept",
    "access-control-allow-origin",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-range",
    "content-type",
    "cookie",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "link",
    "location",
    "max-forwards",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "refresh",
    "retry-after",
    "server",
    "set-cookie",
    "strict-transport-security",
    "transfer-encoding",
    "user-agent",
    "vary",
    "via",
    "www-authenticate",
];

/// One field, as HPACK encodes it with the static table alone and no
/// Huffman coding: a one-byte reference, or a literal (RFC 7541, 6.1–6.2).
pub fn field_len(name: &str, value: &[u8]) -> usize {
    let value_is = |v: &str| v.as_bytes() == value;
    if STATIC_PAIRS.iter().any(|(n, v)| *n == name && value_is(v)) {
        return 1;
    }
    let value_len = string_len(value.len());
    if STATIC_NAMES.contains(&name) {
        // The name's index: one byte for the common names, two for the rest.
        1 + value_len
    } else {
        1 + string_len(name.len()) + value_len
    }
}

/// The header fields of `headers`, skipping those `skip` names.
pub fn headers_len(headers: &HeaderMap, skip: impl Fn(&HeaderName) -> bool) -> usize {
    headers
        .iter()
        .filter(|(name, _)| !skip(name))
        .map(|(name, value): (&HeaderName, &HeaderValue)| {
            field_len(name.as_str(), value.as_bytes())
        })
        .sum()
}

/// A string literal: its length as a 7-bit-prefix integer, then its bytes.
fn string_len(len: usize) -> usize {
    integer_len(7, len) + len
}

/// How many bytes an HPACK integer takes with an `n`-bit prefix
/// (RFC 7541, 5.1).
fn integer_len(prefix_bits: u32, value: usize) -> usize {
    let max = (1usize << prefix_bits) - 1;
    if value < max {
        return 1;
    }
    let mut rest = value - max;
    let mut bytes = 2;
    while rest >= 128 {
        rest >>= 7;
        bytes += 1;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_fields_cost_one_byte_and_literals_their_length() {
        assert_eq!(field_len(":method", b"GET"), 1);
        assert_eq!(field_len(":status", b"200"), 1);
        // A static name, a 16-byte value: reference, length, value.
        assert_eq!(field_len("content-type", b"application/json"), 1 + 1 + 16);
        // A new name: flag byte, length and name, length and value.
        assert_eq!(field_len("x-pushlab", b"1"), 1 + 1 + 9 + 1 + 1);
    }

    #[test]
    fn long_strings_take_longer_lengths() {
        assert_eq!(integer_len(7, 126), 1);
        assert_eq!(integer_len(7, 127), 2);
        assert_eq!(integer_len(7, 127 + 128), 3);
        assert_eq!(string_len(300), 3 + 300);
    }
}
