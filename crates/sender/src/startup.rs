//! Building the sender, and running it as its own process.

use herald_runtime::Router;
use herald_runtime::args::seal_keys;
use herald_runtime::process::{HttpServer, serve_and_prepare};
use std::time::Duration;

use herald_runtime::{Readiness, Registry};
use herald_store::attempts::AttemptLog;
use herald_store::{AttemptRecorder, Database, HealthStore, Keyring, WebhookStore};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use herald_broker::BrokerConfig;
use herald_lifecycle::HealthPolicy;
use herald_lifecycle::announcer::Announcer;

use crate::configuration::SenderConfig;
use crate::metrics::SenderMetrics;
use crate::service::{Sender, SenderSettings, SenderStores};
use crate::targets::TargetCache;
use herald_delivery::{ClientSettings, DeliveryClient};

/// The most attempts written in one statement.
const ATTEMPT_BATCH: usize = 512;

/// A sender and the attempt writer it feeds.
pub struct SenderParts {
    pub sender: Sender,
    /// Finishes once the sender is gone and every attempt it recorded is written.
    pub attempt_writer: JoinHandle<()>,
}

/// Builds a sender on `database`, registering its metrics and readiness.
pub fn build(
    broker: BrokerConfig,
    client: ClientSettings,
    settings: SenderSettings,
    database: Database,
    key: Keyring,
    registry: &mut Registry,
    readiness: &Readiness,
) -> anyhow::Result<SenderParts> {
    let client = DeliveryClient::new(client)?;
    let (recorder, attempt_writer) =
        AttemptRecorder::spawn(AttemptLog::new(database.clone()), ATTEMPT_BATCH);
    let sender = Sender::new(
        broker,
        settings,
        SenderStores {
            targets: TargetCache::new(WebhookStore::new(database.clone(), key)),
            recorder,
            health: HealthStore::new(database),
        },
        client,
        SenderMetrics::register(registry),
        readiness.component("sender broker session"),
    );
    Ok(SenderParts {
        sender,
        attempt_writer,
    })
}

/// Runs a sender until `shutdown`, serving health and metrics on `metrics_listener`.
pub async fn run(
    config: SenderConfig,
    metrics_listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let key = config.secrets.keyring()?;
    let database = Database::new(&config.database.config())?;
    let mut registry = Registry::default();
    let readiness = Readiness::default();
    let parts = build(
        config.broker.config(),
        config.delivery.settings(),
        config
            .sender
            .settings(config.lifecycle.drain_timeout, seal_keys(&key)),
        database.clone(),
        key.clone(),
        &mut registry,
        &readiness,
    )?;
    let announcer = Announcer::register(&mut registry);
    let health = serve_and_prepare(
        HttpServer {
            listener: metrics_listener,
            limits: config.http_limits.clone(),
            routes: Router::new(),
        },
        &database,
        Some(&key),
        readiness,
        registry,
        &shutdown,
    )
    .await?;
    let announcer = announcer.spawn(
        HealthStore::new(database.clone()),
        config.broker.config(),
        HealthPolicy::from(&config.webhook_health),
        &shutdown,
    );
    parts.sender.run(shutdown.clone()).await;
    let _ = announcer.await;
    finish_writes(parts.attempt_writer, config.lifecycle.drain_timeout).await;
    health.await??;
    tracing::info!("sender stopped");
    Ok(())
}

/// Waits (bounded) for the attempt writer to flush what it holds.
pub async fn finish_writes(writer: JoinHandle<()>, limit: Duration) {
    if tokio::time::timeout(limit, writer).await.is_err() {
        tracing::warn!(
            "attempt records still unwritten at exit; their deliveries were not acknowledged"
        );
    }
}
