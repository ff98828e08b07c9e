//! Domain types every milestone shares.
//!
//! The pipeline's vocabulary lives here so that loaders, chunkers, indexes and answerers agree on
//! what a [`Document`], a [`Page`], a [`Chunk`] and a [`Citation`] are, and on one coordinate
//! system for provenance: a chunk's `char_span` counts Unicode scalar values (not bytes) into
//! [`Document::text`], the pages joined by [`PAGE_SEPARATOR`].
//!
//! Errors across the workspace are classified with [`ErrorClass`] by what the *caller* should do
//! about them (retry, fix the input, give up, raise the budget), so a service can map any crate's
//! error to an HTTP status or a retry decision without matching on its variants.

pub mod backoff;
mod document;
mod error;
mod ids;

pub use document::{Chunk, Citation, Document, PAGE_SEPARATOR, Page, PageRange, SourceKind};
pub use error::{Classify, ErrorClass};
pub use ids::{ChunkId, DocId, IdError, sha256_hex};
