//! `cost-optimizer rag-levers`: what each cost lever saves on the project's own RAG path, and
//! what it costs in answer quality, on doc-qa's SQuAD-PDF evaluation.
//!
//! Protocol. doc-qa's evaluation library is opened (SQuAD articles rendered to PDF and ingested;
//! every fifth article held out and not used here). Questions of the calibration articles
//! (0 and 1 mod 4) choose each lever's operating point: the cheapest whose answer containment is
//! within `--tolerance` of the baseline's. Questions of the other articles, shuffled and mixed
//! with re-asks (see [`stream`]), are then answered by every arm: the baseline (top-5 chunks
//! whole, the strong model, no cache), each lever alone, and all together. Dollars are the
//! tokens the model would be sent and would write, at genai-llm's prices; quality is the
//! answer's SQuAD containment and F1, compared with the baseline's on the same stream entries by
//! a paired test.
//!
//! Offline, the two "models" are the project's two extractive readers: the strong one scores
//! sentences with MiniLM (the doc-qa default), the cheap one with word statistics only. They are
//! billed as the strong and cheap models would be for the same prompt; with `--llm`, the models
//! at `OPENAI_BASE_URL` answer instead (doc-qa's `LlmAnswerer`, citations checked).

mod context;
mod pipeline;
mod report;
pub mod stream;

pub use context::{compress, within_budget};
pub use pipeline::{Levers, Readers, Retrieved, Run, Served, quality};
pub use report::{ArmReport, LeverReport, print};

use anyhow::Context as _;
use doc_qa::{Answerer, EmbedderChoice, Extractive, LlmAnswerer};
use genai_cache::{AnswerCache, CacheConfig, Scope, StoreSpec};
use genai_retrieval::rerank::LearnedReranker;
use genai_retrieval::{RerankContext, Reranking};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// `cost-optimizer rag-levers` arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct RagArgs {
    /// A SQuAD v1.1 file (e.g. ../shared/data/squad-dev-even/squad-dev-even.json).
    #[arg(long)]
    pub squad: PathBuf,
    /// doc-qa's evaluation folder: PDFs and the ingested library, reused between runs.
    #[arg(long, env = "GENAI_EVAL_DIR")]
    pub workdir: Option<PathBuf>,
    /// minilm (doc-qa's default reader; needs scripts/fetch-minilm.sh) or hashing (for tests).
    #[arg(long, default_value = "minilm")]
    pub embedder: String,
    /// Folder with all-MiniLM-L6-v2 (default: $EMBED_MODEL_DIR, then models/all-MiniLM-L6-v2).
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// The strong model's name in the price table (the baseline's model).
    #[arg(long, default_value = "gpt-4o")]
    pub strong_model: String,
    /// The cheap model's name in the price table.
    #[arg(long, default_value = "gpt-4o-mini")]
    pub cheap_model: String,
    /// A price table in genai-llm's JSON format (default: its built-in list prices).
    #[arg(long)]
    pub prices: Option<PathBuf>,
    /// Answer with the models at OPENAI_BASE_URL (named by --strong-model and --cheap-model)
    /// instead of the offline readers.
    #[arg(long)]
    pub llm: bool,
    /// Passages the baseline sends.
    #[arg(long, default_value_t = 5)]
    pub k: usize,
    /// Candidates retrieved for the reranker (the budget lever chooses among them).
    #[arg(long, default_value_t = 20)]
    pub candidates: usize,
    /// Share of the stream that asks an earlier question again (0–0.95).
    #[arg(long, default_value_t = 0.3)]
    pub repeat_share: f64,
    /// Share of those re-asks that are reworded.
    #[arg(long, default_value_t = 0.5)]
    pub reworded_share: f64,
    /// How much containment (0–1) a lever may lose on the calibration questions.
    #[arg(long, default_value_t = 0.01)]
    pub tolerance: f64,
    /// Calibration questions used to choose operating points (evenly spread; 0 = all).
    #[arg(long, default_value_t = 600)]
    pub calibration_questions: usize,
    /// At most this many test questions (0 = all), for quick runs.
    #[arg(long, default_value_t = 0)]
    pub max_questions: usize,
    /// Put the cache on this Redis (e.g. redis://127.0.0.1:6379/0) instead of in memory.
    #[arg(long)]
    pub redis_url: Option<String>,
    /// Writes rag-levers.json here (the /cost page shows its table).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Exit with status 2 unless all levers together save at least --min-saving with no
    /// significant containment loss.
    #[arg(long)]
    pub gate: bool,
    #[arg(long, default_value_t = 0.5)]
    pub min_saving: f64,
}

/// A question with its gold answers.
#[derive(Debug, Clone)]
pub struct Question {
    pub text: String,
    pub golds: Vec<String>,
}

impl Question {
    fn golds(&self) -> Vec<&str> {
        self.golds.iter().map(String::as_str).collect()
    }
}

/// Everything an arm needs: the readers, the retrieval of each text asked (memoised: arms and
/// re-asks share it), the reranker.
struct Bench {
    qa: doc_qa::DocQa,
    readers: Readers,
    reranking: Reranking,
    candidates: usize,
    retrieved: HashMap<String, Arc<Retrieved>>,
}

impl Bench {
    async fn retrieve(&mut self, text: &str) -> anyhow::Result<Arc<Retrieved>> {
        if let Some(r) = self.retrieved.get(text) {
            return Ok(r.clone());
        }
        let mut hits = self.qa.retrieve(text).await?;
        hits.truncate(self.candidates);
        let stats = self.qa.term_stats(text).await?;
        let ctx = RerankContext { term_stats: stats.clone() };
        let (reranked, _) = self.reranking.apply(text, hits.clone(), &ctx).await;
        let r = Arc::new(Retrieved { hits, reranked: reranked.into_iter().map(|r| r.hit).collect(), stats });
        self.retrieved.insert(text.to_owned(), r.clone());
        Ok(r)
    }

    /// Mean containment and dollars of `levers` on `questions` (asked once each, no cache).
    async fn calibrate(&mut self, questions: &[Question], levers: &Levers) -> anyhow::Result<(f64, f64)> {
        let (mut quality_sum, mut dollars) = (0.0, 0.0);
        for (i, q) in questions.iter().enumerate() {
            let r = self.retrieve(&q.text).await?;
            let run = self.readers.run(i, &q.text, &q.golds(), &r, levers).await;
            quality_sum += quality(&run.served, &q.golds()).0;
            dollars += run.dollars;
        }
        let n = questions.len().max(1) as f64;
        Ok((quality_sum / n, dollars / n))
    }

    /// The first of `options` (cheapest first) whose calibration containment is at least
    /// `floor` and that costs less than `base`; `base` (the lever off) when none does.
    async fn choose<T: Copy + std::fmt::Debug>(
        &mut self,
        questions: &[Question],
        base: Levers,
        options: &[T],
        set: impl Fn(&mut Levers, T),
        floor: f64,
    ) -> anyhow::Result<Levers> {
        let (_, base_dollars) = self.calibrate(questions, &base).await?;
        for &o in options {
            let mut levers = base;
            set(&mut levers, o);
            let (q, d) = self.calibrate(questions, &levers).await?;
            tracing::info!(option = ?o, containment = q, dollars = d, "calibration");
            if q >= floor && d < base_dollars {
                return Ok(levers);
            }
        }
        Ok(base)
    }
}

/// Budgets in the retriever's order and after the reranker (its bundled model was trained on
/// SciFact, not on these documents: calibration says whether its order helps here).
fn budgets() -> Vec<(u32, bool)> {
    [256, 512, 768, 1024, 1536, 2048].into_iter().flat_map(|b| [(b, false), (b, true)]).collect()
}
const KEEP: &[usize] = &[1, 2, 3, 4, 6, 8, 12];

fn thresholds() -> Vec<Option<f64>> {
    (0..=14).map(|i| Some(0.2 + 0.05 * f64::from(i))).chain([None]).collect()
}

/// Runs the evaluation (see the module docs) and returns its report.
pub async fn run(args: &RagArgs) -> anyhow::Result<LeverReport> {
    let workdir = args.workdir.clone().unwrap_or_else(|| std::env::temp_dir().join("genai-rag-levers")).join("doc-qa");
    let embedder = match args.embedder.as_str() {
        "minilm" => EmbedderChoice::Minilm,
        "hashing" => EmbedderChoice::Hashing,
        other => anyhow::bail!("unknown embedder {other}: minilm or hashing"),
    };
    let eval = doc_qa::eval::EvalConfig {
        squad: args.squad.clone(),
        workdir,
        holdout_every: 5,
        config: doc_qa::Config {
            embedder,
            model_dir: args.model_dir.clone(),
            top_k: args.candidates.max(args.k),
            ..doc_qa::Config::default()
        },
        progress: true,
        max_questions_per_article: 0,
        dump: None,
        pipeline: doc_qa::Pipeline::default(),
    };
    let (data, qa) = eval.open_library().await?;
    let (mut calibration, mut test) = (Vec::new(), Vec::new());
    for (i, article) in data.data.iter().enumerate().filter(|(i, _)| !eval.held_out(*i)) {
        for p in &article.paragraphs {
            for q in &p.qas {
                let question =
                    Question { text: q.question.clone(), golds: q.answers.iter().map(|a| a.text.clone()).collect() };
                if i % 4 < 2 { calibration.push(question) } else { test.push(question) }
            }
        }
    }
    if args.calibration_questions > 0 && calibration.len() > args.calibration_questions {
        let step = calibration.len() as f64 / args.calibration_questions as f64;
        calibration =
            (0..args.calibration_questions).map(|i| calibration[(i as f64 * step) as usize].clone()).collect();
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    for i in (1..test.len()).rev() {
        test.swap(i, rand::Rng::random_range(&mut rng, 0..=i));
    }
    if args.max_questions > 0 {
        test.truncate(args.max_questions);
    }
    anyhow::ensure!(!calibration.is_empty() && !test.is_empty(), "the SQuAD file has too few articles for both splits");

    let prices = match &args.prices {
        Some(p) => genai_llm::PriceTable::from_file(p)?,
        None => genai_llm::PriceTable::default(),
    };
    for m in [&args.strong_model, &args.cheap_model] {
        anyhow::ensure!(prices.price(m).is_some(), "no price for model {m}: add it with --prices");
    }
    let readers = readers(args, &qa, prices).await?;
    let reranker = LearnedReranker::bundled().context("loading the bundled reranker")?;
    let mut reranking = Reranking::new(Arc::new(reranker));
    reranking.top_n = args.candidates;
    // An evaluation measures the reranker, not its timeout: a debug build must not fall back.
    reranking.budget = std::time::Duration::from_secs(30);
    let mut bench = Bench { qa, readers, reranking, candidates: args.candidates, retrieved: HashMap::new() };

    // Operating points, on the calibration questions.
    let bar = spinner("calibrating");
    let baseline = Levers::default();
    let (base_quality, _) = bench.calibrate(&calibration, &baseline).await?;
    let floor = base_quality - args.tolerance;
    let set_budget = |l: &mut Levers, (b, rerank): (u32, bool)| {
        l.budget_tokens = Some(b);
        l.rerank = rerank;
    };
    let budget = bench.choose(&calibration, baseline, &budgets(), set_budget, floor).await?;
    let compress = bench.choose(&calibration, baseline, KEEP, |l, k| l.keep_sentences = Some(k), floor).await?;
    let route = bench.choose(&calibration, baseline, &thresholds(), |l, t| l.route_threshold = t, floor).await?;
    // Together: each lever chosen on top of the ones before it, so their losses cannot add up.
    let mut all = bench.choose(&calibration, baseline, &budgets(), set_budget, floor).await?;
    all = bench.choose(&calibration, all, KEEP, |l, k| l.keep_sentences = Some(k), floor).await?;
    all = bench.choose(&calibration, all, &thresholds(), |l, t| l.route_threshold = t, floor).await?;
    all.cache = true;
    bar.finish_and_clear();

    let texts: Vec<String> = test.iter().map(|q| q.text.clone()).collect();
    let entries = stream::build(&texts, args.repeat_share, args.reworded_share, args.seed);
    let arms = [
        ("baseline", baseline),
        ("context budget", budget),
        ("compression", compress),
        ("cache", Levers { cache: true, ..baseline }),
        ("routing", route),
        ("all together", all),
    ];
    let mut reports = Vec::new();
    let mut baseline_runs: Vec<report::Outcome> = Vec::new();
    for (name, levers) in arms {
        let outcomes = arm(&mut bench, args, name, &levers, &test, &entries).await?;
        if name == "baseline" {
            baseline_runs = outcomes.clone();
        }
        reports.push(report::arm(name, levers, &outcomes, &baseline_runs));
    }
    Ok(LeverReport::new(args, &entries, calibration.len(), base_quality, reports))
}

/// The strong and cheap answerers: offline readers, or the configured models.
async fn readers(args: &RagArgs, qa: &doc_qa::DocQa, prices: genai_llm::PriceTable) -> anyhow::Result<Readers> {
    // Refusals off: quality is measured on the answers given (refusal is measured by doc-qa).
    let never_refuse = |w: doc_qa::answer::Weights| doc_qa::answer::Weights { threshold: f64::NEG_INFINITY, ..w };
    let lexical = Extractive::new(never_refuse(doc_qa::answer::LEXICAL_WEIGHTS));
    let semantic = Extractive::new(never_refuse(doc_qa::answer::SEMANTIC_WEIGHTS)).with_semantic(qa.embedder().clone());
    let (strong, cheap): (Box<dyn Answerer>, Box<dyn Answerer>) = if args.llm {
        let model = |name: &str| -> anyhow::Result<genai_llm::Resilient> {
            let config = genai_llm::OpenAiConfig { model: name.to_owned(), ..genai_llm::OpenAiConfig::default() };
            Ok(genai_llm::Resilient::new(
                Arc::new(genai_llm::OpenAiModel::new(&config)?),
                genai_llm::ResilienceConfig::default(),
                Arc::new(prices.clone()),
            ))
        };
        (
            Box::new(LlmAnswerer::new(model(&args.strong_model)?, semantic.clone())),
            Box::new(LlmAnswerer::new(model(&args.cheap_model)?, lexical.clone())),
        )
    } else {
        (Box::new(semantic), Box::new(lexical.clone()))
    };
    Ok(Readers {
        strong,
        cheap,
        strong_model: args.strong_model.clone(),
        cheap_model: args.cheap_model.clone(),
        prices,
        compressor: lexical,
        k: args.k,
    })
}

/// Every stream entry through one arm.
async fn arm(
    bench: &mut Bench,
    args: &RagArgs,
    name: &str,
    levers: &Levers,
    questions: &[Question],
    entries: &[stream::Entry],
) -> anyhow::Result<Vec<report::Outcome>> {
    let cache = if levers.cache { Some(open_cache(args, name, bench.qa.embedder().as_ref())?) } else { None };
    let scope = Scope::new().with("corpus", "squad-levers");
    let bar = bar(entries.len() as u64, name);
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let q = &questions[e.origin];
        let golds = q.golds();
        let embedding = match &cache {
            Some(_) => Some(bench.qa.embedder().embed_query(&e.text).await?),
            None => None,
        };
        let looked = match &cache {
            Some(c) => Some(c.lookup(&scope, &e.text, embedding.as_deref()).await),
            None => None,
        };
        let outcome = match looked.and_then(|l| l.value.map(|v| (v, l.decision))) {
            Some((served, decision)) => report::Outcome::hit(&served, e, &golds, decision),
            None => {
                let r = bench.retrieve(&e.text).await?;
                let run = bench.readers.run(e.origin, &e.text, &golds, &r, levers).await;
                if let Some(c) = &cache {
                    c.insert(&scope, &e.text, embedding.as_deref(), run.served.clone(), &[]).await;
                }
                report::Outcome::ran(&run, e, &golds)
            }
        };
        out.push(outcome);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

fn open_cache(args: &RagArgs, arm: &str, embedder: &dyn genai_embed::Embedder) -> anyhow::Result<AnswerCache<Served>> {
    let spec = match &args.redis_url {
        Some(url) => StoreSpec::Redis { url: url.clone() },
        None => StoreSpec::Memory,
    };
    let store = genai_cache::store::open(&spec)?;
    // A namespace of its own per run and arm: no answer from another run can be served.
    let namespace = format!("rag-levers:{}:{}:{}", std::process::id(), args.seed, arm.replace(' ', "-"));
    let config = CacheConfig { namespace, ttl_secs: 3_600, ..CacheConfig::default() };
    let guard = genai_cache::guard::bundled(embedder.model_id())?;
    Ok(AnswerCache::new(store, config).with_semantic(Arc::new(guard), embedder.model_id(), embedder.dim())?)
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>15} [{bar:40}] {pos}/{len} ({eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

fn spinner(what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_message(what);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
