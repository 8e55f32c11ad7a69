use std::time::Duration;

use herald_contract::Topology;
use herald_tests::broker::event;
use herald_tests::processes::{Backing, ProcessApp};
use herald_tests::receiver::Behaviour;
use herald_tests::wait;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// Waits until fanout's `herald_fanout_overflowing` gauge reads `value`.
async fn wait_for_overflowing(app: &ProcessApp, value: f64) {
    let fanout = &app.services[1].health;
    wait::until("fanout to switch queues", WAIT, || async {
        (fanout.metric("herald_fanout_overflowing").await == value).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_of_events_published_during_a_backlog_drain_do_not_wait_behind_the_backlog() {
    // Arrange: at most 5 deliveries waiting before fanout overflows; each sender consumer
    // works on one delivery at a time, to an endpoint that takes 300 ms.
    let mut app = ProcessApp::spawn_with(
        Backing::shared(),
        &[
            ("RETRY_DELAYS", "300ms,300ms,300ms,300ms,300ms"),
            ("OVERFLOW_AFTER", "5"),
            ("SENDER_PREFETCH", "1"),
        ],
    )
    .await;
    app.receiver
        .respond("/slow", Behaviour::Delay(Duration::from_millis(300)));
    app.api
        .create_webhook("acme", json!({"name": "slow", "url": app.receiver.url("/slow"), "eventTypes": ["contact-created"]}))
        .await;
    app.wait_for_registry().await;
    app.service(2).kill().await;
    let topology = Topology::default();
    let deliveries = topology.deliveries_queue();
    let overflow = topology.overflow_queue();

    // The senders are stopped: a backlog builds up, first in the deliveries queue...
    let mut backlog = Vec::new();
    while app.broker.count(&deliveries).await < 5 {
        let event = event("acme", "contact-created", json!({"n": backlog.len()}));
        app.broker.publish_event("platform.events", &event).await;
        backlog.push(event);
        let published = backlog.len() as u32;
        wait::until("the delivery to be queued", WAIT, || async {
            (app.broker.count(&deliveries).await + app.broker.count(&overflow).await >= published)
                .then_some(())
        })
        .await;
    }
    // ...then, once fanout has seen it, in the overflow queue.
    wait_for_overflowing(&app, 1.0).await;
    for n in 0..20 {
        let event = event("acme", "contact-created", json!({"overflowed": n}));
        app.broker.publish_event("platform.events", &event).await;
        backlog.push(event);
    }
    wait::until("the backlog to overflow", WAIT, || async {
        (app.broker.count(&overflow).await >= 20).then_some(())
    })
    .await;

    // Act: the senders start; once the deliveries queue is short again, a fresh event.
    app.start("sender").await;
    wait_for_overflowing(&app, 0.0).await;
    let fresh = event("acme", "contact-created", json!({"fresh": true}));
    app.broker.publish_event("platform.events", &fresh).await;

    // Assert: every delivery arrives, and the fresh one well before the end of the backlog.
    let mut expected: Vec<String> = backlog
        .iter()
        .chain([&fresh])
        .map(|event| event["eventId"].as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    let order = app
        .receiver
        .wait_until("every delivery", Duration::from_secs(60), |all| {
            let order: Vec<String> = all
                .iter()
                .map(|request| {
                    request.json()["meta"]["eventId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            let mut delivered = order.clone();
            delivered.sort();
            delivered.dedup();
            (delivered == expected).then_some(order)
        })
        .await;
    let fresh_id = fresh["eventId"].as_str().unwrap();
    let fresh_at = order.iter().position(|id| id == fresh_id).unwrap();
    let backlog_after_fresh = order.len() - fresh_at - 1;
    assert!(
        backlog_after_fresh >= 5,
        "the fresh event came {}th of {}: it waited behind the backlog",
        fresh_at + 1,
        order.len()
    );
}
