//! The researcher: retrieves iteratively, each hop shaped by what the last one found.
//!
//! - Bridge questions: hop 1 searches the question; the best passage names the bridge entity,
//!   so hop 2 searches the question together with that passage's opening sentence, and the
//!   documents the passage mentions by title (its links) are candidates too. The passages are
//!   ranked by reciprocal-rank fusion of both hops, with a bonus for linked documents.
//! - Comparisons: one lookup per side (the entity's own document by title, else its best
//!   search hit), then the question's own hits.

use crate::corpus::{Corpus, Passage};
use crate::state::{Hop, Kind, Research};
use async_trait::async_trait;
use genai_agent::{Ctx, Node, StepError};
use std::collections::HashMap;
use std::sync::Arc;

/// How the researcher searches. The defaults were chosen on the first 100 public HotpotQA
/// questions (see the book chapter); they are not fitted to the rest.
#[derive(Debug, Clone, Copy)]
pub struct Strategy {
    /// Passages per search.
    pub depth: usize,
    /// RRF's constant.
    pub rrf_k: f64,
    /// The fused-score bonus of a document the first hop's best passage mentions by title.
    pub link_bonus: f64,
    /// Weight of the second hop in the fusion (the first hop has 1).
    pub hop2_weight: f64,
    /// Passages kept as evidence.
    pub keep: usize,
}

impl Default for Strategy {
    fn default() -> Self {
        Self { depth: 20, rrf_k: 60.0, link_bonus: 0.02, hop2_weight: 1.0, keep: 10 }
    }
}

pub struct Researcher {
    pub corpus: Arc<Corpus>,
    pub strategy: Strategy,
}

impl Researcher {
    async fn search(&self, ctx: &Ctx, query: &str) -> Result<Vec<Passage>, StepError> {
        let (corpus, depth) = (self.corpus.clone(), self.strategy.depth);
        let q = query.to_string();
        ctx.call("search", || async move {
            corpus.search(&q, depth).await.map_err(|e| StepError::Transient(format!("{e:#}")))
        })
        .await
    }
}

#[async_trait]
impl Node<Research> for Researcher {
    async fn run(&self, s: &mut Research, ctx: &Ctx) -> Result<(), StepError> {
        let plan = s.plan.clone().ok_or_else(|| StepError::Permanent("the researcher needs a plan".into()))?;
        let st = self.strategy;
        let rrf = |rank: usize| 1.0 / (st.rrf_k + rank as f64 + 1.0);
        let question = s.question.clone();
        let hop1 = self.search(ctx, &question).await?;
        s.hops.push(Hop { query: question.clone(), reason: "the question".into(), titles: titles(&hop1) });
        let mut pool: HashMap<String, (Passage, f64)> = HashMap::new();
        let mut add = |p: &Passage, score: f64| {
            pool.entry(p.title.clone()).or_insert_with(|| (p.clone(), 0.0)).1 += score;
        };
        for (r, p) in hop1.iter().enumerate() {
            add(p, rrf(r));
        }
        let mut head: Vec<Passage> = Vec::new();
        match plan.kind {
            Kind::Comparison => {
                for entity in &plan.entities {
                    let own = match self.corpus.by_title(entity) {
                        Some(p) => vec![p],
                        None => self.search(ctx, entity).await?,
                    };
                    s.hops.push(Hop {
                        query: entity.clone(),
                        reason: "one side of the comparison".into(),
                        titles: titles(&own),
                    });
                    if let Some(p) = own.first().filter(|p| !head.iter().any(|h| h.title == p.title)) {
                        head.push(p.clone());
                    }
                }
            }
            Kind::Bridge => {
                if let Some(first) = hop1.first().cloned() {
                    // Hop 2 is shaped by hop 1: the best passage's opening names the bridge.
                    let opening = first.opening();
                    let query = format!("{question} {opening}");
                    let hop2 = self.search(ctx, &query).await?;
                    s.hops.push(Hop {
                        query,
                        reason: format!("the bridge from \"{}\"", first.title),
                        titles: titles(&hop2),
                    });
                    for (r, p) in hop2.iter().enumerate() {
                        add(p, st.hop2_weight * rrf(r));
                    }
                    for (r, title) in self.corpus.mentioned_titles(&first.text, &first.title).iter().take(5).enumerate()
                    {
                        if let Some(p) = self.corpus.by_title(title) {
                            add(&p, st.link_bonus / (r as f64 + 1.0));
                        }
                    }
                    head.push(first);
                }
            }
        }
        let mut rest: Vec<(Passage, f64)> =
            pool.into_values().filter(|(p, _)| !head.iter().any(|h| h.title == p.title)).collect();
        rest.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.title.cmp(&b.0.title)));
        s.evidence = head.into_iter().chain(rest.into_iter().map(|(p, _)| p)).take(st.keep).collect();
        Ok(())
    }
}

fn titles(ps: &[Passage]) -> Vec<String> {
    ps.iter().take(5).map(|p| p.title.clone()).collect()
}
