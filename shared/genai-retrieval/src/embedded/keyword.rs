//! The keyword side of the embedded index: a tantivy index with BM25 over the chunk text and
//! the filterable fields, beside the Qdrant Edge shard (ADR 0002 records why tantivy and not
//! qdrant-edge 0.7.2's own sparse vectors).
//!
//! Tantivy stores no chunk text: a hit is an id, and the payload comes from the shard.

use super::ATTR_SEPARATOR;
use crate::analyzer::{ANALYZER, analyzer, terms};
use crate::filter::{Condition, Field as FilterField};
use crate::{Filter, IndexError, Record, ScoredId};
use genai_core::ChunkId;
use std::ops::Bound;
use std::path::Path;
use tantivy::collector::TopDocs;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};

/// Memory the writer may buffer before it flushes a segment.
const WRITER_BUDGET: usize = 64 * 1024 * 1024;

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    doc_id: Field,
    source: Field,
    tenant: Field,
    attrs: Field,
    page_start: Field,
    page_end: Field,
    body: Field,
}

/// The read side: searches run concurrently with writes.
pub(crate) struct Keyword {
    reader: IndexReader,
    f: Fields,
}

/// The write side, owned by the index's single writer lock.
pub(crate) struct KeywordWriter {
    writer: IndexWriter<TantivyDocument>,
    f: Fields,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let body = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(ANALYZER).set_index_option(IndexRecordOption::WithFreqs),
    );
    let f = Fields {
        id: b.add_u64_field("id", INDEXED | FAST),
        doc_id: b.add_text_field("doc_id", STRING),
        source: b.add_text_field("source", STRING),
        tenant: b.add_text_field("tenant", STRING),
        attrs: b.add_text_field("attrs", STRING),
        // Indexed, not fast: tantivy 0.27's fast-field range scorer underflows when a boolean
        // intersection seeks backwards (`new_seek - last_seek_pos`); the inverted-index range
        // path has no such issue and page ranges are tiny.
        page_start: b.add_u64_field("page_start", INDEXED),
        page_end: b.add_u64_field("page_end", INDEXED),
        body: b.add_text_field("body", body),
    };
    (b.build(), f)
}

/// Opens the index in `dir`, creating it if the folder has none.
pub(crate) fn open_or_create(dir: &Path, threads: usize) -> Result<(Keyword, KeywordWriter), IndexError> {
    let (schema, f) = schema();
    let exists = dir.join("meta.json").exists();
    std::fs::create_dir_all(dir).map_err(|source| IndexError::Io { path: dir.to_owned(), source })?;
    // Documents sorted by chunk id inside every segment (merges keep the order): scores are then
    // summed in the same order however background merges went, so a rebuilt index ranks
    // bit for bit alike (a learned reranker trained on it is reproducible byte for byte).
    let settings = tantivy::IndexSettings {
        sort_by_field: Some(tantivy::IndexSortByField { field: "id".into(), order: tantivy::Order::Asc }),
        ..tantivy::IndexSettings::default()
    };
    let index = if exists {
        Index::open_in_dir(dir)?
    } else {
        Index::builder().schema(schema).settings(settings).create_in_dir(dir)?
    };
    index.tokenizers().register(ANALYZER, analyzer());
    let writer = index.writer_with_num_threads(threads.max(1), WRITER_BUDGET * threads.max(1))?;
    let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
    Ok((Keyword { reader, f }, KeywordWriter { writer, f }))
}

impl KeywordWriter {
    /// Replaces any document with the same id; visible and durable after [`Keyword::commit`].
    pub fn upsert(&self, records: &[Record]) -> Result<(), IndexError> {
        for r in records {
            let c = &r.chunk;
            self.writer.delete_term(Term::from_field_u64(self.f.id, c.id.get()));
            let mut d = doc!(
                self.f.id => c.id.get(),
                self.f.doc_id => c.doc_id.as_str(),
                self.f.source => c.source.as_str(),
                self.f.page_start => c.pages.start as u64,
                self.f.page_end => c.pages.end as u64,
                self.f.body => c.text.as_str(),
            );
            if let Some(t) = &r.tenant {
                d.add_text(self.f.tenant, t);
            }
            for (name, values) in &r.attrs {
                for v in values {
                    d.add_text(self.f.attrs, format!("{name}{ATTR_SEPARATOR}{v}"));
                }
            }
            self.writer.add_document(d)?;
        }
        Ok(())
    }

    /// Adds documents rebuilt from stored payloads (recovery): the same fields as [`Keyword::upsert`].
    pub fn upsert_hits(&self, hits: &[crate::Hit]) -> Result<(), IndexError> {
        let records: Vec<Record> = hits
            .iter()
            .map(|h| Record {
                chunk: h.chunk.clone(),
                vector: Vec::new(),
                tenant: h.tenant.clone(),
                attrs: h.attrs.clone(),
            })
            .collect();
        self.upsert(&records)
    }

    pub fn delete(&self, filter: &Filter) -> Result<(), IndexError> {
        self.writer.delete_query(self.filter_query(filter))?;
        Ok(())
    }

    pub fn delete_ids(&self, ids: &[ChunkId]) {
        for id in ids {
            self.writer.delete_term(Term::from_field_u64(self.f.id, id.get()));
        }
    }

    /// Makes all pending changes durable (tantivy fsyncs its meta file); call
    /// [`Keyword::reload`] to make them visible.
    pub fn commit(&mut self) -> Result<(), IndexError> {
        self.writer.commit()?;
        Ok(())
    }

    fn filter_query(&self, filter: &Filter) -> Box<dyn Query> {
        filter_query(&self.f, filter)
    }
}

impl Keyword {
    pub fn reload(&self) -> Result<(), IndexError> {
        self.reader.reload()?;
        Ok(())
    }

    /// BM25 top `limit` for `text` among chunks passing `filter`.
    pub fn search(&self, text: &str, limit: usize, filter: Option<&Filter>) -> Result<Vec<ScoredId>, IndexError> {
        let mut unique = terms(text);
        unique.sort();
        unique.dedup();
        let weighted: Vec<(String, f32)> = unique.into_iter().map(|t| (t, 1.0)).collect();
        self.search_terms(&weighted, limit, filter)
    }

    /// BM25 with a weight per (analysed) term: the score is `Σ weight · bm25(term)`.
    pub fn search_terms(
        &self,
        weighted: &[(String, f32)],
        limit: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<ScoredId>, IndexError> {
        if weighted.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let should: Vec<(Occur, Box<dyn Query>)> = weighted
            .iter()
            .map(|(t, w)| {
                let q: Box<dyn Query> =
                    Box::new(TermQuery::new(Term::from_field_text(self.f.body, t), IndexRecordOption::WithFreqs));
                let q: Box<dyn Query> = if *w == 1.0 { q } else { Box::new(BoostQuery::new(q, *w)) };
                (Occur::Should, q)
            })
            .collect();
        let text_query: Box<dyn Query> = Box::new(BooleanQuery::new(should));
        let query: Box<dyn Query> = match filter {
            None => text_query,
            // The filter adds no score: BM25 stays BM25.
            Some(f) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, text_query),
                (Occur::Must, Box::new(ConstScoreQuery::new(self.filter_query(f), 0.0))),
            ])),
        };
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        top.into_iter()
            .map(|(score, addr)| {
                let ids = searcher.segment_reader(addr.segment_ord).fast_fields().u64("id")?;
                let id = ids
                    .first(addr.doc_id)
                    .ok_or(IndexError::CorruptPayload { id: 0, reason: "keyword hit without id".into() })?;
                Ok(ScoredId { id: ChunkId::from_raw(id), score })
            })
            .collect()
    }

    /// Chunk count and document frequency of each (already analysed) term.
    pub fn term_stats(&self, terms: &[String]) -> Result<crate::TermStats, IndexError> {
        let searcher = self.reader.searcher();
        let mut df = std::collections::HashMap::new();
        for t in terms {
            df.insert(t.clone(), searcher.doc_freq(&Term::from_field_text(self.f.body, t))?);
        }
        Ok(crate::TermStats { docs: searcher.num_docs(), df })
    }

    /// Average analysed length, as tantivy's BM25 computes it: all tokens over all documents
    /// (deleted ones included until their segment is merged).
    pub fn avg_len(&self) -> Result<Option<f32>, IndexError> {
        let searcher = self.reader.searcher();
        let (mut tokens, mut docs) = (0u64, 0u64);
        for segment in searcher.segment_readers() {
            tokens += segment.inverted_index(self.f.body)?.total_num_tokens();
            docs += u64::from(segment.max_doc());
        }
        Ok((docs > 0).then(|| tokens as f32 / docs as f32))
    }

    /// Every live id (used by recovery).
    pub fn all_ids(&self) -> Result<Vec<ChunkId>, IndexError> {
        let searcher = self.reader.searcher();
        let mut out = Vec::new();
        for segment in searcher.segment_readers() {
            let ids = segment.fast_fields().u64("id")?;
            out.extend(segment.doc_ids_alive().filter_map(|d| ids.first(d)).map(ChunkId::from_raw));
        }
        Ok(out)
    }

    fn filter_query(&self, filter: &Filter) -> Box<dyn Query> {
        filter_query(&self.f, filter)
    }
}

fn filter_query(f: &Fields, filter: &Filter) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for c in &filter.must {
        clauses.push((Occur::Must, condition(f, c)));
    }
    for c in &filter.must_not {
        if c.is_false() {
            continue; // excludes nothing
        }
        clauses.push((Occur::MustNot, condition(f, c)));
    }
    if filter.must.is_empty() {
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    Box::new(BooleanQuery::new(clauses))
}

fn condition(f: &Fields, c: &Condition) -> Box<dyn Query> {
    let term = |field: &FilterField, value: &str| -> Box<dyn Query> {
        let t = match field {
            FilterField::DocId => Term::from_field_text(f.doc_id, value),
            FilterField::Source => Term::from_field_text(f.source, value),
            FilterField::Tenant => Term::from_field_text(f.tenant, value),
            FilterField::Attr(name) => Term::from_field_text(f.attrs, &format!("{name}{ATTR_SEPARATOR}{value}")),
        };
        Box::new(TermQuery::new(t, IndexRecordOption::Basic))
    };
    match c {
        Condition::Match { field, value } => term(field, value),
        Condition::AnyOf { field, values } => {
            Box::new(BooleanQuery::new(values.iter().map(|v| (Occur::Should, term(field, v))).collect()))
        }
        Condition::Pages { from, to } => {
            let mut parts: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(AllQuery))];
            if let Some(from) = from {
                let lower = Bound::Included(Term::from_field_u64(f.page_end, *from as u64));
                parts.push((Occur::Must, Box::new(RangeQuery::new(lower, Bound::Unbounded))));
            }
            if let Some(t) = to {
                let upper = Bound::Included(Term::from_field_u64(f.page_start, *t as u64));
                parts.push((Occur::Must, Box::new(RangeQuery::new(Bound::Unbounded, upper))));
            }
            Box::new(BooleanQuery::new(parts))
        }
        // Only Should clauses: at least one branch must hold. Impossible branches are left out
        // (with none left the query matches nothing, as `Condition::is_false` says).
        Condition::Any { filters } => Box::new(BooleanQuery::new(
            Condition::live_branches(filters).map(|b| (Occur::Should, filter_query(f, b))).collect(),
        )),
    }
}
