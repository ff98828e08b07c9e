//! The docs page in a real headless Chromium, through chromedriver: extract the sample text and
//! see each entity highlighted at its character span (the sample has a two-byte "é" before most
//! entities, so byte offsets would be visibly wrong), then redact it with pseudonyms.
//!
//! Runs when `CHROMEDRIVER` is set (see `genai_testkit::browser`).

use crate::{TestApp, small_limits};
use extraction_api::Extractor;
use fantoccini::Locator;
use genai_testkit::browser::{Browser, wait_for};

#[tokio::test]
async fn the_docs_page_highlights_entities_at_their_spans_and_redacts() {
    let Some(browser) = Browser::start("browser test", "1100,1000").await else { return };
    let client = &browser.client;
    let app = TestApp::start(Extractor::new(small_limits(), None)).await;

    client.goto(&format!("{}/", app.url)).await.unwrap();
    // The schema list comes from the API; wait for it before extracting.
    wait_for("the schema list", || async {
        (client.find_all(Locator::Css("#schema option")).await.ok()?.len() == 5).then_some(())
    })
    .await;
    client.find(Locator::Id("extract")).await.unwrap().click().await.unwrap();
    let marks = wait_for("highlighted entities", || async {
        let marks = client.find_all(Locator::Css("#marked mark")).await.ok()?;
        let mut texts = Vec::new();
        for m in marks {
            texts.push(m.text().await.ok()?);
        }
        (!texts.is_empty()).then_some(texts)
    })
    .await;
    // Each mark is the entity's text followed by its type label.
    for expected in [
        "Laura PérezPERSON",
        "Acme CorporationORGANIZATION",
        "+34 612 345 678PHONE_NUMBER",
        "laura.perez@example.esEMAIL_ADDRESS",
    ] {
        assert!(marks.iter().any(|m| m.replace('\n', "") == expected), "{expected} not in {marks:?}");
    }
    client.find(Locator::Id("redact")).await.unwrap().click().await.unwrap();
    let redacted = wait_for("redacted text", || async {
        let t = client.find(Locator::Id("marked")).await.ok()?.text().await.ok()?;
        t.contains("<EMAIL_ADDRESS_").then_some(t)
    })
    .await;
    assert!(!redacted.contains("laura.perez@example.es"), "{redacted}");

    browser.close().await;
}
