//! `genai-roadmap`: the showcase server. Configuration: `--addr` or `GENAI_ADDR`
//! (default 127.0.0.1:8080), `RUST_LOG`, `LOG_FORMAT=json`; each milestone reads its own
//! settings (document Q&A: `doc-qa.toml`, `DOC_QA_*`; chatbot: `chatbot.toml`, `CHATBOT_DATA_DIR`;
//! extraction: `extraction-api.toml`, `EXTRACT_*`; production RAG: `production-rag.toml`,
//! `PRODUCTION_RAG_*`; the cost gateway: `cost-gateway.toml`, `COST_GATEWAY_*`; the agent workflow:
//! `AGENT_WORKFLOW_DATA_DIR`, `DATABASE_URL` for a PostgreSQL journal; the knowledge base:
//! `tenant-kb.toml`, `TENANT_KB_*`).

use anyhow::Context;
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "genai-roadmap",
    version,
    about = "Serve every milestone of the GenAI roadmap from one offline server."
)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "GENAI_ADDR", default_value = "127.0.0.1:8080")]
    addr: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    genai_telemetry::init(genai_telemetry::LogFormat::from_env());
    let cli = Cli::parse();
    // Traces of /rag queries go to a collector when OTEL_EXPORTER_OTLP_ENDPOINT names one.
    genai_telemetry::otel::init_from_env("genai-roadmap")?;
    let listener = tokio::net::TcpListener::bind(&cli.addr).await.with_context(|| format!("binding {}", cli.addr))?;
    let state = genai_roadmap::AppState::default()
        .with_doc_qa(genai_roadmap::open_doc_qa().await?)
        .with_chatbot(genai_roadmap::open_chatbot().await?)
        .with_extraction(genai_roadmap::open_extraction().await?)
        .with_rag(genai_roadmap::open_rag().await?)
        .with_cost(genai_roadmap::open_cost()?)
        .with_agents(genai_roadmap::open_agents().await?)
        .with_kb(genai_roadmap::open_kb().await?);
    tracing::info!(addr = %listener.local_addr()?, "showcase listening; open http://{}/", listener.local_addr()?);
    genai_roadmap::serve(listener, state, genai_http::shutdown_signal()).await?;
    tokio::task::spawn_blocking(genai_telemetry::otel::shutdown).await?;
    tracing::info!("shut down cleanly");
    Ok(())
}
