//! `herald topology`: the broker topology, declared or printed.

use herald_broker::{connect, topology};
use herald_runtime::args::BrokerArgs;

#[derive(Debug, clap::Args)]
pub struct TopologyArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    #[command(subcommand)]
    action: TopologyAction,
}

#[derive(Debug, clap::Subcommand)]
enum TopologyAction {
    /// Declare the exchange and queues now (the services also do at start).
    Declare,
    /// Print the topology as a RabbitMQ definitions document.
    Definitions {
        /// The vhost the definitions are for.
        #[arg(long, default_value = "/")]
        vhost: String,
    },
}

#[allow(clippy::print_stdout)]
pub async fn run(args: TopologyArgs) -> anyhow::Result<()> {
    let config = args.broker.config();
    match args.action {
        TopologyAction::Declare => {
            let connection = connect(&config, "herald topology").await?;
            let channel = connection.create_channel().await?;
            topology::declare(&channel, &config).await?;
            let _ = connection.close(200, "declared".into()).await;
            eprintln!(
                "declared {} and {} queues",
                config.topology.events_exchange(),
                topology::queue_specs(&config).len()
            );
        }
        TopologyAction::Definitions { vhost } => {
            println!(
                "{}",
                serde_json::to_string_pretty(&topology::definitions(&config, &vhost))?
            );
        }
    }
    Ok(())
}
