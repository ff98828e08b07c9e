//! The analyst: settles comparisons with tools instead of guessing. Offline, it reads a year (or
//! a number) for each side from that side's passage, asks the calculator for the difference and
//! records the verdict as a fact the writer uses. With a model, it is a ReAct agent over the
//! calculator, date arithmetic and read-only SQL on the corpus's `documents` table, and every
//! tool call it makes becomes a fact. Every model and tool call is journaled.

use crate::corpus::{Corpus, Passage, YEAR};
use crate::state::{Compare, Fact, Kind, Research};
use crate::tools::{Calculator, Dates, Sql, calculate};
use async_trait::async_trait;
use genai_agent::react::{ReactAgent, Tool};
use genai_agent::{Ctx, Node, StepError};
use genai_llm::ChatModel;
use regex::Regex;
use std::sync::Arc;
use std::sync::LazyLock;

static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\b").expect("valid regex"));

const PROMPT: &str = include_str!("../../prompts/analyst.md");

pub struct Analyst {
    /// `None`: the offline analyst.
    pub model: Option<Arc<dyn ChatModel>>,
    pub corpus: Arc<Corpus>,
}

#[async_trait]
impl Node<Research> for Analyst {
    async fn run(&self, s: &mut Research, ctx: &Ctx) -> Result<(), StepError> {
        // Comparisons are what needs computing; a bridge question goes straight to the writer.
        let comparison = s.plan.as_ref().is_some_and(|p| p.kind == Kind::Comparison);
        match &self.model {
            Some(model) if comparison => self.with_model(model.clone(), s, ctx).await,
            Some(_) => Ok(()),
            None => offline(s, ctx).await,
        }
    }
}

impl Analyst {
    async fn with_model(&self, model: Arc<dyn ChatModel>, s: &mut Research, ctx: &Ctx) -> Result<(), StepError> {
        let table =
            self.corpus.table().await.map_err(|e| StepError::Transient(format!("the documents table: {e:#}")))?;
        let tools: Vec<Arc<dyn Tool>> = vec![Arc::new(Calculator), Arc::new(Dates), Arc::new(Sql(table.clone()))];
        let agent = ReactAgent { model, system: PROMPT.into(), tools, max_turns: 6 };
        let passages: Vec<String> = s.evidence.iter().take(4).map(|p| format!("{}: {}", p.title, p.text)).collect();
        let task = format!("Question: {}\n\nPassages:\n{}", s.question, passages.join("\n"));
        let out = agent.run(ctx, &task).await?;
        for a in &out.actions {
            let output = match &a.result {
                Ok(v) => v.to_string(),
                Err(e) => format!("error: {e}"),
            };
            s.facts.push(Fact { tool: a.tool.clone(), input: a.arguments.clone(), output });
        }
        if !out.answer.is_empty() {
            s.facts.push(Fact { tool: "analyst".into(), input: s.question.clone(), output: out.answer });
        }
        Ok(())
    }
}

async fn offline(s: &mut Research, ctx: &Ctx) -> Result<(), StepError> {
    let Some(plan) = s.plan.clone().filter(|p| p.kind == Kind::Comparison && p.entities.len() == 2) else {
        return Ok(());
    };
    let Some(dir) = plan.compare else { return Ok(()) };
    let value = |entity: &str| -> Option<f64> {
        let p = side(&s.evidence, entity)?;
        let re = if matches!(dir, Compare::Earlier | Compare::Later) { &*YEAR } else { &*NUMBER };
        re.captures(&p.text)?.get(1)?.as_str().replace(',', "").parse().ok()
    };
    let (Some(a), Some(b)) = (value(&plan.entities[0]), value(&plan.entities[1])) else { return Ok(()) };
    let expr = format!("{a} - {b}");
    let diff: f64 =
        ctx.call("tool:calculator", || async move { calculate(&expr).map_err(StepError::Permanent) }).await?;
    s.facts.push(Fact { tool: "calculator".into(), input: format!("{a} - {b}"), output: diff.to_string() });
    let first_wins = match dir {
        Compare::Earlier | Compare::Less => diff < 0.0,
        Compare::Later | Compare::More => diff > 0.0,
    };
    if diff != 0.0 {
        let winner = &plan.entities[usize::from(!first_wins)];
        s.facts.push(Fact { tool: "compare".into(), input: format!("{dir:?}"), output: winner.clone() });
    }
    Ok(())
}

/// The passage about `entity`: its own document, else the first that mentions it.
pub fn side<'a>(evidence: &'a [Passage], entity: &str) -> Option<&'a Passage> {
    let e = entity.to_lowercase();
    evidence
        .iter()
        .find(|p| p.title.to_lowercase() == e)
        .or_else(|| {
            evidence.iter().find(|p| p.title.to_lowercase().contains(&e) || e.contains(&p.title.to_lowercase()))
        })
        .or_else(|| evidence.iter().find(|p| p.text.to_lowercase().contains(&e)))
}
