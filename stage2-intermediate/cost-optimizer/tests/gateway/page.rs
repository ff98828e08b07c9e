//! The `/cost` page: its API without and with a gateway, and the page itself in a real headless
//! Chromium (when `CHROMEDRIVER` is set; see `genai_testkit::browser`): the evaluation's table
//! and plot, a prompt sent through the gateway, and the live spend it adds.

use crate::Rig;
use cost_optimizer::gateway::page::{Site, router};
use fantoccini::Locator;
use genai_testkit::browser::{Browser, wait_for};
use serde_json::{Value, json};

/// A report directory as `eval --out` writes it, for one made-up task.
fn report_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let interval = |m: f64| json!({"mean": m, "low": m - 0.05, "high": m + 0.05, "n": 100, "not_applicable": 0});
    let report = json!([{
        "task": "demo", "unit": "usd", "best": "strong-model", "test_rows": 100, "selected": "cascade",
        "policies": [
            {"name": "knn", "chain": [], "saving": interval(0.1), "accuracy": interval(0.9),
             "vs_best": {"difference": 0.0, "low": -0.01, "high": 0.01, "p_value": 1.0, "n": 100}},
            {"name": "cascade", "chain": ["org/cheap-model", "strong-model"], "saving": interval(0.6), "accuracy": interval(0.89),
             "vs_best": {"difference": -0.01, "low": -0.03, "high": 0.01, "p_value": 0.31, "n": 100}}
        ]
    }]);
    std::fs::write(dir.path().join("report.json"), report.to_string()).unwrap();
    let paired = |d: f64, p: f64| json!({"difference": d, "low": d - 0.01, "high": d + 0.01, "p_value": p, "n": 100});
    let arm = |name: &str, dollars: f64, saving: f64, delta: f64, p: f64| {
        json!({"arm": name, "dollars_per_query": interval(dollars), "saving": interval(saving), "containment": interval(0.8),
               "containment_vs_baseline": paired(delta, p), "exact_hits": 3, "semantic_hits": 1, "wrong_hits": 0})
    };
    let levers = json!({"squad": "squad.json", "readers": "offline extractive readers", "strong_model": "gpt-4o",
        "cheap_model": "gpt-4o-mini", "stream_entries": 140, "first_asks": 100, "repeats": 20, "reworded": 20,
        "meets_goal": false, "min_saving": 0.5,
        "arms": [arm("baseline", 0.0068, 0.0, 0.0, 1.0), arm("compression", 0.0029, 0.58, -0.04, 0.001)]});
    std::fs::write(dir.path().join("rag-levers.json"), levers.to_string()).unwrap();
    std::fs::write(dir.path().join("demo.svg"), r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>"#)
        .unwrap();
    dir
}

async fn serve_site(site: Site) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/cost", listener.local_addr().unwrap());
    let app = axum::Router::new().nest("/cost", router(site));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    (base, tx)
}

#[tokio::test]
async fn without_upstreams_the_page_shows_the_evaluation_and_says_what_the_gateway_needs() {
    let dir = report_dir();
    let site = Site { gateway: None, report_dir: dir.path().to_owned(), setup: Some("no upstream".into()) };
    let (base, _stop) = serve_site(site).await;
    let get = |p: &str| reqwest::get(format!("{base}{p}"));
    let status: Value = get("/api/status").await.unwrap().json().await.unwrap();
    assert_eq!((status["gateway"].clone(), status["setup"].clone()), (json!(false), json!("no upstream")));
    let report: Value = get("/api/report").await.unwrap().json().await.unwrap();
    assert_eq!(report["tasks"][0]["policy"], "cascade");
    assert_eq!(report["tasks"][0]["saving"]["mean"], 0.6);
    assert_eq!(get("/report/demo.svg").await.unwrap().headers()["content-type"], "image/svg+xml");
    let levers: Value = get("/api/levers").await.unwrap().json().await.unwrap();
    assert_eq!(
        (levers["found"].clone(), levers["report"]["arms"][1]["arm"].clone()),
        (json!(true), json!("compression"))
    );
    for other in ["/report/report.json", "/report/..%2Freport.svg", "/report/nope.svg"] {
        assert_eq!(get(other).await.unwrap().status(), 404, "{other}");
    }
    assert_eq!(get("/v1/chat/completions").await.unwrap().status(), 404, "no gateway, no gateway routes");
}

#[tokio::test]
async fn the_page_shows_savings_sends_a_prompt_and_adds_it_to_live_spend() {
    let Some(browser) = Browser::start("cost page browser test", "1100,1200").await else { return };
    let client = &browser.client;
    let rig = Rig::start(|_| {}).await;
    let dir = report_dir();
    let site = Site { gateway: Some(rig.gateway.clone()), report_dir: dir.path().to_owned(), setup: None };
    let (base, _stop) = serve_site(site).await;
    client.goto(&base).await.unwrap();
    let row = wait_for("the evaluation table", || async {
        client.find(Locator::Css("#tasks tr[data-task=demo]")).await.ok()?.text().await.ok()
    })
    .await;
    assert!(row.contains("cheap-model → strong-model") && row.contains("60.0% [55.0, 65.0]"), "{row}");
    assert!(client.find(Locator::Css("img.plot")).await.is_ok(), "the plot is shown");
    let lever = wait_for("the lever table", || async {
        client.find(Locator::Css("#lever-table tbody tr:nth-child(2)")).await.ok()?.text().await.ok()
    })
    .await;
    assert!(lever.starts_with("compression 2.90 58.0% [53.0, 63.0]") && lever.contains("-4.0 pts"), "{lever}");
    let flagged = client.find(Locator::Css("#lever-table tbody tr:nth-child(2) td.error")).await;
    assert!(flagged.is_ok(), "a significant quality loss is shown as such");
    let q = wait_for("the prompt form", || async {
        let f = client.find(Locator::Id("form")).await.ok()?;
        (f.attr("hidden").await.ok()?.is_none()).then_some(())?;
        client.find(Locator::Id("q")).await.ok()
    })
    .await;
    q.send_keys("What is the capital of France?").await.unwrap();
    client.find(Locator::Id("send")).await.unwrap().click().await.unwrap();
    let decision = wait_for("the routing decision", || async {
        let t = client.find(Locator::Id("decision")).await.ok()?.text().await.ok()?;
        (!t.is_empty()).then_some(t)
    })
    .await;
    assert!(decision.starts_with("served by cheap-model (complexity"), "{decision}");
    let answer = client.find(Locator::Id("answer")).await.unwrap().text().await.unwrap();
    assert_eq!(answer, "mock answer");
    let saved = wait_for("the key's spend", || async {
        let row = client.find(Locator::Css("#keys tr[data-key=anonymous]")).await.ok()?;
        let text = row.text().await.ok()?;
        text.contains("anonymous 1 ").then_some(text)
    })
    .await;
    // 17 tokens at $1/M spent, $10/M baseline: $0.000153 saved.
    assert!(saved.contains("$0.000017") && saved.contains("$0.000170") && saved.contains("$0.000153"), "{saved}");
    browser.close().await;
}
