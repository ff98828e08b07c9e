//! Recorded model calls: a [`ChatModel`] that answers from a JSON file of earlier answers,
//! keyed by a hash of the request. `Record` calls the real model for a request it has not seen
//! and saves the answer; `Replay` never calls a model and fails on an unseen request, so a
//! report built on replayed judgments is reproducible byte for byte.

use async_trait::async_trait;
use futures::stream::BoxStream;
use genai_llm::{ChatModel, ChatRequest, ChatResponse, LlmError, StreamEvent};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Whether unseen requests may reach the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CassetteMode {
    Record,
    Replay,
}

/// A cassette file in front of an optional model.
#[derive(Debug)]
pub struct Cassette {
    inner: Option<Arc<dyn ChatModel>>,
    path: PathBuf,
    mode: CassetteMode,
    entries: Mutex<BTreeMap<String, ChatResponse>>,
    name: String,
}

impl Cassette {
    /// Opens (or starts) the cassette at `path`. `Record` needs a model.
    pub fn open(path: PathBuf, mode: CassetteMode, inner: Option<Arc<dyn ChatModel>>) -> Result<Self, LlmError> {
        let entries = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| LlmError::Malformed { reason: format!("cassette {}: {e}", path.display()) })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(LlmError::Malformed { reason: format!("cassette {}: {e}", path.display()) }),
        };
        if mode == CassetteMode::Record && inner.is_none() {
            return Err(LlmError::Malformed { reason: "recording a cassette needs a model".into() });
        }
        let name = inner.as_ref().map_or_else(|| "cassette".to_owned(), |m| m.name().to_owned());
        Ok(Self { inner, path, mode, entries: Mutex::new(entries), name })
    }

    /// Requests on the cassette.
    pub fn len(&self) -> usize {
        self.entries.lock().expect("cassette").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn key(req: &ChatRequest) -> String {
        let bytes = serde_json::to_vec(req).unwrap_or_default();
        hex::encode(Sha256::digest(bytes))
    }

    fn save(&self) -> Result<(), LlmError> {
        let text = {
            let entries = self.entries.lock().expect("cassette");
            serde_json::to_vec_pretty(&*entries).map_err(|e| LlmError::Malformed { reason: e.to_string() })?
        };
        std::fs::write(&self.path, text)
            .map_err(|e| LlmError::Malformed { reason: format!("cannot write cassette {}: {e}", self.path.display()) })
    }
}

#[async_trait]
impl ChatModel for Cassette {
    fn name(&self) -> &str {
        &self.name
    }

    fn endpoint(&self) -> &str {
        "cassette"
    }

    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let key = Self::key(req);
        if let Some(hit) = self.entries.lock().expect("cassette").get(&key).cloned() {
            return Ok(hit);
        }
        match (self.mode, &self.inner) {
            (CassetteMode::Record, Some(model)) => {
                let resp = model.chat(req).await?;
                self.entries.lock().expect("cassette").insert(key, resp.clone());
                self.save()?;
                Ok(resp)
            }
            _ => Err(LlmError::Malformed {
                reason: format!("request {key} is not on the cassette {}; record it with a model", self.path.display()),
            }),
        }
    }

    async fn stream(&self, _req: &ChatRequest) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError> {
        Err(LlmError::Malformed { reason: "cassettes replay complete answers, not streams".into() })
    }
}
