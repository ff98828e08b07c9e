//! Workers in separate processes on the shared queue (NATS JetStream with NATS_URL, the Qdrant
//! server with QDRANT_URL, the audit log in PostgreSQL with DATABASE_URL): one is killed with
//! SIGKILL while it holds a job; the job is delivered again to the others, every job finishes,
//! and every document is indexed exactly once.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tenant_kb::auth::Principal;
use tenant_kb::{Config, JobState, Kb, NewDocument, NewTenant};

fn worker(config: &Config) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tenant-kb"))
        .arg("worker")
        .env("TENANT_KB_DATA_DIR", &config.data_dir)
        .env("TENANT_KB_ADMIN_TOKEN", crate::ADMIN)
        .env("TENANT_KB_QDRANT_URL", config.qdrant_url.as_deref().unwrap())
        .env("TENANT_KB_QDRANT_COLLECTION", &config.qdrant_collection)
        .env("TENANT_KB_AUDIT_URL", config.audit_url.as_deref().unwrap())
        .env("TENANT_KB_NATS_URL", config.nats_url.as_deref().unwrap())
        .env("TENANT_KB_NATS_STREAM", &config.nats_stream)
        .env("TENANT_KB_JOB_LEASE_MS", config.job_lease_ms.to_string())
        .env("TENANT_KB_WORKERS", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start a tenant-kb worker")
}

#[tokio::test]
async fn a_worker_killed_mid_job_loses_nothing_and_indexes_nothing_twice() {
    let (Some(nats), Some(qdrant), Some(pg)) =
        (crate::server_url("NATS_URL"), crate::server_url("QDRANT_URL"), crate::server_url("DATABASE_URL"))
    else {
        eprintln!("SKIPPED: multi-process workers (needs NATS_URL, QDRANT_URL and DATABASE_URL)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tag = tenant_kb::crypto::random_hex(4);
    let config = Config {
        data_dir: dir.path().to_owned(),
        admin_token: Some(crate::ADMIN.into()),
        qdrant_url: Some(qdrant),
        qdrant_collection: format!("tenant_kb_workers_{tag}"),
        audit_url: Some(pg),
        nats_url: Some(nats),
        nats_stream: format!("TKB_TEST_{tag}"),
        job_lease_ms: 3_000,
        workers: 0,
        ..Config::default()
    };
    // This process only submits and reads; the workers are other processes.
    let kb = Kb::open(config.clone()).await.unwrap();
    let tenant = format!("w{tag}");
    let t = NewTenant { id: tenant.clone(), name: "workers".into(), policy: Some("allow".into()) };
    kb.create_tenant(&Principal::Platform, t).await.unwrap();
    let key = kb.bootstrap_admin_key(&Principal::Platform, &tenant).await.unwrap().key;
    let Principal::Member(admin) = kb.authenticate(&key).await.unwrap() else { panic!() };
    let (jobs, per_job) = (8, 100);
    let mut ids = Vec::new();
    for j in 0..jobs {
        let docs = (0..per_job)
            .map(|d| NewDocument {
                id: format!("j{j}-d{d}"),
                title: format!("job {j} document {d}"),
                text: format!(
                    "Shipment {j}-{d} left the warehouse on schedule. The carrier confirmed pallet {d} of batch {j}."
                ),
                pdf_base64: None,
                attributes: Default::default(),
            })
            .collect();
        ids.push(kb.submit_job(&admin, docs).await.unwrap().id);
    }

    // One worker; killed (SIGKILL) as soon as it holds a job.
    let mut first = worker(&config);
    let started = Instant::now();
    let victim = loop {
        let running = kb.jobs(&admin).await.unwrap().into_iter().find(|j| j.state == JobState::Running);
        if let Some(j) = running {
            break j.id;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the first worker never took a job");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    first.kill().unwrap();
    first.wait().unwrap();
    let held = kb.job(&admin, &victim).await.unwrap();
    assert_eq!(held.state, JobState::Running, "the worker finished before the kill; the test needs bigger jobs");

    // Two more workers finish everything, the victim's job once its lease runs out.
    let mut others = [worker(&config), worker(&config)];
    let deadline = Instant::now() + Duration::from_secs(120);
    let finished = loop {
        let all = kb.jobs(&admin).await.unwrap();
        if all.iter().all(|j| matches!(j.state, JobState::Done | JobState::Failed)) {
            break all;
        }
        if Instant::now() > deadline {
            others.iter_mut().for_each(|c| drop(c.kill()));
            panic!("jobs did not finish: {all:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for c in &mut others {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    assert!(finished.iter().all(|j| j.state == JobState::Done), "{finished:?}");
    let victim = finished.iter().find(|j| j.id == victim).unwrap();
    assert!(victim.attempts >= 2, "the killed worker's job ran again: {victim:?}");
    // Each document once: its chunks in the index are exactly what the registry recorded.
    let docs = kb.documents(&admin).await.unwrap();
    assert_eq!(docs.len(), jobs * per_job);
    let mut recorded = 0;
    for d in &docs {
        assert_eq!(
            kb.indexed_chunks(&admin, Some(&d.id)).await.unwrap(),
            d.chunks,
            "{} indexed twice or not at all",
            d.id
        );
        recorded += d.chunks;
    }
    assert_eq!(kb.indexed_chunks(&admin, None).await.unwrap(), recorded);
    // Erasure empties the tenant's subject in the stream too.
    kb.erase_tenant(&Principal::Platform, &tenant).await.unwrap();
}
