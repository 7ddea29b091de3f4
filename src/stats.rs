//! The counters: what the class sees, measured per technique.
//!
//! For each technique the server counts requests (for SSE and WebSocket:
//! connections opened), responses that carried nothing, connections open
//! now, messages delivered and missed, bytes on the wire each way, and the
//! delivery latency — publish time to the moment the message is handed to
//! that technique's response or frame — in an HdrHistogram.
//!
//! The same figures are served twice: as JSON at `/api/stats` for the page,
//! and as Prometheus/OpenMetrics text at `/metrics`. The counters live in
//! prometheus-client's atomic types, so both read the same numbers.
//! Bytes are counted by [`crate::plumbing::traffic`]; deliveries by the techniques.
//! Refusals at a limit ([`crate::plumbing::limits`]) are counted too: `rejected` per
//! technique for connections turned away, and `publish_rejected` for
//! messages over a client's publish rate. With a shared broker
//! ([`crate::broker`]) each instance also reports the broker: reachable or
//! not, its round-trip time, failed publishes and epoch resets.
//! `/ws/echo`, the demo endpoint, is not a technique (it carries no hub
//! messages), but it is traffic like any other: its connections, bytes,
//! refusals and slow consumers are counted apart, under `echo`.
//!
//! Latency percentiles are of *live* deliveries only. A client that comes
//! back after a pause or a reconnect, or reads the whole ring with
//! `since=0`, gets messages that were published long before it asked; their
//! latency measures its absence, and one such client would otherwise move
//! everyone's p99. A message published well before the request or
//! connection that delivers it began — by more than [`LIVE_WINDOW`] for a
//! short poll, [`ASKS_AGAIN_WINDOW`] for the others ([`Technique::live_window`])
//! — is a *backlog* delivery: counted in `backlog` with its own percentiles. Reads that took the whole
//! ring are counted in `full_ring_reads`.
//!
//! The counters and percentiles above cover the server's whole run: one
//! bad minute an hour ago stays in the p99 for good. So each technique
//! also reports a `recent` window ([`RECENT_WINDOW`], the last 60 s): the
//! live latency percentiles and the backlog deliveries of that window
//! alone, from a few histograms that take turns ([`RECENT_SLOTS`] of
//! 10 s each, the oldest emptied for reuse) and are merged when read.
//! Recording stays one lock per batch, with no allocation.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::clock::now_us;
use crate::hub::{Batch, Hub, Messages};
use crate::technique::Technique;

impl Technique {
    /// How long before its request or connection began a message may have
    /// been published and still be a live delivery of this technique.
    pub fn live_window(self) -> Duration {
        match self {
            Technique::poll => LIVE_WINDOW,
            Technique::longpoll | Technique::sse | Technique::ws => ASKS_AGAIN_WINDOW,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TechniqueLabel {
    technique: Technique,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QuantileLabel {
    technique: Technique,
    quantile: &'static str,
}

/// Latencies are recorded in microseconds, up to an hour, to 3 significant
/// digits: enough to tell 1.23 ms from 1.24 ms without a large table.
const LATENCY_MAX_US: u64 = 3_600_000_000;

/// How long before its request or connection began a message may have been
/// published and still count as a live delivery. A short poll's messages
/// all predate its request — by up to one poll interval for a client that
/// keeps polling — so the window is the page's longest poll interval
/// (10 s). A message older than that when its reader asked was waiting for
/// a client that was away: a backlog delivery.
pub const LIVE_WINDOW: Duration = Duration::from_secs(10);

/// The same for a long-poll, an SSE stream and a WebSocket. A long-poll
/// asks again as soon as it has its answer, and a stream, once open, gets
/// every message as it is published: what its request or connection finds
/// waiting from before was published while the client was away (paused,
/// reconnecting, backing off). A second covers the time a busy machine
/// takes to ask again; a pause of a few seconds is longer.
pub const ASKS_AGAIN_WINDOW: Duration = Duration::from_secs(1);

/// What `recent` covers: the latency of the class's last minute, not of
/// the whole run.
pub const RECENT_WINDOW: Duration = Duration::from_secs(60);

/// The recent window is this many slots, each a histogram of one slice of
/// it; a read merges them. The window read is the current slot and the
/// ones before it: between 50 and 60 s of deliveries.
pub const RECENT_SLOTS: usize = 6;

/// One slot's slice of the window, in µs.
const SLOT_US: u64 = RECENT_WINDOW.as_micros() as u64 / RECENT_SLOTS as u64;

/// What [`crate::plumbing::traffic`] counts for a route: requests, what is open now,
/// bytes each way and refusals at the route's limit.
#[derive(Default)]
pub struct WireStats {
    /// HTTP requests; for SSE and WebSockets, connections opened.
    pub requests: Counter,
    pub connections_open: Gauge,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    /// Requests turned away with 503 because the route was at its limit.
    pub rejected: Counter,
    /// Requests that came over HTTP/2, whose heads' bytes are estimated
    /// (src/plumbing/hpack.rs).
    pub http2_requests: Counter,
}

impl WireStats {
    /// The figures that are estimates: the byte counts, once a request came
    /// over HTTP/2 (its heads are HPACK-compressed out of pushlab's sight).
    pub fn estimated(&self) -> &'static [&'static str] {
        if self.http2_requests.get() > 0 {
            &["bytes_in", "bytes_out"]
        } else {
            &[]
        }
    }
}

/// The counters of one technique.
pub struct TechniqueStats {
    pub wire: WireStats,
    pub empty_responses: Counter,
    /// Every message handed over, live and backlog alike (bytes per message
    /// divides by this: the backlog's bytes were sent too).
    pub messages_delivered: Counter,
    pub messages_missed: Counter,
    /// Times a client that stopped reading fell too far behind: a WebSocket
    /// dropped because its queue stayed full, or a stream gapped because
    /// its hub queue overflowed and the ring no longer held what it missed.
    /// One slow client must cost a bounded amount, and be seen.
    pub slow_consumers: Counter,
    /// Reads that took everything the ring holds: `since=0`, or a cursor
    /// from before the oldest retained message or from another run. A
    /// client that polls `since=0` over and over shows up here.
    full_ring_reads: Counter,
    /// See [`Technique::live_window`].
    live_window: Duration,
    /// Backlog deliveries: messages published more than `live_window`
    /// before their request or connection began.
    backlog_delivered: Counter,
    /// Live deliveries' latency, over the run and recently. A plain mutex:
    /// recording takes nanoseconds and never awaits.
    latency: Mutex<LiveLatency>,
    /// Backlog deliveries' latency, kept apart so that one client's resume
    /// does not move everyone's percentiles.
    backlog_latency: Mutex<Histogram<u64>>,
}

impl TechniqueStats {
    /// Counts messages handed to a response or frame now, and how late
    /// each one is: live ones in `latency_ms`, a backlog apart. Costs no
    /// more than before for a batch without backlog: the split is one
    /// comparison per message.
    pub fn delivered(&self, messages: &Messages) {
        if messages.is_empty() {
            return;
        }
        let now = now_us();
        self.messages_delivered.inc_by(messages.len() as u64);
        if messages.whole_ring() {
            self.full_ring_reads.inc();
        }
        let live_after = live_after(messages, now, self.live_window);
        let mut live = lock(&self.latency);
        let slot = live.recent.slot(now);
        let mut backlog = None;
        let mut backlog_count = 0;
        for message in messages {
            let latency = now.saturating_sub(message.published_at_us).max(1);
            if message.published_at_us < live_after {
                // Locked only when there is a backlog, always after `live`.
                backlog
                    .get_or_insert_with(|| lock(&self.backlog_latency))
                    .saturating_record(latency);
                backlog_count += 1;
            } else {
                live.total.saturating_record(latency);
                live.recent.slots[slot].saturating_record(latency);
            }
        }
        if backlog_count > 0 {
            live.recent.backlog[slot] += backlog_count;
            self.backlog_delivered.inc_by(backlog_count);
        }
    }

    /// Counts messages a client asked for but can no longer get.
    pub fn missed(&self, missed: u64) {
        if missed > 0 {
            self.messages_missed.inc_by(missed);
        }
    }

    /// Counts a gap that a subscriber earned by falling behind, as opposed
    /// to one it asked for with an old cursor.
    pub fn gapped(&self, batch: &Batch) {
        if batch.lagged && batch.missed > 0 {
            self.slow_consumers.inc();
        }
    }

    pub fn snapshot(&self) -> TechniqueSnapshot {
        TechniqueSnapshot {
            requests: self.wire.requests.get(),
            empty_responses: self.empty_responses.get(),
            connections_open: self.wire.connections_open.get().max(0) as u64,
            messages_delivered: self.messages_delivered.get(),
            messages_missed: self.messages_missed.get(),
            bytes_in: self.wire.bytes_in.get(),
            bytes_out: self.wire.bytes_out.get(),
            rejected: self.wire.rejected.get(),
            http2_requests: self.wire.http2_requests.get(),
            estimated: self.wire.estimated(),
            slow_consumers: self.slow_consumers.get(),
            full_ring_reads: self.full_ring_reads.get(),
            latency_ms: self.latency_ms(),
            backlog: BacklogSnapshot {
                messages_delivered: self.backlog_delivered.get(),
                latency_ms: self.backlog_latency_ms(),
            },
            recent: lock(&self.latency).recent.snapshot(now_us()),
        }
    }

    fn latency_ms(&self) -> LatencySnapshot {
        LatencySnapshot::of_histogram(&lock(&self.latency).total)
    }

    fn backlog_latency_ms(&self) -> LatencySnapshot {
        LatencySnapshot::of(&self.backlog_latency)
    }
}

/// Messages of `messages` published before this time (µs) are a backlog.
/// A batch handed over as its request or connection begins (a read, a
/// subscription's first batch) has `now` for that beginning; a later one
/// holds only messages published since: no backlog.
pub fn live_after(messages: &Messages, now: u64, window: Duration) -> u64 {
    if messages.all_live() {
        0
    } else {
        now.saturating_sub(window.as_micros() as u64)
    }
}

fn lock<T>(histogram: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    histogram.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Live deliveries' latency in µs: over the whole run, and over the recent
/// window.
struct LiveLatency {
    total: Histogram<u64>,
    recent: Recent,
}

impl LiveLatency {
    fn new() -> LiveLatency {
        LiveLatency {
            total: new_histogram(),
            recent: Recent::new(),
        }
    }
}

/// The recent window: [`RECENT_SLOTS`] histograms that take turns, each
/// holding one slice of [`SLOT_US`], and the backlog deliveries of each.
/// Two significant digits (a tenth of the whole run's size): a recent
/// p99 of 41.5 ms reads 42 ms, and six slots per technique cost little.
struct Recent {
    slots: [Histogram<u32>; RECENT_SLOTS],
    backlog: [u64; RECENT_SLOTS],
    /// Which slice of time (µs since 1970 ÷ [`SLOT_US`]) each slot holds.
    slice: [u64; RECENT_SLOTS],
}

impl Recent {
    fn new() -> Recent {
        Recent {
            slots: std::array::from_fn(|_| {
                Histogram::new_with_bounds(1, LATENCY_MAX_US, 2)
                    .expect("constant histogram bounds are valid")
            }),
            backlog: [0; RECENT_SLOTS],
            slice: [0; RECENT_SLOTS],
        }
    }

    /// The slot for a delivery at `now_us`; emptied first if it held an
    /// older slice (reset keeps its memory: nothing is allocated).
    fn slot(&mut self, now_us: u64) -> usize {
        let slice = now_us / SLOT_US;
        let slot = (slice % RECENT_SLOTS as u64) as usize;
        if self.slice[slot] != slice {
            self.slots[slot].reset();
            self.backlog[slot] = 0;
            self.slice[slot] = slice;
        }
        slot
    }

    /// The slots of the window that ends at `now_us`, merged.
    fn snapshot(&self, now_us: u64) -> RecentSnapshot {
        let current = now_us / SLOT_US;
        let mut merged = Histogram::<u64>::new_with_bounds(1, LATENCY_MAX_US, 2)
            .expect("constant histogram bounds are valid");
        let mut backlog = 0;
        for slot in 0..RECENT_SLOTS {
            let slice = self.slice[slot];
            if slice <= current && current - slice < RECENT_SLOTS as u64 {
                for value in self.slots[slot].iter_recorded() {
                    let count = value.count_at_value();
                    merged.saturating_record_n(value.value_iterated_to(), count.into());
                }
                backlog += self.backlog[slot];
            }
        }
        RecentSnapshot {
            window_s: RECENT_WINDOW.as_secs(),
            latency_ms: LatencySnapshot::of_histogram(&merged),
            backlog_delivered: backlog,
        }
    }
}

/// `/api/stats`, per technique.
#[derive(Debug, Serialize)]
pub struct TechniqueSnapshot {
    pub requests: u64,
    pub empty_responses: u64,
    pub connections_open: u64,
    /// Live and backlog deliveries together.
    pub messages_delivered: u64,
    pub messages_missed: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub rejected: u64,
    /// Requests over HTTP/2; when there are any, `bytes_in` and
    /// `bytes_out` hold estimates of their heads.
    pub http2_requests: u64,
    /// The figures above that are estimates, not counted to the byte.
    pub estimated: &'static [&'static str],
    pub slow_consumers: u64,
    pub full_ring_reads: u64,
    /// Live deliveries only.
    pub latency_ms: LatencySnapshot,
    pub backlog: BacklogSnapshot,
    /// The last minute alone.
    pub recent: RecentSnapshot,
}

/// `/api/stats`, per technique: the recent window's figures.
#[derive(Debug, Serialize)]
pub struct RecentSnapshot {
    /// How long the window is, in seconds.
    pub window_s: u64,
    /// Live deliveries' latency in the window.
    pub latency_ms: LatencySnapshot,
    /// Backlog deliveries in the window.
    pub backlog_delivered: u64,
}

/// `/api/stats`, per technique: deliveries that caught up a backlog.
#[derive(Debug, Serialize)]
pub struct BacklogSnapshot {
    pub messages_delivered: u64,
    pub latency_ms: LatencySnapshot,
}

#[derive(Debug, Default, Serialize)]
pub struct LatencySnapshot {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl LatencySnapshot {
    /// The quantiles of a histogram of microseconds, in milliseconds.
    fn of(histogram: &Mutex<Histogram<u64>>) -> LatencySnapshot {
        Self::of_histogram(&lock(histogram))
    }

    fn of_histogram(h: &Histogram<u64>) -> LatencySnapshot {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return LatencySnapshot::default();
        }
        LatencySnapshot {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }

    /// The quantiles of a few samples of microseconds (nearest rank), in
    /// milliseconds: a tab's latency ([`crate::tabs::counters`]).
    pub fn of_samples(mut samples_us: Vec<u64>) -> LatencySnapshot {
        if samples_us.is_empty() {
            return LatencySnapshot::default();
        }
        samples_us.sort_unstable();
        let at = |q: f64| {
            let rank = (q * samples_us.len() as f64).ceil() as usize;
            samples_us[rank.clamp(1, samples_us.len()) - 1] as f64 / 1000.0
        };
        LatencySnapshot {
            count: samples_us.len() as u64,
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: at(1.0),
        }
    }

    /// The quantiles as `/metrics` labels them.
    fn quantiles(&self) -> [(&'static str, f64); 4] {
        [
            ("0.5", self.p50),
            ("0.9", self.p90),
            ("0.99", self.p99),
            ("1", self.max),
        ]
    }
}

/// `/ws/echo`, the article's echo demo: its traffic, counted apart from
/// the four techniques so that the demo does not move their figures.
pub struct EchoStats {
    /// Requests, connections open now, bytes each way and refusals at
    /// `--max-echo`, counted by [`crate::plumbing::traffic`].
    pub wire: WireStats,
    /// WebSocket sessions opened (handshakes that succeeded).
    pub connections: Counter,
    /// Messages sent back.
    pub messages: Counter,
    /// Sessions closed because their client stopped reading while more than
    /// `--echo-max-queued` bytes waited for it.
    pub slow_consumers: Counter,
}

impl EchoStats {
    fn new(registry: &mut Registry) -> EchoStats {
        let stats = EchoStats {
            wire: WireStats::default(),
            connections: Counter::default(),
            messages: Counter::default(),
            slow_consumers: Counter::default(),
        };
        let counters = [
            (
                "echo_requests",
                "HTTP requests to /ws/echo",
                &stats.wire.requests,
            ),
            (
                "echo_connections",
                "WebSocket sessions opened on /ws/echo",
                &stats.connections,
            ),
            (
                "echo_messages",
                "Messages /ws/echo sent back",
                &stats.messages,
            ),
            (
                "echo_bytes_in",
                "Bytes received on /ws/echo, handshakes and frame headers included",
                &stats.wire.bytes_in,
            ),
            (
                "echo_bytes_out",
                "Bytes sent on /ws/echo, handshakes and frame headers included",
                &stats.wire.bytes_out,
            ),
            (
                "echo_rejected",
                "Handshakes refused with 503: /ws/echo was at --max-echo",
                &stats.wire.rejected,
            ),
            (
                "echo_slow_consumers",
                "/ws/echo sessions closed because their client stopped reading",
                &stats.slow_consumers,
            ),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "echo_connections_open",
            "WebSocket connections open on /ws/echo now",
            stats.wire.connections_open.clone(),
        );
        stats
    }

    fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "connections_open": self.wire.connections_open.get().max(0),
            "connections": self.connections.get(),
            "requests": self.wire.requests.get(),
            "messages": self.messages.get(),
            "bytes_in": self.wire.bytes_in.get(),
            "bytes_out": self.wire.bytes_out.get(),
            "rejected": self.wire.rejected.get(),
            "slow_consumers": self.slow_consumers.get(),
        })
    }
}

/// What an instance knows about its broker. With the in-process broker it
/// is always connected and never round-trips.
pub struct BrokerStats {
    connected: Gauge,
    round_trip: Mutex<Histogram<u64>>,
    round_trip_gauges: Family<BrokerQuantileLabel, Gauge<f64, AtomicU64>>,
    publish_errors: Counter,
    epoch_resets: Counter,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BrokerQuantileLabel {
    quantile: &'static str,
}

impl BrokerStats {
    fn new(registry: &mut Registry) -> BrokerStats {
        let stats = BrokerStats {
            connected: Gauge::default(),
            round_trip: Mutex::new(new_histogram()),
            round_trip_gauges: Family::default(),
            publish_errors: Counter::default(),
            epoch_resets: Counter::default(),
        };
        stats.connected.set(1);
        registry.register(
            "broker_connected",
            "1 while the message broker is reachable, 0 during an outage",
            stats.connected.clone(),
        );
        registry.register(
            "broker_round_trip_ms",
            "Round trips to the broker (publishes and pings), milliseconds",
            stats.round_trip_gauges.clone(),
        );
        registry.register(
            "broker_publish_errors",
            "Publishes refused with 503: the broker could not be reached",
            stats.publish_errors.clone(),
        );
        registry.register(
            "broker_epoch_resets",
            "Times the broker started a new epoch (it lost its data)",
            stats.epoch_resets.clone(),
        );
        stats
    }

    pub fn set_connected(&self, connected: bool) {
        self.connected.set(connected.into());
    }

    pub fn round_trip(&self, took: Duration) {
        let mut h = self
            .round_trip
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        h.saturating_record((took.as_micros() as u64).max(1));
    }

    pub fn publish_failed(&self) {
        self.publish_errors.inc();
    }

    pub fn epoch_reset(&self) {
        self.epoch_resets.inc();
    }

    /// The broker's figures; which broker it is, `/api/stats` adds
    /// ([`crate::api::stats`]), so that the counters need not know the
    /// brokers that report to them.
    fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "connected": self.connected.get() == 1,
            "round_trip_ms": LatencySnapshot::of(&self.round_trip),
            "publish_errors": self.publish_errors.get(),
            "epoch_resets": self.epoch_resets.get(),
        })
    }

    fn update_metrics(&self) {
        for (quantile, value) in LatencySnapshot::of(&self.round_trip).quantiles() {
            let label = BrokerQuantileLabel { quantile };
            self.round_trip_gauges.get_or_create(&label).set(value);
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("constant histogram bounds are valid")
}

/// All counters of the server.
pub struct Stats {
    started: Instant,
    techniques: [TechniqueStats; 4],
    registry: Registry,
    latency_gauges: Family<QuantileLabel, Gauge<f64, AtomicU64>>,
    backlog_latency_gauges: Family<QuantileLabel, Gauge<f64, AtomicU64>>,
    hub_gauges: [Gauge; 3],
    uptime: Gauge,
    /// Publishes refused because their client was over its rate.
    pub publish_rejected: Counter,
    pub broker: Arc<BrokerStats>,
    pub echo: EchoStats,
}

impl Stats {
    pub fn new() -> Stats {
        let mut registry = Registry::with_prefix("pushlab");
        let mut family = |name: &str, help: &str| {
            let family = Family::<TechniqueLabel, Counter>::default();
            registry.register(name, help, family.clone());
            family
        };
        let requests = family(
            "requests",
            "HTTP requests (SSE, WebSocket: connections opened)",
        );
        let empty = family("empty_responses", "Responses that carried no message");
        let delivered = family(
            "messages_delivered",
            "Messages handed to a response or frame",
        );
        let missed = family(
            "messages_missed",
            "Messages a client asked for that were no longer retained",
        );
        let bytes_in = family(
            "bytes_in",
            "Bytes received, request heads and frame headers included",
        );
        let bytes_out = family(
            "bytes_out",
            "Bytes sent, response heads and frame headers included",
        );
        let rejected = family(
            "rejected",
            "Requests refused with 503: the technique was at its connection limit",
        );
        let slow = family(
            "slow_consumers",
            "Times a client that stopped reading was dropped (WebSocket) or gapped",
        );
        let full_ring = family(
            "full_ring_reads",
            "Reads that took every retained message (since=0, or a cursor too old or foreign)",
        );
        let backlog = family(
            "backlog_messages_delivered",
            "Messages delivered that were published well before their request or connection \
             began (a resume), kept out of the latency quantiles",
        );
        let open = Family::<TechniqueLabel, Gauge>::default();
        registry.register(
            "connections_open",
            "Requests or connections open now",
            open.clone(),
        );
        let latency_gauges = Family::<QuantileLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "delivery_latency_ms",
            "Publish-to-hand-over latency quantiles of live deliveries, milliseconds",
            latency_gauges.clone(),
        );
        let backlog_latency_gauges = Family::<QuantileLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "backlog_delivery_latency_ms",
            "Publish-to-hand-over latency quantiles of backlog deliveries, milliseconds",
            backlog_latency_gauges.clone(),
        );
        let mut gauge = |name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let hub_gauges = [
            gauge("hub_last_id", "Newest message id (= messages published)"),
            gauge("hub_subscribers", "Subscribers waiting on the hub"),
            gauge("hub_lagged", "Times a subscriber's queue overflowed"),
        ];
        let uptime = gauge("uptime_seconds", "Seconds since start-up");
        let publish_rejected = Counter::default();
        registry.register(
            "publish_rejected",
            "Publishes refused with 429: the client was over its publish rate",
            publish_rejected.clone(),
        );

        let techniques = Technique::ALL.map(|technique| {
            let label = TechniqueLabel { technique };
            TechniqueStats {
                wire: WireStats {
                    requests: requests.get_or_create(&label).clone(),
                    connections_open: open.get_or_create(&label).clone(),
                    bytes_in: bytes_in.get_or_create(&label).clone(),
                    bytes_out: bytes_out.get_or_create(&label).clone(),
                    rejected: rejected.get_or_create(&label).clone(),
                    http2_requests: Counter::default(),
                },
                empty_responses: empty.get_or_create(&label).clone(),
                messages_delivered: delivered.get_or_create(&label).clone(),
                messages_missed: missed.get_or_create(&label).clone(),
                slow_consumers: slow.get_or_create(&label).clone(),
                full_ring_reads: full_ring.get_or_create(&label).clone(),
                backlog_delivered: backlog.get_or_create(&label).clone(),
                live_window: technique.live_window(),
                latency: Mutex::new(LiveLatency::new()),
                backlog_latency: Mutex::new(new_histogram()),
            }
        });
        let broker = Arc::new(BrokerStats::new(&mut registry));
        let echo = EchoStats::new(&mut registry);
        Stats {
            started: Instant::now(),
            techniques,
            registry,
            latency_gauges,
            backlog_latency_gauges,
            hub_gauges,
            uptime,
            publish_rejected,
            broker,
            echo,
        }
    }

    pub fn technique(&self, technique: Technique) -> &TechniqueStats {
        &self.techniques[technique as usize]
    }

    /// The JSON document of `/api/stats`.
    pub fn snapshot(&self, hub: &Hub) -> serde_json::Value {
        let techniques: serde_json::Map<String, serde_json::Value> = Technique::ALL
            .iter()
            .map(|&t| {
                let snapshot = serde_json::to_value(self.technique(t).snapshot())
                    .expect("plain numbers serialise");
                (t.name().to_owned(), snapshot)
            })
            .collect();
        serde_json::json!({
            "uptime_s": self.started.elapsed().as_secs_f64().round() as u64,
            "hub": {
                "epoch": hub.epoch(),
                "last_id": hub.last_id(),
                "published": hub.published(),
                "subscribers": hub.subscribers(),
                "lagged": hub.lagged(),
            },
            "broker": self.broker.snapshot(),
            "techniques": techniques,
            "publish_rejected": self.publish_rejected.get(),
            "echo": self.echo.snapshot(),
            "process": crate::process::own(),
        })
    }

    /// The text of `/metrics`.
    pub fn metrics(&self, hub: &Hub) -> String {
        for technique in Technique::ALL {
            let stats = self.technique(technique);
            for (gauges, latency) in [
                (&self.latency_gauges, stats.latency_ms()),
                (&self.backlog_latency_gauges, stats.backlog_latency_ms()),
            ] {
                for (quantile, value) in latency.quantiles() {
                    let label = QuantileLabel {
                        technique,
                        quantile,
                    };
                    gauges.get_or_create(&label).set(value);
                }
            }
        }
        let [last_id, subscribers, lagged] = &self.hub_gauges;
        last_id.set(hub.last_id() as i64);
        subscribers.set(hub.subscribers() as i64);
        lagged.set(hub.lagged() as i64);
        self.broker.update_metrics();
        self.uptime.set(self.started.elapsed().as_secs() as i64);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Since;

    /// A replica hub holding messages published `ages` ago (the broker's
    /// path lets the publish time be given).
    fn hub_with_ages(ages: &[Duration]) -> Arc<Hub> {
        let hub = Hub::replica(16);
        for (id, age) in (1..).zip(ages) {
            hub.apply(id, "a", "x", now_us() - age.as_micros() as u64);
        }
        hub
    }

    #[test]
    fn messages_older_than_the_window_when_read_are_a_backlog_apart() {
        let old = LIVE_WINDOW + Duration::from_secs(50);
        let hub = hub_with_ages(&[old, old, Duration::from_millis(5)]);
        let stats = Stats::new();
        let poll = stats.technique(Technique::poll);
        poll.delivered(&hub.read_now(Since::After(0)).batch.messages);
        let snapshot = poll.snapshot();
        assert_eq!(snapshot.messages_delivered, 3);
        assert_eq!(snapshot.latency_ms.count, 1);
        assert!(snapshot.latency_ms.max < 1000.0);
        assert_eq!(snapshot.backlog.messages_delivered, 2);
        assert_eq!(snapshot.backlog.latency_ms.count, 2);
        assert!(snapshot.backlog.latency_ms.p50 >= old.as_millis() as f64 - 1.0);
        assert_eq!(snapshot.full_ring_reads, 1);
    }

    #[test]
    fn a_read_from_inside_the_ring_is_no_full_ring_read() {
        let hub = hub_with_ages(&[Duration::ZERO; 3]);
        let stats = Stats::new();
        let poll = stats.technique(Technique::poll);
        poll.delivered(&hub.read_now(Since::After(1)).batch.messages);
        assert_eq!(poll.snapshot().full_ring_reads, 0);
        assert_eq!(poll.snapshot().latency_ms.count, 2);
    }

    #[tokio::test]
    async fn a_subscribers_later_batches_are_live_however_late() {
        let hub = Hub::replica(16);
        let mut subscription = hub.subscribe_now(Since::Now);
        // Published after the subscriber began, though stamped long ago
        // (a slow hand-over, as far as the counters can tell).
        hub.apply(1, "a", "x", now_us() - 60_000_000);
        let batch = subscription.recv().await;
        assert!(batch.messages.all_live());
        let stats = Stats::new();
        let ws = stats.technique(Technique::ws);
        ws.delivered(&batch.messages);
        assert_eq!(ws.snapshot().latency_ms.count, 1);
        assert_eq!(ws.snapshot().backlog.messages_delivered, 0);
    }

    #[test]
    fn the_recent_window_forgets_what_is_older_than_a_minute() {
        let mut recent = Recent::new();
        let start = 1_000 * SLOT_US; // the beginning of a slot
        let slot = recent.slot(start);
        recent.slots[slot].saturating_record(12_000_000); // 12 s: a bad moment
        recent.backlog[slot] += 2;
        let later = start + SLOT_US + 1;
        let slot = recent.slot(later);
        recent.slots[slot].saturating_record(40_000);

        let now = recent.snapshot(later);
        assert_eq!(now.window_s, 60);
        assert_eq!(now.latency_ms.count, 2);
        assert!(now.latency_ms.p99 > 11_000.0);
        assert_eq!(now.backlog_delivered, 2);

        // A minute after the bad moment, its slot has left the window.
        let minute_on = start + RECENT_SLOTS as u64 * SLOT_US;
        let after = recent.snapshot(minute_on);
        assert_eq!(after.latency_ms.count, 1);
        assert!((after.latency_ms.p99 - 40.0).abs() < 1.0, "{after:?}");
        assert_eq!(after.backlog_delivered, 0);
        // Reused for the new slice, the slot starts empty.
        let slot = recent.slot(minute_on);
        assert!(recent.slots[slot].is_empty());
        assert_eq!(recent.snapshot(minute_on + 2 * SLOT_US).latency_ms.count, 0);
    }

    #[test]
    fn deliveries_land_in_the_recent_window_too() {
        let hub = hub_with_ages(&[Duration::from_millis(5), LIVE_WINDOW * 3]);
        let stats = Stats::new();
        let sse = stats.technique(Technique::sse);
        sse.delivered(&hub.read_now(Since::After(0)).batch.messages);
        let recent = sse.snapshot().recent;
        assert_eq!(recent.latency_ms.count, 1);
        assert_eq!(recent.backlog_delivered, 1);
    }

    #[test]
    fn a_few_seconds_away_are_a_backlog_for_all_but_a_short_poll() {
        let away = Duration::from_secs(3);
        let hub = hub_with_ages(&[away, Duration::from_millis(5)]);
        let stats = Stats::new();
        for technique in Technique::ALL {
            stats
                .technique(technique)
                .delivered(&hub.read_now(Since::After(0)).batch.messages);
            let snapshot = stats.technique(technique).snapshot();
            let backlog = if technique == Technique::poll { 0 } else { 1 };
            assert_eq!(
                snapshot.backlog.messages_delivered, backlog,
                "{technique:?}"
            );
            assert_eq!(snapshot.latency_ms.count, 2 - backlog, "{technique:?}");
        }
    }
}
