//! Herald under least-privilege RabbitMQ users: one per service, as the shipped definitions
//! have them.

use std::time::Duration;

use herald_broker::lapin::{BasicProperties, Connection, ConnectionProperties};
use herald_broker::topology::roles;
use herald_broker::{BrokerConfig, Publisher};
use herald_contract::{QueueType, Topology};
use herald_tests::app::{ADMIN_TOKEN, ApiClient};
use herald_tests::broker::{BrokerClient, event, rabbitmqctl};
use herald_tests::processes::{Backing, Service, binary, free_port, test_env};
use herald_tests::receiver::Receiver;
use herald_tests::unique_id;
use serde_json::json;

/// Users created for one test, deleted when it ends.
struct Users(Vec<String>);

impl Drop for Users {
    fn drop(&mut self) {
        for user in &self.0 {
            let _ = std::process::Command::new("rabbitmqctl")
                .args(["-q", "delete_user", user])
                .output();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_runs_under_its_own_least_privilege_user_and_an_event_is_delivered() {
    // Arrange: the topology declared by an administrator, one user per role.
    let backing = Backing::shared();
    let admin_url = backing.amqp_urls[0].clone();
    let vhost = admin_url.rsplit('/').next().unwrap().to_owned();
    let declared = tokio::process::Command::new(binary("herald"))
        .args(["topology", "declare"])
        .env("AMQP_URL", &admin_url)
        .env("RETRY_DELAYS", "300ms")
        .output()
        .await
        .unwrap();
    assert!(
        declared.status.success(),
        "{}",
        String::from_utf8_lossy(&declared.stderr)
    );
    let config = BrokerConfig {
        urls: vec![],
        topology: Topology::default(),
        queue_type: QueueType::Quorum,
        ladder: "300ms".parse().unwrap(),
        defer_delay: Duration::from_secs(5),
    };
    let id = unique_id();
    let mut users = Users(Vec::new());
    let mut url_of = std::collections::HashMap::new();
    for role in roles(&config) {
        let user = format!("{}-{id}", role.user);
        let password = unique_id();
        rabbitmqctl(&["add_user", &user, &password]);
        users.0.push(user.clone());
        rabbitmqctl(&[
            "set_permissions",
            "-p",
            &vhost,
            &user,
            &role.configure,
            &role.write,
            &role.read,
        ]);
        url_of.insert(
            role.user,
            format!("amqp://{user}:{password}@127.0.0.1:5672/{vhost}"),
        );
    }
    let receiver = Receiver::start().await;
    let env = |user: &str| {
        let mut env = test_env(&url_of[user], &backing.database_url);
        env.retain(|(name, _)| name != "RETRY_DELAYS");
        env.push(("RETRY_DELAYS".into(), "300ms".into()));
        env
    };
    let api_port = free_port();
    let mut api_env = env("herald-api");
    api_env.push(("HTTP_ADDR".into(), format!("127.0.0.1:{api_port}")));
    let _api = Service::start("herald", &["serve"], &api_env, api_port);
    let mut services = Vec::new();
    for (binary_name, user) in [("fanout", "herald-fanout"), ("sender", "herald-sender")] {
        let port = free_port();
        let mut service_env = env(user);
        service_env.push(("METRICS_ADDR".into(), format!("127.0.0.1:{port}")));
        let service = Service::start(binary_name, &[], &service_env, port);
        service.wait_ready().await;
        services.push(service);
    }
    let api = ApiClient::new(format!("http://127.0.0.1:{api_port}"), ADMIN_TOKEN);
    api.wait_ready(Duration::from_secs(30)).await;
    api.create_webhook(
        "acme",
        json!({"name": "crm", "url": receiver.url("/crm"), "eventTypes": ["contact-created"]}),
    )
    .await;
    herald_tests::wait_for_registry(
        &backing.database_url,
        &[
            (
                &services[0].health,
                herald_tests::app::FANOUT_REGISTRY_VERSION,
            ),
            (
                &services[1].health,
                herald_tests::app::SENDER_REGISTRY_VERSION,
            ),
        ],
    )
    .await;

    // Act
    let publisher = BrokerClient::connect(&url_of["herald-publisher"]).await;
    let sent = event("acme", "contact-created", json!({}));
    publisher.publish_event("platform.events", &sent).await;

    // Assert
    let received = receiver.wait_for("/crm", 1, Duration::from_secs(15)).await;
    assert_eq!(received[0].json()["meta"]["eventId"], sent["eventId"]);
    let connection =
        Connection::connect(&url_of["herald-publisher"], ConnectionProperties::default())
            .await
            .unwrap();
    let forging = Publisher::open(&connection).await.unwrap();
    let forged = forging
        .publish_to_queue("webhooks.deliveries", b"{}", BasicProperties::default())
        .await;
    assert!(
        forged.is_err(),
        "a publisher could write to the deliveries queue"
    );
    let (status, failed) = api.call(reqwest::Method::GET, "/v1/failed", None).await;
    assert_eq!(
        status,
        reqwest::StatusCode::OK,
        "the API reads the failed queue: {failed}"
    );
}
