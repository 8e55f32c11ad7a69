use std::time::Duration;

use herald_tests::app::{Options, TestApp};
use herald_tests::broker::event;
use herald_tests::processes::free_port;
use herald_tests::receiver::Behaviour;
use herald_tests::wait;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_failing_twice_gets_three_attempts_spaced_by_the_ladder() {
    // Arrange
    let app = TestApp::spawn(Options {
        retry_delays: "500ms,1500ms,300ms,300ms,300ms".into(),
        ..Options::default()
    })
    .await;
    app.receiver.respond("/flaky", Behaviour::FailTimes(2, 503));
    let webhook = app
        .api
        .create_webhook("acme", json!({"name": "flaky", "url": app.receiver.url("/flaky"), "eventTypes": ["contact-deleted"]}))
        .await;
    app.wait_for_registry().await;

    // Act
    app.publish(&event("acme", "contact-deleted", json!({"id": "CONT-9"})))
        .await;

    // Assert
    let attempts = app
        .receiver
        .wait_for("/flaky", 3, Duration::from_secs(15))
        .await;
    let first_gap = attempts[1].at - attempts[0].at;
    let second_gap = attempts[2].at - attempts[1].at;
    assert!(
        first_gap >= Duration::from_millis(500) && first_gap < Duration::from_millis(1400),
        "first gap {first_gap:?}"
    );
    assert!(
        second_gap >= Duration::from_millis(1500) && second_gap < Duration::from_millis(2800),
        "second gap {second_gap:?}"
    );
    assert!(
        attempts.iter().all(|a| a.body == attempts[0].body),
        "bodies differ between attempts"
    );
    assert!(
        attempts
            .iter()
            .all(|a| a.header("webhook-id") == attempts[0].header("webhook-id"))
    );

    let path = format!(
        "/v1/tenants/acme/webhooks/{}",
        webhook["id"].as_str().unwrap()
    );
    let last = wait::until(
        "lastAttempt to show the delivery",
        Duration::from_secs(5),
        || async {
            let (_, webhook) = app.api.call(Method::GET, &path, None).await;
            let last = webhook["lastAttempt"].clone();
            (last["result"] == "delivered").then_some(last)
        },
    )
    .await;
    assert_eq!(last["attempt"], 3);
    assert_eq!(last["responseStatus"], 200);
    assert_eq!(app.receiver.to("/flaky").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_never_succeeds_gets_six_attempts_then_the_delivery_is_parked_as_failed() {
    // Arrange
    let app = TestApp::spawn(Options {
        retry_delays: "200ms,200ms,200ms,200ms,200ms".into(),
        delivery_timeout: "1s".into(),
        ..Options::default()
    })
    .await;
    app.receiver.respond("/error", Behaviour::Status(500));
    app.receiver.respond("/redirect", Behaviour::Redirect);
    app.receiver
        .respond("/hang", Behaviour::Delay(Duration::from_secs(3)));
    let refused_url = format!("http://127.0.0.1:{}/refused", free_port());
    let cases = [
        ("error", app.receiver.url("/error"), Some(500), "HTTP 500"),
        (
            "redirect",
            app.receiver.url("/redirect"),
            Some(302),
            "HTTP 302",
        ),
        (
            "hang",
            app.receiver.url("/hang"),
            None,
            "timed out after 1s",
        ),
        ("refused", refused_url, None, "connection refused"),
    ];
    let mut webhooks = Vec::new();
    for (name, url, _, _) in &cases {
        let webhook = app
            .api
            .create_webhook(
                "acme",
                json!({"name": name, "url": url, "eventTypes": ["basket-submitted"]}),
            )
            .await;
        webhooks.push(webhook["id"].as_str().unwrap().to_owned());
    }
    app.wait_for_registry().await;

    // Act
    let event = event("acme", "basket-submitted", json!({"basketId": "B-1"}));
    app.publish(&event).await;

    // Assert
    let parked = app
        .broker
        .take_n(&app.topology.failed_queue(), 4, Duration::from_secs(40))
        .await;
    assert_eq!(parked.len(), 4);
    for ((name, _, status, error), webhook_id) in cases.iter().zip(&webhooks) {
        let message = parked
            .iter()
            .find(|m| m.header_str("x-webhook-id").as_deref() == Some(webhook_id.as_str()))
            .unwrap_or_else(|| panic!("no failed delivery for {name}"));
        assert_eq!(
            message.header_str("x-tenant-id").as_deref(),
            Some("acme"),
            "{name}"
        );
        assert_eq!(
            message.header_str("x-event-id").as_deref(),
            event["eventId"].as_str(),
            "{name}"
        );
        assert_eq!(
            message.header_str("x-event-type").as_deref(),
            Some("basket-submitted"),
            "{name}"
        );
        assert_eq!(message.header_int("x-attempts"), Some(6), "{name}");
        assert_eq!(
            message.header_int("x-last-status"),
            status.map(i64::from),
            "{name}"
        );
        assert_eq!(
            message.header_str("x-last-error").as_deref(),
            Some(*error),
            "{name}"
        );
        for header in ["x-first-attempt-at", "x-failed-at"] {
            let at = message
                .header_str(header)
                .unwrap_or_else(|| panic!("{name}: no {header}"));
            chrono::DateTime::parse_from_rfc3339(&at)
                .unwrap_or_else(|_| panic!("{name}: {header} = {at}"));
        }
        let body: serde_json::Value = serde_json::from_slice(&message.body).unwrap();
        assert_eq!(body["meta"]["webhookId"], webhook_id.as_str(), "{name}");
        assert_eq!(body["data"]["basketId"], "B-1", "{name}");

        let (status, log) = app
            .api
            .call(
                Method::GET,
                &format!("/v1/tenants/acme/webhooks/{webhook_id}/attempts"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let results: Vec<&str> = log["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["result"].as_str().unwrap())
            .collect();
        assert_eq!(
            results,
            [
                "failed",
                "will-retry",
                "will-retry",
                "will-retry",
                "will-retry",
                "will-retry"
            ],
            "{name}"
        );
    }
    for path in ["/error", "/redirect", "/hang"] {
        assert_eq!(app.receiver.to(path).len(), 6, "attempts to {path}");
    }
    assert!(
        app.receiver.to("/elsewhere").is_empty(),
        "a redirect was followed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_deleted_while_its_delivery_waits_in_a_retry_stage_gets_no_more_attempts() {
    // Arrange
    let app = TestApp::spawn(Options {
        retry_delays: "1500ms,1500ms,1500ms,1500ms,1500ms".into(),
        ..Options::default()
    })
    .await;
    app.receiver.respond("/doomed", Behaviour::Status(500));
    let webhook = app
        .api
        .create_webhook("acme", json!({"name": "doomed", "url": app.receiver.url("/doomed"), "eventTypes": ["company-note-created"]}))
        .await;
    app.wait_for_registry().await;
    app.publish(&event(
        "acme",
        "company-note-created",
        json!({"noteId": "N-1"}),
    ))
    .await;
    app.receiver
        .wait_for("/doomed", 1, Duration::from_secs(10))
        .await;

    // Act
    let path = format!(
        "/v1/tenants/acme/webhooks/{}",
        webhook["id"].as_str().unwrap()
    );
    let (status, _) = app.api.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Assert: the retry comes back from its stage and is dropped, not attempted.
    wait::until(
        "the retry to be dropped",
        Duration::from_secs(10),
        || async {
            (app.api
                .metric(r#"herald_sender_dropped_total{reason="webhook_deleted"}"#)
                .await
                >= 1.0)
                .then_some(())
        },
    )
    .await;
    assert_eq!(app.receiver.to("/doomed").len(), 1);
    assert_eq!(app.broker.count(&app.topology.failed_queue()).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_stages_are_quorum_queues_that_dead_letter_at_least_once_to_the_deliveries_queue() {
    // Arrange
    let app = TestApp::spawn(Options {
        retry_delays: "1s,2s".into(),
        ..Options::default()
    })
    .await;

    // Act
    let output = std::process::Command::new("rabbitmqctl")
        .args([
            "-q",
            "list_queues",
            "-p",
            &app.vhost.name,
            "name",
            "type",
            "arguments",
        ])
        .output()
        .expect("rabbitmqctl");

    // Assert
    let listing = String::from_utf8_lossy(&output.stdout);
    for stage in ["webhooks.retry.1s", "webhooks.retry.2s"] {
        let line = listing
            .lines()
            .find(|line| line.starts_with(stage))
            .unwrap_or_else(|| panic!("{stage} missing:\n{listing}"));
        assert!(line.contains("quorum"), "{line}");
        assert!(
            line.contains("x-dead-letter-strategy") && line.contains("at-least-once"),
            "{line}"
        );
        assert!(
            line.contains("x-overflow") && line.contains("reject-publish"),
            "{line}"
        );
        assert!(
            line.contains("x-dead-letter-routing-key") && line.contains("webhooks.deliveries"),
            "{line}"
        );
    }
    assert!(
        listing
            .lines()
            .any(|line| line.starts_with("webhooks.retry.1s") && line.contains("1000"))
    );
}
