//! The command line: `cost-optimizer eval --data <dir>`.

use crate::data::{self, Half, Outcomes};
use crate::eval::{self, Options, PolicyReport, RouteLlmMetrics, TaskReport};
use crate::policy::SavedPolicy;
use anyhow::Context;
use clap::{Parser, Subcommand};
use genai_embed::{CachedEmbedder, Embedder, EmbedderSpec};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "cost-optimizer",
    about = "Milestone 6: routers and a cascade trained on real models' recorded answers, and what they save.",
    long_about = "Trains a kNN router, a boosted per-model classifier and a FrugalGPT-style cascade on the \
                  recorded outcomes of real models (RouterBench: 11 models with dollar costs; RouteLLM: GPT-4 \
                  vs Mixtral on MMLU and GSM8K), chooses each one's operating point on the training split, \
                  and reports on the test split what it saves against always calling the best model, with \
                  bootstrap intervals and paired tests."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Train on each task's training split and report on its test split.
    Eval(EvalArgs),
    /// Run the OpenAI-compatible gateway: routing or a cascade (a policy file from `eval
    /// --save-policy`, else a complexity score), an exact cache, per-key budgets, a cost ledger.
    Serve(crate::gateway::command::ServeArgs),
    /// Send a task's test prompts through the gateway applying a saved policy, with the recorded
    /// models' recorded answers as upstreams, and score what it returned (an offline end-to-end
    /// check that the live gateway reproduces `eval`).
    Replay(crate::gateway::command::ReplayArgs),
    /// Measure the cost levers on the project's RAG path (doc-qa's SQuAD-PDF evaluation): a
    /// context budget after reranking, compression to the best sentences, an exact and semantic
    /// cache on a stream with re-asks, routing to a cheap model; each alone and all together,
    /// dollars against the baseline (top-5 chunks, strong model, no cache) with paired quality
    /// tests.
    RagLevers(crate::rag::RagArgs),
}

/// `cost-optimizer rag-levers`: prints the attribution table; `--out` writes rag-levers.json.
pub async fn rag_levers(args: crate::rag::RagArgs) -> anyhow::Result<()> {
    let report = crate::rag::run(&args).await?;
    println!("{}", crate::rag::print(&report));
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("rag-levers.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if args.gate && !report.meets_goal {
        eprintln!(
            "gate failed: all levers together do not save {:.0}% without a significant quality loss",
            100.0 * args.min_saving
        );
        std::process::exit(2);
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct EvalArgs {
    /// A RouterBench folder (`<task>_train.csv` + `<task>_test.csv`), a RouteLLM evals folder
    /// (`mmlu/responses/`, `gsm8k/`), or a folder holding either (the team data folder).
    #[arg(long)]
    pub data: PathBuf,
    /// Only these tasks (comma-separated, e.g. `arc-challenge,mmlu`).
    #[arg(long, value_delimiter = ',')]
    pub tasks: Vec<String>,
    /// minilm (all-MiniLM-L6-v2, needs its files: scripts/fetch-minilm.sh) or hashing.
    #[arg(long, default_value = "minilm")]
    pub embedder: String,
    /// Folder with all-MiniLM-L6-v2 (default: $EMBED_MODEL_DIR, then models/all-MiniLM-L6-v2).
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// Threads for embedding prompts.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Keeps prompt embeddings between runs (default: $GENAI_EVAL_DIR, then a temp folder).
    #[arg(long, env = "GENAI_EVAL_DIR")]
    pub workdir: Option<PathBuf>,
    /// The operating point: the cheapest whose out-of-fold training accuracy is within this of
    /// the best single model's.
    #[arg(long, default_value_t = 0.01)]
    pub tolerance: f64,
    /// Instead: the most accurate point costing at most this share of the best model (0–1).
    #[arg(long)]
    pub target_cost: Option<f64>,
    /// Writes report.json and one `<task>.svg` plot per task here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit with status 2 unless, on every dollar-priced task, the policy chosen on training
    /// data saves at least `--min-saving` with no significant accuracy loss (a CI gate).
    #[arg(long)]
    pub gate: bool,
    /// The share of the best model's dollars the gate requires saved.
    #[arg(long, default_value_t = 0.5)]
    pub min_saving: f64,
    /// Writes `<task>.policy.json` here for each task: the policy selected on training data,
    /// trained, at its operating point (what `cost-optimizer serve --policy` applies).
    #[arg(long)]
    pub save_policy: Option<PathBuf>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

/// A task's two splits.
pub struct Task {
    pub train: Outcomes,
    pub test: Outcomes,
    pub source: &'static str,
}

/// Every task found under `dir` (see [`EvalArgs::data`]), filtered by name when `only` is set.
pub fn discover(dir: &Path, only: &[String]) -> anyhow::Result<Vec<Task>> {
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o.replace('_', "-") == name.replace('_', "-"));
    let mut tasks = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut subs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
        subs.sort();
        dirs.extend(subs);
    }
    for d in dirs {
        let mut names: Vec<String> = std::fs::read_dir(&d)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix("_train.csv").map(str::to_owned))
            .filter(|t| d.join(format!("{t}_test.csv")).exists())
            .collect();
        names.sort();
        for t in names.into_iter().filter(|t| wanted(t)) {
            let train = data::load_routerbench(&d, &t, "train")?;
            let test = data::load_routerbench(&d, &t, "test")?;
            tasks.push(Task { train, test, source: "RouterBench" });
        }
        for (t, marker) in [("mmlu", "mmlu/responses"), ("gsm8k", "gsm8k/gsm8k_responses.csv")] {
            if d.join(marker).exists() && wanted(t) {
                let train = data::load_routellm(&d, t, Half::Train)?;
                let test = data::load_routellm(&d, t, Half::Test)?;
                tasks.push(Task { train, test, source: "RouteLLM" });
            }
        }
    }
    anyhow::ensure!(!tasks.is_empty(), "no RouterBench or RouteLLM outcomes found under {}", dir.display());
    Ok(tasks)
}

/// The policy a deployment would ship, chosen on training data only: the cheapest training
/// operating point among those that met the accuracy target there (the most accurate one when
/// none did); with a cost budget, the most accurate training point within it.
pub fn selected(report: &TaskReport) -> Option<&PolicyReport> {
    if let Some(budget) = report.cost_budget {
        let within = |p: &&PolicyReport| p.train_point.cost <= budget + 1e-15;
        let most_accurate = |a: &&PolicyReport, b: &&PolicyReport| {
            a.train_point
                .quality
                .total_cmp(&b.train_point.quality)
                .then(b.train_point.cost.total_cmp(&a.train_point.cost))
        };
        return report
            .policies
            .iter()
            .filter(within)
            .max_by(most_accurate)
            .or_else(|| report.policies.iter().min_by(|a, b| a.train_point.cost.total_cmp(&b.train_point.cost)));
    }
    let met = |p: &&PolicyReport| p.train_point.quality >= report.train_target - 1e-12;
    report
        .policies
        .iter()
        .filter(met)
        .min_by(|a, b| a.train_point.cost.total_cmp(&b.train_point.cost))
        .or_else(|| report.policies.iter().max_by(|a, b| a.train_point.quality.total_cmp(&b.train_point.quality)))
}

pub async fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let spec = match args.embedder.as_str() {
        "hashing" => EmbedderSpec::default(),
        "minilm" => EmbedderSpec::Minilm { dir: args.model_dir.clone(), threads: Some(args.threads) },
        other => anyhow::bail!("unknown embedder {other:?}: use minilm or hashing"),
    };
    let inner = genai_embed::build(&spec).context("loading the embedder (for MiniLM: scripts/fetch-minilm.sh)")?;
    let cache = args.workdir.clone().unwrap_or_else(genai_eval::retrieval::default_workdir).join("vector-cache");
    let embedder: Arc<dyn Embedder> = Arc::new(CachedEmbedder::open(inner, &cache)?);
    let opts = Options {
        tolerance: args.tolerance,
        target_cost: args.target_cost,
        progress: !args.quiet,
        ..Options::default()
    };
    let mut reports = Vec::new();
    for task in discover(&args.data, &args.tasks)? {
        let mut r = eval::evaluate_task(embedder.as_ref(), &task.train, &task.test, opts).await?;
        r.selected = selected(&r).map(|p| p.name.clone());
        println!("{}", table(&r, task.source));
        if let Some(dir) = &args.save_policy {
            let path = save_selected(&mut r, &task.train, embedder.as_ref(), dir)?;
            println!("saved the selected policy to {}", path.display());
        }
        reports.push(r);
    }
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        std::fs::write(out.join("report.json"), serde_json::to_vec_pretty(&reports)?)?;
        for r in &reports {
            std::fs::write(out.join(format!("{}.svg", r.task)), crate::plot::svg(r))?;
        }
        println!("wrote {}/report.json and one SVG plot per task", out.display());
    }
    if args.gate {
        let failed = gate_failures(&reports, args.min_saving);
        if !failed.is_empty() {
            eprintln!("gate failed: {}", failed.join("; "));
            std::process::exit(2);
        }
        eprintln!("gate passed");
    }
    Ok(())
}

/// Writes the selected policy of `report`, trained on `train`, to `<dir>/<task>.policy.json`
/// (taking it out of `report.trained`).
pub fn save_selected(
    report: &mut TaskReport,
    train: &Outcomes,
    embedder: &dyn Embedder,
    dir: &Path,
) -> anyhow::Result<PathBuf> {
    let chosen = selected(report).map(|p| p.name.clone()).context("no policy to save")?;
    let at = report.policies.iter().position(|p| p.name == chosen).context("the selected policy")?;
    let train_point = report.policies[at].train_point;
    anyhow::ensure!(report.trained.len() == report.policies.len(), "trained policies were not kept");
    let kind = report.trained.swap_remove(at);
    let policy = SavedPolicy {
        format: crate::policy::FORMAT,
        task: report.task.clone(),
        embedder: embedder.model_id().to_owned(),
        dim: embedder.dim(),
        models: train.models.clone(),
        price: train.relative_price(),
        train_point,
        kind,
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{}.policy.json", report.task));
    policy.save(&path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Why the reports fail the gate (empty: they pass): on every dollar-priced task, the selected
/// policy saves at least `min_saving` and its accuracy is not significantly below the best model's.
pub fn gate_failures(reports: &[TaskReport], min_saving: f64) -> Vec<String> {
    let mut failed = Vec::new();
    for r in reports.iter().filter(|r| r.unit == data::CostUnit::Usd) {
        let Some(p) = selected(r) else {
            failed.push(format!("{}: no policy", r.task));
            continue;
        };
        if p.saving.mean < min_saving {
            failed.push(format!(
                "{}: {} saves {:.1}% < {:.0}%",
                r.task,
                p.name,
                100.0 * p.saving.mean,
                100.0 * min_saving
            ));
        }
        if p.vs_best.significant() && p.vs_best.difference < 0.0 {
            failed.push(format!(
                "{}: {} loses {:.1} accuracy points against {} (p = {:.4})",
                r.task,
                p.name,
                -100.0 * p.vs_best.difference,
                r.best,
                p.vs_best.p_value
            ));
        }
    }
    failed
}

fn pct(i: &genai_eval::stats::Interval) -> String {
    format!("{:.1}% [{:.1}, {:.1}]", 100.0 * i.mean, 100.0 * i.low, 100.0 * i.high)
}

fn routellm_line(name: &str, m: &RouteLlmMetrics) -> String {
    format!(
        "  {name:<9} APGR {:.3} [{:.3}, {:.3}]   CPT(50%) {}   CPT(80%) {}   saving at 95% of strong quality {}\n",
        m.apgr.mean,
        m.apgr.low,
        m.apgr.high,
        pct(&m.cpt50),
        pct(&m.cpt80),
        pct(&m.saving_at_95)
    )
}

/// The report of one task as the terminal shows it.
pub fn table(r: &TaskReport, source: &str) -> String {
    let unit = match r.unit {
        data::CostUnit::Usd => "USD per question",
        data::CostUnit::StrongCalls => "strong-model calls per question",
    };
    let mut s = format!(
        "== {} ({source}; cost in {unit}; train {} / test {} questions, {} rows dropped; embedder {})\n",
        r.task, r.train_rows, r.test_rows, r.dropped, r.embedder
    );
    s.push_str("  single models on test (accuracy, mean cost):\n");
    let mut models = r.models.clone();
    models.sort_by(|a, b| b.accuracy.total_cmp(&a.accuracy));
    for m in &models {
        let mark = if m.name == r.best { "  <- best on train" } else { "" };
        s.push_str(&format!("    {:<36} {:.3}  {:.6}{mark}\n", m.name, m.accuracy, m.mean_cost));
    }
    let chosen = selected(r).map(|p| p.name.clone()).unwrap_or_default();
    for p in &r.policies {
        let mark = if p.name == chosen { "  (selected on training data)" } else { "" };
        let knob = if p.chain.is_empty() {
            format!("lambda {:.4}", p.knob)
        } else {
            let taus: Vec<String> =
                p.thresholds.iter().map(|t| if t.is_finite() { format!("{t:.2}") } else { "never".into() }).collect();
            format!("chain {}, accept at {}", p.chain.join(" -> "), taus.join(" / "))
        };
        s.push_str(&format!("  {} ({knob}){mark}\n", p.name));
        s.push_str(&format!(
            "    accuracy {} vs best {:+.1} pts [{:+.1}, {:+.1}] p={:.4}; vs the zero router at equal cost {:+.1} pts p={:.4}\n",
            pct(&p.accuracy),
            100.0 * p.vs_best.difference,
            100.0 * p.vs_best.low,
            100.0 * p.vs_best.high,
            p.vs_best.p_value,
            100.0 * p.vs_zero_router.difference,
            p.vs_zero_router.p_value
        ));
        let equal = p.saving_at_equal_quality_on_test.map_or("n/a".into(), |v| format!("{:.1}%", 100.0 * v));
        s.push_str(&format!(
            "    mean cost {:.6}; saving vs best {}; at equal quality on the test curve {equal}\n",
            p.mean_cost.mean,
            pct(&p.saving)
        ));
        let share: Vec<String> = p
            .model_share
            .iter()
            .map(|(m, v)| format!("{} {:.0}%", m.rsplit('/').next().unwrap_or(m), 100.0 * v))
            .collect();
        s.push_str(&format!("    answered by: {}\n", share.join(", ")));
        if let Some(m) = &p.routellm {
            s.push_str(&routellm_line(&p.name, m));
        }
    }
    if let Some(m) = &r.random_routellm {
        s.push_str(&routellm_line("random", m));
    }
    s
}
