//! Herald under test: an isolated vhost and database, webhooks pointing at the receiver, and
//! the release binaries running as separate processes (or as one `herald up`).

use herald_broker::Publisher;
use herald_broker::lapin::{Connection, ConnectionProperties};
use herald_broker::topology::inspect;
use herald_contract::{EventType, Topology};
use herald_store::{Database, DatabaseConfig, NewWebhook, SecretsKey, WebhookStore};

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};

use herald_testkit::processes::{Output, Process, ProcessCost, free_port};
use herald_testkit::{Isolation, Receiver};

use crate::publishing::TENANT;

/// The tenants the registry's other webhooks are spread over.
pub const OTHER_TENANTS: usize = 10_000;

/// Creates `count` webhooks of other tenants than the bench's, 32 at a time.
async fn seed_others(store: &WebhookStore, count: usize, url: &str) -> anyhow::Result<()> {
    futures::stream::iter(0..count)
        .map(|i| async move {
            store
                .create(NewWebhook {
                    tenant_id: format!("tenant-{}", i % OTHER_TENANTS).parse()?,
                    name: format!("other-{i}"),
                    url: url.to_owned(),
                    event_types: vec![EventType::ContactCreated],
                    auth_header: None,
                    enabled: true,
                    description: None,
                })
                .await?;
            Ok::<_, anyhow::Error>(())
        })
        .buffer_unordered(32)
        .try_collect::<()>()
        .await
}

/// Where the shared services are.
#[derive(Debug, Clone)]
pub struct Services {
    /// `host:port` of RabbitMQ (user guest/guest).
    pub rabbitmq: String,
    /// `postgres://user@host:port` of PostgreSQL, without a database.
    pub postgres: String,
}

impl Services {
    /// A vhost and a database of the run's own, removed when dropped.
    pub fn isolate(&self) -> anyhow::Result<Isolation> {
        Isolation::create("herald-bench", &self.rabbitmq, &self.postgres)
    }
}

/// Starts `binary` quietly (warnings on this process's standard error) as `name`.
fn spawn(
    binary: &str,
    args: &[&str],
    env: &[(String, String)],
    port: u16,
    name: &str,
) -> anyhow::Result<Process> {
    let mut process = Process::start(binary, args, env, port, Output::Quiet)?;
    process.name = name.to_owned();
    Ok(process)
}

const SECRETS_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// The admin token of the Herald under test.
pub const ADMIN_TOKEN: &str = "herald-bench-admin-token-0123456789";

/// How Herald is run.
#[derive(Debug, Clone, Copy)]
pub enum Layout {
    /// `fanout` and `senders` × `sender`, each its own process.
    Separate { senders: usize },
    /// One `herald up` process.
    Up,
}

/// A running Herald and a publisher into its events exchange.
pub struct HeraldUnderTest {
    processes: Vec<Process>,
    /// What the processes were started with, for [`HeraldUnderTest::add_sender`].
    env: Vec<(String, String)>,
    /// From spawning the processes to all of them ready (fanout loads its routing index first).
    pub startup: Duration,
    /// The database Herald runs on.
    pub database_url: String,
    /// Herald's vhost.
    pub amqp_url: String,
    /// `herald up`'s API, when the layout is [`Layout::Up`].
    pub api_url: Option<String>,
    connection: Connection,
    pub publisher: Publisher,
    pub exchange: String,
    _isolated: Isolation,
}

impl HeraldUnderTest {
    /// Starts Herald with `webhooks` webhooks of the bench tenant, all subscribed to
    /// `contact-created`, each at its own path of `receiver`.
    pub async fn start(
        services: &Services,
        layout: Layout,
        webhooks: usize,
        receiver: &Receiver,
        extra_env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        Self::start_with_others(services, layout, webhooks, 0, receiver, extra_env).await
    }

    /// Like [`HeraldUnderTest::start`], with `others` more webhooks in the registry, spread
    /// over [`OTHER_TENANTS`] other tenants (subscribed to the same type, never matched).
    pub async fn start_with_others(
        services: &Services,
        layout: Layout,
        webhooks: usize,
        others: usize,
        receiver: &Receiver,
        extra_env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let isolated = services.isolate()?;
        let amqp_url = isolated.vhost.amqp_url();
        let database = Database::new(&DatabaseConfig {
            url: isolated.database.url.clone(),
            pool_size: 8,
        })?;
        database.prepare().await?;
        let store = WebhookStore::new(database, SecretsKey::from_base64(SECRETS_KEY)?);
        seed_others(&store, others, &receiver.url("/other")).await?;
        for i in 0..webhooks {
            store
                .create(NewWebhook {
                    tenant_id: TENANT.parse()?,
                    name: format!("bench-{i}"),
                    url: receiver.url(&format!("/webhook-{i}")),
                    event_types: vec![EventType::ContactCreated],
                    auth_header: None,
                    enabled: true,
                    description: None,
                })
                .await?;
        }
        let mut env: Vec<(String, String)> = [
            ("AMQP_URL", amqp_url.as_str()),
            ("DATABASE_URL", isolated.database.url.as_str()),
            ("SECRETS_KEY", SECRETS_KEY),
            ("ADMIN_TOKEN", ADMIN_TOKEN),
            ("ALLOW_HTTP", "true"),
            ("ALLOW_PRIVATE_TARGETS", "true"),
        ]
        .into_iter()
        .chain(extra_env.iter().copied())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let mut processes = Vec::new();
        let spawned = std::time::Instant::now();
        match layout {
            Layout::Separate { senders } => {
                let port = free_port()?;
                env.push(("METRICS_ADDR".into(), format!("127.0.0.1:{port}")));
                processes.push(spawn("fanout", &[], &env, port, "fanout")?);
                for replica in 0..senders {
                    let port = free_port()?;
                    env.retain(|(k, _)| k != "METRICS_ADDR");
                    env.push(("METRICS_ADDR".into(), format!("127.0.0.1:{port}")));
                    processes.push(spawn(
                        "sender",
                        &[],
                        &env,
                        port,
                        &format!("sender-{}", replica + 1),
                    )?);
                }
            }
            Layout::Up => {
                let port = free_port()?;
                let state = std::env::temp_dir().join(isolated.vhost.name.clone());
                env.push(("HTTP_ADDR".into(), format!("127.0.0.1:{port}")));
                env.push((
                    "HERALD_STATE_DIR".into(),
                    state.to_string_lossy().into_owned(),
                ));
                processes.push(spawn("herald", &["up"], &env, port, "herald-up")?);
            }
        }
        for process in &processes {
            process.wait_ready(Duration::from_secs(120)).await?;
        }
        let startup = spawned.elapsed();
        let connection = Connection::connect(&amqp_url, ConnectionProperties::default()).await?;
        let publisher = Publisher::open(&connection).await?;
        let api_url = matches!(layout, Layout::Up)
            .then(|| processes.first().map(Process::base_url))
            .flatten();
        env.retain(|(k, _)| k != "METRICS_ADDR" && k != "HTTP_ADDR");
        Ok(Self {
            startup,
            database_url: isolated.database.url.clone(),
            amqp_url,
            api_url,
            processes,
            env,
            connection,
            publisher,
            exchange: Topology::DEFAULT_EXCHANGE.to_owned(),
            _isolated: isolated,
        })
    }

    /// Creates a webhook of the bench tenant, subscribed to `event_type`, at `path` of
    /// `receiver`: straight into the registry, as the API does.
    pub async fn add_webhook(
        &self,
        receiver: &Receiver,
        name: &str,
        path: &str,
        event_type: EventType,
    ) -> anyhow::Result<()> {
        let database = Database::new(&DatabaseConfig {
            url: self.database_url.clone(),
            pool_size: 1,
        })?;
        WebhookStore::new(database, SecretsKey::from_base64(SECRETS_KEY)?)
            .create(NewWebhook {
                tenant_id: TENANT.parse()?,
                name: name.to_owned(),
                url: receiver.url(path),
                event_types: vec![event_type],
                auth_header: None,
                enabled: true,
                description: None,
            })
            .await?;
        Ok(())
    }

    /// Starts one more sender (a layout of separate processes may start with none) and waits
    /// until it is ready.
    pub async fn add_sender(&mut self) -> anyhow::Result<()> {
        let port = free_port()?;
        let mut env = self.env.clone();
        env.push(("METRICS_ADDR".into(), format!("127.0.0.1:{port}")));
        let senders = self
            .processes
            .iter()
            .filter(|process| process.name.starts_with("sender"))
            .count();
        let sender = spawn(
            "sender",
            &[],
            &env,
            port,
            &format!("sender-{}", senders + 1),
        )?;
        sender.wait_ready(Duration::from_secs(120)).await?;
        self.processes.push(sender);
        Ok(())
    }

    /// Deliveries waiting in the deliveries and the overflow queue (ready, not taken).
    pub async fn deliveries_waiting(&self) -> anyhow::Result<u64> {
        let topology = Topology::default();
        let channel = self.connection.create_channel().await?;
        let mut waiting = 0;
        for queue in [topology.deliveries_queue(), topology.overflow_queue()] {
            waiting += u64::from(inspect(&channel, &queue).await?.message_count());
        }
        let _ = channel.close(200, "counted".into()).await;
        Ok(waiting)
    }

    /// CPU seconds and peak RSS of each process so far.
    pub fn costs(&self) -> Vec<ProcessCost> {
        self.processes.iter().map(Process::cost).collect()
    }

    /// `herald up`'s API base URL; an error naming `scenario` with another layout.
    pub fn api(&self, scenario: &str) -> anyhow::Result<String> {
        self.api_url
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the {scenario} scenario needs `herald up`"))
    }

    /// Resident memory now of each process, by name.
    pub fn rss_mib(&self) -> Vec<(String, f64)> {
        self.processes
            .iter()
            .map(|process| (process.cost().process, process.rss_mib()))
            .collect()
    }

    pub async fn stop(self) {
        for process in self.processes {
            process.stop(Duration::from_secs(20)).await;
        }
    }
}
