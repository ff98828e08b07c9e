//! The showcase: one HTTP server that mounts every milestone of the roadmap, offline by default.
//!
//! Milestones mount their own `Router` under a prefix as they land (`/doc-qa`, `/extract`,
//! `/chat`, ...). Until then the landing page lists what exists and what is planned, and
//! `/healthz` reports liveness for orchestrators.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;

/// One milestone as the landing page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Milestone {
    pub stage: &'static str,
    pub name: &'static str,
    pub crate_name: &'static str,
    /// Where it is mounted, once it is.
    pub path: Option<&'static str>,
    /// Built as a library with no page of its own (the retrieval core): shown as built, not
    /// planned, with where to read about it.
    pub library: Option<&'static str>,
    pub summary: &'static str,
}

/// The roadmap, in order. `path` is set when a milestone's router is mounted.
pub fn milestones() -> Vec<Milestone> {
    let m =
        |stage, name, crate_name, summary| Milestone { stage, name, crate_name, path: None, library: None, summary };
    vec![
        Milestone {
            library: Some(
                "built: the library under every milestone; run <code>cargo run -p genai-eval -- --help</code>",
            ),
            ..m(
                "foundation",
                "Retrieval core",
                "genai-retrieval",
                "Ingest, embed, index (Qdrant Edge + tantivy, or a Qdrant server), dense/BM25/hybrid search, learned reranking, evaluated on BEIR SciFact and HotpotQA.",
            )
        },
        m(
            "1 beginner",
            "Document Q&A",
            "doc-qa",
            "Questions over a folder of PDFs with citations to file and page, refusal when the documents do not say.",
        ),
        m(
            "1 beginner",
            "Structured extraction API",
            "extraction-api",
            "Entities from unstructured text, schema-validated, clear 4xx on malformed input.",
        ),
        m(
            "1 beginner",
            "Chatbot with memory",
            "chatbot",
            "Five-plus turns of context with overflow handled, sessions that survive restarts.",
        ),
        m(
            "2 intermediate",
            "Production RAG service",
            "production-rag",
            "Hybrid search, reranking, caching, streaming, tracing, continuous evaluation.",
        ),
        m(
            "2 intermediate",
            "Multi-agent workflow",
            "agent-workflow",
            "Specialised agents, persisted state, error recovery, human in the loop.",
        ),
        m(
            "2 intermediate",
            "Cost-optimised pipeline",
            "cost-optimizer",
            "Half the cost of a baseline at equal measured quality: routers and a cascade trained on recorded answers, an OpenAI-compatible gateway with budgets.",
        ),
        m(
            "3 senior",
            "Multi-tenant knowledge base",
            "tenant-kb",
            "Tenants, users and keys; an access policy compiled into every search; sealed text, erasure by key destruction, a hash-chained audit log.",
        ),
    ]
}

/// Shared state of the showcase: the milestone list and each mounted milestone's service.
#[derive(Debug, Clone)]
pub struct AppState {
    pub milestones: Arc<Vec<Milestone>>,
    /// Document Q&A, mounted at `/doc-qa` when present.
    pub doc_qa: Option<doc_qa::DocQa>,
    /// The chatbot, mounted at `/chat` when present.
    pub chatbot: Option<chatbot::Chatbot>,
    /// The extraction API, mounted at `/extract` when present.
    pub extraction: Option<extraction_api::Extractor>,
    /// The production RAG service, mounted at `/rag` when present.
    pub rag: Option<production_rag::Rag>,
    /// The cost-optimised pipeline's page and gateway, mounted at `/cost` when present.
    pub cost: Option<cost_optimizer::gateway::page::Site>,
    /// The multi-agent workflow, mounted at `/agents` when present.
    pub agents: Option<agent_workflow::Service>,
    /// The multi-tenant knowledge base, mounted at `/kb` when present.
    pub kb: Option<tenant_kb::Kb>,
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            milestones: Arc::new(milestones()),
            doc_qa: None,
            chatbot: None,
            extraction: None,
            rag: None,
            cost: None,
            agents: None,
            kb: None,
        }
    }
}

impl AppState {
    /// The state with document Q&A mounted.
    pub fn with_doc_qa(mut self, qa: doc_qa::DocQa) -> Self {
        self.mounted("doc-qa", "/doc-qa");
        self.doc_qa = Some(qa);
        self
    }

    /// The state with the chatbot mounted.
    pub fn with_chatbot(mut self, bot: chatbot::Chatbot) -> Self {
        self.mounted("chatbot", "/chat");
        self.chatbot = Some(bot);
        self
    }

    /// The state with the extraction API mounted.
    pub fn with_extraction(mut self, ex: extraction_api::Extractor) -> Self {
        self.mounted("extraction-api", "/extract");
        self.extraction = Some(ex);
        self
    }

    /// The state with the production RAG service mounted.
    pub fn with_rag(mut self, rag: production_rag::Rag) -> Self {
        self.mounted("production-rag", "/rag");
        self.rag = Some(rag);
        self
    }

    /// The state with the cost-optimised pipeline's page (and its gateway, if configured) mounted.
    pub fn with_cost(mut self, site: cost_optimizer::gateway::page::Site) -> Self {
        self.mounted("cost-optimizer", "/cost");
        self.cost = Some(site);
        self
    }

    /// The state with the multi-agent workflow mounted.
    pub fn with_agents(mut self, service: agent_workflow::Service) -> Self {
        self.mounted("agent-workflow", "/agents");
        self.agents = Some(service);
        self
    }

    /// The state with the multi-tenant knowledge base mounted.
    pub fn with_kb(mut self, kb: tenant_kb::Kb) -> Self {
        self.mounted("tenant-kb", "/kb");
        self.kb = Some(kb);
        self
    }

    fn mounted(&mut self, crate_name: &str, path: &'static str) {
        let mut list = self.milestones.as_ref().clone();
        if let Some(m) = list.iter_mut().find(|m| m.crate_name == crate_name) {
            m.path = Some(path);
        }
        self.milestones = Arc::new(list);
    }
}

/// The showcase's routes, with every mounted milestone nested under its path.
pub fn router(state: AppState) -> Router {
    let mut app = Router::new()
        .route("/", get(landing))
        .route("/healthz", get(healthz))
        .route("/api/milestones", get(list))
        .route("/metrics", get(metrics))
        .with_state(state.clone());
    if let Some(qa) = state.doc_qa {
        app = app.nest("/doc-qa", doc_qa::router(qa));
    }
    if let Some(bot) = state.chatbot {
        app = app.nest("/chat", chatbot::router(bot));
    }
    if let Some(ex) = state.extraction {
        app = app.nest("/extract", extraction_api::api::router(ex));
    }
    if let Some(rag) = state.rag {
        app = app.nest("/rag", production_rag::router(rag));
    }
    if let Some(site) = state.cost {
        app = app.nest("/cost", cost_optimizer::gateway::page::router(site));
    }
    if let Some(service) = state.agents {
        app = app.nest("/agents", agent_workflow::router(service));
    }
    if let Some(kb) = state.kb {
        app = app.nest("/kb", tenant_kb::api::router(kb));
    }
    app
}

/// Opens the chatbot with its usual configuration (`chatbot.toml`, `CHATBOT_DATA_DIR`; data in
/// `data/chatbot`).
pub async fn open_chatbot() -> anyhow::Result<chatbot::Chatbot> {
    Ok(chatbot::Chatbot::open(chatbot::Config::load(None)?).await?)
}

/// The extraction API with its usual configuration (`extraction-api.toml`, `EXTRACT_*`) and
/// the llm engine when `OPENAI_BASE_URL`/`OPENAI_API_KEY` are set.
pub async fn open_extraction() -> anyhow::Result<extraction_api::Extractor> {
    Ok(extraction_api::Extractor::open(extraction_api::Config::load(None)?).await?)
}

/// Opens document Q&A with its usual configuration (`doc-qa.toml`, `DOC_QA_*`; data in
/// `data/doc-qa`) and, on first start, ingests the demo corpus (the project's ADRs and book).
pub async fn open_doc_qa() -> anyhow::Result<doc_qa::DocQa> {
    let config = doc_qa::Config::load(None)?;
    let qa = doc_qa::DocQa::open(config).await?;
    let reports = doc_qa::demo::ingest_if_empty(&qa).await;
    if !reports.is_empty() {
        let indexed = reports.iter().filter(|r| matches!(r, doc_qa::FileReport::Indexed { .. })).count();
        tracing::info!(indexed, files = reports.len(), "demo corpus ingested; try /doc-qa");
    }
    Ok(qa)
}

/// Opens the production RAG service with its usual configuration (`production-rag.toml`,
/// `PRODUCTION_RAG_*`; data in `data/production-rag`) and, on first start, ingests the demo
/// corpus (the project's book and decision records).
pub async fn open_rag() -> anyhow::Result<production_rag::Rag> {
    let rag = production_rag::Rag::open(production_rag::Config::load(None)?).await?;
    let job = production_rag::demo::ingest_if_empty(&rag).await;
    if let Some(job) = job {
        tracing::info!(indexed = job.indexed, files = job.total, "demo corpus ingested; try /rag");
    }
    Ok(rag)
}

/// The cost page with the gateway its usual configuration describes (`cost-gateway.toml`,
/// `COST_GATEWAY_*`, or `OPENAI_BASE_URL`). With no upstream configured the page still shows the
/// evaluation's results, and says what the gateway needs; a configuration that is present but
/// wrong is an error.
pub fn open_cost() -> anyhow::Result<cost_optimizer::gateway::page::Site> {
    use cost_optimizer::gateway::{Gateway, GatewayConfig, SetupError, config::LAYERS};
    let config: GatewayConfig = LAYERS.load(None)?;
    let report_dir = config.report_dir.clone();
    match Gateway::new(config) {
        Ok(gateway) => Ok(cost_optimizer::gateway::page::Site { gateway: Some(gateway), report_dir, setup: None }),
        Err(e @ SetupError::NoUpstream) => {
            tracing::info!("the cost gateway has no upstream; /cost shows the evaluation only");
            Ok(cost_optimizer::gateway::page::Site { gateway: None, report_dir, setup: Some(e.to_string()) })
        }
        Err(e) => Err(e.into()),
    }
}

/// Opens the multi-agent workflow over its demo corpus (written to `data/agents/demo`), with its
/// journal in `data/agents/runs.db` (or PostgreSQL when `DATABASE_URL` is set) and reports
/// published to `data/agents/reports`. Runs a previous showcase left mid-way are driven again.
pub async fn open_agents() -> anyhow::Result<agent_workflow::Service> {
    let dir =
        std::path::PathBuf::from(std::env::var("AGENT_WORKFLOW_DATA_DIR").unwrap_or_else(|_| "data/agents".into()));
    let corpus = agent_workflow::service::write_demo_corpus(&dir.join("demo"))?;
    let journal: Arc<dyn genai_agent::Journal> = match std::env::var("DATABASE_URL") {
        Ok(url) => Arc::new(genai_agent::PostgresJournal::connect(&url).await?),
        Err(_) => Arc::new(genai_agent::SqliteJournal::open(&dir.join("runs.db")).await?),
    };
    agent_workflow::Service::open(journal, &corpus, Some(dir.join("reports"))).await
}

/// Opens the multi-tenant knowledge base with its usual configuration (`tenant-kb.toml`,
/// `TENANT_KB_*`; data in `data/tenant-kb`) and creates its demo tenants, users and documents,
/// so `/kb` offers demo users to sign in as.
pub async fn open_kb() -> anyhow::Result<tenant_kb::Kb> {
    let config: tenant_kb::Config = tenant_kb::config::LAYERS.load(None)?;
    let kb = tenant_kb::Kb::open(config).await?;
    tenant_kb::demo::seed(&kb).await?;
    // Ingest workers for POST /kb/v1/jobs; they live as long as the runtime.
    drop(kb.start_workers());
    Ok(kb)
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let bot = state.chatbot.clone();
    let result = axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await;
    if let Some(bot) = bot {
        bot.close().await;
    }
    result
}

async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], genai_telemetry::render_metrics())
}

async fn list(State(state): State<AppState>) -> impl IntoResponse {
    axum::Json(state.milestones.as_ref().clone())
}

async fn landing(State(state): State<AppState>) -> impl IntoResponse {
    let rows: String = state
        .milestones
        .iter()
        .map(|m| {
            let status = match (m.path, m.library) {
                (Some(p), _) => format!(r#"<a href="{p}">open</a>"#),
                // A fixed string of ours, HTML on purpose.
                (None, Some(library)) => library.to_owned(),
                (None, None) => "planned".to_owned(),
            };
            format!(
                "<tr><td>{}</td><td><b>{}</b><br><small>{}</small></td><td><code>{}</code></td><td>{status}</td></tr>",
                escape(m.stage),
                escape(m.name),
                escape(m.summary),
                escape(m.crate_name)
            )
        })
        .collect();
    let page = include_str!("landing.html").replace("{{rows}}", &rows);
    ([(header::CACHE_CONTROL, "no-cache")], Html(page))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
