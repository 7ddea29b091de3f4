//! One tab's own figures: what its four lanes cost and received.
//!
//! The same figures as the class's ([`crate::stats`]) — requests, empty
//! answers, bytes each way with headers and framing, open connections,
//! messages delivered and missed, delivery latency — but for one tab, so a
//! student compares *their* lanes, not the room's. [`crate::plumbing::traffic`] counts
//! requests, bytes and open connections; the techniques count deliveries.
//!
//! Plain atomics, and the latency of the last [`LATENCY_SAMPLES`] live
//! deliveries per technique instead of a whole histogram (and of the last
//! [`BACKLOG_SAMPLES`] backlog ones, kept apart as the class's are: a
//! resume's catch-up measures the pause, not the technique): a tab's
//! figures cost about 10 KB however long it stays. `reset` starts them
//! from zero (the tab's "Reset counters", `POST /api/tabs/{id}/reset`);
//! the class's figures are not touched.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use crate::clock::now_us;
use crate::hub::Messages;
use crate::stats::{BacklogSnapshot, LatencySnapshot, live_after};
use crate::technique::Technique;

/// Live latencies kept per technique for the tab's percentiles.
pub const LATENCY_SAMPLES: usize = 256;

/// Backlog latencies kept per technique (a catch-up's are all alike).
pub const BACKLOG_SAMPLES: usize = 64;

/// A tab's figures, per technique.
pub struct TabCounters {
    techniques: [TechniqueCounters; 4],
}

impl Default for TabCounters {
    fn default() -> Self {
        TabCounters {
            techniques: Technique::ALL.map(|technique| TechniqueCounters {
                live_window: technique.live_window(),
                ..TechniqueCounters::default()
            }),
        }
    }
}

/// One technique's figures for one tab.
#[derive(Default)]
pub struct TechniqueCounters {
    pub requests: AtomicU64,
    pub empty_responses: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub messages_delivered: AtomicU64,
    pub messages_missed: AtomicU64,
    pub backlog_delivered: AtomicU64,
    /// Open now; not reset (a reset does not close anything).
    pub connections_open: AtomicU64,
    /// Deliveries' latency in µs, newest last.
    latency_us: Mutex<Samples>,
    /// Older than this when its request began, a message is a backlog
    /// delivery ([`Technique::live_window`], as for the class).
    live_window: std::time::Duration,
}

/// The latest latencies, live and backlog apart, in µs.
#[derive(Default)]
struct Samples {
    live: VecDeque<u64>,
    backlog: VecDeque<u64>,
}

impl Samples {
    fn clear(&mut self) {
        self.live.clear();
        self.backlog.clear();
    }
}

/// Appends `value`, dropping the oldest beyond `bound`. Once full, the
/// ring reuses its space: no allocation per delivery.
fn keep(ring: &mut VecDeque<u64>, bound: usize, value: u64) {
    if ring.len() == bound {
        ring.pop_front();
    }
    ring.push_back(value);
}

impl TabCounters {
    pub fn technique(&self, technique: Technique) -> &TechniqueCounters {
        &self.techniques[technique as usize]
    }

    /// Starts every figure but the open connections from zero.
    pub fn reset(&self) {
        for counters in &self.techniques {
            counters.reset();
        }
    }

    /// Every technique's figures, keyed by its name, as `/api/stats` keys
    /// the class's.
    pub fn snapshot(&self) -> TabSnapshot {
        Technique::ALL
            .into_iter()
            .map(|technique| (technique.name(), self.technique(technique).snapshot()))
            .collect()
    }
}

impl TechniqueCounters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn samples(&self) -> std::sync::MutexGuard<'_, Samples> {
        self.latency_us
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn reset(&self) {
        for counter in [
            &self.requests,
            &self.empty_responses,
            &self.bytes_in,
            &self.bytes_out,
            &self.messages_delivered,
            &self.messages_missed,
            &self.backlog_delivered,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        self.samples().clear();
    }

    fn snapshot(&self) -> TabTechniqueSnapshot {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let (live, backlog): (Vec<u64>, Vec<u64>) = {
            let samples = self.samples();
            (
                samples.live.iter().copied().collect(),
                samples.backlog.iter().copied().collect(),
            )
        };
        TabTechniqueSnapshot {
            requests: get(&self.requests),
            empty_responses: get(&self.empty_responses),
            connections_open: get(&self.connections_open),
            messages_delivered: get(&self.messages_delivered),
            messages_missed: get(&self.messages_missed),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
            latency_ms: LatencySnapshot::of_samples(live),
            backlog: BacklogSnapshot {
                messages_delivered: get(&self.backlog_delivered),
                latency_ms: LatencySnapshot::of_samples(backlog),
            },
        }
    }
}

/// `GET /api/tabs/{id}`'s figures, per technique (by name).
pub type TabSnapshot = BTreeMap<&'static str, TabTechniqueSnapshot>;

#[derive(Debug, Serialize)]
pub struct TabTechniqueSnapshot {
    pub requests: u64,
    pub empty_responses: u64,
    pub connections_open: u64,
    pub messages_delivered: u64,
    pub messages_missed: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Over the last [`LATENCY_SAMPLES`] live deliveries since the reset.
    pub latency_ms: LatencySnapshot,
    /// Deliveries that caught up a backlog (after a pause or a reconnect):
    /// how many since the reset, and the latency of the last
    /// [`BACKLOG_SAMPLES`].
    pub backlog: BacklogSnapshot,
}

impl TechniqueCounters {
    /// Counts messages handed to one of this tab's responses or frames, as
    /// [`crate::stats::TechniqueStats::delivered`] does for the class.
    pub fn delivered(&self, messages: &Messages) {
        if messages.is_empty() {
            return;
        }
        let now = now_us();
        let live_after = live_after(messages, now, self.live_window);
        let mut backlog = 0;
        // One lock for the batch, as for the class's histogram.
        let mut samples = self.samples();
        for message in messages {
            let latency = now.saturating_sub(message.published_at_us).max(1);
            if message.published_at_us < live_after {
                keep(&mut samples.backlog, BACKLOG_SAMPLES, latency);
                backlog += 1;
            } else {
                keep(&mut samples.live, LATENCY_SAMPLES, latency);
            }
        }
        drop(samples);
        Self::add(&self.messages_delivered, messages.len() as u64);
        Self::add(&self.backlog_delivered, backlog);
    }
}
