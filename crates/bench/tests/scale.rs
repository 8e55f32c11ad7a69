//! The scale scenarios run (on small sizes: the full run is by hand) and chart what they
//! measured.

#![allow(clippy::unwrap_used)]

use herald_bench::herald::Services;
use herald_bench::run::measure_scale;
use herald_bench::scale::ScaleSizes;
use herald_testkit::{Clock, POSTGRES_BASE, RABBITMQ_ADDR, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scale_scenarios_run_on_small_sizes_and_chart_what_they_measured() {
    // Arrange
    let services = Services {
        rabbitmq: RABBITMQ_ADDR.into(),
        postgres: POSTGRES_BASE.into(),
    };
    let clock = Clock::start();
    let receiver = Receiver::counting(clock).await.unwrap();
    let sizes = ScaleSizes::tiny();

    // Act
    let scale = measure_scale(&services, &receiver, &clock, &sizes)
        .await
        .unwrap();
    let charts = std::env::temp_dir().join(format!("herald-scale-{}", herald_testkit::unique_id()));
    herald_bench::plot::scale_charts(&scale, &charts).unwrap();

    // Assert: every point delivered everything, and was measured.
    assert_eq!(scale.fan_out.len(), sizes.fan_out.len());
    for point in &scale.fan_out {
        assert_eq!(
            point.deliveries,
            (point.events * point.webhooks_per_event) as u64
        );
        assert!(point.deliveries_per_s > 0.0, "{point:?}");
        assert!(point.cpu_per_delivery_us > 0.0, "{point:?}");
        assert!(point.fanout_peak_rss_mib > 0.0, "{point:?}");
    }
    assert_eq!(scale.registry.len(), sizes.registry.len());
    for point in &scale.registry {
        assert!(point.startup_s > 0.0, "{point:?}");
        assert!(point.deliveries_per_s > 0.0, "{point:?}");
    }
    assert_eq!(scale.attempt_log.len(), sizes.attempt_log.len());
    for point in &scale.attempt_log {
        assert!(point.attempt_page.p99_ms > 0.0, "{point:?}");
        assert!(point.webhook_list.p99_ms > 0.0, "{point:?}");
        assert!(point.delivery_latency.p99_ms > 0.0, "{point:?}");
        assert!(
            point.delivery_latency_during_retention.p99_ms > 0.0,
            "{point:?}"
        );
    }
    let soak = scale.soak.as_ref().unwrap();
    assert!(soak.samples.len() >= 2, "{soak:?}");
    assert!(
        soak.samples
            .iter()
            .all(|s| s.rss_mib > 0.0 && s.requests_per_s > 0.0),
        "{soak:?}"
    );
    let backlog = scale.backlog.as_ref().unwrap();
    assert_eq!(backlog.events, sizes.backlog.unwrap().events);
    assert!(backlog.fresh_events > 0, "{backlog:?}");
    assert!(backlog.fresh_latency.p99_ms > 0.0, "{backlog:?}");
    assert!(
        backlog.drain_deliveries_per_s > 0.0 && backlog.sender_rss_mib.peak > 0.0,
        "{backlog:?}"
    );
    assert!(
        backlog
            .samples
            .iter()
            .any(|s| s.phase == "building" && s.deliveries_waiting > 0),
        "{backlog:?}"
    );
    // The oldest of 29 seeded days went, and nothing newer.
    let seeded = scale.attempt_log[1].attempts as u64;
    let removed = scale.attempt_log[1].retention_removed;
    assert!(
        removed > 0 && removed <= seeded / 20,
        "removed {removed} of {seeded}"
    );
    let json = serde_json::to_value(&scale).unwrap();
    assert!(json["fan_out"][0]["deliveries_per_s"].is_number());
    assert!(json["registry"][1]["other_webhooks"] == 50);
    for chart in [
        "fan-out-throughput.svg",
        "fan-out-latency.svg",
        "registry-memory.svg",
        "registry-throughput.svg",
        "attempt-log-api.svg",
        "backlog-memory.svg",
        "backlog-drain.svg",
        "soak-memory.svg",
    ] {
        let svg = std::fs::read_to_string(charts.join(chart)).unwrap();
        assert!(svg.contains("<svg"), "{chart}");
    }
    let _ = std::fs::remove_dir_all(&charts);
}
