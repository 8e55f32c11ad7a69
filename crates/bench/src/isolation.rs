//! A vhost and a database of the run's own, removed at the end.

use std::process::Command;

use anyhow::Context;

/// Where the shared services are.
#[derive(Debug, Clone)]
pub struct Services {
    /// `host:port` of RabbitMQ (user guest/guest).
    pub rabbitmq: String,
    /// `postgres://user@host:port` of PostgreSQL, without a database.
    pub postgres: String,
}

/// An isolated vhost and database.
pub struct Isolated {
    pub vhost: String,
    pub amqp_url: String,
    pub database_name: String,
    pub database_url: String,
    postgres: String,
}

impl Isolated {
    pub fn create(services: &Services) -> anyhow::Result<Self> {
        let id = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
        let vhost = format!("herald-bench-{id}");
        rabbitmqctl(&["add_vhost", &vhost])?;
        rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"])?;
        let database_name = format!("herald_bench_{id}");
        Ok(Self {
            amqp_url: format!("amqp://guest:guest@{}/{vhost}", services.rabbitmq),
            database_url: format!("{}/{database_name}", services.postgres),
            vhost,
            database_name,
            postgres: services.postgres.clone(),
        })
    }
}

impl Drop for Isolated {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "delete_vhost", &self.vhost])
            .output();
        let _ = Command::new("psql")
            .args([
                &format!("{}/postgres", self.postgres),
                "-q",
                "-c",
                &format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.database_name
                ),
            ])
            .output();
    }
}

fn rabbitmqctl(args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("rabbitmqctl")
        .arg("-q")
        .args(args)
        .output()
        .context("running rabbitmqctl (the bench isolates itself in a vhost of its own)")?;
    anyhow::ensure!(
        output.status.success(),
        "rabbitmqctl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}
