use herald_tests::app::{Options, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Bodies no write route may accept, and none may answer with a 5xx.
fn hostile_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let deep_object = format!("{}1{}", r#"{"a":"#.repeat(2000), "}".repeat(2000));
    vec![
        ("truncated JSON", b"{\"name\": ".to_vec()),
        ("an array", b"[]".to_vec()),
        ("a string", b"\"webhook\"".to_vec()),
        ("null", b"null".to_vec()),
        ("a number", b"12345678901234567890123456789".to_vec()),
        ("invalid UTF-8", b"{\"name\": \"\xff\xfe\xfd\"}".to_vec()),
        ("deep nesting", deep.into_bytes()),
        ("deep objects", deep_object.into_bytes()),
        (
            "huge string",
            format!(r#"{{"name":"{}"}}"#, "x".repeat(200_000)).into_bytes(),
        ),
        (
            "name of the wrong type",
            br#"{"name": {"first": 1}}"#.to_vec(),
        ),
        (
            "url of the wrong type",
            br#"{"url": ["https://example.com"]}"#.to_vec(),
        ),
        (
            "event types of the wrong type",
            br#"{"eventTypes": {"contact-created": true}}"#.to_vec(),
        ),
        (
            "unknown event type",
            br#"{"eventTypes": ["contact-created", "../../etc/passwd"]}"#.to_vec(),
        ),
        ("enabled as a string", br#"{"enabled": "true"}"#.to_vec()),
        ("unknown field", br#"{"colour": "blue"}"#.to_vec()),
        (
            "auth header without value",
            br#"{"authHeader": {"name": "X-Key"}}"#.to_vec(),
        ),
        (
            "auth header with CRLF",
            br#"{"authHeader": {"name": "X-Key", "value": "a\r\nHost: evil"}}"#.to_vec(),
        ),
        (
            "auth header overriding host",
            br#"{"authHeader": {"name": "Host", "value": "evil"}}"#.to_vec(),
        ),
        ("NUL in the name", b"{\"name\": \"a\\u0000b\"}".to_vec()),
        (
            "javascript URL",
            br#"{"url": "javascript:alert(1)"}"#.to_vec(),
        ),
        ("file URL", br#"{"url": "file:///etc/passwd"}"#.to_vec()),
        (
            "huge description",
            format!(r#"{{"description":"{}"}}"#, "d".repeat(1001)).into_bytes(),
        ),
        ("lone surrogate escape", br#"{"name": "\ud800"}"#.to_vec()),
        ("event type for a test", br#"{"eventType": 42}"#.to_vec()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_get_a_4xx_on_every_write_route_and_leave_the_registry_unchanged() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    let webhook = app
        .api
        .create_webhook("acme", json!({"name": "target", "url": app.receiver.url("/hook"), "eventTypes": ["contact-created"]}))
        .await;
    let path = format!(
        "/v1/tenants/acme/webhooks/{}",
        webhook["id"].as_str().unwrap()
    );
    let routes = [
        (Method::POST, "/v1/tenants/acme/webhooks".to_owned()),
        (Method::PATCH, path.clone()),
        (Method::POST, format!("{path}/test")),
        (Method::POST, format!("{path}/rotate-secret")),
        (Method::DELETE, path.clone()),
    ];
    let (_, before) = app
        .api
        .call(Method::GET, "/v1/tenants/acme/webhooks", None)
        .await;
    // A fresh connection per request: the server closes a connection whose body it refused
    // (413, 415) instead of reading it, and a pooled one may be reused just as it closes.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();

    // Act
    let mut answers = Vec::new();
    for (method, route) in &routes {
        for (what, body) in hostile_bodies() {
            let oversize = body.len() > herald_api::MAX_BODY_BYTES;
            let sent = http
                .request(method.clone(), format!("http://{}{route}", app.address))
                .bearer_auth(herald_tests::app::ADMIN_TOKEN)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                // The server answers 413 as soon as the limit is passed and closes the
                // connection: the client may still be writing and see the pipe break instead.
                Err(error) if oversize && error.is_request() => {
                    answers.push((
                        format!("{method} {route} with {what}"),
                        StatusCode::PAYLOAD_TOO_LARGE,
                        Value::Null,
                    ));
                    continue;
                }
                Err(error) => panic!("{method} {route} with {what}: {error}"),
            };
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            answers.push((format!("{method} {route} with {what}"), status, body));
        }
    }

    // Assert
    for (request, status, body) in &answers {
        assert!(
            status.is_client_error(),
            "{request} answered {status}: {body}"
        );
        if *status != StatusCode::PAYLOAD_TOO_LARGE {
            assert!(
                body["error"]["message"].is_string(),
                "{request}: no error message in {body}"
            );
        }
    }
    let (_, after) = app
        .api
        .call(Method::GET, "/v1/tenants/acme/webhooks", None)
        .await;
    assert_eq!(before, after, "the registry changed");
    assert!(app.receiver.all().is_empty(), "a test delivery was made");
}
