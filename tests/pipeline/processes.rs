use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use herald_tests::app::ApiClient;
use herald_tests::broker::{event, vhost};
use herald_tests::processes::{ProcessApp, Service, binary, free_port};
use herald_tests::receiver::Receiver;
use herald_tests::{POSTGRES_BASE, drop_database, unique_id, wait};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_sender_mid_stream_and_starting_it_again_loses_no_delivery() {
    // Arrange
    let mut app = ProcessApp::spawn("300ms,300ms,300ms,300ms,300ms").await;
    app.api
        .create_webhook("acme", json!({"name": "sink", "url": app.receiver.url("/sink"), "eventTypes": ["contact-created"]}))
        .await;
    app.wait_for_registry().await;
    let events: Vec<_> = (0..300)
        .map(|i| event("acme", "contact-created", json!({"n": i})))
        .collect();
    for event in &events {
        app.broker.publish_event("platform.events", event).await;
    }
    app.receiver
        .wait_for("/sink", 20, Duration::from_secs(20))
        .await;

    // Act
    app.service(2).kill().await;
    let delivered_before_restart = app.receiver.to("/sink").len();
    app.start("sender").await;

    // Assert
    let expected: Vec<String> = events
        .iter()
        .map(|e| e["eventId"].as_str().unwrap().to_owned())
        .collect();
    let counts = app
        .receiver
        .wait_until(
            "every event to be delivered",
            Duration::from_secs(60),
            |all| {
                let mut counts: HashMap<String, usize> = HashMap::new();
                for request in all {
                    *counts
                        .entry(request.header("webhook-id").unwrap_or_default().to_owned())
                        .or_default() += 1;
                }
                expected
                    .iter()
                    .all(|id| counts.contains_key(id))
                    .then_some(counts)
            },
        )
        .await;
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    eprintln!(
        "delivered before the kill: {delivered_before_restart}; lost: 0; duplicates: {duplicates}"
    );
    assert!(
        delivered_before_restart < events.len(),
        "the kill came after everything was delivered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herald_up_on_a_fresh_database_and_vhost_delivers_an_event_sent_with_herald_publish() {
    // Arrange
    let id = unique_id();
    let vhost = vhost(&id);
    let database_name = format!("herald_test_{id}");
    let state_dir = std::env::temp_dir().join(format!("herald-up-{id}"));
    let port = free_port();
    let receiver = Receiver::start().await;
    let env: Vec<(String, String)> = [
        ("AMQP_URL", vhost.amqp_url()),
        ("DATABASE_URL", format!("{POSTGRES_BASE}/{database_name}")),
        ("HTTP_ADDR", format!("127.0.0.1:{port}")),
        ("HERALD_STATE_DIR", state_dir.to_string_lossy().into_owned()),
        ("ALLOW_HTTP", "true".into()),
        ("ALLOW_PRIVATE_TARGETS", "true".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();

    // Act
    let mut up = Service::start("herald", &["up"], &env, port);
    up.wait_ready().await;
    let token = std::fs::read_to_string(state_dir.join("admin-token"))
        .expect("up keeps the generated admin token");
    let api = ApiClient::new(format!("http://127.0.0.1:{port}"), token.trim());
    api.create_webhook(
        "acme",
        json!({"name": "crm", "url": receiver.url("/crm"), "eventTypes": ["contact-created"]}),
    )
    .await;
    herald_tests::wait_for_registry(
        &format!("{POSTGRES_BASE}/{database_name}"),
        &[
            (&up.health, herald_tests::app::FANOUT_REGISTRY_VERSION),
            (&up.health, herald_tests::app::SENDER_REGISTRY_VERSION),
        ],
    )
    .await;
    let published = tokio::process::Command::new(binary("herald"))
        .args([
            "publish",
            "--tenant",
            "acme",
            "--type",
            "contact-created",
            "--data",
            r#"{"name":"Ada"}"#,
        ])
        .env("AMQP_URL", vhost.amqp_url())
        .stdout(Stdio::null())
        .status()
        .await
        .expect("herald publish runs");

    // Assert
    assert!(published.success());
    let received = receiver.wait_for("/crm", 1, Duration::from_secs(10)).await;
    assert_eq!(received[0].json()["data"]["name"], "Ada");
    // The quick start's last step: a console link, with the token `up` kept.
    let portal = tokio::process::Command::new(binary("herald"))
        .args(["portal-url", "--tenant", "acme", "--scope", "read"])
        .env("HERALD_STATE_DIR", &state_dir)
        .env("HERALD_API_URL", format!("http://127.0.0.1:{port}"))
        .env_remove("ADMIN_TOKEN")
        .output()
        .await
        .expect("herald portal-url runs");
    assert!(
        portal.status.success(),
        "{}",
        String::from_utf8_lossy(&portal.stderr)
    );
    let link = String::from_utf8(portal.stdout).unwrap();
    let (page, session) = link.trim().split_once("#session=").expect("a session link");
    assert_eq!(page, format!("http://127.0.0.1:{port}/console/"));
    let (status, webhooks) = ApiClient::new(format!("http://127.0.0.1:{port}"), session)
        .call(reqwest::Method::GET, "/v1/tenants/acme/webhooks", None)
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{webhooks}");
    assert_eq!(webhooks["items"][0]["name"], "crm");
    up.terminate();
    let status = up.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "herald up exited with {status}");
    wait::until(
        "the state directory to hold the secrets key",
        Duration::from_secs(1),
        || async { state_dir.join("secrets-key").exists().then_some(()) },
    )
    .await;
    drop_database(&database_name);
    let _ = std::fs::remove_dir_all(state_dir);
}
