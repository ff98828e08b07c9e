use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    genai_telemetry::init(genai_telemetry::LogFormat::from_env());
    match tenant_kb::cli::run(tenant_kb::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
