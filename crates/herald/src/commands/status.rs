//! `herald status`

use anyhow::Context;
use herald_broker::connect;
use herald_runtime::args::{BrokerArgs, DatabaseArgs, WebhookHealthArgs};
use herald_store::{Database, HealthStore};

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    webhook_health: WebhookHealthArgs,
    /// Print the report as JSON (the shape of `GET /v1/status`) instead of a table.
    #[arg(long)]
    json: bool,
}

#[allow(clippy::print_stdout)]
pub async fn run(args: StatusArgs) -> anyhow::Result<()> {
    let broker = args.broker.config();
    let connection = connect(&broker, "herald status")
        .await
        .context("connecting to the broker")?;
    let database = Database::new(&args.database.config())?;
    let report = herald_lifecycle::gather(
        &connection,
        &broker,
        &HealthStore::new(database),
        args.webhook_health.failing_after,
    )
    .await
    .context("gathering the status")?;
    let _ = connection.close(200, "done".into()).await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", herald_lifecycle::render(&report));
    }
    Ok(())
}
