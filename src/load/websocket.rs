//! A WebSocket client connection for the load tool: the opening handshake,
//! then the server's frames read in place.
//!
//! Fan-out is the tool's heaviest job: at 1,000 subscribers and 1,200
//! messages a second it must take in 1.2 million frames a second on its one
//! core. tokio-tungstenite spent about a sixth of the tool's CPU on each
//! frame's bookkeeping (a waker registered per read, a zero-filled buffer,
//! UTF-8 validation, a fresh allocation per message), enough for the tool
//! to fall behind the server it measures. This client reads into one buffer
//! per connection and lends each text message out of it, the way
//! [`crate::load::http`] does for HTTP answers.
//!
//! What it handles is what a pushlab server sends (RFC 6455): unmasked text
//! frames, possibly fragmented; pings, answered with a pong; a close,
//! answered with a close. It sends nothing else: the tool publishes by POST.
//!
//! Asked to (`pushlab load --deflate`), it offers permessage-deflate (RFC
//! 7692) as Chromium does, so the tool's bytes are those a browser's
//! connection would carry; the byte counts stay the bytes on the wire,
//! compressed. A message whose first frame has RSV1 set is compressed: it
//! is inflated into the connection's message buffer ([`deflate`]).
//! Uncompressed single-frame messages are still lent straight out of the
//! read buffer, so the fast path pays only a look at the reserved bits.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::rc::Rc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::http::{Error, MAX_HEADERS, header};
use super::net::{ByteCounts, CountedStream};
use crate::ws_accept::accept_key;
use deflate::Deflate;

mod deflate;

const CONTINUATION: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// The first byte's reserved bits; RSV1 marks a compressed message.
const RESERVED: u8 = 0x70;
const RSV1: u8 = 0x40;

/// How much the read buffer grows by when a frame does not fit yet.
const READ_CHUNK: usize = 8 * 1024;

/// One WebSocket connection to the server.
pub struct Socket {
    stream: CountedStream,
    /// Bytes read from the server, after the `consumed` ones already handed
    /// out.
    read: Vec<u8>,
    consumed: usize,
    /// A fragmented or compressed text message being put together.
    message: Vec<u8>,
    assembling: Assembling,
    /// permessage-deflate, when we offered it and the server accepted.
    deflate: Option<Deflate>,
}

/// What `message` is being put together from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Assembling {
    Nothing,
    /// Fragments of an uncompressed message, copied.
    Plain,
    /// Fragments of a compressed message, inflated.
    Compressed,
}

/// Where the next text message lies.
enum Text {
    /// One whole uncompressed frame's payload, in the read buffer.
    InBuffer(Range<usize>),
    /// Fragments put together, or a message inflated, in `message`.
    Assembled,
}

/// A frame's place in the read buffer.
struct Frame {
    fin: bool,
    opcode: u8,
    /// RSV1: the first frame of a compressed message.
    compressed: bool,
    payload: Range<usize>,
}

impl Socket {
    /// Opens a TCP connection and upgrades it to WebSocket on `path`,
    /// offering permessage-deflate if `deflate`.
    pub async fn connect(
        addr: SocketAddr,
        counts: Rc<ByteCounts>,
        path: &str,
        deflate: bool,
    ) -> Result<Socket, Error> {
        let mut socket = Socket {
            stream: CountedStream::connect(addr, counts).await?,
            read: Vec::with_capacity(READ_CHUNK),
            consumed: 0,
            message: Vec::new(),
            assembling: Assembling::Nothing,
            deflate: None,
        };
        socket.handshake(&addr.to_string(), path, deflate).await?;
        Ok(socket)
    }

    /// The server's answer to our permessage-deflate offer, as it sent it;
    /// `None` when we did not offer it or the server declined.
    pub fn extension(&self) -> Option<&str> {
        self.deflate.as_ref().map(Deflate::answer)
    }

    /// Payload bytes of compressed messages once inflated, since the last
    /// call: what the wire bytes of those messages carried.
    pub fn take_inflated(&mut self) -> u64 {
        self.deflate.as_mut().map_or(0, Deflate::take_inflated)
    }

    /// Sends the upgrade request and reads the `101 Switching Protocols`
    /// answer; whatever follows it in the buffer is the first frames.
    async fn handshake(&mut self, host: &str, path: &str, deflate: bool) -> Result<(), Error> {
        let key = BASE64.encode(rand::random::<[u8; 16]>());
        let offer = if deflate {
            format!("sec-websocket-extensions: {}\r\n", deflate::OFFER)
        } else {
            String::new()
        };
        let request = format!(
            "GET {path} HTTP/1.1\r\nhost: {host}\r\nupgrade: websocket\r\n\
             connection: Upgrade\r\nsec-websocket-key: {key}\r\n\
             sec-websocket-version: 13\r\n{offer}\r\n"
        );
        self.stream.write_all(request.as_bytes()).await?;
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut answer = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head_len) = answer.parse(&self.read)? {
                check_upgrade(&answer, &key)?;
                self.deflate = deflate::accepted(answer.headers, deflate)?;
                self.consumed = head_len;
                return Ok(());
            }
            self.fill().await?;
        }
    }

    /// The next text message. Pings are answered on the way; a close from
    /// the server is answered and ends the connection with an error.
    pub async fn next_text(&mut self) -> Result<&[u8], Error> {
        let text = loop {
            let Some(frame) = self.next_frame()? else {
                self.fill().await?;
                continue;
            };
            match frame.opcode {
                TEXT if frame.fin && !frame.compressed => break Text::InBuffer(frame.payload),
                TEXT => {
                    self.message.clear();
                    self.assembling = if frame.compressed {
                        Assembling::Compressed
                    } else {
                        Assembling::Plain
                    };
                    if self.add_fragment(&frame)? {
                        break Text::Assembled;
                    }
                }
                CONTINUATION if self.assembling != Assembling::Nothing => {
                    let last = self.add_fragment(&frame)?;
                    if last {
                        break Text::Assembled;
                    }
                }
                PING => {
                    let payload = self.read[frame.payload].to_vec();
                    self.send(PONG, &payload).await?;
                }
                CLOSE => {
                    // Echo the status code, as RFC 6455 asks.
                    let code = self.read[frame.payload]
                        .get(..2)
                        .unwrap_or_default()
                        .to_vec();
                    self.send(CLOSE, &code).await?;
                    return Err("the WebSocket closed".into());
                }
                _ => {} // pongs, binary frames and their fragments: pushlab sends none
            }
        };
        Ok(match text {
            Text::InBuffer(payload) => &self.read[payload],
            Text::Assembled => &self.message,
        })
    }

    /// Adds a fragment's payload to `message`, inflated if the message is
    /// compressed; true when that was the message's last fragment.
    fn add_fragment(&mut self, frame: &Frame) -> Result<bool, Error> {
        let payload = &self.read[frame.payload.clone()];
        match self.assembling {
            Assembling::Plain => self.message.extend_from_slice(payload),
            Assembling::Compressed => {
                let deflate = (self.deflate.as_mut())
                    .ok_or("a compressed message without permessage-deflate")?;
                deflate.inflate(payload, &mut self.message)?;
                if frame.fin {
                    deflate.end_message(&mut self.message)?;
                }
            }
            Assembling::Nothing => {}
        }
        if frame.fin {
            self.assembling = Assembling::Nothing;
        }
        Ok(frame.fin)
    }

    /// The frame at the start of the unconsumed bytes, once all of it has
    /// arrived; it counts as consumed from then on.
    fn next_frame(&mut self) -> Result<Option<Frame>, Error> {
        let start = self.consumed;
        let Some((header_len, payload_len)) = frame_header(&self.read[start..])? else {
            return Ok(None);
        };
        let first = self.read[start];
        if first & RESERVED != 0 {
            self.check_reserved(first)?;
        }
        let end = start + header_len + payload_len;
        if self.read.len() < end {
            return Ok(None);
        }
        self.consumed = end;
        Ok(Some(Frame {
            fin: first & 0x80 != 0,
            opcode: first & 0x0F,
            compressed: first & RSV1 != 0,
            payload: start + header_len..end,
        }))
    }

    /// A frame's reserved bits, when some are set: only RSV1 may be, once
    /// permessage-deflate is negotiated, and only on the first frame of a
    /// data message (RFC 7692 §6.1); anything else fails the connection.
    fn check_reserved(&self, first: u8) -> Result<(), Error> {
        if first & RESERVED != RSV1 {
            return Err("a frame with RSV2 or RSV3 set, which no extension of ours defines".into());
        }
        if self.deflate.is_none() {
            return Err("a compressed frame (RSV1) but no permessage-deflate negotiated".into());
        }
        match first & 0x0F {
            TEXT | BINARY => Ok(()),
            _ => Err("RSV1 on a control or continuation frame, which are never compressed".into()),
        }
    }

    /// Reads more from the socket, first dropping what was handed out.
    async fn fill(&mut self) -> Result<(), Error> {
        self.read.drain(..self.consumed);
        self.consumed = 0;
        self.read.reserve(READ_CHUNK);
        if self.stream.read_buf(&mut self.read).await? == 0 {
            return Err("the server closed the connection".into());
        }
        Ok(())
    }

    /// Sends a control frame. A client masks every frame it sends.
    async fn send(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        let mask: [u8; 4] = rand::random();
        let mut frame = Vec::with_capacity(6 + payload.len());
        frame.push(0x80 | opcode);
        frame.push(0x80 | payload.len().min(125) as u8);
        frame.extend_from_slice(&mask);
        let masked = payload.iter().take(125).zip(mask.iter().cycle());
        frame.extend(masked.map(|(byte, key)| byte ^ key));
        self.stream.write_all(&frame).await
    }
}

/// A `101` with `Sec-WebSocket-Accept` derived from our key, or why not.
fn check_upgrade(answer: &httparse::Response<'_, '_>, key: &str) -> Result<(), Error> {
    let status = answer.code.unwrap_or_default();
    if status != 101 {
        return Err(
            format!("the server answered {status} instead of switching to WebSocket").into(),
        );
    }
    let accept = header(answer.headers, "sec-websocket-accept");
    if accept != Some(accept_key(key).as_bytes()) {
        return Err("the server's Sec-WebSocket-Accept does not match our key".into());
    }
    Ok(())
}

/// The header length and payload length of the frame at the start of
/// `buf`, once its header has arrived. Server frames are never masked.
fn frame_header(buf: &[u8]) -> Result<Option<(usize, usize)>, Error> {
    let [_, second, rest @ ..] = buf else {
        return Ok(None);
    };
    if second & 0x80 != 0 {
        return Err("the server sent a masked frame".into());
    }
    let (extra, payload_len) = match second & 0x7F {
        126 => match rest {
            [a, b, ..] => (2, u16::from_be_bytes([*a, *b]) as u64),
            _ => return Ok(None),
        },
        127 => match rest.first_chunk::<8>() {
            Some(bytes) => (8, u64::from_be_bytes(*bytes)),
            None => return Ok(None),
        },
        short => (0, u64::from(short)),
    };
    let payload_len = usize::try_from(payload_len).map_err(|_| "a frame too large to hold")?;
    Ok(Some((2 + extra, payload_len)))
}

#[cfg(test)]
mod tests;
