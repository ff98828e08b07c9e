//! A small workflow that exercises everything: a loop of journaled calls, a human approval, a
//! side effect with an idempotency key, and an external sink that counts what really happened.

use async_trait::async_trait;
use genai_agent::{Ctx, END, Graph, Journal, Node, RunLimits, Runtime, SqliteJournal, StepError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct State {
    pub n: u32,
    pub log: Vec<String>,
    pub approved: Option<bool>,
    pub receipt: Option<String>,
}

/// The outside world: counts every invocation of the effect, and applies each idempotency key
/// once (what a file named by the key or an `Idempotency-Key` header gives).
#[derive(Debug, Default)]
pub struct Sink {
    pub invocations: AtomicU32,
    pub adds: AtomicU32,
    pub applied: Mutex<HashMap<String, u32>>,
}

impl Sink {
    pub fn apply(&self, key: &str) -> String {
        self.invocations.fetch_add(1, Ordering::SeqCst);
        let mut applied = self.applied.lock().unwrap();
        let n = applied.entry(key.to_string()).or_insert(0);
        if *n == 0 {
            *n = 1;
        }
        format!("published:{key}")
    }

    pub fn effects(&self) -> u32 {
        self.applied.lock().unwrap().values().sum()
    }
}

pub struct Work(pub Arc<Sink>);

#[async_trait]
impl Node<State> for Work {
    async fn run(&self, s: &mut State, ctx: &Ctx) -> Result<(), StepError> {
        let sink = self.0.clone();
        let n = s.n;
        let next: u32 = ctx
            .call("add", || async move {
                sink.adds.fetch_add(1, Ordering::SeqCst);
                Ok(n + 1)
            })
            .await?;
        s.n = next;
        s.log.push(format!("work {next}"));
        Ok(())
    }
}

pub struct Approve;

#[async_trait]
impl Node<State> for Approve {
    async fn run(&self, s: &mut State, ctx: &Ctx) -> Result<(), StepError> {
        let answer: String = ctx.interrupt(&serde_json::json!({"approve": "publish", "n": s.n})).await?;
        s.approved = Some(answer == "approve");
        s.log.push(format!("human said {answer}"));
        Ok(())
    }
}

pub struct Publish(pub Arc<Sink>);

#[async_trait]
impl Node<State> for Publish {
    async fn run(&self, s: &mut State, ctx: &Ctx) -> Result<(), StepError> {
        let sink = self.0.clone();
        let key = format!("{}-report", ctx.run_id());
        let receipt: String = ctx.effect("publish", &key, |k| async move { Ok(sink.apply(&k)) }).await?;
        s.receipt = Some(receipt);
        Ok(())
    }
}

pub fn graph(sink: Arc<Sink>) -> Graph<State> {
    Graph::builder("flow", 1, "work")
        .node("work", Work(sink.clone()))
        .node("approve", Approve)
        .node("publish", Publish(sink))
        .branch("work", &["work", "approve"], |s: &State| if s.n < 3 { "work".into() } else { "approve".into() })
        .branch(
            "approve",
            &["publish", END],
            |s: &State| {
                if s.approved == Some(true) { "publish".into() } else { END.into() }
            },
        )
        .edge("publish", END)
        .build()
        .expect("a valid graph")
}

pub async fn sqlite(dir: &std::path::Path) -> Arc<dyn Journal> {
    Arc::new(SqliteJournal::open(&dir.join("journal.db")).await.expect("open the journal"))
}

pub fn runtime(journal: Arc<dyn Journal>, sink: Arc<Sink>) -> Runtime<State> {
    Runtime::new(Arc::new(graph(sink)), journal, RunLimits::default())
}
