//! Asynchronous ingestion: a job runs once its worker picks it up; a worker that dies mid-job
//! leaves it to another after the lease, with each document indexed once; a full queue is a 429
//! with Retry-After; a job that cannot succeed fails without retries; erasure takes the queue too.

use std::time::Duration;
use tenant_kb::auth::{Member, Principal};
use tenant_kb::{Config, JobState, Kb, KbError, NewDocument, NewTenant, SearchRequest};

async fn setup(dir: &std::path::Path, tweak: impl FnOnce(&mut Config)) -> (Kb, Member) {
    let mut config = Config { data_dir: dir.to_owned(), admin_token: Some(crate::ADMIN.into()), ..Config::default() };
    tweak(&mut config);
    let kb = Kb::open(config).await.unwrap();
    kb.create_tenant(
        &Principal::Platform,
        NewTenant { id: "acme".into(), name: "Acme".into(), policy: Some("allow".into()) },
    )
    .await
    .unwrap();
    let key = kb.bootstrap_admin_key(&Principal::Platform, "acme").await.unwrap();
    let Principal::Member(admin) = kb.authenticate(&key.key).await.unwrap() else { panic!("a member") };
    (kb, admin)
}

fn docs(n: usize) -> Vec<NewDocument> {
    (0..n)
        .map(|i| NewDocument {
            id: format!("d{i}"),
            title: format!("d{i}"),
            text: format!("common words of document {i}, queued for the workers."),
            pdf_base64: None,
            attributes: Default::default(),
        })
        .collect()
}

async fn hits(kb: &Kb, m: &Member) -> Vec<String> {
    let r =
        kb.search(m, SearchRequest { query: "common".into(), k: Some(50), filters: Default::default() }).await.unwrap();
    let mut ids: Vec<String> = r.hits.into_iter().map(|h| h.document).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_indexed_by_the_workers() {
    let dir = tempfile::tempdir().unwrap();
    let (kb, admin) = setup(dir.path(), |_| {}).await;
    let job = kb.submit_job(&admin, docs(3)).await.unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Queued, 0));
    let workers = kb.start_workers();
    let done = genai_testkit::browser::wait_for("the job to finish", || async {
        let j = kb.job(&admin, &job.id).await.ok()?;
        (j.state == JobState::Done).then_some(j)
    })
    .await;
    assert_eq!(done.attempts, 1);
    assert_eq!(hits(&kb, &admin).await, ["d0", "d1", "d2"]);
    for w in workers {
        w.abort();
    }
}

#[tokio::test]
async fn a_worker_that_dies_mid_job_leaves_it_to_another_and_nothing_is_indexed_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (kb, admin) = setup(dir.path(), |c| c.job_lease_ms = 100).await;
    let job = kb.submit_job(&admin, docs(4)).await.unwrap();
    // A worker takes the job, writes it, and dies before recording the outcome.
    let first = kb.claim(Duration::from_millis(100)).await.unwrap().expect("a job to claim");
    assert_eq!(first.attempts, 1);
    assert!(kb.claim(Duration::from_millis(100)).await.unwrap().is_none(), "a leased job is not handed out twice");
    let stale = first;
    tokio::time::sleep(Duration::from_millis(150)).await;
    // Its lease ran out: another worker takes it over and finishes.
    assert!(kb.work_once().await.unwrap());
    let j = kb.job(&admin, &job.id).await.unwrap();
    assert_eq!((j.state, j.attempts), (JobState::Done, 2));
    // The dead worker's late result (it wrote the same documents again) changes nothing.
    assert_eq!(kb.process(stale).await.unwrap(), JobState::Done);
    assert_eq!(kb.job(&admin, &job.id).await.unwrap().attempts, 2);
    assert_eq!(hits(&kb, &admin).await, ["d0", "d1", "d2", "d3"], "each document once");
    assert!(!kb.work_once().await.unwrap(), "nothing left to do");
}

#[tokio::test]
async fn a_full_queue_is_429_and_hopeless_jobs_fail_without_retries() {
    let dir = tempfile::tempdir().unwrap();
    let (kb, admin) = setup(dir.path(), |c| c.max_queued_jobs = 2).await;
    kb.submit_job(&admin, docs(1)).await.unwrap();
    kb.submit_job(&admin, docs(1)).await.unwrap();
    match kb.submit_job(&admin, docs(1)).await {
        Err(e @ KbError::Busy { retry_after_secs: 5, waiting: 2 }) => assert_eq!(e.status(), 429),
        other => panic!("expected Busy, got {other:?}"),
    }
    // Bad input is refused at submission, not discovered by a worker.
    let mut bad = docs(2);
    bad[1].id = "bad id".into();
    assert!(matches!(kb.submit_job(&admin, bad).await, Err(KbError::Invalid { .. })));
    // A job whose submitter is erased before it runs cannot succeed: failed at once.
    kb.create_user(
        &admin,
        tenant_kb::NewUser {
            id: "w".into(),
            name: "w".into(),
            role: tenant_kb::store::Role::Writer,
            attributes: Default::default(),
        },
    )
    .await
    .unwrap();
    let Principal::Member(writer) = kb
        .authenticate(&kb.issue_key(&admin, tenant_kb::NewKey { user: "w".into(), scope: None }).await.unwrap().key)
        .await
        .unwrap()
    else {
        panic!()
    };
    while kb.work_once().await.unwrap() {}
    let job = kb.submit_job(&writer, docs(1)).await.unwrap();
    kb.delete_user(&admin, "w").await.unwrap();
    assert!(kb.work_once().await.unwrap());
    let j = kb.job(&admin, &job.id).await.unwrap();
    assert_eq!((j.state, j.attempts), (JobState::Failed, 1));
    assert!(j.error.unwrap().contains("submitter was erased"));
}

#[tokio::test]
async fn erasing_a_tenant_empties_its_queue() {
    let dir = tempfile::tempdir().unwrap();
    let (kb, admin) = setup(dir.path(), |_| {}).await;
    kb.submit_job(&admin, docs(2)).await.unwrap();
    kb.erase_tenant(&Principal::Platform, "acme").await.unwrap();
    assert!(!kb.work_once().await.unwrap(), "the erased tenant's job is gone");
    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("kb.sqlite").display())).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM kb_jobs").fetch_one(&db).await.unwrap();
    assert_eq!(n, 0);
}
