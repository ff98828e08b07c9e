//! `doc-qa`: see `doc-qa --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    genai_telemetry::init(genai_telemetry::LogFormat::from_env());
    doc_qa::cli::run(doc_qa::cli::Cli::parse()).await
}
