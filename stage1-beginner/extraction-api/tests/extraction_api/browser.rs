//! The docs page in a real headless Chromium, through chromedriver: extract the sample text and
//! see each entity highlighted at its character span (the sample has a two-byte "é" before most
//! entities, so byte offsets would be visibly wrong), then redact it with pseudonyms.
//!
//! Runs when `CHROMEDRIVER` names the driver (`.ci/run` installs Debian's `chromium` and
//! `chromium-driver` and sets it); `CHROME` overrides the browser (default `/usr/bin/chromium`).

use crate::{TestApp, small_limits};
use extraction_api::Extractor;
use fantoccini::{ClientBuilder, Locator};
use serde_json::json;
use std::time::Duration;

async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..150 {
        if let Some(v) = probe().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn the_docs_page_highlights_entities_at_their_spans_and_redacts() {
    let Ok(driver) = std::env::var("CHROMEDRIVER") else {
        eprintln!("SKIPPED: browser test (CHROMEDRIVER is not set)");
        return;
    };
    let chrome = std::env::var("CHROME").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let app = TestApp::start(Extractor::new(small_limits(), None)).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut chromedriver = std::process::Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("CHROMEDRIVER={driver} is set but cannot start: {e}"));
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": chrome, "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--window-size=1100,1000", format!("--user-data-dir={}", profile.path().display())]}),
    );
    let webdriver = format!("http://127.0.0.1:{port}");
    let client = wait_for("chromedriver", || {
        let (caps, webdriver) = (caps.clone(), webdriver.clone());
        async move {
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps)
                .connect(&webdriver)
                .await
                .ok()
        }
    })
    .await;

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

    client.close().await.unwrap();
    let _ = chromedriver.kill();
    let _ = chromedriver.wait();
}
