use std::time::Duration;

use herald_tests::app::{Options, TestApp};
use herald_tests::broker::event;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_reaches_the_endpoint_with_the_exact_body_headers_and_a_valid_signature() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    let webhook = app
        .api
        .create_webhook(
            "acme",
            json!({
                "name": "crm",
                "url": app.receiver.url("/crm"),
                "eventTypes": ["contact-created"],
                "authHeader": {"name": "X-Api-Key", "value": "k3y"}
            }),
        )
        .await;
    let event = event(
        "acme",
        "contact-created",
        json!({"firstName": "Ada", "tags": ["a", "b"]}),
    );

    // Act
    app.publish(&event).await;

    // Assert
    let received = app
        .receiver
        .wait_for("/crm", 1, Duration::from_secs(10))
        .await;
    let request = &received[0];
    let webhook_id = webhook["id"].as_str().unwrap();
    let event_id = event["eventId"].as_str().unwrap();
    assert_eq!(
        std::str::from_utf8(&request.body).unwrap(),
        format!(
            r#"{{"meta":{{"webhookId":"{webhook_id}","eventId":"{event_id}","eventType":"contact-created","eventTimestamp":"2024-03-21T13:46:46Z","entityId":"CONT-123","version":"1.0"}},"data":{{"firstName":"Ada","tags":["a","b"]}}}}"#
        )
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.header("content-length"),
        Some(request.body.len().to_string().as_str())
    );
    assert_eq!(
        request.header("user-agent"),
        Some(concat!("Herald-Webhooks/", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(request.header("x-api-key"), Some("k3y"));
    assert_eq!(request.header("webhook-id"), Some(event_id));
    let timestamp: i64 = request
        .header("webhook-timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
    assert!(
        request
            .header("webhook-signature")
            .unwrap()
            .starts_with("v1,")
    );
    request
        .verify(webhook["signingSecret"].as_str().unwrap())
        .expect("the signature verifies");
}
