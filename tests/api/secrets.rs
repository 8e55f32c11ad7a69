use std::time::Duration;

use herald_tests::app::{Options, TestApp};
use herald_tests::broker::event;
use herald_tests::wait;
use reqwest::{Method, StatusCode};
use serde_json::json;

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
    let propagation = tokio::time::Instant::now() + Duration::from_secs(1);
    tokio::time::sleep_until(propagation).await;
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
