//! genai-embed integration tests: the remote embedder against the mock server (including
//! injected failures), and MiniLM parity when its weights are present.

mod minilm;
mod remote;
