//! `cost-optimizer serve`.

use super::{Gateway, GatewayConfig, config::LAYERS};
use anyhow::Context;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Settings file (default: cost-gateway.toml in the working directory, if present). See
    /// the crate README for every key; `COST_GATEWAY_<KEY>` variables override the file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Listen address (default 127.0.0.1:8090).
    #[arg(long)]
    pub addr: Option<String>,
    /// A policy file from `cost-optimizer eval --save-policy`.
    #[arg(long)]
    pub policy: Option<PathBuf>,
}

/// Loads the settings, builds the gateway and serves until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut config: GatewayConfig = LAYERS.load(args.config.as_deref())?;
    if let Some(a) = args.addr {
        config.addr = a;
    }
    if let Some(p) = args.policy {
        config.policy = Some(p);
    }
    let gateway = Gateway::new(config.clone()).context("starting the gateway")?;
    let listener =
        tokio::net::TcpListener::bind(&config.addr).await.with_context(|| format!("binding {}", config.addr))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, gateway = ?gateway, "cost gateway listening");
    println!("cost gateway on http://{addr}/v1 (OpenAI-compatible; model \"auto\" routes), ledger at /v1/ledger");
    super::serve(listener, gateway, genai_http::shutdown_signal()).await?;
    Ok(())
}

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// The recorded outcomes (as for `eval --data`).
    #[arg(long)]
    pub data: PathBuf,
    /// The task whose test split is sent through the gateway.
    #[arg(long)]
    pub task: String,
    /// The policy file (`eval --save-policy`) the gateway applies.
    #[arg(long)]
    pub policy: PathBuf,
    /// all-MiniLM-L6-v2's folder (default: $EMBED_MODEL_DIR, then models/all-MiniLM-L6-v2).
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
}

/// `cost-optimizer replay`: the test split's prompts through the running gateway, answered by
/// the recorded models, scored with the recorded outcomes.
pub async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let task = crate::cli::discover(&args.data, std::slice::from_ref(&args.task))?
        .into_iter()
        .next()
        .context("no such task")?;
    // The best model as `eval` names it: the most accurate on training data.
    let best = task.train.best_model();
    let started = std::time::Instant::now();
    let r = super::replay::drive(&task.test, best, &args.policy, args.model_dir, args.concurrency).await?;
    let pct = |i: &genai_eval::stats::Interval| {
        format!("{:.1}% [{:.1}, {:.1}]", 100.0 * i.mean, 100.0 * i.low, 100.0 * i.high)
    };
    println!(
        "== {} test split through the gateway ({} policy): {} questions in {:.1} s, {} failed",
        r.task,
        r.policy,
        r.questions,
        started.elapsed().as_secs_f64(),
        r.failed
    );
    println!(
        "  accuracy {}; vs always {} {:+.1} pts [{:+.1}, {:+.1}] p={:.4}",
        pct(&r.accuracy),
        r.best,
        100.0 * r.vs_best.difference,
        100.0 * r.vs_best.low,
        100.0 * r.vs_best.high,
        r.vs_best.p_value
    );
    println!(
        "  mean recorded cost {:.6} per question; saving vs always {} {}",
        r.mean_cost.mean,
        r.best,
        pct(&r.saving)
    );
    let share: Vec<String> =
        r.served_by.iter().map(|(m, s)| format!("{} {:.0}%", m.rsplit('/').next().unwrap_or(m), 100.0 * s)).collect();
    println!("  answered by: {}", share.join(", "));
    Ok(())
}
