//! Endpoints and publishers that send what Herald must handle safely: binary answers, forged
//! trace context.

use std::time::Duration;

use herald_broker::headers::put_str;
use herald_broker::lapin::BasicProperties;
use herald_broker::lapin::types::FieldTable;
use herald_tests::app::{Options, TestApp};
use herald_tests::broker::event;
use herald_tests::processes::ProcessApp;
use herald_tests::receiver::Behaviour;
use herald_tests::wait;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The start of a gzip stream, then NUL bytes and bytes that are not UTF-8.
fn nul_laden_gzip() -> Vec<u8> {
    let mut body = vec![0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03];
    body.extend_from_slice(b"\x00\x00\xff\xfe\x00binary\x00\xc3\x28");
    body
}

async fn attempts(app: &TestApp, tenant: &str, webhook: &str) -> Vec<Value> {
    let (status, page) = app
        .api
        .call(
            Method::GET,
            &format!("/v1/tenants/{tenant}/webhooks/{webhook}/attempts?limit=100"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_answer_is_logged_with_its_status_and_costs_no_other_tenant_its_attempts() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    app.receiver
        .respond("/binary", Behaviour::Binary(500, nul_laden_gzip()));
    let hostile = app
        .api
        .create_webhook(
            "evil",
            json!({"name": "binary", "url": app.receiver.url("/binary"), "eventTypes": ["contact-created"]}),
        )
        .await;
    let healthy = app
        .api
        .create_webhook(
            "acme",
            json!({"name": "crm", "url": app.receiver.url("/crm"), "eventTypes": ["contact-created"]}),
        )
        .await;
    let hostile_id = hostile["id"].as_str().unwrap();
    let healthy_id = healthy["id"].as_str().unwrap();
    app.wait_for_registry().await;

    // Act: the hostile endpoint's attempts are written in the same batches as acme's.
    for n in 0..30 {
        if n % 10 == 0 {
            app.publish(&event("evil", "contact-created", json!({"n": n})))
                .await;
        }
        app.publish(&event("acme", "contact-created", json!({"n": n})))
            .await;
    }
    let (test_status, tested) = app
        .api
        .call(
            Method::POST,
            &format!("/v1/tenants/evil/webhooks/{hostile_id}/test"),
            None,
        )
        .await;

    // Assert
    assert_eq!(test_status, StatusCode::OK, "{tested}");
    assert_eq!(tested["responseStatus"], 500);
    assert_eq!(tested["result"], "failed");
    app.receiver
        .wait_for("/binary", 3 * 6 + 1, Duration::from_secs(30))
        .await;
    app.receiver
        .wait_for("/crm", 30, Duration::from_secs(30))
        .await;
    let logged = wait::until(
        "every attempt of both tenants in the attempt log",
        Duration::from_secs(15),
        || async {
            let hostile = attempts(&app, "evil", hostile_id).await;
            let healthy = attempts(&app, "acme", healthy_id).await;
            (hostile.len() == 3 * 6 + 1 && healthy.len() == 30).then_some((hostile, healthy))
        },
    )
    .await;
    let (hostile, healthy) = logged;
    assert!(hostile.iter().all(|a| a["responseStatus"] == 500));
    assert!(
        hostile
            .iter()
            .filter_map(|a| a["responseExcerpt"].as_str())
            .all(|excerpt| !excerpt.contains('\0') && excerpt.contains("binary")),
        "{hostile:?}"
    );
    assert_eq!(
        hostile.iter().filter(|a| a["result"] == "failed").count(),
        3 + 1,
        "each delivery's last attempt and the test are failed"
    );
    assert!(healthy.iter().all(|a| a["result"] == "delivered"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_trace_context_from_a_publisher_is_dropped_and_the_event_is_delivered() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    app.api
        .create_webhook(
            "acme",
            json!({"name": "crm", "url": app.receiver.url("/crm"), "eventTypes": ["contact-created"]}),
        )
        .await;
    app.wait_for_registry().await;
    let forged = [
        ("not-a-trace\r\nX-Injected: yes", "k=v"),
        (
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "k=v\r\nX-Injected: yes",
        ),
    ];

    // Act
    for (traceparent, tracestate) in forged {
        let mut headers = FieldTable::default();
        put_str(&mut headers, "traceparent", traceparent);
        put_str(&mut headers, "tracestate", tracestate);
        let body = serde_json::to_vec(&event("acme", "contact-created", json!({}))).unwrap();
        app.broker
            .publish_raw(
                app.topology.events_exchange(),
                "contact-created",
                &body,
                BasicProperties::default()
                    .with_content_type("application/json".into())
                    .with_headers(headers),
            )
            .await;
    }

    // Assert
    let received = app
        .receiver
        .wait_for("/crm", 2, Duration::from_secs(10))
        .await;
    assert!(received.iter().all(|r| r.header("x-injected").is_none()));
    assert!(received.iter().all(|r| r.header("tracestate").is_none()));
    let mut traceparents: Vec<Option<&str>> =
        received.iter().map(|r| r.header("traceparent")).collect();
    traceparents.sort();
    assert_eq!(
        traceparents,
        [None, Some(forged[1].0)],
        "only the valid traceparent goes on"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_from_a_publisher_cannot_forge_a_log_line() {
    // Arrange
    let app = ProcessApp::spawn("300ms").await;
    let forged = "2030-01-01T00:00:00.000000Z ERROR herald: forged by a publisher";
    let event = json!({"eventId": "e-1", "eventType": format!("nope\n{forged}"), "tenantId": "acme", "entityId": "C", "data": {}});

    // Act
    app.broker
        .publish_raw(
            "platform.events",
            "nope",
            &serde_json::to_vec(&event).unwrap(),
            BasicProperties::default().with_content_type("application/json".into()),
        )
        .await;

    // Assert
    let fanout_log = app.services[1].log.clone();
    let logged = wait::until(
        "the rejection in fanout's log",
        Duration::from_secs(10),
        || {
            let fanout_log = fanout_log.clone();
            async move {
                let text = std::fs::read_to_string(&fanout_log).ok()?;
                text.contains("event rejected").then_some(text)
            }
        },
    )
    .await;
    assert!(
        logged.lines().all(|line| !line.starts_with(forged)),
        "a forged line reached the log:\n{logged}"
    );
    assert!(logged.contains("nope\\n2030-01-01"), "{logged}");
}
