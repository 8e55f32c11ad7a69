use std::time::Duration;

use herald_tests::app::{Options, TestApp};
use herald_tests::broker::event;
use herald_tests::receiver::Behaviour;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn total(stats: &Value, field: &str) -> i64 {
    stats["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bucket| bucket[field].as_i64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_real_attempts_by_result_in_the_current_bucket_and_leave_test_sends_out() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    app.receiver.respond("/flaky", Behaviour::FailTimes(1, 503));
    let webhook = app
        .api
        .create_webhook(
            "acme",
            json!({"name": "flaky", "url": app.receiver.url("/flaky"), "eventTypes": ["contact-created"]}),
        )
        .await;
    let path = format!(
        "/v1/tenants/acme/webhooks/{}",
        webhook["id"].as_str().unwrap()
    );
    app.wait_for_registry().await;

    // Act: one event fails once then is delivered, one is delivered at once, one test send.
    app.publish(&event("acme", "contact-created", json!({"n": 1})))
        .await;
    app.receiver
        .wait_for("/flaky", 2, Duration::from_secs(15))
        .await;
    app.publish(&event("acme", "contact-created", json!({"n": 2})))
        .await;
    app.receiver
        .wait_for("/flaky", 3, Duration::from_secs(15))
        .await;
    let (status, _) = app
        .api
        .call(Method::POST, &format!("{path}/test"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let stats = herald_tests::wait::until(
        "three attempts in the stats",
        Duration::from_secs(10),
        || async {
            let (_, stats) = app
                .api
                .call(Method::GET, &format!("{path}/stats"), None)
                .await;
            (total(&stats, "delivered") + total(&stats, "willRetry") >= 3).then_some(stats)
        },
    )
    .await;

    // Assert
    assert_eq!(stats["window"], "24h");
    assert_eq!(stats["bucketSeconds"], 3600);
    let buckets = stats["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 24);
    let last = &buckets[23];
    assert_eq!(last["delivered"], 2, "{stats}");
    assert_eq!(last["willRetry"], 1, "{stats}");
    assert_eq!(last["failed"], 0);
    assert!(last["p50Ms"].as_f64().is_some() && last["p95Ms"].as_f64().is_some());
    assert!(
        buckets[0]["p50Ms"].is_null(),
        "an empty bucket has no percentiles"
    );
    assert_eq!(
        total(&stats, "delivered"),
        2,
        "the test send is not counted"
    );
    let (status, week) = app
        .api
        .call(Method::GET, &format!("{path}/stats?window=7d"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(week["bucketSeconds"], 21_600);
    assert_eq!(week["buckets"].as_array().unwrap().len(), 28);
    assert_eq!(total(&week, "delivered"), 2);
    let (status, body) = app
        .api
        .call(Method::GET, &format!("{path}/stats?window=1y"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "window");
}
