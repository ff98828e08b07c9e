//! The authorisation matrix over HTTP: every route with no credential, a malformed one, the
//! platform token, each role's API key, a revoked key, another tenant's key, and JWTs (valid,
//! expired, tampered, signed with another secret, for an unknown user). One error shape for all.

use jsonwebtoken::{EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef";

struct App {
    base: String,
    http: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    dir: tempfile::TempDir,
}

impl App {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let kb = crate::open(dir.path(), None).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(tenant_kb::api::serve(listener, kb, async move {
            let _ = stopped.await;
        }));
        Self { base, http: reqwest::Client::new(), stop, server, dir }
    }

    /// Shuts the server down (its index flushes to the data folder) before the folder goes.
    async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
        drop(self.dir);
    }

    async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn ok(&self, method: Method, path: &str, token: &str, body: Value) -> Value {
        let (s, v) = self.call(method, path, Some(token), Some(body)).await;
        assert!(s.is_success(), "{path}: {s} {v}");
        v
    }
}

fn jwt(tenant: &str, sub: &str, exp_offset: i64, secret: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let claims = json!({"sub": sub, "tenant": tenant, "exp": now + exp_offset});
    jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

/// Sets up tenants `a` and `b`; returns credentials by name.
async fn credentials(app: &App) -> BTreeMap<&'static str, Option<String>> {
    let admin = crate::ADMIN;
    for t in ["a", "b"] {
        app.ok(Method::POST, "/admin/v1/tenants", admin, json!({"id": t, "name": t, "policy": "allow"})).await;
    }
    let kb_keys = bootstrap(app).await;
    let mut c: BTreeMap<&'static str, Option<String>> = BTreeMap::new();
    c.insert("none", None);
    c.insert("garbage", Some("not-a-token".into()));
    c.insert("platform", Some(admin.into()));
    for (name, key) in kb_keys {
        c.insert(name, Some(key));
    }
    c.insert("jwt_reader", Some(jwt("a", "reader", 600, JWT_SECRET)));
    c.insert("jwt_expired", Some(jwt("a", "reader", -600, JWT_SECRET)));
    let mut tampered = jwt("a", "reader", 600, JWT_SECRET);
    let payload = base64_json(&json!({"sub": "admin", "tenant": "a", "exp": 4102444800i64}));
    let parts: Vec<&str> = tampered.split('.').collect();
    tampered = format!("{}.{}.{}", parts[0], payload, parts[2]);
    c.insert("jwt_tampered", Some(tampered));
    c.insert("jwt_other_secret", Some(jwt("a", "admin", 600, "another-secret-another-secret-xx")));
    c.insert("jwt_unknown_user", Some(jwt("a", "ghost", 600, JWT_SECRET)));
    c
}

fn base64_json(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

/// Users reader/writer/admin in `a` (and admin in `b`) with keys; a revoked key.
async fn bootstrap(app: &App) -> Vec<(&'static str, String)> {
    // The platform issues each tenant's first admin key; the tenant admin does the rest.
    let mut out = Vec::new();
    for t in ["a", "b"] {
        let v = app.ok(Method::POST, &format!("/admin/v1/tenants/{t}/admin-key"), crate::ADMIN, json!({})).await;
        let admin_key = v["key"].as_str().unwrap().to_owned();
        if t == "b" {
            out.push(("b_admin", admin_key));
            continue;
        }
        for (id, role) in [("reader", "reader"), ("writer", "writer")] {
            app.ok(
                Method::POST,
                "/v1/users",
                &admin_key,
                json!({"id": id, "name": id, "role": role, "attributes": {}}),
            )
            .await;
            let k = app.ok(Method::POST, "/v1/keys", &admin_key, json!({"user": id})).await;
            out.push((if id == "reader" { "a_reader" } else { "a_writer" }, k["key"].as_str().unwrap().to_owned()));
        }
        let k = app.ok(Method::POST, "/v1/keys", &admin_key, json!({"user": "reader"})).await;
        let (s, _) =
            app.call(Method::DELETE, &format!("/v1/keys/{}", k["id"].as_str().unwrap()), Some(&admin_key), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        out.push(("a_revoked", k["key"].as_str().unwrap().to_owned()));
        app.ok(
            Method::POST,
            "/v1/documents",
            &admin_key,
            json!({"id": "d1", "title": "d1", "text": "the a tenant's text"}),
        )
        .await;
        out.push(("a_admin", admin_key));
    }
    out
}

#[tokio::test]
async fn every_route_by_every_credential() {
    let app = App::start().await;
    let c = credentials(&app).await;
    use StatusCode as S;
    // Rows: (method, path, body). Columns: what each credential gets.
    let doc = json!({"id": "d2", "title": "t", "text": "more text"});
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/admin/v1/tenants".into(), None),
        (Method::GET, "/admin/v1/tenants/a/audit/verify".into(), None),
        (Method::GET, "/v1/me".into(), None),
        (Method::GET, "/v1/documents".into(), None),
        (Method::GET, "/v1/documents/d1".into(), None),
        (Method::POST, "/v1/search".into(), Some(json!({"query": "text"}))),
        (Method::POST, "/v1/ask".into(), Some(json!({"question": "what text?"}))),
        (Method::POST, "/v1/documents".into(), Some(doc)),
        (Method::GET, "/v1/sync/handbook".into(), None),
        (Method::GET, "/v1/policy".into(), None),
        (Method::GET, "/v1/audit".into(), None),
        (Method::GET, "/v1/audit/verify".into(), None),
        (Method::GET, "/v1/explain?user=reader&document=d1".into(), None),
        (Method::GET, "/v1/pii".into(), None),
    ];
    // Expected per credential class: platform routes (2), reader routes (5), writer (2), admin (5).
    let expect = |cred: &str, i: usize| -> S {
        let class = match i {
            0..=1 => "platform",
            2..=6 => "reader",
            7..=8 => "writer",
            _ => "admin",
        };
        match cred {
            "none" | "garbage" | "a_revoked" | "jwt_expired" | "jwt_tampered" | "jwt_other_secret"
            | "jwt_unknown_user" => S::UNAUTHORIZED,
            "platform" => {
                if class == "platform" {
                    S::OK
                } else {
                    S::FORBIDDEN
                }
            }
            "a_reader" | "jwt_reader" => {
                if class == "reader" {
                    S::OK
                } else {
                    S::FORBIDDEN
                }
            }
            "a_writer" => {
                if class == "reader" || class == "writer" {
                    S::OK
                } else {
                    S::FORBIDDEN
                }
            }
            "a_admin" => {
                if class == "platform" {
                    S::FORBIDDEN
                } else {
                    S::OK
                }
            }
            // Tenant b's admin: everything of its own tenant; a's document d1 does not exist there.
            "b_admin" if i == 4 || i == 12 => S::NOT_FOUND,
            "b_admin" => {
                if class == "platform" {
                    S::FORBIDDEN
                } else {
                    S::OK
                }
            }
            other => panic!("no expectation for {other}"),
        }
    };
    let mut failures = Vec::new();
    for (name, token) in &c {
        for (i, (method, path, body)) in routes.iter().enumerate() {
            let (status, v) = app.call(method.clone(), path, token.as_deref(), body.clone()).await;
            let want = expect(name, i);
            let got = if status == S::CREATED { S::OK } else { status };
            if got != want {
                failures.push(format!("{name} {method} {path}: {status} (want {want}) {v}"));
            }
            if !status.is_success() {
                assert!(v["error"]["code"].is_string() && v["error"]["message"].is_string(), "error shape: {v}");
            }
        }
    }
    assert!(failures.is_empty(), "{} of the matrix wrong:\n{}", failures.len(), failures.join("\n"));
    app.stop().await;
}

#[tokio::test]
async fn bad_input_is_a_precise_4xx() {
    let app = App::start().await;
    let (s, v) = app
        .call(Method::POST, "/admin/v1/tenants", Some(crate::ADMIN), Some(json!({"id": "BAD ID", "name": "x"})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["at"], "/id");
    let (s, v) = app
        .call(
            Method::POST,
            "/admin/v1/tenants",
            Some(crate::ADMIN),
            Some(json!({"id": "t", "name": "x", "policy": "allow if doc.x = \"y\""})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    insta::assert_json_snapshot!("policy_error", v);
    let (s, v) = app
        .call(Method::POST, "/admin/v1/tenants", Some(crate::ADMIN), Some(json!({"id": "t", "name": "x", "extra": 1})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = app.call(Method::GET, "/v1/me", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    insta::assert_json_snapshot!("unauthenticated", v);
    app.ok(Method::POST, "/admin/v1/tenants", crate::ADMIN, json!({"id": "t", "name": "t", "policy": "allow"})).await;
    let (s, _) =
        app.call(Method::POST, "/admin/v1/tenants", Some(crate::ADMIN), Some(json!({"id": "t", "name": "t"}))).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let key = app.ok(Method::POST, "/admin/v1/tenants/t/admin-key", crate::ADMIN, json!({})).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    for (body, at) in [
        (json!({"query": ""}), "/query"),
        (json!({"query": "x", "k": 0}), "/k"),
        (json!({"query": "x", "filters": {"Bad Name": ["x"]}}), "/filters/Bad Name"),
    ] {
        let (s, v) = app.call(Method::POST, "/v1/search", Some(&key), Some(body.clone())).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert_eq!(v["error"]["at"], at, "{body}: {v}");
    }
    // An admin cannot erase themselves (nor so lock the tenant out).
    let (s, v) = app.call(Method::DELETE, "/v1/users/admin", Some(&key), None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = app.call(Method::GET, "/v1/audit?after=9223372036854775808", Some(&key), None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // A batch is checked whole before anything is written.
    let doc = |id: &str| json!({"id": id, "title": id, "text": "batch text"});
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/documents/batch",
            Some(&key),
            Some(json!({"documents": [doc("x"), doc("y"), doc("x")]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["at"], "/documents/2/id");
    let (_, listed) = app.call(Method::GET, "/v1/documents", Some(&key), None).await;
    assert_eq!(listed, json!([]), "nothing of a refused batch was written");
    let (s, v) = app
        .call(Method::POST, "/v1/documents/batch", Some(&key), Some(json!({"documents": [doc("x"), doc("y")]})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 2);
    let (s, _) = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    // Per-tenant metrics.
    app.ok(Method::POST, "/v1/search", &key, json!({"query": "batch"})).await;
    let (_, metrics) = app.call(Method::GET, "/metrics", None, None).await;
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    assert!(metrics.contains("tenant_kb_queries_total{tenant=\"t\"}"), "{metrics}");
    assert!(metrics.contains("tenant_kb_retrieval_seconds"), "{metrics}");
    app.stop().await;
}

/// A configured audience refuses a token minted for another service; without one, `aud` is
/// not checked.
#[tokio::test]
async fn jwt_audience_is_checked_when_configured() {
    use tenant_kb::auth::Principal;
    let dir = tempfile::tempdir().unwrap();
    let config = tenant_kb::Config {
        data_dir: dir.path().to_owned(),
        admin_token: Some(crate::ADMIN.into()),
        jwt_hs256_secret: Some(JWT_SECRET.into()),
        jwt_audience: Some("tenant-kb".into()),
        ..tenant_kb::Config::default()
    };
    let kb = tenant_kb::Kb::open(config).await.unwrap();
    kb.create_tenant(&Principal::Platform, tenant_kb::NewTenant { id: "a".into(), name: "a".into(), policy: None })
        .await
        .unwrap();
    kb.bootstrap_admin_key(&Principal::Platform, "a").await.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let token = |aud: &str| {
        let claims = json!({"sub": "admin", "tenant": "a", "exp": now + 600, "aud": aud});
        jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(JWT_SECRET.as_bytes())).unwrap()
    };
    assert!(kb.authenticate(&token("tenant-kb")).await.is_ok());
    assert!(kb.authenticate(&token("billing-service")).await.is_err());
    // Without a configured audience (the shared test set-up), a token with one is accepted.
    let dir2 = tempfile::tempdir().unwrap();
    let open = crate::open(dir2.path(), None).await;
    open.create_tenant(&Principal::Platform, tenant_kb::NewTenant { id: "a".into(), name: "a".into(), policy: None })
        .await
        .unwrap();
    open.bootstrap_admin_key(&Principal::Platform, "a").await.unwrap();
    assert!(open.authenticate(&token("anything")).await.is_ok());
}
