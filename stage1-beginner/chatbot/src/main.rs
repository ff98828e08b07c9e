//! `chatbot`: see `chatbot --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    genai_telemetry::init(genai_telemetry::LogFormat::from_env());
    chatbot::cli::run(chatbot::cli::Cli::parse()).await
}
