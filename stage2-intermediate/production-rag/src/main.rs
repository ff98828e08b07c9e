//! `production-rag`: see `production-rag --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    genai_telemetry::init(genai_telemetry::LogFormat::from_env());
    production_rag::cli::run(production_rag::cli::Cli::parse()).await
}
