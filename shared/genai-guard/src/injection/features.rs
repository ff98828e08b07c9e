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

/// FNV-1a over several byte slices, as if they were one (seed 0: plain FNV-1a). Stable across
/// machines and releases, unlike `std`'s hasher.
pub fn fnv1a(parts: &[&[u8]], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ seed;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The sparse feature vector of `text` (buckets merged, normalised). Character n-grams are
/// hashed without building strings: they are most of the features and all of the cost.
pub fn featurize(text: &str, bits: u32) -> Vec<Feature> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = WORD.find_iter(&lower).map(|m| m.as_str()).collect();
    let mask = (1u64 << bits) - 1;
    let mut map: std::collections::HashMap<u32, Feature> = std::collections::HashMap::with_capacity(words.len() * 12);
    let mut add = |h: u64, gram: Option<String>| {
        let bucket = (h & mask) as u32;
        let sign = if (h >> 63) & 1 == 1 { -1.0 } else { 1.0 };
        let e = map.entry(bucket).or_insert_with(|| Feature { bucket, value: 0.0, gram: String::new() });
        e.value += sign;
        // Keep a readable gram for the explanation: words and pairs, not character n-grams.
        if let Some(g) = gram.filter(|_| e.gram.is_empty()) {
            e.gram = g;
        }
    };
    for w in &words {
        add(fnv1a(&[b"w:", w.as_bytes()], 1), Some(format!("w:{w}")));
    }
    for pair in words.windows(2) {
        add(
            fnv1a(&[b"b:", pair[0].as_bytes(), b" ", pair[1].as_bytes()], 2),
            Some(format!("b:{} {}", pair[0], pair[1])),
        );
    }
    let mut padded: Vec<u8> = Vec::with_capacity(64);
    let mut starts: Vec<usize> = Vec::with_capacity(64);
    for w in &words {
        // Byte offsets of each char of " word " so a window of n chars is one byte slice.
        padded.clear();
        starts.clear();
        padded.push(b' ');
        starts.push(0);
        for (i, _) in w.char_indices() {
            starts.push(1 + i);
        }
        padded.extend_from_slice(w.as_bytes());
        starts.push(padded.len());
        padded.push(b' ');
        starts.push(padded.len());
        let chars = starts.len() - 1;
        for n in 3..=5 {
            for i in 0..chars.saturating_sub(n - 1) {
                add(fnv1a(&[b"c:", &padded[starts[i]..starts[i + n]]], 3), None);
            }
        }
    }
    let mut feats: Vec<Feature> = map.into_values().filter(|f| f.value != 0.0).collect();
    // Sorted before summing: float addition in hash-map order would differ run to run, and the
    // weights file must be reproduced byte for byte.
    feats.sort_by_key(|f| f.bucket);
    for f in &mut feats {
        f.value = f.value.signum() * (1.0 + f.value.abs()).ln();
        if f.gram.is_empty() {
            f.gram.push_str("c:");
        }
    }
    let norm = feats.iter().map(|f| f.value * f.value).sum::<f32>().sqrt();
    if norm > 0.0 {
        for f in &mut feats {
            f.value /= norm;
        }
    }
    feats
}
