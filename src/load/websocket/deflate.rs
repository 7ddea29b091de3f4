//! permessage-deflate (RFC 7692) for the load tool's WebSocket client: the
//! offer a browser makes, the server's answer read, and compressed messages
//! inflated.
//!
//! The client offers what Chromium offers,
//! `permessage-deflate; client_max_window_bits`, so `pushlab load
//! --deflate` measures the bytes a browser's connection would carry. The
//! server may decline (no `Sec-WebSocket-Extensions` in its `101`): then
//! nothing is compressed. If it accepts, each message it chooses to
//! compress arrives as raw DEFLATE data that ended with a sync flush, the
//! flush's last four bytes removed; the client puts them back and inflates.
//! The `client_*` parameters concern what the client sends, and this client
//! sends only control frames, which are never compressed.

use flate2::{Decompress, FlushDecompress, Status};

use super::Error;

/// What the client offers, in Chromium's words: permessage-deflate, and
/// that the server may limit the window the client compresses with.
pub const OFFER: &str = "permessage-deflate; client_max_window_bits";

/// The end of the empty stored block that a sync flush ends with: the
/// sender removes it from each message (RFC 7692 §7.2.1), the receiver puts
/// it back before inflating (§7.2.2).
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// How much room the message buffer gets for each step of inflating:
/// pushlab's messages are a few hundred bytes.
const INFLATE_CHUNK: usize = 4 * 1024;

/// No message inflates to more than this: far above anything pushlab sends,
/// low enough that a broken stream cannot take the tool's memory.
const MAX_INFLATED: usize = 16 * 1024 * 1024;

/// permessage-deflate as the server accepted it, and the connection's
/// inflater.
pub struct Deflate {
    /// The server's `Sec-WebSocket-Extensions`, as it sent it, for the
    /// report.
    answer: String,
    /// Created at the first compressed message: an inflater's state takes
    /// kilobytes, and a connection the server never compresses for need not
    /// pay for it. A 15-bit window decodes whatever smaller
    /// `server_max_window_bits` the server chose.
    inflater: Option<Decompress>,
    /// Payload bytes of the compressed messages once inflated, since the
    /// last [`Deflate::take_inflated`].
    inflated: u64,
    /// The message being inflated ended its DEFLATE stream with a final
    /// block: the rest of it is ignored, and the next starts a new stream
    /// (RFC 7692 §7.2.3.4).
    ended: bool,
}

/// The server's answer to our offer, from the `101`'s headers: `None` when
/// it declined (no `Sec-WebSocket-Extensions`), which is not an error.
/// Anything but one permessage-deflate with parameters a server may send is
/// refused, as RFC 7692 §7.1 asks, as is any extension when we offered none.
pub fn accepted(headers: &[httparse::Header<'_>], offered: bool) -> Result<Option<Deflate>, Error> {
    let mut values = Vec::new();
    for header in headers {
        if header.name.eq_ignore_ascii_case("sec-websocket-extensions") {
            values.push(std::str::from_utf8(header.value)?.trim());
        }
    }
    // Several header lines are one comma-separated list (RFC 6455 §9.1).
    let joined = values.join(", ");
    let mut extensions = joined.split(',').map(str::trim).filter(|e| !e.is_empty());
    let Some(answer) = extensions.next() else {
        return Ok(None);
    };
    if !offered || extensions.next().is_some() {
        return Err(format!("the server accepted extensions we did not offer: {joined}").into());
    }
    // With or without context takeover the inflater is the same: a message
    // compressed alone just never refers back to the ones before it.
    no_context_takeover_in(answer)?;
    Ok(Some(Deflate {
        answer: answer.to_owned(),
        inflater: None,
        inflated: 0,
        ended: false,
    }))
}

/// Whether a permessage-deflate answer says `server_no_context_takeover`;
/// an error for another extension or a parameter that is unknown, repeated,
/// or has a bad value.
fn no_context_takeover_in(answer: &str) -> Result<bool, Error> {
    let mut parts = answer.split(';').map(str::trim);
    if parts.next() != Some("permessage-deflate") {
        return Err(format!("the server accepted an extension we did not offer: {answer}").into());
    }
    let mut seen = Vec::new();
    let mut no_context_takeover = false;
    for parameter in parts {
        let (name, value) = match parameter.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
            None => (parameter, None),
        };
        if seen.contains(&name) {
            return Err(format!("permessage-deflate with {name} twice: {answer}").into());
        }
        seen.push(name);
        match (name, value) {
            ("server_no_context_takeover", None) => no_context_takeover = true,
            // About what the client sends: control frames only, never compressed.
            ("client_no_context_takeover", None) => {}
            // The 15-bit inflater decodes any window; the value is only checked.
            ("server_max_window_bits" | "client_max_window_bits", Some(bits))
                if bits.parse::<u8>().is_ok_and(|b| (8..=15).contains(&b)) => {}
            _ => {
                return Err(format!(
                    "permessage-deflate with a parameter we cannot accept: {parameter}"
                )
                .into());
            }
        }
    }
    Ok(no_context_takeover)
}

impl Deflate {
    /// The server's answer, as it sent it.
    pub fn answer(&self) -> &str {
        &self.answer
    }

    /// Inflates one fragment's payload of a compressed message onto the end
    /// of `message`.
    pub fn inflate(&mut self, compressed: &[u8], message: &mut Vec<u8>) -> Result<(), Error> {
        if self.ended {
            return Ok(());
        }
        let inflater = self.inflater.get_or_insert_with(|| Decompress::new(false));
        self.ended = inflate_into(inflater, compressed, message)?;
        Ok(())
    }

    /// Ends a compressed message, `message` being all of it so far: puts
    /// the flush's tail back, which gives out the last of its text, counts
    /// it, and starts a new stream if this one ended with a final block.
    /// Without context takeover nothing needs resetting: after a sync flush
    /// the inflater stands at a block boundary, and a message compressed
    /// alone never refers back past it (a reset per message made the tool
    /// the bottleneck of fan-out at 300 msg/s).
    pub fn end_message(&mut self, message: &mut Vec<u8>) -> Result<(), Error> {
        self.inflate(&SYNC_TAIL, message)?;
        self.inflated += message.len() as u64;
        if self.ended {
            // Created by the inflate just above, if not before.
            if let Some(inflater) = &mut self.inflater {
                inflater.reset(false);
            }
        }
        self.ended = false;
        Ok(())
    }

    /// The payload bytes inflated since the last call.
    pub fn take_inflated(&mut self) -> u64 {
        std::mem::take(&mut self.inflated)
    }
}

/// Inflates `input` onto the end of `out`, growing it as needed; true if
/// the stream ended (a final block), the rest of `input` then left unread.
fn inflate_into(
    inflater: &mut Decompress,
    mut input: &[u8],
    out: &mut Vec<u8>,
) -> Result<bool, Error> {
    loop {
        out.reserve(INFLATE_CHUNK);
        let (read_before, written_before) = (inflater.total_in(), inflater.total_out());
        let status = inflater.decompress_vec(input, out, FlushDecompress::None)?;
        let read = (inflater.total_in() - read_before) as usize;
        let wrote = inflater.total_out() - written_before;
        input = &input[read..];
        if out.len() > MAX_INFLATED {
            return Err("a compressed message inflates to more than 16 MiB".into());
        }
        if status == Status::StreamEnd {
            return Ok(true);
        }
        // Done once the input is used up and the inflater stopped for want
        // of input, not of room.
        if input.is_empty() && out.len() < out.capacity() {
            return Ok(false);
        }
        if read == 0 && wrote == 0 {
            return Err("a compressed message that does not inflate".into());
        }
    }
}

/// What a permessage-deflate server sends for `text`, for the tests: a
/// sync flush, its last four bytes removed.
#[cfg(test)]
pub(super) fn compressed(compress: &mut flate2::Compress, text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 64);
    let status = compress.compress_vec(text, &mut out, flate2::FlushCompress::Sync);
    assert_eq!(status.unwrap(), Status::Ok);
    assert!(out.ends_with(&SYNC_TAIL));
    out.truncate(out.len() - SYNC_TAIL.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    fn answer(value: &str) -> Result<Option<Deflate>, Error> {
        let headers = [httparse::Header {
            name: "Sec-WebSocket-Extensions",
            value: value.as_bytes(),
        }];
        accepted(&headers, true)
    }

    /// A declined offer is no extension at all, not an error.
    #[test]
    fn no_header_is_a_declined_offer() {
        assert!(accepted(&[], true).unwrap().is_none());
    }

    /// The server's parameters: context takeover read, window sizes checked.
    #[test]
    fn reads_the_parameters_a_server_may_send() {
        assert!(answer("permessage-deflate").unwrap().is_some());
        assert!(!no_context_takeover_in("permessage-deflate").unwrap());
        let full = "permessage-deflate; server_no_context_takeover; \
                    client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=\"12\"";
        let deflate = answer(full).unwrap().unwrap();
        assert!(no_context_takeover_in(full).unwrap());
        assert_eq!(deflate.answer(), full);
    }

    /// RFC 7692 §7.1: anything but a well-formed permessage-deflate fails the
    /// connection, and so does an extension nobody offered.
    #[test]
    fn refuses_what_was_not_offered_or_is_malformed() {
        for bad in [
            "x-webkit-deflate-frame",
            "permessage-deflate, permessage-deflate",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; surprise",
        ] {
            assert!(answer(bad).is_err(), "{bad} should be refused");
        }
        let headers = [httparse::Header {
            name: "sec-websocket-extensions",
            value: b"permessage-deflate",
        }];
        assert!(accepted(&headers, false).is_err());
    }

    /// With `server_no_context_takeover` each message is compressed alone;
    /// one inflater, never reset, reads them one after the other.
    #[test]
    fn reads_messages_compressed_alone_without_a_reset() {
        let mut deflate = answer("permessage-deflate; server_no_context_takeover")
            .unwrap()
            .unwrap();
        let mut compress = Compress::new(Compression::default(), false);
        for text in [&b"first message"[..], b"second message", b"first message"] {
            let mut message = Vec::new();
            deflate
                .inflate(&compressed(&mut compress, text), &mut message)
                .unwrap();
            deflate.end_message(&mut message).unwrap();
            assert_eq!(message, text);
            compress.reset();
        }
        assert_eq!(deflate.take_inflated(), 40);
        assert_eq!(deflate.take_inflated(), 0);
    }

    /// A sender that ends each message with a final block instead of a
    /// sync flush is read too: the next message starts a new stream.
    #[test]
    fn reads_messages_that_end_the_stream() {
        let mut deflate = answer("permessage-deflate").unwrap().unwrap();
        for text in [&b"one"[..], b"two"] {
            let mut compress = Compress::new(Compression::default(), false);
            let mut data = Vec::with_capacity(64);
            compress
                .compress_vec(text, &mut data, FlushCompress::Finish)
                .unwrap();
            let mut message = Vec::new();
            deflate.inflate(&data, &mut message).unwrap();
            deflate.end_message(&mut message).unwrap();
            assert_eq!(message, text);
        }
    }

    /// A message that inflates past the limit is an error, not an
    /// allocation.
    #[test]
    fn refuses_a_message_that_inflates_too_far() {
        let mut deflate = answer("permessage-deflate").unwrap().unwrap();
        let mut compress = Compress::new(Compression::best(), false);
        let zeros = vec![0u8; MAX_INFLATED + 1];
        let data = compressed(&mut compress, &zeros);
        assert!(data.len() < 64 * 1024);
        let mut message = Vec::new();
        assert!(deflate.inflate(&data, &mut message).is_err());
    }
}
