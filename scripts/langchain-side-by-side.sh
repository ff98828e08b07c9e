#!/usr/bin/env bash
# The production RAG issue's side-by-side (a command, not a CI step): the retrieval pipeline a
# Python user would build with LangChain (sentence-transformers embeddings over the same
# all-MiniLM-L6-v2 weights, FAISS, BM25Retriever, EnsembleRetriever) against the project's,
# on the same BEIR dataset and queries, in one run. Prints ingest time, embedding tokens/s,
# query p50/p95 per mode (bm25, dense, hybrid), nDCG@10, and a paired test per mode.
#
#   scripts/langchain-side-by-side.sh [BEIR_DIR]     default ../shared/data/beir-scifact
#
# The venv (PyPI: LangChain, sentence-transformers with torch, faiss-cpu, rank_bm25; a few GB
# with torch's CUDA wheels) lives in the target folder; the model is the project's MiniLM
# folder (scripts/fetch-minilm.sh). Our side is `genai-eval retrieval` in a fresh work folder,
# so its embedding time is measured, not read from a cache. Both sides use two threads.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
beir="${1:-$root/../shared/data/beir-scifact}"
target="${CARGO_TARGET_DIR:-$root/target}"
# The model comes from the project's folder; never ask a hub.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
venv="$target/langchain-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import langchain_classic, langchain_huggingface, faiss, rank_bm25' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "langchain-classic==1.0.8" "langchain-community==0.4.2" "langchain-core==1.8.3" \
    "langchain-huggingface==1.2.3" "sentence-transformers==6.2.0" "torch==2.15.0" "faiss-cpu==1.15.1" "rank_bm25==0.2.2"
fi
"$root/scripts/fetch-minilm.sh" "$root/models/all-MiniLM-L6-v2"
model="$root/models/all-MiniLM-L6-v2"
# Exactly scripts/load-rag.sh's build (the example is part of the feature resolution): one
# release build serves both.
cargo build --release --locked --workspace --bins --example mock-openai
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
reports=()
# Each mode in a fresh work folder: the vector cache would otherwise serve the query vectors
# embedded by an earlier mode, and a query's latency must include its embedding. BM25 needs no
# vectors (the hashing embedder only fills the index's dense field); dense and hybrid each embed
# the corpus, so both reports carry an embedding time.
for mode in bm25 dense hybrid; do
  embedder=minilm; [ "$mode" = bm25 ] && embedder=hashing
  "$target/release/genai-eval" retrieval --beir "$beir" --mode "$mode" --embedder "$embedder" --model-dir "$model" \
    --threads 2 --workdir "$work/$mode" --out "$work/$mode.json" >/dev/null
  reports+=("$work/$mode.json")
done
"$venv/bin/python" "$root/scripts/langchain_side_by_side.py" --beir "$beir" --model-dir "$model" --threads 2 \
  --ours "${reports[@]}"
