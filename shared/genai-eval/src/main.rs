//! `genai-eval`: evaluation commands. See `genai-eval --help`.

mod pairs_cmd;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use genai_eval::retrieval::{RetrievalEval, RetrievalReport, Source, default_workdir};
use genai_retrieval::rerank::LearnedReranker;
use genai_retrieval::{Fusion, Reranking, SearchMode};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "genai-eval", version, about = "Evaluate the retrieval core (and milestones) on external datasets.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Index a BEIR dataset (or HotpotQA) and score dense, BM25 or hybrid retrieval, optionally
    /// reranked: nDCG@10 with a 95% interval, recall@2/5/10/100, MRR, latency.
    Retrieval(RetrievalArgs),
    /// Fit the learned reranker on a dataset's judged queries (a BEIR train split) and write the
    /// model file; deterministic, so the bundled model is reproduced byte for byte.
    TrainReranker(TrainArgs),
    /// Compare two reports of the same questions (`--out` of `retrieval`, or any report with a
    /// `per_query` map): per metric, the paired difference with its 95% interval and p-value.
    Compare(CompareArgs),
    /// Copy an embedded index into a Qdrant server collection, then check counts and a sample of
    /// searches on both. Re-running resumes (writes are upserts by id).
    Migrate(MigrateArgs),
    /// Train the semantic cache's pair guard on labelled pairs (PAWS-Wiki and QQP, even ids by
    /// default) and calibrate its threshold out-of-fold; deterministic.
    TrainPairGuard(pairs_cmd::TrainArgs),
    /// Measure the semantic cache on labelled pairs (odd ids by default): duplicates served and
    /// false hits for the anchors' cosine defaults, a calibrated cosine and the pair guard.
    CachePairs(pairs_cmd::EvalArgs),
}

#[derive(clap::Args)]
struct MigrateArgs {
    /// Folder of the embedded index to copy (it holds index.json).
    #[arg(long)]
    from: PathBuf,
    /// Qdrant gRPC URL(s), comma-separated for several nodes of one cluster.
    #[arg(long, env = "QDRANT_URL")]
    to: String,
    /// Target collection (created with the source's embedder and BM25 average length).
    #[arg(long, default_value = "chunks")]
    collection: String,
    /// API key for the server.
    #[arg(long, env = "QDRANT_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Shards and replication factor of a new collection (cluster only; server defaults otherwise).
    #[arg(long)]
    shards: Option<u32>,
    #[arg(long)]
    replication_factor: Option<u32>,
    /// Tiered tenancy (shared shard key plus dedicated shards for promoted tenants; cluster mode).
    #[arg(long)]
    tiered: bool,
}

/// Which data, embedder and retrieval mode (shared by `retrieval` and `train-reranker`).
#[derive(clap::Args)]
struct DataArgs {
    /// BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).
    #[arg(long, required_unless_present = "hotpot", conflicts_with = "hotpot")]
    beir: Option<PathBuf>,
    /// A HotpotQA JSON file, read as a retrieval set (pooled paragraphs, gold titles judged).
    #[arg(long)]
    hotpot: Option<PathBuf>,
    /// The BEIR split whose judged queries are run (`train` to fit a reranker).
    #[arg(long, default_value = "test")]
    split: String,
    /// dense, bm25 (keyword) or hybrid.
    #[arg(long, default_value = "hybrid")]
    mode: String,
    #[arg(long, value_enum, default_value_t = EmbedderArg::Hashing)]
    embedder: EmbedderArg,
    /// Folder with all-MiniLM-L6-v2 (default: $EMBED_MODEL_DIR, then models/all-MiniLM-L6-v2).
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Threads for MiniLM inference.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Keeps the index and the vector cache between runs (default: $GENAI_EVAL_DIR, then a
    /// folder in the system's temp dir).
    #[arg(long, env = "GENAI_EVAL_DIR")]
    workdir: Option<PathBuf>,
    /// Results per leg fed to fusion (hybrid).
    #[arg(long, default_value_t = 100)]
    candidates: usize,
    #[arg(long, default_value_t = Fusion::default().k)]
    rrf_k: f32,
    #[arg(long, default_value_t = 1.0)]
    dense_weight: f32,
    #[arg(long, default_value_t = 1.0)]
    keyword_weight: f32,
    /// Keep documents whose id equals the query id (BEIR drops them by default).
    #[arg(long)]
    keep_identical_ids: bool,
}

#[derive(clap::Args)]
struct RetrievalArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Rerank the top candidates: `bundled` (the learned model trained on SciFact) or a model
    /// file written by `train-reranker`.
    #[arg(long)]
    rerank: Option<String>,
    /// How many fused candidates the reranker sees.
    #[arg(long, default_value_t = 50)]
    rerank_top_n: usize,
    /// Pseudo-relevance feedback (RM3: 10 feedback documents, 10 terms, original weight 0.5)
    /// on the keyword leg.
    #[arg(long)]
    prf: bool,
    /// RM3: feedback documents, expansion terms, and the original query's share of the weight.
    #[arg(long, default_value_t = 10)]
    prf_docs: usize,
    #[arg(long, default_value_t = 10)]
    prf_terms: usize,
    #[arg(long, default_value_t = 0.5)]
    prf_original_weight: f32,
    /// Rewrite queries with the configured model (OPENAI_BASE_URL / OPENAI_MODEL): `multi`
    /// (3 alternative queries), `hyde` (a hypothetical passage) or `both`.
    #[arg(long, value_enum)]
    rewrite: Option<RewriteArg>,
    /// Write the report (with per-query scores) as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Exit with status 2 when nDCG@k is below this (a CI gate).
    #[arg(long)]
    min_ndcg: Option<f64>,
}

#[derive(clap::Args)]
struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Fused candidates per query to learn from (use the same value as `--rerank-top-n`).
    #[arg(long, default_value_t = 50)]
    top_n: usize,
    /// Where to write the model.
    #[arg(long)]
    out: PathBuf,
    /// ndcg (LambdaMART, the default), pairwise, or pointwise (binary logistic).
    #[arg(long, default_value = "ndcg")]
    objective: String,
    /// Boosting rounds and tree depth (depth 1: an additive model of single features).
    #[arg(long, default_value_t = 300)]
    rounds: usize,
    #[arg(long, default_value_t = 4)]
    max_depth: u32,
}

#[derive(clap::Args)]
struct CompareArgs {
    /// The baseline report.
    a: PathBuf,
    /// The report compared against it.
    b: PathBuf,
    /// Also write the comparison as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum RewriteArg {
    Multi,
    Hyde,
    Both,
}

#[derive(Clone, Copy, ValueEnum)]
enum EmbedderArg {
    Hashing,
    Minilm,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    genai_telemetry::init(genai_telemetry::LogFormat::from_env());
    match Cli::parse().command {
        Command::Retrieval(args) => retrieval(args).await,
        Command::TrainReranker(args) => train_reranker(args).await,
        Command::Compare(args) => compare(args),
        Command::Migrate(args) => migrate(args).await,
        Command::TrainPairGuard(args) => pairs_cmd::train(args).await,
        Command::CachePairs(args) => pairs_cmd::evaluate(args).await,
    }
}

impl DataArgs {
    fn eval(self, k: usize, rerank: Option<Reranking>) -> anyhow::Result<RetrievalEval> {
        let spec = match self.embedder {
            EmbedderArg::Hashing => genai_embed::EmbedderSpec::default(),
            EmbedderArg::Minilm => {
                genai_embed::EmbedderSpec::Minilm { dir: self.model_dir, threads: Some(self.threads) }
            }
        };
        let source = match (self.beir, self.hotpot) {
            (Some(dir), _) => Source::Beir { dir, split: self.split },
            (None, Some(file)) => Source::Hotpot { file },
            (None, None) => anyhow::bail!("give --beir <dir> or --hotpot <file>"),
        };
        Ok(RetrievalEval {
            source,
            mode: self.mode.parse::<SearchMode>()?,
            embedder: genai_embed::build(&spec)?,
            workdir: self.workdir.unwrap_or_else(default_workdir),
            k,
            candidates: self.candidates,
            fusion: Fusion { k: self.rrf_k, dense_weight: self.dense_weight, keyword_weight: self.keyword_weight },
            ignore_identical_ids: !self.keep_identical_ids,
            progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            rerank,
            prf: None,
            rewriter: None,
        })
    }
}

async fn retrieval(args: RetrievalArgs) -> anyhow::Result<()> {
    let rerank = match args.rerank.as_deref() {
        None | Some("none") => None,
        Some("bundled") => Some(LearnedReranker::bundled()?),
        Some(path) => Some(LearnedReranker::load(std::path::Path::new(path))?),
    }
    .map(|r| Reranking { top_n: args.rerank_top_n, ..Reranking::new(Arc::new(r)) });
    let mut eval = args.data.eval(args.k, rerank)?;
    eval.prf = args.prf.then_some(genai_retrieval::rewrite::Prf {
        feedback_docs: args.prf_docs,
        expansion_terms: args.prf_terms,
        original_weight: args.prf_original_weight,
    });
    if let Some(mode) = args.rewrite {
        let model = genai_llm::from_env()?
            .context("--rewrite needs a model: set OPENAI_BASE_URL (and OPENAI_API_KEY, OPENAI_MODEL)")?;
        let mut rw = genai_retrieval::rewrite::LlmRewriter::new(Arc::new(model));
        rw.mode = match mode {
            RewriteArg::Multi => genai_retrieval::rewrite::RewriteMode::MultiQuery { n: 3 },
            RewriteArg::Hyde => genai_retrieval::rewrite::RewriteMode::Hyde,
            RewriteArg::Both => genai_retrieval::rewrite::RewriteMode::Both { n: 3 },
        };
        eval.rewriter = Some(rw);
    }
    let report = eval.run().await?;
    println!("{}\n{}", RetrievalReport::table_header(report.k), report.table_row());
    println!(
        "\n{} documents, {} queries; embedding {:.1} s, indexing {:.1} s, optimize {:.1} s",
        report.documents, report.queries, report.embed_seconds, report.index_seconds, report.optimize_seconds
    );
    if let (Some(p50), Some(p95)) = (report.rerank_ms_p50, report.rerank_ms_p95) {
        println!(
            "reranking: p50 {p50:.2} ms, p95 {p95:.2} ms; fell back to the fused order {} times",
            report.rerank_fallbacks
        );
    }
    if let Some(path) = args.out {
        std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
    }
    if let Some(min) = args.min_ndcg {
        if report.at_k.ndcg < min {
            eprintln!("FAIL: nDCG@{} = {:.4} is below the gate {min}", report.k, report.at_k.ndcg);
            std::process::exit(2);
        }
        eprintln!("PASS: nDCG@{} = {:.4} >= {min}", report.k, report.at_k.ndcg);
    }
    Ok(())
}

async fn train_reranker(args: TrainArgs) -> anyhow::Result<()> {
    let eval = args.data.eval(10, None)?;
    let (set, about) = eval.training_set(args.top_n).await?;
    let objective = match args.objective.as_str() {
        "ndcg" => genai_retrieval::rerank::RankObjective::Ndcg,
        "pairwise" => genai_retrieval::rerank::RankObjective::Pairwise,
        "pointwise" => genai_retrieval::rerank::RankObjective::Pointwise,
        other => anyhow::bail!("unknown objective {other:?}: ndcg, pairwise or pointwise"),
    };
    let params = genai_retrieval::rerank::TrainParams {
        objective,
        rounds: args.rounds,
        max_depth: args.max_depth,
        ..Default::default()
    };
    let model = genai_retrieval::rerank::train(&set, params, &about)?;
    std::fs::write(&args.out, model.to_bytes()?).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!("trained on {about}; wrote {}", args.out.display());
    Ok(())
}

fn compare(args: CompareArgs) -> anyhow::Result<()> {
    let read = |p: &PathBuf| -> anyhow::Result<serde_json::Value> {
        let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not JSON", p.display()))
    };
    let (a, b) = (read(&args.a)?, read(&args.b)?);
    let c = genai_eval::compare::compare(&args.a.display().to_string(), &a, &args.b.display().to_string(), &b)?;
    print!("{}", c.table());
    if let Some(out) = args.out {
        std::fs::write(out, serde_json::to_vec_pretty(&c)?)?;
    }
    Ok(())
}

async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    use genai_retrieval::{EmbeddedConfig, EmbeddedIndex, Index, ServerConfig, ServerIndex, ServerLayout, Tenancy};
    let source = EmbeddedIndex::open_existing(&args.from, EmbeddedConfig::default())
        .with_context(|| format!("opening the embedded index in {}", args.from.display()))?;
    let info = source.info().clone();
    let mut bm25 = genai_retrieval::Bm25Params::default();
    if let Some(avg) = source.bm25_avg_len()? {
        bm25.avg_len = avg;
    }
    let config = ServerConfig {
        urls: genai_retrieval::split_urls(&args.to),
        collection: args.collection.clone(),
        api_key: args.api_key.filter(|k| !k.is_empty()),
        bm25,
        layout: ServerLayout {
            shards: args.shards,
            replication_factor: args.replication_factor,
            tenancy: if args.tiered { Tenancy::Tiered } else { Tenancy::Payload },
            ..ServerLayout::default()
        },
        ..ServerConfig::default()
    };
    let target = ServerIndex::open(config, &info.model_id, info.dim)
        .await
        .with_context(|| format!("opening collection {} on {}", args.collection, args.to))?;
    let total = source.count(None).await?;
    let bar = indicatif::ProgressBar::new(total);
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template("copying [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")?
            .progress_chars("=> "),
    );
    let report = genai_retrieval::migrate(&source, &target, |n| bar.set_position(n)).await?;
    bar.finish_and_clear();
    println!("{}", serde_json::to_string_pretty(&report)?);
    anyhow::ensure!(
        report.is_consistent(),
        "the copy does not match the source (counts {} → {}, self-hit {:.3})",
        report.source_count,
        report.target_count,
        report.dense_self_hit
    );
    eprintln!("migrated {} chunks in {:.1} s; counts match", report.copied, report.seconds);
    Ok(())
}
