use clap::Parser;
use herald::Cli;

#[tokio::main]
async fn main() {
    herald_runtime::exit_on_error(Cli::parse().run().await);
}
