//! The lifecycle of a webhook whose endpoint breaks: operational events, `herald status`,
//! auto-disable that parks what was owed, and replay once it is fixed.

use std::time::Duration;

use herald_contract::Topology;
use herald_tests::app::{Options, TestApp};
use herald_tests::broker::{Message, event};
use herald_tests::processes::{Backing, ProcessApp, binary};
use herald_tests::receiver::Behaviour;
use herald_tests::wait;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const DISABLED_ERROR: &str = "the webhook is disabled";

fn bodies(messages: &[Message]) -> Vec<Value> {
    messages
        .iter()
        .map(|message| serde_json::from_slice(&message.body).unwrap())
        .collect()
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

/// Waits until the failed queue (as the API lists it) holds `count` deliveries.
async fn failed_items(app: &TestApp, count: usize) -> Vec<Value> {
    wait::until(
        &format!("{count} failed deliveries"),
        Duration::from_secs(30),
        || async {
            let (status, page) = app.api.call(Method::GET, "/v1/failed", None).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let items = page["items"].as_array().unwrap().clone();
            (items.len() >= count).then_some(items)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_endpoint_is_announced_once_with_each_parked_delivery_and_once_when_it_recovers_across_two_senders()
 {
    // Arrange: serve, fanout and two senders; a listener on the operational exchange.
    let mut app = ProcessApp::spawn_with(
        Backing::shared(),
        &[
            ("RETRY_DELAYS", "300ms,300ms"),
            ("FAILING_AFTER", "1s"),
            ("AUTO_DISABLE_AFTER", "off"),
        ],
    )
    .await;
    app.start("sender").await;
    let listener = app
        .broker
        .listen(Topology::DEFAULT_OPERATIONAL_EXCHANGE, "#")
        .await;
    app.receiver.respond("/crm", Behaviour::Status(503));
    let webhook = app
        .api
        .create_webhook(
            "acme",
            json!({"name": "crm", "url": app.receiver.url("/crm"), "eventTypes": ["contact-created"]}),
        )
        .await;
    let webhook_id = webhook["id"].as_str().unwrap().to_owned();
    app.wait_for_registry().await;

    // Act: three events fail every attempt for longer than FAILING_AFTER.
    for n in 0..3 {
        app.broker
            .publish_event(
                Topology::DEFAULT_EXCHANGE,
                &event("acme", "contact-created", json!({"contactId": n})),
            )
            .await;
    }
    let announced = bodies(
        &app.broker
            .take_n(&listener, 4, Duration::from_secs(30))
            .await,
    );

    // Assert: one delivery.failed per parked delivery, and one webhook.failing.
    let failed = of_type(&announced, "delivery.failed");
    assert_eq!(failed.len(), 3, "{announced:#?}");
    for parked in &failed {
        assert_eq!(parked["tenantId"], "acme");
        assert_eq!(parked["webhookId"], webhook_id.as_str());
        assert_eq!(parked["data"]["attempts"], 3);
        assert_eq!(parked["data"]["lastStatus"], 503);
        assert_eq!(parked["data"]["lastError"], "HTTP 503");
        assert_eq!(parked["data"]["eventType"], "contact-created");
    }
    let failing = of_type(&announced, "webhook.failing");
    assert_eq!(failing.len(), 1, "{announced:#?}");
    assert!(failing[0]["data"]["failedDeliveries"].as_u64().unwrap() >= 3);
    assert_eq!(failing[0]["data"]["lastError"], "HTTP 503");
    assert!(failing[0]["data"]["since"].is_string());

    // Assert: `GET /v1/status` and `herald status --json` show it failing and what is parked.
    let (status, report) = app.api.call(Method::GET, "/v1/status", None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["failed"], 3, "{report:#}");
    assert_eq!(
        report["failingWebhooks"][0]["webhookId"],
        webhook_id.as_str()
    );
    assert_eq!(report["failingWebhooks"][0]["lastError"], "HTTP 503");
    let deliveries = report["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|queue| queue["name"] == "webhooks.deliveries")
        .unwrap();
    assert_eq!(deliveries["consumers"], 2, "{report:#}");
    let output = tokio::process::Command::new(binary("herald"))
        .args(["status", "--json"])
        .envs(app.env.iter().cloned())
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cli: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(cli["failed"], 3, "{cli:#}");
    assert_eq!(cli["failingWebhooks"][0]["webhookId"], webhook_id.as_str());

    // Act: the endpoint is fixed and the next event is delivered.
    app.receiver.respond("/crm", Behaviour::Ok);
    app.broker
        .publish_event(
            Topology::DEFAULT_EXCHANGE,
            &event("acme", "contact-created", json!({"contactId": 4})),
        )
        .await;
    let recovered = bodies(
        &app.broker
            .take_n(&listener, 1, Duration::from_secs(30))
            .await,
    );

    // Assert: one webhook.recovered, and nothing announced twice meanwhile.
    assert_eq!(recovered.len(), 1, "{recovered:#?}");
    assert_eq!(recovered[0]["type"], "webhook.recovered");
    assert!(recovered[0]["data"]["failingFor"].as_u64().unwrap() >= 1);
    assert_eq!(app.broker.count(&listener).await, 0);
    let (_, report) = app.api.call(Method::GET, "/v1/status", None).await;
    assert_eq!(report["failingWebhooks"], json!([]), "{report:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_failing_too_long_is_disabled_what_it_was_owed_is_parked_and_replayed_once_fixed()
{
    // Arrange
    let app = TestApp::spawn(Options {
        retry_delays: "3s,3s,3s,3s,3s".into(),
        failing_after: "500ms".into(),
        auto_disable_after: "1s".into(),
        ..Options::default()
    })
    .await;
    let listener = app
        .broker
        .listen(app.topology.operational_exchange(), "webhook.*")
        .await;
    app.receiver.respond("/down", Behaviour::Status(500));
    let webhook = app
        .api
        .create_webhook(
            "acme",
            json!({"name": "down", "url": app.receiver.url("/down"), "eventTypes": ["company-created"]}),
        )
        .await;
    let id = webhook["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/tenants/acme/webhooks/{id}");
    app.wait_for_registry().await;

    // Act: a delivery fails and waits in a retry stage while the webhook keeps failing.
    let published = event("acme", "company-created", json!({"companyId": "C-1"}));
    app.publish(&published).await;

    // Assert: Herald disables it, and says why and since when.
    let disabled = wait::until("the webhook disabled", Duration::from_secs(20), || async {
        let (_, webhook) = app.api.call(Method::GET, &path, None).await;
        (webhook["enabled"] == false).then_some(webhook)
    })
    .await;
    assert_eq!(disabled["disabledReason"], "failing", "{disabled:#}");
    assert!(disabled["disabledAt"].is_string(), "{disabled:#}");
    let announced = bodies(
        &app.broker
            .take_n(&listener, 2, Duration::from_secs(20))
            .await,
    );
    assert_eq!(of_type(&announced, "webhook.failing").len(), 1);
    let disabling = of_type(&announced, "webhook.disabled");
    assert_eq!(disabling.len(), 1, "{announced:#?}");
    assert_eq!(disabling[0]["data"]["reason"], "failing");

    // Assert: the delivery owed is parked, saying why, not dropped.
    let parked = failed_items(&app, 1).await;
    assert_eq!(parked[0]["eventId"], published["eventId"]);
    assert_eq!(parked[0]["lastError"], DISABLED_ERROR);
    assert_eq!(parked[0]["attempts"], 1);

    // Act: the endpoint is fixed, the webhook enabled, its failed deliveries replayed.
    app.receiver.respond("/down", Behaviour::Ok);
    let (status, enabled) = app
        .api
        .call(Method::PATCH, &path, Some(&json!({"enabled": true})))
        .await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    assert_eq!(enabled["disabledReason"], Value::Null);
    assert_eq!(enabled["disabledAt"], Value::Null);
    app.wait_for_registry().await;
    let (status, replayed) = app
        .api
        .call(
            Method::POST,
            "/v1/failed/replay",
            Some(&json!({"webhookId": id})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replayed}");
    assert_eq!(replayed["replayed"], 1);

    // Assert: it is delivered.
    let attempts = app
        .receiver
        .wait_for("/down", 2, Duration::from_secs(20))
        .await;
    assert_eq!(
        attempts.last().unwrap().json()["meta"]["eventId"],
        published["eventId"]
    );
    wait::until("the delivery recorded", Duration::from_secs(10), || async {
        let (_, webhook) = app.api.call(Method::GET, &path, None).await;
        (webhook["lastAttempt"]["result"] == "delivered").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_webhook_by_hand_parks_the_delivery_waiting_in_a_retry_stage_and_announces_it()
{
    // Arrange
    let app = TestApp::spawn(Options {
        retry_delays: "2s,2s".into(),
        ..Options::default()
    })
    .await;
    let listener = app
        .broker
        .listen(app.topology.operational_exchange(), "#")
        .await;
    app.receiver.respond("/flaky", Behaviour::Status(502));
    let webhook = app
        .api
        .create_webhook(
            "acme",
            json!({"name": "flaky", "url": app.receiver.url("/flaky"), "eventTypes": ["contact-updated"]}),
        )
        .await;
    let id = webhook["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/tenants/acme/webhooks/{id}");
    app.wait_for_registry().await;
    let published = event("acme", "contact-updated", json!({"contactId": "C-9"}));
    app.publish(&published).await;
    app.receiver
        .wait_for("/flaky", 1, Duration::from_secs(10))
        .await;

    // Act
    let (status, disabled) = app
        .api
        .call(Method::PATCH, &path, Some(&json!({"enabled": false})))
        .await;

    // Assert: disabled by hand, announced, and the owed delivery parked with its one attempt.
    assert_eq!(status, StatusCode::OK, "{disabled}");
    assert_eq!(disabled["disabledReason"], "manual");
    let announced = bodies(
        &app.broker
            .take_n(&listener, 2, Duration::from_secs(20))
            .await,
    );
    let disabling = of_type(&announced, "webhook.disabled");
    assert_eq!(disabling.len(), 1, "{announced:#?}");
    assert_eq!(disabling[0]["data"]["reason"], "manual");
    let parked = of_type(&announced, "delivery.failed");
    assert_eq!(parked.len(), 1, "{announced:#?}");
    assert_eq!(parked[0]["data"]["lastError"], DISABLED_ERROR);
    let items = failed_items(&app, 1).await;
    assert_eq!(items[0]["eventId"], published["eventId"]);
    assert_eq!(items[0]["attempts"], 1);
    assert_eq!(
        app.receiver.to("/flaky").len(),
        1,
        "no attempt while disabled"
    );
}
