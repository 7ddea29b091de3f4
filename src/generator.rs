//! The generator: random messages at a steady average rate, so the lanes
//! have something to show before anyone types.
//!
//! Gaps between messages are drawn from an exponential distribution (a
//! Poisson process), not a fixed timer. With a fixed timer, a client
//! polling at the same period would always see the same latency; with
//! random arrivals, polling latency shows its true spread: uniform between
//! 0 and the poll interval, T/2 on average.
//!
//! The rate can change while the server runs (`POST /api/generator`, see
//! `rate.rs`): it arrives through a `watch` channel, and the generator
//! drops the gap it was waiting out and draws a new one at the new rate.
//! Dropping it is fair because exponential gaps have no memory: the time
//! already waited says nothing about the time still to wait.
//!
//! With a shared broker every instance runs its own generator, so the
//! stream gets the sum of their rates; give all but one `--rate 0`.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::broker::Broker;

/// The author name generated messages carry.
pub const AUTHOR: &str = "generator";

/// The highest rate `POST /api/generator` accepts, in messages per second:
/// enough to flood every lane, not enough to hurt the server.
pub const MAX_RATE: f64 = 100.0;

/// Publishes at the rate `rate` holds (messages per second, on average)
/// until `shutdown`, following every change. A rate of 0 publishes nothing
/// until it changes.
pub async fn run(
    broker: Arc<dyn Broker>,
    mut rate: watch::Receiver<f64>,
    shutdown: CancellationToken,
) {
    let mut rng = StdRng::from_rng(&mut rand::rng());
    loop {
        let current = *rate.borrow_and_update();
        let gap = next_gap(current, &mut rng);
        tokio::select! {
            () = shutdown.cancelled() => return,
            changed = rate.changed() => {
                if changed.is_err() {
                    return; // the sender lives in AppState: gone means the server stopped
                }
            }
            () = sleep_or_forever(gap) => {
                let text = format!("The server is sending: {}", rng.random_range(0..1000));
                // A failed publish (the broker is away) is counted by the
                // broker; the generator just carries on with the next one.
                let _ = broker.publish(AUTHOR, &text).await;
            }
        }
    }
}

/// The wait before the next message at `rate`, or `None` when the rate is
/// 0 (or not a rate at all) and nothing is to be sent.
fn next_gap(rate: f64, rng: &mut StdRng) -> Option<Duration> {
    let gaps = Exp::new(rate).ok().filter(|_| rate > 0.0)?;
    Duration::try_from_secs_f64(gaps.sample(rng)).ok()
}

async fn sleep_or_forever(gap: Option<Duration>) {
    match gap {
        Some(gap) => tokio::time::sleep(gap).await,
        None => std::future::pending().await,
    }
}
