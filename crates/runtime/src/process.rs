//! What every Herald process does around its work: serve health, readiness and metrics (and
//! any other routes) on its listener, watch the database, and bring it up to date.

use std::sync::Arc;

use axum::Router;
use herald_store::{Database, Keyring};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::health::{self, Readiness};
use crate::http::{self, HttpLimits};

/// Where a process serves HTTP, and what besides health and metrics.
pub struct HttpServer {
    pub listener: TcpListener,
    pub limits: HttpLimits,
    pub routes: Router,
}

/// Serves `routes` plus `/healthz`, `/readyz` and `/metrics` on `listener` within `limits`
/// until `shutdown`,
/// registers the database in `readiness` and `registry`, then creates and migrates the
/// database and checks `key` against it (waiting for it as long as it takes, or until
/// `shutdown`; see [`crate::database::prepare`]). Returns the server, to
/// await once the process's work is done.
pub async fn serve_and_prepare(
    server: HttpServer,
    database: &Database,
    key: Option<&Keyring>,
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
    let router = server
        .routes
        .merge(health::router(readiness, Arc::new(registry)));
    let server = tokio::spawn(http::serve(
        server.listener,
        router,
        server.limits,
        shutdown.clone(),
    ));
    crate::database::prepare(database, key, shutdown).await?;
    Ok(server)
}
