//! Running fanout as its own process.

use herald_runtime::Router;
use herald_runtime::args::seal_key;
use herald_runtime::process::{HttpServer, serve_and_prepare};

use herald_runtime::{Readiness, Registry};
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
        config.fanout.settings(
            config.lifecycle.drain_timeout,
            seal_key(&config.secrets.key()?),
        ),
        database.clone(),
        FanoutMetrics::register(&mut registry),
        readiness.component("broker"),
    );
    let health = serve_and_prepare(
        HttpServer {
            listener: metrics_listener,
            limits: config.http_limits.clone(),
            routes: Router::new(),
        },
        &database,
        None,
        readiness,
        registry,
        &shutdown,
    )
    .await?;
    fanout.run(shutdown.clone()).await;
    health.await??;
    tracing::info!("fanout stopped");
    Ok(())
}
