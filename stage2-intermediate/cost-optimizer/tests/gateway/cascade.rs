//! A saved cascade policy applied to live requests: the cheap model's answer is scored and
//! accepted or escalated; a cheap model that is down sends the request straight to the strong one.

use crate::{CHEAP_PRICE, Rig, STRONG_PRICE, ask, header, read_stream};
use cost_optimizer::cascade::scorer_row;
use cost_optimizer::curve::Point;
use cost_optimizer::features::prompt_features;
use cost_optimizer::policy::{FORMAT, PolicyKind, SavedPolicy};
use cost_optimizer::router::{BoostParams, Example, fit_binary};
use genai_embed::{Embedder, HashingEmbedder};
use genai_testkit::Reply;
use serde_json::json;

const PROMPT: &str = "What is six times seven?";
const GOOD: &str = "6 * 7 = 42. The answer is 42.";
const REFUSAL: &str = "I'm sorry, I cannot help with that.";

/// A cascade cheap → strong whose scorer learned that a refusal is wrong and a worked answer right.
async fn policy(dir: &std::path::Path) -> std::path::PathBuf {
    let embedder = HashingEmbedder::default();
    let embedding = embedder.embed(&[PROMPT.to_owned()]).await.unwrap().remove(0);
    let x = Example { embedding, shape: prompt_features(PROMPT) };
    let (mut rows, mut labels) = (Vec::new(), Vec::new());
    for i in 0..60 {
        let good = i % 2 == 0;
        rows.push(scorer_row(&x, &[if good { GOOD } else { REFUSAL }]));
        labels.push(if good { 1.0 } else { 0.0 });
    }
    let scorer =
        fit_binary(&rows, &labels, BoostParams { rounds: 20, min_child_weight: 1.0, ..BoostParams::default() })
            .unwrap();
    let saved = SavedPolicy {
        format: FORMAT,
        task: "test".into(),
        embedder: embedder.model_id().to_owned(),
        dim: embedder.dim(),
        models: vec!["cheap-model".into(), "strong-model".into()],
        price: vec![CHEAP_PRICE / STRONG_PRICE, 1.0],
        train_point: Point { knob: 0.0, cost: 0.5, quality: 0.9 },
        kind: PolicyKind::Cascade { chain: vec![0, 1], thresholds: vec![0.5], scorers: vec![scorer] },
    };
    let path = dir.join("test.policy.json");
    saved.save(&path).unwrap();
    path
}

async fn rig(dir: &tempfile::TempDir) -> Rig {
    let path = policy(dir.path()).await;
    Rig::start(|c| c.policy = Some(path)).await
}

#[tokio::test]
async fn a_good_cheap_answer_is_accepted_and_a_refusal_escalated() {
    let dir = tempfile::tempdir().unwrap();
    let rig = rig(&dir).await;
    rig.cheap.enqueue("/v1/chat/completions", [Reply::chat_text(GOOD)]);
    let r = rig.post(None, &ask("auto", PROMPT)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-gateway-policy"), "cascade");
    assert_eq!(header(&r, "x-gateway-served-by"), "cheap-model", "{}", header(&r, "x-gateway-reason"));
    assert!(header(&r, "x-gateway-reason").contains("accepted"));
    assert_eq!(rig.chats(), (1, 0));

    rig.cheap.enqueue("/v1/chat/completions", [Reply::chat_text(REFUSAL)]);
    rig.strong.enqueue("/v1/chat/completions", [Reply::chat_text(GOOD)]);
    let r = rig.post(None, &ask("auto", PROMPT)).await;
    assert_eq!(header(&r, "x-gateway-served-by"), "strong-model");
    assert!(header(&r, "x-gateway-reason").contains("escalated"), "{}", header(&r, "x-gateway-reason"));
    assert_eq!(rig.chats(), (2, 1));
    // The escalated request paid for both calls: more than its always-strong baseline.
    let e = &rig.gateway.ledger().recent(1)[0];
    assert_eq!(e.asked, ["cheap-model", "strong-model"]);
    assert!((e.cost_usd - 17.0 * (CHEAP_PRICE + STRONG_PRICE) / 1e6).abs() < 1e-12, "{e:?}");
    assert!(e.cost_usd > e.baseline_usd);
    // An accepted cheap answer to a deterministic request is cached like any other.
    let mut body = ask("auto", PROMPT);
    body["temperature"] = json!(0);
    rig.cheap.enqueue("/v1/chat/completions", [Reply::chat_text(GOOD)]);
    assert_eq!(header(&rig.post(None, &body).await, "x-gateway-served-by"), "cheap-model");
    let again = rig.post(None, &body).await;
    assert_eq!(
        (header(&again, "x-gateway-cache"), header(&again, "x-gateway-served-by")),
        ("hit".into(), "cheap-model".into())
    );
    assert_eq!(rig.chats(), (3, 1));
}

#[tokio::test]
async fn a_cascade_whose_cheap_model_is_down_goes_straight_to_the_strong_one() {
    let dir = tempfile::tempdir().unwrap();
    let rig = rig(&dir).await;
    let down = || Reply::Status { code: 503, retry_after: None, body: "overloaded".into() };
    rig.cheap.set_default("/v1/chat/completions", down());
    let r = rig.post(None, &ask("auto", PROMPT)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-gateway-served-by"), "strong-model");
    assert!(header(&r, "x-gateway-reason").contains("failed"), "{}", header(&r, "x-gateway-reason"));
    // Streamed too: the strong model's stream is relayed.
    let mut body = ask("auto", PROMPT);
    body["stream"] = json!(true);
    let r = rig.post(None, &body).await;
    assert_eq!(header(&r, "x-gateway-served-by"), "strong-model");
    let (text, done, _) = read_stream(&r.text().await.unwrap());
    assert_eq!((text.as_str(), done), ("mock answer", true));
    // Failed attempts cost nothing: the spend is the strong answers' (17 tokens whole, 14 streamed).
    let spent: f64 = rig.gateway.ledger().recent(10).iter().map(|e| e.cost_usd).sum();
    assert!((spent - 31.0 * STRONG_PRICE / 1e6).abs() < 1e-12, "{spent}");
    let (cheap_calls, strong_calls) = rig.chats();
    assert_eq!(strong_calls, 2);
    assert!(cheap_calls >= 2, "the cheap model was tried (with its retries) each time");
}
