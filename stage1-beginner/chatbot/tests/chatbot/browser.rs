//! The chat page in a real headless Chromium, through chromedriver: a multi-turn conversation
//! streamed into the page, a reload that shows the same session, and a question after the
//! reload answered from what was said before it.
//!
//! Runs when `CHROMEDRIVER` is set (see `genai_testkit::browser`). With `UPDATE_SCREENSHOTS=1`
//! it writes the book's screenshot.

use crate::offline;
use fantoccini::{Client, Locator};
use genai_testkit::browser::{Browser, wait_for};

/// Types `text`, sends it, and waits for the reply bubble number `n` (1-based) to be final.
async fn say(client: &Client, text: &str, n: usize) -> String {
    let input = client.find(Locator::Id("input")).await.unwrap();
    input.send_keys(text).await.unwrap();
    client.find(Locator::Id("send")).await.unwrap().click().await.unwrap();
    wait_for("the reply", || async {
        let replies = client.find_all(Locator::Css("#log .msg.assistant")).await.ok()?;
        let reply = replies.get(n - 1)?.text().await.ok()?;
        // The send button comes back when the stream has ended.
        let ready = client.find(Locator::Css("#send:not([disabled])")).await.is_ok();
        (ready && reply != "…" && !reply.is_empty()).then_some(reply)
    })
    .await
}

#[tokio::test]
async fn a_conversation_survives_a_reload_and_continues() {
    let Some(browser) = Browser::start("chat page browser test", "900,900").await else { return };
    let client = &browser.client;
    let dir = tempfile::tempdir().unwrap();
    let bot = offline(dir.path(), 4096).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(chatbot::serve(listener, bot, async {
        let _ = stopped.await;
    }));

    client.goto(&format!("{base}/")).await.unwrap();
    let first = say(client, "Hi, my name is Priya and I work on the billing team.", 1).await;
    assert!(first.starts_with("Noted"), "{first}");
    let name = say(client, "What is my name?", 2).await;
    assert!(name.starts_with("Priya."), "{name}");
    let status = client.find(Locator::Id("status")).await.unwrap().text().await.unwrap();
    assert!(status.starts_with("offline ·"), "the page shows what the memory did: {status}");

    client.refresh().await.unwrap();
    let log = wait_for("the session after the reload", || async {
        let items = client.find_all(Locator::Css("#log .msg")).await.ok()?;
        let mut texts = Vec::new();
        for i in items {
            texts.push(i.text().await.ok()?);
        }
        (texts.len() == 4).then_some(texts)
    })
    .await;
    assert_eq!(log[0], "Hi, my name is Priya and I work on the billing team.");
    assert_eq!(log[3], name, "the reply shown after the reload is the one streamed before it");

    let team = say(client, "Which team do I work on?", 3).await;
    assert!(team.contains("billing"), "{team}");
    if std::env::var("UPDATE_SCREENSHOTS").is_ok() {
        let png = client.screenshot().await.unwrap();
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../book/src/images/chatbot.png");
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        std::fs::write(out, png).unwrap();
    }

    browser.close().await;
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
