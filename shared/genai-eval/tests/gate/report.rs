//! The retrieval report on a tiny BEIR-shaped dataset written here: its table and JSON shape are
//! pinned (timings redacted), with and without the bundled reranker.

use genai_eval::retrieval::RetrievalEval;
use genai_retrieval::rerank::LearnedReranker;
use genai_retrieval::{Reranking, SearchMode};
use std::sync::Arc;

fn write_dataset(dir: &std::path::Path) {
    let docs = [
        ("d1", "Coolant pumps", "Coolant pumps are inspected every six months for seal wear."),
        ("d2", "Valve repair", "Corroded valves are replaced, never repaired in place."),
        ("d3", "Budget", "The quarterly budget covers maintenance staff and spare parts."),
        ("d4", "Safety training", "Every technician completes lockout training before pump work."),
        ("d5", "Seals", "Pump seals fail from dry running; inspect them after any dry run."),
        ("d6", "Schedules", "Lubrication follows the manufacturer's schedule for each bearing."),
    ];
    let corpus: Vec<String> = docs
        .iter()
        .map(|(id, title, text)| serde_json::json!({"_id": id, "title": title, "text": text}).to_string())
        .collect();
    std::fs::write(dir.join("corpus.jsonl"), corpus.join("\n")).unwrap();
    let queries = [
        ("q1", "how often are coolant pump seals inspected"),
        ("q2", "what happens to corroded valves"),
        ("q3", "who needs lockout training"),
    ];
    let q: Vec<String> = queries.iter().map(|(id, t)| serde_json::json!({"_id": id, "text": t}).to_string()).collect();
    std::fs::write(dir.join("queries.jsonl"), q.join("\n")).unwrap();
    std::fs::create_dir_all(dir.join("qrels")).unwrap();
    std::fs::write(
        dir.join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td5\t1\nq2\td2\t1\nq3\td4\t2\n",
    )
    .unwrap();
}

#[tokio::test]
async fn the_report_has_intervals_per_query_scores_and_reranking() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, work) = (tmp.path().join("tiny-beir"), tmp.path().join("work"));
    std::fs::create_dir_all(&data).unwrap();
    write_dataset(&data);
    // The gate's own evaluation, on the tiny set with a smaller depth.
    let dir = data.to_str().unwrap();
    let embedder = Arc::new(genai_embed::HashingEmbedder::default());
    let base = RetrievalEval { k: 3, candidates: 10, ..super::eval(dir, work, SearchMode::Hybrid, embedder) };
    let plain = base.run().await.unwrap();
    let reranking = Reranking::new(Arc::new(LearnedReranker::bundled().unwrap()));
    let reranked = RetrievalEval { rerank: Some(reranking), ..base }.run().await.unwrap();
    assert_eq!(reranked.rerank_fallbacks, 0);
    for report in [&plain, &reranked] {
        assert_eq!(report.per_query.len(), 3);
        let i = &report.intervals.ndcg;
        assert!(i.low <= i.mean && i.mean <= i.high && (0.0..=1.0).contains(&i.mean));
    }
    // Snapshots of the structs themselves (not of a `serde_json::Value`), so key order does not
    // depend on which serde_json features the build unified.
    for (name, report) in [("report_plain", &plain), ("report_reranked", &reranked)] {
        insta::assert_json_snapshot!(name, report, {
            ".latency_ms_p50" => "[redacted]", ".latency_ms_p95" => "[redacted]",
            ".rerank_ms_p50" => "[redacted]", ".rerank_ms_p95" => "[redacted]",
            ".embed_seconds" => "[redacted]", ".index_seconds" => "[redacted]", ".optimize_seconds" => "[redacted]"
        });
    }
}
