//! The `--svg` chart: latency CDFs of the techniques side by side, and the
//! bytes each needed per delivered message. One colour per technique, the
//! page's Okabe–Ito palette.

use std::path::Path;

use plotters::prelude::*;

use super::report::{Report, in_order};

/// The technique's colour: the page's Okabe–Ito palette.
pub fn colour(technique: &str) -> RGBColor {
    match technique {
        "poll" => RGBColor(0xE6, 0x9F, 0x00),
        "longpoll" => RGBColor(0x56, 0xB4, 0xE9),
        "sse" => RGBColor(0x00, 0x9E, 0x73),
        _ => RGBColor(0xCC, 0x79, 0xA7),
    }
}

pub fn draw(report: &Report, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (1100, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(700);

    let max_ms = report
        .techniques
        .values()
        .flat_map(|t| t.latency_cdf.iter().map(|p| p.0))
        .fold(1.0f64, f64::max);
    let mut cdf = ChartBuilder::on(&left)
        .caption("Delivery latency (CDF)", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((0.01f64..max_ms * 1.2).log_scale(), 0f64..1f64)?;
    cdf.configure_mesh()
        .x_desc("latency, ms (log scale)")
        .y_desc("fraction delivered")
        .draw()?;
    for (name, t) in in_order(report) {
        let c = colour(name);
        let points = t.latency_cdf.iter().map(|&(ms, q)| (ms.max(0.01), q));
        cdf.draw_series(LineSeries::new(points, c.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    cdf.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;

    let names: Vec<&str> = in_order(report).map(|(name, _)| name).collect();
    let max_bytes = report
        .techniques
        .values()
        .map(|t| t.bytes_per_message)
        .fold(1.0f64, f64::max);
    let mut bars = ChartBuilder::on(&right)
        .caption("Bytes per delivered message", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0..names.len(), 0f64..max_bytes * 1.15)?;
    bars.configure_mesh()
        .disable_x_mesh()
        .x_labels(names.len())
        .x_label_formatter(&|i| names.get(*i).map_or(String::new(), |n| n.to_string()))
        .y_desc("bytes, both directions")
        .draw()?;
    for (i, (name, t)) in in_order(report).enumerate() {
        let c = colour(name);
        bars.draw_series(std::iter::once(Rectangle::new(
            [(i, 0.0), (i + 1, t.bytes_per_message)],
            c.filled(),
        )))?;
    }
    root.present()?;
    Ok(())
}
