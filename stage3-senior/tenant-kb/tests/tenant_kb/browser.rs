//! The `/kb` page in a real headless Chromium: sign in as demo users of two tenants, ask, read
//! the visible documents, reload (the session continues), and as a tenant admin see why a
//! document is hidden and verify the audit chain. A user of one tenant never sees the other's
//! content on the page.

use fantoccini::Locator;
use genai_testkit::browser::{Browser, wait_for};

async fn text(client: &fantoccini::Client, id: &str) -> String {
    match client.find(Locator::Id(id)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_signs_in_asks_and_explains() {
    let Some(browser) = Browser::start("tenant-kb page browser test", "1100,1000").await else { return };
    let client = &browser.client;
    let dir = tempfile::tempdir().unwrap();
    let kb = crate::open(dir.path(), None).await;
    tenant_kb::demo::seed(&kb).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tenant_kb::api::serve(listener, kb, async move {
        let _ = stopped.await;
    }));
    client.goto(&format!("{base}/")).await.unwrap();

    let sign_in = |user: &'static str| async move {
        wait_for("the demo users", || async {
            let n = client.find_all(Locator::Css("#demo-user option")).await.ok()?.len();
            (n == 7).then_some(())
        })
        .await;
        let select = client.find(Locator::Id("demo-user")).await.unwrap();
        select.select_by_label(user).await.unwrap();
        wait_for("signed in", || async {
            let who = client.find(Locator::Id("who")).await.ok()?.text().await.ok()?;
            let docs = client.find(Locator::Id("docs")).await.ok()?.text().await.ok()?;
            (!who.is_empty() && !docs.is_empty()).then_some(())
        })
        .await;
    };
    let ask = |q: &'static str| async move {
        let input = client.find(Locator::Id("question")).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(q).await.unwrap();
        client.find(Locator::Css("#ask button")).await.unwrap().click().await.unwrap();
        wait_for("an answer", || async {
            let t = client.find(Locator::Id("answer-text")).await.ok()?.text().await.ok()?;
            (!t.is_empty()).then_some(t)
        })
        .await
    };

    sign_in("acme/alice").await;
    assert!(text(client, "who").await.contains("Alice"));
    let docs = text(client, "docs").await;
    assert!(docs.contains("billing-runbook") && docs.contains("handbook"), "{docs}");
    assert!(!docs.contains("project-heron") && !docs.contains("pricing-2027"), "{docs}");
    let answer = ask("Where does the billing system run?").await;
    assert!(answer.contains("Frankfurt"), "{answer}");
    // The same question with other case and punctuation: served from the answer cache.
    ask("where does the billing system run").await;
    let meta = wait_for("a cached answer", || async {
        let t = client.find(Locator::Id("answer-meta")).await.ok()?.text().await.ok()?;
        t.contains("cache exact").then_some(t)
    })
    .await;
    assert!(meta.contains("answered by extractive"), "{meta}");
    assert!(
        client.find(Locator::Id("admin-box")).await.unwrap().attr("hidden").await.unwrap().is_some(),
        "no admin panel for a reader"
    );

    // Reload: the session continues.
    client.refresh().await.unwrap();
    wait_for("the session after a reload", || async {
        let who = client.find(Locator::Id("who")).await.ok()?.text().await.ok()?;
        who.contains("Alice").then_some(())
    })
    .await;

    // Another tenant: none of Acme's content, on any part of the page.
    sign_in("globex/gina").await;
    wait_for("Gina's documents", || async {
        let docs = client.find(Locator::Id("docs")).await.ok()?.text().await.ok()?;
        docs.contains("pricing-2027").then_some(())
    })
    .await;
    let answer = ask("Where does the billing system run?").await;
    let page = client.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    for acme in ["Frankfurt", "billing-runbook", "Heron", "Lockbox", "Lyon"] {
        assert!(!page.contains(acme), "Globex's user sees Acme's {acme:?}: {page}");
    }
    assert!(!answer.contains("Frankfurt"));

    // A tenant admin: why Alice cannot see Project Heron, and the audit chain.
    sign_in("acme/admin").await;
    client.find(Locator::Id("ex-user")).await.unwrap().send_keys("alice").await.unwrap();
    client.find(Locator::Id("ex-doc")).await.unwrap().send_keys("project-heron").await.unwrap();
    client.find(Locator::Css("#explain button")).await.unwrap().click().await.unwrap();
    let decision = wait_for("the explanation", || async {
        let t = client.find(Locator::Id("decision")).await.ok()?.text().await.ok()?;
        t.contains("Denying").then_some(t)
    })
    .await;
    assert!(decision.contains("hidden") && decision.contains("deny if doc.clearance > user.clearance"), "{decision}");
    client.find(Locator::Id("verify")).await.unwrap().click().await.unwrap();
    let verdict = wait_for("the audit verdict", || async {
        let t = client.find(Locator::Id("verdict")).await.ok()?.text().await.ok()?;
        (!t.is_empty()).then_some(t)
    })
    .await;
    assert!(verdict.starts_with("intact"), "{verdict}");
    let audit = text(client, "audit").await;
    assert!(audit.contains("ask") && audit.contains("alice"), "Alice's question is in the log: {audit}");
    let usage = wait_for("the usage table", || async {
        let t = client.find(Locator::Id("usage")).await.ok()?.text().await.ok()?;
        t.contains("chunks indexed").then_some(t)
    })
    .await;
    assert!(usage.contains("EMAIL_ADDRESS, PHONE_NUMBER"), "{usage}");

    // Acme redacts e-mail addresses: the passage shows a pseudonym, the admin reveals it (logged).
    ask("Who is the on-call manager this quarter?").await;
    let answer = text(client, "answer").await;
    assert!(answer.contains("<EMAIL_ADDRESS_") && !answer.contains("dana.whitfield@"), "{answer}");
    client.find(Locator::Css("button.reveal")).await.unwrap().click().await.unwrap();
    let revealed = wait_for("the revealed value", || async {
        let t = client.find(Locator::Css("mark.revealed")).await.ok()?.text().await.ok()?;
        (!t.is_empty()).then_some(t)
    })
    .await;
    assert!(revealed == "dana.whitfield@acme.example" || revealed.contains("555 0199"), "{revealed}");
    wait_for("the reveal in the audit log", || async {
        let t = client.find(Locator::Id("audit")).await.ok()?.text().await.ok()?;
        t.contains("pii.reveal").then_some(())
    })
    .await;
    if std::env::var("UPDATE_SCREENSHOTS").is_ok() {
        let png = client.screenshot().await.unwrap();
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../book/src/images/tenant-kb.png");
        std::fs::write(out, png).unwrap();
    }
    browser.close().await;
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
