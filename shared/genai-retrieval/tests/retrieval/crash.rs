//! `kill -9` during ingestion loses nothing that was acknowledged.
//!
//! The test re-runs its own binary as a child (`child_writer`, active only when
//! `CRASH_WRITER_DIR` is set) that upserts batches and prints `ACK <n>` after each returns. The
//! parent kills it with SIGKILL mid-stream, reopens the index and checks every acknowledged chunk
//! is there, in both the vector store and the keyword index.

use crate::embedder;
use genai_core::{Chunk, ChunkId, DocId, PageRange};
use genai_embed::HashingEmbedder;
use genai_retrieval::{EmbeddedConfig, EmbeddedIndex, Index, Record};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BATCH: usize = 200;

fn batch(n: usize) -> Vec<Record> {
    let e = HashingEmbedder::default();
    let doc = DocId::from_content(format!("crash-{n}").as_bytes());
    (0..BATCH)
        .map(|i| {
            let text = format!("batch{n} item{i} durable write marker");
            let chunk = Chunk {
                id: ChunkId::derive(&doc, "crash", i),
                doc_id: doc.clone(),
                source: format!("batch{n}.txt"),
                ordinal: i as u32,
                pages: PageRange::single(1),
                char_span: 0..text.chars().count(),
                token_count: 8,
                text,
            };
            Record::new(chunk.clone(), e.embed_one(&chunk.text))
        })
        .collect()
}

#[tokio::test]
async fn child_writer() {
    let Ok(dir) = std::env::var("CRASH_WRITER_DIR") else { return };
    let e = embedder();
    let index = EmbeddedIndex::open(dir.as_ref(), e.model_id(), e.dim(), EmbeddedConfig::default()).unwrap();
    for n in 0.. {
        index.upsert(batch(n)).await.unwrap();
        println!("ACK {n}");
    }
}

#[tokio::test]
async fn kill_9_during_ingest_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash::child_writer", "--nocapture", "--test-threads=1"])
        .env("CRASH_WRITER_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut acked: Option<usize> = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        if let Some(n) = line.unwrap().strip_prefix("ACK ") {
            acked = Some(n.trim().parse().unwrap());
            if acked == Some(7) {
                break;
            }
        }
    }
    // SIGKILL while the child is in the middle of its next batch.
    child.kill().unwrap();
    child.wait().unwrap();
    let acked = acked.expect("child acknowledged writes before the kill");

    let e = embedder();
    let index = EmbeddedIndex::open(dir.path(), e.model_id(), e.dim(), EmbeddedConfig::default()).unwrap();
    let count = index.count(None).await.unwrap() as usize;
    assert!(count >= (acked + 1) * BATCH, "{count} chunks survived, {} were acknowledged", (acked + 1) * BATCH);
    for n in 0..=acked {
        let ids: Vec<ChunkId> = batch(n).iter().map(|r| r.chunk.id).collect();
        assert_eq!(index.fetch(&ids).await.unwrap().len(), BATCH, "batch {n} incomplete in the vector store");
        let kw = index.keyword(&format!("batch{n}"), 1000, None).await.unwrap();
        assert_eq!(kw.len(), BATCH, "batch {n} incomplete in the keyword index");
    }
    // Whatever was not acknowledged is either wholly present in both stores or absent from both.
    assert_eq!(index.keyword("durable", 100_000, None).await.unwrap().len(), count);
}
