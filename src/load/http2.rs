//! `pushlab load --http2`: each client's one connection speaks HTTP/2 with
//! prior knowledge (h2c), and each of its requests is a stream on it.
//!
//! Over HTTP/1.1 a poll spells out its request line and headers every
//! time; over HTTP/2 they are HPACK-compressed against what the connection
//! sent before, so a repeated poll's head shrinks to a few bytes plus the
//! path. The bytes are counted on the socket ([`CountedStream`]), as for
//! HTTP/1.1: preface, SETTINGS, WINDOW_UPDATE and PING frames included —
//! the exact figure that the server, which never sees the compressed
//! heads, can only estimate.
//!
//! hyper's HTTP/2 client drives the connection in a task of its own and
//! hands answers over a channel: dearer per request than the HTTP/1.1
//! client in `http.rs`, which stays as it is for the headline figures.

use std::future::Future;
use std::rc::Rc;

use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http2::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use super::Run;
use super::http::{Connection, Error};
use super::net::CountedStream;

/// Runs hyper's connection task on this thread: the load tool's clients
/// share `Rc` counters, so nothing here is `Send`.
#[derive(Clone, Copy)]
struct Local;

impl<F: Future + 'static> hyper::rt::Executor<F> for Local {
    fn execute(&self, future: F) {
        tokio::task::spawn_local(future);
    }
}

/// One HTTP/2 connection; every request a stream of it.
pub struct H2Connection {
    sender: SendRequest<Empty<Bytes>>,
    /// `:authority` of every request.
    authority: String,
    /// The last answer's body, lent out by [`H2Connection::get_body`].
    body: Bytes,
}

impl H2Connection {
    /// Connects to client `index`'s server and says the HTTP/2 preface.
    pub async fn open(run: &Run, index: usize) -> Result<Self, Error> {
        let server = run.server_of(index);
        let stream = CountedStream::connect(server, Rc::clone(&run.bytes)).await?;
        let (sender, connection) = http2::handshake(Local, TokioIo::new(stream)).await?;
        tokio::task::spawn_local(async move {
            let _ = connection.await; // a closed connection shows up as the next request failing
        });
        Ok(H2Connection {
            sender,
            authority: server.to_string(),
            body: Bytes::new(),
        })
    }

    /// Sends a GET on a new stream; the answer's head, its body to come.
    pub async fn get(&mut self, path: &str) -> Result<Response<Incoming>, Error> {
        let uri = format!("http://{}{path}", self.authority);
        let request = Request::get(uri).body(Empty::<Bytes>::new())?;
        self.sender.ready().await?;
        Ok(self.sender.send_request(request).await?)
    }

    /// Sends a GET and reads the whole answer: its status and body.
    pub async fn get_body(&mut self, path: &str) -> Result<(u16, &[u8]), Error> {
        let response = self.get(path).await?;
        let status = response.status().as_u16();
        self.body = response.into_body().collect().await?.to_bytes();
        Ok((status, &self.body))
    }
}

/// A poll or long-poll client's connection: HTTP/1.1, the tool's lean
/// client, or HTTP/2 with `--http2`.
pub enum Asking {
    Http1(Connection),
    Http2(H2Connection),
}

impl Asking {
    /// Opens client `index`'s counted connection, of the HTTP the run asks for.
    pub async fn open(run: &Run, index: usize) -> Result<Self, Error> {
        Ok(if run.settings.http2 {
            Asking::Http2(H2Connection::open(run, index).await?)
        } else {
            Asking::Http1(Connection::open(run.server_of(index), Rc::clone(&run.bytes)).await?)
        })
    }

    /// Sends a GET and reads the answer: its status and body.
    pub async fn get_body(&mut self, path: &str) -> Result<(u16, &[u8]), Error> {
        match self {
            Asking::Http1(connection) => connection.get_body(path).await,
            Asking::Http2(connection) => connection.get_body(path).await,
        }
    }
}
