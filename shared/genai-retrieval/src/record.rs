//! What the index stores per chunk, and how it is laid out as a JSON payload.

use crate::IndexError;
use genai_core::{Chunk, ChunkId, DocId, PageRange};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A chunk with its vector and its access attributes, ready to index.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub chunk: Chunk,
    pub vector: Vec<f32>,
    /// Owning tenant; `None` for single-tenant use.
    pub tenant: Option<String>,
    /// Attributes for filtering and access control, e.g. `{"group": ["eng", "hr"], "lang": ["en"]}`.
    pub attrs: BTreeMap<String, Vec<String>>,
}

impl Record {
    /// A record with no tenant and no attributes.
    pub fn new(chunk: Chunk, vector: Vec<f32>) -> Self {
        Self { chunk, vector, tenant: None, attrs: BTreeMap::new() }
    }
}

/// A search result: the chunk, its score under the query mode, and its attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub chunk: Chunk,
    /// Cosine similarity (dense), BM25 (keyword) or the fused RRF score (hybrid).
    pub score: f32,
    /// This chunk's cosine similarity to the query, when the dense leg ranked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dense_score: Option<f32>,
    /// This chunk's BM25 score, when the keyword leg ranked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword_score: Option<f32>,
    pub tenant: Option<String>,
    pub attrs: BTreeMap<String, Vec<String>>,
}

impl Hit {
    /// A hit for `chunk` with score 0 and no tenant or attributes (tests and fixtures).
    pub fn new(chunk: Chunk) -> Self {
        Self { chunk, score: 0.0, dense_score: None, keyword_score: None, tenant: None, attrs: BTreeMap::new() }
    }
}

/// A chunk id with a score, before payloads are fetched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredId {
    pub id: ChunkId,
    pub score: f32,
}

/// Payload keys. Filters address these names, so they are part of the on-disk format.
pub(crate) mod keys {
    pub const DOC_ID: &str = "doc_id";
    pub const SOURCE: &str = "source";
    pub const TENANT: &str = "tenant";
    pub const PAGE_START: &str = "page_start";
    pub const PAGE_END: &str = "page_end";
    pub const ATTRS: &str = "attrs";
}

pub(crate) fn to_payload(r: &Record) -> Value {
    let c = &r.chunk;
    let mut v = json!({
        keys::DOC_ID: c.doc_id.as_str(),
        keys::SOURCE: c.source,
        "ordinal": c.ordinal,
        "text": c.text,
        keys::PAGE_START: c.pages.start,
        keys::PAGE_END: c.pages.end,
        "span_start": c.char_span.start,
        "span_end": c.char_span.end,
        "tokens": c.token_count,
        keys::ATTRS: r.attrs,
    });
    if let Some(t) = &r.tenant {
        v[keys::TENANT] = Value::String(t.clone());
    }
    v
}

pub(crate) fn from_payload(id: u64, score: f32, p: &serde_json::Map<String, Value>) -> Result<Hit, IndexError> {
    let bad = |reason: &str| IndexError::CorruptPayload { id, reason: reason.to_owned() };
    let s = |k: &str| p.get(k).and_then(Value::as_str).ok_or_else(|| bad(&format!("missing string {k}")));
    let n = |k: &str| p.get(k).and_then(Value::as_u64).ok_or_else(|| bad(&format!("missing integer {k}")));
    let doc_id: DocId = s(keys::DOC_ID)?.parse().map_err(|_| bad("doc_id is not a sha256"))?;
    let attrs = match p.get(keys::ATTRS) {
        Some(v) => serde_json::from_value(v.clone()).map_err(|_| bad("attrs is not a map of string lists"))?,
        None => BTreeMap::new(),
    };
    Ok(Hit {
        chunk: Chunk {
            id: ChunkId::from_raw(id),
            doc_id,
            source: s(keys::SOURCE)?.to_owned(),
            ordinal: n("ordinal")? as u32,
            text: s("text")?.to_owned(),
            pages: PageRange::new(n(keys::PAGE_START)? as u32, n(keys::PAGE_END)? as u32),
            char_span: n("span_start")? as usize..n("span_end")? as usize,
            token_count: n("tokens")? as u32,
        },
        score,
        dense_score: None,
        keyword_score: None,
        tenant: p.get(keys::TENANT).and_then(Value::as_str).map(str::to_owned),
        attrs,
    })
}
