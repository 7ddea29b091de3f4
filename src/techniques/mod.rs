//! The four techniques, one file each, shaped alike so that the differences
//! between the files are the differences between the techniques:
//!
//! | file          | the client asks…                | the server answers…                   |
//! |---------------|---------------------------------|---------------------------------------|
//! | `poll.rs`     | every few seconds, "any news?"  | at once, often "no"                   |
//! | `longpoll.rs` | "any news?", then waits         | when there is news, or at the timeout |
//! | `sse.rs`      | once, and keeps the response    | an endless `text/event-stream`        |
//! | `ws.rs`       | once, to switch protocols       | frames both ways on one socket        |
//!
//! Each handler has the same three steps: read the cursor (and any other
//! input, so bad input is refused before the hub is touched), get a batch
//! from the hub, and `hand_over` the batch to the client, which also counts
//! it. The one JSON answer both polls share lives here.

pub mod longpoll;
pub mod poll;
pub mod sse;
pub mod ws;

use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::http::header;
use serde::Serialize;

use crate::hub::{Batch, Message};
use crate::tally::Tally;

/// The body of `/api/poll` and `/api/longpoll`.
#[derive(Serialize)]
struct PollAnswer<'a> {
    epoch: &'a str,
    messages: &'a [Arc<Message>],
    /// The cursor for the next request.
    next: u64,
    /// Messages after the cursor that are no longer retained.
    missed: u64,
    /// The cursor was from another run of the server: start over.
    reset: bool,
}

/// Hands `batch` over as a poll's answer, and counts it (an empty one too).
fn hand_over(tally: &Tally, epoch: &str, batch: &Batch, next: u64) -> HttpResponse {
    if batch.messages.is_empty() {
        tally.empty();
    }
    tally.handed_over(batch);
    let answer = PollAnswer {
        epoch,
        messages: &batch.messages,
        next,
        missed: batch.missed,
        reset: batch.reset,
    };
    // Sized up front: growing the buffer while serialising cost a
    // reallocation or two per answer.
    let mut body = Vec::with_capacity(ANSWER_OVERHEAD + batch.messages.len() * MESSAGE_SIZE);
    serde_json::to_writer(&mut body, &answer).expect("plain fields serialise");
    // Static header values: a poll is the hottest path, and parsing the same
    // two strings into headers on every request costs two allocations.
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, JSON.clone()))
        // A proxy or browser cache must never answer a poll in our place.
        .insert_header((header::CACHE_CONTROL, NO_STORE.clone()))
        .body(body)
}

/// Bytes of a poll answer around its messages (epoch, cursor, flags), and of
/// one message with a short text: enough to serialise most answers without
/// growing the buffer.
const ANSWER_OVERHEAD: usize = 96;
const MESSAGE_SIZE: usize = 256;

const JSON: header::HeaderValue = header::HeaderValue::from_static("application/json");
const NO_STORE: header::HeaderValue = header::HeaderValue::from_static("no-store");
