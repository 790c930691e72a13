//! `poa prover`: a prover node — worker loops on the job store, no HTTP. Run several on several
//! machines against one PostgreSQL job store; each job is proved once.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

use crate::node::db::Db;
use crate::node::worker::{self, KeyCache, WorkerArgs};
use crate::node::{runtime, shutdown_signal};

/// Arguments of `poa prover`.
#[derive(clap::Args)]
pub struct Args {
    /// Job store URL (the node's): sqlite://<file> or postgres://user@host:port/db.
    #[arg(long)]
    pub db: String,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

/// Runs `poa prover` until SIGTERM/Ctrl-C, then finishes (or gives back) the jobs in flight.
pub fn run(args: &Args) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let connections = u32::try_from(args.worker.workers.saturating_mul(2).max(2)).unwrap_or(8);
        let db = Db::connect(&args.db, connections).await?;
        let cache_dir = args
            .worker
            .cache_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(".poa/prover-cache"));
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = tx.send(true);
        });
        println!("poa prover started ({} workers)", args.worker.workers);
        worker::run(
            db,
            args.worker.clone(),
            Arc::new(KeyCache::new(cache_dir)),
            rx,
        )
        .await;
        anyhow::Ok(())
    })
}
