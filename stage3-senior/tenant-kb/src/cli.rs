//! The command line: `serve`, `audit verify`, `demo`, `bench`, `sync`.

use crate::auth::Principal;
use crate::{Config, Kb};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// A multi-tenant knowledge base: ABAC inside retrieval, sealed text, hash-chained audit.
#[derive(Debug, Parser)]
#[command(name = "tenant-kb", version, about, long_about = None)]
pub struct Cli {
    /// Settings file (default: tenant-kb.toml when present). Variables TENANT_KB_* override it.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API and the /kb page.
    Serve {
        #[arg(long, env = "TENANT_KB_ADDR", default_value = "127.0.0.1:8087")]
        addr: String,
        /// Create the demo tenants, users and documents first (idempotent).
        #[arg(long)]
        demo: bool,
    },
    /// Run ingest workers only (no HTTP): with a shared queue (nats_url), a shared registry and a
    /// Qdrant server, start as many as the load needs.
    Worker,
    /// Check audit chains: every entry's MAC, the order, nothing missing, the head.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Create the demo tenants (acme, globex), their users, keys and documents; print the keys.
    Demo,
    /// Many tenants, a mixed search load over HTTP and a noisy neighbour (a benchmark, not a test).
    Bench(crate::bench::BenchArgs),
    /// Keep a source in sync with a tenant (change-data-capture): creates, updates and deletes
    /// propagate; a round with no changes sends nothing. Runs beside the server, as a client.
    Sync(SyncArgs),
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// The server.
    #[arg(long, env = "TENANT_KB_URL", default_value = "http://127.0.0.1:8087")]
    pub url: String,
    /// A writer's API key (or JWT) of the tenant to fill.
    #[arg(long, env = "TENANT_KB_KEY", hide_env_values = true)]
    pub key: String,
    /// The source's name on the server (default: `folder` or the table name).
    #[arg(long)]
    pub name: Option<String>,
    /// Seconds between rounds (a NOTIFY starts one sooner).
    #[arg(long, default_value_t = 5)]
    pub interval: u64,
    /// One round, then exit.
    #[arg(long)]
    pub once: bool,
    #[command(subcommand)]
    pub source: SyncSource,
}

#[derive(Debug, Subcommand)]
pub enum SyncSource {
    /// A folder of Markdown, text and PDF files (recursive).
    Folder {
        path: PathBuf,
        /// Attributes for every document, `name=value` (repeatable), e.g. `groups=billing`.
        #[arg(long = "attr")]
        attrs: Vec<String>,
    },
    /// A PostgreSQL table or view with columns id, title, body and optionally attributes (jsonb).
    ///
    /// For changes to propagate at once, have the table notify a channel and pass --channel:
    ///   CREATE FUNCTION kb_notify() RETURNS trigger LANGUAGE plpgsql AS
    ///     $$ BEGIN PERFORM pg_notify('kb_docs', TG_TABLE_NAME); RETURN NULL; END $$;
    ///   CREATE TRIGGER kb_notify AFTER INSERT OR UPDATE OR DELETE ON docs
    ///     FOR EACH STATEMENT EXECUTE FUNCTION kb_notify();
    Postgres {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[arg(long)]
        table: String,
        /// LISTEN on this channel.
        #[arg(long)]
        channel: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Verify one tenant's chain, or every tenant's; exits 1 if any is broken.
    Verify {
        #[arg(long)]
        tenant: Option<String>,
    },
}

async fn sync(args: SyncArgs) -> anyhow::Result<()> {
    use crate::connectors::{Client, Folder, PgTable, Source, sync_once, watch};
    let client = Client::new(&args.url, &args.key);
    let mut source: Box<dyn Source> = match args.source {
        SyncSource::Folder { path, attrs } => {
            let mut attributes = crate::policy::Attrs::new();
            for a in attrs {
                let (k, v) = a.split_once('=').with_context(|| format!("--attr {a:?}: expected name=value"))?;
                attributes.entry(k.to_owned()).or_default().push(v.to_owned());
            }
            Box::new(Folder { name: args.name.unwrap_or_else(|| "folder".into()), root: path, attributes })
        }
        SyncSource::Postgres { database_url, table, channel } => {
            let name = args.name.unwrap_or_else(|| table.clone());
            Box::new(PgTable::connect(&name, &database_url, &table, channel.as_deref()).await?)
        }
    };
    if args.once {
        let r = sync_once(&client, source.as_mut()).await?;
        println!("added {}, updated {}, unchanged {}, deleted {}", r.added, r.updated, r.unchanged, r.deleted);
    } else {
        let interval = std::time::Duration::from_secs(args.interval.max(1));
        watch(&client, source.as_mut(), interval, genai_http::shutdown_signal()).await;
    }
    Ok(())
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // A connector is a client of the server: it reads no server configuration.
    let command = match cli.command {
        Command::Sync(args) => return sync(args).await,
        other => other,
    };
    let config: Config = crate::config::LAYERS.load(cli.config.as_deref()).context("loading the configuration")?;
    match command {
        Command::Serve { addr, demo } => {
            let kb = Kb::open(config).await.context("opening the knowledge base")?;
            if demo {
                crate::demo::seed(&kb).await.context("seeding the demo tenants")?;
            }
            let _workers = kb.start_workers();
            let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;
            tracing::info!(addr = %listener.local_addr()?, index = kb.index_backend(), audit = kb.audit_backend(), "tenant-kb serving");
            crate::api::serve(listener, kb, genai_http::shutdown_signal()).await?;
        }
        Command::Audit { action: AuditAction::Verify { tenant } } => {
            let kb = Kb::open(config).await.context("opening the knowledge base")?;
            let tenants = match tenant {
                Some(t) => vec![t],
                None => kb.tenants(&Principal::Platform).await?.into_iter().map(|t| t.id).collect(),
            };
            let mut broken = 0;
            for t in tenants {
                let v = kb.verify_audit(&Principal::Platform, Some(&t)).await?;
                match &v.problem {
                    None => println!("{t}: intact, {} entries", v.entries),
                    Some(p) => {
                        broken += 1;
                        println!("{t}: BROKEN after {} good entries: {p}", v.entries);
                    }
                }
            }
            if broken > 0 {
                anyhow::bail!("{broken} audit chain(s) broken");
            }
        }
        Command::Bench(args) => crate::bench::run(args).await?,
        Command::Worker => {
            if config.nats_url.is_none() || config.qdrant_url.is_none() {
                tracing::warn!("a worker without nats_url and qdrant_url shares neither queue nor index with a server");
            }
            let kb = Kb::open(config).await.context("opening the knowledge base")?;
            let workers = kb.start_workers();
            let queue = if kb.config().nats_url.is_some() { "nats" } else { "registry" };
            tracing::info!(workers = workers.len(), queue, "tenant-kb worker running");
            genai_http::shutdown_signal().await;
            // Production note: a job in hand is abandoned on shutdown and redelivered after its lease.
            workers.iter().for_each(|w| w.abort());
        }
        Command::Sync(args) => sync(args).await?,
        Command::Demo => {
            let kb = Kb::open(config).await.context("opening the knowledge base")?;
            for (who, key) in crate::demo::seed(&kb).await? {
                println!("{who}\t{key}");
            }
        }
    }
    Ok(())
}
