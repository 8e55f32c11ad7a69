use std::time::Duration;

use herald_broker::DeliveryHeaders;
use herald_contract::{DomainEvent, EventEnvelope};
use herald_tests::app::{Options, TestApp};
use herald_tests::broker::event;
use herald_tests::processes::binary;
use herald_tests::receiver::Behaviour;
use herald_tests::wait;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn failed_items(app: &TestApp) -> Vec<Value> {
    let (status, page) = app
        .api
        .call(Method::GET, "/v1/failed?limit=1000", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_one_webhook_moves_exactly_its_deliveries_and_leaves_the_rest_in_order() {
    // Arrange: two failing webhooks and four events, so eight failed deliveries.
    let app = TestApp::spawn(Options {
        retry_delays: "200ms".into(),
        ..Options::default()
    })
    .await;
    app.receiver.respond("/a", Behaviour::Status(500));
    app.receiver.respond("/b", Behaviour::Status(500));
    let a = app
        .api
        .create_webhook(
            "acme",
            json!({"name": "a", "url": app.receiver.url("/a"), "eventTypes": ["contact-created"]}),
        )
        .await;
    app.api
        .create_webhook(
            "acme",
            json!({"name": "b", "url": app.receiver.url("/b"), "eventTypes": ["contact-created"]}),
        )
        .await;
    let a_id = a["id"].as_str().unwrap().to_owned();
    app.wait_for_registry().await;
    for n in 0..4 {
        app.publish(&event("acme", "contact-created", json!({"n": n})))
            .await;
    }
    wait::until(
        "eight failed deliveries",
        Duration::from_secs(20),
        || async { (app.broker.count(&app.topology.failed_queue()).await == 8).then_some(()) },
    )
    .await;
    let before = failed_items(&app).await;
    let others_before: Vec<Value> = before
        .iter()
        .filter(|f| f["webhookId"] != a_id.as_str())
        .cloned()
        .collect();
    assert_eq!(others_before.len(), 4);
    assert_eq!(before.len(), 8, "a peek must not remove anything");
    app.receiver.respond("/a", Behaviour::Ok);

    // Act
    let (status, replayed) = app
        .api
        .call(
            Method::POST,
            "/v1/failed/replay",
            Some(&json!({"webhookId": a_id})),
        )
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{replayed}");
    assert_eq!(replayed["replayed"], 4);
    let after = failed_items(&app).await;
    assert_eq!(
        after, others_before,
        "the other deliveries moved or changed order"
    );
    let delivered = app
        .receiver
        .wait_until(
            "the replayed deliveries to succeed",
            Duration::from_secs(20),
            |all| {
                let ok: Vec<_> = all
                    .iter()
                    .filter(|r| r.path == "/a")
                    .skip(8)
                    .cloned()
                    .collect();
                (ok.len() >= 4).then_some(ok)
            },
        )
        .await;
    let first = &delivered[0];
    assert_eq!(first.json()["meta"]["webhookId"], a_id.as_str());
    let (status, body) = app
        .api
        .call(
            Method::POST,
            "/v1/failed/replay",
            Some(&json!({"eventType": "nope"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// Parks one sealed failed delivery of `webhook` per number in `numbers`, as the sender
/// would after the last rung; returns their event ids.
async fn park(
    app: &TestApp,
    webhook_id: &herald_contract::WebhookId,
    numbers: impl Iterator<Item = usize>,
) -> Vec<String> {
    let seal_key = herald_tests::app::seal_key();
    let mut parked = Vec::new();
    for n in numbers {
        let raw = event("acme", "contact-created", json!({"n": n}));
        let body = serde_json::to_vec(&raw).unwrap();
        let envelope = EventEnvelope {
            message_id: None,
            timestamp: None,
            received_at: chrono::Utc::now(),
        };
        let parsed = DomainEvent::parse(&body, &envelope, 1 << 20).unwrap();
        let mut headers = DeliveryHeaders {
            attempts: 6,
            ..DeliveryHeaders::fresh(webhook_id.clone(), &parsed, None, None)
        };
        let failure = herald_broker::FailureFacts {
            last_status: Some(500),
            last_error: "HTTP 500".into(),
        };
        let payload = herald_contract::payload::build_payload(webhook_id, &parsed);
        headers.seal = Some(seal_key.seal(&headers, &payload));
        app.broker
            .put(
                &app.topology.failed_queue(),
                &payload,
                headers.to_failed_properties(&failure, chrono::Utc::now()),
            )
            .await;
        parked.push(parsed.event_id.to_string());
    }
    parked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_running_during_a_replay_see_the_queue_before_or_after_it_never_half_way() {
    // Arrange: 800 failed deliveries of two webhooks, interleaved.
    let app = TestApp::spawn(Options::default()).await;
    let mut webhooks = Vec::new();
    for name in ["a", "b"] {
        let created = app
            .api
            .create_webhook(
                "acme",
                json!({"name": name, "url": app.receiver.url("/ok"), "eventTypes": ["contact-created"]}),
            )
            .await;
        let id: herald_contract::WebhookId = created["id"].as_str().unwrap().parse().unwrap();
        webhooks.push(id);
    }
    app.wait_for_registry().await;
    let mut kept = Vec::new();
    for n in 0..400 {
        park(&app, &webhooks[0], n..n + 1).await;
        kept.extend(park(&app, &webhooks[1], n..n + 1).await);
    }
    let list = || async {
        let (status, page) = app
            .api
            .call(Method::GET, "/v1/failed?limit=1000", None)
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["eventId"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };

    // Act: a replay of webhook a, and lists started while it runs.
    let replay = async {
        app.api
            .call(
                Method::POST,
                "/v1/failed/replay",
                Some(&json!({"webhookId": webhooks[0].as_str()})),
            )
            .await
    };
    let lists = async {
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(list().await);
        }
        seen
    };
    let ((status, replayed), lists) = tokio::join!(replay, lists);

    // Assert
    assert_eq!(status, StatusCode::OK, "{replayed}");
    assert_eq!(replayed["replayed"], 400);
    for listed in lists {
        let distinct: std::collections::HashSet<&String> = listed.iter().collect();
        assert_eq!(
            distinct.len(),
            listed.len(),
            "a list showed a delivery twice"
        );
        assert!(
            listed.len() == 800 || listed == kept,
            "a list saw the queue half-way through the replay: {} deliveries",
            listed.len()
        );
    }
    assert_eq!(
        list().await,
        kept,
        "the kept deliveries moved or changed order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_killed_half_way_loses_nothing() {
    // Arrange: 3000 failed deliveries of a webhook whose endpoint now answers 200.
    let app = TestApp::spawn(Options::default()).await;
    let webhook = app
        .api
        .create_webhook(
            "acme",
            json!({"name": "a", "url": app.receiver.url("/a"), "eventTypes": ["contact-created"]}),
        )
        .await;
    let webhook_id: herald_contract::WebhookId = webhook["id"].as_str().unwrap().parse().unwrap();
    app.wait_for_registry().await;
    let expected = park(&app, &webhook_id, 0..3000).await;
    let replay = || {
        let mut command = tokio::process::Command::new(binary("herald"));
        command
            .args(["failed", "replay", "--webhook", webhook_id.as_str()])
            .env("AMQP_URL", app.vhost.amqp_url())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        command
    };

    // Act: kill the first replay once it has moved some, then run it again.
    let mut first = replay().spawn().unwrap();
    app.receiver
        .wait_for("/a", 100, Duration::from_secs(30))
        .await;
    first.kill().await.unwrap();
    // The broker returns what the killed replay held once it sees the connection gone: wait
    // until its consumer is gone and every delivery is either back in the queue or delivered
    // (one it had republished but not acknowledged is both).
    let left = wait::until(
        "the killed replay's deliveries to be back or delivered",
        Duration::from_secs(30),
        || async {
            if app.broker.consumers(&app.topology.failed_queue()).await > 0 {
                return None;
            }
            let left = app.broker.count(&app.topology.failed_queue()).await;
            let delivered: std::collections::HashSet<String> = app
                .receiver
                .to("/a")
                .iter()
                .filter_map(|r| r.header("webhook-id").map(str::to_owned))
                .collect();
            (left as usize + delivered.len() >= 3000).then_some(left)
        },
    )
    .await;
    let status = replay().status().await.unwrap();

    // Assert
    assert!(status.success());
    assert!(
        left > 0 && left < 3000,
        "the kill did not land half-way ({left} left)"
    );
    // The broker shows returned messages some time after the connection that held them is
    // gone, so a few may land after the second replay counted the queue; they are still
    // parked, not lost, and the next replay takes them.
    wait::until(
        "every failed delivery to be replayed and delivered, the failed queue empty",
        Duration::from_secs(60),
        || async {
            if app.broker.count(&app.topology.failed_queue()).await > 0 {
                assert!(replay().status().await.unwrap().success());
                return None;
            }
            let all = app.receiver.to("/a");
            let seen: std::collections::HashSet<&str> =
                all.iter().filter_map(|r| r.header("webhook-id")).collect();
            expected
                .iter()
                .all(|id| seen.contains(id.as_str()))
                .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_lists_and_replays_exactly_its_own_failed_deliveries() {
    // Arrange: acme's two failing webhooks and globex's one; two events each.
    let app = TestApp::spawn(Options {
        retry_delays: "200ms".into(),
        ..Options::default()
    })
    .await;
    let mut ids = Vec::new();
    for (tenant, path) in [("acme", "/a"), ("acme", "/b"), ("globex", "/g")] {
        app.receiver.respond(path, Behaviour::Status(500));
        let webhook = app
            .api
            .create_webhook(
                tenant,
                json!({"name": path, "url": app.receiver.url(path), "eventTypes": ["contact-created"]}),
            )
            .await;
        ids.push(webhook["id"].as_str().unwrap().to_owned());
    }
    app.wait_for_registry().await;
    let mut acme_events = Vec::new();
    for n in 0..2 {
        let acme = event("acme", "contact-created", json!({"n": n}));
        acme_events.push(acme["eventId"].as_str().unwrap().to_owned());
        app.publish(&acme).await;
        app.publish(&event("globex", "contact-created", json!({"n": n})))
            .await;
    }
    wait::until("six failed deliveries", Duration::from_secs(20), || async {
        (app.broker.count(&app.topology.failed_queue()).await == 6).then_some(())
    })
    .await;
    let session = {
        let (_, minted) = app
            .api
            .call(
                Method::POST,
                "/v1/tenants/acme/portal-sessions",
                Some(&json!({})),
            )
            .await;
        herald_tests::app::ApiClient::new(
            format!("http://{}", app.address),
            minted["token"].as_str().unwrap(),
        )
    };

    // Act
    let listed = wait::until(
        "acme's four failed deliveries listed",
        Duration::from_secs(10),
        || async {
            let (_, page) = session
                .call(Method::GET, "/v1/tenants/acme/failed", None)
                .await;
            (page["items"].as_array().map(Vec::len) == Some(4)).then_some(page)
        },
    )
    .await;
    let (_, of_a) = session
        .call(
            Method::GET,
            &format!("/v1/tenants/acme/failed?webhookId={}&limit=1", ids[0]),
            None,
        )
        .await;
    app.receiver.respond("/a", Behaviour::Ok);
    let (status, replayed) = session
        .call(
            Method::POST,
            "/v1/tenants/acme/failed/replay",
            Some(&json!({"webhookId": ids[0], "eventIds": [acme_events[0]]})),
        )
        .await;

    // Assert
    for item in listed["items"].as_array().unwrap() {
        assert!(item["webhookId"] == ids[0].as_str() || item["webhookId"] == ids[1].as_str());
        assert_eq!(item["attempts"], 2);
        assert_eq!(item["lastStatus"], 500);
        assert_eq!(item["lastError"], "HTTP 500");
    }
    assert_eq!(of_a["items"].as_array().unwrap().len(), 1);
    assert!(of_a["nextCursor"].is_string(), "{of_a}");
    assert_eq!(status, StatusCode::ACCEPTED, "{replayed}");
    assert_eq!(
        replayed["replayed"], 1,
        "exactly one delivery: webhook a, first event"
    );
    let redelivered = app
        .receiver
        .wait_for("/a", 5, Duration::from_secs(15))
        .await;
    assert_eq!(
        redelivered[4].json()["meta"]["eventId"],
        acme_events[0].as_str()
    );
    // The sweep returns what it kept with a negative acknowledgement the broker applies
    // shortly after the answer.
    wait::until(
        "five deliveries still parked",
        Duration::from_secs(10),
        || async { (app.broker.count(&app.topology.failed_queue()).await == 5).then_some(()) },
    )
    .await;
    let still = wait::until(
        "the replayed one to leave the list",
        Duration::from_secs(10),
        || async {
            let (_, page) = session
                .call(Method::GET, "/v1/tenants/acme/failed", None)
                .await;
            (page["items"].as_array().map(Vec::len) == Some(3)).then_some(page)
        },
    )
    .await;
    assert!(
        still["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|item| !(item["webhookId"] == ids[0].as_str()
                && item["eventId"] == acme_events[0].as_str()))
    );
    let (status, _) = session
        .call(Method::GET, "/v1/tenants/globex/failed", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_peek_at_and_purge_the_parked_queues_counting_first() {
    // Arrange: one failed delivery and one rejected event.
    let app = TestApp::spawn(Options {
        retry_delays: "200ms".into(),
        ..Options::default()
    })
    .await;
    app.receiver.respond("/down", Behaviour::Status(500));
    app.api
        .create_webhook(
            "acme",
            json!({"name": "down", "url": app.receiver.url("/down"), "eventTypes": ["contact-created"]}),
        )
        .await;
    app.wait_for_registry().await;
    app.publish(&event("acme", "contact-created", json!({})))
        .await;
    app.publish(&json!({"eventType": "contact-created"})).await;
    wait::until(
        "one failed and one rejected",
        Duration::from_secs(20),
        || async {
            let failed = app.broker.count(&app.topology.failed_queue()).await;
            let rejected = app.broker.count(&app.topology.rejected_queue()).await;
            (failed == 1 && rejected == 1).then_some(())
        },
    )
    .await;

    // Act
    let (_, listed) = app.api.call(Method::GET, "/v1/rejected", None).await;
    let (_, counted) = app
        .api
        .call(
            Method::POST,
            "/v1/rejected/purge",
            Some(&json!({"dryRun": true})),
        )
        .await;
    let (_, counted_failed) = app
        .api
        .call(
            Method::POST,
            "/v1/failed/purge",
            Some(&json!({"tenantId": "acme", "dryRun": true})),
        )
        .await;
    let (status, purged) = app
        .api
        .call(Method::POST, "/v1/rejected/purge", Some(&json!({})))
        .await;
    let (_, purged_failed) = app
        .api
        .call(
            Method::POST,
            "/v1/failed/purge",
            Some(&json!({"tenantId": "acme"})),
        )
        .await;

    // Assert
    assert!(
        listed["items"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("eventId"),
        "{listed}"
    );
    assert_eq!(counted, json!({"purged": 1, "dryRun": true}));
    assert_eq!(counted_failed, json!({"purged": 1, "dryRun": true}));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(purged, json!({"purged": 1, "dryRun": false}));
    assert_eq!(purged_failed, json!({"purged": 1, "dryRun": false}));
    wait::until("both queues empty", Duration::from_secs(10), || async {
        let failed = app.broker.count(&app.topology.failed_queue()).await;
        let rejected = app.broker.count(&app.topology.rejected_queue()).await;
        (failed == 0 && rejected == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_replays_what_failed_within_a_time_window_counting_first() {
    // Arrange: three deliveries parked at 10:00, 11:00 and 12:00.
    let app = TestApp::spawn(Options::default()).await;
    let queue = app.topology.failed_queue();
    for hour in [10, 11, 12] {
        let headers = DeliveryHeaders {
            webhook_id: herald_contract::WebhookId::generate(),
            tenant_id: "acme".parse().unwrap(),
            event_id: format!("parked-{hour}").parse().unwrap(),
            event_type: herald_contract::EventType::ContactCreated,
            event_timestamp: None,
            attempts: 6,
            first_attempt_at: None,
            traceparent: None,
            tracestate: None,
            seal: None,
        };
        let failed_at = chrono::DateTime::parse_from_rfc3339(&format!("2026-12-01T{hour}:00:00Z"))
            .unwrap()
            .with_timezone(&chrono::Utc);
        let failure = herald_broker::FailureFacts {
            last_status: Some(500),
            last_error: "HTTP 500".into(),
        };
        app.broker
            .publish_raw(
                "",
                &queue,
                b"{}",
                headers.to_failed_properties(&failure, failed_at),
            )
            .await;
    }
    let herald = |args: &[&str]| {
        let mut command = tokio::process::Command::new(binary("herald"));
        command
            .args(["failed", "replay"])
            .args(args)
            .env("AMQP_URL", app.vhost.amqp_url());
        command
    };
    let said = |output: std::process::Output| {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stderr).unwrap()
    };

    // Act
    let since = said(
        herald(&["--since", "2026-12-01T10:30:00Z", "--dry-run"])
            .output()
            .await
            .unwrap(),
    );
    let window = said(
        herald(&[
            "--since",
            "2026-12-01T10:30:00Z",
            "--until",
            "2026-12-01T11:30:00Z",
            "--dry-run",
        ])
        .output()
        .await
        .unwrap(),
    );
    let until = said(
        herald(&["--until", "2026-12-01T10:30:00Z", "--dry-run"])
            .output()
            .await
            .unwrap(),
    );
    let invalid = herald(&["--since", "yesterday", "--dry-run"])
        .output()
        .await
        .unwrap();
    let replayed = said(
        herald(&["--since", "2026-12-01T11:30:00Z"])
            .output()
            .await
            .unwrap(),
    );

    // Assert
    assert!(
        since.contains("would replay 2 failed deliveries"),
        "{since}"
    );
    assert!(
        window.contains("would replay 1 failed deliveries"),
        "{window}"
    );
    assert!(
        until.contains("would replay 1 failed deliveries"),
        "{until}"
    );
    assert!(!invalid.status.success());
    assert!(
        String::from_utf8_lossy(&invalid.stderr).contains("RFC 3339"),
        "{}",
        String::from_utf8_lossy(&invalid.stderr)
    );
    assert!(
        replayed.contains("replayed 1 failed deliveries; 2 left"),
        "{replayed}"
    );
    let left = failed_items(&app).await;
    let ids: Vec<&str> = left
        .iter()
        .map(|f| f["eventId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["parked-10", "parked-11"]);
}
