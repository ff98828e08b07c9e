//! The servers behind the knowledge base restarted under load: a private NATS JetStream server
//! (NATS_SERVER_BIN) is killed with SIGKILL and started again on the same store, then a private
//! PostgreSQL holding the audit log (PG_BIN, the folder with initdb and pg_ctl) is stopped the
//! way a crash stops it (`pg_ctl -m immediate`) and started again, all while clients submit jobs
//! and search over HTTP. Every answer is a success or a clear 503 with Retry-After in the one
//! error shape (nothing hangs, nothing else fails), the service recovers by itself, every
//! acknowledged job is indexed, every acknowledged request is in the audit log, and the chain
//! verifies. Private servers, so the machine's own ones (which other tests use) stay up.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tenant_kb::auth::Principal;
use tenant_kb::{Config, JobState, Kb, NewTenant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A binary path from the environment: `None` when unset, a panic when set but missing.
fn binary(var: &str, name: &str) -> Option<PathBuf> {
    let v = std::env::var(var).ok().filter(|v| !v.is_empty())?;
    let p = if name.is_empty() { PathBuf::from(&v) } else { Path::new(&v).join(name) };
    assert!(p.exists(), "{var}={v} is set but {} does not exist", p.display());
    Some(p)
}

fn wait_for_port(port: u16, up: bool) {
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        let open = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        if open == up {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("port {port} did not become {}", if up { "open" } else { "closed" });
}

struct Nats {
    bin: PathBuf,
    port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
}

impl Nats {
    fn start(&mut self) {
        let child = Command::new(&self.bin)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        wait_for_port(self.port, true);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        wait_for_port(self.port, false);
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A throwaway PostgreSQL cluster. initdb refuses to run as root, so as root the commands run
/// as the `postgres` user (Debian's packages create it) in a folder it owns.
struct Postgres {
    bin: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
}

impl Postgres {
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let tool = self.bin.join(tool);
        let root = Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
        let mut cmd = if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&tool);
            c
        } else {
            Command::new(&tool)
        };
        let out = cmd.args(args).stdin(Stdio::null()).output().expect("run a PostgreSQL tool");
        assert!(out.status.success(), "{} {args:?}: {}", tool.display(), String::from_utf8_lossy(&out.stderr));
    }

    fn init(bin: PathBuf) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pg = Self { bin, port: free_port(), dir };
        let _ = Command::new("chown").args(["-R", "postgres"]).arg(pg.dir.path()).status();
        let data = pg.data();
        pg.run("initdb", &["-D", data.to_str().unwrap(), "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
        pg
    }

    fn start(&self) {
        let opts = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.path().display());
        let log = self.dir.path().join("log");
        self.run(
            "pg_ctl",
            &["-D", self.data().to_str().unwrap(), "-l", log.to_str().unwrap(), "-o", &opts, "-w", "start"],
        );
    }

    /// Stops it the way a crash does: no checkpoint, recovery from the WAL at the next start.
    fn crash(&self) {
        self.run("pg_ctl", &["-D", self.data().to_str().unwrap(), "-m", "immediate", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ =
            std::panic::catch_unwind(|| self.run("pg_ctl", &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"]));
    }
}

/// One request's outcome as a client saw it.
#[derive(Debug, Clone)]
struct Outcome {
    at: Duration,
    kind: &'static str,
    status: u16,
    code: String,
    retry_after: bool,
    took: Duration,
    job: Option<String>,
}

async fn call(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value, bool) {
    match client.post(format!("{url}{path}")).bearer_auth(key).json(&body).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let retry = r.headers().contains_key("retry-after");
            (status, r.json().await.unwrap_or_default(), retry)
        }
        // A client timeout or a dropped connection: a hang or a crash, never acceptable.
        Err(e) => (0, serde_json::json!({ "transport": e.to_string() }), false),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_and_postgres_restarted_under_load_lose_no_acknowledged_write() {
    let (Some(nats_bin), Some(pg_bin)) = (binary("NATS_SERVER_BIN", ""), binary("PG_BIN", "pg_ctl")) else {
        eprintln!("SKIPPED: restarts under load (needs NATS_SERVER_BIN and PG_BIN)");
        return;
    };
    let pg = Postgres::init(pg_bin.parent().unwrap().to_owned());
    pg.start();
    let mut nats = Nats { bin: nats_bin, port: free_port(), store: tempfile::tempdir().unwrap(), child: None };
    nats.start();

    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_owned(),
        admin_token: Some(crate::ADMIN.into()),
        audit_url: Some(pg.url()),
        nats_url: Some(format!("nats://127.0.0.1:{}", nats.port)),
        nats_stream: "TKB_FAULTS".into(),
        workers: 2,
        job_lease_ms: 3_000,
        job_retry_base_ms: 200,
        job_attempts: 20,
        requests_per_minute: 0,
        ..Config::default()
    };
    let kb = Kb::open(config).await.unwrap();
    let t = NewTenant { id: "acme".into(), name: "Acme".into(), policy: Some("allow".into()) };
    kb.create_tenant(&Principal::Platform, t).await.unwrap();
    let key = kb.bootstrap_admin_key(&Principal::Platform, "acme").await.unwrap().key;
    let Principal::Member(admin) = kb.authenticate(&key).await.unwrap() else { panic!() };
    let workers = kb.start_workers();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tenant_kb::api::serve(listener, kb.clone(), async {
        let _ = stopped.await;
    }));

    // Load: two clients submitting small jobs, two searching, until told to stop.
    let start = Instant::now();
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let mut load = Vec::new();
    for c in 0..4 {
        let (client, url, key, outcomes, stop) =
            (client.clone(), url.clone(), key.clone(), outcomes.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let began = Instant::now();
                let (kind, path, body) = if c < 2 {
                    let docs: Vec<_> = (0..3)
                        .map(|i| serde_json::json!({"id": format!("c{c}-n{n}-{i}"), "title": "fault", "text": format!("restart drill record {c} {n} {i}")}))
                        .collect();
                    ("job", "/v1/jobs", serde_json::json!({ "documents": docs }))
                } else {
                    ("search", "/v1/search", serde_json::json!({"query": "restart drill record", "k": 5}))
                };
                let (status, body, retry_after) = call(&client, &url, &key, path, body).await;
                let code = body["error"]["code"].as_str().unwrap_or_default().to_owned();
                let job = (status == 202).then(|| body["id"].as_str().unwrap().to_owned());
                let o = Outcome { at: start.elapsed(), kind, status, code, retry_after, took: began.elapsed(), job };
                outcomes.lock().unwrap().push(o);
                // Jobs arrive a little slower than two workers finish them, so the queue is
                // not simply full (a 429 is still a clear answer, and is allowed).
                tokio::time::sleep(Duration::from_millis(if c < 2 { 150 } else { 40 })).await;
            }
        }));
    }

    let phase = |s: u64| tokio::time::sleep_until(tokio::time::Instant::from_std(start + Duration::from_secs(s)));
    // Each outage lasts longer than the clients' waits (the audit pool's 5 s acquire timeout,
    // JetStream's publish acknowledgement), so both waiting and failing clearly are exercised.
    phase(3).await;
    nats.kill();
    let nats_down = start.elapsed();
    phase(10).await;
    nats.start();
    let nats_up = start.elapsed();
    phase(13).await;
    pg.crash();
    let pg_down = start.elapsed();
    phase(20).await;
    pg.start();
    let pg_up = start.elapsed();
    phase(30).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in load {
        l.await.unwrap();
    }
    let outcomes = outcomes.lock().unwrap().clone();

    // Every answer was a success or a clear, retryable 503 (or queue back-pressure); none hung.
    let mut by_phase = std::collections::BTreeMap::<(&str, &str, String), usize>::new();
    for o in &outcomes {
        let p = if o.at < nats_down {
            "1 before"
        } else if o.at < nats_up + Duration::from_secs(1) {
            "2 NATS down"
        } else if o.at < pg_down {
            "3 between"
        } else if o.at < pg_up + Duration::from_secs(1) {
            "4 PostgreSQL down"
        } else {
            "5 after"
        };
        *by_phase.entry((p, o.kind, format!("{} {}", o.status, o.code))).or_default() += 1;
        let clear = (200..300).contains(&o.status)
            || (o.status == 503 && o.code == "unavailable" && o.retry_after)
            || (o.status == 429 && o.code == "queue_full" && o.retry_after);
        assert!(clear, "an unclear answer under faults: {o:?}");
        assert!(o.took < Duration::from_secs(20), "a request waited too long: {o:?}");
    }
    eprintln!("outcomes by phase, kind and status: {by_phase:#?}");
    // Each outage was felt (the test is not vacuous): requests in it failed clearly or waited
    // (the audit store's pool retries a refused connection until its acquire timeout).
    for (what, down, up) in [("NATS", nats_down, nats_up), ("PostgreSQL", pg_down, pg_up)] {
        let felt = outcomes.iter().any(|o| {
            let began = o.at.saturating_sub(o.took);
            began < up && o.at >= down && (o.status == 503 || o.took > Duration::from_millis(800))
        });
        assert!(felt, "no request noticed the {what} outage");
    }
    let tail: Vec<_> = outcomes.iter().filter(|o| o.at > Duration::from_secs(26)).collect();
    let ok = |kind: &str| tail.iter().filter(|o| o.kind == kind && (200..300).contains(&o.status)).count();
    let failed: Vec<_> = tail.iter().filter(|o| o.status >= 500 || o.status == 0).collect();
    assert!(
        failed.is_empty() && ok("job") >= 5 && ok("search") >= 5,
        "not recovered: {failed:?}, {} jobs and {} searches answered",
        ok("job"),
        ok("search")
    );

    // Every acknowledged job finishes and every one of its documents is stored.
    let acked: Vec<&str> = outcomes.iter().filter_map(|o| o.job.as_deref()).collect();
    assert!(acked.len() >= 20, "too few jobs acknowledged: {}", acked.len());
    for id in &acked {
        let job = genai_testkit::browser::wait_for("an acknowledged job to finish", || async {
            let j = kb.job(&admin, id).await.ok()?;
            matches!(j.state, JobState::Done | JobState::Failed).then_some(j)
        })
        .await;
        assert_eq!(job.state, JobState::Done, "{job:?}");
        for d in &job.documents {
            kb.document(&admin, d).await.unwrap_or_else(|e| panic!("{d} of acknowledged {id}: {e}"));
        }
    }

    // Every acknowledged request is in the audit log, and the chain is intact.
    let mut entries = Vec::new();
    loop {
        let after = entries.last().map_or(0, |e: &tenant_kb::audit::Entry| e.seq);
        let page = kb.audit_entries(&admin, after, 500).await.unwrap();
        if page.is_empty() {
            break;
        }
        entries.extend(page);
    }
    let submitted: std::collections::HashSet<&str> = entries
        .iter()
        .filter(|e| e.entry.action == "job.submit")
        .filter_map(|e| e.entry.detail["job"].as_str())
        .collect();
    for id in &acked {
        assert!(submitted.contains(id), "acknowledged job {id} has no audit entry");
    }
    let searches_ok = outcomes.iter().filter(|o| o.kind == "search" && o.status == 200).count();
    let searches_logged = entries.iter().filter(|e| e.entry.action == "search").count();
    assert!(searches_logged >= searches_ok, "{searches_ok} searches answered, {searches_logged} audited");
    let v = kb.verify_audit(&Principal::Platform, Some("acme")).await.unwrap();
    assert!(v.intact, "{v:?}");
    // Stop everything that holds the service before its data folder goes.
    let _ = stop_server.send(());
    let _ = server.await;
    for w in workers {
        w.abort();
        let _ = w.await;
    }
}
