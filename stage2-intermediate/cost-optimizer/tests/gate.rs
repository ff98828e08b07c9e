//! The router gate (run by `.ci/run` with `ROUTERBENCH_DIR`): on every RouterBench task's test
//! split, the policy chosen on the training split saves at least 50% of the dollars of always
//! calling the best single model, with no significant accuracy loss (paired test, 95%).
//! `cost-optimizer eval --data <dir> --gate` prints the same report.

use cost_optimizer::{cli, eval};

#[tokio::test]
async fn routed_answers_cost_half_with_no_significant_accuracy_loss() {
    let Ok(dir) = std::env::var("ROUTERBENCH_DIR") else {
        eprintln!("SKIPPED: cost-optimizer router gate (ROUTERBENCH_DIR is not set)");
        return;
    };
    let spec = match std::env::var("EMBED_MODEL_DIR") {
        Ok(d) => genai_embed::EmbedderSpec::Minilm { dir: Some(d.into()), threads: Some(2) },
        Err(_) => panic!("EMBED_MODEL_DIR must name the all-MiniLM-L6-v2 folder for the router gate"),
    };
    let inner = genai_embed::build(&spec).unwrap();
    let workdir =
        std::env::var("GENAI_EVAL_DIR").map(std::path::PathBuf::from).unwrap_or_else(|_| std::env::temp_dir());
    let embedder = genai_embed::CachedEmbedder::open(inner, &workdir.join("vector-cache")).unwrap();
    let tasks = cli::discover(std::path::Path::new(&dir), &[]).unwrap();
    let opts = eval::Options { progress: false, ..eval::Options::default() };
    let mut reports = Vec::new();
    for t in &tasks {
        let r = eval::evaluate_task(&embedder, &t.train, &t.test, opts).await.unwrap();
        println!("{}", cli::table(&r, t.source));
        reports.push(r);
    }
    assert!(!reports.is_empty());
    let failed = cli::gate_failures(&reports, 0.5);
    assert!(failed.is_empty(), "router gate failed: {}", failed.join("; "));
}
