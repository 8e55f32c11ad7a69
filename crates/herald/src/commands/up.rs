//! `herald up`: everything in one process, for a single machine.

use herald_runtime::args::{seal_key, seal_keys};
use herald_runtime::process::{HttpServer, serve_and_prepare};
use std::path::{Path, PathBuf};

use anyhow::Context;
use herald_api::AdminToken;
use herald_delivery::DeliveryArgs;
use herald_fanout::Fanout;
use herald_fanout::configuration::FanoutArgs;
use herald_fanout::metrics::FanoutMetrics;
use herald_lifecycle::HealthPolicy;
use herald_lifecycle::announcer::Announcer;
use herald_lifecycle::status::StatusGauges;
use herald_runtime::args::{
    BrokerArgs, DatabaseArgs, LifecycleArgs, RetentionArgs, SecretsArgs, WebhookHealthArgs,
};
use herald_runtime::telemetry::{self, TelemetryArgs};
use herald_runtime::{Readiness, Registry, shutdown};
use herald_sender::SenderArgs;
use herald_sender::startup::finish_writes;
use herald_store::attempts::AttemptLog;
use herald_store::{Database, Keyring, SecretsKey};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::serve::{self, HttpArgs};

#[derive(Debug, clap::Parser)]
#[command(name = "herald up")]
pub struct UpArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    secrets: SecretsArgs,
    #[command(flatten)]
    delivery: DeliveryArgs,
    #[command(flatten)]
    fanout: FanoutArgs,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    lifecycle: LifecycleArgs,
    #[command(flatten)]
    telemetry: TelemetryArgs,
    #[command(flatten)]
    http: HttpArgs,
    #[command(flatten)]
    retention: RetentionArgs,
    #[command(flatten)]
    webhook_health: WebhookHealthArgs,
    /// Where `up` keeps the admin token and secrets key it generates
    /// (default: `$XDG_DATA_HOME/herald`, else `~/.local/share/herald`).
    #[arg(long, env = "HERALD_STATE_DIR")]
    state_dir: Option<PathBuf>,
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let _telemetry = telemetry::init("herald", &args.telemetry)?;
    let listener = serve::bind(args.http.http_addr).await?;
    start(args, listener, shutdown::on_signal()).await
}

/// Runs everything until `shutdown`, serving the API, health and metrics on `listener`.
pub async fn start(
    args: UpArgs,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let state_dir = args.state_dir.clone().unwrap_or_else(default_state_dir);
    let key_text = match args.secrets.configured()? {
        Some(key) => key.expose().to_owned(),
        None => load_or_create(&state_dir.join("secrets-key"), SecretsKey::generate_base64)?.value,
    };
    let key = Keyring::new(
        SecretsKey::from_base64(&key_text)?,
        args.secrets.previous()?,
    );
    let token = match args.http.admin_token()? {
        Some(token) => Kept {
            value: token.expose().to_owned(),
            generated: false,
        },
        None => load_or_create(&state_dir.join("admin-token"), || {
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
        })?,
    };
    let admin_token = AdminToken::new(&token.value)?;

    let drain = args.lifecycle.drain_timeout;
    let broker = args.broker.config();
    let database = Database::new(&args.database.config())?;
    let mut registry = Registry::default();
    let readiness = Readiness::default();
    let gauges = StatusGauges::register(&mut registry, &broker);
    let announcer = Announcer::register(&mut registry);
    let policy = HealthPolicy::from(&args.webhook_health);
    let fanout = Fanout::new(
        broker.clone(),
        args.fanout.settings(drain, seal_key(key.current())),
        database.clone(),
        FanoutMetrics::register(&mut registry),
        readiness.component("fanout broker session"),
    );
    let sender = herald_sender::startup::build(
        broker.clone(),
        args.delivery.settings(),
        args.sender.settings(drain, seal_keys(&key)),
        database.clone(),
        key.clone(),
        &mut registry,
        &readiness,
    )?;
    let api = serve::api_state(
        &database,
        key.clone(),
        admin_token,
        serve::ApiConfig {
            delivery: &args.delivery,
            http: &args.http,
            bound: listener.local_addr()?,
            broker: args.broker.config(),
            policy,
        },
    )?;
    announce(&listener.local_addr()?.to_string(), &token, &state_dir);
    let server = serve_and_prepare(
        HttpServer {
            listener,
            limits: args.http.limits.clone(),
            routes: herald_api::router(api),
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
        serve::PRUNE_EVERY,
        shutdown.clone(),
    );
    serve::start_lifecycle(gauges, announcer, broker, &database, policy, &shutdown);
    tokio::join!(
        fanout.run(shutdown.clone()),
        sender.sender.run(shutdown.clone())
    );
    finish_writes(sender.attempt_writer, drain).await;
    server.await??;
    tracing::info!("herald stopped");
    Ok(())
}

/// Tells the newcomer where the API is, and the admin token only when `up` just made it: a
/// token the operator configured, or one kept from an earlier run, is never printed.
#[allow(clippy::print_stdout)]
fn announce(http_addr: &str, token: &Kept, state_dir: &Path) {
    println!("Herald is up: API on http://{http_addr}");
    if token.generated {
        println!("ADMIN_TOKEN={}", token.value);
    }
    println!("(generated secrets are kept in {})", state_dir.display());
}

/// A secret `up` keeps in its state directory.
struct Kept {
    value: String,
    /// Made by this run (rather than read back or configured).
    generated: bool,
}

pub(crate) fn default_state_dir() -> PathBuf {
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(data).join("herald");
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/herald"),
        None => PathBuf::from(".herald"),
    }
}

/// Reads the secret kept at `path`, or generates one and keeps it there (readable by the
/// owner only).
fn load_or_create(path: &Path, generate: impl FnOnce() -> String) -> anyhow::Result<Kept> {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => {
            return Ok(Kept {
                value: text.trim().to_owned(),
                generated: false,
            });
        }
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    }
    let value = generate();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    write_private(path, &value).with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated and stored a new secret");
    Ok(Kept {
        value,
        generated: true,
    })
}

#[cfg(unix)]
fn write_private(path: &Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(value.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, value: &str) -> std::io::Result<()> {
    std::fs::write(path, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_is_kept_and_read_back() {
        let dir =
            std::env::temp_dir().join(format!("herald-up-test-{}", uuid::Uuid::new_v4().simple()));
        let path = dir.join("secrets-key");
        let first = load_or_create(&path, || "first".into()).expect("created");
        let second = load_or_create(&path, || "second".into()).expect("read back");
        assert_eq!((first.value.as_str(), first.generated), ("first", true));
        assert_eq!((second.value.as_str(), second.generated), ("first", false));
        let _ = std::fs::remove_dir_all(dir);
    }
}
