//! The answer cache: served again only in the same scope (tenant, viewer attributes, filters,
//! answerer), never across users who see different documents, never after a write to the
//! corpus or the policy, and gone with the tenant (checked key by key on Redis).

use std::collections::BTreeMap;
use tenant_kb::auth::{Member, Principal};
use tenant_kb::store::Role;
use tenant_kb::{AskRequest, CacheChoice, Config, Kb, NewDocument, NewTenant, NewUser};

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), vec![(*v).to_owned()])).collect()
}

fn doc(id: &str, text: &str, a: &[(&str, &str)]) -> NewDocument {
    NewDocument { id: id.into(), title: id.into(), text: text.into(), pdf_base64: None, attributes: attrs(a) }
}

async fn member(kb: &Kb, admin: &Member, id: &str, groups: &str) -> Member {
    let u = NewUser { id: id.into(), name: id.into(), role: Role::Reader, attributes: attrs(&[("groups", groups)]) };
    kb.create_user(admin, u).await.unwrap();
    Member { role: Role::Reader, user: kb.user(admin, id).await.unwrap(), via: "test".into() }
}

async fn setup(config: Config, tenant: &str) -> (Kb, Member) {
    let kb = Kb::open(config).await.unwrap();
    let t = NewTenant { id: tenant.into(), name: tenant.into(), policy: None };
    kb.create_tenant(&Principal::Platform, t).await.unwrap();
    let key = kb.bootstrap_admin_key(&Principal::Platform, tenant).await.unwrap().key;
    let Principal::Member(admin) = kb.authenticate(&key).await.unwrap() else { panic!() };
    kb.add_documents(
        &admin,
        vec![
            doc("runbook", "The billing system runs in Frankfurt on two clusters.", &[("groups", "billing")]),
            doc("handbook", "The office in Lyon opens at nine.", &[("visibility", "public")]),
        ],
    )
    .await
    .unwrap();
    (kb, admin)
}

fn ask(q: &str) -> AskRequest {
    AskRequest { question: q.into(), filters: Default::default() }
}

#[tokio::test]
async fn answers_are_shared_only_within_a_scope_and_never_outlive_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        Config { data_dir: dir.path().to_owned(), admin_token: Some(crate::ADMIN.into()), ..Config::default() };
    let (kb, admin) = setup(config, "acme").await;
    let alice = member(&kb, &admin, "alice", "billing").await;
    let amir = member(&kb, &admin, "amir", "billing").await;
    let bob = member(&kb, &admin, "bob", "sales").await;
    let q = "Where does the billing system run?";

    let first = kb.ask(&alice, ask(q)).await.unwrap();
    assert_eq!(first.cache, "miss");
    assert!(first.answer.contains("Frankfurt"), "{first:?}");
    let again = kb.ask(&alice, ask("where does the billing system run")).await.unwrap();
    assert_eq!((again.cache.as_str(), again.answer.as_str()), ("exact", first.answer.as_str()));
    // Same attributes, same documents visible: shared.
    assert_eq!(kb.ask(&amir, ask(q)).await.unwrap().cache, "exact");
    // Other attributes: never Alice's answer.
    let b = kb.ask(&bob, ask(q)).await.unwrap();
    assert_ne!(b.cache, "exact");
    assert!(!b.answer.contains("Frankfurt") && b.citations.iter().all(|c| c.document != "runbook"), "{b:?}");
    // Other filters: another scope.
    let narrowed = AskRequest { question: q.into(), filters: attrs(&[("groups", "billing")]) };
    assert_eq!(kb.ask(&alice, narrowed).await.unwrap().cache, "miss");

    // A write to the corpus: the old answer is never served again.
    let moved = doc("runbook", "The billing system moved to Dublin in May.", &[("groups", "billing")]);
    kb.add_document(&admin, moved).await.unwrap();
    let after = kb.ask(&alice, ask(q)).await.unwrap();
    assert_eq!(after.cache, "miss");
    assert!(after.answer.contains("Dublin") && !after.answer.contains("Frankfurt"), "{after:?}");
    assert_eq!(kb.ask(&alice, ask(q)).await.unwrap().cache, "exact");
    // A policy change: the same.
    kb.set_policy(&admin, "allow if doc.visibility == \"public\"").await.unwrap();
    let after = kb.ask(&alice, ask(q)).await.unwrap();
    assert_eq!(after.cache, "miss");
    assert!(after.citations.iter().all(|c| c.document == "handbook"), "{after:?}");
    // A deleted document: the same.
    kb.ask(&alice, ask("When does the Lyon office open?")).await.unwrap();
    kb.delete_document(&admin, "handbook").await.unwrap();
    let gone = kb.ask(&alice, ask("When does the Lyon office open?")).await.unwrap();
    assert_eq!(gone.cache, "miss");
    assert!(gone.citations.is_empty(), "{gone:?}");
    assert_eq!(kb.alarms(), 0);

    // Off: nothing cached.
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_owned(),
        admin_token: Some(crate::ADMIN.into()),
        cache: CacheChoice::Off,
        ..Config::default()
    };
    let (kb, admin) = setup(config, "acme").await;
    let alice = member(&kb, &admin, "alice", "billing").await;
    kb.ask(&alice, ask(q)).await.unwrap();
    assert_eq!(kb.ask(&alice, ask(q)).await.unwrap().cache, "off");
}

#[tokio::test]
async fn erasing_a_tenant_leaves_no_cached_answer_in_redis() {
    let Some(url) = crate::server_url("REDIS_URL") else {
        eprintln!("SKIPPED: the answer cache on Redis (REDIS_URL is not set)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let namespace = format!("tenant-kb-test-{}:answers", tenant_kb::crypto::random_hex(4));
    let config = Config {
        data_dir: dir.path().to_owned(),
        admin_token: Some(crate::ADMIN.into()),
        cache: CacheChoice::Redis,
        redis_url: Some(url.clone()),
        cache_namespace: namespace.clone(),
        ..Config::default()
    };
    let (kb, admin) = setup(config, "acme").await;
    let alice = member(&kb, &admin, "alice", "billing").await;
    for q in ["Where does the billing system run?", "When does the Lyon office open?", "Who owns the moon?"] {
        kb.ask(&alice, ask(q)).await.unwrap();
        assert_eq!(kb.ask(&alice, ask(q)).await.unwrap().cache, "exact");
    }
    let mut redis = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let conn = redis.clone();
    let records = move |pattern: String| {
        let mut conn = conn.clone();
        async move { redis::cmd("KEYS").arg(pattern).query_async::<Vec<String>>(&mut conn).await.unwrap() }
    };
    let before = records(format!("{namespace}:e:*")).await;
    assert_eq!(before.len(), 3, "{before:?}");
    // The values are sealed: no answer text in Redis.
    for k in &before {
        let v: Vec<u8> = redis::cmd("GET").arg(k).query_async(&mut redis).await.unwrap();
        let v = String::from_utf8_lossy(&v);
        assert!(!v.contains("Frankfurt") && !v.contains("Lyon office opens"), "{v}");
    }
    kb.erase_tenant(&Principal::Platform, "acme").await.unwrap();
    assert_eq!(records(format!("{namespace}:e:*")).await, Vec::<String>::new());
    assert_eq!(records(format!("{namespace}:d:*")).await, Vec::<String>::new());
}
