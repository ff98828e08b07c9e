//! What a node touches the world through. Every call's result is journaled before the node sees
//! it; on replay (a retry, a resume after a crash or a human's answer) the journaled result is
//! returned and the call is not made again.

use crate::error::StepError;
use crate::event::{Event, Spend};
use crate::journal::Journal;
use genai_llm::{ChatModel, ChatRequest, ChatResponse, Ledger, LedgerEntry, PriceTable};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// Appends to one run's journal, holding the next sequence number. Shared by the runtime and
/// every branch of a step, so concurrent branches append one at a time.
#[derive(Debug)]
pub(crate) struct Appender {
    pub journal: Arc<dyn Journal>,
    pub run: String,
    pub seq: tokio::sync::Mutex<u64>,
}

impl Appender {
    pub async fn append(&self, event: Event) -> Result<(), crate::journal::JournalError> {
        let mut seq = self.seq.lock().await;
        self.journal.append(&self.run, *seq, &event).await?;
        *seq += 1;
        Ok(())
    }
}

/// What the journal already holds for the current step.
#[derive(Debug, Default, Clone)]
pub(crate) struct Records {
    /// key → (call name, output)
    pub calls: HashMap<String, (String, Value)>,
    /// key → idempotency key of an effect that was started.
    pub intents: HashMap<String, String>,
    /// key → a human's answer.
    pub answers: HashMap<String, Value>,
}

/// The run's limits and what it has spent, shared by every agent and every attempt.
#[derive(Debug)]
pub(crate) struct Meter {
    pub spent: Mutex<Spend>,
    pub max_tokens: Option<u64>,
    pub max_usd: Option<f64>,
}

impl Meter {
    fn check(&self) -> Result<(), StepError> {
        let s = *self.spent.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(max) = self.max_tokens.filter(|m| s.tokens() >= *m) {
            return Err(StepError::Budget(format!("{} tokens spent of {max}", s.tokens())));
        }
        if let Some(max) = self.max_usd.filter(|m| s.usd >= *m) {
            return Err(StepError::Budget(format!("${:.4} spent of ${max:.4}", s.usd)));
        }
        Ok(())
    }

    fn add(&self, spend: Spend) {
        let mut s = self.spent.lock().unwrap_or_else(|p| p.into_inner());
        s.input_tokens += spend.input_tokens;
        s.output_tokens += spend.output_tokens;
        s.usd += spend.usd;
    }
}

pub(crate) struct Shared {
    pub appender: Arc<Appender>,
    pub step: u64,
    pub records: Mutex<Records>,
    pub meter: Arc<Meter>,
    pub prices: Arc<PriceTable>,
    pub ledger: Arc<Ledger>,
}

/// A node's handle on the run. Keys name each call by its position in the node's sequence of
/// calls (`3`), under the branch's name in a fan-out (`left/3`); the call's name is journaled beside it.
pub struct Ctx {
    shared: Arc<Shared>,
    prefix: String,
    counter: AtomicU32,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("run", &self.shared.appender.run).field("step", &self.shared.step).finish()
    }
}

impl Ctx {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared, prefix: String::new(), counter: AtomicU32::new(0) }
    }

    /// The context of one fan-out branch.
    pub(crate) fn branch(&self, name: &str) -> Self {
        Self { shared: self.shared.clone(), prefix: format!("{}{name}/", self.prefix), counter: AtomicU32::new(0) }
    }

    pub fn run_id(&self) -> &str {
        &self.shared.appender.run
    }

    pub fn step(&self) -> u64 {
        self.shared.step
    }

    /// Keys are positions, not names, so a node that asks for a different call at the same
    /// position on replay is caught (the recorded name differs) instead of silently re-executing.
    fn next_key(&self, _name: &str) -> String {
        format!("{}{}", self.prefix, self.counter.fetch_add(1, Ordering::SeqCst))
    }

    fn recorded<T: DeserializeOwned>(&self, key: &str, name: &str) -> Result<Option<T>, StepError> {
        let records = self.shared.records.lock().unwrap_or_else(|p| p.into_inner());
        let Some((recorded, output)) = records.calls.get(key) else { return Ok(None) };
        if recorded != name {
            return Err(StepError::Nondeterminism { key: key.into(), recorded: recorded.clone(), asked: name.into() });
        }
        serde_json::from_value(output.clone())
            .map(Some)
            .map_err(|e| StepError::Permanent(format!("recorded result of {key} does not decode: {e}")))
    }

    async fn record(&self, key: String, name: &str, output: Value, spend: Spend) -> Result<(), StepError> {
        let event =
            Event::Call { step: self.shared.step, key: key.clone(), name: name.into(), output: output.clone(), spend };
        self.shared.appender.append(event).await?;
        self.shared.records.lock().unwrap_or_else(|p| p.into_inner()).calls.insert(key, (name.into(), output));
        Ok(())
    }

    // ANCHOR: call
    /// A journaled call without side effects worth protecting (a search, a computation, a
    /// clock read). Done once; every replay returns the recorded result. A failure is not
    /// recorded, so a retry calls again.
    pub async fn call<T, F, Fut>(&self, name: &str, f: F) -> Result<T, StepError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, StepError>>,
    {
        let key = self.next_key(name);
        if let Some(done) = self.recorded(&key, name)? {
            return Ok(done);
        }
        let out = f().await?;
        let value = serde_json::to_value(&out).map_err(|e| StepError::Permanent(format!("{name}: {e}")))?;
        self.record(key, name, value, Spend::default()).await?;
        Ok(out)
    }
    // ANCHOR_END: call

    // ANCHOR: effect
    /// A side effect (publish, send, pay) executed at most once per idempotency key: the intent
    /// is journaled first; the effect gets the key and must pass it to the system it changes,
    /// which deduplicates (a file named by the key, an `Idempotency-Key` header). A crash after
    /// the effect but before its result was journaled re-sends with the same key on resume.
    pub async fn effect<T, F, Fut>(&self, name: &str, idempotency_key: &str, f: F) -> Result<T, StepError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<T, StepError>>,
    {
        let key = self.next_key(name);
        if let Some(done) = self.recorded(&key, name)? {
            return Ok(done);
        }
        let started = self.shared.records.lock().unwrap_or_else(|p| p.into_inner()).intents.get(&key).cloned();
        let idem = match started {
            Some(k) => k,
            None => {
                let event = Event::EffectIntent {
                    step: self.shared.step,
                    key: key.clone(),
                    name: name.into(),
                    idempotency_key: idempotency_key.into(),
                };
                self.shared.appender.append(event).await?;
                let mut records = self.shared.records.lock().unwrap_or_else(|p| p.into_inner());
                records.intents.insert(key.clone(), idempotency_key.into());
                idempotency_key.to_string()
            }
        };
        let out = f(idem).await?;
        let value = serde_json::to_value(&out).map_err(|e| StepError::Permanent(format!("{name}: {e}")))?;
        self.record(key, name, value, Spend::default()).await?;
        Ok(out)
    }
    // ANCHOR_END: effect

    /// A model call, journaled with its tokens and dollars, metered against the run's budget
    /// (checked before the call, so no attempt or retry gets around it) and written to the run's
    /// genai-llm ledger.
    pub async fn chat(&self, model: &dyn ChatModel, req: &ChatRequest) -> Result<ChatResponse, StepError> {
        let name = format!("model:{}", model.name());
        let key = self.next_key(&name);
        if let Some(done) = self.recorded(&key, &name)? {
            return Ok(done);
        }
        self.shared.meter.check()?;
        let started = std::time::Instant::now();
        let response = model.chat(req).await.map_err(|e| StepError::from_llm(&e))?;
        let usd = self.shared.prices.cost(model.name(), &response.usage);
        let spend =
            Spend { input_tokens: response.usage.input_tokens, output_tokens: response.usage.output_tokens, usd };
        self.shared.meter.add(spend);
        self.shared.ledger.record(LedgerEntry {
            model: model.name().into(),
            route: format!("agent:{}", self.next_route()),
            attempts: 1,
            latency_ms: started.elapsed().as_secs_f64() * 1e3,
            usage: response.usage,
            cost_usd: usd,
            outcome: "ok".into(),
        });
        let value = serde_json::to_value(&response).map_err(|e| StepError::Permanent(format!("{name}: {e}")))?;
        self.record(key, &name, value, spend).await?;
        Ok(response)
    }

    fn next_route(&self) -> String {
        format!("{}step{}", self.prefix, self.shared.step)
    }

    // ANCHOR: interrupt
    /// Asks a human. The first time, the run parks (the node returns the `Interrupt` error this
    /// produces: use `?`); once answered, the step runs again and this returns the answer, with
    /// every call the node made before it replayed from the journal, not repeated.
    pub async fn interrupt<Q: Serialize, A: DeserializeOwned>(&self, request: &Q) -> Result<A, StepError> {
        let key = self.next_key("interrupt");
        let answer = self.shared.records.lock().unwrap_or_else(|p| p.into_inner()).answers.get(&key).cloned();
        match answer {
            Some(v) => serde_json::from_value(v)
                .map_err(|e| StepError::Permanent(format!("the answer to {key} has the wrong shape: {e}"))),
            None => {
                let request = serde_json::to_value(request).map_err(|e| StepError::Permanent(e.to_string()))?;
                Err(StepError::Interrupt { key, request })
            }
        }
    }
    // ANCHOR_END: interrupt

    /// Milliseconds since the Unix epoch, journaled: replays see the same clock.
    pub async fn now_ms(&self) -> Result<i64, StepError> {
        self.call("clock", || async { Ok(crate::journal::now_ms()) }).await
    }
}
