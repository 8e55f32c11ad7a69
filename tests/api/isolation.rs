use std::time::Duration;

use herald_tests::app::{Options, TestApp};
use herald_tests::broker::event;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_can_neither_see_nor_touch_another_tenants_webhooks() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    let theirs = app
        .api
        .create_webhook("globex", json!({"name": "theirs", "url": app.receiver.url("/globex"), "eventTypes": ["contact-created"]}))
        .await;
    let id = theirs["id"].as_str().unwrap();
    let as_acme = format!("/v1/tenants/acme/webhooks/{id}");

    // Act + Assert
    for (method, suffix, body) in [
        (Method::GET, "", None),
        (
            Method::PATCH,
            "",
            Some(json!({"url": "https://attacker.example/"})),
        ),
        (Method::POST, "/test", None),
        (Method::GET, "/attempts", None),
        (Method::POST, "/rotate-secret", None),
        (Method::DELETE, "", None),
    ] {
        let (status, _) = app
            .api
            .call(method.clone(), &format!("{as_acme}{suffix}"), body.as_ref())
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {suffix}");
    }
    let (_, acme_list) = app
        .api
        .call(Method::GET, "/v1/tenants/acme/webhooks", None)
        .await;
    assert!(acme_list["items"].as_array().unwrap().is_empty());
    let (_, unchanged) = app
        .api
        .call(
            Method::GET,
            &format!("/v1/tenants/globex/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(unchanged["url"], theirs["url"]);
    assert_eq!(unchanged["signingSecret"], theirs["signingSecret"]);
    assert!(
        app.receiver.all().is_empty(),
        "a test delivery crossed tenants"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_of_one_tenant_never_reaches_another_tenants_webhook() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    app.api
        .create_webhook("acme", json!({"name": "mine", "url": app.receiver.url("/acme"), "eventTypes": ["contact-created"]}))
        .await;
    app.api
        .create_webhook("globex", json!({"name": "theirs", "url": app.receiver.url("/globex"), "eventTypes": ["contact-created"]}))
        .await;
    app.wait_for_registry().await;

    // Act
    app.publish(&event(
        "acme",
        "contact-created",
        json!({"secret": "acme only"}),
    ))
    .await;
    let marker = event("globex", "contact-created", json!({"marker": true}));
    app.publish(&marker).await;

    // Assert
    app.receiver
        .wait_for("/acme", 1, Duration::from_secs(10))
        .await;
    let globex = app
        .receiver
        .wait_for("/globex", 1, Duration::from_secs(10))
        .await;
    app.receiver
        .wait_until("both deliveries", Duration::from_secs(10), |all| {
            (all.len() >= 2).then_some(())
        })
        .await;
    assert_eq!(app.receiver.to("/globex").len(), 1);
    assert_eq!(globex[0].json()["meta"]["eventId"], marker["eventId"]);
}
