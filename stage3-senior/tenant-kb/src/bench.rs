//! `tenant-kb bench`: many tenants on one machine, a mixed search load over HTTP, and a noisy
//! neighbour. SQuAD paragraphs are replicated across tenants, each copy with its own tenant and
//! random attributes; queries are SQuAD questions about the tenant's own paragraphs.
//!
//! Production note: the load generator runs in the same process as the server (reqwest on
//! loopback), so both share the machine's cores; the numbers are a lower bound on what a
//! dedicated server does.

use crate::auth::Principal;
use crate::policy::Attrs;
use crate::store::Role;
use crate::{Config, Kb, NewDocument, NewKey, NewTenant, NewUser};
use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// SQuAD v1.1 JSON (its paragraphs are the documents, its questions the queries).
    #[arg(long)]
    pub squad: PathBuf,
    #[arg(long, default_value_t = 100)]
    pub tenants: usize,
    /// Documents per tenant.
    #[arg(long, default_value_t = 100)]
    pub docs: usize,
    /// Search requests per phase.
    #[arg(long, default_value_t = 4000)]
    pub requests: usize,
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Where the bench's knowledge base lives (emptied first).
    #[arg(long, default_value = "target/tenant-kb-bench")]
    pub workdir: PathBuf,
    /// After the built-in phases, keep serving this many seconds for an external load tool: a
    /// wrk script that spreads searches over every tenant, user and question is written to
    /// `<workdir>/wrk.lua` (run `wrk -t2 -c32 -d30s --latency -s <workdir>/wrk.lua <url>`).
    #[arg(long, default_value_t = 0)]
    pub serve_secs: u64,
    /// Listen address while serving for the external tool.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: String,
    /// Also ingest this many paragraphs as text and as scanned PDFs (OCR by `tesseract`):
    /// documents per second both ways and OCR word recall. 0: skip.
    #[arg(long, default_value_t = 0)]
    pub scans: usize,
    /// The TrueType font the scans are drawn with.
    #[arg(long, default_value = crate::scan::DEFAULT_FONT)]
    pub font: PathBuf,
}

const GROUPS: [&str; 4] = ["sales", "eng", "finance", "legal"];
const LEVELS: [&str; 3] = ["public", "internal", "confidential"];

struct Tenant {
    keys: Vec<String>,
    questions: Vec<String>,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let squad = genai_eval::squad::load(&args.squad).with_context(|| format!("reading {}", args.squad.display()))?;
    let paragraphs: Vec<(String, Vec<String>)> = squad
        .data
        .iter()
        .flat_map(|a| {
            a.paragraphs.iter().map(|p| (p.context.clone(), p.qas.iter().map(|q| q.question.clone()).collect()))
        })
        .collect();
    let _ = std::fs::remove_dir_all(&args.workdir);
    // No request quota: the benchmark measures capacity, and its noisy tenant is meant to be loud.
    let config = Config {
        data_dir: args.workdir.clone(),
        admin_token: Some("bench".into()),
        requests_per_minute: 0,
        ..Config::default()
    };
    let kb = Kb::open(config).await?;
    let mut rng = StdRng::seed_from_u64(7);
    let bar = indicatif::ProgressBar::new((args.tenants * args.docs) as u64)
        .with_style(indicatif::ProgressStyle::with_template("ingest {bar:40} {pos}/{len} docs {per_sec} eta {eta}")?);
    let started = Instant::now();
    let mut chunks = 0u64;
    let mut tenants = Vec::new();
    for t in 0..args.tenants {
        let id = format!("t{t:03}");
        kb.create_tenant(&Principal::Platform, NewTenant { id: id.clone(), name: id.clone(), policy: None }).await?;
        let admin = kb.tenant_admin(&id, Attrs::new()).await?;
        let mut keys = Vec::new();
        for u in 0..3 {
            let attributes: Attrs = [
                ("groups".to_owned(), vec![GROUPS[(t + u) % GROUPS.len()].to_owned()]),
                ("clearance".to_owned(), vec![LEVELS[1 + u % 2].to_owned()]),
            ]
            .into();
            let user = format!("u{u}");
            kb.create_user(&admin, NewUser { id: user.clone(), name: user.clone(), role: Role::Reader, attributes })
                .await?;
            keys.push(kb.issue_key(&admin, NewKey { user, scope: None }).await?.key);
        }
        let mut questions = Vec::new();
        let mut batch = Vec::with_capacity(args.docs);
        for d in 0..args.docs {
            let (text, qs) = &paragraphs[(t * args.docs + d) % paragraphs.len()];
            questions.extend(qs.iter().cloned());
            let mut attributes: Attrs = [
                ("groups".to_owned(), vec![GROUPS[rng.random_range(0..GROUPS.len())].to_owned()]),
                ("clearance".to_owned(), vec![LEVELS[rng.random_range(0..LEVELS.len())].to_owned()]),
            ]
            .into();
            if rng.random_bool(0.2) {
                attributes.insert("visibility".into(), vec!["public".into()]);
            }
            batch.push(NewDocument {
                id: format!("p{d}"),
                title: format!("paragraph {d}"),
                text: text.clone(),
                pdf_base64: None,
                attributes,
            });
        }
        // The API takes at most 1,000 documents per batch.
        while !batch.is_empty() {
            let rest = batch.split_off(batch.len().min(500));
            let n = batch.len() as u64;
            chunks += kb
                .add_documents(&admin, std::mem::replace(&mut batch, rest))
                .await?
                .iter()
                .map(|i| i.chunks)
                .sum::<u64>();
            bar.inc(n);
        }
        tenants.push(Tenant { keys, questions });
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let docs = args.tenants * args.docs;
    println!(
        "ingest: {docs} documents, {chunks} chunks in {secs:.1} s: {:.0} docs/s, {:.0} chunks/s (sealed, indexed, audited; one batch per tenant)",
        docs as f64 / secs,
        chunks as f64 / secs
    );
    footprint(&args.workdir, docs as u64, chunks);
    if args.scans > 0 {
        let texts: Vec<String> = paragraphs.iter().take(args.scans).map(|(p, _)| p.clone()).collect();
        crate::bench_ocr::run(&kb, &texts, &args.font).await?;
    }

    let listener = tokio::net::TcpListener::bind(&args.addr).await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(crate::api::serve(listener, kb.clone(), std::future::pending()));
    let tenants = Arc::new(tenants);
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build()?;

    let even = load(&http, &base, &tenants, &args, None).await;
    report("mixed load, all tenants", &even.all);
    let noisy = load(&http, &base, &tenants, &args, Some(0)).await;
    report("noisy neighbour: tenant t000 (3/4 of the connections)", &noisy.noisy);
    report("noisy neighbour: every other tenant", &noisy.all);
    println!("errors: {} (mixed), {} (noisy phase); post-retrieval alarms: {}", even.errors, noisy.errors, kb.alarms());
    if args.serve_secs > 0 {
        let script = args.workdir.join("wrk.lua");
        std::fs::write(&script, wrk_script(&tenants))?;
        println!(
            "serving {base} for {} s; load it with: wrk -t2 -c32 -d30s --latency -s {} {base}",
            args.serve_secs,
            script.display()
        );
        tokio::time::sleep(Duration::from_secs(args.serve_secs)).await;
        println!("post-retrieval alarms after the external load: {}", kb.alarms());
    }
    Ok(())
}

/// Bytes on disk per document and per chunk in each store: the inputs of the capacity model.
fn footprint(dir: &std::path::Path, docs: u64, chunks: u64) {
    fn size(p: &std::path::Path) -> u64 {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => {
                std::fs::read_dir(p).map(|d| d.flatten().map(|e| size(&e.path())).sum()).unwrap_or(0)
            }
            Ok(m) => m.len(),
            Err(_) => 0,
        }
    }
    let prefixed = |prefix: &str| -> u64 {
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                    .map(|e| size(&e.path()))
                    .sum()
            })
            .unwrap_or(0)
    };
    for (store, bytes) in [
        ("index (embedded)", size(&dir.join("index"))),
        ("registry", prefixed("kb.sqlite")),
        ("audit log", prefixed("audit.sqlite")),
    ] {
        println!(
            "footprint: {store}: {:.1} MiB, {:.0} bytes/document, {:.0} bytes/chunk",
            bytes as f64 / 1048576.0,
            bytes as f64 / docs.max(1) as f64,
            bytes as f64 / chunks.max(1) as f64
        );
    }
}

/// A wrk script: each request a random tenant, user key and question of that tenant.
fn wrk_script(tenants: &[Tenant]) -> String {
    let lua = |s: &str| serde_json::to_string(&serde_json::json!({"query": s, "k": 5})).unwrap_or_default();
    let mut out = String::from("-- generated by tenant-kb bench\nlocal tenants = {\n");
    for t in tenants {
        out.push_str("  {keys = {");
        out.push_str(&t.keys.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", "));
        out.push_str("}, bodies = {");
        let bodies: Vec<String> = t.questions.iter().take(50).map(|q| format!("{:?}", lua(q))).collect();
        out.push_str(&bodies.join(", "));
        out.push_str("}},\n");
    }
    out.push_str(
        "}\nmath.randomseed(7)\nrequest = function()\n  local t = tenants[math.random(#tenants)]\n  \
         local key = t.keys[math.random(#t.keys)]\n  local body = t.bodies[math.random(#t.bodies)]\n  \
         return wrk.format(\"POST\", \"/v1/search\", {[\"Authorization\"] = \"Bearer \" .. key, \
         [\"Content-Type\"] = \"application/json\"}, body)\nend\n\
         response = function(status, headers, body)\n  if status ~= 200 then print(\"status \" .. status) end\nend\n",
    );
    out
}

struct Phase {
    all: Vec<Duration>,
    noisy: Vec<Duration>,
    errors: usize,
}

/// `args.requests` searches over `args.concurrency` connections. With `noisy = Some(t)`, three
/// connections in four send only tenant t's queries; `all` then holds the other tenants' latencies.
async fn load(
    http: &reqwest::Client,
    base: &str,
    tenants: &Arc<Vec<Tenant>>,
    args: &BenchArgs,
    noisy: Option<usize>,
) -> Phase {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for c in 0..args.concurrency {
        let (http, base, tenants, next, total) =
            (http.clone(), base.to_owned(), tenants.clone(), next.clone(), args.requests);
        let pinned = noisy.filter(|_| c % 4 != 3);
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(c as u64);
            let (mut mine, mut errors) = (Vec::new(), 0);
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t = pinned.unwrap_or_else(|| {
                    loop {
                        let t = rng.random_range(0..tenants.len());
                        if Some(t) != noisy {
                            break t;
                        }
                    }
                });
                let tenant = &tenants[t];
                let key = &tenant.keys[rng.random_range(0..tenant.keys.len())];
                let q = &tenant.questions[rng.random_range(0..tenant.questions.len())];
                let t0 = Instant::now();
                let ok = http
                    .post(format!("{base}/v1/search"))
                    .bearer_auth(key)
                    .json(&serde_json::json!({"query": q, "k": 5}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                mine.push((pinned.is_some(), t0.elapsed()));
                errors += usize::from(!ok);
            }
            (mine, errors)
        }));
    }
    let mut phase = Phase { all: vec![], noisy: vec![], errors: 0 };
    for t in tasks {
        let (mine, errors) = t.await.expect("load task");
        phase.errors += errors;
        for (is_noisy, d) in mine {
            if is_noisy { phase.noisy.push(d) } else { phase.all.push(d) }
        }
    }
    phase
}

fn report(what: &str, lat: &[Duration]) {
    if lat.is_empty() {
        return;
    }
    let mut ms: Vec<f64> = lat.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| ms[((ms.len() as f64 * p).ceil() as usize).clamp(1, ms.len()) - 1];
    println!("{what}: {} requests, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms", ms.len(), q(0.50), q(0.95), q(0.99));
}
