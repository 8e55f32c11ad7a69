//! `herald serve`

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use herald_api::{AdminToken, ApiState};
use herald_broker::BrokerConfig;
use herald_runtime::args::{BrokerArgs, DatabaseArgs, SecretsArgs};
use herald_runtime::telemetry::{self, TelemetryArgs};
use herald_runtime::{Readiness, Registry, health, shutdown};
use herald_sender::{DeliveryArgs, DeliveryClient};
use herald_store::attempts::AttemptLog;
use herald_store::{Database, SecretsKey, WebhookStore};
use tokio::net::TcpListener;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub secrets: SecretsArgs,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Where the API listens and who may call it.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Address of the management API (and its health and metrics routes).
    #[arg(long, env = "HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// Bearer token every API call must present.
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

/// The API's state on `database`.
pub fn api_state(
    database: &Database,
    key: SecretsKey,
    delivery: &DeliveryArgs,
    token: AdminToken,
    broker: BrokerConfig,
) -> anyhow::Result<ApiState> {
    Ok(ApiState {
        broker,
        webhooks: WebhookStore::new(database.clone(), key),
        attempts: AttemptLog::new(database.clone()),
        client: DeliveryClient::new(delivery.settings())?,
        admin_token: Arc::new(token),
    })
}

/// Binds the API's address.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding HTTP_ADDR {addr}"))?;
    tracing::info!(http_addr = %listener.local_addr()?, "management API listening");
    Ok(listener)
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let _telemetry = telemetry::init("herald-api", &args.telemetry)?;
    let token = AdminToken::new(
        args.http
            .admin_token
            .clone()
            .context("ADMIN_TOKEN is not set: `herald serve` refuses to start without it")?,
    )?;
    let key = args.secrets.key()?;
    let database = Database::new(&args.database.config())?;
    let shutdown = shutdown::on_signal();
    let readiness = Readiness::default();
    let mut registry = Registry::default();
    herald_runtime::database::watch(
        &database,
        readiness.component("database"),
        &mut registry,
        &shutdown,
    );
    herald_runtime::broker::watch(
        args.broker.config(),
        readiness.component("broker"),
        &mut registry,
        &shutdown,
    );
    let router = herald_api::router(api_state(
        &database,
        key,
        &args.delivery,
        token,
        args.broker.config(),
    )?)
    .merge(health::router(readiness, Arc::new(registry)));
    let listener = bind(args.http.http_addr).await?;
    let server = tokio::spawn(health::serve(listener, router, shutdown.clone()));
    herald_runtime::database::prepare(&database, &shutdown).await?;
    server.await??;
    tracing::info!("management API stopped");
    Ok(())
}
