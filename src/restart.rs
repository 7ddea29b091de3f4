//! `POST /api/hub/restart`: the teacher starts the message source over, for
//! everyone, without restarting the server.
//!
//! Killing and restarting `pushlab` shows what a client does when its
//! server's memory is gone, but it also drops every connection, resets
//! every figure and changes the teacher key. This shows the first part
//! alone: the hub begins a new run (a new epoch, the ring emptied, ids from
//! 1 again) while every connection stays up. Each client is told exactly as
//! after a real restart — a parked long-poll answers `reset: true`, an SSE
//! stream sends `event: gap` with `"reset": true`, a WebSocket a `gap`
//! frame with it, and a cursor from before is answered with a reset — so
//! every lane says "starting over" and goes on with the new ids.
//!
//! It changes what every laptop sees, so it takes the teacher key (the
//! route is behind [`crate::teacher::guard`]) and pushlab's own page
//! ([`crate::plumbing::origin::guard`]). With a shared broker (`--broker`) the ids
//! and the epoch are the broker's, the same on every instance; one
//! instance cannot start them over alone, so it refuses with a 409 that
//! says so. (A Redis that loses its data does start a new run, on every
//! instance: see [`crate::broker::redis`].)

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::plumbing::error::ApiError;
use crate::plumbing::state::AppState;

/// The answer: the run that ended, and the one that begins.
#[derive(Serialize)]
struct Restarted<'a> {
    previous_epoch: &'a str,
    epoch: &'a str,
}

/// `POST /api/hub/restart` → 200 `{"previous_epoch": …, "epoch": …}`
pub async fn post(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let previous = state.hub.epoch();
    let Some(epoch) = state.hub.restart() else {
        return Err(shared_broker(state.broker.url()));
    };
    tracing::info!("the teacher restarted the hub: epoch {previous} ended, {epoch} begins");
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(Restarted {
            previous_epoch: &previous,
            epoch: &epoch,
        }))
}

fn shared_broker(url: Option<&str>) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "shared_broker",
        format!(
            "this server shares its messages through a broker ({}): the ids and the epoch \
             are the broker's, the same on every instance, and one instance cannot start \
             them over alone, so nothing was restarted. A broker that starts over (Redis \
             with its data gone) starts a new run on every instance",
            url.unwrap_or("--broker")
        ),
    )
}
