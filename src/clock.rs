//! The server's clock: what every timestamp is read from ([`now_us`]),
//! the name of each run of the hub ([`new_epoch`]), and `GET /api/time`,
//! so a browser can measure latency.
//!
//! Every message carries `published_at_us`, the server's clock when it was
//! published. A browser that subtracts it from its own clock gets the
//! delivery latency plus however far its clock is off — on a student's
//! laptop that may be more than the latency itself. So the page first asks
//! for the time a few times, NTP-style: with `t0` sent, `t1` received and
//! the server's `now_us` in between, the offset is
//! `now_us - (t0 + t1) / 2`, uncertain by at most half the round trip, and
//! the sample with the shortest round trip is the one to trust.
//!
//! Like `/api/stats` it is not counted as traffic of any technique.

use actix_web::HttpResponse;
use actix_web::http::header::{CacheControl, CacheDirective};
use serde::Serialize;

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch: the clock `published_at_us` uses, so
/// browsers and the load tool can compare against it.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// A fresh random epoch, the name of one run of the hub: 16 hex digits.
/// A cursor from another run is answered with a reset, never a hole.
pub fn new_epoch() -> String {
    format!("{:016x}", rand::random::<u64>())
}

#[derive(Serialize)]
struct Time {
    /// Server time in microseconds since the Unix epoch, the clock
    /// `published_at_us` is read from.
    now_us: u64,
}

/// `GET /api/time` → `{"now_us": 1795786447000000}`
pub async fn time() -> HttpResponse {
    HttpResponse::Ok()
        // A cached time is a wrong time.
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(Time { now_us: now_us() })
}
