//! Evaluation of retrieval (and, as milestones arrive, of answers) on external datasets.
//!
//! - [`beir`] reads the BEIR layout (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).
//! - [`metrics`] computes nDCG@k with graded gains, recall@k, MRR@k and MAP@k exactly as
//!   trec_eval/pytrec_eval do, so numbers compare with published ones.
//! - [`rag`] scores RAG answers natively: context precision/recall from ids, faithfulness as
//!   claim support (offline overlap judge, or a model judge recorded to a cassette), answer
//!   relevancy; not-applicable is `None`, never NaN.
//! - [`locomo`] reads LoCoMo conversations and scores answers with its official per-category F1.
//! - [`squad`] reads SQuAD v1.1 and scores answers with its official EM/F1, plus containment.
//! - [`retrieval`] indexes a BEIR corpus (or HotpotQA's pooled paragraphs, [`hotpot`]) with a
//!   chosen embedder, search mode and reranker, runs every judged query, and reports quality
//!   with 95% intervals ([`stats`]) and latency.

pub mod beir;
pub mod cache_pairs;
pub mod compare;
pub mod hotpot;
pub mod locomo;
pub mod metrics;
pub mod pairs;
pub mod rag;
pub mod retrieval;
pub mod squad;
pub mod stats;
