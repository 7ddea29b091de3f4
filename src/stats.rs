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
//! Bytes are counted by [`crate::traffic`]; deliveries by the techniques.
//! Refusals at a limit ([`crate::limits`]) are counted too: `rejected` per
//! technique for connections turned away, and `publish_rejected` for
//! messages over a client's publish rate. With a shared broker
//! ([`crate::broker`]) each instance also reports the broker: reachable or
//! not, its round-trip time, failed publishes and epoch resets.
//! `/ws/echo`, the demo endpoint, is not a technique (it carries no hub
//! messages): only its connections are counted, for the demo page's
//! "connections open on the server".

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::broker::Broker;
use crate::hub::{Batch, Hub, Message, now_us};

/// The four ways to get news to a browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EncodeLabelValue)]
#[allow(non_camel_case_types)] // the label values are the contract's lowercase names
pub enum Technique {
    poll,
    longpoll,
    sse,
    ws,
}

impl Technique {
    pub const ALL: [Technique; 4] = [
        Technique::poll,
        Technique::longpoll,
        Technique::sse,
        Technique::ws,
    ];
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

/// The counters of one technique.
pub struct TechniqueStats {
    pub requests: Counter,
    pub empty_responses: Counter,
    pub connections_open: Gauge,
    pub messages_delivered: Counter,
    pub messages_missed: Counter,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    /// Requests turned away with 503 because the technique was at its limit.
    pub rejected: Counter,
    /// Times a client that stopped reading fell too far behind: a WebSocket
    /// dropped because its queue stayed full, or a stream gapped because
    /// its hub queue overflowed and the ring no longer held what it missed.
    /// One slow client must cost a bounded amount, and be seen.
    pub slow_consumers: Counter,
    /// A plain mutex: recording takes nanoseconds and never awaits.
    latency: Mutex<Histogram<u64>>,
}

impl TechniqueStats {
    /// Counts messages handed to a response or frame now, and how late
    /// each one is.
    pub fn delivered(&self, messages: &[Arc<Message>]) {
        if messages.is_empty() {
            return;
        }
        let now = now_us();
        self.messages_delivered.inc_by(messages.len() as u64);
        let mut latency = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        for message in messages {
            latency.saturating_record(now.saturating_sub(message.published_at_us).max(1));
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
            requests: self.requests.get(),
            empty_responses: self.empty_responses.get(),
            connections_open: self.connections_open.get().max(0) as u64,
            messages_delivered: self.messages_delivered.get(),
            messages_missed: self.messages_missed.get(),
            bytes_in: self.bytes_in.get(),
            bytes_out: self.bytes_out.get(),
            rejected: self.rejected.get(),
            slow_consumers: self.slow_consumers.get(),
            latency_ms: self.latency_ms(),
        }
    }

    fn latency_ms(&self) -> LatencySnapshot {
        LatencySnapshot::of(&self.latency)
    }
}

/// `/api/stats`, per technique.
#[derive(Debug, Serialize)]
pub struct TechniqueSnapshot {
    pub requests: u64,
    pub empty_responses: u64,
    pub connections_open: u64,
    pub messages_delivered: u64,
    pub messages_missed: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub rejected: u64,
    pub slow_consumers: u64,
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
        let h = histogram.lock().unwrap_or_else(PoisonError::into_inner);
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

/// The connections of `/ws/echo`, the article's echo demo.
pub struct EchoStats {
    /// Connections opened since start-up.
    pub connections: Counter,
    /// Connections open now.
    pub connections_open: Gauge,
}

impl EchoStats {
    fn new(registry: &mut Registry) -> EchoStats {
        let stats = EchoStats {
            connections: Counter::default(),
            connections_open: Gauge::default(),
        };
        registry.register(
            "echo_connections",
            "WebSocket connections opened on /ws/echo",
            stats.connections.clone(),
        );
        registry.register(
            "echo_connections_open",
            "WebSocket connections open on /ws/echo now",
            stats.connections_open.clone(),
        );
        stats
    }

    fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "connections_open": self.connections_open.get().max(0),
            "connections": self.connections.get(),
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

    fn snapshot(&self, broker: &dyn Broker) -> serde_json::Value {
        serde_json::json!({
            "kind": broker.kind(),
            "url": broker.url(),
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
        let open = Family::<TechniqueLabel, Gauge>::default();
        registry.register(
            "connections_open",
            "Requests or connections open now",
            open.clone(),
        );
        let latency_gauges = Family::<QuantileLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "delivery_latency_ms",
            "Publish-to-hand-over latency quantiles, milliseconds",
            latency_gauges.clone(),
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
                requests: requests.get_or_create(&label).clone(),
                empty_responses: empty.get_or_create(&label).clone(),
                connections_open: open.get_or_create(&label).clone(),
                messages_delivered: delivered.get_or_create(&label).clone(),
                messages_missed: missed.get_or_create(&label).clone(),
                bytes_in: bytes_in.get_or_create(&label).clone(),
                bytes_out: bytes_out.get_or_create(&label).clone(),
                rejected: rejected.get_or_create(&label).clone(),
                slow_consumers: slow.get_or_create(&label).clone(),
                latency: Mutex::new(new_histogram()),
            }
        });
        let broker = Arc::new(BrokerStats::new(&mut registry));
        let echo = EchoStats::new(&mut registry);
        Stats {
            started: Instant::now(),
            techniques,
            registry,
            latency_gauges,
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
    pub fn snapshot(&self, hub: &Hub, broker: &dyn Broker) -> serde_json::Value {
        let techniques: serde_json::Map<String, serde_json::Value> = Technique::ALL
            .iter()
            .map(|&t| {
                let snapshot = serde_json::to_value(self.technique(t).snapshot())
                    .expect("plain numbers serialise");
                (format!("{t:?}"), snapshot)
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
            "broker": self.broker.snapshot(broker),
            "techniques": techniques,
            "publish_rejected": self.publish_rejected.get(),
            "echo": self.echo.snapshot(),
            "process": crate::process::own(),
        })
    }

    /// The text of `/metrics`.
    pub fn metrics(&self, hub: &Hub) -> String {
        for technique in Technique::ALL {
            let latency = self.technique(technique).latency_ms();
            for (quantile, value) in latency.quantiles() {
                let label = QuantileLabel {
                    technique,
                    quantile,
                };
                self.latency_gauges.get_or_create(&label).set(value);
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
