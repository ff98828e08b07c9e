//! The golden-set gate (run by `.ci/run` with `SQUAD_PATH`): SQuAD dev questions asked through
//! the whole service over their articles' paragraphs; the answering paragraph must be among the
//! passages given to the answerer for >= 90% of questions, and a category filter must never let
//! a passage from outside it through. `production-rag eval --squad <file>` prints the same report.

use production_rag::{CacheBackend, Config};

#[tokio::test]
async fn golden_set_retrieval_hit_rate_is_at_least_90_percent() {
    let Ok(squad) = std::env::var("SQUAD_PATH") else {
        eprintln!("SKIPPED: production-rag golden-set gate (SQUAD_PATH is not set)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = Config { data_dir: dir.path().to_owned(), cache: CacheBackend::Off, ..Config::default() };
    let r = production_rag::eval_cmd::golden(config, std::path::Path::new(&squad), 5).await.unwrap();
    println!("{}", serde_json::to_string_pretty(&r).unwrap());
    assert_eq!(r.filter_violations, 0, "passages from outside their filter were returned");
    assert!(r.hit.mean >= 0.90, "golden-set hit rate {} is below 0.90", r.hit);
}
