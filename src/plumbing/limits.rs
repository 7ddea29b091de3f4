//! Limits: what the server refuses to take on, and how it says so.
//!
//! A server that accepts everything is one careless script (or one class of
//! thirty laptops with a reload key) away from running out of memory or file
//! descriptors, and then *every* client suffers. So there are two kinds of
//! limit, each with a flag (see [`crate::plumbing::config`]):
//!
//! - **How many connections stay open** per technique: WebSockets, SSE
//!   streams and parked long-polls each cost memory and a socket for as long
//!   as they last. One more than `--max-websockets`, `--max-sse` or
//!   `--max-longpolls` is refused with **503 Service Unavailable** and
//!   `Retry-After`: the server is full now, not broken, and the client
//!   should come back a little later. The check sits where the connection
//!   is counted, in [`crate::plumbing::traffic`], so "open" means the same thing for
//!   the gauge and for the limit. Short polls are not limited: they end at
//!   once.
//! - **How fast one client may publish**: every message wakes every
//!   subscriber, so a single client posting in a loop would cost everyone.
//!   Each client (an IP address) gets a token bucket — `--publish-burst`
//!   messages at once, refilled at `--publish-rate` per second — over
//!   `POST /api/messages` and WebSocket publish frames alike. One more is
//!   refused with **429 Too Many Requests** and `Retry-After` (over
//!   WebSocket: an error frame, and the connection stays open).
//!
//! - **How much may wait for one client**: a client that stops reading
//!   must not make the server hold an ever-growing queue for it. `/ws`'s
//!   frames are small and its session queue holds 32 of them; `/ws/echo`
//!   echoes messages of up to `--echo-max-message` bytes, so its queue is
//!   bounded in bytes (`--echo-max-queued`, see [`outbox`]), and its
//!   connections have their own limit, `--max-echo`, refused like the
//!   techniques' with 503.
//!
//! Every refusal is counted: `rejected` per technique, `publish_rejected`
//! for the publish rate, at `/api/stats` and `/metrics`; `/ws/echo`'s under
//! `echo`.

pub mod outbox;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use actix_web::http::StatusCode;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use prometheus_client::metrics::counter::Counter;

use crate::plumbing::error::ApiError;
use crate::technique::Technique;

/// How long a client refused for a full server is told to wait. Long
/// enough that thousands of refused clients don't retry in one storm,
/// short enough that a freed slot is taken again soon.
pub const FULL_RETRY_AFTER: Duration = Duration::from_secs(5);

/// How often the publish limiter forgets clients that have been quiet long
/// enough for their bucket to be full again: they are indistinguishable
/// from clients never seen, so keeping them only costs memory.
pub const FORGET_IDLE_EVERY: Duration = Duration::from_secs(60);

/// The 503 for one connection more than `max`.
pub fn full(technique: Technique, max: usize) -> ApiError {
    let what = match technique {
        Technique::poll => "short polls",
        Technique::longpoll => "parked long-polls",
        Technique::sse => "open SSE streams",
        Technique::ws => "open WebSockets",
    };
    server_full(what, max)
}

/// The 503 for one `/ws/echo` connection more than `--max-echo`.
pub fn echo_full(max: usize) -> ApiError {
    server_full("open /ws/echo connections", max)
}

fn server_full(what: &str, max: usize) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "server_full",
        format!("the server already has {max} {what}, its limit; try again later"),
    )
    .retry_after(FULL_RETRY_AFTER)
}

/// The per-client publish rate: one token bucket per IP address.
pub struct PublishLimiter {
    /// `None` when `--publish-rate 0`: publishing is unlimited.
    buckets: Option<DefaultKeyedRateLimiter<IpAddr>>,
    rate: u32,
    /// `publish_rejected` in the stats.
    rejected: Counter,
}

impl PublishLimiter {
    pub fn new(rate: u32, burst: u32, rejected: Counter) -> Self {
        let buckets = NonZeroU32::new(rate).map(|per_second| {
            let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
            RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
        });
        PublishLimiter {
            buckets,
            rate,
            rejected,
        }
    }

    /// Takes one publish from `client`'s bucket, or refuses with 429 and
    /// how long until the bucket has a token again.
    pub fn check(&self, client: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(buckets) = &self.buckets else {
            return Ok(());
        };
        let key = client.map_or(IpAddr::from([0, 0, 0, 0]), client_key);
        let Err(not_until) = buckets.check_key(&key) else {
            return Ok(());
        };
        self.rejected.inc();
        let wait = not_until.wait_time_from(buckets.clock().now());
        Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "at most {} messages per second per client; try again in {} ms",
                self.rate,
                wait.as_millis().max(1)
            ),
        )
        .retry_after(wait))
    }

    /// Forgets clients whose bucket is full again, so the map holds only
    /// clients that published recently, however many have come and gone.
    pub fn forget_idle(&self) {
        if let Some(buckets) = &self.buckets {
            buckets.retain_recent();
            buckets.shrink_to_fit();
        }
    }

    /// Clients the limiter remembers now.
    pub fn clients(&self) -> usize {
        self.buckets.as_ref().map_or(0, |b| b.len())
    }
}

/// Who a client is, for the publish rate and the per-client connection
/// limit (src/plumbing/connections.rs) alike. An IPv6 host usually owns a whole /64
/// and can pick a fresh address for every request, so IPv6 clients are told
/// apart by their /64 prefix; IPv4 clients (mapped ones too) by their address.
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_is_refused_with_a_wait() {
        let limiter = PublishLimiter::new(1, 3, Counter::default());
        let client = Some(IpAddr::from([10, 0, 0, 1]));
        for _ in 0..3 {
            assert!(limiter.check(client).is_ok());
        }
        let refused = limiter.check(client).unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(
            refused
                .retry_after
                .is_some_and(|w| w <= Duration::from_secs(1))
        );
        assert_eq!(limiter.rejected.get(), 1);
        // Another client has its own bucket.
        assert!(limiter.check(Some(IpAddr::from([10, 0, 0, 2]))).is_ok());
    }

    #[test]
    fn rate_zero_is_unlimited() {
        let limiter = PublishLimiter::new(0, 1, Counter::default());
        for _ in 0..1000 {
            assert!(limiter.check(None).is_ok());
        }
        assert_eq!(limiter.clients(), 0);
    }

    #[test]
    fn clients_whose_bucket_refilled_are_forgotten() {
        // 1,000 a second with a burst of 1: a bucket is full again after 1 ms.
        let limiter = PublishLimiter::new(1000, 1, Counter::default());
        for last in 0..=99 {
            assert!(limiter.check(Some(IpAddr::from([10, 0, 0, last]))).is_ok());
        }
        assert_eq!(limiter.clients(), 100);
        std::thread::sleep(Duration::from_millis(20)); // time itself refills
        limiter.forget_idle();
        assert_eq!(limiter.clients(), 0);
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64_prefix() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(client_key(mapped), IpAddr::from([10, 0, 0, 1]));
    }
}
