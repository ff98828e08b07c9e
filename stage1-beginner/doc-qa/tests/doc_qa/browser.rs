//! The page in a real headless Chromium, through chromedriver: upload a good and a bad file,
//! see each file's status, ask, read the cited answer, open the cited passage, and get a refusal
//! for an out-of-scope question.
//!
//! Runs when `CHROMEDRIVER` is set (see `genai_testkit::browser`). With `UPDATE_SCREENSHOTS=1`
//! it writes the book's screenshot.

use crate::{HANDBOOK, fixture, service, start};
use fantoccini::Locator;
use genai_testkit::browser::{Browser, wait_for};

#[tokio::test]
async fn the_page_uploads_asks_and_opens_a_cited_passage() {
    let Some(browser) = Browser::start("browser test", "1100,1300").await else { return };
    let client = &browser.client;
    let data = tempfile::tempdir().unwrap();
    let server = start(service(data.path()).await).await;
    let base = server.base.clone();

    let files = tempfile::tempdir().unwrap();
    let good = files.path().join("handbook.md");
    let bad = files.path().join("broken.pdf");
    std::fs::write(&good, HANDBOOK).unwrap();
    std::fs::copy(fixture("truncated.pdf"), &bad).unwrap();

    client.goto(&format!("{base}/")).await.unwrap();
    let input = client.find(Locator::Id("files")).await.unwrap();
    input.send_keys(&format!("{}\n{}", good.display(), bad.display())).await.unwrap();
    client.find(Locator::Id("upload")).await.unwrap().click().await.unwrap();
    let reports = wait_for("two file reports", || async {
        let items = client.find_all(Locator::Css("#reports li[data-status]")).await.ok()?;
        if items.len() < 2 {
            return None;
        }
        let mut texts = Vec::new();
        for i in items {
            texts.push(i.text().await.ok()?);
        }
        Some(texts)
    })
    .await;
    assert!(reports.iter().any(|t| t.starts_with("handbook.md: indexed")), "{reports:?}");
    assert!(reports.iter().any(|t| t == "broken.pdf: skipped: PDF is corrupt or unreadable"), "{reports:?}");

    client
        .find(Locator::Id("question"))
        .await
        .unwrap()
        .send_keys("How often must the coolant pump be inspected?")
        .await
        .unwrap();
    client.find(Locator::Id("ask")).await.unwrap().click().await.unwrap();
    let answer = wait_for("an answer", || async {
        client
            .find(Locator::Css("#answer:not([hidden]) #answer-text"))
            .await
            .ok()?
            .text()
            .await
            .ok()
            .filter(|t| !t.is_empty())
    })
    .await;
    assert!(answer.contains("every six months"), "{answer}");
    let citation = client.find(Locator::Css("#citations li a")).await.unwrap();
    assert!(citation.text().await.unwrap().starts_with("handbook.md, p. 1"));
    citation.click().await.unwrap();
    let passage = wait_for("the cited passage", || async {
        client.find(Locator::Css("#passage:not([hidden]) mark")).await.ok()?.text().await.ok()
    })
    .await;
    assert!(passage.contains("every six months"), "{passage}");
    if std::env::var("UPDATE_SCREENSHOTS").is_ok() {
        let png = client.screenshot().await.unwrap();
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../book/src/images/doc-qa.png");
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        std::fs::write(out, png).unwrap();
    }

    let q = client.find(Locator::Id("question")).await.unwrap();
    q.clear().await.unwrap();
    q.send_keys("Who won the 1998 Tour de France cycling race?").await.unwrap();
    client.find(Locator::Id("ask")).await.unwrap().click().await.unwrap();
    let refused = wait_for("a refusal", || async {
        let text = client.find(Locator::Css("#answer.refused #answer-text")).await.ok()?.text().await.ok()?;
        text.starts_with("The documents don't say").then_some(text)
    })
    .await;
    assert!(refused.contains("None of the retrieved passages"));

    browser.close().await;
    server.stop().await;
}
