//! The documents the researcher searches: one passage per document (a title and its text),
//! indexed by genai-retrieval (BM25 through the embedded index), plus a title table the
//! researcher uses to follow a mention of one document in another (what a hyperlink is on
//! Wikipedia, where HotpotQA's paragraphs come from).

use anyhow::Context;
use genai_core::{Chunk, ChunkId, DocId, PageRange};
use genai_embed::{Embedder, HashingEmbedder};
use genai_retrieval::{EmbeddedConfig, EmbeddedIndex, Retriever, SearchMode, SearchRequest};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// A passage as the agents pass it around and cite it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    pub title: String,
    pub text: String,
    /// The retrieval score that found it (BM25), 0 when found by title.
    pub score: f32,
}

impl Passage {
    /// The first sentence: what a passage is about (the bridge entity a second hop follows, the
    /// quote a citation shows).
    pub fn opening(&self) -> &str {
        self.text.split(". ").next().unwrap_or(&self.text)
    }
}

/// A four-digit year from 1000 to 2099.
pub(crate) static YEAR: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"\b(1[0-9]{3}|20[0-9]{2})\b").expect("valid regex"));

/// A searchable corpus.
pub struct Corpus {
    retriever: Retriever,
    /// `documents(title, text, year)` in an in-memory SQLite database, built on first use: the
    /// model analyst's SQL tool queries it (`year` is the first year in the text, or NULL).
    table: tokio::sync::OnceCell<sqlx::SqlitePool>,
    /// Lower-cased title → (title, text).
    titles: HashMap<String, (String, String)>,
}

impl std::fmt::Debug for Corpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Corpus").field("documents", &self.titles.len()).finish()
    }
}

/// One connection, so every query sees the one in-memory database.
async fn documents_table<'a>(docs: impl Iterator<Item = &'a (String, String)>) -> anyhow::Result<sqlx::SqlitePool> {
    let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await?;
    sqlx::query("CREATE TABLE documents (title TEXT PRIMARY KEY, text TEXT NOT NULL, year INTEGER)")
        .execute(&pool)
        .await?;
    let mut tx = pool.begin().await?;
    for (title, text) in docs {
        let y: Option<i64> = YEAR.captures(text).and_then(|c| c[1].parse().ok());
        sqlx::query("INSERT OR IGNORE INTO documents (title, text, year) VALUES (?, ?, ?)")
            .bind(title)
            .bind(text)
            .bind(y)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(pool)
}

impl Corpus {
    /// Indexes `docs` (title, text) in `workdir`, reusing an index that already holds them.
    pub async fn build(docs: Vec<(String, String)>, workdir: &Path) -> anyhow::Result<Self> {
        // BM25 is the retrieval leg the agents use; the index still wants a dense vector per
        // passage, and the hashing embedder gives one for free.
        let embedder: Arc<dyn Embedder> = Arc::new(HashingEmbedder::new(64));
        std::fs::create_dir_all(workdir).with_context(|| format!("creating {}", workdir.display()))?;
        let index = EmbeddedIndex::open(workdir, embedder.model_id(), embedder.dim(), EmbeddedConfig::default())?;
        let retriever = Retriever::new(embedder, Arc::new(index))?;
        let mut titles = HashMap::new();
        let mut chunks = Vec::new();
        for (title, text) in docs {
            if titles.insert(title.to_lowercase(), (title.clone(), text.clone())).is_some() {
                continue;
            }
            let passage = format!("{title}\n{text}");
            let id = DocId::from_content(title.as_bytes());
            chunks.push(Chunk {
                id: ChunkId::derive(&id, "agent-corpus", 0),
                doc_id: id,
                source: title,
                ordinal: 0,
                pages: PageRange::single(1),
                char_span: 0..passage.chars().count(),
                token_count: 0,
                text: passage,
            });
        }
        if retriever.index().count(None).await? != chunks.len() as u64 {
            for batch in chunks.chunks(1024) {
                retriever.add(batch.to_vec(), None, &Default::default()).await?;
            }
            retriever.index().optimize().await?;
        }
        Ok(Self { retriever, titles, table: tokio::sync::OnceCell::new() })
    }

    /// The analyst's SQLite table of the documents, built the first time it is asked for (only
    /// a model analyst asks).
    pub async fn table(&self) -> anyhow::Result<&sqlx::SqlitePool> {
        self.table.get_or_try_init(|| documents_table(self.titles.values())).await
    }

    /// Indexes `docs` in a folder under `root` keyed by their content, so an index is reused only
    /// for exactly these documents: a changed corpus (or a `--limit` run) gets its own index
    /// instead of topping up an old one (replaced copies would linger in BM25's statistics, and
    /// deleted documents would stay searchable).
    pub async fn build_cached(docs: Vec<(String, String)>, root: &Path, name: &str) -> anyhow::Result<Self> {
        let key: String = docs.iter().map(|(t, x)| format!("{t}\u{1f}{x}\u{1e}")).collect();
        let key = genai_core::sha256_hex(key.as_bytes());
        Self::build(docs, &root.join(format!("{name}-{}", &key[..16]))).await
    }

    /// Every `.txt` and `.md` file under `dir`: the first line is the title (or the file name).
    pub fn read_dir(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
        let mut docs = Vec::new();
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("reading the corpus folder {}", dir.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt" || e == "md"))
            .collect();
        entries.sort();
        for path in entries {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
            let title = first.trim_start_matches('#').trim();
            let (title, body) = if title.is_empty() || rest.trim().is_empty() {
                (stem, text.trim())
            } else {
                (title.to_string(), rest.trim())
            };
            docs.push((title, body.to_string()));
        }
        anyhow::ensure!(!docs.is_empty(), "no .txt or .md files in {}", dir.display());
        Ok(docs)
    }

    pub fn len(&self) -> usize {
        self.titles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.titles.is_empty()
    }

    /// BM25 search: up to `k` passages, best first.
    pub async fn search(&self, query: &str, k: usize) -> anyhow::Result<Vec<Passage>> {
        let hits = self.retriever.search(&SearchRequest::new(query, SearchMode::Keyword, k)).await?;
        Ok(hits
            .into_iter()
            .filter_map(|h| {
                let (title, text) = self.titles.get(&h.chunk.source.to_lowercase())?;
                Some(Passage { title: title.clone(), text: text.clone(), score: h.score })
            })
            .collect())
    }

    /// The document titled `title` (case-insensitive), if there is one.
    pub fn by_title(&self, title: &str) -> Option<Passage> {
        self.titles.get(&title.to_lowercase()).map(|(t, x)| Passage { title: t.clone(), text: x.clone(), score: 0.0 })
    }

    /// Titles of other documents that `text` mentions, in order of first mention. Only titles
    /// of two or more characters that start at a word boundary count.
    pub fn mentioned_titles(&self, text: &str, skip: &str) -> Vec<String> {
        let lower = text.to_lowercase();
        let mut found: Vec<(usize, String)> = self
            .titles
            .iter()
            .filter(|(t, _)| t.len() >= 2 && t.as_str() != skip.to_lowercase())
            .filter_map(|(t, (title, _))| {
                let at = lower.match_indices(t.as_str()).find(|(i, _)| {
                    let before = lower[..*i].chars().next_back();
                    let after = lower[i + t.len()..].chars().next();
                    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
                })?;
                Some((at.0, title.clone()))
            })
            .collect();
        // Earlier first; at the same place the longer title (the more specific link) first.
        found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.len().cmp(&a.1.len())));
        found.into_iter().map(|(_, t)| t).collect()
    }
}
