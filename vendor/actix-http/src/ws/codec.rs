use bitflags::bitflags;
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use tokio_util::codec::{Decoder, Encoder};

use super::{
    deflate::{Deflate, DeflateConfig},
    frame::Parser,
    proto::{CloseReason, OpCode},
    ProtocolError,
};

/// A WebSocket message.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    /// Text message.
    Text(ByteString),

    /// Binary message.
    Binary(Bytes),

    /// Continuation.
    Continuation(Item),

    /// Ping message.
    Ping(Bytes),

    /// Pong message.
    Pong(Bytes),

    /// Close message with optional reason.
    Close(Option<CloseReason>),

    /// No-op. Useful for low-level services.
    Nop,
}

/// A WebSocket frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// Text frame. Note that the codec does not validate UTF-8 encoding.
    Text(Bytes),

    /// Binary frame.
    Binary(Bytes),

    /// Continuation.
    Continuation(Item),

    /// Ping message.
    Ping(Bytes),

    /// Pong message.
    Pong(Bytes),

    /// Close message with optional reason.
    Close(Option<CloseReason>),
}

/// A WebSocket continuation item.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    FirstText(Bytes),
    FirstBinary(Bytes),
    Continue(Bytes),
    Last(Bytes),
}

/// WebSocket protocol codec.
#[derive(Debug, Clone)]
pub struct Codec {
    flags: Flags,
    max_size: usize,
    /// pushlab: permessage-deflate, when the handshake negotiated it.
    deflate: Option<Box<Deflate>>,
}

bitflags! {
    #[derive(Debug, Clone, Copy)]
    struct Flags: u8 {
        const SERVER         = 0b0000_0001;
        const CONTINUATION   = 0b0000_0010;
        const W_CONTINUATION = 0b0000_0100;
        /// pushlab: the message being received is compressed.
        const R_COMPRESSED   = 0b0000_1000;
    }
}

/// Default maximum frame size (64 KiB).
pub const DEFAULT_MAX_FRAME_SIZE: usize = 64 * 1024;

impl Codec {
    /// Create new WebSocket frames decoder.
    pub const fn new() -> Codec {
        Codec {
            max_size: DEFAULT_MAX_FRAME_SIZE,
            flags: Flags::SERVER,
            deflate: None,
        }
    }

    /// pushlab: compress text and binary messages, and inflate the peer's,
    /// as the handshake negotiated (permessage-deflate, RFC 7692). Call it
    /// after [`Codec::client_mode`]: the side decides which parameters are
    /// whose. A compressed message may inflate to at most `max_size` bytes.
    #[must_use = "This returns the a new Codec, without modifying the original."]
    pub fn deflate(mut self, config: DeflateConfig) -> Self {
        let server = self.flags.contains(Flags::SERVER);
        self.deflate = Some(Box::new(Deflate::new(config, server)));
        self
    }

    /// pushlab: writes a text or binary message, compressed when
    /// permessage-deflate was negotiated.
    fn write_data(
        &mut self,
        dst: &mut BytesMut,
        payload: Bytes,
        op: OpCode,
    ) -> Result<(), ProtocolError> {
        let mask = !self.flags.contains(Flags::SERVER);
        match &mut self.deflate {
            Some(deflate) => {
                let compressed = deflate.compress(payload)?;
                Parser::write_frame(dst, compressed, op, true, true, mask);
            }
            None => Parser::write_message(dst, payload, op, true, mask),
        }
        Ok(())
    }

    /// pushlab: a received frame's payload as the application sees it:
    /// inflated when it belongs to a compressed message. RSV1 marks the
    /// first frame of one; on any other frame it is a protocol error.
    fn inflated(
        &mut self,
        rsv1: bool,
        finished: bool,
        opcode: OpCode,
        payload: Bytes,
    ) -> Result<Bytes, ProtocolError> {
        let Some(deflate) = &mut self.deflate else {
            return Ok(payload);
        };
        let compressed = match opcode {
            OpCode::Text | OpCode::Binary => {
                if rsv1 && !finished {
                    self.flags.insert(Flags::R_COMPRESSED);
                }
                rsv1
            }
            OpCode::Continue if !rsv1 => {
                let compressed = self.flags.contains(Flags::R_COMPRESSED);
                if finished {
                    self.flags.remove(Flags::R_COMPRESSED);
                }
                compressed
            }
            _ if rsv1 => {
                return Err(ProtocolError::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "Received a frame with non-zero reserved bits",
                )))
            }
            _ => false,
        };
        if !compressed {
            return Ok(payload);
        }
        deflate.inflate(&payload, finished, self.max_size)
    }

    /// Set max frame size.
    ///
    /// By default max size is set to 64KiB.
    #[must_use = "This returns the a new Codec, without modifying the original."]
    pub fn max_size(mut self, size: usize) -> Self {
        self.max_size = size;
        self
    }

    /// Set decoder to client mode.
    ///
    /// By default decoder works in server mode.
    #[must_use = "This returns the a new Codec, without modifying the original."]
    pub fn client_mode(mut self) -> Self {
        self.flags.remove(Flags::SERVER);
        self
    }
}

impl Default for Codec {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder<Message> for Codec {
    type Error = ProtocolError;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), Self::Error> {
        match item {
            Message::Text(txt) => self.write_data(dst, txt.into_bytes(), OpCode::Text)?,
            Message::Binary(bin) => self.write_data(dst, bin, OpCode::Binary)?,
            Message::Ping(txt) => Parser::write_message(
                dst,
                txt,
                OpCode::Ping,
                true,
                !self.flags.contains(Flags::SERVER),
            ),
            Message::Pong(txt) => Parser::write_message(
                dst,
                txt,
                OpCode::Pong,
                true,
                !self.flags.contains(Flags::SERVER),
            ),
            Message::Close(reason) => {
                Parser::write_close(dst, reason, !self.flags.contains(Flags::SERVER))
            }
            Message::Continuation(cont) => match cont {
                Item::FirstText(data) => {
                    if self.flags.contains(Flags::W_CONTINUATION) {
                        return Err(ProtocolError::ContinuationStarted);
                    } else {
                        self.flags.insert(Flags::W_CONTINUATION);
                        Parser::write_message(
                            dst,
                            &data[..],
                            OpCode::Text,
                            false,
                            !self.flags.contains(Flags::SERVER),
                        )
                    }
                }
                Item::FirstBinary(data) => {
                    if self.flags.contains(Flags::W_CONTINUATION) {
                        return Err(ProtocolError::ContinuationStarted);
                    } else {
                        self.flags.insert(Flags::W_CONTINUATION);
                        Parser::write_message(
                            dst,
                            &data[..],
                            OpCode::Binary,
                            false,
                            !self.flags.contains(Flags::SERVER),
                        )
                    }
                }
                Item::Continue(data) => {
                    if self.flags.contains(Flags::W_CONTINUATION) {
                        Parser::write_message(
                            dst,
                            &data[..],
                            OpCode::Continue,
                            false,
                            !self.flags.contains(Flags::SERVER),
                        )
                    } else {
                        return Err(ProtocolError::ContinuationNotStarted);
                    }
                }
                Item::Last(data) => {
                    if self.flags.contains(Flags::W_CONTINUATION) {
                        self.flags.remove(Flags::W_CONTINUATION);
                        Parser::write_message(
                            dst,
                            &data[..],
                            OpCode::Continue,
                            true,
                            !self.flags.contains(Flags::SERVER),
                        )
                    } else {
                        return Err(ProtocolError::ContinuationNotStarted);
                    }
                }
            },
            Message::Nop => {}
        }
        Ok(())
    }
}

impl Decoder for Codec {
    type Item = Frame;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        let Some((finished, rsv1, opcode, payload)) = Parser::parse_frame(
            src,
            self.flags.contains(Flags::SERVER),
            self.max_size,
            self.deflate.is_some(),
        )?
        else {
            return Ok(None);
        };
        let payload = payload.map(|pl| pl.freeze()).unwrap_or_else(Bytes::new);
        let payload = self.inflated(rsv1, finished, opcode, payload)?;

        if !finished {
            return match opcode {
                // Continuation frames are exposed individually; aggregation is handled downstream.
                OpCode::Continue => {
                    if self.flags.contains(Flags::CONTINUATION) {
                        Ok(Some(Frame::Continuation(Item::Continue(payload))))
                    } else {
                        Err(ProtocolError::ContinuationNotStarted)
                    }
                }
                OpCode::Binary => {
                    if !self.flags.contains(Flags::CONTINUATION) {
                        self.flags.insert(Flags::CONTINUATION);
                        Ok(Some(Frame::Continuation(Item::FirstBinary(payload))))
                    } else {
                        Err(ProtocolError::ContinuationStarted)
                    }
                }
                OpCode::Text => {
                    if !self.flags.contains(Flags::CONTINUATION) {
                        self.flags.insert(Flags::CONTINUATION);
                        Ok(Some(Frame::Continuation(Item::FirstText(payload))))
                    } else {
                        Err(ProtocolError::ContinuationStarted)
                    }
                }
                _ => {
                    tracing::error!("Unfinished fragment {opcode:?}");
                    Err(ProtocolError::ContinuationFragment(opcode))
                }
            };
        }

        match opcode {
            OpCode::Continue => {
                if self.flags.contains(Flags::CONTINUATION) {
                    self.flags.remove(Flags::CONTINUATION);
                    Ok(Some(Frame::Continuation(Item::Last(payload))))
                } else {
                    Err(ProtocolError::ContinuationNotStarted)
                }
            }
            OpCode::Bad => Err(ProtocolError::BadOpCode),
            OpCode::Close => {
                if payload.is_empty() {
                    Ok(Some(Frame::Close(None)))
                } else {
                    let close_reason = Parser::try_parse_close_payload(&payload)?;
                    Ok(Some(Frame::Close(close_reason)))
                }
            }
            OpCode::Ping => Ok(Some(Frame::Ping(payload))),
            OpCode::Pong => Ok(Some(Frame::Pong(payload))),
            OpCode::Binary => {
                if self.flags.contains(Flags::CONTINUATION) {
                    Err(ProtocolError::ContinuationStarted)
                } else {
                    Ok(Some(Frame::Binary(payload)))
                }
            }
            OpCode::Text => {
                if self.flags.contains(Flags::CONTINUATION) {
                    Err(ProtocolError::ContinuationStarted)
                } else {
                    Ok(Some(Frame::Text(payload)))
                }
            }
        }
    }
}
