//! Configuration: defaults, then a TOML file, then `DOC_QA_*` environment variables, then
//! command-line flags — each later source overriding the earlier.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Which embedder indexes the documents. An index remembers its embedder and refuses another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum EmbedderChoice {
    /// Zero setup; lexical only (searches default to BM25).
    Hashing,
    /// all-MiniLM-L6-v2 from a local folder (`scripts/fetch-minilm.sh`); semantic.
    Minilm,
    /// The OpenAI-compatible server in `OPENAI_BASE_URL`.
    Remote,
}

/// Who writes the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AnswererChoice {
    /// The model in `OPENAI_BASE_URL`/`OPENAI_API_KEY` when set, otherwise extractive.
    Auto,
    /// Offline: the best supporting sentences, cited, or a refusal.
    Extractive,
    /// A model through genai-llm; falls back to extractive when it is unavailable.
    Llm,
}

/// Search mode; `auto` is hybrid with a semantic embedder and BM25 with the hashing one (fusing
/// a lexical dense leg into BM25 makes results worse: see the retrieval-core chapter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ModeChoice {
    Auto,
    Dense,
    Keyword,
    Hybrid,
}

/// Everything doc-qa can be told. Defaults are documented per field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Index, document registry and vector cache (default `data/doc-qa`).
    pub data_dir: PathBuf,
    /// Default `hashing`.
    pub embedder: EmbedderChoice,
    /// MiniLM folder (default: `EMBED_MODEL_DIR`, then `models/all-MiniLM-L6-v2`).
    pub model_dir: Option<PathBuf>,
    /// Default `auto`.
    pub mode: ModeChoice,
    /// Passages retrieved per question (default 5).
    pub top_k: usize,
    /// Chunk size and overlap in cl100k tokens (defaults 500 and 50).
    pub chunk_tokens: usize,
    pub chunk_overlap: usize,
    /// Largest accepted file (default 20 MiB).
    pub max_file_bytes: u64,
    /// Most files per upload request (default 20).
    pub max_files_per_upload: usize,
    /// Longest accepted question in characters (default 2,000).
    pub max_question_chars: usize,
    /// Evidence below this is a refusal ("the documents don't say"). Default: the threshold
    /// calibrated for the embedder's scoring (0.45 lexical, 0.60 semantic; see the book chapter);
    /// recalibrate with `doc-qa eval --sweep`.
    pub refusal_threshold: Option<f64>,
    /// Default `auto`.
    pub answerer: AnswererChoice,
    /// The model's context window in tokens; prompts are cut to fit it. Default: what the
    /// server reports (llama.cpp `/props`, vLLM `/v1/models`), else `OPENAI_CONTEXT_TOKENS`,
    /// else the model family's published window, else no budget.
    pub context_tokens: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data/doc-qa"),
            embedder: EmbedderChoice::Hashing,
            model_dir: None,
            mode: ModeChoice::Auto,
            top_k: 5,
            chunk_tokens: 500,
            chunk_overlap: 50,
            max_file_bytes: 20 * 1024 * 1024,
            max_files_per_upload: 20,
            max_question_chars: 2_000,
            refusal_threshold: None,
            answerer: AnswererChoice::Auto,
            context_tokens: None,
        }
    }
}

/// A setting that could not be read (the shared loader's error: which key, from which layer).
pub use genai_config::ConfigError;

/// doc-qa's layers: `doc-qa.toml`, `DOC_QA_*` variables, and `EMBED_MODEL_DIR` for the model folder.
pub const LAYERS: genai_config::Layers<'static> = genai_config::Layers {
    default_file: "doc-qa.toml",
    env_prefix: "DOC_QA",
    aliases: &[("EMBED_MODEL_DIR", "model_dir")],
    // Read by flags and tests, not settings.
    ignore: &["DOC_QA_ADDR", "DOC_QA_PDF_FONT", "DOC_QA_REAL_SERVER_KEY"],
};

impl Config {
    /// Defaults < `file` (or `doc-qa.toml` in the working directory if it exists) <
    /// `DOC_QA_<SETTING>` variables (`DOC_QA_MODEL_DIR` or `EMBED_MODEL_DIR` for the model folder).
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        LAYERS.load(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn file_then_environment_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("doc-qa.toml");
        std::fs::write(&file, "top_k = 3\nembedder = \"minilm\"").unwrap();
        let c: Config = LAYERS.load_with_env(Some(&file), env(&[])).unwrap();
        assert_eq!((c.top_k, c.embedder, c.chunk_tokens), (3, EmbedderChoice::Minilm, 500));
        let c: Config = LAYERS
            .load_with_env(Some(&file), env(&[("DOC_QA_TOP_K", "7"), ("EMBED_MODEL_DIR", "/m"), ("DOC_QA_ADDR", "x")]))
            .unwrap();
        assert_eq!((c.top_k, c.model_dir), (7, Some(PathBuf::from("/m"))));
        assert!(LAYERS.load_with_env::<Config>(None, env(&[("DOC_QA_MODE", "fuzzy")])).is_err());
        std::fs::write(&file, "unknown_key = 1").unwrap();
        assert!(LAYERS.load_with_env::<Config>(Some(&file), env(&[])).is_err(), "typos are errors, not ignored");
    }
}
