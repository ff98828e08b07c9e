//! Runs a [`Graph`] against a [`Journal`]. Nothing about a run lives in memory between steps:
//! `drive` folds the journal into a [`View`] (state, next node, this step's recorded calls and
//! answers, what was spent), runs steps until the run finishes, parks or fails, and appends every
//! outcome before acting on it. Resuming after a crash is the same `drive` call.

use crate::ctx::{Appender, Ctx, Meter, Records, Shared};
use crate::error::{RuntimeError, StepError};
use crate::event::{Event, ForkedFrom, Spend};
use crate::graph::{END, Edge, Graph, Kind};
use crate::journal::Journal;
use genai_core::{Classify, ErrorClass};
use genai_llm::{Ledger, PriceTable};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// What a run may consume in all, across every agent, attempt and resume.
#[derive(Debug, Clone)]
pub struct RunLimits {
    /// Steps in all (loops included). Default 100.
    pub max_steps: u64,
    pub max_tokens: Option<u64>,
    pub max_usd: Option<f64>,
}

impl Default for RunLimits {
    fn default() -> Self {
        Self { max_steps: 100, max_tokens: None, max_usd: None }
    }
}

/// How a `drive` ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<S> {
    Finished(S),
    /// Waiting for a human's answer to `request`.
    Parked {
        key: String,
        request: Value,
    },
    Failed {
        error: String,
        class: ErrorClass,
    },
}

/// One checkpoint of a run: the state after a step (time travel forks from one).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckpointInfo {
    pub step: u64,
    pub node: String,
    pub next: Option<String>,
    pub state: Value,
}

/// A run as its journal says it is.
#[derive(Debug, Clone, Default)]
pub(crate) struct View {
    pub workflow: String,
    pub version: u32,
    pub state: Value,
    pub step: u64,
    pub next: Option<String>,
    pub records: Records,
    pub attempts: u32,
    pub pending: Option<(String, Value)>,
    pub finished: Option<Value>,
    pub failed: Option<(String, ErrorClass)>,
    pub spent: Spend,
}

impl View {
    pub(crate) fn fold(run: &str, events: &[Event], start: &str) -> Result<Self, RuntimeError> {
        let malformed = |reason: &str| RuntimeError::Malformed { run: run.into(), reason: reason.into() };
        let Some(Event::Started { workflow, version, state, .. }) = events.first() else {
            return Err(malformed("the first event is not `started`"));
        };
        let mut v = View {
            workflow: workflow.clone(),
            version: *version,
            state: state.clone(),
            next: Some(start.to_string()),
            ..View::default()
        };
        for e in &events[1..] {
            let now = |step: &u64| *step == v.step;
            match e {
                Event::Started { .. } => return Err(malformed("a second `started` event")),
                Event::Checkpoint { step, version, state, next, .. } if now(step) => {
                    (v.version, v.state, v.next) = (*version, state.clone(), next.clone());
                    v.step += 1;
                    (v.records, v.attempts, v.pending) = (Records::default(), 0, None);
                }
                Event::Migrated { to, state, .. } => (v.version, v.state) = (*to, state.clone()),
                Event::Call { step, key, name, output, spend } => {
                    v.spent.input_tokens += spend.input_tokens;
                    v.spent.output_tokens += spend.output_tokens;
                    v.spent.usd += spend.usd;
                    if now(step) {
                        v.records.calls.insert(key.clone(), (name.clone(), output.clone()));
                    }
                }
                Event::EffectIntent { step, key, idempotency_key, .. } if now(step) => {
                    v.records.intents.insert(key.clone(), idempotency_key.clone());
                }
                Event::Interrupted { step, key, request } if now(step) => {
                    v.pending = Some((key.clone(), request.clone()))
                }
                Event::Resumed { step, key, response } if now(step) => {
                    v.records.answers.insert(key.clone(), response.clone());
                    v.pending = None;
                }
                Event::StepFailed { step, attempt, .. } if now(step) => v.attempts = v.attempts.max(*attempt),
                Event::Finished { state } => v.finished = Some(state.clone()),
                Event::Failed { error, class } => v.failed = Some((error.clone(), *class)),
                Event::Checkpoint { .. }
                | Event::EffectIntent { .. }
                | Event::Interrupted { .. }
                | Event::Resumed { .. }
                | Event::StepFailed { .. } => {
                    return Err(malformed("an event names a step other than the current one"));
                }
                Event::StepStarted { .. } | Event::Compensated { .. } => {}
            }
        }
        Ok(v)
    }
}

/// Runs one workflow's graph on one journal.
pub struct Runtime<S> {
    graph: Arc<Graph<S>>,
    journal: Arc<dyn Journal>,
    limits: RunLimits,
    prices: Arc<PriceTable>,
    ledger: Arc<Ledger>,
}

impl<S> std::fmt::Debug for Runtime<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("graph", &self.graph).field("journal", &self.journal.backend()).finish()
    }
}

impl<S> Runtime<S>
where
    S: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    pub fn new(graph: Arc<Graph<S>>, journal: Arc<dyn Journal>, limits: RunLimits) -> Self {
        Self { graph, journal, limits, prices: Arc::new(PriceTable::default()), ledger: Arc::new(Ledger::default()) }
    }

    /// Prices model calls with `prices` and records them in `ledger` (one meter across agents).
    pub fn with_pricing(mut self, prices: Arc<PriceTable>, ledger: Arc<Ledger>) -> Self {
        (self.prices, self.ledger) = (prices, ledger);
        self
    }

    pub fn graph(&self) -> &Graph<S> {
        &self.graph
    }

    pub fn journal(&self) -> &Arc<dyn Journal> {
        &self.journal
    }

    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// Creates a run with `input` as its state; `drive` runs it.
    pub async fn start(&self, id: Option<String>, input: &S) -> Result<String, RuntimeError> {
        let id = id.unwrap_or_else(new_id);
        let state = serde_json::to_value(input).map_err(|source| RuntimeError::State { run: id.clone(), source })?;
        let first =
            Event::Started { workflow: self.graph.name.clone(), version: self.graph.version, state, forked_from: None };
        self.journal.create(&id, &self.graph.name, &[first]).await?;
        Ok(id)
    }

    async fn view(&self, id: &str) -> Result<(Vec<Event>, View), RuntimeError> {
        let events = self.journal.events(id).await?;
        let view = View::fold(id, &events, &self.graph.start)?;
        if view.workflow != self.graph.name {
            return Err(RuntimeError::WrongWorkflow {
                run: id.into(),
                expected: self.graph.name.clone(),
                found: view.workflow,
            });
        }
        Ok((events, view))
    }

    fn decode(&self, id: &str, v: &Value) -> Result<S, RuntimeError> {
        serde_json::from_value(v.clone()).map_err(|source| RuntimeError::State { run: id.into(), source })
    }

    // ANCHOR: drive
    /// Runs `id` from where its journal stands until it finishes, parks or fails. Safe to call
    /// after any crash; two processes driving one run cannot both write a step (the journal's
    /// sequence check makes the loser return `Conflict`).
    pub async fn drive(&self, id: &str) -> Result<Outcome<S>, RuntimeError> {
        let (events, mut view) = self.view(id).await?;
        let appender = Arc::new(Appender {
            journal: self.journal.clone(),
            run: id.into(),
            seq: tokio::sync::Mutex::new(events.len() as u64),
        });
        if view.finished.is_none() && view.failed.is_none() && view.version != self.graph.version {
            let (from, to) = (view.version, self.graph.version);
            let state = self.graph.migrate(from, view.state.clone()).map_err(|reason| RuntimeError::Version {
                run: id.into(),
                found: from,
                expected: to,
                reason,
            })?;
            appender.append(Event::Migrated { from, to, state: state.clone() }).await?;
            (view.version, view.state) = (to, state);
        }
        let meter = Arc::new(Meter {
            spent: Mutex::new(view.spent),
            max_tokens: self.limits.max_tokens,
            max_usd: self.limits.max_usd,
        });
        loop {
            if let Some(state) = &view.finished {
                return Ok(Outcome::Finished(self.decode(id, state)?));
            }
            if let Some((error, class)) = &view.failed {
                return Ok(Outcome::Failed { error: error.clone(), class: *class });
            }
            if let Some((key, request)) = &view.pending {
                return Ok(Outcome::Parked { key: key.clone(), request: request.clone() });
            }
            let Some(node) = view.next.clone() else {
                appender.append(Event::Finished { state: view.state.clone() }).await?;
                view.finished = Some(view.state.clone());
                continue;
            };
            if view.step >= self.limits.max_steps {
                let error = format!("step limit of {} reached before {node}", self.limits.max_steps);
                appender.append(Event::Failed { error: error.clone(), class: ErrorClass::Budget }).await?;
                view.failed = Some((error, ErrorClass::Budget));
                continue;
            }
            self.step(id, &node, &mut view, &appender, &meter).await?;
        }
    }
    // ANCHOR_END: drive

    /// One attempt of the current step; updates `view` with what it appended.
    async fn step(
        &self,
        id: &str,
        node: &str,
        view: &mut View,
        appender: &Arc<Appender>,
        meter: &Arc<Meter>,
    ) -> Result<(), RuntimeError> {
        let entry = self.graph.nodes.get(node).ok_or_else(|| RuntimeError::Malformed {
            run: id.into(),
            reason: format!("the journal goes to node {node}, which this workflow does not have"),
        })?;
        let (step, attempt) = (view.step, view.attempts + 1);
        appender.append(Event::StepStarted { step, node: node.into(), attempt }).await?;
        let shared = Arc::new(Shared {
            appender: appender.clone(),
            step,
            records: Mutex::new(view.records.clone()),
            meter: meter.clone(),
            prices: self.prices.clone(),
            ledger: self.ledger.clone(),
        });
        let ctx = Ctx::new(shared.clone());
        let mut state = self.decode(id, &view.state)?;
        let timeout = entry.policy.timeout;
        let result = tokio::time::timeout(timeout, run_kind(&entry.kind, &mut state, &ctx))
            .await
            .unwrap_or_else(|_| Err(StepError::Transient(format!("{node} timed out after {timeout:?}"))));
        // Calls completed by this attempt are replayed by the next one, not repeated.
        view.records = shared.records.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let checkpoint = |state: Value, next: Option<String>| Event::Checkpoint {
            step,
            node: node.into(),
            version: self.graph.version,
            state,
            next,
        };
        let error = match result {
            Ok(()) => {
                let next = match &entry.edge {
                    Some(Edge::To(t)) => Ok(t.clone()),
                    Some(Edge::Branch { targets, choose }) => {
                        let t = choose(&state);
                        if targets.contains(&t) {
                            Ok(t)
                        } else {
                            Err(StepError::Permanent(format!("{node} chose {t}, which is not one of {targets:?}")))
                        }
                    }
                    None => Err(StepError::Permanent(format!("{node} has no edge"))),
                };
                match next {
                    Ok(next) => {
                        let next = (next != END).then_some(next);
                        let value = serde_json::to_value(&state)
                            .map_err(|source| RuntimeError::State { run: id.into(), source })?;
                        appender.append(checkpoint(value.clone(), next.clone())).await?;
                        (view.state, view.next, view.step) = (value, next, step + 1);
                        (view.records, view.attempts) = (Records::default(), 0);
                        return Ok(());
                    }
                    Err(e) => e,
                }
            }
            Err(StepError::Interrupt { key, request }) => {
                appender.append(Event::Interrupted { step, key: key.clone(), request: request.clone() }).await?;
                view.pending = Some((key, request));
                return Ok(());
            }
            // The journal itself failed: stop here; the next `drive` picks up from what was written.
            Err(StepError::Journal(e)) => return Err(e.into()),
            Err(e) => e,
        };
        let retry = if error.class().is_retryable() { entry.policy.retry.next_delay(attempt - 1, None) } else { None };
        tracing::warn!(run = id, node, attempt, error = %error, retry = ?retry, "agent step failed");
        appender
            .append(Event::StepFailed {
                step,
                node: node.into(),
                attempt,
                error: error.to_string(),
                class: error.class(),
                retry_in_ms: retry.map(|d| d.as_millis() as u64),
            })
            .await?;
        view.attempts = attempt;
        if let Some(delay) = retry {
            tokio::time::sleep(delay).await;
            return Ok(());
        }
        let original = self.decode(id, &view.state)?;
        let ok = compensate_kind(&entry.kind, &original, &ctx, &error).await.is_ok();
        appender.append(Event::Compensated { step, node: node.into(), ok }).await?;
        match &entry.policy.fallback {
            Some(fallback) => {
                appender.append(checkpoint(view.state.clone(), Some(fallback.clone()))).await?;
                (view.next, view.step) = (Some(fallback.clone()), step + 1);
                (view.records, view.attempts) = (Records::default(), 0);
            }
            None => {
                let (message, class) = (format!("{node}: {error}"), error.class());
                appender.append(Event::Failed { error: message.clone(), class }).await?;
                view.failed = Some((message, class));
            }
        }
        Ok(())
    }

    /// Answers the question a parked run is waiting on, then drives it on.
    pub async fn resume(&self, id: &str, answer: Value) -> Result<Outcome<S>, RuntimeError> {
        self.answer(id, answer).await?;
        self.drive(id).await
    }

    /// Journals the answer to a parked run's question without driving it: the run is `running`
    /// again when this returns, and any worker's `drive` continues it (a service answers on the
    /// request, then drives in the background).
    pub async fn answer(&self, id: &str, answer: Value) -> Result<(), RuntimeError> {
        let (events, view) = self.view(id).await?;
        let Some((key, _)) = view.pending else { return Err(RuntimeError::NotParked(id.into())) };
        let resumed = Event::Resumed { step: view.step, key, response: answer };
        self.journal.append(id, events.len() as u64, &resumed).await?;
        Ok(())
    }

    /// The run's events, oldest first.
    pub async fn history(&self, id: &str) -> Result<Vec<Event>, RuntimeError> {
        Ok(self.journal.events(id).await?)
    }

    /// The state after each completed step.
    pub async fn checkpoints(&self, id: &str) -> Result<Vec<CheckpointInfo>, RuntimeError> {
        let events = self.journal.events(id).await?;
        Ok(events
            .into_iter()
            .filter_map(|e| match e {
                Event::Checkpoint { step, node, state, next, .. } => Some(CheckpointInfo { step, node, next, state }),
                _ => None,
            })
            .collect())
    }

    /// Time travel: a new run that shares `id`'s history up to the checkpoint of `step` and goes
    /// on from there (optionally with an edited state). The original run is untouched.
    pub async fn fork(&self, id: &str, step: u64, edit: Option<&S>) -> Result<String, RuntimeError> {
        let events = self.journal.events(id).await?;
        let end = events
            .iter()
            .position(|e| matches!(e, Event::Checkpoint { step: s, .. } if *s == step))
            .ok_or(RuntimeError::NoCheckpoint { run: id.into(), step })?;
        let mut copied = events[..=end].to_vec();
        if let Some(Event::Started { forked_from, .. }) = copied.first_mut() {
            *forked_from = Some(ForkedFrom { run: id.into(), step });
        }
        if let (Some(edit), Some(Event::Checkpoint { state, .. })) = (edit, copied.last_mut()) {
            *state = serde_json::to_value(edit).map_err(|source| RuntimeError::State { run: id.into(), source })?;
        }
        let new = new_id();
        self.journal.create(&new, &self.graph.name, &copied).await?;
        Ok(new)
    }
}

async fn run_kind<S: Clone + Send + Sync>(kind: &Kind<S>, state: &mut S, ctx: &Ctx) -> Result<(), StepError> {
    match kind {
        Kind::One(node) => node.run(state, ctx).await,
        Kind::FanOut { branches, merge } => {
            let runs = branches.iter().map(|(name, node)| {
                let (mut copy, branch_ctx) = (state.clone(), ctx.branch(name));
                async move { node.run(&mut copy, &branch_ctx).await.map(|()| copy) }
            });
            let mut states = Vec::with_capacity(branches.len());
            for r in futures::future::join_all(runs).await {
                states.push(r?);
            }
            merge(state, states);
            Ok(())
        }
    }
}

async fn compensate_kind<S: Send + Sync>(
    kind: &Kind<S>,
    state: &S,
    ctx: &Ctx,
    error: &StepError,
) -> Result<(), StepError> {
    match kind {
        Kind::One(node) => node.compensate(state, ctx, error).await,
        Kind::FanOut { branches, .. } => {
            for (name, node) in branches {
                node.compensate(state, &ctx.branch(name), error).await?;
            }
            Ok(())
        }
    }
}

/// A run id: 16 random hex digits.
pub fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}
