//! The prover-node worker loop: claim a job with a lease, keep the lease alive while proving
//! (through `poa prove`'s functions, keys cached per model), store the proof and mark the job
//! proved in one transaction. Used by `poa prover` and embedded in `poa node`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use poa_circuits::Request;
use poa_runtime::datanet::Address;
use tokio::sync::{watch, Mutex};

use super::db::Db;
use super::jobs::{self, Claimed};
use super::models;
use crate::commands::prove::{prove_sample, LoadedKeys};
use crate::proven::parse_nonce;

/// Worker flags shared by `poa node` and `poa prover`.
#[derive(clap::Args, Clone, Debug)]
pub struct WorkerArgs {
    /// Jobs proved at once by this process (`poa node`: 0 runs no embedded worker).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Seconds a claim lasts without renewal; a worker renews every third of it, so a job whose
    /// worker died is claimable again after at most this long.
    #[arg(long, default_value_t = 30)]
    pub lease_secs: u64,
    /// Address paid for proving, bound into attribution proofs; without it this worker only
    /// claims inference-only jobs.
    #[arg(long)]
    pub prover_address: Option<Address>,
    /// Where model keys are unpacked from the job store [default: <data-dir>/cache or
    /// .poa/prover-cache].
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Seconds to wait for jobs in flight after SIGTERM/Ctrl-C before giving their leases back.
    #[arg(long, default_value_t = 60)]
    pub grace_secs: u64,
    /// Milliseconds between polls of an empty queue.
    #[arg(long, default_value_t = 200)]
    pub poll_ms: u64,
}

/// Proving keys loaded once per model, shared by the workers of a process.
pub struct KeyCache {
    dir: PathBuf,
    loaded: Mutex<HashMap<String, Arc<ModelKeys>>>,
}

/// One model's keys and the proving time last seen (for the progress estimate).
pub struct ModelKeys {
    keys: LoadedKeys,
    last_prove_ms: std::sync::Mutex<Option<f64>>,
}

impl KeyCache {
    /// A cache unpacking models under `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// Model `id`'s keys: loaded from the job store on first use, then from memory.
    async fn get(&self, db: &Db, id: &str) -> anyhow::Result<Arc<ModelKeys>> {
        // Held across the load on purpose: two workers wanting the same model load it once.
        let mut loaded = self.loaded.lock().await;
        if let Some(k) = loaded.get(id) {
            return Ok(k.clone());
        }
        let dir = self.dir.join(id);
        models::materialize(db, id, &dir).await?;
        let keys = tokio::task::spawn_blocking(move || LoadedKeys::load(&dir, None)).await??;
        if keys.pk.is_insecure() {
            tracing::warn!(model = id, "{}", crate::artifacts::INSECURE_WARNING);
        }
        tracing::info!(model = id, load_ms = keys.load_ms, "proving key loaded");
        let k = Arc::new(ModelKeys {
            keys,
            last_prove_ms: std::sync::Mutex::new(None),
        });
        loaded.insert(id.to_string(), k.clone());
        Ok(k)
    }
}

/// Runs `args.workers` worker loops until `shutdown` turns true, then waits for jobs in flight
/// (up to `grace_secs`) and gives back the leases of those still running.
pub async fn run(db: Db, args: WorkerArgs, cache: Arc<KeyCache>, shutdown: watch::Receiver<bool>) {
    let node = super::keys::random_hex(4);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..args.workers {
        let owner = format!("{}-{node}-{i}", hostname());
        tasks.spawn(worker_loop(
            db.clone(),
            args.clone(),
            cache.clone(),
            owner,
            shutdown.clone(),
        ));
    }
    while tasks.join_next().await.is_some() {}
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "prover".into())
}

async fn worker_loop(
    db: Db,
    args: WorkerArgs,
    cache: Arc<KeyCache>,
    owner: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let lease_ms = i64::try_from(args.lease_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let poll = Duration::from_millis(args.poll_ms);
    tracing::info!(worker = owner, "worker started");
    while !*shutdown.borrow() {
        if let Err(e) = jobs::fail_expired(&db).await {
            tracing::warn!(worker = owner, "sweeping expired leases: {e}");
        }
        let claimed = match jobs::claim(&db, &owner, lease_ms, args.prover_address.is_some()).await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(worker = owner, "claiming a job: {e}");
                None
            }
        };
        match claimed {
            Some(c) => prove_one(&db, &args, &cache, c, lease_ms, &mut shutdown).await,
            None => {
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
    tracing::info!(worker = owner, "worker stopped");
}

/// Progress percent while proving: stages, and within the proof an estimate from the model's
/// last proving time (the prover reports no progress of its own).
fn progress(started: Instant, estimate_ms: Option<f64>) -> i64 {
    match estimate_ms {
        Some(e) if e > 0.0 => {
            let f = (started.elapsed().as_secs_f64() * 1000.0 / e).min(0.99);
            20 + (f * 70.0) as i64
        }
        _ => 20,
    }
}

async fn prove_one(
    db: &Db,
    args: &WorkerArgs,
    cache: &KeyCache,
    c: Claimed,
    lease_ms: i64,
    shutdown: &mut watch::Receiver<bool>,
) {
    let id = c.job.id.clone();
    tracing::info!(
        job = id,
        worker = c.owner,
        attempt = c.job.attempts,
        "proving"
    );
    let keys = match cache.get(db, &c.job.model_id).await {
        Ok(k) => k,
        Err(e) => return record_failure(db, &c, &format!("loading the model's keys: {e:#}")).await,
    };
    let request = match request_of(&c, args.prover_address) {
        Ok(r) => r,
        Err(e) => return record_failure(db, &c, &format!("{e:#}")).await,
    };
    let _ = jobs::renew(db, &c, lease_ms, 10).await;
    let input: Vec<f32> = match serde_json::from_str(&c.job.input) {
        Ok(x) => x,
        Err(e) => return record_failure(db, &c, &format!("stored input: {e}")).await,
    };
    let estimate = keys.last_prove_ms.lock().ok().and_then(|g| *g);
    let started = Instant::now();
    let k = keys.clone();
    let mut task = tokio::task::spawn_blocking(move || prove_sample(&k.keys, &input, request));
    let mut tick = tokio::time::interval(Duration::from_millis((lease_ms / 3).max(100) as u64));
    tick.tick().await;
    let grace = Duration::from_secs(args.grace_secs);
    let mut deadline: Option<Instant> = None;
    let result = loop {
        tokio::select! {
            r = &mut task => break r,
            _ = tick.tick() => {
                match jobs::renew(db, &c, lease_ms, progress(started, estimate)).await {
                    Ok(true) => {}
                    Ok(false) => {
                        // Our lease expired and another worker took the job: its proof counts.
                        tracing::warn!(job = id, "lease lost while proving; dropping this attempt");
                        return;
                    }
                    Err(e) => tracing::warn!(job = id, "renewing the lease: {e}"),
                }
                if deadline.is_some_and(|d| Instant::now() > d) {
                    tracing::warn!(job = id, "grace period over; giving the job back");
                    let _ = jobs::release(db, &c).await;
                    return;
                }
            }
            _ = shutdown.changed(), if deadline.is_none() => {
                tracing::info!(job = id, "shutting down: finishing the job in flight");
                deadline = Some(Instant::now() + grace);
            }
        }
    };
    let proven = match result {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return record_failure(db, &c, &format!("proving: {e:#}")).await,
        Err(e) => return record_failure(db, &c, &format!("the proving task died: {e}")).await,
    };
    if let Ok(mut g) = keys.last_prove_ms.lock() {
        *g = Some(proven.prove_ms);
    }
    match jobs::complete(db, &c, &proven.proof.to_json(), proven.prove_ms).await {
        Ok(true) => {
            tracing::info!(job = id, prove_ms = proven.prove_ms, "proved");
        }
        Ok(false) => tracing::warn!(job = id, "lease lost before storing; proof dropped"),
        Err(e) => {
            tracing::warn!(job = id, "storing the proof: {e}");
            let _ = jobs::fail_attempt(db, &c, &format!("storing the proof: {e}")).await;
        }
    }
}

/// The request an attribution proof answers: the job's nonce, this worker's address.
fn request_of(c: &Claimed, prover: Option<Address>) -> anyhow::Result<Option<Request>> {
    if !c.job.attributed {
        return Ok(None);
    }
    let nonce = c
        .job
        .nonce
        .as_deref()
        .context("attribution job without a nonce")?;
    let nonce = parse_nonce(nonce).map_err(anyhow::Error::msg)?;
    let prover = prover.context("this worker has no --prover-address")?;
    Ok(Some(Request { nonce, prover }))
}

async fn record_failure(db: &Db, c: &Claimed, reason: &str) {
    tracing::warn!(
        job = c.job.id,
        attempt = c.job.attempts,
        "attempt failed: {reason}"
    );
    if let Err(e) = jobs::fail_attempt(db, c, reason).await {
        tracing::warn!(job = c.job.id, "recording the failure: {e}");
    }
}
