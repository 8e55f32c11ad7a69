//! Running fanout as its own process.

use std::sync::Arc;

use herald_runtime::{Readiness, Registry, health};
use herald_store::Database;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::configuration::FanoutConfig;
use crate::metrics::FanoutMetrics;
use crate::service::Fanout;

/// Runs fanout until `shutdown`, serving health and metrics on `metrics_listener`.
pub async fn run(
    config: FanoutConfig,
    metrics_listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let database = Database::new(&config.database.config())?;
    let mut registry = Registry::default();
    let readiness = Readiness::default();
    let fanout = Fanout::new(
        config.broker.config(),
        config.fanout.settings(config.lifecycle.drain_timeout),
        database.clone(),
        FanoutMetrics::register(&mut registry),
        readiness.component("broker"),
    );
    herald_runtime::database::watch(
        &database,
        readiness.component("database"),
        &mut registry,
        &shutdown,
    );
    let health = tokio::spawn(health::serve(
        metrics_listener,
        health::router(readiness, Arc::new(registry)),
        shutdown.clone(),
    ));
    herald_runtime::database::prepare(&database, &shutdown).await?;
    fanout.run(shutdown.clone()).await;
    health.await??;
    tracing::info!("fanout stopped");
    Ok(())
}
