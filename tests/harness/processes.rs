//! Herald as separate processes: the real binaries, for tests that kill or stop them.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use herald_testkit::processes::{Output, Process};

use crate::app::{
    ADMIN_TOKEN, ApiClient, FANOUT_REGISTRY_VERSION, SECRETS_KEY, SENDER_REGISTRY_VERSION,
};
use crate::broker::{BrokerClient, Vhost, vhost};
use crate::receiver::Receiver;
use crate::{POSTGRES_BASE, drop_database, unique_id};

/// The path of a workspace binary (built on first use, so that a test run of this package
/// alone never uses stale ones).
pub fn binary(name: &str) -> PathBuf {
    herald_testkit::binary(name).expect("the workspace's binaries")
}

/// A free local port.
pub fn free_port() -> u16 {
    herald_testkit::free_port().expect("a free port")
}

/// One running Herald process.
pub struct Service {
    pub name: String,
    process: Process,
    /// Where its `/healthz`, `/readyz` and `/metrics` are served.
    pub health: ApiClient,
    /// Its standard output and error.
    pub log: PathBuf,
}

impl Service {
    /// Starts `binary` with `env`, serving health on `port`.
    pub fn start(binary_name: &str, args: &[&str], env: &[(String, String)], port: u16) -> Self {
        let log = std::env::temp_dir().join(format!("herald-{binary_name}-{port}.log"));
        let process = Process::start(binary_name, args, env, port, Output::File(log.clone()))
            .expect("start the service");
        Self {
            name: binary_name.to_owned(),
            health: ApiClient::new(process.base_url(), ADMIN_TOKEN),
            process,
            log,
        }
    }

    pub async fn wait_ready(&self) {
        self.health.wait_ready(Duration::from_secs(30)).await;
    }

    /// SIGKILL: no chance to finish anything.
    pub async fn kill(&mut self) {
        self.process.kill().await.expect("SIGKILL");
    }

    /// SIGTERM: a graceful stop.
    pub fn terminate(&self) {
        self.process.terminate().expect("SIGTERM");
    }

    /// Waits for the process to exit, up to `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        self.process.wait_exit(limit).await.expect("an exit")
    }
}

/// Where a [`ProcessApp`] keeps its messages and webhooks.
pub struct Backing {
    pub amqp_urls: Vec<String>,
    pub database_url: String,
    vhost: Option<Vhost>,
    shared_database: Option<String>,
}

impl Backing {
    /// A fresh vhost and database on the machine's shared RabbitMQ and PostgreSQL.
    pub fn shared() -> Self {
        let id = unique_id();
        let vhost = vhost(&id);
        let database_name = format!("herald_test_{id}");
        Self {
            amqp_urls: vec![vhost.amqp_url()],
            database_url: format!("{POSTGRES_BASE}/{database_name}"),
            vhost: Some(vhost),
            shared_database: Some(database_name),
        }
    }

    /// Given brokers (a private node or cluster) and a given database URL.
    pub fn on(amqp_urls: Vec<String>, database_url: String) -> Self {
        Self {
            amqp_urls,
            database_url,
            vhost: None,
            shared_database: None,
        }
    }

    /// A fresh database on the shared PostgreSQL, with the given brokers.
    pub fn with_brokers(amqp_urls: Vec<String>) -> Self {
        let database_name = format!("herald_test_{}", unique_id());
        Self {
            amqp_urls,
            database_url: format!("{POSTGRES_BASE}/{database_name}"),
            vhost: None,
            shared_database: Some(database_name),
        }
    }

    /// A fresh vhost on the shared RabbitMQ, with the given database URL.
    pub fn with_database(database_url: String) -> Self {
        let vhost = vhost(&unique_id());
        Self {
            amqp_urls: vec![vhost.amqp_url()],
            database_url,
            vhost: Some(vhost),
            shared_database: None,
        }
    }
}

impl Drop for Backing {
    fn drop(&mut self) {
        if let Some(name) = &self.shared_database {
            drop_database(name);
        }
        let _ = self.vhost.take();
    }
}

/// The environment of a test's Herald process on `amqp_url` and `database_url`: a short
/// ladder and timeouts, local targets allowed, the test token and key.
pub fn test_env(amqp_url: &str, database_url: &str) -> Vec<(String, String)> {
    [
        ("AMQP_URL", amqp_url),
        ("DATABASE_URL", database_url),
        ("DATABASE_POOL_SIZE", "4"),
        ("RETRY_DELAYS", "300ms,300ms,300ms,300ms,300ms"),
        ("DELIVERY_TIMEOUT", "2s"),
        ("ALLOW_HTTP", "true"),
        ("ALLOW_PRIVATE_TARGETS", "true"),
        ("ADMIN_TOKEN", ADMIN_TOKEN),
        ("SECRETS_KEY", SECRETS_KEY),
        ("DRAIN_TIMEOUT", "5s"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Herald as separate processes (`herald serve`, `fanout`, `sender`), each started with the
/// same environment.
pub struct ProcessApp {
    pub env: Vec<(String, String)>,
    pub api: ApiClient,
    pub receiver: Receiver,
    pub broker: BrokerClient,
    pub services: Vec<Service>,
    pub backing: Backing,
}

impl ProcessApp {
    /// Starts `herald serve`, one fanout and one sender on a fresh vhost and database of the
    /// shared services, and waits until all are ready.
    pub async fn spawn(retry_delays: &str) -> Self {
        Self::spawn_with(Backing::shared(), &[("RETRY_DELAYS", retry_delays)]).await
    }

    /// Starts `herald serve`, one fanout and one sender on `backing`, with `settings` added to
    /// the environment, and waits until all are ready.
    pub async fn spawn_with(backing: Backing, settings: &[(&str, &str)]) -> Self {
        let mut env = test_env(&backing.amqp_urls.join(","), &backing.database_url);
        for (key, value) in settings {
            env.retain(|(k, _)| k != key);
            env.push(((*key).to_owned(), (*value).to_owned()));
        }
        let receiver = Receiver::start().await;
        let api_port = free_port();
        let mut app = Self {
            api: ApiClient::new(format!("http://127.0.0.1:{api_port}"), ADMIN_TOKEN),
            broker: BrokerClient::connect(&backing.amqp_urls[0]).await,
            env,
            receiver,
            services: Vec::new(),
            backing,
        };
        let serve_env = app.with(&[("HTTP_ADDR", format!("127.0.0.1:{api_port}"))]);
        app.services
            .push(Service::start("herald", &["serve"], &serve_env, api_port));
        app.start("fanout").await;
        app.start("sender").await;
        app.api.wait_ready(Duration::from_secs(60)).await;
        app
    }

    fn with(&self, extra: &[(&str, String)]) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        env
    }

    /// Starts one more `fanout` or `sender` and waits until it is ready; returns its index in
    /// `services` (0 is `herald serve`, 1 the first fanout, 2 the first sender).
    pub async fn start(&mut self, binary_name: &str) -> usize {
        let port = free_port();
        let env = self.with(&[("METRICS_ADDR", format!("127.0.0.1:{port}"))]);
        let service = Service::start(binary_name, &[], &env, port);
        service.wait_ready().await;
        self.services.push(service);
        self.services.len() - 1
    }

    /// Waits until every running fanout and sender has taken in every registry change made
    /// so far.
    pub async fn wait_for_registry(&self) {
        let followers: Vec<_> = self
            .services
            .iter()
            .filter_map(|service| match service.name.as_str() {
                "fanout" => Some((&service.health, FANOUT_REGISTRY_VERSION)),
                "sender" => Some((&service.health, SENDER_REGISTRY_VERSION)),
                _ => None,
            })
            .collect();
        crate::wait_for_registry(&self.backing.database_url, &followers).await;
    }

    pub fn service(&mut self, index: usize) -> &mut Service {
        &mut self.services[index]
    }
}

impl Drop for ProcessApp {
    fn drop(&mut self) {
        for service in &mut self.services {
            service.process.start_kill();
        }
    }
}
