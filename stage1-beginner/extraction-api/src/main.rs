//! `extraction-api`: see `extraction-api --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    genai_telemetry::init(genai_telemetry::LogFormat::from_env());
    extraction_api::cli::run(extraction_api::cli::Cli::parse()).await
}
