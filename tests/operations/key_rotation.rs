//! Rotating `SECRETS_KEY` online: every delivery keeps signing correctly.

use std::time::Duration;

use herald_store::{Database, DatabaseConfig, Keyring, SecretsKey, WebhookStore};
use herald_tests::app::SECRETS_KEY;
use herald_tests::broker::{BrokerClient, event};
use herald_tests::processes::{Backing, ProcessApp, binary};
use serde_json::{Value, json};

/// The key rotated to.
const NEW_KEY: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_secrets_key_under_load_keeps_every_delivery_signed_and_authenticated() {
    // Arrange: webhooks written under the old key, then fanout and sender restarted with the
    // new key and the old one as the previous.
    let mut app = ProcessApp::spawn_with(Backing::shared(), &[]).await;
    let mut webhooks: Vec<Value> = Vec::new();
    for n in 0..3 {
        webhooks.push(
            app.api
                .create_webhook(
                    "acme",
                    json!({"name": format!("w{n}"), "url": app.receiver.url(&format!("/w{n}")),
                           "eventTypes": ["contact-created"],
                           "authHeader": {"name": "X-Api-Key", "value": format!("k3y-{n}")}}),
                )
                .await,
        );
    }
    app.service(1).kill().await;
    app.service(2).kill().await;
    app.env.retain(|(name, _)| name != "SECRETS_KEY");
    app.env.push(("SECRETS_KEY".into(), NEW_KEY.into()));
    app.env
        .push(("SECRETS_KEY_PREVIOUS".into(), SECRETS_KEY.into()));
    app.start("fanout").await;
    app.start("sender").await;
    let amqp_url = app.backing.amqp_urls[0].clone();
    let publishing = tokio::spawn(async move {
        let broker = BrokerClient::connect(&amqp_url).await;
        let mut ticks = tokio::time::interval(Duration::from_millis(20));
        for n in 0..100 {
            ticks.tick().await;
            broker
                .publish_event(
                    "platform.events",
                    &event("acme", "contact-created", json!({"n": n})),
                )
                .await;
        }
    });

    // Act: rotate while events flow.
    app.receiver
        .wait_for("/w0", 10, Duration::from_secs(20))
        .await;
    let rotation = tokio::process::Command::new(binary("herald"))
        .args(["secrets", "rotate-key", "--batch", "1"])
        .env("DATABASE_URL", &app.backing.database_url)
        .env("SECRETS_KEY", NEW_KEY)
        .env("SECRETS_KEY_PREVIOUS", SECRETS_KEY)
        .output()
        .await
        .expect("herald secrets rotate-key runs");
    publishing.await.unwrap();

    // Assert
    assert!(
        rotation.status.success(),
        "{}",
        String::from_utf8_lossy(&rotation.stderr)
    );
    for (n, webhook) in webhooks.iter().enumerate() {
        let received = app
            .receiver
            .wait_for(&format!("/w{n}"), 100, Duration::from_secs(30))
            .await;
        let secret = webhook["signingSecret"].as_str().unwrap();
        for request in &received {
            request.verify(secret).expect("every delivery verifies");
            assert_eq!(
                request.header("x-api-key"),
                Some(format!("k3y-{n}").as_str())
            );
        }
    }
    let database = Database::new(&DatabaseConfig {
        url: app.backing.database_url.clone(),
        pool_size: 1,
    })
    .unwrap();
    let new_key_only = WebhookStore::new(
        database.clone(),
        Keyring::from(SecretsKey::from_base64(NEW_KEY).unwrap()),
    );
    for webhook in &webhooks {
        let id = webhook["id"].as_str().unwrap().parse().unwrap();
        let stored = new_key_only
            .get(&"acme".parse().unwrap(), &id)
            .await
            .expect("every secret opens with the new key alone")
            .unwrap();
        assert_eq!(
            stored.signing_secret.expose(),
            webhook["signingSecret"].as_str().unwrap()
        );
    }
    let client = database.pool().get().await.unwrap();
    let checks: i64 = client
        .query_one("SELECT count(*) FROM secrets_key_checks", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(checks, 1, "only the new key's check value is left");
}
