//! The `/agents` page in a real headless Chromium: a question run live step by step, the
//! approval answered on the page, the report published once.

use crate::api::{serve, service};
use fantoccini::Locator;
use genai_testkit::browser::{Browser, wait_for};

#[tokio::test]
async fn the_page_runs_a_question_and_takes_the_approval() {
    let Some(browser) = Browser::start("agent-workflow page browser test", "1100,1000").await else { return };
    let client = &browser.client;
    let dir = tempfile::tempdir().unwrap();
    let s = serve(service(dir.path(), true).await.0).await;
    client.goto(&format!("{}/", s.base)).await.unwrap();
    wait_for("the graph", || async {
        let nodes = client.find_all(Locator::Css("#graph .node")).await.ok()?;
        (nodes.len() == 7).then_some(())
    })
    .await;
    client.find(Locator::Id("run")).await.unwrap().click().await.unwrap();
    let report = wait_for("the approval box", || async {
        let box_ = client.find(Locator::Css("#approval:not([hidden])")).await.ok()?;
        let text = client.find(Locator::Id("report")).await.ok()?.prop("value").await.ok()??;
        drop(box_);
        (!text.is_empty()).then_some(text)
    })
    .await;
    assert!(report.contains("Ada Lovelace"), "{report}");
    // The step list is fed by the event stream, which may trail the approval box by a few
    // events: wait for it rather than read it once.
    wait_for("the research steps in the list", || async {
        let steps = client.find(Locator::Id("steps")).await.ok()?.text().await.ok()?;
        (steps.contains("search") && steps.contains("tool:calculator")).then_some(())
    })
    .await;
    if std::env::var("UPDATE_SCREENSHOTS").is_ok() {
        let png = client.screenshot().await.unwrap();
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../book/src/images/agent-workflow.png");
        std::fs::write(out, png).unwrap();
    }
    client.find(Locator::Id("approve")).await.unwrap().click().await.unwrap();
    let answer = wait_for("the published report", || async {
        let t = client.find(Locator::Id("answer")).await.ok()?.text().await.ok()?;
        t.contains("published:").then_some(t)
    })
    .await;
    assert!(answer.contains("decision: approved"), "{answer}");
    let reports = std::fs::read_dir(dir.path().join("reports")).unwrap().count();
    assert_eq!(reports, 1);
    browser.close().await;
    s.stop().await;
}
