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
//! - [`receiver`]: an HTTP endpoint on port 0 that records every request and answers as
//!   each test scripts it.
//! - [`broker`]: vhosts, publishing events, reading queues.
//! - [`wait`]: waiting for a condition with a deadline.

#![allow(clippy::unwrap_used, unreachable_pub)]

pub mod app;
pub mod broker;
pub mod private;
pub mod processes;
pub mod receiver;
pub mod wait;

/// A short unique id for names of this test's resources.
pub fn unique_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// The shared PostgreSQL server of the machine.
pub const POSTGRES_BASE: &str = "postgres://postgres@127.0.0.1:5432";

/// Drops a test database, whoever is still connected.
pub fn drop_database(name: &str) {
    let _ = std::process::Command::new("psql")
        .args([
            &format!("{POSTGRES_BASE}/postgres"),
            "-q",
            "-c",
            &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        ])
        .output();
}
