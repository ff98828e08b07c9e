//! The resilience layer: every call through [`Resilient`] gets, in this order, a budget check,
//! client-side rate limiting, the circuit breaker, a per-attempt timeout inside an overall
//! deadline, and retries with full-jitter backoff honouring `Retry-After` — and lands in the cost
//! ledger, a tracing span and the metrics, whatever its outcome.

mod breaker;
mod fallback;
mod ratelimit;

pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use fallback::{FallbackChain, FallbackStep};
pub use ratelimit::{RateConfig, RateLimiter};

use crate::pricing::{Ledger, LedgerEntry, PriceTable, SessionBudget};
use crate::tokens::count_chat_tokens;
use crate::{ChatModel, ChatRequest, ChatResponse, LlmError, StreamEvent};
use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use genai_core::backoff::Backoff;
use std::sync::Arc;
use std::time::Duration;
// tokio's clock, so tests with a paused clock exercise deadlines deterministically.
use tokio::time::Instant;
use tracing::Instrument;

/// Defaults: 30 s per attempt, 90 s overall, 4 attempts (250 ms base, 8 s cap, `Retry-After` up
/// to 60 s honoured), breaker and rate limits as their own defaults, no budgets.
#[derive(Debug, Clone)]
pub struct ResilienceConfig {
    pub attempt_timeout: Duration,
    pub deadline: Duration,
    pub backoff: Backoff,
    pub breaker: BreakerConfig,
    pub rate: RateConfig,
    /// Hard cap in USD for one call, all attempts included.
    pub request_budget_usd: Option<f64>,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(90),
            backoff: Backoff::default(),
            breaker: BreakerConfig::default(),
            rate: RateConfig::default(),
            request_budget_usd: None,
        }
    }
}

/// A [`ChatModel`] wrapped in the resilience layer. Clones share breaker, limiter and ledger.
#[derive(Debug, Clone)]
pub struct Resilient {
    inner: Arc<dyn ChatModel>,
    config: ResilienceConfig,
    breaker: Arc<CircuitBreaker>,
    limiter: Arc<RateLimiter>,
    ledger: Arc<Ledger>,
    prices: Arc<PriceTable>,
    /// Every budget this model charges (a conversation's and an extraction's, say).
    sessions: Vec<Arc<SessionBudget>>,
    route: String,
}

impl Resilient {
    pub fn new(inner: Arc<dyn ChatModel>, config: ResilienceConfig, prices: Arc<PriceTable>) -> Self {
        Self {
            breaker: Arc::new(CircuitBreaker::new(inner.endpoint(), config.breaker)),
            limiter: Arc::new(RateLimiter::new(config.rate)),
            ledger: Arc::new(Ledger::default()),
            inner,
            config,
            prices,
            sessions: Vec::new(),
            route: "chat".into(),
        }
    }

    /// The same model, also charging `session` (budgets nest: every one must allow a call).
    pub fn with_session(&self, session: Arc<SessionBudget>) -> Self {
        let mut sessions = self.sessions.clone();
        sessions.push(session);
        Self { sessions, ..self.clone() }
    }

    /// The same model, with calls recorded under `route` in the ledger.
    pub fn with_route(&self, route: impl Into<String>) -> Self {
        Self { route: route.into(), ..self.clone() }
    }

    /// The same model, sharing another's ledger (one ledger across a fallback chain).
    pub fn with_ledger(&self, ledger: Arc<Ledger>) -> Self {
        Self { ledger, ..self.clone() }
    }

    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// Fails with `BudgetExceeded` if the worst case of one more attempt crosses a cap, else
    /// holds that worst case on every session budget (all or none) until the call settles.
    /// Failed attempts are not billed by providers, so a failed attempt's hold is released; the
    /// check runs again before every retry, against budgets other calls may have drained.
    fn reserve_budget(&self, input_tokens: u64, req: &ChatRequest) -> Result<Holds, LlmError> {
        let needed = self.prices.worst_case(self.inner.name(), input_tokens, req.max_tokens);
        if let Some(limit) = self.config.request_budget_usd
            && needed > limit
        {
            return Err(LlmError::BudgetExceeded { scope: "request", limit, spent: 0.0, needed });
        }
        let mut holds = Holds::none();
        for s in &self.sessions {
            holds.held.push((s.clone(), s.reserve(needed)?));
        }
        Ok(holds)
    }

    // ANCHOR: run
    /// Runs `attempt` under the full policy. `attempt` performs one call. A success comes with
    /// the budget holds of its attempt, for [`Self::record`] to settle.
    async fn run<T, F, Fut>(&self, req: &ChatRequest, attempt: F) -> (Result<(T, Holds), LlmError>, u32)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, LlmError>>,
    {
        let start = Instant::now();
        let input_tokens = count_chat_tokens(self.inner.name(), &req.messages);
        let mut attempts = 0u32;
        loop {
            // Dropping `holds` (any early return below, a failed attempt) releases them.
            let holds = match self.reserve_budget(input_tokens, req) {
                Ok(h) => h,
                Err(e) => return (Err(e), attempts),
            };
            if let Err(e) = self.limiter.acquire(input_tokens + req.max_tokens as u64).await {
                return (Err(e), attempts);
            }
            if let Err(e) = self.breaker.allow() {
                return (Err(e), attempts);
            }
            let left = self.config.deadline.saturating_sub(start.elapsed());
            let budget = self.config.attempt_timeout.min(left);
            attempts += 1;
            metrics::counter!("genai_llm_attempts_total", "model" => self.inner.name().to_owned()).increment(1);
            let result = match tokio::time::timeout(budget, attempt()).await {
                Ok(r) => r,
                Err(_) if budget < self.config.attempt_timeout => Err(LlmError::DeadlineExceeded(self.config.deadline)),
                Err(_) => Err(LlmError::AttemptTimeout(budget)),
            };
            let error = match result {
                Ok(value) => {
                    self.breaker.on_success();
                    return (Ok((value, holds)), attempts);
                }
                Err(e) => e,
            };
            drop(holds); // not billed; and not held through the backoff below
            if !error.is_retryable() {
                if matches!(error, LlmError::DeadlineExceeded(_)) {
                    self.breaker.on_failure();
                }
                return (Err(error), attempts);
            }
            self.breaker.on_failure();
            let retry_after = match &error {
                LlmError::Http { retry_after, .. } => *retry_after,
                _ => None,
            };
            let Some(delay) = self.config.backoff.next_delay(attempts - 1, retry_after) else {
                return (Err(error), attempts);
            };
            if start.elapsed() + delay >= self.config.deadline {
                // Waiting would cross the deadline: give up now rather than sleep past it.
                return (Err(error), attempts);
            }
            metrics::counter!("genai_llm_retries_total", "model" => self.inner.name().to_owned(), "reason" => error.kind())
                .increment(1);
            tracing::warn!(error = %error, attempt = attempts, delay_ms = delay.as_millis() as u64, "model call failed; retrying");
            tokio::time::sleep(delay).await;
        }
    }
    // ANCHOR_END: run

    fn record(&self, started: Instant, attempts: u32, outcome: &Result<ChatResponse, LlmError>, holds: Holds) {
        let latency = started.elapsed();
        let model = self.inner.name().to_owned();
        let (usage, cost, label) = match outcome {
            Ok(r) => {
                let cost = self.prices.cost(&r.model, &r.usage).max(self.prices.cost(&model, &r.usage));
                (r.usage, cost, "ok")
            }
            Err(e) => (Default::default(), 0.0, e.kind()),
        };
        holds.settle(cost);
        self.ledger.record(LedgerEntry {
            model: model.clone(),
            route: self.route.clone(),
            attempts,
            latency_ms: latency.as_secs_f64() * 1e3,
            usage,
            cost_usd: cost,
            outcome: label.to_owned(),
        });
        metrics::counter!("genai_llm_requests_total", "model" => model.clone(), "outcome" => label).increment(1);
        if label != "ok" {
            metrics::counter!("genai_llm_errors_total", "model" => model.clone(), "kind" => label).increment(1);
        }
        metrics::histogram!("genai_llm_latency_seconds", "model" => model.clone()).record(latency.as_secs_f64());
        metrics::counter!("genai_llm_input_tokens_total", "model" => model.clone()).increment(usage.input_tokens);
        metrics::counter!("genai_llm_output_tokens_total", "model" => model.clone()).increment(usage.output_tokens);
        metrics::counter!("genai_llm_cost_microdollars_total", "model" => model).increment((cost * 1e6).round() as u64);
    }

    fn span(&self, req: &ChatRequest) -> tracing::Span {
        tracing::info_span!(
            "gen_ai.chat",
            "gen_ai.operation.name" = "chat",
            "gen_ai.system" = "openai",
            "gen_ai.request.model" = self.inner.name(),
            "gen_ai.request.max_tokens" = req.max_tokens,
            "gen_ai.request.temperature" = req.temperature,
            "gen_ai.response.model" = tracing::field::Empty,
            "gen_ai.response.finish_reasons" = tracing::field::Empty,
            "gen_ai.usage.input_tokens" = tracing::field::Empty,
            "gen_ai.usage.output_tokens" = tracing::field::Empty,
            "genai.attempts" = tracing::field::Empty,
            "genai.route" = self.route.as_str(),
            "error.type" = tracing::field::Empty,
        )
    }
}

/// What one call holds on its session budgets: settled at its cost, or released when dropped.
pub(crate) struct Holds {
    held: Vec<(Arc<SessionBudget>, u64)>,
}

impl Holds {
    fn none() -> Self {
        Self { held: Vec::new() }
    }

    fn settle(mut self, usd: f64) {
        for (s, h) in self.held.drain(..) {
            s.settle(h, usd);
        }
    }
}

impl Drop for Holds {
    fn drop(&mut self) {
        for (s, h) in self.held.drain(..) {
            s.release(h);
        }
    }
}

fn annotate(span: &tracing::Span, attempts: u32, outcome: &Result<ChatResponse, LlmError>) {
    span.record("genai.attempts", attempts);
    match outcome {
        Ok(r) => {
            span.record("gen_ai.response.model", r.model.as_str());
            span.record("gen_ai.response.finish_reasons", format!("{:?}", r.finish_reason).to_lowercase());
            span.record("gen_ai.usage.input_tokens", r.usage.input_tokens);
            span.record("gen_ai.usage.output_tokens", r.usage.output_tokens);
        }
        Err(e) => {
            span.record("error.type", e.kind());
        }
    }
}

#[async_trait]
impl ChatModel for Resilient {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn endpoint(&self) -> &str {
        self.inner.endpoint()
    }

    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let span = self.span(req);
        async {
            let started = Instant::now();
            let (outcome, attempts) = self.run(req, || self.inner.chat(req)).await;
            let (outcome, holds) = match outcome {
                Ok((r, holds)) => (Ok(r), holds),
                Err(e) => (Err(e), Holds::none()),
            };
            self.record(started, attempts, &outcome, holds);
            annotate(&tracing::Span::current(), attempts, &outcome);
            outcome
        }
        .instrument(span)
        .await
    }

    /// Retries happen only until the stream has started: once text has reached the caller, a
    /// broken stream is reported (`StreamCut`), never silently restarted.
    async fn stream(&self, req: &ChatRequest) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError> {
        let started = Instant::now();
        let (opened, attempts) = self
            .run(req, || async {
                let mut s = self.inner.stream(req).await?;
                // Wait for the first event inside the attempt, so a server that accepts the
                // request and then stalls or fails at once is retried like any other attempt.
                let first = s.next().await.ok_or(LlmError::StreamCut)??;
                Ok((first, s))
            })
            .await;
        let ((first, rest), holds) = match opened {
            Ok(v) => v,
            Err(e) => {
                self.record(started, attempts, &Err(clone_kind(&e)), Holds::none());
                return Err(e);
            }
        };
        // Held until the stream ends; a stream dropped before its end releases them (the
        // caller went away; what the provider billed for the cut answer is not known here).
        let mut holds = Some(holds);
        let this = self.clone();
        let events = futures::stream::once(async move { Ok(first) }).chain(rest);
        let mut done = false;
        Ok(events
            .inspect(move |event| {
                if done {
                    return;
                }
                match event {
                    Ok(StreamEvent::Done(r)) => {
                        done = true;
                        this.record(started, attempts, &Ok(r.clone()), holds.take().unwrap_or_else(Holds::none));
                    }
                    Err(e) => {
                        done = true;
                        this.record(started, attempts, &Err(clone_kind(e)), holds.take().unwrap_or_else(Holds::none));
                    }
                    Ok(StreamEvent::Delta(_)) => {}
                }
            })
            .boxed())
    }
}

/// A stand-in error with the same kind, for the ledger (errors are not `Clone`).
fn clone_kind(e: &LlmError) -> LlmError {
    match e {
        LlmError::StreamCut => LlmError::StreamCut,
        LlmError::Http { status, retry_after, body } => {
            LlmError::Http { status: *status, retry_after: *retry_after, body: body.clone() }
        }
        LlmError::ContextOverflow { status, body } => LlmError::ContextOverflow { status: *status, body: body.clone() },
        LlmError::AttemptTimeout(d) => LlmError::AttemptTimeout(*d),
        LlmError::DeadlineExceeded(d) => LlmError::DeadlineExceeded(*d),
        LlmError::BudgetExceeded { scope, limit, spent, needed } => {
            LlmError::BudgetExceeded { scope, limit: *limit, spent: *spent, needed: *needed }
        }
        LlmError::CircuitOpen { endpoint, retry_in } => {
            LlmError::CircuitOpen { endpoint: endpoint.clone(), retry_in: *retry_in }
        }
        LlmError::Truncated { max_tokens } => LlmError::Truncated { max_tokens: *max_tokens },
        LlmError::ContentFiltered => LlmError::ContentFiltered,
        other => LlmError::Malformed { reason: other.to_string() },
    }
}
