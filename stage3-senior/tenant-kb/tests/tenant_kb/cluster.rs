//! The knowledge base on a 3-node Qdrant cluster (with QDRANT_BIN): 3 shards, 2 copies each. A
//! node is killed with SIGKILL; every search still answers, through the policy filter and the
//! post-retrieval check, with ten documents about the query's topic (which of the many equally
//! scored ones fill the last places may differ with the replica that answers), and no chunk is
//! lost.

use genai_testkit::qdrant::{QdrantBin, QdrantCluster};
use tenant_kb::auth::Principal;
use tenant_kb::{Config, Kb, NewDocument, NewTenant, SearchRequest};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn searches_still_answer_with_a_qdrant_node_lost() {
    let Some(bin) = QdrantBin::from_env("tenant-kb on a 3-node Qdrant cluster") else { return };
    let mut cluster = QdrantCluster::start(&bin, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_owned(),
        admin_token: Some(crate::ADMIN.into()),
        qdrant_url: Some(cluster.grpc_urls().join(",")),
        qdrant_collection: "tenant_kb_cluster".into(),
        qdrant_shards: Some(3),
        qdrant_replication: Some(2),
        ..Config::default()
    };
    let kb = Kb::open(config).await.unwrap();
    let t = NewTenant { id: "acme".into(), name: "Acme".into(), policy: Some("allow".into()) };
    kb.create_tenant(&Principal::Platform, t).await.unwrap();
    let key = kb.bootstrap_admin_key(&Principal::Platform, "acme").await.unwrap().key;
    let Principal::Member(admin) = kb.authenticate(&key).await.unwrap() else { panic!() };
    let topics = ["billing", "shipping", "warranty", "returns", "onboarding", "security", "travel", "payroll"];
    let docs = (0..120)
        .map(|i| NewDocument {
            id: format!("d{i}"),
            title: format!("note {i}"),
            text: format!("Note {i} on {}: the {} team reviews it every quarter.", topics[i % 8], topics[(i + 3) % 8]),
            pdf_base64: None,
            attributes: Default::default(),
        })
        .collect();
    kb.add_documents(&admin, docs).await.unwrap();
    let search = |q: &'static str| {
        let (kb, admin) = (kb.clone(), admin.clone());
        async move {
            let req = SearchRequest { query: q.into(), k: Some(10), filters: Default::default() };
            kb.search(&admin, req).await.map(|r| r.hits.into_iter().map(|h| h.text).collect::<Vec<_>>())
        }
    };
    let relevant = |q: &str, hits: &[String]| hits.len() == 10 && hits.iter().all(|t| t.contains(q));
    for q in topics {
        let hits = search(q).await.unwrap();
        assert!(relevant(q, &hits), "{q}: {hits:?}");
    }

    cluster.nodes[0].kill().await;
    for round in 0..3 {
        for q in topics {
            let hits = search(q).await.unwrap_or_else(|e| panic!("round {round}, {q:?} failed with a node down: {e}"));
            assert!(relevant(q, &hits), "round {round}, {q:?} with a node down: {hits:?}");
        }
    }
    assert_eq!(kb.alarms(), 0);
    assert_eq!(kb.indexed_chunks(&admin, None).await.unwrap(), 120);
}
