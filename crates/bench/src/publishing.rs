//! Publishing domain events the way a platform service does, fast or paced.

use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use herald_broker::Publisher;
use herald_broker::lapin::BasicProperties;
use herald_contract::EventMessage;
use serde_json::json;

use herald_testkit::Clock;

/// The tenant every bench webhook belongs to.
pub const TENANT: &str = "bench";

/// An event of about the size platform services publish, with a time-carrying id.
pub fn event_body(clock: &Clock, n: usize) -> Vec<u8> {
    event_with_id(clock.event_id(n), n)
}

/// The same event with `event_id` (one that carries no time is not counted in latencies).
pub fn event_with_id(event_id: String, n: usize) -> Vec<u8> {
    EventMessage {
        event_id,
        event_type: "contact-created".to_owned(),
        event_timestamp: herald_contract::format_timestamp(chrono::Utc::now()),
        tenant_id: TENANT.to_owned(),
        entity_id: format!("CONT-{n}"),
        data: json!({
            "contactId": format!("CONT-{n}"),
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "ada@example.com",
            "phone": "+44 20 7946 0000",
            "company": "Analytical Engines Ltd",
            "tags": ["vip", "newsletter"]
        }),
    }
    .to_bytes()
}

fn properties() -> BasicProperties {
    BasicProperties::default().with_content_type("application/json".into())
}

/// Publishes `count` events with up to `window` unconfirmed at once; returns how long it took.
pub async fn burst(
    publisher: &Publisher,
    exchange: &str,
    clock: &Clock,
    count: usize,
    window: usize,
) -> anyhow::Result<Duration> {
    burst_of(publisher, exchange, count, window, |n| event_body(clock, n)).await
}

/// Publishes `count` events, the `n`th with body `body(n)`, with up to `window` unconfirmed at
/// once; returns how long it took.
pub async fn burst_of(
    publisher: &Publisher,
    exchange: &str,
    count: usize,
    window: usize,
    body: impl Fn(usize) -> Vec<u8>,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    for n in 0..count {
        if in_flight.len() >= window
            && let Some(result) = in_flight.next().await
        {
            result?;
        }
        let body = body(n);
        in_flight.push(async move {
            publisher
                .publish(exchange, "contact-created", false, &body, properties())
                .await
        });
    }
    while let Some(result) = in_flight.next().await {
        result?;
    }
    Ok(started.elapsed())
}

/// Publishes `rate` events per second for `duration`; returns how many.
pub async fn paced(
    publisher: &Publisher,
    exchange: &str,
    clock: &Clock,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<usize> {
    let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let count = (duration.as_secs_f64() * rate) as usize;
    let mut in_flight = FuturesUnordered::new();
    for n in 0..count {
        ticks.tick().await;
        let body = event_body(clock, n);
        in_flight.push(async move {
            publisher
                .publish(exchange, "contact-created", false, &body, properties())
                .await
        });
        // Collect confirms as they come so they never pile up.
        while let Some(Some(result)) = futures::FutureExt::now_or_never(in_flight.next()) {
            result?;
        }
    }
    while let Some(result) = in_flight.next().await {
        result?;
    }
    Ok(count)
}
