//! Token-aware chunking with provenance.
//!
//! Sizes are measured in cl100k_base tokens (the tokenizer of the GPT-4 family, and a fair proxy
//! for others), because context windows and prices are counted in tokens, not characters.
//! `text-splitter` picks the largest semantic unit that fits (paragraph, then sentence, then
//! word), so chunks end at natural boundaries whenever one is available.

use crate::IngestError;
use genai_core::{Chunk, ChunkId, Document};
use text_splitter::TextSplitter;
use tiktoken_rs::{CoreBPE, cl100k_base_singleton};

/// Chunk size and overlap in tokens. Defaults: 500 and 50, the seed roadmap's first RAG system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkConfig {
    pub max_tokens: usize,
    /// Tokens a chunk may share with the previous one, so a sentence cut at a boundary is still
    /// whole in one of them. Must be below `max_tokens`.
    pub overlap: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        Self { max_tokens: 500, overlap: 50 }
    }
}

/// Splits documents into [`Chunk`]s.
pub struct Chunker {
    splitter: TextSplitter<&'static CoreBPE>,
    config: ChunkConfig,
    tag: String,
}

impl std::fmt::Debug for Chunker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunker").field("config", &self.config).finish()
    }
}

impl Chunker {
    pub fn new(config: ChunkConfig) -> Result<Self, IngestError> {
        let invalid = IngestError::InvalidChunkConfig { size: config.max_tokens, overlap: config.overlap };
        if config.max_tokens == 0 {
            return Err(invalid);
        }
        let splitter_config = text_splitter::ChunkConfig::new(config.max_tokens)
            .with_overlap(config.overlap)
            .map_err(|_| invalid)?
            .with_sizer(cl100k_base_singleton());
        Ok(Self {
            splitter: TextSplitter::new(splitter_config),
            config,
            tag: format!("cl100k_base:{}:{}", config.max_tokens, config.overlap),
        })
    }

    pub fn config(&self) -> ChunkConfig {
        self.config
    }

    /// Identifies the settings; part of every chunk id so different settings never collide.
    pub fn settings_tag(&self) -> &str {
        &self.tag
    }

    // ANCHOR: chunk
    /// Splits `doc` into chunks, in order. Chunks are trimmed, so whitespace between two chunks
    /// belongs to neither; every other character is in at least one chunk.
    pub fn chunk(&self, doc: &Document) -> Vec<Chunk> {
        let text = doc.text();
        let starts = doc.page_starts();
        self.splitter
            .chunk_char_indices(&text)
            .enumerate()
            .map(|(ordinal, piece)| {
                let span = piece.char_offset..piece.char_offset + piece.chunk.chars().count();
                Chunk {
                    id: ChunkId::derive(&doc.id, &self.tag, ordinal),
                    doc_id: doc.id.clone(),
                    source: doc.source.clone(),
                    ordinal: ordinal as u32,
                    text: piece.chunk.to_owned(),
                    pages: doc.pages_of(&starts, &span),
                    char_span: span,
                    token_count: count_tokens(piece.chunk) as u32,
                }
            })
            .collect()
    }
    // ANCHOR_END: chunk
}

/// Tokens in `text` under cl100k_base, counted the way the chunker counts them.
pub fn count_tokens(text: &str) -> usize {
    cl100k_base_singleton().encode_ordinary(text).len()
}
