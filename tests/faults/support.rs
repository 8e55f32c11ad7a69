//! What every scenario does: subscribe, stream events, count them at the receiver.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use herald_tests::broker::{BrokerClient, event};
use herald_tests::processes::ProcessApp;
use herald_tests::receiver::Receiver;
use serde_json::json;

/// Events per scenario.
pub(crate) const EVENTS: usize = 1000;

/// Creates a webhook of tenant `acme` for `contact-created` at `path`, and waits until fanout
/// and the sender have taken it in.
pub(crate) async fn subscribe(app: &ProcessApp, path: &str) -> String {
    let webhook = app
        .api
        .create_webhook(
            "acme",
            json!({"name": path, "url": app.receiver.url(path), "eventTypes": ["contact-created"]}),
        )
        .await;
    app.wait_for_registry().await;
    webhook["id"].as_str().unwrap().to_owned()
}

/// Publishes `count` events of tenant `acme`; returns their ids.
pub(crate) async fn publish(broker: &BrokerClient, count: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let event = event("acme", "contact-created", json!({"n": n}));
        broker.publish_event("platform.events", &event).await;
        ids.push(event["eventId"].as_str().unwrap().to_owned());
    }
    ids
}

/// Publishes `count` events at about `per_second` from a connection of its own, in the
/// background; the ids come with the handle.
pub(crate) fn publish_paced(
    amqp_url: String,
    count: usize,
    per_second: u32,
) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let broker = BrokerClient::connect(&amqp_url).await;
        let mut ticks = tokio::time::interval(Duration::from_secs(1) / per_second.max(1));
        let mut ids = Vec::with_capacity(count);
        for n in 0..count {
            ticks.tick().await;
            let event = event("acme", "contact-created", json!({"n": n}));
            broker.publish_event("platform.events", &event).await;
            ids.push(event["eventId"].as_str().unwrap().to_owned());
        }
        ids
    })
}

/// What the receiver got of a stream.
#[derive(Debug)]
pub(crate) struct Tally {
    /// Published events that never reached the receiver.
    pub(crate) lost: usize,
    /// Requests beyond the first for the same event.
    pub(crate) duplicates: usize,
    pub(crate) elapsed: Duration,
}

/// Waits until every id in `expected` reached the receiver, or `limit` passed, and counts
/// what is missing and what came twice.
pub(crate) async fn await_every(
    receiver: &Receiver,
    expected: &[String],
    limit: Duration,
) -> Tally {
    let started = Instant::now();
    let count = |all: &[herald_tests::receiver::Received]| {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for request in all {
            *counts
                .entry(request.header("webhook-id").unwrap_or_default().to_owned())
                .or_default() += 1;
        }
        counts
    };
    let counts = match receiver
        .try_wait_until(limit, |all| {
            let counts = count(all);
            expected
                .iter()
                .all(|id| counts.contains_key(id.as_str()))
                .then_some(counts)
        })
        .await
    {
        Some(counts) => counts,
        None => count(&receiver.all()),
    };
    Tally {
        lost: expected
            .iter()
            .filter(|id| !counts.contains_key(id.as_str()))
            .count(),
        duplicates: expected
            .iter()
            .map(|id| counts.get(id).copied().unwrap_or(0).saturating_sub(1))
            .sum(),
        elapsed: started.elapsed(),
    }
}

/// Prints a scenario's outcome for the CI log, then fails the scenario if anything was lost.
pub(crate) fn report(scenario: &str, published: usize, tally: &Tally) {
    eprintln!(
        "[fault suite] {scenario}: published {published}, lost {}, duplicates {}, drained in {:.1?}",
        tally.lost, tally.duplicates, tally.elapsed
    );
    assert_eq!(
        tally.lost, 0,
        "{scenario}: {} of {published} events never reached the receiver",
        tally.lost
    );
}
