//! Per-tenant limits and transport security: the quota stores' conformance (in process; Redis
//! with REDIS_URL), a request rate shared by two instances through Redis, a token quota on
//! answers, and HTTPS with rustls when a certificate is configured.

use std::time::Duration;
use tenant_kb::auth::{Member, Principal};
use tenant_kb::quota::{MemoryQuotas, RedisQuotas, conformance};
use tenant_kb::{AskRequest, Config, Kb, KbError, NewTenant};

#[tokio::test]
async fn the_quota_stores_pass_one_suite() {
    conformance::run(&MemoryQuotas::default(), "t").await;
    if let Some(url) = crate::server_url("REDIS_URL") {
        let prefix = format!("tenant-kb-test-{}", tenant_kb::crypto::random_hex(4));
        conformance::run(&RedisQuotas::new(&url, &prefix).unwrap(), "t").await;
    } else {
        eprintln!("SKIPPED: the Redis quota store (REDIS_URL is not set)");
    }
}

/// Waits out the end of a window so a test's requests all fall in one.
async fn clear_of_boundary(window_secs: u64) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let left = window_secs * 1000 - now % (window_secs * 1000);
    if left < 10_000 {
        tokio::time::sleep(Duration::from_millis(left + 100)).await;
    }
}

struct Instance {
    url: String,
    _dir: tempfile::TempDir,
}

/// A server on its own data folder with `tweak`ed settings; tenants acme and globex with the
/// same master key and admin token in every instance, so keys work on each.
async fn instance(tweak: impl FnOnce(&mut Config)) -> (Instance, Kb) {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        Config { data_dir: dir.path().to_owned(), admin_token: Some(crate::ADMIN.into()), ..Config::default() };
    tweak(&mut config);
    let kb = Kb::open(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(tenant_kb::api::serve(listener, kb.clone(), std::future::pending()));
    (Instance { url, _dir: dir }, kb)
}

async fn tenant(kb: &Kb, id: &str) -> (String, Member) {
    let t = NewTenant { id: id.into(), name: id.into(), policy: Some("allow".into()) };
    kb.create_tenant(&Principal::Platform, t).await.unwrap();
    let key = kb.bootstrap_admin_key(&Principal::Platform, id).await.unwrap().key;
    let Principal::Member(m) = kb.authenticate(&key).await.unwrap() else { panic!() };
    (key, m)
}

async fn get(url: &str, key: &str) -> (u16, Option<String>, serde_json::Value) {
    let r = reqwest::Client::new().get(format!("{url}/v1/me")).bearer_auth(key).send().await.unwrap();
    let status = r.status().as_u16();
    let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (status, retry, r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_tenant_over_its_request_rate_gets_429_and_others_do_not() {
    let (s, kb) = instance(|c| c.requests_per_minute = 5).await;
    let (acme, _) = tenant(&kb, "acme").await;
    let (globex, _) = tenant(&kb, "globex").await;
    clear_of_boundary(60).await;
    for _ in 0..5 {
        assert_eq!(get(&s.url, &acme).await.0, 200);
    }
    let (status, retry, body) = get(&s.url, &acme).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(get(&s.url, &globex).await.0, 200, "another tenant is not limited");
    // Unauthenticated requests are refused before any tenant's budget is touched.
    assert_eq!(get(&s.url, "kb_nope_nope").await.0, 401);
}

#[tokio::test]
async fn two_instances_share_one_budget_through_redis() {
    let Some(redis) = crate::server_url("REDIS_URL") else {
        eprintln!("SKIPPED: shared quotas (REDIS_URL is not set)");
        return;
    };
    let prefix = format!("tenant-kb-test-{}", tenant_kb::crypto::random_hex(4));
    let master = tenant_kb::crypto::random_hex(32);
    let setup = |c: &mut Config| {
        c.requests_per_minute = 6;
        c.redis_url = Some(redis.clone());
        c.redis_prefix = prefix.clone();
        c.master_key = Some(master.clone());
    };
    let (a, kb_a) = instance(setup).await;
    let (b, kb_b) = instance(setup).await;
    // The same tenant on two instances (two registries here; in production one shared one).
    let (key_a, _) = tenant(&kb_a, "acme").await;
    let (key_b, _) = tenant(&kb_b, "acme").await;
    clear_of_boundary(60).await;
    for _ in 0..3 {
        assert_eq!(get(&a.url, &key_a).await.0, 200);
        assert_eq!(get(&b.url, &key_b).await.0, 200);
    }
    assert_eq!(get(&a.url, &key_a).await.0, 429, "the seventh request, counted across both instances");
    assert_eq!(get(&b.url, &key_b).await.0, 429);
}

#[tokio::test]
async fn answers_stop_when_the_days_tokens_are_spent() {
    // The same question three times: with the answer cache on, the repeats would cost nothing.
    let (_s, kb) = instance(|c| {
        c.tokens_per_day = 60;
        c.cache = tenant_kb::CacheChoice::Off;
    })
    .await;
    let (_, admin) = tenant(&kb, "acme").await;
    let text = "The on-call rotation changes every Monday at nine. Pages go to the primary first.";
    let doc = tenant_kb::NewDocument {
        id: "d".into(),
        title: "d".into(),
        text: text.into(),
        pdf_base64: None,
        attributes: Default::default(),
    };
    kb.add_document(&admin, doc).await.unwrap();
    clear_of_boundary(86_400).await;
    let ask = || AskRequest { question: "When does the on-call rotation change?".into(), filters: Default::default() };
    kb.ask(&admin, ask()).await.unwrap();
    let log = kb.audit_entries(&admin, 0, 100).await.unwrap();
    let tokens = log.iter().find(|e| e.entry.action == "ask").unwrap().entry.detail["tokens"].as_u64().unwrap();
    assert!(tokens > 20, "question, passage and answer are counted: {tokens}");
    kb.ask(&admin, ask()).await.unwrap();
    match kb.ask(&admin, ask()).await {
        Err(KbError::Limited { what, retry_after_secs }) => {
            assert!(what.contains("60 tokens per day") && retry_after_secs > 0, "{what}");
        }
        other => panic!("the third answer should be over 60 tokens: {other:?}"),
    }
}

#[tokio::test]
async fn https_is_served_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let (cp, kp) = (cert_path.clone(), key_path.clone());
    let (s, _kb) = instance(move |c| {
        c.tls_cert = Some(cp);
        c.tls_key = Some(kp);
    })
    .await;
    let port = s.url.rsplit(':').next().unwrap().to_owned();
    let root = reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap();
    let client = reqwest::Client::builder().tls_certs_only([root]).build().unwrap();
    let r = client.get(format!("https://localhost:{port}/healthz")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (200, "ok".to_owned()));
    // Plain HTTP to the TLS port gets no HTTP answer; an unknown certificate is refused.
    assert!(reqwest::Client::new().get(format!("http://127.0.0.1:{port}/healthz")).send().await.is_err_or_not_ok());
    assert!(reqwest::Client::new().get(format!("https://localhost:{port}/healthz")).send().await.is_err());

    // Half a TLS configuration is an error, never plain HTTP.
    let config = Config { data_dir: dir.path().join("d"), tls_cert: Some(cert_path), ..Config::default() };
    let kb = Kb::open(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = tenant_kb::api::serve(listener, kb, std::future::pending()).await.unwrap_err();
    assert!(err.to_string().contains("tls_cert and tls_key"), "{err}");
}

trait ErrOrNotOk {
    fn is_err_or_not_ok(&self) -> bool;
}

impl ErrOrNotOk for reqwest::Result<reqwest::Response> {
    fn is_err_or_not_ok(&self) -> bool {
        self.as_ref().map_or(true, |r| !r.status().is_success())
    }
}
