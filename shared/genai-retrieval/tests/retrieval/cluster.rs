//! A real 3-node Qdrant cluster on loopback, when `QDRANT_BIN` names the server binary
//! (`.ci/run` unpacks it from the team folder). A collection with 3 shards and replication
//! factor 2 is filled through the `Index` API; one node is killed with SIGKILL while queries and
//! writes run; every query must still answer with the same results and every acknowledged write
//! must be there; the node is restarted and must rejoin with all its replicas active. Then the
//! tiered layout promotes a tenant to its own shard key on the same cluster.

use crate::{embedder, text_corpus, text_queries};
use genai_retrieval::{
    Condition, Field, Filter, Hit, Index, Record, Retriever, SearchMode, SearchRequest, ServerConfig, ServerIndex,
    ServerLayout, Tenancy, TenantPlacement,
};
use genai_testkit::qdrant::{QdrantBin, QdrantCluster, QdrantNode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn ids(hits: &[Hit]) -> Vec<u64> {
    hits.iter().map(|h| h.chunk.id.get()).collect()
}

async fn open(urls: Vec<String>, collection: &str, layout: ServerLayout) -> ServerIndex {
    let e = embedder();
    let config = ServerConfig {
        urls,
        collection: collection.into(),
        timeout: Duration::from_secs(5),
        layout,
        ..ServerConfig::default()
    };
    ServerIndex::open(config, e.model_id(), e.dim()).await.expect("collection on the cluster")
}

const MODES: [SearchMode; 3] = [SearchMode::Keyword, SearchMode::Dense, SearchMode::Hybrid];

/// A query over the corpus's own tenants, so records the writer adds under another tenant
/// during the test never change an answer.
fn request(q: &str, mode: SearchMode) -> SearchRequest {
    let tenants = ["acme", "globex", "initech"].map(String::from).to_vec();
    let filter = Filter::default().and(Condition::AnyOf { field: Field::Tenant, values: tenants });
    SearchRequest { filter: Some(filter), ..SearchRequest::new(q, mode, 10) }
}

/// Every query in `queries` in three modes, best 10.
async fn answers(r: &Retriever, queries: &[String]) -> Vec<Vec<u64>> {
    let mut out = Vec::new();
    for q in queries {
        for mode in MODES {
            out.push(ids(&r.search(&request(q, mode)).await.expect("query answered")));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_survives_a_killed_node_and_it_rejoins() {
    let Some(bin) = QdrantBin::from_env("3-node Qdrant cluster failover") else { return };
    let started = Instant::now();
    let mut cluster = QdrantCluster::start(&bin, 3).await;
    let layout =
        ServerLayout { shards: Some(3), replication_factor: Some(2), tenancy: Tenancy::Payload, ..Default::default() };
    // The node we kill is the first one clients talk to: requests must fail over.
    let index = Arc::new(open(cluster.grpc_urls(), "failover", layout.clone()).await);
    let records = text_corpus(3_000, 5);
    for batch in records.chunks(500) {
        index.upsert(batch.to_vec()).await.unwrap();
    }
    assert_eq!(index.count(None).await.unwrap(), 3_000);
    let retriever = Arc::new(Retriever::new(embedder(), index.clone()).unwrap());
    let queries = text_queries(30, 5);
    let expected = Arc::new(answers(&retriever, &queries).await);

    // Query load (4 tasks) and a writer, both recording what they saw.
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, wrong) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut tasks = Vec::new();
    for t in 0..4 {
        let (r, q, exp, stop, answered, wrong) =
            (retriever.clone(), queries.clone(), expected.clone(), stop.clone(), answered.clone(), wrong.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = t;
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let (qi, mode) = (i / 3 % q.len(), MODES[i % 3]);
                match r.search(&request(&q[qi], mode)).await {
                    Ok(hits) if ids(&hits) == exp[qi * 3 + i % 3] => {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(hits) => {
                        if wrong.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("{mode:?} {:?}: got {:?} want {:?}", q[qi], ids(&hits), exp[qi * 3 + i % 3]);
                        }
                    }
                    Err(e) => failures.push(e.to_string()),
                }
                i += 4;
            }
            failures
        }));
    }
    // The writer fills a second collection on the same cluster: new records in the queried
    // collection would change BM25's IDF, and so the answers the queries are checked against.
    let writes = Arc::new(open(cluster.grpc_urls(), "failover_writes", layout).await);
    let writer = {
        let (index, stop) = (writes.clone(), stop.clone());
        tokio::spawn(async move {
            let mut acked: Vec<Record> = Vec::new();
            let mut failed = 0;
            let extra = text_corpus(4_000, 99); // more than the test writes: 10 every 25 ms
            for batch in extra.chunks(10) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let batch = batch.to_vec();

                match index.upsert(batch.clone()).await {
                    Ok(()) => acked.extend(batch),
                    Err(_) => failed += 1,
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            (acked, failed)
        })
    };

    tokio::time::sleep(Duration::from_secs(2)).await;
    let before_kill = answered.load(Ordering::Relaxed);
    let acked_before_kill = writes.count(None).await.unwrap();
    cluster.nodes[0].kill().await;
    let killed_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for t in tasks {
        failures.extend(t.await.unwrap());
    }
    let (acked, write_failures) = writer.await.unwrap();
    let after_kill = answered.load(Ordering::Relaxed) - before_kill;
    eprintln!(
        "cluster: {} queries answered ({after_kill} after the kill), {} wrong, {} failed; {} records acknowledged ({acked_before_kill} before the kill), {write_failures} write batches failed",
        answered.load(Ordering::Relaxed),
        wrong.load(Ordering::Relaxed),
        failures.len(),
        acked.len()
    );
    assert!(failures.is_empty(), "queries failed after a node was killed: {:?}", &failures[..failures.len().min(5)]);
    assert_eq!(wrong.load(Ordering::Relaxed), 0, "a query answered with different results");
    assert!(after_kill > 50, "the load kept running after the kill ({after_kill} queries)");

    // No acknowledged write lost, read through the surviving nodes.
    let acked_ids: Vec<_> = acked.iter().map(|r| r.chunk.id).collect();
    let present = writes.fetch(&acked_ids).await.unwrap();
    assert_eq!(present.len(), acked.len(), "acknowledged writes missing after the kill");
    assert_eq!(writes.count(None).await.unwrap(), acked.len() as u64);
    assert!(
        acked.len() as u64 >= acked_before_kill + 100,
        "the writer kept writing through the kill ({acked_before_kill} records before it, {} in all)",
        acked.len()
    );

    // Restart the node: it rejoins, recovers its replicas, and answers the same.
    cluster.nodes[0].start().await;
    cluster.wait_for_peers(3).await;
    wait_all_replicas_active(&cluster.nodes[1], "failover").await;
    wait_all_replicas_active(&cluster.nodes[1], "failover_writes").await;
    eprintln!(
        "cluster: node restarted and all replicas active {:.1} s after the kill",
        killed_at.elapsed().as_secs_f64()
    );
    let own_writes = open(vec![cluster.nodes[0].grpc_url()], "failover_writes", ServerLayout::default()).await;
    assert_eq!(own_writes.fetch(&acked_ids).await.unwrap().len(), acked.len());
    let own = open(vec![cluster.nodes[0].grpc_url()], "failover", ServerLayout::default()).await;
    assert_eq!(own.count(None).await.unwrap(), 3_000);
    let own = Retriever::new(embedder(), Arc::new(own)).unwrap();
    // Dense answers through the restarted node are the same, ranking for ranking. BM25's are
    // not always: in some runs its recovered replicas ranked a few documents differently from
    // the other nodes, and stayed so for over a minute (Qdrant's keyword statistics per
    // replica; see the genai-retrieval README). So keyword and hybrid answers are held to a
    // mean top-10 overlap with the expected ones, printed; seen: 0.91-1.0 keyword, 0.94-1.0 hybrid.
    let got = answers(&own, &queries).await;
    let overlap = |mode: usize| {
        let pairs: Vec<_> = got.iter().zip(expected.iter()).skip(mode).step_by(MODES.len()).collect();
        let shared = |(a, b): &(&Vec<u64>, &Vec<u64>)| {
            a.iter().filter(|id| b.contains(id)).count() as f64 / b.len().max(1) as f64
        };
        pairs.iter().map(shared).sum::<f64>() / pairs.len() as f64
    };
    let (keyword, dense, hybrid) = (overlap(0), overlap(1), overlap(2));
    eprintln!(
        "cluster: restarted node's top-10 overlap with the expected answers: keyword {keyword:.3}, dense {dense:.3}, hybrid {hybrid:.3}"
    );
    let dense_got: Vec<_> = got.iter().skip(1).step_by(MODES.len()).collect();
    let dense_expected: Vec<_> = expected.iter().skip(1).step_by(MODES.len()).collect();
    assert_eq!(dense_got, dense_expected, "the restarted node answers dense queries the same");
    assert!(
        keyword >= 0.85 && hybrid >= 0.85,
        "the restarted node's keyword ({keyword:.3}) and hybrid ({hybrid:.3}) answers drifted"
    );

    tiered_promotion_on_the_cluster(&cluster).await;
    for node in &mut cluster.nodes {
        node.stop().await;
    }
    eprintln!("cluster test took {:.1} s", started.elapsed().as_secs_f64());
}

/// Polls a node's view of the collection until every replica of every shard is `Active`.
async fn wait_all_replicas_active(node: &QdrantNode, collection: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = node.get_json(&format!("/collections/{collection}/cluster")).await;
        let states: Vec<String> = info
            .iter()
            .flat_map(|v| {
                let r = &v["result"];
                let local = r["local_shards"].as_array().cloned().unwrap_or_default();
                let remote = r["remote_shards"].as_array().cloned().unwrap_or_default();
                local.into_iter().chain(remote)
            })
            .filter_map(|s| s["state"].as_str().map(str::to_owned))
            .collect();
        if !states.is_empty() && states.iter().all(|s| s == "Active") {
            return;
        }
        assert!(Instant::now() < deadline, "replicas not all active after 60 s: {states:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn tiered_promotion_on_the_cluster(cluster: &QdrantCluster) {
    let layout = ServerLayout { replication_factor: Some(2), tenancy: Tenancy::Tiered, ..Default::default() };
    let index = Arc::new(open(cluster.grpc_urls(), "tiered_cluster", layout).await);
    index.upsert(text_corpus(900, 8)).await.unwrap();
    promotion_keeps_results(index.clone()).await;
    index.drop_collection().await.unwrap();
}

/// Promotes `acme` to its own shard key and checks that nothing is lost or leaked: the same
/// counts, the same dense results (pinned to the tenant or not), the same set of keyword matches,
/// and only acme's records in acme-pinned results. Keyword *scores* may change: a dedicated
/// shard computes BM25's IDF over the tenant's own documents (ADR 0012).
pub async fn promotion_keeps_results(index: Arc<ServerIndex>) {
    let total = index.count(None).await.unwrap();
    let acme = Filter::tenant("acme");
    let acme_count = index.count(Some(&acme)).await.unwrap();
    assert!(acme_count > 0, "the corpus has acme records");
    let r = Retriever::new(embedder(), index.clone()).unwrap();
    let queries = text_queries(10, 8);
    let run = |filter: Option<Filter>| {
        let (r, queries) = (&r, &queries);
        async move {
            let mut dense = Vec::new();
            let mut keyword = Vec::new();
            for q in queries {
                let req = |mode, k| SearchRequest { filter: filter.clone(), ..SearchRequest::new(q.clone(), mode, k) };
                dense.push(ids(&r.search(&req(SearchMode::Dense, 10)).await.unwrap()));
                let mut matched = ids(&r.search(&req(SearchMode::Keyword, 1000)).await.unwrap());
                matched.sort_unstable();
                keyword.push(matched);
            }
            (dense, keyword)
        }
    };
    let (pinned_before, all_before) = (run(Some(acme.clone())).await, run(None).await);
    let placement = index.dedicate_tenant("acme").await.unwrap();
    assert_eq!(placement, TenantPlacement::Dedicated { shard_key: "acme".into() });
    assert_eq!(index.count(None).await.unwrap(), total, "no record duplicated or lost by the move");
    assert_eq!(index.count(Some(&acme)).await.unwrap(), acme_count);
    let (pinned_after, all_after) = (run(Some(acme.clone())).await, run(None).await);
    assert_eq!(pinned_after, pinned_before, "tenant-pinned dense results and keyword matches");
    assert_eq!(all_after, all_before, "unpinned dense results and keyword matches");
    let req = SearchRequest { filter: Some(acme.clone()), ..SearchRequest::new(&queries[0], SearchMode::Hybrid, 50) };
    let hits = r.search(&req).await.unwrap();
    assert!(!hits.is_empty() && hits.iter().all(|h| h.tenant.as_deref() == Some("acme")), "only acme's records");
    // Writes for the promoted tenant land in its shard and are found.
    let mut extra = text_corpus(3, 77);
    for r in &mut extra {
        r.tenant = Some("acme".into());
    }
    index.upsert(extra.clone()).await.unwrap();
    assert_eq!(index.count(Some(&acme)).await.unwrap(), acme_count + 3);
    // Promoting again is a no-op with the same answer.
    assert_eq!(index.dedicate_tenant("acme").await.unwrap(), placement);
}
