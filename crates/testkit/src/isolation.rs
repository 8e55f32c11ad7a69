//! A vhost and a database of one's own on the machine's shared RabbitMQ and PostgreSQL, so
//! that runs in parallel never see each other's messages or webhooks.

use std::process::Command;

use anyhow::Context as _;

/// The shared RabbitMQ (user guest/guest).
pub const RABBITMQ_ADDR: &str = "127.0.0.1:5672";

/// The shared PostgreSQL server, without a database.
pub const POSTGRES_BASE: &str = "postgres://postgres@127.0.0.1:5432";

/// A short unique id for names of a run's resources.
pub fn unique_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// A RabbitMQ vhost of its own, on which guest may do anything; deleted when dropped.
#[derive(Debug)]
pub struct Vhost {
    pub name: String,
    amqp_url: String,
}

impl Vhost {
    /// Creates vhost `name` on the broker at `rabbitmq` (`host:port`).
    pub fn create(name: &str, rabbitmq: &str) -> anyhow::Result<Self> {
        rabbitmqctl(&["add_vhost", name])?;
        rabbitmqctl(&["set_permissions", "-p", name, "guest", ".*", ".*", ".*"])?;
        Ok(Self {
            name: name.to_owned(),
            amqp_url: format!("amqp://guest:guest@{rabbitmq}/{name}"),
        })
    }

    pub fn amqp_url(&self) -> String {
        self.amqp_url.clone()
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "delete_vhost", &self.name])
            .output();
    }
}

/// A database name of its own (created by Herald's migrations on first use); dropped, whoever
/// is still connected, when this is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    server: String,
}

impl TestDatabase {
    /// Database `name` on the server at `server` (`postgres://user@host:port`).
    pub fn named(name: &str, server: &str) -> Self {
        Self {
            name: name.to_owned(),
            url: format!("{server}/{name}"),
            server: server.to_owned(),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        drop_database(&self.server, &self.name);
    }
}

/// A vhost and a database, both named `<prefix>-<id>` (the database with `_`).
#[derive(Debug)]
pub struct Isolation {
    pub vhost: Vhost,
    pub database: TestDatabase,
}

impl Isolation {
    /// A fresh vhost and database on the given services.
    pub fn create(prefix: &str, rabbitmq: &str, postgres: &str) -> anyhow::Result<Self> {
        let id = unique_id();
        Ok(Self {
            vhost: Vhost::create(&format!("{prefix}-{id}"), rabbitmq)?,
            database: TestDatabase::named(&format!("{}_{id}", prefix.replace('-', "_")), postgres),
        })
    }
}

/// Drops database `name` on `server`, whoever is still connected.
pub fn drop_database(server: &str, name: &str) {
    let _ = Command::new("psql")
        .args([
            &format!("{server}/postgres"),
            "-q",
            "-c",
            &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        ])
        .output();
}

/// Runs `rabbitmqctl -q` with `args`.
pub fn rabbitmqctl(args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("rabbitmqctl")
        .arg("-q")
        .args(args)
        .output()
        .context("running rabbitmqctl (is RabbitMQ installed on this machine?)")?;
    anyhow::ensure!(
        output.status.success(),
        "rabbitmqctl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}
