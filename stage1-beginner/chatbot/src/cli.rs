//! The `chatbot` command line: a terminal chat by default, `serve` for the HTTP API and page,
//! `sessions`, and `cost-table` (tokens per turn over a long conversation).

use crate::{Chatbot, Config, Engine};
use anyhow::Context;
use clap::{Parser, Subcommand};
use futures::StreamExt;
use genai_llm::StreamEvent;
use std::io::{BufRead, Write};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "chatbot",
    version,
    about = "A chatbot with memory: long conversations that stay within the model's context and survive restarts.",
    long_about = "A chatbot with memory. Each turn keeps the newest whole turns that fit the context, a rolling summary of \
        older ones, and recalls earlier messages when they matter. Sessions live in SQLite and survive restarts.\n\n\
        Offline by default: it answers questions from what you said in the conversation and says when it cannot. \
        Set OPENAI_BASE_URL and OPENAI_API_KEY to chat with a model.\n\n\
        Configuration: defaults < chatbot.toml (or --config) < CHATBOT_DATA_DIR, CHATBOT_CONTEXT_TOKENS, CHATBOT_ENGINE < flags."
)]
pub struct Cli {
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Where sessions and the recall index live (default data/chatbot).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Reply engine (default auto: a model if configured, else offline).
    #[arg(long, global = true, value_enum)]
    engine: Option<Engine>,
    /// Context size in tokens (default: the model's, or 8192).
    #[arg(long, global = true)]
    context_tokens: Option<u64>,
    /// Continue this session (terminal chat).
    #[arg(long)]
    session: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the HTTP API and the chat page.
    Serve {
        #[arg(long, env = "CHATBOT_ADDR", default_value = "127.0.0.1:8082")]
        addr: String,
    },
    /// List stored sessions.
    Sessions,
    /// Print the tokens sent per turn over a scripted N-turn conversation (offline engine),
    /// beside what sending the whole history would cost. Uses a 2,048-token context unless
    /// --context-tokens says otherwise, so the window fills within the run.
    CostTable {
        #[arg(long, default_value_t = 50)]
        turns: usize,
    },
    /// Measure the memory on an external benchmark.
    #[command(subcommand)]
    Eval(EvalCommand),
}

#[derive(Subcommand, Debug)]
enum EvalCommand {
    /// LoCoMo (ACL 2024): replay each long conversation into a session, ask every question as
    /// an unrecorded turn through the real window, summary and recall, and print the official
    /// F1 per category with 95% intervals, tokens sent per question and turn latency. Offline
    /// unless a model is configured (OPENAI_BASE_URL), like the chat itself.
    Locomo {
        /// The LoCoMo JSON file (the official locomo10.json layout, or a subset of it).
        #[arg(long)]
        data: PathBuf,
        /// Only the first N conversations.
        #[arg(long)]
        conversations: Option<usize>,
        /// Only the first N questions of each conversation.
        #[arg(long)]
        questions: Option<usize>,
        /// Offline responder threshold (default: the configured answer_threshold).
        #[arg(long)]
        threshold: Option<f64>,
        /// Also write the report, every question and reply included, as JSON.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

impl Cli {
    fn config(&self) -> anyhow::Result<Config> {
        let mut c = Config::load(self.config.as_deref())?;
        if let Some(d) = &self.data_dir {
            c.data_dir = d.clone();
        }
        if let Some(e) = self.engine {
            c.responder = e;
        }
        if let Some(t) = self.context_tokens {
            c.memory.context_tokens = t;
        }
        Ok(c)
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config()?;
    match cli.command {
        Some(Command::Serve { addr }) => {
            let bot = Chatbot::open(config).await?;
            let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;
            tracing::info!("chatbot listening on http://{}/", listener.local_addr()?);
            crate::serve(listener, bot, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        }
        Some(Command::Sessions) => {
            let bot = Chatbot::open(config).await?;
            for id in bot.sessions().await? {
                let s = bot.session(&id).await?;
                println!("{id}  {} messages", s.messages.len());
            }
        }
        Some(Command::CostTable { turns }) => {
            let mut config = config;
            if cli.context_tokens.is_none() {
                config.memory.context_tokens = 2_048;
            }
            cost_table(config, turns).await?
        }
        Some(Command::Eval(EvalCommand::Locomo { data, conversations, questions, threshold, out })) => {
            let mut config = config;
            if let Some(t) = threshold {
                config.answer_threshold = t;
            }
            let model = if config.responder == Engine::Offline { None } else { genai_llm::from_env()? };
            let report = crate::eval::locomo_file(&config, model, &data, conversations, questions).await?;
            print!("{}", report.table());
            if let Some(out) = out {
                std::fs::write(&out, serde_json::to_vec_pretty(&report)?)
                    .with_context(|| format!("writing {}", out.display()))?;
            }
        }
        None => terminal(config, cli.session).await?,
    }
    Ok(())
}

async fn terminal(config: Config, session: Option<String>) -> anyhow::Result<()> {
    let bot = Chatbot::open(config).await?;
    let id = match session {
        Some(id) => {
            bot.session(&id).await?;
            id
        }
        None => bot.create_session().await?,
    };
    eprintln!("session {id} — type a message; /quit to leave (continue later with --session {id})");
    let stdin = std::io::stdin();
    loop {
        eprint!("> ");
        std::io::stderr().flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 || line.trim() == "/quit" {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        match bot.send(&id, &line).await {
            Ok(mut turn) => {
                while let Some(event) = turn.events.next().await {
                    match event {
                        Ok(StreamEvent::Delta(d)) => print!("{d}"),
                        Ok(StreamEvent::Done(_)) => println!(),
                        Err(e) => println!("\n(the reply failed: {e})"),
                    }
                    std::io::stdout().flush()?;
                }
            }
            Err(e) => eprintln!("{e}"),
        }
    }
    bot.close().await;
    Ok(())
}

/// Tokens sent per turn as a conversation grows: flat once the window is full, because the
/// summary and recall are bounded and only evicted turns are summarised.
async fn cost_table(mut config: Config, turns: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    config.data_dir = dir.path().to_owned();
    config.responder = Engine::Offline;
    let config_prompt = config.system_prompt.clone();
    let bot = Chatbot::open_with(config, None).await?;
    let id = bot.create_session().await?;
    let facts = [
        "My name is Ada and I work on the night shift.",
        "The warehouse in Leeds stores 1,200 pallets.",
        "Our forklift number 7 failed its brake test on Monday.",
        "The safety officer is called Priya Raman.",
    ];
    let mut full = genai_llm::tokens::count_chat_tokens("offline", &[genai_llm::Message::system(&config_prompt)]);
    let mut total = (0u64, 0u64);
    let mut latencies = Vec::with_capacity(turns);
    println!(
        "| turn | tokens sent | whole history would be | messages in window | moved to memory | recalled | summary tokens |\n|---|---|---|---|---|---|---|"
    );
    for t in 1..=turns {
        let text = if t % 5 == 0 {
            "What is the name of the safety officer?".to_owned()
        } else {
            format!(
                "{} Note {t}: the {} inspection found nothing unusual in aisle {}.",
                facts[t % facts.len()],
                ["morning", "evening", "night"][t % 3],
                t % 12
            )
        };
        let started = std::time::Instant::now();
        let (reply, info) = bot.send_and_wait(&id, &text).await?;
        latencies.push(started.elapsed());
        full += crate::memory::message_tokens("offline", &genai_llm::Message::user(text));
        total = (total.0 + info.context_tokens, total.1 + full);
        if t <= 10 || t % 5 == 0 {
            println!(
                "| {t} | {} | {full} | {} | {} | {} | {} |",
                info.context_tokens, info.window_messages, info.evicted_now, info.recalled, info.summary_tokens
            );
        }
        full += crate::memory::message_tokens("offline", &genai_llm::Message::assistant(reply));
    }
    println!("\nTotal over {turns} turns: {} tokens sent with memory, {} with the whole history.", total.0, total.1);
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1];
    if !latencies.is_empty() {
        println!(
            "Turn latency (offline engine, SQLite + recall index included): p50 {:.1?}, p95 {:.1?}.",
            at(0.5),
            at(0.95)
        );
    }
    Ok(())
}
