//! What every Herald process does around its work: serve health, readiness and metrics (and
//! any other routes) on its listener, watch the database, and bring it up to date.

use std::sync::Arc;

use axum::Router;
use herald_store::Database;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::health::{self, Readiness};
use crate::http::{self, HttpLimits};

/// Serves `routes` plus `/healthz`, `/readyz` and `/metrics` on `listener` within `limits`
/// until `shutdown`,
/// registers the database in `readiness` and `registry`, then creates and migrates the
/// database (waiting for it as long as it takes, or until `shutdown`). Returns the server, to
/// await once the process's work is done.
pub async fn serve_and_prepare(
    listener: TcpListener,
    limits: HttpLimits,
    routes: Router,
    database: &Database,
    readiness: Readiness,
    mut registry: Registry,
    shutdown: &CancellationToken,
) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    crate::database::watch(
        database,
        readiness.component("database"),
        &mut registry,
        shutdown,
    );
    let router = routes.merge(health::router(readiness, Arc::new(registry)));
    let server = tokio::spawn(http::serve(listener, router, limits, shutdown.clone()));
    crate::database::prepare(database, shutdown).await?;
    Ok(server)
}
