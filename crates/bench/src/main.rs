use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    herald_bench::run::run(herald_bench::run::Args::parse()).await
}
