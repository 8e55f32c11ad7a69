//! `herald serve`

use herald_runtime::process::{HttpServer, serve_and_prepare};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use herald_api::{AdminToken, ApiState, Authenticator, SessionKeys};
use herald_broker::BrokerConfig;
use herald_delivery::{DeliveryArgs, DeliveryClient};
use herald_lifecycle::HealthPolicy;
use herald_lifecycle::announcer::Announcer;
use herald_lifecycle::status::StatusGauges;
use herald_runtime::args::{
    BrokerArgs, DatabaseArgs, RetentionArgs, SecretsArgs, WebhookHealthArgs,
};
use herald_runtime::http::HttpLimits;
use herald_runtime::secret::{Secret, value_or_file};
use herald_runtime::telemetry::{self, TelemetryArgs};
use herald_runtime::{Readiness, Registry, shutdown};
use herald_store::api_keys::ApiKeyStore;
use herald_store::attempts::AttemptLog;
use herald_store::{Database, HealthStore, Keyring, WebhookStore};
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
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub webhook_health: WebhookHealthArgs,
}

/// How often old attempts are looked for.
pub const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// Where the API listens and who may call it.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Address of the management API (and its health and metrics routes).
    #[arg(long, env = "HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// Bearer token every API call must present (at least 32 characters).
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,
    /// A file holding `ADMIN_TOKEN` (instead of the variable).
    #[arg(long, env = "ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Origins that may embed the console in a frame (space- or comma-separated, e.g.
    /// `https://app.example.com`); none by default.
    #[arg(long, env = "CONSOLE_FRAME_ANCESTORS", default_value = "")]
    pub console_frame_ancestors: herald_api::console::FrameAncestors,
    /// The base URL the API and console are reached at from browsers (default
    /// `http://<HTTP_ADDR>`): portal session URLs start with it.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub limits: HttpLimits,
}

impl HttpArgs {
    /// `PUBLIC_URL`, or the address the API is bound to.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
    }

    /// The configured admin token, if any.
    pub fn admin_token(&self) -> anyhow::Result<Option<Secret>> {
        value_or_file(
            "ADMIN_TOKEN",
            self.admin_token.as_ref(),
            self.admin_token_file.as_deref(),
        )
    }
}

/// What the API is configured with, besides its database and keys.
pub struct ApiConfig<'a> {
    pub delivery: &'a DeliveryArgs,
    pub http: &'a HttpArgs,
    /// The address the API is bound to.
    pub bound: SocketAddr,
    pub broker: BrokerConfig,
    pub policy: HealthPolicy,
}

/// The API's state on `database`.
pub fn api_state(
    database: &Database,
    key: Keyring,
    token: AdminToken,
    config: ApiConfig<'_>,
) -> anyhow::Result<ApiState> {
    let ApiConfig {
        delivery,
        http,
        bound,
        broker,
        policy,
    } = config;
    let api_keys = ApiKeyStore::new(database.clone());
    Ok(ApiState {
        broker,
        auth: Arc::new(Authenticator {
            admin: token,
            sessions: SessionKeys::from_keyring(&key),
            keys: api_keys.clone(),
        }),
        api_keys,
        public_url: http.public_url(bound),
        frame_ancestors: http.console_frame_ancestors.clone(),
        webhooks: WebhookStore::new(database.clone(), key),
        attempts: AttemptLog::new(database.clone()),
        client: DeliveryClient::new(delivery.settings())?,
        health: HealthStore::new(database.clone()),
        failing_after: policy.failing_after,
    })
}

/// Starts sampling the status gauges and announcing operational events (the API announces
/// the webhooks it disables, and stands in for senders that are all down).
pub fn start_lifecycle(
    gauges: StatusGauges,
    announcer: Announcer,
    broker: BrokerConfig,
    database: &Database,
    policy: HealthPolicy,
    shutdown: &tokio_util::sync::CancellationToken,
) {
    let health = HealthStore::new(database.clone());
    gauges.spawn(
        broker.clone(),
        health.clone(),
        policy.failing_after,
        shutdown,
    );
    let _announcer = announcer.spawn(health, broker, policy, shutdown);
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
            .admin_token()?
            .context("ADMIN_TOKEN is not set: `herald serve` refuses to start without it")?
            .expose(),
    )?;
    let key = args.secrets.keyring()?;
    let database = Database::new(&args.database.config())?;
    let shutdown = shutdown::on_signal();
    let readiness = Readiness::default();
    let mut registry = Registry::default();
    herald_runtime::broker::watch(
        args.broker.config(),
        readiness.component("broker"),
        &mut registry,
        &shutdown,
    );
    let gauges = StatusGauges::register(&mut registry, &args.broker.config());
    let announcer = Announcer::register(&mut registry);
    let policy = HealthPolicy::from(&args.webhook_health);
    let listener = bind(args.http.http_addr).await?;
    let api = herald_api::router(api_state(
        &database,
        key.clone(),
        token,
        ApiConfig {
            delivery: &args.delivery,
            http: &args.http,
            bound: listener.local_addr()?,
            broker: args.broker.config(),
            policy,
        },
    )?);
    let server = serve_and_prepare(
        HttpServer {
            listener,
            limits: args.http.limits.clone(),
            routes: api,
        },
        &database,
        Some(&key),
        readiness,
        registry,
        &shutdown,
    )
    .await?;
    AttemptLog::new(database.clone()).spawn_pruner(
        args.retention.attempt_retention,
        PRUNE_EVERY,
        shutdown.clone(),
    );
    start_lifecycle(
        gauges,
        announcer,
        args.broker.config(),
        &database,
        policy,
        &shutdown,
    );
    server.await??;
    tracing::info!("management API stopped");
    Ok(())
}
