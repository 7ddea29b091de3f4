//! A keep-alive HTTP/1.1 connection for the load tool: one request at a
//! time, each answer with a `content-length` body — every answer the tool
//! asks pushlab for except the endless SSE stream (polls, long-polls,
//! publishes, stats). Its bytes are counted on the socket
//! ([`CountedStream`]).
//!
//! Polls are the tool's hot path: a publish to 10,000 parked long-polls
//! means 10,000 answers to read and 10,000 requests to send, all on the
//! tool's one thread, as fast as the server hands them out. On hyper, with
//! a task per connection driving the socket and each answer handed over
//! through a channel, that cost the tool about 17 µs of CPU per answer and
//! new request — as much as the server spent — so the tool itself stamped
//! the last answers late. Here the client's own task does it all, in about
//! 8 µs: the request is written into a buffer the connection keeps and
//! sent with one write, the answer's head is parsed in place with
//! `httparse`, and the body is lent out of the read buffer.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::rc::Rc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::net::{ByteCounts, CountedStream};

pub type Error = Box<dyn std::error::Error>;

/// Room for the headers of an answer; pushlab sends about six.
pub(super) const MAX_HEADERS: usize = 32;

/// How much the read buffer grows by when an answer does not fit yet: a
/// long-poll answer with one message is about 400 bytes.
const READ_CHUNK: usize = 1024;

/// One HTTP/1.1 connection, reused request after request.
pub struct Connection {
    stream: CountedStream,
    host: String,
    /// The request being sent, kept so its allocation is reused.
    request: Vec<u8>,
    /// Bytes read from the server: the answer being parsed, after the
    /// `consumed` bytes of the previous one.
    read: Vec<u8>,
    consumed: usize,
}

impl Connection {
    pub async fn open(addr: SocketAddr, counts: Rc<ByteCounts>) -> Result<Self, Error> {
        Ok(Connection {
            stream: CountedStream::connect(addr, counts).await?,
            host: addr.to_string(),
            request: Vec::with_capacity(256),
            read: Vec::with_capacity(READ_CHUNK),
            consumed: 0,
        })
    }

    /// Sends a GET and reads the answer: its status and body.
    pub async fn get_body(&mut self, path: &str) -> Result<(u16, &[u8]), Error> {
        self.send("GET", path, None).await?;
        self.read_answer().await
    }

    /// POSTs a JSON body and reads the answer: its status and body.
    pub async fn post_json(&mut self, path: &str, json: &str) -> Result<(u16, &[u8]), Error> {
        self.send("POST", path, Some(json.as_bytes())).await?;
        self.read_answer().await
    }

    /// Writes the whole request with one write (the socket has
    /// `TCP_NODELAY`, so each write is a packet).
    async fn send(&mut self, method: &str, path: &str, json: Option<&[u8]>) -> io::Result<()> {
        let request = &mut self.request;
        request.clear();
        for part in [method, " ", path, " HTTP/1.1\r\nhost: ", &self.host, "\r\n"] {
            request.extend_from_slice(part.as_bytes());
        }
        if let Some(json) = json {
            let length = json.len().to_string();
            for part in [
                "content-type: application/json\r\ncontent-length: ",
                &length,
            ] {
                request.extend_from_slice(part.as_bytes());
            }
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(json.unwrap_or_default());
        self.stream.write_all(&self.request).await
    }

    /// Reads until one whole answer is in the buffer.
    async fn read_answer(&mut self) -> Result<(u16, &[u8]), Error> {
        self.read.drain(..self.consumed);
        self.consumed = 0;
        let (status, body) = loop {
            if let Some(answer) = complete_answer(&self.read)? {
                break answer;
            }
            self.read.reserve(READ_CHUNK);
            if self.stream.read_buf(&mut self.read).await? == 0 {
                return Err("the server closed the connection".into());
            }
        };
        self.consumed = body.end;
        Ok((status, &self.read[body]))
    }
}

/// The status of the answer at the start of `buf` and where its body lies,
/// once all of it has arrived.
fn complete_answer(buf: &[u8]) -> Result<Option<(u16, Range<usize>)>, Error> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head_len) = response.parse(buf)? else {
        return Ok(None);
    };
    let status = response.code.ok_or("an answer without a status")?;
    let end = head_len + body_length(status, response.headers)?;
    Ok((buf.len() >= end).then_some((status, head_len..end)))
}

/// The value of the header `name` (any case) in a parsed answer.
pub(super) fn header<'h>(headers: &[httparse::Header<'h>], name: &str) -> Option<&'h [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// The body's length, from `content-length`. pushlab sends one with every
/// answer this client asks for; a chunked body (a stream) is an error here.
fn body_length(status: u16, headers: &[httparse::Header<'_>]) -> Result<usize, Error> {
    if header(headers, "transfer-encoding").is_some() {
        return Err("a streamed answer where a sized one was expected".into());
    }
    match header(headers, "content-length") {
        Some(length) => Ok(std::str::from_utf8(length)?.trim().parse()?),
        // Answers that cannot have a body.
        None if status < 200 || status == 204 || status == 304 => Ok(0),
        None => Err(format!("a {status} answer without content-length").into()),
    }
}
