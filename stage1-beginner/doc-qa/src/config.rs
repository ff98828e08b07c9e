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

/// A setting that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config file {path}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("environment variable {name}={value:?} is not valid: {reason}")]
    Env { name: &'static str, value: String, reason: &'static str },
}

impl Config {
    /// Defaults, overridden by `file` (if given, or `doc-qa.toml` in the current folder if it
    /// exists), overridden by the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let default_file = Path::new("doc-qa.toml");
        let path = file.or_else(|| default_file.exists().then_some(default_file));
        let mut config = match path {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|source| ConfigError::Read { path: p.to_owned(), source })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse { path: p.to_owned(), source })?
            }
            None => Config::default(),
        };
        config.apply_env(|k| std::env::var(k).ok())?;
        Ok(config)
    }

    /// Applies `DOC_QA_*` variables read through `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &'static str, v: String, reason: &'static str) -> Result<T, ConfigError> {
            v.parse().map_err(|_| ConfigError::Env { name, value: v, reason })
        }
        fn choice<T: clap::ValueEnum>(name: &'static str, v: String) -> Result<T, ConfigError> {
            T::from_str(&v, true).map_err(|_| ConfigError::Env {
                name,
                value: v,
                reason: "not one of the allowed values",
            })
        }
        if let Some(v) = get("DOC_QA_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("DOC_QA_EMBEDDER") {
            self.embedder = choice("DOC_QA_EMBEDDER", v)?;
        }
        if let Some(v) = get("DOC_QA_MODEL_DIR").or_else(|| get("EMBED_MODEL_DIR")) {
            self.model_dir = Some(v.into());
        }
        if let Some(v) = get("DOC_QA_MODE") {
            self.mode = choice("DOC_QA_MODE", v)?;
        }
        if let Some(v) = get("DOC_QA_ANSWERER") {
            self.answerer = choice("DOC_QA_ANSWERER", v)?;
        }
        if let Some(v) = get("DOC_QA_CONTEXT_TOKENS") {
            self.context_tokens = Some(parse("DOC_QA_CONTEXT_TOKENS", v, "expected a whole number of tokens")?);
        }
        if let Some(v) = get("DOC_QA_TOP_K") {
            self.top_k = parse("DOC_QA_TOP_K", v, "expected a whole number")?;
        }
        if let Some(v) = get("DOC_QA_REFUSAL_THRESHOLD") {
            self.refusal_threshold = Some(parse("DOC_QA_REFUSAL_THRESHOLD", v, "expected a number between 0 and 1")?);
        }
        if let Some(v) = get("DOC_QA_MAX_FILE_BYTES") {
            self.max_file_bytes = parse("DOC_QA_MAX_FILE_BYTES", v, "expected a whole number of bytes")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_override_defaults() {
        let mut c: Config = toml::from_str("top_k = 3\nembedder = \"minilm\"").unwrap();
        assert_eq!((c.top_k, c.embedder, c.chunk_tokens), (3, EmbedderChoice::Minilm, 500));
        c.apply_env(|k| (k == "DOC_QA_TOP_K").then(|| "7".to_owned())).unwrap();
        assert_eq!(c.top_k, 7);
        assert!(c.apply_env(|k| (k == "DOC_QA_MODE").then(|| "fuzzy".to_owned())).is_err());
        assert!(toml::from_str::<Config>("unknown_key = 1").is_err(), "typos are errors, not ignored");
    }
}
