//! The command line: `serve`, `audit verify`, `demo`.

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
    /// Check audit chains: every entry's MAC, the order, nothing missing, the head.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Create the demo tenants (acme, globex), their users, keys and documents; print the keys.
    Demo,
    /// Many tenants, a mixed search load over HTTP and a noisy neighbour (a benchmark, not a test).
    Bench(crate::bench::BenchArgs),
}

#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Verify one tenant's chain, or every tenant's; exits 1 if any is broken.
    Verify {
        #[arg(long)]
        tenant: Option<String>,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config: Config = crate::config::LAYERS.load(cli.config.as_deref()).context("loading the configuration")?;
    match cli.command {
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
        Command::Demo => {
            let kb = Kb::open(config).await.context("opening the knowledge base")?;
            for (who, key) in crate::demo::seed(&kb).await? {
                println!("{who}\t{key}");
            }
        }
    }
    Ok(())
}
