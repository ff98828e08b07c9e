//! Property: whatever the failures and delays, a call returns within its deadline (plus the time
//! to notice), on tokio's paused clock so every case runs instantly and deterministically.

use genai_core::backoff::Backoff;
use genai_llm::{ChatModel, LlmError, PriceTable, ResilienceConfig, Resilient};
use genai_testkit::{ScriptedModel, Step};
use proptest::prelude::*;
use std::sync::Arc;
use std::time::Duration;

fn step() -> impl Strategy<Value = Step> {
    (0u64..2_000, 0u8..4).prop_map(|(ms, kind)| {
        let inner = match kind {
            0 => Step::Text("ok".into()),
            1 => Step::Fail(LlmError::Http { status: 503, retry_after: None, body: String::new() }),
            2 => Step::Fail(LlmError::Http {
                status: 429,
                retry_after: Some(Duration::from_millis(ms / 2)),
                body: String::new(),
            }),
            _ => Step::Fail(LlmError::StreamCut),
        };
        Step::After(Duration::from_millis(ms), Box::new(inner))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_deadline_is_never_exceeded(
        steps in prop::collection::vec(step(), 1..8),
        attempt_ms in 50u64..1_500,
        deadline_ms in 100u64..3_000,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        let n = steps.len() as u32;
        let model = Arc::new(ScriptedModel::new("scripted", steps));
        let config = ResilienceConfig {
            attempt_timeout: Duration::from_millis(attempt_ms),
            deadline: Duration::from_millis(deadline_ms),
            backoff: Backoff { max_attempts: n.max(1), ..Backoff::default() },
            ..ResilienceConfig::default()
        };
        let r = Resilient::new(model.clone(), config, Arc::new(PriceTable::default()));
        let (elapsed, attempts) = rt.block_on(async {
            let start = tokio::time::Instant::now();
            let _ = r.chat(&crate::ask("x")).await;
            (start.elapsed(), model.requests().len())
        });
        prop_assert!(elapsed <= Duration::from_millis(deadline_ms), "took {elapsed:?} > deadline {deadline_ms} ms");
        prop_assert!(attempts as u32 <= n.max(1));
    }
}
