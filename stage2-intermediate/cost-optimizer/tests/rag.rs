//! `cost-optimizer rag-levers` end to end on a small SQuAD-format corpus written here (hashing
//! embedder, so it runs anywhere): PDFs rendered and ingested through doc-qa, operating points
//! chosen on the calibration articles, every arm run on a stream with re-asks.

use cost_optimizer::rag::{self, RagArgs};
use serde_json::json;

const FACTS: &[(&str, &str, &str)] = &[
    ("river", "The Ardent river", "412 kilometres"),
    ("bridge", "The Halden bridge", "1,280 metres"),
    ("tower", "The Vossel tower", "318 metres"),
    ("canal", "The Merrow canal", "96 kilometres"),
    ("tunnel", "The Kessing tunnel", "57 kilometres"),
];

/// Five articles (the fifth is held out by the protocol), each three paragraphs about one
/// invented place, each with questions whose answers are in one sentence.
fn corpus() -> serde_json::Value {
    let cities = ["Brava", "Castor", "Dunmore", "Elsin", "Fenwick"];
    let years = ["1851", "1902", "1937", "1968", "1989"];
    let articles: Vec<_> = FACTS
        .iter()
        .enumerate()
        .map(|(a, (kind, name, length))| {
            let paragraphs: Vec<_> = (0..3)
                .map(|p| {
                    let city = cities[(a + p) % cities.len()];
                    let year = years[(a * 2 + p) % years.len()];
                    let context = format!(
                        "{name} is a {kind} near {city}. Work on section {p} began in {year} after a long debate in the \
                         regional council. Its length is {length}, measured along the centre line. Engineers from \
                         {city} inspected section {p} every spring, and visitors still walk along it in summer."
                    );
                    let qa = |i: usize, q: String, answer: &str| {
                        let start = context.find(answer).expect("answer in context");
                        json!({"id": format!("{a}-{p}-{i}"), "question": q,
                               "answers": [{"text": answer, "answer_start": context[..start].chars().count()}]})
                    };
                    let qas = vec![
                        qa(0, format!("In what year did work on section {p} of {name} begin?"), year),
                        qa(1, format!("Which city is {name} near, for section {p}?"), city),
                        qa(2, format!("What is the length of {name}?"), length),
                    ];
                    json!({"context": context, "qas": qas})
                })
                .collect();
            json!({"title": format!("{name} {kind}"), "paragraphs": paragraphs})
        })
        .collect();
    json!({"version": "1.1", "data": articles})
}

#[tokio::test]
async fn every_lever_is_measured_against_the_baseline_on_the_same_stream() {
    let dir = tempfile::tempdir().unwrap();
    let squad = dir.path().join("squad.json");
    std::fs::write(&squad, serde_json::to_vec(&corpus()).unwrap()).unwrap();
    let args = RagArgs {
        squad,
        workdir: Some(dir.path().join("work")),
        embedder: "hashing".into(),
        model_dir: None,
        strong_model: "gpt-4o".into(),
        cheap_model: "gpt-4o-mini".into(),
        prices: None,
        llm: false,
        k: 5,
        candidates: 20,
        repeat_share: 0.5,
        reworded_share: 0.5,
        tolerance: 0.05,
        calibration_questions: 0,
        max_questions: 0,
        redis_url: std::env::var("REDIS_URL").ok(),
        out: None,
        seed: 3,
        gate: false,
        min_saving: 0.5,
    };
    let report = rag::run(&args).await.unwrap();
    // Articles 2 and 3 are the test split: 2 × 3 paragraphs × 3 questions, asked once each,
    // then as many re-asks again (repeat share 0.5).
    assert_eq!(report.first_asks, 18);
    assert_eq!(report.stream_entries, 36);
    assert_eq!(report.repeats + report.reworded, 18);
    let names: Vec<&str> = report.arms.iter().map(|a| a.arm.as_str()).collect();
    assert_eq!(names, ["baseline", "context budget", "compression", "cache", "routing", "all together"]);
    let arm = |n: &str| report.arms.iter().find(|a| a.arm == n).unwrap();
    let base = arm("baseline");
    assert!(base.dollars_per_query.mean > 0.0);
    assert_eq!(base.saving.mean, 0.0);
    assert_eq!(base.containment_vs_baseline.difference, 0.0);
    // The cache: every word-for-word repeat is an exact hit (its question was answered before),
    // nothing costs more than the baseline, and hits are paid nothing.
    let cache = arm("cache");
    assert!(cache.exact_hits >= report.repeats, "{cache:?}");
    assert!(cache.wrong_hits <= cache.exact_hits + cache.semantic_hits);
    assert!(cache.saving.mean > 0.0 && cache.saving.mean <= 1.0);
    // Compression sends fewer tokens than whole chunks; every arm stays at or under the baseline.
    let compression = arm("compression");
    if compression.levers.keep_sentences.is_some() {
        assert!(compression.prompt_tokens_mean < base.prompt_tokens_mean, "{compression:?}");
    }
    for a in &report.arms {
        assert!(a.dollars_per_query.mean <= base.dollars_per_query.mean * 1.0001, "{a:?}");
        assert!((0.0..=1.0).contains(&a.containment.mean));
    }
    let table = rag::print(&report);
    assert!(table.contains("| all together |"), "{table}");
    assert_eq!(report.first_asks + report.repeats + report.reworded, report.stream_entries);
}
