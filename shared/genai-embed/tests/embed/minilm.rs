//! Parity of our MiniLM encoder with the published outputs of sentence-transformers.
//!
//! Runs when the model files are present: `EMBED_MODEL_DIR` (set by `.ci/run` after
//! `scripts/fetch-minilm.sh`; the test fails loudly if it is set but wrong) or the repository's
//! `models/all-MiniLM-L6-v2`. Without either it reports that it was skipped.
#![cfg(feature = "minilm")]

use genai_embed::{Embedder, MiniLmConfig, MiniLmEmbedder};
use std::path::PathBuf;

fn model() -> Option<MiniLmEmbedder> {
    let dir = match std::env::var("EMBED_MODEL_DIR") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => {
            let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2");
            if !local.join("model.safetensors").exists() {
                eprintln!("SKIPPED: MiniLM parity (no EMBED_MODEL_DIR and no models/all-MiniLM-L6-v2)");
                return None;
            }
            local
        }
    };
    let config = MiniLmConfig { threads: 2, ..MiniLmConfig::default() };
    Some(MiniLmEmbedder::load(&dir, config).unwrap_or_else(|e| panic!("EMBED_MODEL_DIR={}: {e}", dir.display())))
}

fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn strings(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

/// Reference similarities printed by sentence-transformers' documentation for this model
/// (sbert.net, "Usage" and the model card); we must match them to 4 decimals.
#[tokio::test]
async fn cosine_similarities_match_published_reference_values() {
    let Some(m) = model() else { return };
    let v = m
        .embed(&strings(&[
            "The weather is lovely today.",
            "It's so sunny outside!",
            "He drove to the stadium.",
            "That is a happy person",
            "That is a happy dog",
            "That is a very happy person",
            "Today is a sunny day",
        ]))
        .await
        .unwrap();
    let expected =
        [((0, 1), 0.6660), ((0, 2), 0.1046), ((1, 2), 0.1411), ((3, 4), 0.6946), ((3, 5), 0.9429), ((3, 6), 0.2569)];
    for ((a, b), want) in expected {
        let got = cos(&v[a], &v[b]);
        assert!((got - want).abs() < 6e-5, "cos({a},{b}) = {got:.5}, published {want}");
    }
    for x in &v {
        assert!((cos(x, x) - 1.0).abs() < 1e-5, "unit length");
    }
}

#[tokio::test]
async fn truncates_at_256_tokens_and_restores_batch_order() {
    let Some(m) = model() else { return };
    let long = "pumps ".repeat(600);
    let ids = m.tokenize(std::slice::from_ref(&long)).unwrap();
    assert_eq!(ids[0].len(), 256, "truncation overridden from tokenizer.json's 128 to 256");
    let texts = strings(&["short one", &long, "a medium length sentence about valves and pumps", ""]);
    let together = m.embed(&texts).await.unwrap();
    for (i, t) in texts.iter().enumerate() {
        let alone = m.embed(std::slice::from_ref(t)).await.unwrap();
        assert!(cos(&alone[0], &together[i]) > 0.99999, "text {i} differs when batched");
    }
}
