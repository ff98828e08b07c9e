//! The router gate (run by `.ci/run` with `ROUTERBENCH_DIR`): on every RouterBench task's test
//! split, the policy chosen on the training split saves at least 50% of the dollars of always
//! calling the best single model, with no significant accuracy loss (paired test, 95%).
//! `cost-optimizer eval --data <dir> --gate` prints the same report.
//!
//! Then the same policies, saved to files, are applied by the running gateway to the test
//! prompts over HTTP, with the recorded answers as upstreams (`cost-optimizer replay`): the live
//! path must pass the same gate and agree with the offline numbers.

use cost_optimizer::gateway::replay;
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
    let policies = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    let mut saved = Vec::new();
    for t in &tasks {
        let mut r = eval::evaluate_task(&embedder, &t.train, &t.test, opts).await.unwrap();
        println!("{}", cli::table(&r, t.source));
        let best = t.train.best_model();
        let offline = cli::selected(&r).unwrap().clone();
        let path = cli::save_selected(&mut r, &t.train, &embedder, policies.path()).unwrap();
        saved.push((t, best, path, offline));
        reports.push(r);
    }
    assert!(!reports.is_empty());
    let failed = cli::gate_failures(&reports, 0.5);
    assert!(failed.is_empty(), "router gate failed: {}", failed.join("; "));

    let model_dir = std::env::var("EMBED_MODEL_DIR").ok().map(Into::into);
    for (t, best, path, offline) in saved {
        let live = replay::drive(&t.test, best, &path, model_dir.clone(), 8).await.unwrap();
        println!(
            "{} through the gateway ({}): accuracy {} (offline {}), saving {} (offline {}), vs best {:+.4} p={:.4}",
            live.task,
            live.policy,
            live.accuracy,
            offline.accuracy,
            live.saving,
            offline.saving,
            live.vs_best.difference,
            live.vs_best.p_value
        );
        assert_eq!(live.failed, 0, "every request through the gateway is answered");
        assert!(live.saving.mean >= 0.5, "{}: the gateway saves {:.3} < 0.5", live.task, live.saving.mean);
        assert!(!(live.vs_best.significant() && live.vs_best.difference < 0.0), "{}: significant loss live", live.task);
        // The same decisions as offline, up to embeddings computed by another MiniLM instance.
        assert!(
            (live.accuracy.mean - offline.accuracy.mean).abs() <= 0.01,
            "{}: live and offline accuracy differ",
            live.task
        );
        assert!(
            (live.saving.mean - offline.saving.mean).abs() <= 0.02,
            "{}: live and offline saving differ",
            live.task
        );
    }
}
