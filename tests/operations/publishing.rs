use std::time::Duration;

use herald_broker::EventPublisher;
use herald_contract::EventType;
use herald_contract::OutgoingEvent;
use herald_tests::app::{Options, TestApp};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_service_publishing_with_the_contract_crate_reaches_the_webhook() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    app.api
        .create_webhook("acme", json!({"name": "crm", "url": app.receiver.url("/crm"), "eventTypes": ["company-updated"]}))
        .await;
    app.wait_for_registry().await;
    let connection =
        herald_broker::lapin::Connection::connect(&app.vhost.amqp_url(), Default::default())
            .await
            .unwrap();
    let publisher = EventPublisher::default_exchange(&connection).await.unwrap();
    let event = OutgoingEvent::new(
        "acme".parse().unwrap(),
        EventType::CompanyUpdated,
        "COMP-42",
        json!({"name": "Initech"}),
    );
    let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    // Act
    publisher.publish(&event, Some(traceparent)).await.unwrap();

    // Assert
    let received = app
        .receiver
        .wait_for("/crm", 1, Duration::from_secs(10))
        .await;
    assert_eq!(
        received[0].header("webhook-id"),
        Some(event.event_id.as_str())
    );
    assert_eq!(received[0].json()["data"]["name"], "Initech");
    assert_eq!(
        received[0].header("traceparent"),
        Some(traceparent),
        "the trace context passes through"
    );
}
