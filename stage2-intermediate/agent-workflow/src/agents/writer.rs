//! The writer: composes a cited answer from the evidence. Offline it is genai-answer's
//! extractive answerer (the best supporting sentences, cited with exact quotes, a short answer
//! span inside them), or the analyst's verdict for a comparison; with a model configured it
//! prompts the model with numbered passages and keeps only citations that exist.

use crate::agents::analyst::side;
use crate::corpus::Passage;
use crate::state::{Cite, Draft, Fact, Kind, Research};
use async_trait::async_trait;
use genai_agent::{Ctx, Node, StepError};
use genai_answer::{Answerer, Extractive, LEXICAL_WEIGHTS};
use genai_core::{Chunk, ChunkId, DocId, PageRange};
use genai_llm::{ChatModel, ChatRequest, Message};
use genai_retrieval::Hit;
use regex::Regex;
use std::sync::{Arc, LazyLock};

const PROMPT: &str = include_str!("../../prompts/writer.md");

pub struct Writer {
    /// `None`: the offline extractive writer.
    pub model: Option<Arc<dyn ChatModel>>,
    /// Passages the writer reads, best first.
    pub read: usize,
}

#[async_trait]
impl Node<Research> for Writer {
    async fn run(&self, s: &mut Research, ctx: &Ctx) -> Result<(), StepError> {
        // Passages the reviewer rejected are not read again.
        let rejected: Vec<String> = s.review.iter().flat_map(|r| r.problems.iter().cloned()).collect();
        let passages: Vec<Passage> = s
            .evidence
            .iter()
            .filter(|p| !rejected.iter().any(|r| r.contains(&format!("\"{}\"", p.title))))
            .take(self.read)
            .cloned()
            .collect();
        s.draft = Some(match &self.model {
            Some(model) => model_draft(ctx, model.as_ref(), &s.question, &passages, &s.facts).await?,
            None => extractive_draft(s, &passages).await,
        });
        Ok(())
    }
}

async fn extractive_draft(s: &Research, passages: &[Passage]) -> Draft {
    let plan = s.plan.as_ref();
    // A bridge question's first passage names the bridge entity; the answer is about that
    // entity, so it is read from the passages after it, and the bridge is cited first.
    let bridge = plan.is_some_and(|p| p.kind == Kind::Bridge) && passages.len() > 1;
    // When those passages give no answer span, the hop-1 passage may hold the answer after all:
    // everything is read.
    let read = |ps: &[Passage]| {
        let hits: Vec<Hit> = ps.iter().map(hit).collect();
        async move { Extractive::new(LEXICAL_WEIGHTS).answer(&s.question, &hits, None).await }
    };
    let (mut lead, mut answer) = (None, None);
    if bridge {
        let a = read(&passages[1..]).await;
        if !a.refused && a.short.is_some() {
            (lead, answer) = (passages.first(), Some(a));
        }
    }
    let answer = match answer {
        Some(a) => a,
        None => read(passages).await,
    };
    let mut citations: Vec<Cite> =
        lead.map(|b| Cite { number: 1, title: b.title.clone(), quote: b.opening().to_string() }).into_iter().collect();
    let offset = citations.len();
    citations.extend(answer.citations.iter().map(|c| Cite {
        number: c.number + offset,
        title: c.citation.source.clone(),
        quote: c.citation.quote.clone(),
    }));
    let best = answer.citations.first().map(|c| c.citation.quote.as_str()).unwrap_or_default();
    let mut short = entity_near_question(&s.question, best, lead.map(|b| b.title.as_str()))
        .or_else(|| answer.short.clone())
        .unwrap_or_else(|| answer.text.clone());
    if let Some(p) = plan.filter(|p| p.kind == Kind::Comparison) {
        // The analyst's verdict wins; otherwise the side the best sentence names.
        let verdict = s.facts.iter().find(|f| f.tool == "compare").map(|f| f.output.clone());
        let named = p.entities.iter().find(|e| answer.text.to_lowercase().contains(&e.to_lowercase())).cloned();
        short = verdict.or(named).unwrap_or_else(|| p.entities[0].clone());
        for e in &p.entities {
            if let Some(side) = side(passages, e).filter(|sp| !citations.iter().any(|c| c.title == sp.title)) {
                citations.push(Cite {
                    number: citations.len() + 1,
                    title: side.title.clone(),
                    quote: side.opening().to_string(),
                });
            }
        }
    }
    let report = if answer.refused && citations.len() == offset {
        answer.text.clone()
    } else {
        let support: Vec<String> = citations.iter().map(|c| format!("{} [{}]", c.quote.trim(), c.number)).collect();
        format!("Answer: {short}\n\n{}", support.join(" "))
    };
    Draft { answer: short, report, citations, engine: "extractive".into() }
}

async fn model_draft(
    ctx: &Ctx,
    model: &dyn ChatModel,
    question: &str,
    passages: &[Passage],
    facts: &[Fact],
) -> Result<Draft, StepError> {
    let numbered: Vec<String> =
        passages.iter().enumerate().map(|(i, p)| format!("[{}] {}\n{}", i + 1, p.title, p.text)).collect();
    let mut user = format!("Question: {question}\n\nPassages:\n{}", numbered.join("\n\n"));
    if !facts.is_empty() {
        // What the analyst's tools computed: the writer cites passages, not these.
        user.push_str("\n\nThe analyst's findings (computed with tools):");
        for f in facts {
            user.push_str(&format!("\n- {}({}) = {}", f.tool, f.input, f.output));
        }
    }
    // A draft without an `Answer:` line is asked for again in the same step, as a new call: a
    // retry of the step would replay the recorded reply, so the check cannot be left to it.
    let mut messages = vec![Message::system(PROMPT), Message::user(user)];
    let mut draft = None;
    for _ in 0..2 {
        let response = ctx.chat(model, &ChatRequest::new(messages.clone())).await?;
        let text = response.text().trim().to_string();
        // The answer line without its citation markers ("Answer: Greenwich Village [2]").
        let line = text.lines().find_map(|l| l.trim().strip_prefix("Answer:"));
        match line.map(|a| MARKER.replace_all(a, "").trim().to_string()).filter(|a| !a.is_empty()) {
            Some(answer) => {
                draft = Some((text, answer));
                break;
            }
            None => {
                messages.push(response.message.clone());
                messages.push(Message::user(
                    "Start your reply with a line `Answer: <short answer>`, then cite the passages.",
                ));
            }
        }
    }
    let (text, answer) =
        draft.ok_or_else(|| StepError::Permanent("the model's drafts have no `Answer:` line".into()))?;
    // Keep only citations that name a passage that exists; the reviewer checks the rest.
    let mut citations = Vec::new();
    for (i, p) in passages.iter().enumerate() {
        if text.contains(&format!("[{}]", i + 1)) {
            let quote = p.opening().to_string();
            citations.push(Cite { number: i + 1, title: p.title.clone(), quote });
        }
    }
    Ok(Draft { answer, report: text, citations, engine: format!("llm:{}", model.name()) })
}

static MARKER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s*\[\d+\]").expect("valid regex"));

/// Most multi-hop questions ask for a named thing ("based in what New York City neighborhood?"):
/// the capitalised span of the supporting sentence, absent from the question and not the bridge
/// entity, that sits closest to the question's own words. `None` when the question asks for a
/// date or an amount (genai-answer's typed spans handle those) or no span qualifies.
fn entity_near_question(question: &str, sentence: &str, bridge: Option<&str>) -> Option<String> {
    let q = question.to_lowercase();
    let typed = ["when", "what year", "which year", "how many", "how much", "how long", "how old", "what date"];
    if typed.iter().any(|t| q.starts_with(t) || q.contains(&format!(" {t}"))) {
        return None;
    }
    let q_words: std::collections::HashSet<String> =
        q.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 2).map(String::from).collect();
    let sentence = sentence.split_once('\n').map_or(sentence, |(_, rest)| rest);
    let anchors: Vec<usize> = sentence
        .match_indices(|c: char| c.is_alphanumeric())
        .filter(|(i, _)| *i == 0 || !sentence[..*i].ends_with(|c: char| c.is_alphanumeric()))
        .map(|(i, _)| i)
        .filter(|&i| {
            let w: String = sentence[i..].chars().take_while(|c| c.is_alphanumeric()).collect();
            q_words.contains(&w.to_lowercase())
        })
        .collect();
    let bridge = bridge.map(str::to_lowercase).unwrap_or_default();
    genai_answer::NAME
        .find_iter(sentence)
        .filter(|m| m.start() > 0)
        .filter(|m| {
            let span = m.as_str().to_lowercase();
            let novel =
                span.split_whitespace().any(|w| !q_words.contains(w.trim_matches(|c: char| !c.is_alphanumeric())));
            novel && !bridge.contains(&span) && !span.contains(&bridge)
        })
        .filter_map(|m| anchors.iter().map(|&a| a.abs_diff(m.start())).min().map(|d| (d, m.as_str())))
        .min_by_key(|(d, _)| *d)
        .map(|(_, span)| span.trim_end_matches(['.', ',']).to_string())
}

/// A passage as a retrieval hit, for genai-answer.
pub fn hit(p: &Passage) -> Hit {
    let text = format!("{}\n{}", p.title, p.text);
    let id = DocId::from_content(p.title.as_bytes());
    Hit::new(Chunk {
        id: ChunkId::derive(&id, "agent-corpus", 0),
        doc_id: id,
        source: p.title.clone(),
        ordinal: 0,
        pages: PageRange::single(1),
        char_span: 0..text.chars().count(),
        token_count: 0,
        text,
    })
}
