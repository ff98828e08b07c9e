//! genai-ingest integration tests: real PDFs from six producers, the bad-file matrix, and
//! chunking properties.

mod chunking;
mod loaders;
