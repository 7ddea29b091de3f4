//! The load tool's results: one [`TechniqueReport`] per technique, printed
//! as a table, written as JSON and CSV, and the classic overhead table
//! recomputed from the bytes pushlab actually measured.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::technique::Technique;

/// The JSON document `--json` writes.
#[derive(Serialize)]
pub struct Report {
    pub settings: serde_json::Value,
    pub techniques: BTreeMap<String, TechniqueReport>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// What one technique did under load.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TechniqueReport {
    pub clients: usize,
    pub requests: u64,
    pub empty_responses: u64,
    /// Messages the tool published × clients: what should have arrived.
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicates: u64,
    /// Messages the server said a client missed (cursor too old).
    pub gaps: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Bytes both ways per delivered message.
    pub bytes_per_message: f64,
    pub latency_ms: Latency,
    pub server_cpu_s: f64,
    /// The server's peak resident memory during the run.
    pub server_rss_kb: u64,
    pub tool_cpu_s: f64,
    // Beyond the shared shape:
    pub connections: u64,
    pub errors: u64,
    /// Messages the server accepted from the tool.
    pub published: u64,
    /// Publishes the server refused (not expected by any client).
    pub publish_refused: u64,
    pub publish_seconds: f64,
    pub deliveries_per_s: f64,
    /// First to last subscriber receiving the same message.
    pub burst_spread_ms: Spread,
    /// Publish to the last subscriber receiving the same message: when a
    /// burst's last answer arrived.
    pub last_receipt_ms: Spread,
    /// Server memory with every client connected and idle, before publishing.
    pub server_rss_idle_kb: u64,
    /// Server memory before the clients connected.
    pub server_rss_base_kb: u64,
    pub server_kb_per_client: f64,
    /// Requests per delivered message, counting empty answers.
    pub requests_per_message: f64,
    /// Requests (for SSE and WebSocket: connections) made per second while
    /// the tool published.
    pub requests_per_s: f64,
    /// Set when the tool, not the server, used up its core.
    pub tool_bound: bool,
    /// How busy the tool's cores were while publishing and draining (0–1),
    /// when it is pinned to some; softirq work on them included.
    pub tool_core_busy: Option<f64>,
    /// With `--deflate`, for ws only: what the offer came to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deflate: Option<Deflate>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub latency_cdf: Vec<(f64, f64)>,
}

/// What a WebSocket run's permessage-deflate offer came to.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Deflate {
    /// The server's `Sec-WebSocket-Extensions` answer, or "declined".
    pub extension: String,
    /// The compressed messages' payloads once inflated; `bytes_down` counts
    /// them as they crossed the wire, compressed.
    pub payload_bytes_inflated: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Spread {
    pub p50: f64,
    pub max: f64,
}

/// The techniques in teaching order: poll, longpoll, sse, ws.
pub fn in_order(report: &Report) -> impl Iterator<Item = (&str, &TechniqueReport)> {
    Technique::ALL
        .into_iter()
        .map(Technique::name)
        .filter_map(|name| report.techniques.get(name).map(|t| (name, t)))
}

/// The table printed at the end of a run.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    let columns = [
        "technique",
        "clients",
        "requests",
        "empty",
        "delivered",
        "lost",
        "dup",
        "gaps",
        "B/msg",
        "p50 ms",
        "p99 ms",
        "max ms",
        "spread",
        "msg/s",
        "srv cpu",
        "srv KB/cl",
    ];
    for c in columns {
        let _ = write!(out, "{c:>10} ");
    }
    out.push('\n');
    for (name, t) in in_order(report) {
        let cells = [
            name.to_owned(),
            t.clients.to_string(),
            t.requests.to_string(),
            t.empty_responses.to_string(),
            t.delivered.to_string(),
            t.lost.to_string(),
            t.duplicates.to_string(),
            t.gaps.to_string(),
            format!("{:.0}", t.bytes_per_message),
            format!("{:.2}", t.latency_ms.p50),
            format!("{:.2}", t.latency_ms.p99),
            format!("{:.2}", t.latency_ms.max),
            format!("{:.2}", t.burst_spread_ms.max),
            format!("{:.0}", t.deliveries_per_s),
            format!("{:.2}", t.server_cpu_s),
            format!("{:.1}", t.server_kb_per_client),
        ];
        for c in cells {
            let _ = write!(out, "{c:>10} ");
        }
        out.push('\n');
    }
    out.push_str(&deflate_notes(report));
    for (name, t) in in_order(report) {
        if t.tool_bound {
            let how_busy = match t.tool_core_busy {
                Some(busy) => format!("the load tool's core was {:.0} % busy", busy * 100.0),
                None => "the load tool used its whole core".to_owned(),
            };
            let _ = writeln!(
                out,
                "warning: {name}: {how_busy} while publishing; these figures may measure the \
                 tool, not the server (use fewer clients or a lower rate)"
            );
        }
    }
    out
}

/// The results as a Markdown table, for the docs to quote.
pub fn markdown(report: &Report) -> String {
    let mut out = String::from(
        "| technique | clients | requests | empty | delivered | lost | dup | gaps | bytes/msg | p50 ms | p99 ms | max ms | spread ms | server CPU s | server KB/client |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (name, t) in in_order(report) {
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} |",
            t.clients,
            t.requests,
            t.empty_responses,
            t.delivered,
            t.lost,
            t.duplicates,
            t.gaps,
            t.bytes_per_message,
            t.latency_ms.p50,
            t.latency_ms.p99,
            t.latency_ms.max,
            t.burst_spread_ms.max,
            t.server_cpu_s,
            t.server_kb_per_client
        );
    }
    let notes = deflate_notes(report);
    if !notes.is_empty() {
        // A blank line first, or the line would read as one more row.
        let _ = write!(out, "\n{notes}");
    }
    out
}

/// A line for each technique that offered permessage-deflate (`--deflate`):
/// the server's answer and, when it accepted, the wire's bytes next to what
/// the compressed messages inflated to.
fn deflate_notes(report: &Report) -> String {
    let mut out = String::new();
    for (name, t) in in_order(report) {
        let Some(deflate) = &t.deflate else {
            continue;
        };
        let _ = match deflate.extension.as_str() {
            "declined" => writeln!(
                out,
                "{name}: permessage-deflate offered, and declined by the server: nothing was compressed"
            ),
            answer => writeln!(
                out,
                "{name}: permessage-deflate offered, the server answered `{answer}`: {} bytes down \
                 on the wire; the compressed messages inflated to {} bytes of payload",
                t.bytes_down, deflate.payload_bytes_inflated
            ),
        };
    }
    out
}

/// The well-known overhead comparison (871 bytes of headers per poll; 2
/// bytes per WebSocket frame), recomputed from the bytes measured here.
/// Like the classic table it divides by 2^20, so its unit is Mibit/s. Its
/// two "ours" columns are per poll (both directions) and per WebSocket
/// message sent down (one direction), not the report's `bytes_per_message`.
pub fn overhead_table(report: &Report) -> String {
    let mut out = String::new();
    let poll = report.techniques.get("poll");
    let ws = report.techniques.get("ws");
    let per_poll = poll
        .filter(|p| p.requests > 0)
        .map(|p| (p.bytes_up + p.bytes_down) as f64 / p.requests as f64);
    let per_ws = ws
        .filter(|w| w.delivered > 0)
        .map(|w| w.bytes_down as f64 / w.delivered as f64);
    let _ = writeln!(
        out,
        "Overhead, recomputed from pushlab's own bytes (Mibit/s = clients x bytes x 8 / 2^20, one poll or message per client per second):"
    );
    let _ = writeln!(
        out,
        "{:>10} {:>14} {:>14} {:>16} {:>16}",
        "clients", "poll (871 B)", "poll (ours)", "ws (2 B frame)", "ws (ours, down)"
    );
    for clients in [1_000u64, 10_000, 100_000] {
        let mibit_per_s = |bytes: f64| clients as f64 * bytes * 8.0 / f64::from(1 << 20);
        let ours =
            |b: Option<f64>| b.map_or("—".to_owned(), |b| format!("{:.3}", mibit_per_s(b)));
        let _ = writeln!(
            out,
            "{clients:>10} {:>14.3} {:>14} {:>16.3} {:>16}",
            mibit_per_s(871.0),
            ours(per_poll),
            mibit_per_s(2.0),
            ours(per_ws)
        );
    }
    if let Some(b) = per_poll {
        let _ = writeln!(
            out,
            "ours: {b:.0} bytes per poll, request and response with headers (the classic figure: 871)"
        );
    }
    if let Some(b) = per_ws {
        let _ = writeln!(
            out,
            "ours: {b:.0} bytes sent down per WebSocket message delivered: its frame (a 2- or 4-byte header and the JSON), plus the 101 answer and hello frame spread over the messages"
        );
    }
    out
}

/// One CSV row per technique, the JSON's numbers flattened.
pub fn write_csv(report: &Report, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut writer = csv::Writer::from_path(path)?;
    writer.write_record([
        "technique",
        "clients",
        "requests",
        "empty_responses",
        "expected",
        "delivered",
        "lost",
        "duplicates",
        "gaps",
        "bytes_up",
        "bytes_down",
        "bytes_per_message",
        "latency_p50_ms",
        "latency_p90_ms",
        "latency_p99_ms",
        "latency_p999_ms",
        "latency_max_ms",
        "server_cpu_s",
        "server_rss_kb",
        "tool_cpu_s",
        "deliveries_per_s",
        "burst_spread_max_ms",
        "server_kb_per_client",
    ])?;
    for (name, t) in in_order(report) {
        let l = &t.latency_ms;
        writer.write_record([
            name.to_owned(),
            t.clients.to_string(),
            t.requests.to_string(),
            t.empty_responses.to_string(),
            t.expected.to_string(),
            t.delivered.to_string(),
            t.lost.to_string(),
            t.duplicates.to_string(),
            t.gaps.to_string(),
            t.bytes_up.to_string(),
            t.bytes_down.to_string(),
            format!("{:.1}", t.bytes_per_message),
            l.p50.to_string(),
            l.p90.to_string(),
            l.p99.to_string(),
            l.p999.to_string(),
            l.max.to_string(),
            format!("{:.3}", t.server_cpu_s),
            t.server_rss_kb.to_string(),
            format!("{:.3}", t.tool_cpu_s),
            format!("{:.0}", t.deliveries_per_s),
            t.burst_spread_ms.max.to_string(),
            format!("{:.2}", t.server_kb_per_client),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_of(ws: TechniqueReport) -> Report {
        Report {
            settings: serde_json::Value::Null,
            techniques: BTreeMap::from([("ws".to_owned(), ws)]),
        }
    }

    #[test]
    fn a_busy_tool_is_named_below_the_table() {
        let busy = TechniqueReport {
            tool_bound: true,
            tool_core_busy: Some(0.93),
            ..Default::default()
        };
        let printed = table(&report_of(busy));
        assert!(
            printed.contains("warning: ws: the load tool's core was 93 % busy"),
            "{printed}"
        );
        assert!(!table(&report_of(TechniqueReport::default())).contains("warning"));
    }

    #[test]
    fn the_deflate_answer_follows_the_tables() {
        let compressed = TechniqueReport {
            bytes_down: 1000,
            deflate: Some(Deflate {
                extension: "permessage-deflate".to_owned(),
                payload_bytes_inflated: 3000,
            }),
            ..Default::default()
        };
        let written = markdown(&report_of(compressed));
        assert!(
            written.contains(
                "\n\nws: permessage-deflate offered, the server answered `permessage-deflate`: \
                 1000 bytes down on the wire; the compressed messages inflated to 3000 bytes of payload\n"
            ),
            "{written}"
        );
        let declined = TechniqueReport {
            deflate: Some(Deflate {
                extension: "declined".to_owned(),
                payload_bytes_inflated: 0,
            }),
            ..Default::default()
        };
        assert!(
            table(&report_of(declined)).contains("ws: permessage-deflate offered, and declined")
        );
        assert!(!markdown(&report_of(TechniqueReport::default())).contains("deflate"));
    }
}
