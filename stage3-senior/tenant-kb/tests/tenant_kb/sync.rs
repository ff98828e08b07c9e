//! Change-data-capture over HTTP: a watched folder and a PostgreSQL table (with DATABASE_URL)
//! kept in sync; creates, updates and deletes propagate, a repeated round changes nothing, and a
//! source never deletes what it did not write.

use std::time::Duration;
use tenant_kb::auth::{Member, Principal};
use tenant_kb::connectors::{Client, Folder, PgTable, sync_once, watch};
use tenant_kb::{Kb, NewTenant, SearchRequest, SyncReport};

struct Server {
    kb: Kb,
    admin: Member,
    url: String,
    key: String,
    _dir: tempfile::TempDir,
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let kb = crate::open(dir.path(), None).await;
    let t = NewTenant { id: "acme".into(), name: "Acme".into(), policy: Some("allow".into()) };
    kb.create_tenant(&Principal::Platform, t).await.unwrap();
    let key = kb.bootstrap_admin_key(&Principal::Platform, "acme").await.unwrap().key;
    let Principal::Member(admin) = kb.authenticate(&key).await.unwrap() else { panic!() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(tenant_kb::api::serve(listener, kb.clone(), std::future::pending()));
    Server { kb, admin, url, key, _dir: dir }
}

impl Server {
    async fn ids(&self) -> Vec<String> {
        self.kb.documents(&self.admin).await.unwrap().into_iter().map(|d| d.id).collect()
    }

    async fn text(&self, id: &str) -> String {
        self.kb.document(&self.admin, id).await.unwrap().1
    }

    async fn finds(&self, q: &str) -> bool {
        let req = SearchRequest { query: q.into(), k: Some(5), filters: Default::default() };
        self.kb.search(&self.admin, req).await.unwrap().hits.iter().any(|h| h.text.contains(q))
    }
}

fn report(added: u64, updated: u64, unchanged: u64, deleted: u64) -> SyncReport {
    SyncReport { added, updated, unchanged, deleted }
}

#[tokio::test]
async fn a_folder_is_kept_in_sync_idempotently() {
    let s = start().await;
    let folder = tempfile::tempdir().unwrap();
    let root = folder.path();
    std::fs::create_dir(root.join("policies")).unwrap();
    std::fs::write(root.join("travel.md"), "# Travel\n\nTrains under four hours are booked in second class.").unwrap();
    std::fs::write(root.join("policies/expenses.txt"), "Expenses are filed within thirty days.").unwrap();
    std::fs::write(root.join("image.png"), [0x89, b'P', b'N', b'G']).unwrap();
    let attributes = [("groups".to_owned(), vec!["finance".to_owned()])].into();
    let mut source = Folder { name: "handbook".into(), root: root.to_owned(), attributes };
    let client = Client::new(&s.url, &s.key);

    assert_eq!(sync_once(&client, &mut source).await.unwrap(), report(2, 0, 0, 0));
    assert_eq!(s.ids().await, ["policies@expenses.txt", "travel.md"]);
    let info = s.kb.documents(&s.admin).await.unwrap();
    assert!(info.iter().all(|d| d.attributes["groups"] == ["finance"]));
    // Nothing changed: nothing is sent, nothing is written.
    let log_before = s.kb.audit_entries(&s.admin, 0, 1000).await.unwrap().len();
    assert_eq!(sync_once(&client, &mut source).await.unwrap(), report(0, 0, 2, 0));
    let adds = s.kb.audit_entries(&s.admin, 0, 1000).await.unwrap()[log_before..]
        .iter()
        .filter(|e| e.entry.action == "document.add")
        .count();
    assert_eq!(adds, 0);

    // An edit, a delete, a new file.
    std::fs::write(root.join("travel.md"), "# Travel\n\nFlights need a manager's approval.").unwrap();
    std::fs::remove_file(root.join("policies/expenses.txt")).unwrap();
    std::fs::write(root.join("onboarding.md"), "New starters get a laptop on day one.").unwrap();
    assert_eq!(sync_once(&client, &mut source).await.unwrap(), report(1, 1, 0, 1));
    assert_eq!(s.ids().await, ["onboarding.md", "travel.md"]);
    assert!(s.text("travel.md").await.contains("manager's approval"));
    assert!(s.finds("manager's approval").await && !s.finds("second class").await, "the old version's chunks are gone");

    // A document a user added is not the source's to delete, even under the same id.
    let own = tenant_kb::NewDocument {
        id: "notes.md".into(),
        title: "notes".into(),
        text: "A user's own note.".into(),
        pdf_base64: None,
        attributes: Default::default(),
    };
    s.kb.add_document(&s.admin, own).await.unwrap();
    let forged = tenant_kb::SyncBatch { upserts: vec![], deletes: vec!["notes.md".into()] };
    assert_eq!(client.sync("handbook", &forged).await.unwrap(), report(0, 0, 0, 0));
    assert!(s.ids().await.contains(&"notes.md".to_owned()));
    // Bad requests get precise errors.
    let err = client.manifest("bad source!").await.unwrap_err().to_string();
    assert!(err.contains("422") && err.contains("invalid_source"), "{err}");
}

#[tokio::test]
async fn a_postgres_table_is_kept_in_sync_and_notify_starts_a_round_at_once() {
    let Some(db) = crate::server_url("DATABASE_URL") else {
        eprintln!("SKIPPED: PostgreSQL connector test (DATABASE_URL is not set)");
        return;
    };
    let s = start().await;
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&db).await.unwrap();
    let table = format!("kb_cdc_{}", tenant_kb::crypto::random_hex(4));
    let channel = format!("{table}_changes");
    for sql in [
        format!(
            "CREATE TABLE {table} (id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL, attributes JSONB)"
        ),
        format!(
            "CREATE FUNCTION {table}_notify() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('{channel}', TG_TABLE_NAME); RETURN NULL; END $$"
        ),
        format!(
            "CREATE TRIGGER {table}_notify AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {table}_notify()"
        ),
        format!(
            "INSERT INTO {table} VALUES ('r1', 'Returns', 'Returns are accepted within fourteen days.', '{{\"groups\": [\"support\"]}}'), ('r2', 'Warranty', 'The warranty lasts two years.', NULL)"
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
    }
    let client = Client::new(&s.url, &s.key);
    let mut source = PgTable::connect("crm", &db, &table, Some(&channel)).await.unwrap();
    assert_eq!(sync_once(&client, &mut source).await.unwrap(), report(2, 0, 0, 0));
    assert_eq!(sync_once(&client, &mut source).await.unwrap(), report(0, 0, 2, 0));
    assert_eq!(s.kb.documents(&s.admin).await.unwrap()[0].attributes["groups"], ["support"]);

    // Watching with a one-hour interval: only the NOTIFY can explain a prompt update.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let watcher = tokio::spawn(async move {
        watch(&client, &mut source, Duration::from_secs(3600), async {
            let _ = stop_rx.await;
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    for sql in [
        format!("UPDATE {table} SET body = 'The warranty lasts three years.' WHERE id = 'r2'"),
        format!("DELETE FROM {table} WHERE id = 'r1'"),
        format!("INSERT INTO {table} VALUES ('r3', 'Shipping', 'Shipping is free over fifty euros.', NULL)"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
    }
    let mut synced = false;
    for _ in 0..100 {
        if s.ids().await == ["r2", "r3"] && s.text("r2").await.contains("three years") {
            synced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop_tx.send(());
    watcher.await.unwrap();
    for sql in [format!("DROP TABLE {table}"), format!("DROP FUNCTION {table}_notify()")] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
    }
    assert!(synced, "the changes did not propagate within 10 s of the NOTIFY: {:?}", s.ids().await);
    assert!(s.finds("three years").await);
}

#[tokio::test]
async fn a_large_folder_goes_in_rounds_the_api_accepts() {
    let s = start().await;
    let folder = tempfile::tempdir().unwrap();
    let path = |i: usize| folder.path().join(format!("n{i:04}.txt"));
    for i in 0..1_100 {
        std::fs::write(path(i), format!("Note {i} about the quarterly plan.")).unwrap();
    }
    let mut source = Folder { name: "notes".into(), root: folder.path().to_owned(), attributes: Default::default() };
    let client = Client::new(&s.url, &s.key);
    // 1,100 new documents: rounds of at most 200.
    assert_eq!(sync_once(&client, &mut source).await.unwrap(), report(1_100, 0, 0, 0));
    // 850 gone and 250 changed: more than one request may carry (1,000 items), so the deletes
    // travel in rounds of their own.
    for i in 0..850 {
        std::fs::remove_file(path(i)).unwrap();
    }
    for i in 850..1_100 {
        std::fs::write(path(i), format!("Note {i}, revised.")).unwrap();
    }
    assert_eq!(sync_once(&client, &mut source).await.unwrap(), report(0, 250, 0, 850));
    assert_eq!(s.ids().await.len(), 250);
}
