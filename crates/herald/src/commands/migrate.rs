//! `herald migrate`

use anyhow::Context;
use herald_runtime::args::DatabaseArgs;
use herald_runtime::telemetry::{self, TelemetryArgs};
use herald_store::Database;

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    telemetry: TelemetryArgs,
}

pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let _telemetry = telemetry::init("herald-migrate", &args.telemetry)?;
    let database = Database::new(&args.database.config())?;
    database.prepare().await.context("migrating the database")?;
    tracing::info!("database is up to date");
    Ok(())
}
