//! The scale run as SVG charts (`--plot DIR`).

use std::path::Path;

use anyhow::Context;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::scale::Scale;

/// One line of a chart: a name and its points.
struct Series<'a> {
    name: &'a str,
    points: Vec<(f64, f64)>,
}

const COLOURS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// Writes a line chart of `series` to `path`; `log_x` puts x on a logarithmic axis.
fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
    log_x: bool,
) -> anyhow::Result<()> {
    if series.iter().all(|s| s.points.is_empty()) {
        // A scenario left out of the run (`--only`).
        return Ok(());
    }
    let points = series.iter().flat_map(|s| s.points.iter());
    let (mut x_max, mut y_max) = (1.0_f64, 1.0_f64);
    let mut x_min = f64::MAX;
    for &(x, y) in points {
        x_max = x_max.max(x);
        x_min = x_min.min(x);
        y_max = y_max.max(y);
    }
    let x_min = if log_x { x_min.max(1.0) } else { 0.0 };
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(64);
    if log_x {
        let mut chart =
            builder.build_cartesian_2d((x_min..x_max * 1.2).log_scale(), 0.0..y_max * 1.15)?;
        draw_lines(&mut chart, x_label, y_label, series)?;
    } else {
        let mut chart = builder.build_cartesian_2d(x_min..x_max * 1.05, 0.0..y_max * 1.15)?;
        draw_lines(&mut chart, x_label, y_label, series)?;
    }
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Draws the mesh, each series as a line with its points, and the legend.
fn draw_lines<'a, X>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, RangedCoordf64>>,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
) -> anyhow::Result<()>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|x| readable(*x))
        .y_label_formatter(&|y| readable(*y))
        .draw()?;
    for (index, line) in series.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(line.points.clone(), colour.stroke_width(2)))?
            .label(line.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
        chart.draw_series(
            line.points
                .iter()
                .map(|&point| Circle::new(point, 4, colour.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;
    Ok(())
}

/// An axis value as people write it: `10M`, `250k`, `1.5k`, `42`, `0.5`.
fn readable(value: f64) -> String {
    let magnitude = value.abs();
    let (scaled, suffix) = if magnitude >= 1e6 {
        (value / 1e6, "M")
    } else if magnitude >= 1e3 {
        (value / 1e3, "k")
    } else {
        (value, "")
    };
    let digits = if scaled.fract().abs() < 0.05 || scaled.abs() >= 100.0 {
        0
    } else {
        1
    };
    format!("{scaled:.digits$}{suffix}")
}

/// Writes the scale charts into `dir`: `fan-out-throughput.svg`, `fan-out-latency.svg`,
/// `registry-memory.svg`, `registry-throughput.svg`, `attempt-log-api.svg`,
/// `backlog-memory.svg`, `backlog-drain.svg`, `soak-memory.svg`.
pub fn scale_charts(scale: &Scale, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let fan_out = |value: fn(&crate::scale::FanOutPoint) -> f64| {
        scale
            .fan_out
            .iter()
            .map(|point| (point.webhooks_per_event as f64, value(point)))
            .collect::<Vec<_>>()
    };
    line_chart(
        &dir.join("fan-out-throughput.svg"),
        "Deliveries per second by webhooks per event",
        "webhooks per event",
        "deliveries/s",
        &[Series {
            name: "deliveries/s",
            points: fan_out(|p| p.deliveries_per_s),
        }],
        true,
    )?;
    line_chart(
        &dir.join("fan-out-latency.svg"),
        "Publish → receipt latency by webhooks per event",
        "webhooks per event",
        "ms",
        &[
            Series {
                name: "p50",
                points: fan_out(|p| p.latency.p50_ms),
            },
            Series {
                name: "p99",
                points: fan_out(|p| p.latency.p99_ms),
            },
        ],
        true,
    )?;
    let registry = |value: fn(&crate::scale::RegistryPoint) -> f64| {
        scale
            .registry
            .iter()
            .map(|point| (point.other_webhooks as f64, value(point)))
            .collect::<Vec<_>>()
    };
    line_chart(
        &dir.join("registry-memory.svg"),
        "Fanout memory and startup by registry size",
        "webhooks in the registry",
        "MiB / s × 10",
        &[
            Series {
                name: "fanout peak RSS (MiB)",
                points: registry(|p| p.fanout_peak_rss_mib),
            },
            Series {
                name: "startup (s × 10)",
                points: registry(|p| p.startup_s * 10.0),
            },
        ],
        false,
    )?;
    line_chart(
        &dir.join("registry-throughput.svg"),
        "Deliveries per second by registry size (1 webhook per event)",
        "webhooks in the registry",
        "deliveries/s",
        &[Series {
            name: "deliveries/s",
            points: registry(|p| p.deliveries_per_s),
        }],
        false,
    )?;
    let attempt_log = |value: fn(&crate::history::AttemptLogPoint) -> f64| {
        scale
            .attempt_log
            .iter()
            .map(|point| (point.attempts as f64, value(point)))
            .collect::<Vec<_>>()
    };
    line_chart(
        &dir.join("attempt-log-api.svg"),
        "API and delivery p99 by attempt-log size",
        "attempts in the log",
        "p99 ms",
        &[
            Series {
                name: "attempt log, first page",
                points: attempt_log(|p| p.attempt_page.p99_ms),
            },
            Series {
                name: "100 webhooks with last attempt",
                points: attempt_log(|p| p.webhook_list.p99_ms),
            },
            Series {
                name: "delivery (steady load)",
                points: attempt_log(|p| p.delivery_latency.p99_ms),
            },
            Series {
                name: "delivery, during retention",
                points: attempt_log(|p| p.delivery_latency_during_retention.p99_ms),
            },
        ],
        false,
    )?;
    let backlog = |value: fn(&crate::backlog::BacklogSample) -> f64| {
        scale.backlog.as_ref().map_or_else(Vec::new, |backlog| {
            backlog
                .samples
                .iter()
                .map(|sample| (sample.at_s, value(sample)))
                .collect()
        })
    };
    line_chart(
        &dir.join("backlog-memory.svg"),
        "Memory while a backlog is queued with no sender, then drained",
        "seconds",
        "RSS MiB",
        &[
            Series {
                name: "fanout",
                points: backlog(|s| s.fanout_rss_mib),
            },
            Series {
                name: "sender (from its start)",
                points: backlog(|s| s.sender_rss_mib),
            },
        ],
        false,
    )?;
    line_chart(
        &dir.join("backlog-drain.svg"),
        "Deliveries waiting: queued with no sender, then drained",
        "seconds",
        "deliveries",
        &[Series {
            name: "deliveries waiting",
            points: backlog(|s| s.deliveries_waiting as f64),
        }],
        false,
    )?;
    let soak = scale.soak.as_ref().map_or_else(Vec::new, |soak| {
        soak.samples
            .iter()
            .map(|sample| (sample.at_s / 60.0, sample.rss_mib))
            .collect()
    });
    line_chart(
        &dir.join("soak-memory.svg"),
        "herald up's memory under a steady mixed load",
        "minutes",
        "RSS MiB",
        &[Series {
            name: "herald up",
            points: soak,
        }],
        false,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn axis_values_read_as_people_write_them() {
        assert_eq!(readable(10_000_000.0), "10M");
        assert_eq!(readable(1_000_000.0), "1M");
        assert_eq!(readable(250_000.0), "250k");
        assert_eq!(readable(1_500.0), "1.5k");
        assert_eq!(readable(42.0), "42");
        assert_eq!(readable(0.5), "0.5");
        assert_eq!(readable(0.0), "0");
    }
}
