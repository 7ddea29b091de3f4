//! What the load tool learns from every delivery, and the arithmetic on it.
//!
//! The tool's publisher puts its own send time into each message's text
//! (`"<seq>:<scheduled µs>:xxxx…"`), so latency is receive time minus the
//! time the message was *scheduled* to be published — one process, one
//! clock, and no coordinated omission: a publish that was late counts as
//! latency too. The id of each message tells duplicates and losses apart,
//! and the first and last receipt of the same id across all subscribers is
//! the fan-out's burst spread.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Instant;

use hdrhistogram::Histogram;
use memchr::memmem;

/// The text of a message published by the tool: sequence number, the
/// scheduled publish time in µs since the run's clock started, then padding
/// up to the payload size.
pub fn message_text(seq: u64, scheduled_us: u64, payload: usize) -> String {
    let mut text = format!("{seq}:{scheduled_us}:");
    while text.len() < payload {
        text.push('x');
    }
    text
}

/// A message found in a server answer: its id and, when the tool published
/// it, the scheduled time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    pub id: u64,
    pub scheduled_us: Option<u64>,
}

/// Finds every message object in `json` (a poll answer, an SSE `data:` or a
/// WebSocket frame) by scanning for the keys `"id":` and `"text":"`. Inside
/// a JSON string a quote is always escaped, and a string value is followed
/// by `,` or `}`, never `:`, so message content cannot fake a key; scanning
/// is several times faster than parsing, which matters at a million
/// messages a second.
pub fn scan_messages(json: &[u8], mut found: impl FnMut(Seen)) {
    static ID_KEY: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(b"\"id\":"));
    static TEXT_KEY: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(b"\"text\":\""));
    let (id_key, text_key) = (&*ID_KEY, &*TEXT_KEY);
    let mut rest = json;
    while let Some(at) = id_key.find(rest) {
        rest = &rest[at + 5..];
        let Some((id, used)) = leading_number(rest) else {
            continue;
        };
        rest = &rest[used..];
        let scheduled_us = text_key.find(rest).and_then(|t| {
            let text = &rest[t + 8..];
            let (_, seq_len) = leading_number(text)?;
            let after_seq = text.get(seq_len..)?.strip_prefix(b":")?;
            leading_number(after_seq).map(|(us, _)| us)
        });
        found(Seen { id, scheduled_us });
    }
}

fn leading_number(bytes: &[u8]) -> Option<(u64, usize)> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let text = std::str::from_utf8(&bytes[..digits]).ok()?;
    Some((text.parse().ok()?, digits))
}

/// Reads `"missed":N` from a poll answer (0 when absent).
pub fn missed_in(json: &[u8]) -> u64 {
    number_after(json, b"\"missed\":").unwrap_or(0)
}

/// Reads `"id":N` from a publish answer.
pub fn id_in(json: &[u8]) -> Option<u64> {
    number_after(json, b"\"id\":")
}

/// Reads `"next":N` from a poll answer.
pub fn next_in(json: &[u8]) -> Option<u64> {
    number_after(json, b"\"next\":")
}

/// The number right after the first occurrence of `key`.
fn number_after(json: &[u8], key: &[u8]) -> Option<u64> {
    let at = memmem::find(json, key)?;
    leading_number(&json[at + key.len()..]).map(|(n, _)| n)
}

/// Which ids one client received, as a bitmap from the run's first id.
#[derive(Default)]
struct Receipts {
    bits: Vec<u64>,
    highest: u64,
}

/// When one message was scheduled, and its first and last receipt across
/// all subscribers.
#[derive(Clone, Copy)]
struct Spread {
    scheduled_us: u64,
    first_us: u64,
    last_us: u64,
}

/// Everything recorded during one technique's run.
pub struct Recorder {
    clock: Instant,
    /// Ids below this were published before the run.
    first_id: u64,
    latency_us: Histogram<u64>,
    spread: HashMap<u64, Spread>,
    receipts: Vec<Receipts>,
    pub requests: u64,
    pub empty_responses: u64,
    pub connections: u64,
    pub delivered: u64,
    pub duplicates: u64,
    pub gaps: u64,
    pub errors: u64,
    pub subscribed: usize,
    /// When the last message arrived anywhere, in µs on the run's clock.
    pub last_delivery_us: u64,
    /// With `--deflate`, a WebSocket run: the server's answer to the
    /// permessage-deflate offer (its `Sec-WebSocket-Extensions`, or
    /// "declined"), as the first connection got it.
    pub ws_extension: Option<String>,
    /// Payload bytes of the compressed WebSocket messages once inflated; the
    /// bytes that carried them are counted on the wire, compressed.
    pub payload_bytes_inflated: u64,
}

impl Recorder {
    pub fn new(clock: Instant, clients: usize) -> RefCell<Recorder> {
        RefCell::new(Recorder {
            clock,
            first_id: u64::MAX,
            latency_us: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("constant histogram bounds are valid"),
            spread: HashMap::new(),
            receipts: (0..clients).map(|_| Receipts::default()).collect(),
            requests: 0,
            empty_responses: 0,
            connections: 0,
            delivered: 0,
            duplicates: 0,
            gaps: 0,
            errors: 0,
            subscribed: 0,
            last_delivery_us: 0,
            ws_extension: None,
            payload_bytes_inflated: 0,
        })
    }

    /// Microseconds since the run's clock started.
    pub fn now_us(&self) -> u64 {
        self.clock.elapsed().as_micros() as u64
    }

    /// From now on, ids from `first_id` on are the tool's to account for.
    pub fn start_counting_at(&mut self, first_id: u64) {
        self.first_id = first_id;
    }

    /// A client received a message.
    pub fn seen(&mut self, client: usize, seen: Seen) {
        let Some(scheduled_us) = seen.scheduled_us else {
            return;
        };
        if seen.id < self.first_id {
            return;
        }
        let now = self.now_us();
        let receipts = &mut self.receipts[client];
        let offset = (seen.id - self.first_id) as usize;
        let (word, bit) = (offset / 64, 1u64 << (offset % 64));
        if receipts.bits.len() <= word {
            receipts.bits.resize(word + 1, 0);
        }
        if receipts.bits[word] & bit != 0 {
            self.duplicates += 1;
            return;
        }
        receipts.bits[word] |= bit;
        receipts.highest = receipts.highest.max(seen.id);
        self.delivered += 1;
        self.last_delivery_us = now;
        self.latency_us
            .saturating_record(now.saturating_sub(scheduled_us).max(1));
        self.spread
            .entry(seen.id)
            .and_modify(|s| s.last_us = now)
            .or_insert(Spread {
                scheduled_us,
                first_us: now,
                last_us: now,
            });
    }

    /// Have all clients received `id` (or something after it)?
    pub fn all_reached(&self, id: u64) -> bool {
        self.receipts.iter().all(|r| r.highest >= id)
    }

    /// How many of `expected` ids each client is missing, summed.
    pub fn lost(&self, expected: &[u64]) -> u64 {
        let mut lost = 0;
        for receipts in &self.receipts {
            for &id in expected {
                let offset = (id - self.first_id) as usize;
                let got = receipts
                    .bits
                    .get(offset / 64)
                    .is_some_and(|w| w & (1 << (offset % 64)) != 0);
                lost += u64::from(!got);
            }
        }
        lost
    }

    pub fn latency_ms(&self, quantile: f64) -> f64 {
        if self.latency_us.is_empty() {
            return 0.0;
        }
        self.latency_us.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub fn latency_max_ms(&self) -> f64 {
        self.latency_us.max() as f64 / 1000.0
    }

    /// The latency distribution as (ms, cumulative fraction) points.
    pub fn latency_cdf(&self) -> Vec<(f64, f64)> {
        self.latency_us
            .iter_quantiles(2)
            .map(|v| {
                (
                    v.value_iterated_to() as f64 / 1000.0,
                    v.quantile_iterated_to(),
                )
            })
            .collect()
    }

    /// Burst spread: first to last receipt of the same message, p50 and max
    /// over messages, in ms.
    pub fn spread_ms(&self) -> (f64, f64) {
        self.over_messages(|s| s.last_us - s.first_us)
    }

    /// The last answer of each burst: scheduled publish to the last
    /// subscriber's receipt of the same message, p50 and max over messages,
    /// in ms.
    pub fn last_receipt_ms(&self) -> (f64, f64) {
        self.over_messages(|s| s.last_us.saturating_sub(s.scheduled_us))
    }

    /// p50 and max of `measure` over every message, in ms.
    fn over_messages(&self, measure: impl Fn(&Spread) -> u64) -> (f64, f64) {
        let mut values: Vec<u64> = self.spread.values().map(measure).collect();
        if values.is_empty() {
            return (0.0, 0.0);
        }
        values.sort_unstable();
        let p50 = values[values.len() / 2] as f64 / 1000.0;
        let max = values[values.len() - 1] as f64 / 1000.0;
        (p50, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_messages_in_every_shape() {
        let poll = br#"{"epoch":"e","messages":[{"id":7,"author":"load","text":"3:1500:xx","published_at_us":1},{"id":8,"author":"generator","text":"The server is sending: 4","published_at_us":2}],"next":8,"missed":2,"reset":false}"#;
        let mut seen = Vec::new();
        scan_messages(poll, |s| seen.push(s));
        assert_eq!(
            seen,
            [
                Seen {
                    id: 7,
                    scheduled_us: Some(1500)
                },
                Seen {
                    id: 8,
                    scheduled_us: None
                }
            ]
        );
        assert_eq!(missed_in(poll), 2);
        assert_eq!(next_in(poll), Some(8));
        let ws = br#"{"type":"message","id":9,"author":"a \"id\":1","text":"1:20:","published_at_us":3}"#;
        let mut seen = Vec::new();
        scan_messages(ws, |s| seen.push(s));
        assert_eq!(
            seen,
            [Seen {
                id: 9,
                scheduled_us: Some(20)
            }]
        );
    }

    #[test]
    fn message_text_is_padded_to_the_payload() {
        assert_eq!(message_text(1, 2, 10), "1:2:xxxxxx");
        assert_eq!(message_text(123, 456, 3), "123:456:");
    }

    #[test]
    fn duplicates_and_losses_are_counted_per_client() {
        let recorder = Recorder::new(Instant::now(), 2);
        let mut r = recorder.borrow_mut();
        r.start_counting_at(10);
        let ours = |id| Seen {
            id,
            scheduled_us: Some(0),
        };
        r.seen(0, ours(10));
        r.seen(0, ours(10));
        r.seen(0, ours(11));
        r.seen(1, ours(11));
        assert_eq!(r.delivered, 3);
        assert_eq!(r.duplicates, 1);
        assert_eq!(r.lost(&[10, 11]), 1);
        assert!(r.all_reached(11));
    }
}
