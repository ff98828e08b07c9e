//! The `/rag` page in a real headless Chromium, through chromedriver: a streamed answer with
//! its citation and the stage waterfall, the same question again served by the cache, and a
//! filter that matches nothing refusing instead of searching everything.
//!
//! Runs when `CHROMEDRIVER` is set (see `genai_testkit::browser`). With `UPDATE_SCREENSHOTS=1`
//! it writes the book's screenshot.

use crate::{config, corpus, ingest, serve};
use fantoccini::{Client, Locator};
use genai_testkit::browser::{Browser, wait_for};
use production_rag::Rag;

/// Asks `question` on the page and waits for the trace summary.
async fn ask(client: &Client, question: &str) -> String {
    let q = client.find(Locator::Id("q")).await.unwrap();
    q.clear().await.unwrap();
    q.send_keys(question).await.unwrap();
    let before = client.find(Locator::Id("summary")).await.unwrap().text().await.unwrap();
    client.find(Locator::Id("ask")).await.unwrap().click().await.unwrap();
    wait_for("the trace summary", || async {
        let summary = client.find(Locator::Id("summary")).await.ok()?.text().await.ok()?;
        let ready = client.find(Locator::Css("#ask:not([disabled])")).await.is_ok();
        (ready && !summary.is_empty() && summary != before).then_some(summary)
    })
    .await
}

#[tokio::test]
async fn the_page_streams_an_answer_with_citations_and_a_waterfall() {
    let Some(browser) = Browser::start("production-rag page browser test", "1000,1000").await else { return };
    let client = &browser.client;
    let dir = tempfile::tempdir().unwrap();
    let s = serve(Rag::open(config(dir.path())).await.unwrap()).await;
    ingest(&reqwest::Client::new(), &s.base, &corpus()).await;
    client.goto(&format!("{}/", s.base)).await.unwrap();
    let docs = wait_for("the document list", || async {
        let t = client.find(Locator::Id("docs")).await.ok()?.text().await.ok()?;
        t.starts_with("4 documents").then_some(t)
    })
    .await;
    assert!(docs.contains("pumps.md (") && docs.contains("maintenance, 2024-03)"), "{docs}");

    let summary = ask(client, "How often is the coolant pump inspected?").await;
    assert!(summary.starts_with("cache miss"), "{summary}");
    let answer = client.find(Locator::Id("answer")).await.unwrap().text().await.unwrap();
    assert!(answer.contains("six months"), "{answer}");
    let citation = client.find(Locator::Css("#citations li")).await.unwrap().text().await.unwrap();
    assert!(citation.starts_with("pumps.md"), "{citation}");
    let mut stages = Vec::new();
    for row in client.find_all(Locator::Css("#waterfall .stage")).await.unwrap() {
        stages.push(row.attr("data-stage").await.unwrap().unwrap());
    }
    for stage in ["cache_exact", "retrieve", "rerank", "generate"] {
        assert!(stages.iter().any(|s| s == stage), "{stage} missing from the waterfall: {stages:?}");
    }
    if std::env::var("UPDATE_SCREENSHOTS").is_ok() {
        let png = client.screenshot().await.unwrap();
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../book/src/images/production-rag.png");
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        std::fs::write(out, png).unwrap();
    }

    let again = ask(client, "how often is the coolant pump inspected").await;
    assert!(again.starts_with("cache exact"), "{again}");

    client.find(Locator::Id("category")).await.unwrap().send_keys("finance").await.unwrap();
    ask(client, "How often is the coolant pump inspected?").await;
    let refused = client.find(Locator::Css("#answer.refused")).await.unwrap().text().await.unwrap();
    assert!(refused.contains("don't say"), "{refused}");

    browser.close().await;
    s.stop().await;
}
