//! The audit stores' conformance suite: SQLite always, PostgreSQL when DATABASE_URL is set. Each
//! kind of tampering (an altered, deleted or reordered entry, a truncated tail, an edited head)
//! is detected and named.

use tenant_kb::audit::{AuditStore, PostgresAudit, SqliteAudit, conformance};

#[tokio::test]
async fn sqlite_audit_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteAudit::open(&dir.path().join("audit.sqlite")).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    let pool = store.pool().clone();
    conformance::run(&store, |sql| {
        let pool = pool.clone();
        async move {
            for s in sql.split(';') {
                sqlx::query(sqlx::AssertSqlSafe(s.to_owned())).execute(&pool).await.unwrap();
            }
        }
    })
    .await;
}

#[tokio::test]
async fn postgres_audit_conformance() {
    let Some(url) = crate::server_url("DATABASE_URL") else {
        eprintln!("SKIPPED: set DATABASE_URL to run the audit conformance suite on PostgreSQL");
        return;
    };
    let store = PostgresAudit::connect(&url).await.unwrap();
    assert_eq!(store.backend(), "postgres");
    let pool = store.pool().clone();
    conformance::run(&store, |sql| {
        let pool = pool.clone();
        async move {
            for s in sql.split(';') {
                sqlx::query(sqlx::AssertSqlSafe(s.to_owned())).execute(&pool).await.unwrap();
            }
        }
    })
    .await;
}

/// Through the service: every read and write leaves an entry naming the documents returned, and
/// `audit verify` (the library call behind the CLI) passes, then fails once a row is edited.
#[tokio::test]
async fn the_service_audits_what_it_returns() {
    use tenant_kb::auth::Principal;
    let dir = tempfile::tempdir().unwrap();
    let kb = crate::open(dir.path(), None).await;
    kb.create_tenant(
        &Principal::Platform,
        tenant_kb::NewTenant { id: "acme".into(), name: "Acme".into(), policy: Some("allow".into()) },
    )
    .await
    .unwrap();
    let key = kb.bootstrap_admin_key(&Principal::Platform, "acme").await.unwrap();
    let Principal::Member(admin) = kb.authenticate(&key.key).await.unwrap() else { panic!("a member") };
    kb.add_document(
        &admin,
        tenant_kb::NewDocument {
            id: "d1".into(),
            title: "d1".into(),
            text: "the invoice run".into(),
            pdf_base64: None,
            attributes: Default::default(),
        },
    )
    .await
    .unwrap();
    let r = kb
        .search(&admin, tenant_kb::SearchRequest { query: "invoice".into(), k: None, filters: Default::default() })
        .await
        .unwrap();
    assert_eq!(r.hits.len(), 1);
    let entries = kb.audit_entries(&admin, 0, 100).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.entry.action.as_str()).collect();
    assert_eq!(actions, ["tenant.create", "user.create", "key.issue", "document.add", "search"]);
    let search = entries.last().unwrap();
    assert_eq!(search.entry.documents, ["d1"]);
    assert_eq!(search.entry.actor, "admin");
    assert!(search.entry.detail.to_string().contains("query_sha256"), "the query is hashed, not stored");
    assert!(!search.entry.detail.to_string().contains("invoice"));
    let v = kb.verify_audit(&Principal::Platform, Some("acme")).await.unwrap();
    assert!(v.intact && v.entries == 5, "{v:?}");

    let pool = SqliteAudit::open(&dir.path().join("audit.sqlite")).await.unwrap();
    sqlx::query("UPDATE kb_audit SET documents = '[]' WHERE tenant = 'acme' AND seq = 5")
        .execute(pool.pool())
        .await
        .unwrap();
    let v = kb.verify_audit(&Principal::Platform, Some("acme")).await.unwrap();
    assert!(!v.intact);
    assert_eq!(v.problem.as_deref(), Some("entry 5: MAC does not match its contents (altered)"));
}
