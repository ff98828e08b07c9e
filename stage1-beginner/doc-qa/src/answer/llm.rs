//! The model answerer: numbered passages in, an answer with `[n]` citations out. Every citation
//! is checked: a number that is not a retrieved passage, or a passage that shares no content word
//! with the sentence citing it, is removed and flagged. The model's refusal is honoured. When the
//! model is unavailable, the offline answer is given instead, flagged as such.

use async_trait::async_trait;
use genai_answer::{Answer, Answerer, Extractive, NumberedCitation, cite, refusal};
use genai_llm::{ChatModel, ChatRequest, Message, Resilient};
use genai_retrieval::{Hit, TermStats, terms};
use regex::Regex;
use std::collections::{BTreeSet, HashSet};
use std::sync::LazyLock;

/// The system prompt (snapshot-tested).
pub const ANSWER_PROMPT: &str = include_str!("../../prompts/answer.md");
/// What the prompt tells the model to answer when the passages do not answer.
pub const REFUSAL_TOKEN: &str = "NOT_IN_DOCUMENTS";

static CITATION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[(\d+(?:\s*,\s*\d+)*)\]").expect("valid regex"));

/// Tokens kept free for the answer.
pub const MAX_ANSWER_TOKENS: u32 = 400;

/// Answers with a model; degrades to `fallback` when the model fails.
#[derive(Debug, Clone)]
pub struct LlmAnswerer {
    model: Resilient,
    fallback: Extractive,
    /// The model's context window in tokens, when known: prompts are cut to fit it.
    context_tokens: Option<u64>,
}

impl LlmAnswerer {
    pub fn new(model: Resilient, fallback: Extractive) -> Self {
        Self { model: model.with_route("doc-qa.answer"), fallback, context_tokens: None }
    }

    /// Budgets every prompt to a context window of `tokens`.
    pub fn with_context_window(mut self, tokens: Option<u64>) -> Self {
        self.context_tokens = tokens;
        self
    }

    /// The passages that fit a window of `window` tokens with the answer's share kept free:
    /// the best-ranked first, the least useful (lowest-ranked) left out first; if even the
    /// first does not fit whole, its text is cut. Counts are cl100k's, and a model's own
    /// tokenizer differs, so a tenth of the window is kept as margin.
    pub fn fit(model: &str, question: &str, hits: &[Hit], window: u64) -> Vec<Hit> {
        let budget = (window * 9 / 10).saturating_sub(u64::from(MAX_ANSWER_TOKENS));
        let cost = |hs: &[Hit]| genai_llm::tokens::count_chat_tokens(model, &Self::messages(question, hs));
        let mut kept: Vec<Hit> = Vec::new();
        for h in hits {
            kept.push(h.clone());
            if cost(&kept) > budget {
                kept.pop();
                break;
            }
        }
        if kept.is_empty()
            && let Some(first) = hits.first()
        {
            // Cut the best passage by words until it fits, halving the words each time.
            let words: Vec<&str> = first.chunk.text.split_whitespace().collect();
            let mut n = words.len();
            while n > 0 {
                let mut cut = first.clone();
                cut.chunk.text = words[..n].join(" ");
                if cost(std::slice::from_ref(&cut)) <= budget {
                    kept.push(cut);
                    break;
                }
                n /= 2;
            }
        }
        kept
    }

    /// The offline answer, flagged with why the model's was not given.
    async fn offline(&self, question: &str, hits: &[Hit], stats: Option<&TermStats>, why: &str) -> Answer {
        let mut a = self.fallback.answer(question, hits, stats).await;
        a.flagged.push(format!("{why}; this is the offline extractive answer"));
        a
    }

    /// The messages sent for `question` over `hits` (snapshot-tested).
    pub fn messages(question: &str, hits: &[Hit]) -> Vec<Message> {
        let mut user = String::from("Passages:\n\n");
        for (i, h) in hits.iter().enumerate() {
            user.push_str(&format!("[{}] ({}, {})\n{}\n\n", i + 1, h.chunk.source, h.chunk.pages, h.chunk.text));
        }
        user.push_str(&format!("Question: {question}"));
        vec![Message::system(ANSWER_PROMPT), Message::user(user)]
    }
}

#[async_trait]
impl Answerer for LlmAnswerer {
    async fn answer(&self, question: &str, hits: &[Hit], stats: Option<&TermStats>) -> Answer {
        let engine = format!("llm:{}", self.model.name());
        if hits.is_empty() {
            return refusal(0.0, &engine);
        }
        let mut window = self.context_tokens;
        let mut overflowed = false;
        let (reply, hits) = loop {
            let fitted = match window {
                Some(w) => Self::fit(self.model.name(), question, hits, w),
                None => hits.to_vec(),
            };
            if fitted.is_empty() {
                return self
                    .offline(question, hits, stats, "the question alone does not fit the model's context window")
                    .await;
            }
            let mut req = ChatRequest::new(Self::messages(question, &fitted));
            req.temperature = Some(0.0);
            req.max_tokens = MAX_ANSWER_TOKENS;
            match self.model.chat(&req).await {
                Ok(r) => break (r.text().trim().to_owned(), fitted),
                // The server counts with its own tokenizer and knows its real window: send
                // half as much once, then give up on the model for this question.
                Err(e @ genai_llm::LlmError::ContextOverflow { .. }) if !overflowed => {
                    tracing::warn!(error = %e, "prompt too long for the model; retrying with half the passages' budget");
                    overflowed = true;
                    let sent = genai_llm::tokens::count_chat_tokens(self.model.name(), &req.messages);
                    window = Some(window.unwrap_or(sent + u64::from(MAX_ANSWER_TOKENS)) / 2);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "model call failed; answering offline");
                    let why = match e {
                        genai_llm::LlmError::ContextOverflow { .. } => {
                            "the prompt did not fit the model's context window (context_overflow)".to_owned()
                        }
                        e => format!("the model was unavailable ({})", e.kind()),
                    };
                    return self.offline(question, hits, stats, &why).await;
                }
            }
        };
        let hits = hits.as_slice();
        if reply.contains(REFUSAL_TOKEN) {
            let mut a = refusal(0.0, &engine);
            a.evidence = None;
            return a;
        }
        check_citations(&reply, hits, engine)
    }
}

// ANCHOR: check_citations
/// Keeps only citations that point at a retrieved passage sharing a content word with the
/// sentence that cites it; renumbers nothing (numbers stay those of the passages).
pub fn check_citations(reply: &str, hits: &[Hit], engine: String) -> Answer {
    let mut flagged = Vec::new();
    let mut used: BTreeSet<usize> = BTreeSet::new();
    let mut text = String::new();
    for sentence in split_keep(reply) {
        let content: HashSet<String> = terms(&CITATION.replace_all(sentence, "")).into_iter().collect();
        let cleaned = CITATION.replace_all(sentence, |caps: &regex::Captures<'_>| {
            let kept: Vec<String> = caps[1]
                .split(',')
                .filter_map(|n| n.trim().parse::<usize>().ok())
                .filter(|&n| {
                    let ok = n >= 1 && n <= hits.len() && {
                        let passage: HashSet<String> = terms(&hits[n - 1].chunk.text).into_iter().collect();
                        content.is_empty() || content.iter().any(|t| passage.contains(t))
                    };
                    if !ok {
                        let why = if n == 0 || n > hits.len() {
                            "is not one of the retrieved passages"
                        } else {
                            "does not support the sentence citing it"
                        };
                        flagged.push(format!("citation [{n}] {why}; removed"));
                    }
                    ok
                })
                .map(|n| {
                    used.insert(n);
                    n.to_string()
                })
                .collect();
            if kept.is_empty() { String::new() } else { format!("[{}]", kept.join(", ")) }
        });
        text.push_str(&cleaned);
    }
    if used.is_empty() {
        flagged.push("the answer cites no retrieved passage; treat it with care".into());
    }
    let citations = used
        .iter()
        .map(|&n| {
            let hit = &hits[n - 1];
            NumberedCitation { number: n, citation: cite(hit, 0..hit.chunk.text.len()) }
        })
        .collect();
    Answer {
        text: text.split_whitespace().collect::<Vec<_>>().join(" "),
        short: None,
        refused: false,
        citations,
        evidence: None,
        engine,
        flagged,
    }
}
// ANCHOR_END: check_citations

/// Sentences with their trailing whitespace, so joining them gives the input back.
fn split_keep(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut last = 0;
    for r in genai_ingest::sentence_spans(text) {
        out.push(&text[last..r.end]);
        last = r.end;
    }
    if last < text.len() {
        out.push(&text[last..]);
    }
    out
}
