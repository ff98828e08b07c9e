//! `agent-workflow`: run, list, resume and approve research runs; evaluate on HotpotQA.

use agent_workflow::cli::Cli;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    Cli::parse().run().await
}
