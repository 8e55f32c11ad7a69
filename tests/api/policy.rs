use herald_tests::app::{Options, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn strict() -> Options {
    Options {
        allow_private_targets: false,
        allow_http: false,
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_public_and_plain_http_targets_are_refused_when_the_policy_is_on() {
    // Arrange
    let app = TestApp::spawn(strict()).await;

    // Act + Assert: IP literals are refused when saved.
    for url in [
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
    ] {
        let (status, body) = app
            .api
            .call(
                Method::POST,
                "/v1/tenants/acme/webhooks",
                Some(&json!({"name": url, "url": url, "eventTypes": ["contact-created"]})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not a public address"),
            "{url}: {body}"
        );
    }
    let (status, body) = app
        .api
        .call(Method::POST, "/v1/tenants/acme/webhooks", Some(&json!({"name": "plain", "url": "http://example.com/", "eventTypes": ["contact-created"]})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("https://")
    );

    // A name is checked where it matters: on the address connected to.
    let webhook = app
        .api
        .create_webhook("acme", json!({"name": "sneaky", "url": "https://localhost:1/hook", "eventTypes": ["contact-created"]}))
        .await;
    let (status, attempt) = app
        .api
        .call(
            Method::POST,
            &format!(
                "/v1/tenants/acme/webhooks/{}/test",
                webhook["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(attempt["result"], "failed");
    let error = attempt["error"].as_str().unwrap();
    assert!(
        error.contains("refused by network policy") && error.contains("localhost"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_targets_and_plain_http_are_allowed_when_the_policy_is_lifted() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    let local_name = app.receiver.url("/hook").replace("127.0.0.1", "localhost");

    // Act
    let webhook = app
        .api
        .create_webhook(
            "acme",
            json!({"name": "local", "url": local_name, "eventTypes": ["contact-created"]}),
        )
        .await;
    let (status, attempt) = app
        .api
        .call(
            Method::POST,
            &format!(
                "/v1/tenants/acme/webhooks/{}/test",
                webhook["id"].as_str().unwrap()
            ),
            None,
        )
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    assert_eq!(attempt["result"], "delivered", "{attempt}");
    for url in [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/",
        "http://[::1]:9/",
        "http://[::ffff:127.0.0.1]:9/",
    ] {
        let (status, body) = app
            .api
            .call(
                Method::POST,
                "/v1/tenants/acme/webhooks",
                Some(&json!({"name": url, "url": url, "eventTypes": ["contact-created"]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
    }
}
