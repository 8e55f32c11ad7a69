use std::collections::BTreeSet;

use herald_tests::app::{Options, TestApp};

const DASHBOARD: &str = include_str!("../../deploy/grafana/herald-dashboard.json");
const ALERTS: &str = include_str!("../../deploy/prometheus/alerts.yaml");

/// The PromQL expressions of the alert rules (each written on its `expr:` line).
fn alert_expressions() -> Vec<&'static str> {
    ALERTS
        .lines()
        .filter_map(|line| line.trim().strip_prefix("expr:"))
        .map(str::trim)
        .collect()
}

/// Every `herald_…` metric family a PromQL expression names.
fn metric_families(expr: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find("herald_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .fold(name, |n, suffix| n.strip_suffix(suffix).unwrap_or(n));
        found.push(family.to_owned());
        rest = &tail[end..];
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_grafana_dashboard_and_the_alert_rules_query_is_exported() {
    // Arrange
    let dashboard: serde_json::Value =
        serde_json::from_str(DASHBOARD).expect("the dashboard is valid JSON");
    let queried: BTreeSet<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .flat_map(|target| metric_families(target["expr"].as_str().unwrap_or_default()))
        .collect();
    let alerted: BTreeSet<String> = alert_expressions()
        .into_iter()
        .flat_map(metric_families)
        .collect();
    let app = TestApp::spawn(Options::default()).await;

    // Act
    let (_, metrics) = app.api.get_text("/metrics").await;

    // Assert
    assert!(
        queried.len() >= 10,
        "the dashboard queries only {queried:?}"
    );
    assert!(
        alert_expressions().len() >= 8 && alerted.len() >= 8,
        "the alert rules query only {alerted:?}"
    );
    let exported: BTreeSet<&str> = metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    let missing: Vec<&String> = queried
        .iter()
        .chain(&alerted)
        .filter(|name| !exported.contains(name.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard or the alerts query metrics Herald does not export: {missing:?}"
    );
}

#[test]
fn metric_names_are_read_out_of_promql() {
    assert_eq!(
        metric_families(
            "histogram_quantile(0.9, sum by (le) (rate(herald_sender_request_duration_seconds_bucket[5m])))"
        ),
        ["herald_sender_request_duration_seconds"]
    );
    assert_eq!(
        metric_families("min(herald_a_up) + min(herald_b_total)"),
        ["herald_a_up", "herald_b_total"]
    );
}
