"""The pipeline a Python user would build with LangChain, measured on a BEIR dataset, beside the
project's own numbers for the same dataset (read from `genai-eval retrieval --out` reports).

Run through scripts/langchain-side-by-side.sh, which makes the venv and the project's reports.
The Python pipeline: HuggingFaceEmbeddings (sentence-transformers) over the same
all-MiniLM-L6-v2 weights, a FAISS flat index (exact inner product on normalised vectors, i.e.
cosine), BM25Retriever (rank_bm25), and EnsembleRetriever (weighted reciprocal rank fusion of
the two, LangChain's hybrid). Queries run one at a time, as a service would answer them.

Printed: ingest time, embedding tokens/s, per-mode query p50/p95 and nDCG@10 for both
pipelines, and for each mode a paired comparison of nDCG@10 over the same queries (mean
difference with a 95% bootstrap interval and a two-sided sign-flip permutation p-value).
"""

import argparse
import json
import math
import random
import statistics
import time
from pathlib import Path


def load_beir(folder: Path, split: str):
    corpus = {}
    with open(folder / "corpus.jsonl") as f:
        for line in f:
            d = json.loads(line)
            title = d.get("title", "").strip()
            # The same passage text as genai-eval's BEIR loader: title, blank line, text.
            corpus[d["_id"]] = f"{title}\n\n{d['text']}" if title else d["text"]
    queries = {}
    with open(folder / "queries.jsonl") as f:
        for line in f:
            q = json.loads(line)
            queries[q["_id"]] = q["text"]
    qrels = {}
    with open(folder / "qrels" / f"{split}.tsv") as f:
        next(f)
        for line in f:
            qid, did, score = line.rstrip("\n").split("\t")
            if int(score) > 0:
                qrels.setdefault(qid, {})[did] = int(score)
    return corpus, {q: queries[q] for q in qrels if q in queries}, qrels


def ndcg_at(ranked, judged, k=10):
    """nDCG@k with graded gains (BEIR's definition: gain = relevance, log2 discount)."""
    dcg = sum(judged.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(judged.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def percentile(xs, p):
    xs = sorted(xs)
    rank = (len(xs) - 1) * p / 100
    lo, hi = math.floor(rank), math.ceil(rank)
    return xs[lo] + (xs[hi] - xs[lo]) * (rank - lo)


def paired(a, b, rounds=10_000, seed=7):
    """Mean of b - a with a 95% bootstrap interval and a sign-flip permutation p-value."""
    diffs = [y - x for x, y in zip(a, b)]
    n, mean = len(diffs), statistics.fmean(diffs)
    rng = random.Random(seed)
    boots = sorted(statistics.fmean(rng.choices(diffs, k=n)) for _ in range(rounds))
    ci = (boots[int(0.025 * rounds)], boots[int(0.975 * rounds) - 1])
    extreme = sum(abs(statistics.fmean(d if rng.random() < 0.5 else -d for d in diffs)) >= abs(mean) for _ in range(rounds))
    return mean, ci, (extreme + 1) / (rounds + 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--beir", type=Path, required=True, help="BEIR dataset folder (e.g. ../shared/data/beir-scifact)")
    ap.add_argument("--model-dir", type=Path, required=True, help="all-MiniLM-L6-v2 folder (sentence-transformers layout)")
    ap.add_argument("--ours", type=Path, nargs="*", default=[], help="genai-eval retrieval --out reports (one per mode)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from langchain_community.retrievers import BM25Retriever
    from langchain_community.vectorstores import FAISS
    from langchain_community.vectorstores.utils import DistanceStrategy
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    try:  # LangChain 1.x moved the ensemble to langchain-classic
        from langchain_classic.retrievers import EnsembleRetriever
    except ImportError:
        from langchain.retrievers import EnsembleRetriever

    corpus, queries, qrels = load_beir(args.beir, args.split)
    ids, texts = list(corpus), list(corpus.values())
    emb = HuggingFaceEmbeddings(
        model_name=str(args.model_dir),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "batch_size": 64},
    )
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(args.model_dir))
    max_len = json.loads((args.model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
    tokens = sum(min(len(tokenizer(t)["input_ids"]), max_len) for t in texts)

    start = time.perf_counter()
    vectors = emb.embed_documents(texts)
    embed_s = time.perf_counter() - start
    start = time.perf_counter()
    docs = [Document(page_content=t, metadata={"id": i}) for i, t in zip(ids, texts)]
    store = FAISS.from_embeddings(
        list(zip(texts, vectors)), emb, metadatas=[d.metadata for d in docs], distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT
    )
    bm25 = BM25Retriever.from_documents(docs, k=10)
    index_s = time.perf_counter() - start
    dense = store.as_retriever(search_kwargs={"k": 10})
    # LangChain's hybrid: RRF over both lists (its `c` is RRF's k, 60 by default).
    ensemble = EnsembleRetriever(retrievers=[bm25, dense], weights=[0.5, 0.5])

    results = {}
    for mode, retriever in [("bm25", bm25), ("dense", dense), ("hybrid", ensemble)]:
        lat, scores = [], {}
        retriever.invoke("warm-up")  # first-call set-up is not a query's latency
        for qid, text in queries.items():
            t = time.perf_counter()
            hits = retriever.invoke(text)
            lat.append((time.perf_counter() - t) * 1e3)
            ranked = [h.metadata["id"] for h in hits if h.metadata["id"] != qid]
            scores[qid] = ndcg_at(ranked, qrels[qid])
        results[mode] = {"p50": percentile(lat, 50), "p95": percentile(lat, 95), "scores": scores}

    print(f"corpus: {len(texts)} documents, {tokens} tokens (MiniLM word pieces, truncated at {max_len}); {len(queries)} queries")
    print("\n| pipeline | ingest: embed s | embed tokens/s | index s |")
    print("|---|---|---|---|")
    print(f"| LangChain (sentence-transformers, torch {torch.__version__}) | {embed_s:.1f} | {tokens / embed_s:,.0f} | {index_s:.1f} |")
    ours = {}
    for path in args.ours:
        r = json.loads(Path(path).read_text())
        mode = {"keyword": "bm25"}.get(str(r["mode"]).lower(), str(r["mode"]).lower())
        ours[mode] = r
    for mode, r in ours.items():
        if r.get("embed_seconds", 0) > 0 and "MiniLM" in r["embedder"]:
            print(f"| genai-roadmap (genai-embed MiniLM, {mode} run) | {r['embed_seconds']:.1f} | {tokens / r['embed_seconds']:,.0f} | {r['index_seconds'] + r['optimize_seconds']:.1f} |")
    print("\n| mode | pipeline | query p50 ms | query p95 ms | nDCG@10 | paired difference (ours − LangChain) [95% CI], p |")
    print("|---|---|---|---|---|---|")
    for mode, py in results.items():
        mean_py = statistics.fmean(py["scores"].values())
        print(f"| {mode} | LangChain | {py['p50']:.2f} | {py['p95']:.2f} | {mean_py:.4f} | |")
        if mode in ours:
            r = ours[mode]
            per = {q: s["ndcg"] for q, s in r["per_query"].items()}
            common = [q for q in py["scores"] if q in per]
            mean, ci, p = paired([py["scores"][q] for q in common], [per[q] for q in common])
            print(
                f"| {mode} | genai-roadmap ({r['embedder']}) | {r['latency_ms_p50']:.2f} | {r['latency_ms_p95']:.2f} | "
                f"{r['at_k']['ndcg']:.4f} | {mean:+.4f} [{ci[0]:+.4f}, {ci[1]:+.4f}], p = {p:.4f} ({len(common)} queries) |"
            )


if __name__ == "__main__":
    main()
