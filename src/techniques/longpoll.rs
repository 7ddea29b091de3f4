//! HTTP long-polling: the client asks "any news?", and the server holds the
//! request open until there is some — or until the timeout, when it answers
//! empty and the client simply asks again.
//!
//! `GET /api/longpoll?since=ID&timeout=SECS` answers the same JSON as a short
//! poll. Latency drops to about one network round trip, and empty answers to
//! one per timeout, at the price of one parked request per client (and, over
//! HTTP/1.1, one of the browser's six connections per origin).
//!
//! The classic bug is the lost wake-up: check the ring, find nothing, and
//! *then* start listening — a message published in between is never seen
//! and the client waits a whole timeout for news that already came. The hub
//! avoids it by registering the listener and checking the ring in one step
//! under one lock (`Hub::subscribe`).
//!
//! A client that gives up mid-wait closes its connection; actix-web then
//! drops this handler's future, and the subscription with it, so no waiter
//! is left behind. Over HTTP/2 the same holds when the client closes the
//! connection, and when a browser aborts one fetch, resetting only its
//! stream: the vendored actix-http's HTTP/2 dispatcher drops that
//! request's future in both cases.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::cursor::CursorQuery;
use crate::hub::Batch;
use crate::plumbing::error::ApiError;
use crate::plumbing::state::AppState;
use crate::tally::Tally;
use crate::technique::Technique;

// docs:start longpoll-handler
/// `GET /api/longpoll?since=ID&timeout=SECS`
pub async fn handle(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: CursorQuery,
) -> Result<HttpResponse, ApiError> {
    let cursor = query.cursor(None)?;
    let timeout = query.timeout(state.config.longpoll_timeout)?;

    // Register for the wake-up and check the ring in one step, then wait
    // for news, the timeout, or the server shutting down.
    let mut subscription = state.hub.subscribe(cursor).await;
    let batch = tokio::select! {
        biased; // what is already there wins over a zero timeout
        batch = subscription.recv() => batch,
        () = tokio::time::sleep(timeout) => Batch::default(),
        () = state.shutdown.cancelled() => Batch::default(),
    };

    let tally = Tally::of(&req, &state.stats, Technique::longpoll);
    Ok(super::hand_over(
        &tally,
        subscription.epoch(),
        &batch,
        subscription.next(),
    ))
}
// docs:end longpoll-handler
