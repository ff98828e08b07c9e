//! GDPR erasure. A document: gone from the index and the registry. A user: record and keys gone,
//! credentials refused. A tenant: its data key destroyed (crypto-shredding), so the sealed text
//! captured before erasure no longer opens, and nothing of it is left in the index, the registry
//! or the keys; the audit chain still verifies. Also: text is sealed at rest (the registry file
//! never holds a document's words in clear). On the embedded index and, with QDRANT_URL, on the
//! Qdrant server.

use tenant_kb::auth::Principal;
use tenant_kb::{KbError, NewDocument, NewKey, NewTenant, NewUser, SearchRequest};

const MARKER: &str = "zebracorn-quasar-7731";

#[tokio::test]
async fn erasure_of_a_document_a_user_and_a_tenant() {
    erasure(None).await;
}

#[tokio::test]
async fn erasure_on_the_qdrant_server() {
    match crate::server_url("QDRANT_URL") {
        Some(url) => erasure(Some(&url)).await,
        None => eprintln!("SKIPPED: erasure on the Qdrant server (QDRANT_URL is not set)"),
    }
}

async fn erasure(qdrant: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let kb = crate::open(dir.path(), qdrant).await;
    let p = Principal::Platform;
    for t in ["acme", "other"] {
        kb.create_tenant(&p, NewTenant { id: t.into(), name: t.into(), policy: Some("allow".into()) }).await.unwrap();
    }
    let admin_key = kb.bootstrap_admin_key(&p, "acme").await.unwrap();
    let Principal::Member(admin) = kb.authenticate(&admin_key.key).await.unwrap() else { panic!() };
    for i in 0..3 {
        let text = format!("Quarterly note {i}: the secret word is {MARKER} and more prose follows here.");
        kb.add_document(
            &admin,
            NewDocument {
                id: format!("d{i}"),
                title: format!("d{i}"),
                text,
                pdf_base64: None,
                attributes: Default::default(),
            },
        )
        .await
        .unwrap();
    }
    let other_key = kb.bootstrap_admin_key(&p, "other").await.unwrap();
    let Principal::Member(other) = kb.authenticate(&other_key.key).await.unwrap() else { panic!() };
    kb.add_document(
        &other,
        NewDocument {
            id: "o".into(),
            title: "o".into(),
            text: format!("other tenant also says {MARKER}"),
            pdf_base64: None,
            attributes: Default::default(),
        },
    )
    .await
    .unwrap();

    // Sealed at rest: the registry's files never contain the words.
    let on_disk = registry_bytes(dir.path());
    assert!(!contains(&on_disk, MARKER.as_bytes()), "plaintext in the registry files");

    let search = |m| {
        let kb = kb.clone();
        async move { kb.search(&m, SearchRequest { query: MARKER.into(), k: Some(50), filters: Default::default() }).await }
    };
    assert_eq!(search(admin.clone()).await.unwrap().hits.len(), 3);

    // A document.
    kb.delete_document(&admin, "d0").await.unwrap();
    let hits = search(admin.clone()).await.unwrap().hits;
    assert_eq!(hits.len(), 2);
    assert!(hits.iter().all(|h| h.document != "d0"));
    assert!(matches!(kb.document(&admin, "d0").await, Err(KbError::NotFound { .. })));

    // A user.
    kb.create_user(
        &admin,
        NewUser {
            id: "priya".into(),
            name: "Priya".into(),
            role: tenant_kb::store::Role::Reader,
            attributes: Default::default(),
        },
    )
    .await
    .unwrap();
    let k = kb.issue_key(&admin, NewKey { user: "priya".into(), scope: None }).await.unwrap();
    assert!(kb.authenticate(&k.key).await.is_ok());
    kb.delete_user(&admin, "priya").await.unwrap();
    assert!(matches!(kb.authenticate(&k.key).await, Err(KbError::Unauthenticated)));
    assert!(matches!(kb.user(&admin, "priya").await, Err(KbError::NotFound { .. })));

    // A tenant: keep its sealed text as a backup would, then erase.
    let sealed = sealed_copy(dir.path(), "acme", "d1").await;
    let report = kb.erase_tenant(&p, "acme").await.unwrap();
    assert_eq!((report.documents, report.chunks_left, report.users, report.key_destroyed), (2, 0, 1, true));
    assert!(matches!(kb.authenticate(&admin_key.key).await, Err(KbError::Unauthenticated)), "keys die with the tenant");
    assert!(matches!(
        kb.search(&admin, SearchRequest { query: MARKER.into(), k: None, filters: Default::default() }).await,
        Err(KbError::Gone(_))
    ));
    // The backup copy no longer opens: the only key that could open it is gone from every store.
    let master = tenant_kb::crypto::Key::master(None, &dir.path().join("master.key")).unwrap();
    let wrapped: Option<Vec<u8>> = sqlx::query_scalar("SELECT wrapped_key FROM kb_tenants WHERE id = 'acme'")
        .fetch_one(&registry(dir.path()).await)
        .await
        .unwrap();
    assert!(wrapped.is_none(), "the wrapped data key is destroyed");
    assert!(!sealed.is_empty());
    assert!(master.open(&sealed, "acme/d1").is_err(), "the master key does not open content directly");
    // Nothing of the tenant is left in the registry, and the other tenant is untouched.
    let db = registry(dir.path()).await;
    for table in ["kb_users", "kb_keys", "kb_documents"] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table} WHERE tenant = 'acme'")))
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    assert_eq!(search(other.clone()).await.unwrap().hits.len(), 1);
    let v = kb.verify_audit(&p, Some("acme")).await.unwrap();
    assert!(v.intact, "{v:?}");
    // The tenant id is not reusable.
    assert!(kb.create_tenant(&p, NewTenant { id: "acme".into(), name: "again".into(), policy: None }).await.is_err());
}

async fn registry(dir: &std::path::Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.join("kb.sqlite").display())).await.unwrap()
}

async fn sealed_copy(dir: &std::path::Path, tenant: &str, id: &str) -> Vec<u8> {
    sqlx::query_scalar("SELECT sealed FROM kb_documents WHERE tenant = ? AND id = ?")
        .bind(tenant)
        .bind(id)
        .fetch_one(&registry(dir).await)
        .await
        .unwrap()
}

fn registry_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["kb.sqlite", "kb.sqlite-wal"] {
        if let Ok(b) = std::fs::read(dir.join(name)) {
            all.extend(b);
        }
    }
    all
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
