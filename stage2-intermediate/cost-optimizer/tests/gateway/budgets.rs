//! Per-key budgets: a spent budget is a 429 with a clear body, and no mix of concurrent
//! requests, streams and retried failures ever spends past it.

use crate::{Rig, STRONG_PRICE, ask, key};
use genai_llm::{Message, Price, PriceTable};
use genai_testkit::Reply;
use proptest::prelude::*;
use serde_json::{Value, json};

/// What one request for `text` may cost at most on the strong model (what the gateway holds).
fn worst_case(text: &str) -> f64 {
    let input = genai_llm::tokens::count_chat_tokens("strong-model", &[Message::user(text)]);
    let mut prices = PriceTable::default();
    prices
        .models
        .insert("strong-model".into(), Price { input: STRONG_PRICE, cached_input: STRONG_PRICE, output: STRONG_PRICE });
    prices.worst_case("strong-model", input, 20)
}

async fn ledger(rig: &Rig) -> Value {
    rig.client.get(format!("{}/v1/ledger?limit=1000", rig.url)).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_spent_budget_is_a_429_that_says_why_for_streams_too() {
    let text = "Capital of France?";
    let limit = 2.5 * worst_case(text);
    let rig = Rig::start(|c| c.keys = vec![key("team-a", "sk-a", Some(limit)), key("team-b", "sk-b", None)]).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(rig.post(Some("sk-a"), &ask("strong-model", text)).await.status().as_u16());
    }
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    assert!(ok >= 2 && statuses[ok..].iter().all(|&s| s == 429), "{statuses:?}");
    let mut body = ask("strong-model", text);
    body["stream"] = json!(true);
    let r = rig.post(Some("sk-a"), &body).await;
    assert_eq!(r.status(), 429, "a stream cannot start without its worst case held");
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "budget_exceeded");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains("team-a") && message.contains("budget"), "{message}");
    // Another key is not affected.
    assert_eq!(rig.post(Some("sk-b"), &ask("strong-model", text)).await.status(), 200);
    let l = ledger(&rig).await;
    let a = &l["keys"]["team-a"];
    assert!(a["cost_usd"].as_f64().unwrap() <= limit);
    assert_eq!(a["cost_usd"], a["committed_usd"], "no hold is left behind");
    assert_eq!(a["budget_usd"].as_f64().unwrap(), limit);
}

async fn concurrent_case(requests: usize, calls_worth: f64, streams_every: usize, failures: usize) {
    let text = "Capital of France?";
    let limit = calls_worth * worst_case(text);
    let rig = Rig::start(|c| c.keys = vec![key("k", "sk-k", Some(limit))]).await;
    // Retried failures reserve again on every attempt; paced answers keep holds in flight together.
    let slow = || Reply::Delay(std::time::Duration::from_millis(15), Box::new(Reply::Default));
    rig.strong.enqueue(
        "/v1/chat/completions",
        (0..failures).map(|_| Reply::Status { code: 503, retry_after: None, body: "busy".into() }),
    );
    rig.strong.set_default("/v1/chat/completions", slow());
    let sends = (0..requests).map(|i| {
        let mut body = ask("strong-model", text);
        if streams_every > 0 && i % streams_every == 0 {
            body["stream"] = json!(true);
        }
        let rig = &rig;
        async move {
            let r = rig.post(Some("sk-k"), &body).await;
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            (status, text)
        }
    });
    let results = futures::future::join_all(sends).await;
    for (status, body) in &results {
        assert!(matches!(status, 200 | 429 | 503), "{status}: {body}");
        if *status == 429 {
            assert!(body.contains("budget_exceeded"), "{body}");
        }
    }
    let l = ledger(&rig).await;
    let k = &l["keys"]["k"];
    let (spent, committed) = (k["cost_usd"].as_f64().unwrap(), k["committed_usd"].as_f64().unwrap());
    assert!(spent <= limit + 1e-12, "spent {spent} > limit {limit}");
    assert!((spent - committed).abs() < 1e-12, "holds left behind: spent {spent}, committed {committed}");
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    if calls_worth >= 1.0 && failures == 0 {
        assert!(ok >= 1, "a budget for one call lets one through");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, .. ProptestConfig::default() })]
    #[test]
    fn concurrent_requests_never_spend_past_a_key_budget(
        requests in 4usize..32,
        calls_worth in 0.5f64..8.0,
        streams_every in 0usize..4,
        failures in 0usize..4,
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(concurrent_case(requests, calls_worth, streams_every, failures));
    }
}
