//! A Server-Sent Events client: one `GET /api/sse`, then events as they
//! come; it resumes with `?since=` (like `Last-Event-ID`) after an error.
//!
//! The event stream is an endless chunked body, so this client speaks HTTP
//! through hyper (the polls' lean client reads sized answers only); with
//! `--http2`, it is one stream of the client's HTTP/2 connection.

use std::rc::Rc;

use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, header};
use hyper_util::rt::TokioIo;

use super::{Error, unexpected, with_cursor};
use crate::load::Run;
use crate::load::http2::H2Connection;
use crate::load::net::CountedStream;
use crate::load::record::{missed_in, next_in, scan_messages};

pub async fn connection(run: &Run, index: usize, cursor: &mut Option<u64>) -> Result<(), Error> {
    let path = with_cursor("/api/sse", *cursor);
    // Kept until the stream ends: over HTTP/2, the connection it is a stream of.
    let mut h2 = None;
    let response = if run.settings.http2 {
        let connection = h2.insert(H2Connection::open(run, index).await?);
        run.recorder.borrow_mut().connections += 1;
        connection.get(&path).await?
    } else {
        http1_stream(run, index, &path).await?
    };
    if response.status() != 200 {
        return Err(unexpected(response.status().as_u16()));
    }
    run.recorder.borrow_mut().requests += 1;
    let mut body = response.into_body();
    let mut pending = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        // Handle every complete event (each ends with a blank line).
        let complete = pending
            .windows(2)
            .rposition(|w| w == b"\n\n")
            .map_or(0, |p| p + 2);
        let lines: Vec<&[u8]> = pending[..complete].split(|&b| b == b'\n').collect();
        for event in lines.split(|line| line.is_empty()) {
            on_event(run, index, event, cursor);
        }
        pending.drain(..complete);
    }
    Err("the event stream ended".into())
}

/// Opens an HTTP/1.1 connection and asks it for the event stream at `path`.
async fn http1_stream(run: &Run, index: usize, path: &str) -> Result<Response<Incoming>, Error> {
    let server = run.server_of(index);
    let stream = CountedStream::connect(server, Rc::clone(&run.bytes)).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // The connection task drives the socket; it ends when the sender is
    // dropped or the server closes.
    tokio::task::spawn_local(async move {
        let _ = connection.await; // a closed connection shows up as the stream ending
    });
    run.recorder.borrow_mut().connections += 1;
    let request = Request::get(path)
        .header(header::HOST, server.to_string())
        .body(Empty::<Bytes>::new())?;
    Ok(sender.send_request(request).await?)
}

/// One event's lines: `event: …`, `id: …`, `data: …`.
fn on_event(run: &Run, index: usize, lines: &[&[u8]], cursor: &mut Option<u64>) {
    let field = |name: &[u8]| lines.iter().find_map(|l| l.strip_prefix(name));
    let data = field(b"data: ").unwrap_or_default();
    match field(b"event: ") {
        Some(b"message") => {
            let mut recorder = run.recorder.borrow_mut();
            scan_messages(data, |seen| {
                *cursor = Some(seen.id);
                recorder.seen(index, seen);
            });
        }
        Some(b"gap") => run.recorder.borrow_mut().gaps += missed_in(data),
        Some(b"hello") => {
            *cursor = cursor.or_else(|| next_in(data));
            run.subscribed(index);
        }
        _ => {}
    }
}
