//! The gateway against the mock OpenAI server, failures injected: routing, the cascade, the
//! cache, streams, budgets under concurrency, and every refusal's status and body.

mod budgets;
mod cascade;
mod page;

use cost_optimizer::gateway::config::{KeyConfig, Tier, UpstreamConfig};
use cost_optimizer::gateway::{Gateway, GatewayConfig};
use genai_testkit::MockOpenAi;
use serde_json::{Value, json};

/// A running gateway and the two mock servers behind it (`cheap` and `strong`).
pub struct Rig {
    pub url: String,
    pub cheap: MockOpenAi,
    pub strong: MockOpenAi,
    pub gateway: Gateway,
    pub client: reqwest::Client,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// USD per million tokens: the cheap model a tenth of the strong one.
pub const CHEAP_PRICE: f64 = 1.0;
pub const STRONG_PRICE: f64 = 10.0;

pub fn upstream(name: &str, base_url: String, tier: Tier, price: f64) -> UpstreamConfig {
    UpstreamConfig {
        name: name.into(),
        model: None,
        base_url,
        api_key_env: None,
        tier,
        input_usd_per_mtok: Some(price),
        output_usd_per_mtok: Some(price),
    }
}

pub fn key(id: &str, key: &str, budget: Option<f64>) -> KeyConfig {
    KeyConfig { id: id.into(), key_sha256: None, key: Some(key.into()), budget_usd: budget }
}

impl Rig {
    pub async fn start(edit: impl FnOnce(&mut GatewayConfig)) -> Rig {
        let (cheap, strong) = (MockOpenAi::start(8).await, MockOpenAi::start(8).await);
        let mut config = GatewayConfig {
            upstreams: vec![
                upstream("cheap-model", cheap.base_url(), Tier::Cheap, CHEAP_PRICE),
                upstream("strong-model", strong.base_url(), Tier::Strong, STRONG_PRICE),
            ],
            attempts: 2,
            attempt_timeout_secs: 5.0,
            ..GatewayConfig::default()
        };
        edit(&mut config);
        let gateway = Gateway::new(config).expect("gateway");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let g = gateway.clone();
        tokio::spawn(async move {
            cost_optimizer::gateway::serve(listener, g, async {
                let _ = rx.await;
            })
            .await
        });
        Rig { url, cheap, strong, gateway, client: reqwest::Client::new(), _shutdown: tx }
    }

    pub async fn post(&self, key: Option<&str>, body: &Value) -> reqwest::Response {
        let mut r = self.client.post(format!("{}/v1/chat/completions", self.url)).json(body);
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        r.send().await.unwrap()
    }

    pub fn chats(&self) -> (usize, usize) {
        let n = |m: &MockOpenAi| m.requests_to("/v1/chat/completions").len();
        (n(&self.cheap), n(&self.strong))
    }
}

pub fn ask(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 20})
}

pub fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn auto_sends_lookups_to_the_cheap_model_and_multi_part_questions_to_the_strong_one() {
    let rig = Rig::start(|_| {}).await;
    let r = rig.post(None, &ask("auto", "What is the capital of France?")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-gateway-served-by"), "cheap-model");
    assert_eq!(header(&r, "x-gateway-policy"), "complexity");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "cheap-model");
    assert_eq!(body["choices"][0]["message"]["content"], "mock answer");
    let hard = "Why did Scott Derrickson and Ed Wood both direct horror films, and how does that compare?";
    let r = rig.post(None, &ask("auto", hard)).await;
    assert_eq!(header(&r, "x-gateway-served-by"), "strong-model");
    assert!(header(&r, "x-gateway-reason").contains("comparison"), "{}", header(&r, "x-gateway-reason"));
    assert_eq!(rig.chats(), (1, 1));
    // The ledger: the cheap answer cost a tenth of its always-strong baseline; the strong one the same.
    let ledger: Value = rig.client.get(format!("{}/v1/ledger", rig.url)).send().await.unwrap().json().await.unwrap();
    let recent = ledger["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 2);
    let (strong, cheap) = (&recent[0], &recent[1]);
    let tokens = 17.0; // the mock's usage: 12 prompt + 5 completion tokens
    assert!((cheap["cost_usd"].as_f64().unwrap() - tokens * CHEAP_PRICE / 1e6).abs() < 1e-12, "{cheap}");
    assert!((cheap["baseline_usd"].as_f64().unwrap() - tokens * STRONG_PRICE / 1e6).abs() < 1e-12, "{cheap}");
    assert_eq!(strong["cost_usd"], strong["baseline_usd"]);
    let saved = ledger["keys"]["anonymous"]["saved_usd"].as_f64().unwrap();
    assert!((saved - tokens * (STRONG_PRICE - CHEAP_PRICE) / 1e6).abs() < 1e-12, "{saved}");
    let metrics = rig.client.get(format!("{}/metrics", rig.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("cost_gateway_spend_microdollars_total"), "spend by key and model is exported");
    assert!(metrics.contains("cost_gateway_savings_usd"), "savings are exported");
}

#[tokio::test]
async fn a_named_model_is_served_as_asked_and_an_unknown_one_is_a_404() {
    let rig = Rig::start(|_| {}).await;
    let r = rig.post(None, &ask("strong-model", "What is the capital of France?")).await;
    assert_eq!((r.status().as_u16(), header(&r, "x-gateway-policy")), (200, "requested".into()));
    let r = rig.post(None, &ask("gpt-9", "hi")).await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_not_found");
    let models: Value = rig.client.get(format!("{}/v1/models", rig.url)).send().await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["auto", "cheap-model", "strong-model"]);
    assert_eq!(rig.chats(), (0, 1));
}

#[tokio::test]
async fn a_repeated_deterministic_request_is_served_from_the_cache_at_no_cost() {
    let rig = Rig::start(|_| {}).await;
    let mut body = ask("auto", "What is the capital of France?");
    body["temperature"] = json!(0);
    let first = rig.post(None, &body).await;
    assert_eq!(header(&first, "x-gateway-cache"), "miss");
    let second = rig.post(None, &body).await;
    assert_eq!(header(&second, "x-gateway-cache"), "hit");
    assert_eq!(header(&second, "x-gateway-served-by"), "cheap-model");
    assert_eq!(header(&second, "x-gateway-cost-usd").parse::<f64>().unwrap(), 0.0);
    let a: Value = first.json().await.unwrap();
    let b: Value = second.json().await.unwrap();
    assert_eq!(a["choices"], b["choices"]);
    assert_ne!(a["id"], b["id"], "each response has its own id");
    // A different temperature or question is not a repeat; temperature 0.7 is never cached.
    body["temperature"] = json!(0.7);
    assert_eq!(header(&rig.post(None, &body).await, "x-gateway-cache"), "miss");
    assert_eq!(header(&rig.post(None, &body).await, "x-gateway-cache"), "miss");
    assert_eq!(rig.chats(), (3, 0));
    // Streaming a cached answer replays it as chunks.
    body["temperature"] = json!(0);
    body["stream"] = json!(true);
    let r = rig.post(None, &body).await;
    assert_eq!(header(&r, "x-gateway-cache"), "hit");
    let text = r.text().await.unwrap();
    assert!(text.contains("mock answer") && text.trim_end().ends_with("data: [DONE]"), "{text}");
}

/// The text of an OpenAI stream: its deltas joined, and whether it ended with `[DONE]`.
pub fn read_stream(sse: &str) -> (String, bool, Vec<Value>) {
    let mut text = String::new();
    let mut chunks = Vec::new();
    let mut done = false;
    for line in sse.lines().filter_map(|l| l.strip_prefix("data: ")) {
        if line == "[DONE]" {
            done = true;
            continue;
        }
        let v: Value = serde_json::from_str(line).unwrap();
        if let Some(t) = v["choices"][0]["delta"]["content"].as_str() {
            text.push_str(t);
        }
        chunks.push(v);
    }
    (text, done, chunks)
}

#[tokio::test]
async fn a_stream_is_relayed_as_openai_chunks_and_charged_when_it_ends() {
    let rig = Rig::start(|c| c.keys = vec![key("team-a", "sk-a", Some(1.0))]).await;
    rig.strong.enqueue("/v1/chat/completions", [genai_testkit::Reply::chat_stream(&["Par", "is"])]);
    let mut body = ask("strong-model", "Capital of France?");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let r = rig.post(Some("sk-a"), &body).await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    let (text, done, chunks) = read_stream(&r.text().await.unwrap());
    assert_eq!((text.as_str(), done), ("Paris", true));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks[chunks.len() - 2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 2);
    let ledger = rig.gateway.ledger().recent(1);
    let expected = 14.0 * STRONG_PRICE / 1e6; // 12 prompt + 2 completion tokens
    assert!((ledger[0].cost_usd - expected).abs() < 1e-12, "{:?}", ledger[0]);
    assert_eq!(ledger[0].outcome, "ok");
    // A cut stream ends with an error event, not [DONE], and is recorded as failed.
    rig.strong.enqueue(
        "/v1/chat/completions",
        [genai_testkit::Reply::chat_stream(&["a"]), genai_testkit::Reply::chat_stream_cut(&["Pa"])],
    );
    let _ = rig.post(Some("sk-a"), &body).await.text().await.unwrap();
    let r = rig.post(Some("sk-a"), &body).await;
    let sse = r.text().await.unwrap();
    assert!(sse.contains("\"error\"") && !sse.contains("[DONE]"), "{sse}");
    assert_ne!(rig.gateway.ledger().recent(1)[0].outcome, "ok");
}

#[tokio::test]
async fn refusals_are_precise_and_cost_nothing() {
    let rig = Rig::start(|c| c.keys = vec![key("team-a", "sk-a", Some(1.0))]).await;
    let post_raw = |body: &'static str, ct: &'static str, key: Option<&'static str>| {
        let mut r = rig.client.post(format!("{}/v1/chat/completions", rig.url)).header("content-type", ct).body(body);
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        r.send()
    };
    let cases = [
        (post_raw("{}", "application/json", None).await.unwrap(), 401, "missing_api_key"),
        (post_raw("{}", "application/json", Some("sk-x")).await.unwrap(), 401, "invalid_api_key"),
        (post_raw("{", "application/json", Some("sk-a")).await.unwrap(), 400, "invalid_json"),
        (post_raw("{}", "text/plain", Some("sk-a")).await.unwrap(), 415, "unsupported_media_type"),
        (post_raw(r#"{"model": "auto"}"#, "application/json", Some("sk-a")).await.unwrap(), 422, "invalid_request"),
        (
            post_raw(r#"{"model": "auto", "messages": []}"#, "application/json", Some("sk-a")).await.unwrap(),
            422,
            "empty_messages",
        ),
    ];
    for (r, status, code) in cases {
        assert_eq!(r.status().as_u16(), status, "{code}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    for bad in ["0", "1001", "-1", "ten"] {
        let r = rig.client.get(format!("{}/v1/ledger?limit={bad}", rig.url)).send().await.unwrap();
        assert_eq!(r.status(), 422, "limit={bad}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            (body["error"]["code"].as_str(), body["error"]["at"].as_str()),
            (Some("invalid_limit"), Some("/limit"))
        );
    }
    assert_eq!(rig.chats(), (0, 0));
    let budget = rig.gateway.ledger().totals();
    assert!(budget.get("team-a").is_none_or(|t| t.cost_usd == 0.0));
}
