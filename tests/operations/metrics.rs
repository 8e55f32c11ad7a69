use std::time::Duration;

use herald_tests::app::{Options, TestApp};
use herald_tests::broker::event;
use herald_tests::wait;
use serde_json::json;

fn parse(text: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_owned())))
        .expect("Prometheus text format")
}

fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text_and_move_with_deliveries() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    app.api.create_webhook("acme", json!({"name": "crm", "url": app.receiver.url("/crm"), "eventTypes": ["contact-created"]})).await;
    app.wait_for_registry().await;
    let (_, before) = app.api.get_text("/metrics").await;
    let before = parse(&before);

    // Act
    for n in 0..3 {
        app.publish(&event("acme", "contact-created", json!({"n": n})))
            .await;
    }
    app.publish(&json!({"not": "an event"})).await;
    app.receiver
        .wait_for("/crm", 3, Duration::from_secs(10))
        .await;

    // Assert
    let after = wait::until("the counters to move", Duration::from_secs(15), || async {
        let (_, text) = app.api.get_text("/metrics").await;
        let scrape = parse(&text);
        let moved = value(
            &scrape,
            "herald_sender_attempts_total",
            &[("result", "delivered"), ("status_class", "2xx")],
        ) >= 3.0
            && value(
                &scrape,
                "herald_fanout_events_total",
                &[("outcome", "fanned_out")],
            ) >= 3.0
            && value(&scrape, "herald_fanout_events_rejected_total", &[]) >= 1.0
            && value(
                &scrape,
                "herald_queue_messages",
                &[("queue", "webhooks.rejected")],
            ) >= 1.0;
        moved.then_some(scrape)
    })
    .await;
    let delivered = |s: &prometheus_parse::Scrape| {
        value(
            s,
            "herald_sender_attempts_total",
            &[("result", "delivered")],
        )
    };
    assert_eq!(delivered(&after) - delivered(&before), 3.0);
    assert_eq!(
        value(
            &after,
            "herald_fanout_events_total",
            &[("outcome", "fanned_out")]
        ),
        3.0
    );
    assert_eq!(
        value(
            &after,
            "herald_fanout_events_rejected_total",
            &[("reason", "missing_field")]
        ),
        1.0
    );
    assert_eq!(
        value(&after, "herald_fanout_deliveries_published_total", &[]),
        3.0
    );
    assert_eq!(value(&after, "herald_fanout_registry_webhooks", &[]), 1.0);
    assert_eq!(value(&after, "herald_sender_broker_connected", &[]), 1.0);
    assert_eq!(value(&after, "herald_database_up", &[]), 1.0);
    assert_eq!(
        value(
            &after,
            "herald_queue_messages",
            &[("queue", "webhooks.rejected")]
        ),
        1.0
    );
    assert!(
        after
            .samples
            .iter()
            .any(|s| s.metric == "herald_queue_messages"
                && s.labels.get("queue") == Some("webhooks.failed"))
    );
    assert!(
        after
            .samples
            .iter()
            .any(|s| s.metric == "herald_sender_delivery_latency_seconds")
    );
    assert!(
        after
            .samples
            .iter()
            .any(|s| s.metric == "herald_sender_request_duration_seconds")
    );
}
