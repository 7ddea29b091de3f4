//! The crossover: the same clients at message rates from one every ten
//! seconds to a hundred a second (`pushlab load --rates 0.1,0.3,1,…`), and
//! for each technique how its costs move with the rate.
//!
//! The one variable that decides between the techniques is how often there
//! is news. Rarely, and a short poll pays a whole request for nothing most
//! of the time while push waits quietly. Often, and a short poll's answer
//! carries several messages for one request — cheaper per message than a
//! frame each — while a long-poll, answered at once every time, has become
//! polling. So the sweep reports, per rate and technique, what each
//! delivered message cost: bytes on the wire, the server's CPU time, and
//! the requests made, next to latency p50 and p99. One chart per measure,
//! the rate on a log axis, one line per technique.
//!
//! A slow rate needs a longer run for a few messages to arrive at all:
//! each rate runs for `--duration` or long enough for
//! [`MIN_MESSAGES`] messages, whichever is longer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use plotters::prelude::*;
use serde::Serialize;

use super::chart::colour;
use super::report::{Report, TechniqueReport, in_order};
use super::{Error, LoadArgs, run_all};
use crate::technique::Technique;

/// The fewest messages one rate's run publishes, on average.
pub const MIN_MESSAGES: f64 = 6.0;

/// `--json`: every rate's report.
#[derive(Serialize)]
pub struct Crossover {
    pub settings: serde_json::Value,
    pub rates: Vec<RateRun>,
}

/// One rate's run of every technique, with the crossover's measures.
#[derive(Serialize)]
pub struct RateRun {
    pub rate: f64,
    pub duration_s: f64,
    pub techniques: std::collections::BTreeMap<String, Measures>,
}

/// What one delivered message cost a technique at one rate.
#[derive(Clone, Debug, Serialize)]
pub struct Measures {
    pub bytes_per_message: f64,
    /// Server CPU time per delivered message, µs.
    pub server_cpu_us_per_message: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    /// Requests (or connections) made per second while publishing.
    pub requests_per_s: f64,
    pub empty_share: f64,
    pub delivered: u64,
    pub lost: u64,
    pub tool_bound: bool,
}

impl Measures {
    fn of(t: &TechniqueReport) -> Measures {
        let per_message = |x: f64| {
            if t.delivered == 0 {
                0.0
            } else {
                x / t.delivered as f64
            }
        };
        Measures {
            bytes_per_message: t.bytes_per_message,
            server_cpu_us_per_message: per_message(t.server_cpu_s * 1e6),
            latency_p50_ms: t.latency_ms.p50,
            latency_p99_ms: t.latency_ms.p99,
            requests_per_s: t.requests_per_s,
            empty_share: if t.requests > 0 {
                t.empty_responses as f64 / t.requests as f64
            } else {
                0.0
            },
            delivered: t.delivered,
            lost: t.lost,
            tool_bound: t.tool_bound,
        }
    }
}

/// Runs every technique at each of `args.rates`, one rate after another.
pub async fn sweep(args: LoadArgs) -> Result<Crossover, Error> {
    let mut rates = Vec::new();
    for &rate in &args.rates {
        let duration = duration_at(rate, args.duration);
        eprintln!("== {rate} messages/s for {} s", duration.as_secs_f64());
        let at_rate = LoadArgs {
            rate,
            duration,
            ..args.clone()
        };
        let report = run_all(at_rate).await?;
        rates.push(rate_run(rate, duration, &report));
    }
    Ok(Crossover {
        settings: serde_json::to_value(&args)?,
        rates,
    })
}

/// How long a rate's run publishes.
pub fn duration_at(rate: f64, at_least: Duration) -> Duration {
    let for_messages = Duration::from_secs_f64(MIN_MESSAGES / rate.max(1e-6));
    at_least.max(for_messages)
}

/// One rate's run, from one ordinary report.
pub fn rate_run(rate: f64, duration: Duration, report: &Report) -> RateRun {
    RateRun {
        rate,
        duration_s: duration.as_secs_f64(),
        techniques: in_order(report)
            .map(|(name, t)| (name.to_owned(), Measures::of(t)))
            .collect(),
    }
}

/// Writes what `args` asks for: JSON, CSV, one SVG per measure, Markdown.
pub fn write(crossover: &Crossover, args: &LoadArgs) -> Result<(), Error> {
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(crossover)?)?;
    }
    if let Some(path) = &args.csv {
        write_csv(crossover, path)?;
    }
    if let Some(path) = &args.svg {
        for measure in &MEASURES {
            draw(crossover, measure, &chart_path(path, measure.name))?;
        }
    }
    if let Some(path) = &args.markdown {
        let charts = args.svg.as_deref().and_then(Path::file_stem);
        std::fs::write(
            path,
            markdown(crossover, charts.map(|s| s.to_string_lossy()).as_deref()),
        )?;
    }
    Ok(())
}

/// A measure the crossover charts.
struct Measure {
    /// In file names: `crossover-<name>.svg`.
    name: &'static str,
    /// The chart's caption and axis.
    label: &'static str,
    read: fn(&Measures) -> f64,
}

const MEASURES: [Measure; 5] = [
    Measure {
        name: "bytes-per-message",
        label: "bytes per delivered message",
        read: |m| m.bytes_per_message,
    },
    Measure {
        name: "cpu-per-message",
        label: "server CPU µs per delivered message",
        read: |m| m.server_cpu_us_per_message,
    },
    Measure {
        name: "p50",
        label: "latency p50, ms",
        read: |m| m.latency_p50_ms,
    },
    Measure {
        name: "p99",
        label: "latency p99, ms",
        read: |m| m.latency_p99_ms,
    },
    Measure {
        name: "requests-per-s",
        label: "requests per second while publishing (push: none)",
        read: |m| m.requests_per_s,
    },
];

/// `results.svg` → `results-p99.svg`.
fn chart_path(base: &Path, measure: &str) -> PathBuf {
    let stem = base
        .file_stem()
        .map_or("crossover".into(), |s| s.to_string_lossy());
    base.with_file_name(format!("{stem}-{measure}.svg"))
}

/// One chart: the rate on a log axis, the measure on a log axis (the
/// measures span orders of magnitude), one line per technique.
fn draw(crossover: &Crossover, measure: &Measure, path: &Path) -> Result<(), Error> {
    let (label, value) = (measure.label, measure.read);
    let points = |technique: &str| -> Vec<(f64, f64)> {
        crossover
            .rates
            .iter()
            .filter_map(|run| Some((run.rate, value(run.techniques.get(technique)?))))
            .filter(|&(_, y)| y > 0.0)
            .collect()
    };
    let all: Vec<(f64, f64)> = Technique::ALL
        .into_iter()
        .flat_map(|t| points(t.name()))
        .collect();
    let (x_min, x_max) = bounds(all.iter().map(|p| p.0));
    let (y_min, y_max) = bounds(all.iter().map(|p| p.1));
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(label, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (x_min / 1.5..x_max * 1.5).log_scale(),
            (y_min / 1.5..y_max * 1.5).log_scale(),
        )?;
    chart
        .configure_mesh()
        .max_light_lines(0)
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|x| short(*x))
        .y_label_formatter(&|y| short(*y))
        .label_style(("sans-serif", 15))
        .x_desc("messages per second (log scale)")
        .y_desc(format!("{label} (log scale)"))
        .draw()?;
    for technique in Technique::ALL.map(Technique::name) {
        let c = colour(technique);
        let line = points(technique);
        chart
            .draw_series(LineSeries::new(line.clone(), c.stroke_width(3)))?
            .label(technique)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        chart.draw_series(line.into_iter().map(|p| Circle::new(p, 4, c.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}

/// A tick label: as few digits as tell the ticks apart.
fn short(value: f64) -> String {
    match value {
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 1.0 => format!("{v:.1}"),
        v => format!("{v:.2}"),
    }
}

/// The smallest and largest of some positive values (1 and 10 for none).
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if hi > 0.0 { (lo, hi) } else { (1.0, 10.0) }
}

fn write_csv(crossover: &Crossover, path: &Path) -> Result<(), Error> {
    let mut writer = csv::Writer::from_path(path)?;
    writer.write_record([
        "rate",
        "technique",
        "bytes_per_message",
        "server_cpu_us_per_message",
        "latency_p50_ms",
        "latency_p99_ms",
        "requests_per_s",
        "empty_share",
        "delivered",
        "lost",
        "tool_bound",
    ])?;
    for run in &crossover.rates {
        for (technique, m) in &run.techniques {
            writer.write_record([
                run.rate.to_string(),
                technique.clone(),
                format!("{:.1}", m.bytes_per_message),
                format!("{:.2}", m.server_cpu_us_per_message),
                m.latency_p50_ms.to_string(),
                m.latency_p99_ms.to_string(),
                format!("{:.1}", m.requests_per_s),
                format!("{:.3}", m.empty_share),
                m.delivered.to_string(),
                m.lost.to_string(),
                m.tool_bound.to_string(),
            ])?;
        }
    }
    writer.flush()?;
    Ok(())
}

/// One Markdown table per measure: a row per rate, a column per technique,
/// under the measure's chart when the charts are `<charts>-<measure>.svg`.
pub fn markdown(crossover: &Crossover, charts: Option<&str>) -> String {
    let mut out = String::new();
    for Measure { name, label, read } in MEASURES {
        out.push_str(&format!("### {label}\n\n"));
        if let Some(stem) = charts {
            out.push_str(&format!("![{label}]({stem}-{name}.svg)\n\n"));
        }
        let names = Technique::ALL.map(Technique::name);
        out.push_str(&format!("| msg/s | {} |\n|---:|", names.join(" | ")));
        out.push_str(&"---:|".repeat(names.len()));
        out.push('\n');
        for run in &crossover.rates {
            let cells = names.map(|t| {
                run.techniques
                    .get(t)
                    .map_or("–".into(), |m| format!("{:.1}", read(m)))
            });
            out.push_str(&format!("| {} | {} |\n", run.rate, cells.join(" | ")));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_rates_run_long_enough_for_a_few_messages() {
        let at_least = Duration::from_secs(15);
        assert_eq!(duration_at(10.0, at_least), at_least);
        assert_eq!(duration_at(0.1, at_least), Duration::from_secs(60));
    }

    #[test]
    fn each_measure_gets_its_own_chart_file() {
        let path = chart_path(Path::new("results/crossover/crossover.svg"), "p99");
        assert_eq!(path, Path::new("results/crossover/crossover-p99.svg"));
    }
}
