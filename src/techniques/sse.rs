//! Server-Sent Events: the client asks once, and the response never ends —
//! the server keeps writing events into it as they happen.
//!
//! `GET /api/sse` answers `Content-Type: text/event-stream`, a plain-text
//! format the browser's `EventSource` parses:
//!
//! ```text
//! id: 42
//! event: message
//! data: {"id":42,"author":"generator","text":"…","published_at_us":…}
//!
//! ```
//!
//! Each event ends with a blank line. Because every message carries an
//! `id:`, a browser that loses the connection reconnects on its own (after
//! the `retry:` delay) and sends `Last-Event-ID: 42`, so it resumes where it
//! left off. If the server no longer holds what it missed, an `event: gap`
//! says how many. A comment line (`: keep-alive`) every 15 s keeps proxies
//! from closing a quiet stream.
//!
//! One HTTP response per client, one chunk per batch of messages: no request
//! per message, no empty answers. It is one-way; the client publishes with
//! an ordinary POST.
//!
//! A client that stops reading costs a bounded amount. The body is a stream
//! the server polls only when the socket can take more, so a stalled client
//! simply stops being polled: nothing piles up for it beyond one chunk and
//! the kernel's socket buffers, and the hub's queue is shared and fixed in
//! size. When the client reads again, its subscription has overflowed; it
//! catches up from the ring, or gets an `event: gap` for what the ring no
//! longer holds, counted in `messages_missed` and `slow_consumers`.

use std::convert::Infallible;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::Stream;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::cursor::CursorQuery;
use crate::hub::{Batch, Subscription};
use crate::plumbing::error::ApiError;
use crate::plumbing::state::AppState;
use crate::tally::Tally;
use crate::technique::Technique;

/// How long a browser waits before reconnecting, sent as `retry:`.
const RECONNECT_DELAY_MS: u32 = 2000;

/// The header a reconnecting `EventSource` sends with the last `id:` it saw.
const LAST_EVENT_ID: header::HeaderName = header::HeaderName::from_static("last-event-id");

/// `GET /api/sse?since=ID` (or with `Last-Event-ID: ID`)
pub async fn handle(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: CursorQuery,
) -> Result<HttpResponse, ApiError> {
    let last_event_id = last_event_id(&req)?;
    let cursor = query.cursor(last_event_id)?;

    // Register for wake-ups and take the backlog, then stream.
    let subscription = state.hub.subscribe(cursor).await;
    let tally = Tally::of(&req, &state.stats, Technique::sse);

    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Tells nginx-style proxies not to buffer the stream.
        .insert_header(("x-accel-buffering", "no"))
        .streaming(events(subscription, tally, state.into_inner())))
}

fn last_event_id(req: &HttpRequest) -> Result<Option<&str>, ApiError> {
    match req.headers().get(LAST_EVENT_ID) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|v| Some(v.trim()))
            .map_err(|_| ApiError::bad_request("bad_cursor", "Last-Event-ID must be a message id")),
    }
}

/// The endless body: a hello, then one chunk per batch, keep-alive comments
/// in the quiet times, and the end when the server shuts down.
fn events(
    subscription: Subscription,
    tally: Tally,
    state: std::sync::Arc<AppState>,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    let hello = hello(&subscription);
    let mut keepalive = tokio::time::interval_at(
        Instant::now() + state.config.sse_keepalive,
        state.config.sse_keepalive,
    );
    keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let stream = EventStream {
        subscription,
        tally,
        keepalive,
        state,
    };
    let rest = futures_util::stream::unfold(stream, |mut stream| async move {
        let chunk = stream.next_chunk().await?;
        Some((Ok(chunk), stream))
    });
    futures_util::StreamExt::chain(futures_util::stream::once(async { Ok(hello) }), rest)
}

struct EventStream {
    subscription: Subscription,
    tally: Tally,
    keepalive: Interval,
    state: std::sync::Arc<AppState>,
}

impl EventStream {
    /// The next piece of the stream, or `None` to end it.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        tokio::select! {
            biased;
            () = self.state.shutdown.cancelled() => None,
            batch = self.subscription.recv() => Some(self.hand_over(&batch)),
            _ = self.keepalive.tick() => Some(Bytes::from_static(b": keep-alive\n\n")),
        }
    }

    // docs:start sse-encode
    /// All events of one batch in one chunk, so they go out in one write.
    fn hand_over(&self, batch: &Batch) -> Bytes {
        let mut out = String::new();
        if batch.missed > 0 || batch.reset {
            out.push_str(&format!(
                "event: gap\ndata: {{\"missed\":{},\"reset\":{},\"epoch\":\"{}\"}}\n\n",
                batch.missed,
                batch.reset,
                self.subscription.epoch()
            ));
        }
        for message in &batch.messages {
            out.push_str(&format!(
                "id: {}\nevent: message\ndata: {}\n\n",
                message.id,
                message.json()
            ));
        }
        self.tally.handed_over(batch);
        Bytes::from(out)
    }
    // docs:end sse-encode
}

// docs:start sse-hello
/// `retry:` for the browser, and an `event: hello` naming the epoch and the
/// cursor the stream starts from. The hello carries that cursor as its
/// `id:` too, so a stream that breaks before its first message still
/// reconnects with `Last-Event-ID` and misses nothing published meanwhile.
fn hello(subscription: &Subscription) -> Bytes {
    Bytes::from(format!(
        "retry: {RECONNECT_DELAY_MS}\nid: {next}\nevent: hello\ndata: {{\"epoch\":\"{}\",\"next\":{next}}}\n\n",
        subscription.epoch(),
        next = subscription.next()
    ))
}
// docs:end sse-hello
