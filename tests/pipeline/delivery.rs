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
    // The contract: a registry change is seen by fanout within 1 s.
    let created = std::time::Instant::now();
    app.wait_for_registry().await;
    assert!(
        created.elapsed() < Duration::from_secs(1),
        "fanout took {:?} to see a new webhook",
        created.elapsed()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_event_goes_to_every_matching_webhook_and_to_no_other() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    let mut subscribed = Vec::new();
    for name in ["one", "two", "three"] {
        let webhook = app
            .api
            .create_webhook(
                "acme",
                json!({"name": name, "url": app.receiver.url("/subscribed"), "eventTypes": ["company-created", "company-deleted"]}),
            )
            .await;
        subscribed.push(webhook["id"].as_str().unwrap().to_owned());
    }
    app.api
        .create_webhook("globex", json!({"name": "other tenant", "url": app.receiver.url("/other-tenant"), "eventTypes": ["company-created"]}))
        .await;
    app.api
        .create_webhook("acme", json!({"name": "other type", "url": app.receiver.url("/other-type"), "eventTypes": ["contact-created"]}))
        .await;
    app.api
        .create_webhook(
            "acme",
            json!({"name": "disabled", "url": app.receiver.url("/disabled"), "eventTypes": ["company-created"], "enabled": false}),
        )
        .await;
    // A second event, published after the first, marks the point by which the first's
    // deliveries have all been made: only then is "nothing else arrived" meaningful.
    app.api
        .create_webhook("acme", json!({"name": "marker", "url": app.receiver.url("/marker"), "eventTypes": ["basket-submitted"]}))
        .await;
    app.wait_for_registry().await;

    // Act
    app.publish(&event(
        "acme",
        "company-created",
        json!({"name": "Initech"}),
    ))
    .await;
    app.publish(&event("acme", "basket-submitted", json!({})))
        .await;

    // Assert
    let received = app
        .receiver
        .wait_for("/subscribed", 3, Duration::from_secs(10))
        .await;
    app.receiver
        .wait_for("/marker", 1, Duration::from_secs(10))
        .await;
    let mut webhook_ids: Vec<String> = received
        .iter()
        .map(|r| r.json()["meta"]["webhookId"].as_str().unwrap().to_owned())
        .collect();
    webhook_ids.sort();
    subscribed.sort();
    assert_eq!(webhook_ids, subscribed);
    assert!(app.receiver.to("/other-tenant").is_empty());
    assert!(app.receiver.to("/other-type").is_empty());
    assert!(app.receiver.to("/disabled").is_empty());
    assert_eq!(app.receiver.to("/subscribed").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_created_through_the_api_receives_an_event_published_a_second_later() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    app.api
        .create_webhook("acme", json!({"name": "new", "url": app.receiver.url("/new"), "eventTypes": ["contact-updated"]}))
        .await;
    app.wait_for_registry().await;

    // Act
    let event = event("acme", "contact-updated", json!({"id": 1}));
    app.publish(&event).await;

    // Assert
    let received = app
        .receiver
        .wait_for("/new", 1, Duration::from_secs(10))
        .await;
    assert_eq!(received[0].json()["meta"]["eventId"], event["eventId"]);
}
