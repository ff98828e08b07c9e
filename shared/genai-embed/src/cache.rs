//! An on-disk vector cache keyed by (model id, SHA-256 of the text), so re-indexing the same
//! corpus, or re-running an evaluation, embeds only what changed.
//!
//! Format: one append-only file per model id, a sequence of records `[32-byte sha256][dim × f32 LE]`.
//! A crash can leave a torn last record; loading ignores an incomplete tail and truncates it.
//! It is a cache: losing it costs time, never correctness.

use crate::{EmbedError, Embedder};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

type Key = [u8; 32];

/// Wraps an embedder; texts seen before (by this model) are served from disk.
///
/// Production note: the whole cache is held in memory (4 × dim bytes per text, ~1.5 KB at 384
/// dims); past a few million texts, put it in a key-value store instead.
#[derive(Debug)]
pub struct CachedEmbedder {
    inner: Arc<dyn Embedder>,
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    vectors: HashMap<Key, Vec<f32>>,
    file: BufWriter<File>,
    hits: u64,
    misses: u64,
}

impl CachedEmbedder {
    /// Opens (or creates) the cache for `inner`'s model inside `dir`.
    pub fn open(inner: Arc<dyn Embedder>, dir: &Path) -> Result<Self, EmbedError> {
        let safe: String = inner
            .model_id()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
            .collect();
        let path = dir.join(format!("{safe}.vectors"));
        let err = |source| EmbedError::Cache { path: path.clone(), source };
        std::fs::create_dir_all(dir).map_err(err)?;
        let record = 32 + 4 * inner.dim();
        let mut bytes = Vec::new();
        if path.exists() {
            File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(err)?;
        }
        let whole = bytes.len() / record * record;
        let mut vectors = HashMap::with_capacity(whole / record);
        for rec in bytes[..whole].chunks_exact(record) {
            let mut key = [0u8; 32];
            key.copy_from_slice(&rec[..32]);
            let v = rec[32..].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            vectors.insert(key, v);
        }
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(err)?;
        if whole < bytes.len() {
            tracing::warn!(path = %path.display(), "vector cache had a torn tail record; truncating");
            file.set_len(whole as u64).map_err(err)?;
        }
        Ok(Self { inner, path, state: Mutex::new(State { vectors, file: BufWriter::new(file), hits: 0, misses: 0 }) })
    }

    /// `(hits, misses)` since this cache was opened.
    pub fn stats(&self) -> (u64, u64) {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (s.hits, s.misses)
    }
}

fn key(text: &str) -> Key {
    Sha256::digest(text.as_bytes()).into()
}

#[async_trait]
impl Embedder for CachedEmbedder {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let keys: Vec<Key> = texts.iter().map(|t| key(t)).collect();
        let mut out: Vec<Option<Vec<f32>>> = {
            let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            keys.iter().map(|k| s.vectors.get(k).cloned()).collect()
        };
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| out[i].is_none()).collect();
        if !missing.is_empty() {
            let batch: Vec<String> = missing.iter().map(|&i| texts[i].clone()).collect();
            let fresh = self.inner.embed(&batch).await?;
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let err = |source| EmbedError::Cache { path: self.path.clone(), source };
            for (&i, v) in missing.iter().zip(fresh) {
                if !s.vectors.contains_key(&keys[i]) {
                    s.file.write_all(&keys[i]).map_err(err)?;
                    for x in &v {
                        s.file.write_all(&x.to_le_bytes()).map_err(err)?;
                    }
                    s.vectors.insert(keys[i], v.clone());
                }
                out[i] = Some(v);
            }
            s.file.flush().map_err(err)?;
            s.misses += missing.len() as u64;
        }
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.hits += (texts.len() - missing.len()) as u64;
        Ok(out.into_iter().map(|v| v.unwrap_or_default()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HashingEmbedder;

    #[tokio::test]
    async fn serves_repeats_from_disk_and_survives_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn Embedder> = Arc::new(HashingEmbedder::new(16));
        let texts = vec!["alpha beta".to_owned(), "gamma".to_owned()];
        let first = {
            let c = CachedEmbedder::open(inner.clone(), dir.path()).unwrap();
            let v = c.embed(&texts).await.unwrap();
            assert_eq!(c.stats(), (0, 2));
            v
        };
        let file = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
        let mut f = OpenOptions::new().append(true).open(&file).unwrap();
        f.write_all(&[1, 2, 3]).unwrap(); // a torn record
        drop(f);
        let c = CachedEmbedder::open(inner, dir.path()).unwrap();
        assert_eq!(c.embed(&texts).await.unwrap(), first);
        assert_eq!(c.stats(), (2, 0));
        assert_eq!(std::fs::metadata(&file).unwrap().len() as usize, 2 * (32 + 16 * 4));
    }
}
