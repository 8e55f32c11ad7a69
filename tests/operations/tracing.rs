use std::time::Duration;

use herald_broker::headers::put_str;
use herald_broker::lapin::BasicProperties;
use herald_broker::lapin::types::FieldTable;
use herald_tests::broker::event;
use herald_tests::processes::{Backing, ProcessApp};
use herald_tests::receiver::Receiver;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_trace_continues_through_fanout_and_sender_to_the_endpoint_and_the_collector() {
    // Arrange
    // The OTLP/HTTP collector: the same receiver, keeping every trace export.
    let collector = Receiver::start().await;
    let endpoint = collector.url("");
    let app = ProcessApp::spawn_with(
        Backing::shared(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ],
    )
    .await;
    app.api
        .create_webhook("acme", json!({"name": "traced", "url": app.receiver.url("/traced"), "eventTypes": ["contact-created"]}))
        .await;
    app.wait_for_registry().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let publisher_span = "00f067aa0ba902b7";
    let mut headers = FieldTable::default();
    put_str(
        &mut headers,
        "traceparent",
        &format!("00-{trace_id}-{publisher_span}-01"),
    );

    // Act
    let body = serde_json::to_vec(&event("acme", "contact-created", json!({}))).unwrap();
    app.broker
        .publish_raw(
            "platform.events",
            "contact-created",
            &body,
            BasicProperties::default().with_headers(headers),
        )
        .await;

    // Assert
    let received = app
        .receiver
        .wait_for("/traced", 1, Duration::from_secs(10))
        .await;
    let traceparent = received[0]
        .header("traceparent")
        .expect("a traceparent header")
        .to_owned();
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts[1], trace_id, "{traceparent}");
    assert_ne!(
        parts[2], publisher_span,
        "the sender's own span should be the parent of the request"
    );
    for service in ["herald-fanout", "herald-sender"] {
        collector
            .wait_until(
                &format!("spans of {service} for the trace"),
                Duration::from_secs(30),
                |exports| {
                    exports
                        .iter()
                        .filter(|export| export.path == "/v1/traces")
                        .map(|export| String::from_utf8_lossy(&export.body).to_lowercase())
                        .any(|export| export.contains(trace_id) && export.contains(service))
                        .then_some(())
                },
            )
            .await;
    }
}
