//! Hashed n-gram features: lowercased word unigrams and bigrams, and character 3- to 5-grams of
//! each word (padded with spaces, so prefixes and suffixes are their own features). The
//! character n-grams carry the model across inflections and between English and German
//! ("ignore", "ignoriere", "ignorieren"). Each feature is hashed (FNV-1a) into `2^bits` buckets
//! with a sign bit, counts are log-scaled, and the vector is L2-normalised so long texts do not
//! score higher for being long.

use regex::Regex;
use std::sync::LazyLock;

static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[\p{L}\p{N}]+").expect("pattern compiles"));

/// One feature occurrence: its bucket, its sign and the text it came from (for explanations).
#[derive(Debug, Clone)]
pub struct Feature {
    pub bucket: u32,
    pub value: f32,
    pub gram: String,
}

fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The sparse feature vector of `text` (buckets merged, normalised).
pub fn featurize(text: &str, bits: u32) -> Vec<Feature> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = WORD.find_iter(&lower).map(|m| m.as_str()).collect();
    let mut grams: Vec<(String, u64)> = Vec::with_capacity(words.len() * 8);
    for w in &words {
        grams.push((format!("w:{w}"), 1));
    }
    for pair in words.windows(2) {
        grams.push((format!("b:{} {}", pair[0], pair[1]), 2));
    }
    for w in &words {
        let padded: Vec<char> = std::iter::once(' ').chain(w.chars()).chain(std::iter::once(' ')).collect();
        for n in 3..=5 {
            for g in padded.windows(n) {
                grams.push((format!("c:{}", g.iter().collect::<String>()), 3));
            }
        }
    }
    let mask = (1u64 << bits) - 1;
    let mut map: std::collections::HashMap<u32, Feature> = std::collections::HashMap::new();
    for (g, seed) in grams {
        let h = fnv1a(g.as_bytes(), seed);
        let bucket = (h & mask) as u32;
        let sign = if (h >> 63) & 1 == 1 { -1.0 } else { 1.0 };
        let e = map.entry(bucket).or_insert_with(|| Feature { bucket, value: 0.0, gram: g.clone() });
        e.value += sign;
        // Keep the most readable gram for the explanation: words over character n-grams.
        if e.gram.starts_with("c:") && !g.starts_with("c:") {
            e.gram = g;
        }
    }
    let mut feats: Vec<Feature> = map.into_values().filter(|f| f.value != 0.0).collect();
    for f in &mut feats {
        f.value = f.value.signum() * (1.0 + f.value.abs()).ln();
    }
    let norm = feats.iter().map(|f| f.value * f.value).sum::<f32>().sqrt();
    if norm > 0.0 {
        for f in &mut feats {
            f.value /= norm;
        }
    }
    feats.sort_by_key(|f| f.bucket);
    feats
}
