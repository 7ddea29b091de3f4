//! One tab's own figures: what its four lanes cost and received.
//!
//! The same figures as the class's ([`crate::stats`]) — requests, empty
//! answers, bytes each way with headers and framing, open connections,
//! messages delivered and missed, delivery latency — but for one tab, so a
//! student compares *their* lanes, not the room's. [`crate::traffic`] counts
//! requests, bytes and open connections; the techniques count deliveries.
//!
//! Plain atomics, and the latency of the last [`LATENCY_SAMPLES`] live
//! deliveries per technique instead of a whole histogram: a tab's figures
//! cost about 5 KB however long it stays. `reset` starts them from zero
//! (the tab's "Reset counters"); the class's figures are not touched.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use crate::hub::{Messages, now_us};
use crate::stats::{LatencySnapshot, Technique, live_after};

/// Latencies kept per technique for the tab's percentiles.
pub const LATENCY_SAMPLES: usize = 256;

/// A tab's figures, per technique.
#[derive(Default)]
pub struct TabCounters {
    techniques: [TechniqueCounters; 4],
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
    /// Live deliveries' latency in µs, newest last.
    latency_us: Mutex<VecDeque<u64>>,
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

    pub fn snapshot(&self) -> TabSnapshot {
        let of = |technique| self.technique(technique).snapshot();
        TabSnapshot {
            poll: of(Technique::poll),
            longpoll: of(Technique::longpoll),
            sse: of(Technique::sse),
            ws: of(Technique::ws),
        }
    }
}

impl TechniqueCounters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Records a live delivery's latency.
    pub fn latency(&self, latency_us: u64) {
        let mut samples = self
            .latency_us
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if samples.len() == LATENCY_SAMPLES {
            samples.pop_front();
        }
        samples.push_back(latency_us);
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
        self.latency_us
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn snapshot(&self) -> TabTechniqueSnapshot {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let samples: Vec<u64> = self
            .latency_us
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .collect();
        TabTechniqueSnapshot {
            requests: get(&self.requests),
            empty_responses: get(&self.empty_responses),
            connections_open: get(&self.connections_open),
            messages_delivered: get(&self.messages_delivered),
            messages_missed: get(&self.messages_missed),
            backlog_delivered: get(&self.backlog_delivered),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
            latency_ms: LatencySnapshot::of_samples(samples),
        }
    }
}

/// `GET /api/tabs/{id}`'s figures, per technique.
#[derive(Debug, Serialize)]
pub struct TabSnapshot {
    pub poll: TabTechniqueSnapshot,
    pub longpoll: TabTechniqueSnapshot,
    pub sse: TabTechniqueSnapshot,
    pub ws: TabTechniqueSnapshot,
}

#[derive(Debug, Serialize)]
pub struct TabTechniqueSnapshot {
    pub requests: u64,
    pub empty_responses: u64,
    pub connections_open: u64,
    pub messages_delivered: u64,
    pub messages_missed: u64,
    pub backlog_delivered: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Over the last [`LATENCY_SAMPLES`] live deliveries since the reset.
    pub latency_ms: LatencySnapshot,
}

impl TechniqueCounters {
    /// Counts messages handed to one of this tab's responses or frames, as
    /// [`crate::stats::TechniqueStats::delivered`] does for the class.
    pub fn delivered(&self, messages: &Messages) {
        if messages.is_empty() {
            return;
        }
        let now = now_us();
        let live_after = live_after(messages, now);
        let mut backlog = 0;
        for message in messages {
            if message.published_at_us < live_after {
                backlog += 1;
            } else {
                self.latency(now.saturating_sub(message.published_at_us).max(1));
            }
        }
        Self::add(&self.messages_delivered, messages.len() as u64);
        Self::add(&self.backlog_delivered, backlog);
    }
}
