//! The `extraction-api` command line: `serve` (the default), one-shot `extract`, `redact` and
//! `guard` on a file or stdin, `eval pii|injection` on external data, `train-guard`, `bench`.

use crate::model::{EngineKind, ExtractRequest, RedactRequest};
use crate::{Config, Extractor, eval};
use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use genai_guard::RedactMode;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "extraction-api",
    version,
    about = "Structured extraction: entities with exact character spans, JSON-Schema shaped, PII redaction, an injection guard.",
    long_about = "Structured extraction from unstructured text. Entities come with their type, value, exact character span, \
        confidence and engine; named schemas (contact, invoice, meeting, entities, pii) or your own JSON Schema shape the result.\n\n\
        Offline by default: recognisers with check rules (Luhn, IBAN mod-97, SSN rules), context words and gazetteers. \
        Set OPENAI_BASE_URL and/or OPENAI_API_KEY to add the llm engine (values it returns that are not in the text are dropped).\n\n\
        Configuration: defaults < extraction-api.toml (or --config) < EXTRACT_MAX_BODY_BYTES, EXTRACT_MAX_TEXT_CHARS, \
        EXTRACT_REDACT_KEY, EXTRACT_MIN_SCORE."
)]
pub struct Cli {
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the HTTP API, /openapi.json and the docs page.
    Serve {
        #[arg(long, env = "EXTRACT_ADDR", default_value = "127.0.0.1:8083")]
        addr: String,
    },
    /// Extract from a file (or stdin with `-`) and print the response JSON.
    Extract {
        #[arg(default_value = "-")]
        input: PathBuf,
        /// A named schema (contact, invoice, meeting, entities, pii).
        #[arg(long, conflicts_with = "json_schema")]
        schema: Option<String>,
        /// A JSON Schema file.
        #[arg(long)]
        json_schema: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "auto")]
        engine: Engine,
    },
    /// Redact PII in a file (or stdin) and print the text.
    Redact {
        #[arg(default_value = "-")]
        input: PathBuf,
        #[arg(long, value_enum, default_value = "mask")]
        mode: Mode,
    },
    /// Run the injection guard on a file (or stdin) and print its verdict.
    Guard {
        #[arg(default_value = "-")]
        input: PathBuf,
    },
    /// Evaluate on external data; prints a Markdown report.
    Eval {
        #[command(subcommand)]
        what: EvalCommand,
    },
    /// Train the injection guard and write its weights: the training halves of the data folder's
    /// sources (deepset's train split, SQuAD, HotpotQA, SciFact, QQP, PAWS, LoCoMo, MMLU, GSM8K,
    /// MBPP train) and of the project's instructions, plus any --data files; the threshold is
    /// chosen on out-of-fold scores. `--data-dir ../shared/data` reproduces the bundled weights
    /// byte for byte.
    TrainGuard {
        /// A folder laid out like the team's data/ (datasets that are missing are skipped).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// More `{"text", "label"}` lines, as `[KIND=]PATH` (kinds: labelled, paragraph,
        /// question, instruction, chat, sentence).
        #[arg(long)]
        data: Vec<String>,
        #[arg(long, default_value = "shared/genai-guard/data/injection.bin")]
        out: PathBuf,
        /// Folds for the out-of-fold scores the threshold is chosen on (0 or 1: keep 0.5).
        #[arg(long, default_value_t = 5)]
        folds: usize,
        /// At most this many texts per source.
        #[arg(long, default_value_t = 1500)]
        cap: usize,
        /// Weight of an attack relative to a benign text.
        #[arg(long, default_value_t = 1.0)]
        positive_weight: f32,
        /// Weight of every text of a labelled set (deepset) relative to the benign-only sets.
        #[arg(long, default_value_t = 10.0)]
        labelled_weight: f32,
        /// L2 regularisation.
        #[arg(long, default_value_t = 3e-4)]
        l2: f32,
        /// Hash buckets: 2^bits n-gram weights.
        #[arg(long, default_value_t = 16)]
        bits: u32,
    },
    /// Offline engine throughput (MB/s), guard latency per KB, and the API's p95 under load.
    Bench {
        /// Texts to use: a Presidio-style JSON file (default: built-in samples).
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 4000)]
        requests: usize,
    },
}

#[derive(Subcommand, Debug)]
enum EvalCommand {
    /// Token-level PII precision/recall/F1/F2, overall and per type, on a Presidio-style JSON
    /// file (`full_text`, `spans` with character offsets).
    Pii {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 0.4)]
        min_score: f32,
        /// Exit with an error when overall PII F2 is below this (a CI gate).
        #[arg(long)]
        min_f2: Option<f64>,
    },
    /// The injection guard per source: TPR on attacks, FPR on benign paragraphs, questions,
    /// instructions and chat turns, with 95% Wilson intervals; latency per KB, long inputs too.
    Injection {
        /// A folder laid out like the team's data/: the evaluation halves of its sources
        /// (deepset's test split, the other half of every benign set) and of the project's
        /// instructions.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// `{"text", "label"}` lines, as `[KIND=]PATH` (kinds: labelled, paragraph, question,
        /// instruction, chat, sentence); repeatable.
        #[arg(long)]
        data: Vec<String>,
        /// At most this many texts per data-folder source.
        #[arg(long, default_value_t = 1000)]
        cap: usize,
        /// Weights to evaluate (default: the bundled ones).
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Exit with an error unless every kind meets its limit (labelled: TPR >= 0.80 and
        /// FPR <= 2%; paragraph, question, sentence: FPR <= 1%; chat: <= 2%; instruction: <= 5%).
        #[arg(long)]
        gate: bool,
        /// The labelled sets' TPR floor for --gate (the target is 0.80; see the crate README
        /// for what the bundled detector reaches).
        #[arg(long, default_value_t = 0.80)]
        min_tpr: f64,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Engine {
    Auto,
    Offline,
    Llm,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Mode {
    Mask,
    Hash,
    Pseudonym,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Serve { addr: "127.0.0.1:8083".into() }) {
        Command::Serve { addr } => {
            if config.redact_key == crate::DEV_REDACT_KEY {
                tracing::warn!("EXTRACT_REDACT_KEY is not set: hashes and pseudonyms use the development key");
            }
            let ex = Extractor::open(config).await?;
            let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;
            tracing::info!(
                engines = if ex.llm.is_some() { "offline, llm" } else { "offline" },
                "extraction API on http://{}/",
                listener.local_addr()?
            );
            crate::api::serve(listener, ex, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        }
        Command::Extract { input, schema, json_schema, engine } => {
            let json_schema = match json_schema {
                Some(p) => Some(serde_json::from_str(&read(&p)?).with_context(|| format!("parsing {}", p.display()))?),
                None => None,
            };
            let engine = Some(match engine {
                Engine::Auto => EngineKind::Auto,
                Engine::Offline => EngineKind::Offline,
                Engine::Llm => EngineKind::Llm,
            });
            let req = ExtractRequest { text: read(&input)?, schema, json_schema, engine };
            let out = Extractor::open(config).await?.extract(&req).await?;
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Command::Redact { input, mode } => {
            let mode = Some(match mode {
                Mode::Mask => RedactMode::Mask,
                Mode::Hash => RedactMode::Hash,
                Mode::Pseudonym => RedactMode::Pseudonym,
            });
            let out =
                Extractor::new(config, None).redact(&RedactRequest { text: read(&input)?, mode, kinds: None }).await?;
            println!("{}", out.text);
        }
        Command::Guard { input } => {
            let v = genai_guard::InjectionDetector::bundled().check(&read(&input)?);
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Command::Eval { what: EvalCommand::Pii { data, min_score, min_f2 } } => {
            let records: Vec<eval::pii::Record> =
                serde_json::from_str(&read(&data)?).with_context(|| format!("parsing {}", data.display()))?;
            let analyzer = genai_guard::Analyzer { min_score, ..genai_guard::Analyzer::default() };
            let report = eval::pii::evaluate(&analyzer, &records);
            println!("PII on {} ({} records, min score {min_score}):\n", data.display(), report.records);
            println!("{}", eval::pii::to_markdown(&report));
            let f2 = report.pii.f_beta(2.0);
            if let Some(min) = min_f2 {
                anyhow::ensure!(f2 >= min, "PII F2 {f2:.3} is below the gate {min}");
            }
        }
        Command::Eval { what: EvalCommand::Injection { data_dir, data, cap, weights, gate, min_tpr } } => {
            let detector = match weights {
                Some(p) => genai_guard::InjectionDetector::from_bytes(
                    &std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?,
                )?,
                None => genai_guard::InjectionDetector::bundled(),
            };
            let sources = eval::injection::sources(data_dir.as_deref(), &data, eval::guard_data::Split::Eval, cap)?;
            let report = eval::injection::evaluate(&detector, &sources);
            println!("Injection guard (threshold {:.2}):\n", detector.threshold);
            println!("{}", eval::injection::to_markdown(&report));
            let failures = eval::injection::gate(&report, min_tpr);
            if gate {
                anyhow::ensure!(failures.is_empty(), "the guard fails its gate: {}", failures.join("; "));
            }
        }
        Command::TrainGuard { data_dir, data, out, folds, cap, positive_weight, labelled_weight, l2, bits } => {
            eval::injection::train_command(&eval::injection::TrainArgs {
                data_dir,
                data,
                out,
                folds,
                cap,
                positive_weight,
                labelled_weight,
                l2,
                bits,
            })?
        }
        Command::Bench { data, concurrency, requests } => {
            eval::bench::run(data.as_deref(), concurrency, requests).await?
        }
    }
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading stdin")?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    }
}
