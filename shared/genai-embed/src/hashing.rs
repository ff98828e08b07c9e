//! Feature hashing: a zero-setup embedder that captures words, word pairs and word pieces.
//!
//! Each text becomes a bag of features (lower-cased words, adjacent word pairs, and character
//! 3-grams of each word, so "pumps" and "pump" share most of their weight), hashed with FNV-1a
//! into `dim` signed buckets (the sign from another hash bit halves collision bias; Weinberger et
//! al., "Feature Hashing for Large Scale Multitask Learning", ICML 2009), weighted by `1 + ln tf`,
//! and L2-normalised. Cosine similarity then approximates weighted lexical overlap: useful for
//! near-duplicate detection and as a stand-in where no model is available, not semantic.

use crate::{EmbedError, Embedder, l2_normalize};
use async_trait::async_trait;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct HashingEmbedder {
    dim: usize,
    id: String,
}

impl HashingEmbedder {
    /// 384, the dimension of MiniLM, so index settings carry over.
    pub const DEFAULT_DIM: usize = 384;

    pub fn new(dim: usize) -> Self {
        let dim = dim.max(8);
        Self { dim, id: format!("hashing-v1-{dim}") }
    }

    /// The vector of one text; pure and synchronous.
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let words: Vec<String> =
            text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
        let mut features: HashMap<u64, f32> = HashMap::new();
        let mut add = |key: u64, weight: f32| *features.entry(key).or_default() += weight;
        for (i, word) in words.iter().enumerate() {
            add(fnv1a(b"w", word.as_bytes()), 1.0);
            if let Some(next) = words.get(i + 1) {
                add(fnv1a(b"b", format!("{word} {next}").as_bytes()), 0.5);
            }
            let padded: Vec<char> = format!("<{word}>").chars().collect();
            for tri in padded.windows(3) {
                add(fnv1a(b"c", tri.iter().collect::<String>().as_bytes()), 0.25);
            }
        }
        let mut v = vec![0f32; self.dim];
        for (key, tf) in features {
            let bucket = (key % self.dim as u64) as usize;
            let sign = if key >> 63 == 0 { 1.0 } else { -1.0 };
            v[bucket] += sign * (1.0 + tf.ln().max(0.0));
        }
        if v.iter().all(|&x| x == 0.0) {
            // An empty text still needs a valid unit vector: cosine distance is undefined at zero.
            v[0] = 1.0;
        }
        l2_normalize(&mut v);
        v
    }
}

impl Default for HashingEmbedder {
    fn default() -> Self {
        Self::new(Self::DEFAULT_DIM)
    }
}

#[async_trait]
impl Embedder for HashingEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
}

/// FNV-1a with a namespace prefix, so a word and a 3-gram with the same letters differ.
fn fnv1a(namespace: &[u8], bytes: &[u8]) -> u64 {
    namespace
        .iter()
        .chain([0u8].iter())
        .chain(bytes)
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn unit_length_deterministic_and_lexical() {
        let e = HashingEmbedder::default();
        let a = e.embed_one("The coolant pump must be inspected");
        assert!((cos(&a, &a) - 1.0).abs() < 1e-5);
        assert_eq!(a, e.embed_one("The coolant pump must be inspected"));
        let near = e.embed_one("coolant pumps are inspected");
        let far = e.embed_one("quarterly revenue grew in Asia");
        assert!(cos(&a, &near) > cos(&a, &far) + 0.2, "{} vs {}", cos(&a, &near), cos(&a, &far));
        let empty = e.embed_one("");
        assert!((cos(&empty, &empty) - 1.0).abs() < 1e-5);
    }
}
