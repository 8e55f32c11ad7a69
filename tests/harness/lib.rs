//! The integration-test harness: real services against the real RabbitMQ and PostgreSQL of
//! the machine, and a real HTTP receiver.
//!
//! Every test gets its own RabbitMQ vhost and its own database (both named after a fresh
//! id and removed when the test ends), so tests run in parallel and never see each other's
//! messages or webhooks.
//!
//! - [`app`]: Herald in-process (`herald up`'s code path) on port 0, plus an API client.
//! - [`processes`]: Herald as separate processes (the real `fanout`, `sender` and `herald`
//!   binaries), for tests that kill or stop them.
//! - [`broker`]: vhosts, publishing events, reading queues.
//! - [`receiver`] and [`wait`] (from `herald-testkit`, shared with the benchmark): an HTTP
//!   endpoint that records every request and answers as each test scripts it, and waiting
//!   for a condition with a deadline.

#![allow(clippy::unwrap_used, unreachable_pub)]

pub mod app;
pub mod broker;
pub mod private;
pub mod processes;

pub use herald_testkit::isolation::{POSTGRES_BASE, unique_id};
pub use herald_testkit::{receiver, wait};

/// Drops a test database on the shared server, whoever is still connected.
pub fn drop_database(name: &str) {
    herald_testkit::isolation::drop_database(POSTGRES_BASE, name);
}

/// The registry version of the database at `database_url`: every statement that changes
/// webhooks raises it, and fanout and the sender report the version they have taken in.
pub async fn registry_version(database_url: &str) -> f64 {
    let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    let driver = tokio::spawn(connection);
    let version: i64 = client
        .query_one("SELECT version FROM registry_version", &[])
        .await
        .expect("read the registry version")
        .get(0);
    driver.abort();
    version as f64
}

/// Waits until every follower of the registry (the `/metrics` of each of `followers`
/// reports `herald_fanout_registry_version` or `herald_sender_registry_version`) has taken in
/// every change made to the database at `database_url` so far.
pub async fn wait_for_registry(database_url: &str, followers: &[(&app::ApiClient, &str)]) {
    let version = registry_version(database_url).await;
    for (client, metric) in followers {
        wait::until(
            &format!("{metric} to reach {version}"),
            std::time::Duration::from_secs(10),
            || async { (client.metric(metric).await >= version).then_some(()) },
        )
        .await;
    }
}
