//! Near-duplicate chunks: MinHash signatures over word 3-shingles, bucketed with LSH bands, and
//! confirmed with the estimated Jaccard similarity.
//!
//! Exact duplicates (the same file twice) are caught earlier by content hash; this catches the
//! same boilerplate paragraph, licence or disclaimer repeated across files and pages, which would
//! otherwise crowd the top-k with copies of one passage.

use genai_core::Chunk;
use std::collections::HashMap;

const PERMUTATIONS: usize = 64;
const BANDS: usize = 16;
const ROWS: usize = PERMUTATIONS / BANDS;

/// What [`NearDuplicates::filter`] dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DedupReport {
    pub kept: usize,
    pub dropped: usize,
}

/// Remembers the chunks it has kept; later chunks too similar to one of them are dropped.
#[derive(Debug)]
pub struct NearDuplicates {
    threshold: f64,
    signatures: Vec<[u64; PERMUTATIONS]>,
    buckets: HashMap<(usize, u64), Vec<usize>>,
}

impl Default for NearDuplicates {
    /// Threshold 0.9: same passage with a different page number, date or typo fix.
    fn default() -> Self {
        Self::new(0.9)
    }
}

impl NearDuplicates {
    pub fn new(threshold: f64) -> Self {
        Self { threshold, signatures: Vec::new(), buckets: HashMap::new() }
    }

    /// Whether `text` is a near-duplicate of a previously kept text; if not, keeps it.
    pub fn check_and_insert(&mut self, text: &str) -> bool {
        let Some(sig) = signature(text) else { return false };
        let mut candidates: Vec<usize> = Vec::new();
        for band in 0..BANDS {
            if let Some(ids) = self.buckets.get(&(band, band_hash(&sig, band))) {
                candidates.extend(ids);
            }
        }
        if candidates.iter().any(|&i| similarity(&self.signatures[i], &sig) >= self.threshold) {
            return true;
        }
        let id = self.signatures.len();
        for band in 0..BANDS {
            self.buckets.entry((band, band_hash(&sig, band))).or_default().push(id);
        }
        self.signatures.push(sig);
        false
    }

    /// Keeps the chunks that are not near-duplicates of an earlier kept chunk.
    pub fn filter(&mut self, chunks: Vec<Chunk>) -> (Vec<Chunk>, DedupReport) {
        let before = chunks.len();
        let kept: Vec<Chunk> = chunks.into_iter().filter(|c| !self.check_and_insert(&c.text)).collect();
        let report = DedupReport { kept: kept.len(), dropped: before - kept.len() };
        (kept, report)
    }
}

fn signature(text: &str) -> Option<[u64; PERMUTATIONS]> {
    let words: Vec<String> =
        text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    // Very short texts ("Page 3", "Contents") are too unspecific to call duplicates.
    if words.len() < 8 {
        return None;
    }
    let mut sig = [u64::MAX; PERMUTATIONS];
    for shingle in words.windows(3) {
        let base = fnv1a(shingle.join(" ").as_bytes());
        for (i, slot) in sig.iter_mut().enumerate() {
            *slot = (*slot).min(mix(base ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        }
    }
    Some(sig)
}

fn similarity(a: &[u64; PERMUTATIONS], b: &[u64; PERMUTATIONS]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / PERMUTATIONS as f64
}

fn band_hash(sig: &[u64; PERMUTATIONS], band: usize) -> u64 {
    sig[band * ROWS..(band + 1) * ROWS].iter().fold(0xcbf2_9ce4_8422_2325, |h, &v| mix(h ^ v))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// SplitMix64 finaliser: a cheap, well-mixed permutation of u64.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_near_copies_and_keeps_distinct_text() {
        let base = "This manual is provided as is without warranty of any kind, either express or implied, \
                    including fitness for a particular purpose and all the other usual disclaimers that apply here";
        let mut nd = NearDuplicates::default();
        assert!(!nd.check_and_insert(base));
        assert!(nd.check_and_insert(&base.replace("as is", "as-is")), "punctuation change is a duplicate");
        assert!(
            !nd.check_and_insert(
                "The coolant pump must be inspected every six months by a certified technician on duty"
            )
        );
        assert!(!nd.check_and_insert("Page 3"), "short texts are never duplicates");
        assert!(!nd.check_and_insert("Page 3"));
    }
}
