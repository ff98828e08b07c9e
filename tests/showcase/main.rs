//! End-to-end tests of the showcase binary's library: a real server on port 0.

use genai_roadmap::{AppState, serve};

async fn start(
    state: AppState,
) -> (String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(serve(listener, state, async {
        let _ = rx.await;
    }));
    (base, tx, handle)
}

#[tokio::test]
async fn landing_page_health_and_graceful_shutdown() {
    let (base, stop, handle) = start(AppState::default()).await;
    let health: serde_json::Value = reqwest::get(format!("{base}/healthz")).await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let page = reqwest::get(&base).await.unwrap().text().await.unwrap();
    assert!(page.contains("Document Q&amp;A") && page.contains("genai-retrieval"), "{page}");
    let retrieval_row = page.split("<tr>").find(|row| row.contains("genai-retrieval")).unwrap();
    assert!(retrieval_row.contains("built") && !retrieval_row.contains("planned"), "{retrieval_row}");
    let cost_row = page.split("<tr>").find(|row| row.contains("cost-optimizer")).unwrap();
    assert!(cost_row.contains("planned"), "not mounted in the bare state: {cost_row}");
    let list: Vec<serde_json::Value> =
        reqwest::get(format!("{base}/api/milestones")).await.unwrap().json().await.unwrap();
    assert_eq!(list.len(), 8);
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_cost_page_is_mounted_without_a_gateway_when_no_upstream_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let site = cost_optimizer::gateway::page::Site {
        gateway: None,
        report_dir: dir.path().to_owned(),
        setup: Some("x".into()),
    };
    let (base, stop, handle) = start(AppState::default().with_cost(site)).await;
    let landing = reqwest::get(&base).await.unwrap().text().await.unwrap();
    assert!(landing.contains(r#"<a href="/cost">open</a>"#), "{landing}");
    let page = reqwest::get(format!("{base}/cost")).await.unwrap().text().await.unwrap();
    assert!(page.contains("Cost-optimised pipeline") && page.contains("location.pathname"));
    let report: serde_json::Value =
        reqwest::get(format!("{base}/cost/api/report")).await.unwrap().json().await.unwrap();
    assert_eq!(report["found"], false, "no report in an empty folder: the page says how to make one");
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn doc_qa_is_mounted_and_the_demo_corpus_answers_questions_about_the_project() {
    let dir = tempfile::tempdir().unwrap();
    let config = doc_qa::Config {
        data_dir: dir.path().to_owned(),
        answerer: doc_qa::AnswererChoice::Extractive,
        ..Default::default()
    };
    let qa = doc_qa::DocQa::open(config).await.unwrap();
    let reports = doc_qa::demo::ingest_if_empty(&qa).await;
    assert!(reports.iter().all(|r| matches!(r, doc_qa::FileReport::Indexed { .. })), "{reports:?}");
    assert!(reports.iter().any(|r| r.file().ends_with(".pdf")), "ADRs are also ingested as PDFs");
    let (base, stop, handle) = start(AppState::default().with_doc_qa(qa)).await;
    let page = reqwest::get(format!("{base}/doc-qa")).await.unwrap().text().await.unwrap();
    assert!(page.contains("Document Q&amp;A"));
    let landing = reqwest::get(&base).await.unwrap().text().await.unwrap();
    assert!(landing.contains(r#"<a href="/doc-qa">open</a>"#));
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/doc-qa/api/ask"))
        .json(&serde_json::json!({"question": "Why does the keyword search use tantivy instead of Qdrant sparse vectors?"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["refused"], false, "{answer}");
    assert!(answer["citations"][0]["source"].as_str().unwrap().contains("adr/"), "{answer}");
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_chatbot_is_mounted_at_chat_and_remembers_within_a_session() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        chatbot::Config { data_dir: dir.path().to_owned(), responder: chatbot::Engine::Offline, ..Default::default() };
    let bot = chatbot::Chatbot::open_with(config, None).await.unwrap();
    let (base, stop, handle) = start(AppState::default().with_chatbot(bot)).await;
    let page = reqwest::get(format!("{base}/chat")).await.unwrap().text().await.unwrap();
    assert!(page.contains("location.pathname"), "the page finds its API relative to where it is mounted");
    let landing = reqwest::get(&base).await.unwrap().text().await.unwrap();
    assert!(landing.contains(r#"<a href="/chat">open</a>"#));
    let client = reqwest::Client::new();
    let created: serde_json::Value =
        client.post(format!("{base}/chat/v1/sessions")).send().await.unwrap().json().await.unwrap();
    let url = format!("{base}/chat/v1/sessions/{}/messages", created["id"].as_str().unwrap());
    for text in ["The demo runs on port 8080.", "Where does the demo run?"] {
        let r = client.post(&url).json(&serde_json::json!({ "content": text })).send().await.unwrap();
        assert_eq!(r.status(), 200, "{text}");
        let body: serde_json::Value = r.json().await.unwrap();
        if text.ends_with('?') {
            assert!(body["reply"].as_str().unwrap().contains("8080"), "{body}");
        }
    }
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_extraction_api_is_mounted_at_extract_and_works_offline() {
    let ex = extraction_api::Extractor::new(extraction_api::Config::default(), None);
    let (base, stop, handle) = start(AppState::default().with_extraction(ex)).await;
    let page = reqwest::get(format!("{base}/extract")).await.unwrap().text().await.unwrap();
    assert!(page.contains("location.pathname"), "the docs page finds its API relative to where it is mounted");
    let landing = reqwest::get(&base).await.unwrap().text().await.unwrap();
    assert!(landing.contains(r#"<a href="/extract">open</a>"#));
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/extract/v1/extract"))
        .json(&serde_json::json!({"text": "Write to ada@example.org", "schema": "contact"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["emails"], serde_json::json!(["ada@example.org"]), "{body}");
    assert_eq!(body["engine"], "offline");
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn production_rag_is_mounted_at_rag_and_answers_from_the_demo_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let config = production_rag::Config { data_dir: dir.path().to_owned(), ..Default::default() };
    let rag = production_rag::Rag::open(config).await.unwrap();
    let job = production_rag::demo::ingest_if_empty(&rag).await.expect("an empty service ingests the demo");
    assert_eq!(job.indexed, job.total, "{job:?}");
    let (base, stop, handle) = start(AppState::default().with_rag(rag)).await;
    let page = reqwest::get(format!("{base}/rag")).await.unwrap().text().await.unwrap();
    assert!(page.contains("location.pathname"), "the page finds its API relative to where it is mounted");
    let landing = reqwest::get(&base).await.unwrap().text().await.unwrap();
    assert!(landing.contains(r#"<a href="/rag">open</a>"#));
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/rag/v1/query"))
        .json(&serde_json::json!({"query": "Why does the keyword search use tantivy instead of Qdrant sparse vectors?",
            "filters": {"category": ["decision"]}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["refused"], false, "{answer}");
    assert!(answer["citations"][0]["source"].as_str().unwrap().starts_with("adr/"), "{answer}");
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_agent_workflow_is_mounted_at_agents_and_runs_the_demo_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = agent_workflow::service::write_demo_corpus(&dir.path().join("demo")).unwrap();
    let journal = std::sync::Arc::new(genai_agent::SqliteJournal::open(&dir.path().join("runs.db")).await.unwrap());
    let service = agent_workflow::Service::open(journal, &corpus, None).await.unwrap();
    let (base, stop, handle) = start(AppState::default().with_agents(service)).await;
    let landing = reqwest::get(&base).await.unwrap().text().await.unwrap();
    assert!(landing.contains(r#"<a href="/agents">open</a>"#), "{landing}");
    let page = reqwest::get(format!("{base}/agents")).await.unwrap().text().await.unwrap();
    assert!(page.contains("Multi-agent workflow"));
    let http = reqwest::Client::new();
    let started: serde_json::Value = http
        .post(format!("{base}/agents/api/runs"))
        .json(&serde_json::json!({"question": "Who was born first, Ada Lovelace or Grace Hopper?"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = started["id"].as_str().unwrap();
    let view = genai_testkit::browser::wait_for("the run to finish", || async {
        let v: serde_json::Value =
            reqwest::get(format!("{base}/agents/api/runs/{id}")).await.ok()?.json().await.ok()?;
        (v["status"] == "finished").then_some(v)
    })
    .await;
    assert_eq!(view["state"]["draft"]["answer"], "Ada Lovelace");
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_knowledge_base_is_mounted_at_kb_with_its_demo_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let config = tenant_kb::Config { data_dir: dir.path().to_owned(), ..tenant_kb::Config::default() };
    let kb = tenant_kb::Kb::open(config).await.unwrap();
    let keys = tenant_kb::demo::seed(&kb).await.unwrap();
    let (base, stop, handle) = start(AppState::default().with_kb(kb)).await;
    let landing = reqwest::get(&base).await.unwrap().text().await.unwrap();
    assert!(landing.contains(r#"<a href="/kb">open</a>"#), "{landing}");
    let page = reqwest::get(format!("{base}/kb")).await.unwrap().text().await.unwrap();
    assert!(page.contains("Tenant knowledge base") && page.contains("location.pathname"));
    let users: Vec<serde_json::Value> =
        reqwest::get(format!("{base}/kb/demo-users")).await.unwrap().json().await.unwrap();
    assert_eq!(users.len(), keys.len());
    let alice = &keys.iter().find(|(u, _)| u == "acme/alice").unwrap().1;
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/kb/v1/ask"))
        .bearer_auth(alice)
        .json(&serde_json::json!({"question": "Where does the billing system run?"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer["answer"].as_str().unwrap().contains("Frankfurt"), "{answer}");
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
}
