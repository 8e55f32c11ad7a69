use std::time::Duration;

use herald_tests::app::{ADMIN_TOKEN, Options, TestApp};
use herald_tests::broker::event;
use herald_tests::receiver::Receiver;
use herald_tests::wait;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_delivery_verifies_is_logged_as_a_test_and_leaves_the_last_attempt_alone() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    let webhook = app
        .api
        .create_webhook("acme", json!({"name": "crm", "url": app.receiver.url("/crm"), "eventTypes": ["company-note-updated", "contact-created"]}))
        .await;
    let path = format!(
        "/v1/tenants/acme/webhooks/{}",
        webhook["id"].as_str().unwrap()
    );

    // Act
    let (status, attempt) = app
        .api
        .call(Method::POST, &format!("{path}/test"), None)
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    assert_eq!(attempt["result"], "delivered");
    assert_eq!(attempt["test"], true);
    assert_eq!(attempt["attempt"], 1);
    assert_eq!(
        attempt["eventType"], "company-note-updated",
        "defaults to the first subscribed type"
    );
    let received = app
        .receiver
        .wait_for("/crm", 1, Duration::from_secs(5))
        .await;
    received[0]
        .verify(webhook["signingSecret"].as_str().unwrap())
        .expect("the test request verifies");
    let body = received[0].json();
    assert_eq!(body["meta"]["eventType"], "company-note-updated");
    assert_eq!(body["meta"]["eventId"], attempt["eventId"]);
    assert!(body["data"].is_object());
    let (_, fetched) = app.api.call(Method::GET, &path, None).await;
    assert_eq!(fetched["lastAttempt"], serde_json::Value::Null);
    let (_, log) = app
        .api
        .call(Method::GET, &format!("{path}/attempts"), None)
        .await;
    assert_eq!(log["items"][0]["test"], true);
    assert_eq!(log["items"][0]["eventId"], attempt["eventId"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_rotation_deliveries_verify_with_the_new_secret_and_with_the_old_one() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    let webhook = app
        .api
        .create_webhook("acme", json!({"name": "crm", "url": app.receiver.url("/crm"), "eventTypes": ["contact-created"]}))
        .await;
    let old_secret = webhook["signingSecret"].as_str().unwrap().to_owned();
    let path = format!(
        "/v1/tenants/acme/webhooks/{}",
        webhook["id"].as_str().unwrap()
    );

    // Act
    let (status, rotated) = app
        .api
        .call(Method::POST, &format!("{path}/rotate-secret"), None)
        .await;
    let new_secret = rotated["signingSecret"].as_str().unwrap().to_owned();
    app.wait_for_registry().await;
    app.publish(&event("acme", "contact-created", json!({})))
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    assert_ne!(new_secret, old_secret);
    let received = app
        .receiver
        .wait_for("/crm", 1, Duration::from_secs(10))
        .await;
    let request = &received[0];
    assert_eq!(
        request
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    request
        .verify(&new_secret)
        .expect("verifies with the new secret");
    request
        .verify(&old_secret)
        .expect("verifies with the old secret during the grace period");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_holds_no_auth_header_value_or_signing_secret_in_clear() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    let header_value = "Bearer very-secret-receiver-token";
    let webhook = app
        .api
        .create_webhook(
            "acme",
            json!({"name": "crm", "url": app.receiver.url("/crm"), "eventTypes": ["contact-created"], "authHeader": {"name": "Authorization", "value": header_value}}),
        )
        .await;
    let path = format!(
        "/v1/tenants/acme/webhooks/{}",
        webhook["id"].as_str().unwrap()
    );
    let (_, rotated) = app
        .api
        .call(Method::POST, &format!("{path}/rotate-secret"), None)
        .await;
    let secrets = [
        webhook["signingSecret"].as_str().unwrap(),
        rotated["signingSecret"].as_str().unwrap(),
    ];

    // Act
    let (client, connection) = tokio_postgres::connect(&app.database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let rows = client
        .query("SELECT row_to_json(w)::text FROM webhooks w", &[])
        .await
        .unwrap();
    let dump: String = rows.iter().map(|row| row.get::<_, String>(0)).collect();

    // Assert
    assert!(
        dump.contains("Authorization"),
        "the header name is stored: {dump}"
    );
    let forms = |plain: &str| [plain.to_owned(), hex(plain.as_bytes())];
    for form in forms(header_value) {
        assert!(
            !dump.contains(&form),
            "the auth header value is stored in clear"
        );
    }
    for secret in secrets {
        let key = secret.trim_start_matches("whsec_");
        for form in forms(secret).into_iter().chain(forms(key)) {
            assert!(!dump.contains(&form), "a signing secret is stored in clear");
        }
    }
    let log = client
        .query("SELECT row_to_json(a)::text FROM delivery_attempts a", &[])
        .await
        .unwrap();
    assert!(
        log.iter()
            .all(|row| !row.get::<_, String>(0).contains(header_value))
    );
    wait::until(
        "the API to still read the webhook",
        Duration::from_secs(5),
        || async {
            let (status, fetched) = app.api.call(Method::GET, &path, None).await;
            (status == StatusCode::OK && fetched["signingSecret"] == rotated["signingSecret"])
                .then_some(())
        },
    )
    .await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_webhook_to_another_origin_drops_its_auth_header_unless_the_change_sets_it() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    let elsewhere = Receiver::start().await;
    let webhook = app
        .api
        .create_webhook(
            "acme",
            json!({"name": "crm", "url": app.receiver.url("/crm"), "eventTypes": ["contact-created"],
                   "authHeader": {"name": "X-Api-Key", "value": "k3y"}}),
        )
        .await;
    let path = format!(
        "/v1/tenants/acme/webhooks/{}",
        webhook["id"].as_str().unwrap()
    );
    let patch = |url: String| json!({ "url": url });

    // Act: same origin, other path; then another origin; then another origin with a header.
    let (_, same_origin) = app
        .api
        .call(
            Method::PATCH,
            &path,
            Some(&patch(app.receiver.url("/crm/v2"))),
        )
        .await;
    let (_, moved) = app
        .api
        .call(Method::PATCH, &path, Some(&patch(elsewhere.url("/steal"))))
        .await;
    let (test_status, _) = app
        .api
        .call(Method::POST, &format!("{path}/test"), None)
        .await;
    let (_, moved_back) = app
        .api
        .call(
            Method::PATCH,
            &path,
            Some(&json!({"url": app.receiver.url("/crm"), "authHeader": {"name": "X-Api-Key", "value": "n3w"}})),
        )
        .await;
    app.api
        .call(Method::POST, &format!("{path}/test"), None)
        .await;

    // Assert
    assert_eq!(
        same_origin["authHeader"]["name"], "X-Api-Key",
        "kept on the same origin"
    );
    assert_eq!(
        moved["authHeader"],
        Value::Null,
        "dropped on another origin"
    );
    assert_eq!(test_status, StatusCode::OK);
    let stolen = elsewhere
        .wait_for("/steal", 1, Duration::from_secs(5))
        .await;
    assert_eq!(
        stolen[0].header("x-api-key"),
        None,
        "the stored value never left"
    );
    assert_eq!(moved_back["authHeader"]["name"], "X-Api-Key");
    let received = app
        .receiver
        .wait_for("/crm", 1, Duration::from_secs(5))
        .await;
    assert_eq!(received[0].header("x-api-key"), Some("n3w"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_carry_a_signing_secret_are_never_cached_and_the_bearer_scheme_is_case_insensitive()
 {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    let client = reqwest::Client::new();

    // Act
    let response = client
        .post(format!("http://{}/v1/tenants/acme/webhooks", app.address))
        .header("authorization", format!("bearer {ADMIN_TOKEN}"))
        .json(&json!({"name": "crm", "url": app.receiver.url("/crm"), "eventTypes": ["contact-created"]}))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
}
