//! `poa node`: the REST API over the job store, with an embedded prover worker by default;
//! `poa node keys create`: an API key for the mutating routes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use poa_runtime::datanet::FileStore;
use serde::Serialize;
use tokio::sync::watch;

use crate::node::api::{self, AppState, Limits};
use crate::node::chain::{self, ChainArgs, RewardsSubmitter, SubmitPolicy};
use crate::node::db::Db;
use crate::node::models::{self, SrsChoice};
use crate::node::worker::{self, KeyCache, WorkerArgs};
use crate::node::{keys, runtime, shutdown_signal};
use crate::output::Output;

/// The default job store: an SQLite file, created on first use.
pub const DEFAULT_DB: &str = "sqlite://.poa/node.db";

/// Arguments of `poa node`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    /// Job store: sqlite://<file> (embedded) or postgres://user@host:port/db (several machines).
    #[arg(long, default_value = DEFAULT_DB)]
    pub db: String,
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Node data: compiled model folders, the datanet store, the embedded worker's key cache.
    #[arg(long, default_value = ".poa/node")]
    pub data_dir: PathBuf,
    /// Set models up with a ceremony SRS file (raw halo2 KZG params).
    #[arg(long, conflicts_with = "dev_srs")]
    pub srs: Option<PathBuf>,
    /// Set models up with the INSECURE seed-generated SRS (tests and demos only).
    #[arg(long)]
    pub dev_srs: bool,
    /// Largest request body in bytes (jobs, datanets).
    #[arg(long, default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Largest model upload in bytes (base64 ONNX + calibration JSON).
    #[arg(long, default_value_t = 64 << 20)]
    pub max_model_bytes: usize,
    /// Attempts a job gets (claims by workers) before it fails for good.
    #[arg(long, default_value_t = 3)]
    pub max_attempts: u32,
    /// Database connections.
    #[arg(long, default_value_t = 8)]
    pub db_connections: u32,
    #[command(flatten)]
    pub worker: WorkerArgs,
    #[command(flatten)]
    pub chain: ChainArgs,
}

/// `poa node` subcommands.
#[derive(Subcommand)]
pub enum Cmd {
    /// API keys for the mutating routes.
    Keys {
        #[command(subcommand)]
        command: KeysCmd,
    },
}

/// `poa node keys` subcommands.
#[derive(Subcommand)]
pub enum KeysCmd {
    /// Create an API key; it is printed once (only its SHA-256 is stored).
    Create {
        /// Job store URL.
        #[arg(long, default_value = DEFAULT_DB)]
        db: String,
        /// A name for the key (who holds it).
        #[arg(long, default_value = "default")]
        name: String,
    },
}

#[derive(Serialize)]
struct CreatedKey {
    id: String,
    name: String,
    key: String,
}

/// Runs `poa node …`.
pub fn run(args: &Args, out: &Output) -> anyhow::Result<()> {
    let rt = runtime()?;
    match &args.command {
        Some(Cmd::Keys {
            command: KeysCmd::Create { db, name },
        }) => {
            let k = rt.block_on(async {
                let db = Db::connect(db, 1).await?;
                anyhow::Ok(keys::create(&db, name).await?)
            })?;
            let r = CreatedKey {
                id: k.id,
                name: name.clone(),
                key: k.secret,
            };
            out.result(&r, || {
                format!(
                    "API key {} ({}) created; it is shown only now:\n{}",
                    r.id, r.name, r.key
                )
            })
        }
        None => rt.block_on(serve(args)),
    }
}

async fn serve(args: &Args) -> anyhow::Result<()> {
    let srs = match (&args.srs, args.dev_srs) {
        (Some(p), _) => SrsChoice::Ceremony(p.clone()),
        (None, true) => SrsChoice::Dev,
        (None, false) => anyhow::bail!(
            "pass --srs <ceremony file> (or --dev-srs, INSECURE, for tests and demos): models are set up with it"
        ),
    };
    // Before binding: a bad key or state file stops the node instead of leaving jobs unsent.
    let submitter = RewardsSubmitter::from_args(&args.chain)?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let db = Db::connect(&args.db, args.db_connections).await?;
    let state = AppState {
        db: db.clone(),
        data_dir: args.data_dir.clone(),
        srs,
        max_attempts: i64::from(args.max_attempts.max(1)),
        datanets: Arc::new(std::sync::Mutex::new(FileStore::new(
            args.data_dir.join("datanets"),
        ))),
    };
    // A node stopped mid-setup left models `compiling`: their source is stored, so resume.
    for id in models::unfinished(&db).await? {
        tracing::info!(model = id, "resuming model setup");
        api::models::spawn_build(&state, id);
    }
    let app = api::router(
        state,
        Limits {
            body: args.max_body_bytes,
            model_body: args.max_model_bytes,
        },
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // The first stdout line: scripts and tests started with port 0 read the address from it.
    println!("poa node listening on http://{addr}");
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = tx.send(true);
    });
    let mut server_rx = rx.clone();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = server_rx.wait_for(|s| *s).await;
    });
    let cache_dir = args
        .worker
        .cache_dir
        .clone()
        .unwrap_or_else(|| args.data_dir.join("cache"));
    let policy = SubmitPolicy::from_args(&args.chain, Duration::from_millis(args.worker.poll_ms));
    let (submit_db, submit_rx) = (db.clone(), rx.clone());
    let submitting = async move {
        if let Some(s) = submitter {
            tracing::info!(
                rewards = s.rewards(),
                "submitting proved attribution jobs to the chain"
            );
            chain::run(submit_db, Arc::new(s), policy, submit_rx).await;
        }
    };
    let workers = worker::run(
        db,
        args.worker.clone(),
        Arc::new(KeyCache::new(cache_dir)),
        rx,
    );
    let (served, (), ()) = tokio::join!(server, workers, submitting);
    served.context("serving HTTP")?;
    Ok(())
}
