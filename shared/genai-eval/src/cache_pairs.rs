//! The semantic cache measured on labelled pairs: how many real duplicate questions it would
//! serve (QQP duplicates hit) against how many different questions it would wrongly serve
//! (false hits on QQP non-duplicates and on PAWS look-alikes), for the anchors' cosine defaults,
//! a calibrated cosine, and the pair guard.
//!
//! Training and calibration ([`train`]) see only the training half; the report ([`evaluate`])
//! is on the other half (or on a held-out file read whole).

use crate::pairs::Pair;
use crate::stats::{Interval, interval};
use genai_cache::guard::{self, GuardParams, PairGuard, Row};
use genai_embed::Embedder;
use serde::Serialize;
use std::collections::HashMap;

/// One source of pairs with their embeddings and cosines.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub pairs: Vec<Pair>,
    /// Each pair's two unit embeddings.
    pub vectors: Vec<(Vec<f32>, Vec<f32>)>,
    pub cosines: Vec<f32>,
}

/// Embeds every distinct text once and returns each pair's two vectors.
pub async fn embed(
    embedder: &dyn Embedder,
    pairs: &[Pair],
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<(Vec<f32>, Vec<f32>)>> {
    let mut texts: Vec<String> = pairs.iter().flat_map(|p| [p.a.clone(), p.b.clone()]).collect();
    texts.sort();
    texts.dedup();
    bar.set_length(texts.len() as u64);
    let mut vectors: HashMap<String, Vec<f32>> = HashMap::with_capacity(texts.len());
    for batch in texts.chunks(128) {
        let v = embedder.embed(batch).await?;
        vectors.extend(batch.iter().cloned().zip(v));
        bar.inc(batch.len() as u64);
    }
    Ok(pairs.iter().map(|p| (vectors[&p.a].clone(), vectors[&p.b].clone())).collect())
}

/// Reads QQP and PAWS (in that order) and embeds them; `progress` shows a bar per source.
pub async fn load_sources(
    embedder: &dyn Embedder,
    qqp: &std::path::Path,
    paws: &std::path::Path,
    half: crate::pairs::Half,
    progress: bool,
) -> anyhow::Result<Vec<Source>> {
    use anyhow::Context;
    let mut sources = Vec::new();
    for (name, path) in [("QQP", qqp), ("PAWS", paws)] {
        let pairs = crate::pairs::read(path, half).with_context(|| format!("reading {name} pairs"))?;
        let bar = if progress { indicatif::ProgressBar::new(0) } else { indicatif::ProgressBar::hidden() };
        bar.set_style(indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} ({eta})")?);
        bar.set_message(format!("embedding {name}"));
        let vectors = embed(embedder, &pairs, &bar).await?;
        bar.finish_and_clear();
        let cosines = vectors.iter().map(|(u, v)| genai_cache::cosine(u, v)).collect();
        sources.push(Source { name: name.to_owned(), pairs, vectors, cosines });
    }
    Ok(sources)
}

/// The guard's training rows for the pairs `keep` selects: each pair in both directions (the
/// guard averages both).
fn rows(source: &Source, keep: impl Fn(usize) -> bool) -> (Vec<Row>, Vec<bool>) {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for (_, (p, (u, v))) in source.pairs.iter().zip(&source.vectors).enumerate().filter(|(i, _)| keep(*i)) {
        x.push(guard::features::extract(&p.a, &p.b, u, v));
        x.push(guard::features::extract(&p.b, &p.a, v, u));
        y.extend([p.same, p.same]);
    }
    (x, y)
}

/// The least threshold at which at most `max_false` of the different-meaning pairs score at or
/// above it.
pub fn threshold_for(scores: &[f32], same: &[bool], max_false: f32) -> f32 {
    let mut negatives: Vec<f32> = scores.iter().zip(same).filter(|(_, s)| !**s).map(|(p, _)| *p).collect();
    negatives.sort_by(|a, b| b.total_cmp(a));
    let allowed = (max_false * negatives.len() as f32).floor() as usize;
    negatives.get(allowed).map_or(f32::MIN, |p| next_up(*p))
}

fn next_up(x: f32) -> f32 {
    if x >= 0.0 { f32::from_bits(x.to_bits() + 1) } else { f32::from_bits(x.to_bits() - 1) }
}

/// Trains the guard on the sources (the training half) and calibrates its threshold on
/// out-of-fold probabilities (two folds), so the threshold is not chosen on scores the model
/// has fitted: at most `max_false` false hits on every source.
pub fn train(
    sources: &[Source],
    params: GuardParams,
    max_false: f32,
    embedder: &str,
    trained_on: &str,
) -> anyhow::Result<PairGuard> {
    let mut out_of_fold: Vec<Vec<f32>> = sources.iter().map(|s| vec![0.0; s.pairs.len()]).collect();
    for fold in 0..2 {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for s in sources {
            let (rx, ry) = rows(s, |i| i % 2 != fold);
            x.extend(rx);
            y.extend(ry);
        }
        let model = guard::train(&x, &y, params, embedder, trained_on)?;
        for (s, oof) in sources.iter().zip(&mut out_of_fold) {
            for (i, (p, (u, v))) in s.pairs.iter().zip(&s.vectors).enumerate().filter(|(i, _)| i % 2 == fold) {
                oof[i] = model.probability(&p.a, &p.b, u, v);
            }
        }
    }
    let min_cosine = genai_cache::CacheConfig::default().min_cosine;
    let mut threshold = 0.5f32;
    for (s, oof) in sources.iter().zip(&out_of_fold) {
        // Pairs under the cache's cosine floor never reach the guard: they cannot be false hits.
        let gated: Vec<f32> =
            oof.iter().zip(&s.cosines).map(|(p, c)| if *c >= min_cosine { *p } else { 0.0 }).collect();
        let same: Vec<bool> = s.pairs.iter().map(|p| p.same).collect();
        threshold = threshold.max(threshold_for(&gated, &same, max_false));
    }
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for s in sources {
        let (rx, ry) = rows(s, |_| true);
        x.extend(rx);
        y.extend(ry);
    }
    // The cosine-only rule at the same target on the same pairs, kept for comparison.
    let mut cosine_only = f32::MIN;
    for s in sources {
        let same: Vec<bool> = s.pairs.iter().map(|p| p.same).collect();
        cosine_only = cosine_only.max(threshold_for(&s.cosines, &same, max_false));
    }
    Ok(guard::train(&x, &y, params, embedder, trained_on)?.with_threshold(threshold, max_false, cosine_only))
}

/// What one decision rule does on one source.
#[derive(Debug, Clone, Serialize)]
pub struct Rates {
    /// Share of same-meaning pairs served (a hit).
    pub hit: Interval,
    /// Share of different-meaning pairs served (a false hit).
    pub false_hit: Interval,
}

fn rates(source: &Source, serve: &[bool]) -> Rates {
    let pick = |want: bool| -> Vec<Option<f64>> {
        source
            .pairs
            .iter()
            .zip(serve)
            .filter(|(p, _)| p.same == want)
            .map(|(_, s)| Some(f64::from(u8::from(*s))))
            .collect()
    };
    Rates { hit: interval(&pick(true)), false_hit: interval(&pick(false)) }
}

/// One decision rule on every source.
#[derive(Debug, Clone, Serialize)]
pub struct Operating {
    pub rule: String,
    /// Per source name.
    pub sources: Vec<(String, Rates)>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct PairsReport {
    pub embedder: String,
    pub guard: guard::GuardHeader,
    pub min_cosine: f32,
    /// The anchors' defaults, the calibrated cosine and the shipped guard, with 95% intervals.
    pub operating: Vec<Operating>,
    /// Guard thresholds and cosine thresholds: point estimates of the trade-off.
    pub curve: Vec<Operating>,
}

/// Evaluates on `sources` (the report half). The cosine-only rule uses the threshold calibrated
/// on the training half, which the guard's model file records.
pub fn evaluate(sources: &[Source], guard: &PairGuard, embedder: &str) -> PairsReport {
    let cosine_threshold = guard.header().cosine_only_threshold;
    let min_cosine = genai_cache::CacheConfig::default().min_cosine;
    let probabilities: Vec<Vec<f32>> = sources
        .iter()
        .map(|s| s.pairs.iter().zip(&s.vectors).map(|(p, (u, v))| guard.probability(&p.a, &p.b, u, v)).collect())
        .collect();
    let by_cosine =
        |t: f32| -> Vec<Vec<bool>> { sources.iter().map(|s| s.cosines.iter().map(|c| *c >= t).collect()).collect() };
    let by_guard = |t: f32| -> Vec<Vec<bool>> {
        sources
            .iter()
            .zip(&probabilities)
            .map(|(s, ps)| s.cosines.iter().zip(ps).map(|(c, p)| *c >= min_cosine && *p >= t).collect())
            .collect()
    };
    let rule = |name: String, serve: Vec<Vec<bool>>| Operating {
        rule: name,
        sources: sources.iter().zip(&serve).map(|(s, v)| (s.name.clone(), rates(s, v))).collect(),
    };
    let shipped = guard.header().threshold;
    let operating = vec![
        rule("RedisVL default: cosine distance <= 0.1 (cosine >= 0.90)".into(), by_cosine(0.9)),
        rule("GPTCache default: similarity >= 0.8 (cosine >= 0.80)".into(), by_cosine(0.8)),
        rule(
            format!("cosine alone, calibrated on the training half (>= {cosine_threshold:.4})"),
            by_cosine(cosine_threshold),
        ),
        rule(format!("pair guard, shipped (cosine >= {min_cosine}, p >= {shipped:.4})"), by_guard(shipped)),
    ];
    let mut curve: Vec<Operating> = [0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995]
        .iter()
        .map(|&t| rule(format!("guard p >= {t}"), by_guard(t)))
        .collect();
    curve.extend([0.8, 0.85, 0.9, 0.95, 0.97, 0.99].iter().map(|&t| rule(format!("cosine >= {t}"), by_cosine(t))));
    PairsReport { embedder: embedder.to_owned(), guard: guard.header().clone(), min_cosine, operating, curve }
}

impl PairsReport {
    /// The table printed by `genai-eval cache-pairs`: percentages, intervals on the operating rows.
    pub fn table(&self) -> String {
        let names: Vec<&str> =
            self.operating.first().map(|o| o.sources.iter().map(|(n, _)| n.as_str()).collect()).unwrap_or_default();
        let mut out = String::from("| rule |");
        for n in &names {
            out.push_str(&format!(" {n} same: hit % | {n} different: false hit % |"));
        }
        out.push_str(&format!("\n|---|{}\n", "---|---|".repeat(names.len())));
        let pct = |i: &Interval, with_ci: bool| {
            if with_ci {
                format!("{:.1} [{:.1}, {:.1}]", 100.0 * i.mean, 100.0 * i.low, 100.0 * i.high)
            } else {
                format!("{:.1}", 100.0 * i.mean)
            }
        };
        for (rows, ci) in [(&self.operating, true), (&self.curve, false)] {
            for o in rows {
                out.push_str(&format!("| {} |", o.rule));
                for (_, r) in &o.sources {
                    out.push_str(&format!(" {} | {} |", pct(&r.hit, ci), pct(&r.false_hit, ci)));
                }
                out.push('\n');
            }
        }
        out
    }

    /// The shipped guard's rates.
    pub fn shipped(&self) -> &Operating {
        &self.operating[3]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_admits_at_most_the_allowed_false_hits() {
        let scores = [0.9, 0.8, 0.7, 0.6, 0.95, 0.5];
        let same = [false, false, false, false, true, false];
        // Five negatives, 20% allowed: one may pass, so the threshold sits just above the second.
        let t = threshold_for(&scores, &same, 0.2);
        assert!(t > 0.8 && t <= 0.9, "{t}");
        assert_eq!(scores.iter().zip(&same).filter(|(s, l)| !**l && **s >= t).count(), 1);
        // 0% allowed: just above the highest negative.
        assert!(threshold_for(&scores, &same, 0.0) > 0.9);
    }
}
