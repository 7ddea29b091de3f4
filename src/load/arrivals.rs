//! When the load tool publishes: on a fixed schedule, or at random like
//! real traffic (`--arrivals fixed|poisson`).
//!
//! The choice decides what polling looks like. With one message a second on
//! a fixed schedule and a poll every second, almost every poll finds exactly
//! one message: polling looks as if it never wastes a request. Real
//! messages arrive at random, and with random (Poisson) arrivals at the
//! same average a poll interval holds no message with probability e^-1, so
//! about 37 % of the polls come back empty; others carry two or three. The
//! page's generator publishes the same way (`src/generator.rs`), so Poisson
//! is the default; `fixed` is there to reproduce older figures and for
//! fan-out bursts, where the evenness is the point.
//!
//! Either way the whole schedule is drawn before the first publish, and
//! every message carries the time it was *scheduled* for, so a slow server
//! cannot slow the publishing down and hide its own latency (coordinated
//! omission; see `publisher.rs`).

use std::time::Duration;

use clap::ValueEnum;
use rand::Rng;
use rand_distr::{Distribution, Exp};
use serde::Serialize;

/// How publishes are spread over the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Random gaps with the given average (exponential gaps: a Poisson process).
    #[default]
    Poisson,
    /// One message every 1/rate seconds exactly.
    Fixed,
}

/// The moments, from the start of the run, at which to publish `rate`
/// messages a second for `duration`.
pub fn schedule(
    arrivals: Arrivals,
    rate: f64,
    duration: Duration,
    rng: &mut impl Rng,
) -> Vec<Duration> {
    match arrivals {
        Arrivals::Fixed => fixed(rate, duration),
        Arrivals::Poisson => poisson(rate, duration, rng),
    }
}

/// `rate × duration` messages (rounded), evenly spaced from the start.
fn fixed(rate: f64, duration: Duration) -> Vec<Duration> {
    let total = (rate * duration.as_secs_f64()).round() as u64;
    if total == 0 {
        return Vec::new();
    }
    let period = duration.as_secs_f64() / total as f64;
    (0..total)
        .map(|seq| Duration::from_secs_f64(period * seq as f64))
        .collect()
}

/// Exponential gaps of mean 1/rate, until the run is over.
fn poisson(rate: f64, duration: Duration, rng: &mut impl Rng) -> Vec<Duration> {
    let Ok(gaps) = Exp::new(rate) else {
        return Vec::new();
    };
    if rate <= 0.0 {
        return Vec::new();
    }
    let end = duration.as_secs_f64();
    let mut at = gaps.sample(rng);
    let mut moments = Vec::with_capacity((rate * end * 1.1) as usize + 1);
    while at < end {
        moments.push(Duration::from_secs_f64(at));
        at += gaps.sample(rng);
    }
    moments
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    /// The share of polls, one every `interval` from a random phase, that
    /// find no message published since the poll before.
    fn empty_poll_share(moments: &[Duration], interval: f64, duration: f64, phase: f64) -> f64 {
        let mut polls = 0;
        let mut empty = 0;
        let mut next = phase + interval;
        // The first poll, at `phase`, took everything before it.
        let mut i = moments.partition_point(|m| m.as_secs_f64() < phase);
        while next <= duration {
            let start = i;
            while i < moments.len() && moments[i].as_secs_f64() < next {
                i += 1;
            }
            polls += 1;
            if i == start {
                empty += 1;
            }
            next += interval;
        }
        empty as f64 / polls as f64
    }

    #[test]
    fn a_fixed_schedule_is_evenly_spaced() {
        let moments = fixed(4.0, Duration::from_secs(10));
        assert_eq!(moments.len(), 40);
        assert_eq!(moments[0], Duration::ZERO);
        assert!((moments[1].as_secs_f64() - 0.25).abs() < 1e-9);
        assert!(fixed(0.0, Duration::from_secs(10)).is_empty());
    }

    #[test]
    fn poisson_arrivals_keep_the_average_rate() {
        let mut rng = StdRng::seed_from_u64(7);
        let moments = poisson(5.0, Duration::from_secs(2000), &mut rng);
        let rate = moments.len() as f64 / 2000.0;
        assert!((4.8..5.2).contains(&rate), "rate {rate}");
        assert!(moments.windows(2).all(|pair| pair[0] <= pair[1]));
        assert!(poisson(0.0, Duration::from_secs(10), &mut rng).is_empty());
    }

    /// The two regimes: 1 msg/s, a poll every 1 s.
    #[test]
    fn fixed_leaves_almost_no_empty_polls_and_poisson_about_e_to_the_minus_one() {
        let mut rng = StdRng::seed_from_u64(11);
        let duration = Duration::from_secs(5000);
        let phase = 0.37; // a client's timer starts at a random moment
        let even = schedule(Arrivals::Fixed, 1.0, duration, &mut rng);
        let random = schedule(Arrivals::Poisson, 1.0, duration, &mut rng);
        let fixed_share = empty_poll_share(&even, 1.0, 5000.0, phase);
        let poisson_share = empty_poll_share(&random, 1.0, 5000.0, phase);
        assert!(fixed_share < 0.01, "fixed: {fixed_share}");
        let expected = (-1.0f64).exp();
        assert!(
            (poisson_share - expected).abs() < 0.03,
            "poisson: {poisson_share}, e^-1 = {expected}"
        );
    }
}
