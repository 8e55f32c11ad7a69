//! The `herald` command.
//!
//! - `herald serve`: the management API.
//! - `herald up`: migrations, topology, API, fanout and sender in one process, for a single
//!   machine; generates and keeps an admin token and a secrets key on first run.
//! - `herald migrate`: database migrations.
//! - `herald publish`: publishes a domain event, for trying Herald out.
//! - `herald failed list|replay|purge`, `herald rejected list|purge`: the parked queues.
//! - `herald secrets rotate-key`: seal every stored secret again with a new `SECRETS_KEY`.
//! - `herald portal-url --tenant T`: a console link for one tenant.
//! - `herald status`: is anything stuck? Queues, the oldest waiting delivery, parked counts,
//!   failing webhooks.

pub mod commands;

use commands::{migrate, parked, portal, publish, secrets, serve, status, topology, up};

/// Herald: webhook delivery for the platform's domain events.
#[derive(Debug, clap::Parser)]
#[command(name = "herald", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Serve the management API.
    Serve(Box<serve::ServeArgs>),
    /// Run everything (migrations, topology, API, fanout, sender) in one process.
    Up(Box<up::UpArgs>),
    /// Apply database migrations.
    Migrate(migrate::MigrateArgs),
    /// Publish a domain event (JSON on stdin, or built from flags).
    Publish(publish::PublishArgs),
    /// Inspect, replay or purge deliveries that failed every attempt.
    Failed(parked::FailedArgs),
    /// Inspect or purge events and messages Herald rejected.
    Rejected(parked::RejectedArgs),
    /// Declare the broker topology, or print it as RabbitMQ definitions.
    Topology(topology::TopologyArgs),
    /// Rotate SECRETS_KEY: seal every stored secret again with the current key.
    Secrets(secrets::SecretsCommand),
    /// Print a console link for one tenant (a portal session minted through the API).
    PortalUrl(portal::PortalArgs),
    /// Is anything stuck? Queues, the oldest waiting delivery, parked counts, failing webhooks.
    Status(status::StatusArgs),
}

impl Cli {
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve(args) => serve::run(*args).await,
            Command::Up(args) => up::run(*args).await,
            Command::Migrate(args) => migrate::run(args).await,
            Command::Publish(args) => publish::run(args).await,
            Command::Failed(args) => parked::failed(args).await,
            Command::Rejected(args) => parked::rejected(args).await,
            Command::Topology(args) => topology::run(args).await,
            Command::Secrets(args) => secrets::run(args).await,
            Command::PortalUrl(args) => portal::run(args).await,
            Command::Status(args) => status::run(args).await,
        }
    }
}
