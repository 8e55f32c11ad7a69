//! `herald secrets rotate-key`: seal every stored secret again with the current key.
//!
//! The rotation runs online: start every process with the new `SECRETS_KEY` and the old one
//! as `SECRETS_KEY_PREVIOUS` (they seal with the new one and open with either), run this
//! command, then drop `SECRETS_KEY_PREVIOUS`. It works in batches, one transaction each,
//! skips what is already sealed with the new key, and may be stopped and run again.

use herald_runtime::args::{DatabaseArgs, SecretsArgs};
use herald_runtime::telemetry::{self, TelemetryArgs};
use herald_store::Database;
use herald_store::keys::{Rotation, rotate};

#[derive(Debug, clap::Args)]
pub struct SecretsCommand {
    #[command(subcommand)]
    action: SecretsAction,
}

#[derive(Debug, clap::Subcommand)]
enum SecretsAction {
    /// Seal every stored secret again with SECRETS_KEY, opening the old ones with
    /// SECRETS_KEY_PREVIOUS; safe to stop and run again.
    RotateKey {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        secrets: SecretsArgs,
        #[command(flatten)]
        telemetry: TelemetryArgs,
        /// Webhooks re-sealed per transaction.
        #[arg(long, default_value_t = 500)]
        batch: i64,
    },
}

pub async fn run(command: SecretsCommand) -> anyhow::Result<()> {
    let SecretsAction::RotateKey {
        database,
        secrets,
        telemetry,
        batch,
    } = command.action;
    let _telemetry = telemetry::init("herald-secrets", &telemetry)?;
    let keys = secrets.keyring()?;
    let database = Database::new(&database.config())?;
    database.prepare().await?;
    let report = |done: Rotation| {
        eprintln!(
            "… {} webhooks looked at, {} re-sealed",
            done.scanned, done.resealed
        );
    };
    let done = rotate(&database, &keys, batch, report).await?;
    eprintln!(
        "every stored secret is sealed with key {} ({} webhooks re-sealed of {}); SECRETS_KEY_PREVIOUS is no longer needed",
        keys.current().id(),
        done.resealed,
        done.scanned
    );
    Ok(())
}
