use std::time::Duration;

use herald_broker::lapin::BasicProperties;
use herald_broker::{DeliveryHeaders, SealKey};
use herald_contract::{EventType, WebhookId};
use herald_tests::app::{Options, TestApp};
use herald_tests::broker::event;
use herald_tests::wait;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_events_are_rejected_with_a_reason_and_a_valid_event_after_them_is_delivered() {
    // Arrange
    let app = TestApp::spawn(Options {
        max_event_bytes: 2048,
        ..Options::default()
    })
    .await;
    app.api
        .create_webhook("acme", json!({"name": "crm", "url": app.receiver.url("/crm"), "eventTypes": ["contact-created"]}))
        .await;
    app.wait_for_registry().await;
    let exchange = app.topology.events_exchange();
    let mut missing_tenant = event("acme", "contact-created", json!({}));
    missing_tenant.as_object_mut().unwrap().remove("tenantId");
    let oversize = event("acme", "contact-created", json!({"blob": "x".repeat(4096)}));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "contact-created",
            b"this is not json".to_vec(),
            "not valid JSON",
        ),
        (
            "contact-created",
            serde_json::to_vec(&missing_tenant).unwrap(),
            "`tenantId` is missing",
        ),
        (
            "contact-merged",
            serde_json::to_vec(&event("acme", "contact-merged", json!({}))).unwrap(),
            "not in the catalog",
        ),
        (
            "contact-created",
            serde_json::to_vec(&oversize).unwrap(),
            "more than the limit of 2048 bytes",
        ),
    ];

    // Act
    for (routing_key, body, _) in &cases {
        app.broker
            .publish_raw(exchange, routing_key, body, BasicProperties::default())
            .await;
    }
    let valid = event("acme", "contact-created", json!({"ok": true}));
    app.publish(&valid).await;

    // Assert
    let received = app
        .receiver
        .wait_for("/crm", 1, Duration::from_secs(10))
        .await;
    assert_eq!(received[0].json()["meta"]["eventId"], valid["eventId"]);
    let rejected = app
        .broker
        .take_n(
            &app.topology.rejected_queue(),
            cases.len(),
            Duration::from_secs(10),
        )
        .await;
    for (_, body, reason) in &cases {
        let message = rejected
            .iter()
            .find(|m| &m.body == body)
            .expect("the rejected event, byte for byte");
        let header = message.header_str("x-reject-reason").expect("a reason");
        assert!(
            header.contains(reason),
            "{header:?} does not mention {reason:?}"
        );
    }
    assert_eq!(app.receiver.all().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_on_the_deliveries_queue_that_is_not_a_delivery_is_rejected_and_the_sender_carries_on()
 {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    app.api
        .create_webhook("acme", json!({"name": "crm", "url": app.receiver.url("/crm"), "eventTypes": ["contact-created"]}))
        .await;
    app.wait_for_registry().await;

    // Act
    app.broker
        .put(
            &app.topology.deliveries_queue(),
            b"poison",
            BasicProperties::default(),
        )
        .await;
    let valid = event("acme", "contact-created", json!({}));
    app.publish(&valid).await;

    // Assert
    let rejected = app
        .broker
        .take_n(&app.topology.rejected_queue(), 1, Duration::from_secs(10))
        .await;
    assert_eq!(rejected[0].body, b"poison");
    assert!(
        rejected[0]
            .header_str("x-reject-reason")
            .unwrap()
            .contains("x-webhook-id")
    );
    app.receiver
        .wait_for("/crm", 1, Duration::from_secs(10))
        .await;
    wait::until(
        "the deliveries queue to drain",
        Duration::from_secs(5),
        || async { (app.broker.count(&app.topology.deliveries_queue()).await == 0).then_some(()) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_fanout_did_not_seal_is_rejected_and_nothing_is_signed_or_sent() {
    // Arrange: a real webhook, and deliveries for it forged on the deliveries queue.
    let app = TestApp::spawn(Options::default()).await;
    let webhook = app
        .api
        .create_webhook("acme", json!({"name": "crm", "url": app.receiver.url("/crm"), "eventTypes": ["contact-created"]}))
        .await;
    let webhook_id: WebhookId = webhook["id"].as_str().unwrap().parse().unwrap();
    let body = |event_id: &str, webhook: &str| {
        format!(
            r#"{{"meta":{{"webhookId":"{webhook}","eventId":"{event_id}","eventType":"contact-created"}},"data":{{"forged":true}}}}"#
        )
    };
    let headers = |event_id: &str| DeliveryHeaders {
        webhook_id: webhook_id.clone(),
        tenant_id: "acme".parse().unwrap(),
        event_id: event_id.parse().unwrap(),
        event_type: EventType::ContactCreated,
        event_timestamp: None,
        attempts: 0,
        first_attempt_at: None,
        traceparent: None,
        tracestate: None,
        seal: None,
    };
    let unsealed = (headers("unsealed"), body("unsealed", webhook_id.as_str()));
    let mut wrong_key = (headers("wrong-key"), body("wrong-key", webhook_id.as_str()));
    wrong_key.0.seal = Some(
        SealKey::new(herald_tests::app::seal_key().id(), [1; 32])
            .seal(&wrong_key.0, wrong_key.1.as_bytes()),
    );
    // Sealed with the right key, but the body names another webhook than the headers.
    let mut disagreeing = (
        headers("disagreeing"),
        body("disagreeing", "WEBH-0193A1B2C3D4E5F60718293A4B5C6D7E"),
    );
    disagreeing.0.seal =
        Some(herald_tests::app::seal_key().seal(&disagreeing.0, disagreeing.1.as_bytes()));

    // Act
    for (headers, body) in [&unsealed, &wrong_key, &disagreeing] {
        app.broker
            .put(
                &app.topology.deliveries_queue(),
                body.as_bytes(),
                headers.to_properties(None),
            )
            .await;
    }
    let valid = event("acme", "contact-created", json!({}));
    app.publish(&valid).await;

    // Assert
    let rejected = app
        .broker
        .take_n(&app.topology.rejected_queue(), 3, Duration::from_secs(10))
        .await;
    let reasons: Vec<String> = rejected
        .iter()
        .map(|m| m.header_str("x-reject-reason").unwrap())
        .collect();
    for expected in [
        "carries no seal",
        "seal does not match",
        "body does not name",
    ] {
        assert!(
            reasons.iter().any(|reason| reason.contains(expected)),
            "no rejection says {expected:?}: {reasons:?}"
        );
    }
    let received = app
        .receiver
        .wait_for("/crm", 1, Duration::from_secs(10))
        .await;
    assert_eq!(received[0].json()["meta"]["eventId"], valid["eventId"]);
    wait::until(
        "the deliveries queue to drain",
        Duration::from_secs(5),
        || async { (app.broker.count(&app.topology.deliveries_queue()).await == 0).then_some(()) },
    )
    .await;
    assert_eq!(
        app.receiver.to("/crm").len(),
        1,
        "a forged delivery was sent"
    );
}
