//! The generator: random messages at a steady average rate, so the lanes
//! have something to show before anyone types.
//!
//! Gaps between messages are drawn from an exponential distribution (a
//! Poisson process), not a fixed timer. With a fixed timer, a client
//! polling at the same period would always see the same latency; with
//! random arrivals, polling latency shows its true spread: uniform between
//! 0 and the poll interval, T/2 on average.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp};
use tokio_util::sync::CancellationToken;

use crate::hub::Hub;

/// The author name generated messages carry.
pub const AUTHOR: &str = "generator";

/// Publishes at `rate` messages per second on average until `shutdown`.
/// A rate of 0 publishes nothing.
pub async fn run(hub: Arc<Hub>, rate: f64, shutdown: CancellationToken) {
    let Ok(gaps) = Exp::new(rate) else { return };
    if rate <= 0.0 {
        return;
    }
    let mut rng = StdRng::from_rng(&mut rand::rng());
    loop {
        let gap = Duration::from_secs_f64(gaps.sample(&mut rng));
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(gap) => {}
        }
        let text = format!("The server is sending: {}", rng.random_range(0..1000));
        hub.publish(AUTHOR, &text);
    }
}
