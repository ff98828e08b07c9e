//! Copying an index to another backend (embedded → Qdrant server when one machine is no longer
//! enough, or back), checked by counts and by a sample of searches run on both sides.

use crate::{Index, IndexError, Record};
use serde::Serialize;
use std::collections::HashSet;
use std::time::Instant;

/// Records per page read from the source and written (durably) to the target.
const PAGE: usize = 1_000;
/// Records kept aside to search both indexes with after the copy.
const SAMPLE: usize = 100;

/// What a migration did and how closely the two indexes agree afterwards.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    pub copied: u64,
    pub source_count: u64,
    pub target_count: u64,
    pub seconds: f64,
    /// Searches compared (each sampled record gives one dense and one keyword search).
    pub sampled: usize,
    /// Share of sampled records that the target finds first when searched with their own vector.
    pub dense_self_hit: f64,
    /// Mean share of the source's top 10 that the target's top 10 also holds, per mode.
    pub dense_overlap_at_10: f64,
    pub keyword_overlap_at_10: f64,
}

impl MigrationReport {
    /// Counts match and every sampled record finds itself: what `genai-eval migrate` requires.
    pub fn is_consistent(&self) -> bool {
        self.source_count == self.target_count && self.copied == self.source_count && self.dense_self_hit >= 0.99
    }
}

/// Copies every record of `from` into `to` (upserts by id, so a re-run resumes safely) and then
/// compares the two on a sample. `on_page` is told how many records have been copied so far.
pub async fn migrate(from: &dyn Index, to: &dyn Index, on_page: impl Fn(u64)) -> Result<MigrationReport, IndexError> {
    if from.info().model_id != to.info().model_id || from.info().dim != to.info().dim {
        return Err(IndexError::EmbedderMismatch {
            location: to.info().backend.to_owned(),
            stored_model: to.info().model_id.clone(),
            stored_dim: to.info().dim,
            requested_model: from.info().model_id.clone(),
            requested_dim: from.info().dim,
        });
    }
    let started = Instant::now();
    let source_count = from.count(None).await?;
    let stride = (source_count as usize / SAMPLE).max(1);
    let mut sample: Vec<Record> = Vec::new();
    let (mut copied, mut cursor, mut seen) = (0u64, None, 0usize);
    loop {
        let page = from.export(cursor, PAGE).await?;
        for r in &page.records {
            if seen % stride == 0 && sample.len() < SAMPLE {
                sample.push(r.clone());
            }
            seen += 1;
        }
        copied += page.records.len() as u64;
        to.upsert(page.records).await?;
        on_page(copied);
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    to.optimize().await?;
    let target_count = to.count(None).await?;
    let (mut self_hits, mut dense_overlap, mut keyword_overlap) = (0usize, 0.0, 0.0);
    for r in &sample {
        let a = from.dense(r.vector.clone(), 10, None).await?;
        let b = to.dense(r.vector.clone(), 10, None).await?;
        self_hits += usize::from(b.first().is_some_and(|h| h.id == r.chunk.id));
        dense_overlap += overlap(&a, &b);
        let words: Vec<&str> = r.chunk.text.split_whitespace().take(12).collect();
        let text = words.join(" ");
        keyword_overlap += overlap(&from.keyword(&text, 10, None).await?, &to.keyword(&text, 10, None).await?);
    }
    let n = sample.len().max(1) as f64;
    Ok(MigrationReport {
        copied,
        source_count,
        target_count,
        seconds: started.elapsed().as_secs_f64(),
        sampled: sample.len(),
        dense_self_hit: self_hits as f64 / n,
        dense_overlap_at_10: dense_overlap / n,
        keyword_overlap_at_10: keyword_overlap / n,
    })
}

fn overlap(a: &[crate::ScoredId], b: &[crate::ScoredId]) -> f64 {
    if a.is_empty() {
        return if b.is_empty() { 1.0 } else { 0.0 };
    }
    let b: HashSet<_> = b.iter().map(|h| h.id).collect();
    a.iter().filter(|h| b.contains(&h.id)).count() as f64 / a.len() as f64
}
