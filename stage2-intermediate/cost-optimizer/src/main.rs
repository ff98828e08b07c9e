//! `cost-optimizer`: see `cost-optimizer --help`.

use clap::Parser;
use cost_optimizer::cli::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    genai_telemetry::init(genai_telemetry::LogFormat::from_env());
    match Cli::parse().command {
        Command::Eval(args) => cost_optimizer::cli::eval(args).await,
        Command::Serve(args) => cost_optimizer::gateway::command::run(args).await,
        Command::Replay(args) => cost_optimizer::gateway::command::replay(args).await,
        Command::RagLevers(args) => cost_optimizer::cli::rag_levers(args).await,
    }
}
