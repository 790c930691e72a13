//! Chain submission (`poa node --rpc`): a task that sends every proved attribution job's proof to
//! `AttributionRewards.submit` through the alloy chain client and records the transaction on the
//! job (state `submitted`, `tx_hash`, `gas_used`, `submitted_at`). The same task fills in each
//! ready model's `verifier_address` from the chain's `ModelRegistry`.
//!
//! A job is claimed in the database before anything is sent (state `submitting`, a lease, one
//! conditional statement), and stays `submitting` across retries, so two submitters — two node
//! processes on one job store — never both send it. A unique index over `nonce` for jobs
//! `submitting`/`submitted` (migration 0002) keeps a second job with the same nonce from being
//! claimed at all; once one is `submitted`, the others are failed without a transaction. Nonces
//! are stored in one spelling (decimal, by the API), so `7` and `0x7` are one nonce. The
//! contract's `AlreadyPaid` stays the last line of defence (another job store).
//!
//! Sending and waiting are apart: the hash of every broadcast transaction is written to the job
//! (`sent_txs`, migration 0003) before the submitter waits for its receipt. A later try — after
//! a receipt that did not come in time, an RPC error or a crash — first asks the chain about the
//! last transaction sent: mined → `submitted` with it; still pending → wait again (no new send);
//! dropped or reverted → look up who settled the request (`Settled` for the nonce): one of
//! this job's transactions → `submitted` with it; another one → `failed`, naming it; nobody →
//! send again. So a lost receipt never turns a paid job into a failure, and a job is sent again
//! only when its last transaction is gone.
//!
//! Failures: an RPC error is retried with exponential backoff up to `--submit-attempts` sends,
//! the last reason in `error`; a revert (`InvalidProof`, `UnknownRequest` …) will revert again,
//! so the job fails at once with the decoded reason.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{TxHash, U256};
use anyhow::Context;
use poa_contracts::chain::{fr_to_u256, instances_to_u256, Chain, Deployment, SubmitStatus};
use poa_contracts::error::ContractsError;
use poa_prover::Proof;
use sqlx::{AssertSqlSafe, Row};
use tokio::sync::watch;

use super::db::{now_ms, Db};
use super::jobs::{self, state};
use super::models;

/// Chain flags of `poa node`.
#[derive(clap::Args, Clone, Debug)]
pub struct ChainArgs {
    /// JSON-RPC URL of a chain to submit proved attribution jobs (those with a nonce) to
    /// `AttributionRewards` on; needs --chain-state and a signing key. Without it the node
    /// submits nothing and jobs stay `proved`.
    #[arg(long, requires = "chain_state")]
    pub rpc: Option<String>,
    /// State file of `poa chain deploy` (`.poa/chain.json`): the rewards contract's and the
    /// model registry's addresses are read from it.
    #[arg(long)]
    pub chain_state: Option<PathBuf>,
    /// File holding the hex private key that signs submissions (else `$POA_PRIVATE_KEY`); it
    /// pays the gas, while the proof's prover address is paid the prover share.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Sends a job gets when RPC errors occur (retried with exponential backoff) before it fails;
    /// a revert fails it at once. Waiting for a transaction already sent is not a send.
    #[arg(long, default_value_t = 5)]
    pub submit_attempts: u32,
    /// Seconds before the first retry; doubled after each failed send, at most 5 minutes.
    #[arg(long, default_value_t = 2)]
    pub submit_backoff_secs: u64,
    /// Seconds to wait for a sent transaction's receipt before giving the job back; the next try
    /// asks the chain about that transaction before sending anything.
    #[arg(long, default_value_t = 120)]
    pub submit_timeout_secs: u64,
}

/// A transaction that carried a proof.
#[derive(Clone, Debug)]
pub struct Submission {
    /// Transaction hash, 0x-hex.
    pub tx_hash: String,
    /// Gas it used.
    pub gas_used: u64,
}

/// Why a chain call failed: whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The contract refused the proof (decoded custom error): it would refuse it again.
    #[error("reverted: {0}")]
    Reverted(String),
    /// The RPC failed (connection, timeout): worth retrying.
    #[error("{0}")]
    Transient(String),
}

/// Where a sent transaction stands.
#[derive(Debug)]
pub enum TxState {
    /// Mined and accepted.
    Mined(Submission),
    /// Mined and reverted.
    Reverted,
    /// Waiting in the node's pool.
    Pending,
    /// Unknown to the node: dropped.
    Unknown,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SubmitError>> + Send + 'a>>;

/// The chain as the submitter uses it.
pub trait ChainSubmitter: Send + Sync {
    /// Broadcasts a `submit` of `proof` (its bytes and public instances); returns the hash.
    fn send<'a>(&'a self, proof: &'a Proof) -> BoxFuture<'a, String>;
    /// What became of sent transaction `tx`.
    fn status<'a>(&'a self, tx: &'a str) -> BoxFuture<'a, TxState>;
    /// The transaction that settled request `nonce`, if any.
    fn settlement(&self, nonce: U256) -> BoxFuture<'_, Option<String>>;
    /// The verifier registered for (`model_id`, `adapter_id`) (public ids, 0x-hex), if any.
    fn registered_verifier<'a>(
        &'a self,
        model_id: &'a str,
        adapter_id: &'a str,
    ) -> BoxFuture<'a, Option<String>>;
}

/// `AttributionRewards` and `ModelRegistry` through the alloy chain client.
pub struct RewardsSubmitter {
    chain: Chain,
    deployment: Deployment,
}

impl RewardsSubmitter {
    /// The submitter `args` describe, or `None` without `--rpc`.
    pub fn from_args(args: &ChainArgs) -> anyhow::Result<Option<Self>> {
        let Some(rpc) = &args.rpc else {
            return Ok(None);
        };
        let state_file = args
            .chain_state
            .as_deref()
            .context("--rpc needs --chain-state <chain.json from `poa chain deploy`>")?;
        let state = crate::commands::chain::read_state(state_file)?;
        let signer = crate::commands::chain::signer(args.key_file.as_deref())?;
        let chain = Chain::connect(rpc, signer)?;
        Ok(Some(Self {
            chain,
            deployment: state.deployment,
        }))
    }

    /// The rewards contract submissions go to.
    pub fn rewards(&self) -> String {
        self.deployment.rewards.to_string()
    }
}

fn chain_error(e: ContractsError) -> SubmitError {
    match e {
        ContractsError::Reverted { reason, .. } => SubmitError::Reverted(reason),
        e => SubmitError::Transient(e.to_string()),
    }
}

fn tx_hash(tx: &str) -> Result<TxHash, SubmitError> {
    tx.parse()
        .map_err(|e| SubmitError::Transient(format!("stored transaction hash `{tx}`: {e}")))
}

impl ChainSubmitter for RewardsSubmitter {
    fn send<'a>(&'a self, proof: &'a Proof) -> BoxFuture<'a, String> {
        Box::pin(async move {
            let instances = instances_to_u256(&proof.instances);
            self.chain
                .send_submit(&self.deployment, &proof.bytes, &instances)
                .await
                .map(|h| h.to_string())
                .map_err(chain_error)
        })
    }

    fn status<'a>(&'a self, tx: &'a str) -> BoxFuture<'a, TxState> {
        Box::pin(async move {
            let status = self
                .chain
                .submit_status(tx_hash(tx)?)
                .await
                .map_err(chain_error)?;
            Ok(match status {
                SubmitStatus::Mined(s) => TxState::Mined(Submission {
                    tx_hash: s.tx_hash.to_string(),
                    gas_used: s.gas,
                }),
                SubmitStatus::Reverted => TxState::Reverted,
                SubmitStatus::Pending => TxState::Pending,
                SubmitStatus::Unknown => TxState::Unknown,
            })
        })
    }

    fn settlement(&self, nonce: U256) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move {
            self.chain
                .settlement(&self.deployment, nonce)
                .await
                .map(|t| t.map(|h| h.to_string()))
                .map_err(chain_error)
        })
    }

    fn registered_verifier<'a>(
        &'a self,
        model_id: &'a str,
        adapter_id: &'a str,
    ) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            let id = |hex: &str| {
                U256::from_str_radix(hex.trim_start_matches("0x"), 16)
                    .map_err(|e| SubmitError::Transient(format!("stored public id `{hex}`: {e}")))
            };
            self.chain
                .registered_model(&self.deployment, id(model_id)?, id(adapter_id)?)
                .await
                .map(|m| m.map(|m| m.verifier.to_string()))
                .map_err(chain_error)
        })
    }
}

/// How the submitter loop retries.
#[derive(Clone, Copy, Debug)]
pub struct SubmitPolicy {
    /// Sends per job before it fails.
    pub max_attempts: i64,
    /// First backoff.
    pub backoff: Duration,
    /// How long one send waits for its receipt.
    pub receipt_timeout: Duration,
    /// Between polls when nothing is ready.
    pub poll: Duration,
}

impl SubmitPolicy {
    /// From `poa node`'s flags.
    pub fn from_args(args: &ChainArgs, poll: Duration) -> Self {
        Self {
            max_attempts: i64::from(args.submit_attempts.max(1)),
            backoff: Duration::from_secs(args.submit_backoff_secs),
            receipt_timeout: Duration::from_secs(args.submit_timeout_secs.max(1)),
            poll,
        }
    }

    /// Wait before the try after `attempts` failed sends: backoff · 2^(attempts-1), ≤ 5 min.
    fn delay(&self, attempts: i64) -> Duration {
        let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
        self.backoff
            .saturating_mul(1u32 << exp)
            .min(Duration::from_secs(300))
    }

    /// The submission claim's lease: longer than a send and its wait, so no other submitter
    /// takes the job meanwhile.
    fn lease(&self) -> Duration {
        self.receipt_timeout
            .saturating_mul(2)
            .max(Duration::from_secs(300))
    }
}

/// Receipt polls while a send waits.
const RECEIPT_POLL: Duration = Duration::from_millis(250);
/// Between refreshes of the models' verifier addresses from the registry.
const VERIFIER_REFRESH: Duration = Duration::from_secs(30);

/// Runs the submitter until `shutdown` turns true; a send in flight is finished first (its hash
/// is recorded, so even a cut-off wait would be picked up again).
pub async fn run(
    db: Db,
    submitter: Arc<dyn ChainSubmitter>,
    policy: SubmitPolicy,
    mut shutdown: watch::Receiver<bool>,
) {
    let owner = format!("submitter-{}", super::keys::random_hex(4));
    tracing::info!(submitter = owner, "chain submitter started");
    let mut verifiers_checked: Option<Instant> = None;
    while !*shutdown.borrow() {
        if verifiers_checked.is_none_or(|t| t.elapsed() >= VERIFIER_REFRESH) {
            verifiers_checked = Some(Instant::now());
            if let Err(e) = refresh_verifiers(&db, &*submitter).await {
                tracing::warn!("reading verifier addresses from the model registry: {e}");
            }
        }
        match refuse_settled_nonces(&db).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(jobs = n, "not submitted: their nonce was already submitted"),
            Err(e) => tracing::warn!("refusing jobs of settled nonces: {e}"),
        }
        let claimed = match claim(&db, &owner, policy.lease()).await {
            Ok(c) => c,
            Err(e) => {
                // Also a second submitter racing for the same nonce (the unique index).
                tracing::warn!(submitter = owner, "claiming a job to submit: {e}");
                None
            }
        };
        match claimed {
            Some(c) => {
                let (outcome, sent) = submit_one(&db, &*submitter, &policy, &owner, &c).await;
                record(&db, &policy, &owner, &c, outcome, sent).await;
            }
            None => {
                tokio::select! {
                    _ = tokio::time::sleep(policy.poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
    tracing::info!(submitter = owner, "chain submitter stopped");
}

/// Sets `verifier_address` of every ready model the registry knows, by its public ids.
async fn refresh_verifiers(db: &Db, submitter: &dyn ChainSubmitter) -> anyhow::Result<()> {
    for (id, model_id, adapter_id) in models::without_verifier(db).await? {
        if let Some(verifier) = submitter
            .registered_verifier(&model_id, &adapter_id)
            .await?
        {
            tracing::info!(model = id, verifier, "model registered on chain");
            models::set_verifier(db, &id, &verifier).await?;
        }
    }
    Ok(())
}

/// A claimed job: what the submitter needs of its row.
struct ClaimedSubmit {
    id: String,
    nonce: String,
    /// Sends before this claim.
    sends: i64,
    /// Transactions sent so far, oldest first.
    sent_txs: Vec<String>,
}

enum Outcome {
    /// On chain: the transaction that carried it.
    Submitted(Submission),
    /// For good.
    Fail(String),
    /// A send failed: try again after the backoff, while sends remain.
    Retry(String),
    /// Nothing to send now (a transaction is pending, or the chain could not be asked): look
    /// again after the first backoff, without counting a send.
    Wait(String),
}

/// One try for a claimed job; returns the outcome and whether a send was made.
async fn submit_one(
    db: &Db,
    submitter: &dyn ChainSubmitter,
    policy: &SubmitPolicy,
    owner: &str,
    c: &ClaimedSubmit,
) -> (Outcome, bool) {
    let id = c.id.as_str();
    let Ok(nonce) = crate::proven::parse_nonce(&c.nonce).map(|n| fr_to_u256(&n)) else {
        return (Outcome::Fail(format!("stored nonce `{}`", c.nonce)), false);
    };
    // 1. An earlier send: what became of it decides whether to send at all.
    if let Some(last) = c.sent_txs.last() {
        match submitter.status(last).await {
            Ok(TxState::Mined(s)) => return (Outcome::Submitted(s), false),
            Ok(TxState::Pending) => {
                return (
                    Outcome::Wait(format!("waiting for transaction {last} to be mined")),
                    false,
                )
            }
            Ok(TxState::Reverted | TxState::Unknown) => {
                match settled(submitter, nonce, &c.sent_txs).await {
                    Ok(Some(o)) => return (o, false),
                    Ok(None) => {
                        tracing::info!(job = id, tx = last, "sending again: {last} is gone")
                    }
                    Err(e) => return (Outcome::Wait(e.to_string()), false),
                }
            }
            Err(e) => return (Outcome::Wait(format!("asking about {last}: {e}")), false),
        }
    }
    // 2. Send.
    tracing::info!(job = id, send = c.sends + 1, "submitting to the chain");
    let proof = match jobs::proof(db, id).await {
        Ok(Some(p)) => match Proof::from_json(&p.proof) {
            Ok(p) => p,
            Err(e) => return (Outcome::Fail(format!("the stored proof: {e}")), false),
        },
        Ok(None) => {
            return (
                Outcome::Fail("a proved job without a proof row".into()),
                false,
            )
        }
        Err(e) => return (Outcome::Wait(format!("reading the proof: {e}")), false),
    };
    let tx = match submitter.send(&proof).await {
        Ok(tx) => tx,
        Err(SubmitError::Reverted(r)) if r.contains("AlreadyPaid") => {
            return match settled(submitter, nonce, &c.sent_txs).await {
                Ok(Some(o)) => (o, true),
                _ => (
                    Outcome::Fail(format!("chain submission reverted: {r}")),
                    true,
                ),
            }
        }
        Err(SubmitError::Reverted(r)) => {
            return (
                Outcome::Fail(format!("chain submission reverted: {r}")),
                true,
            )
        }
        Err(SubmitError::Transient(r)) => return (Outcome::Retry(r), true),
    };
    // Recorded before waiting: whatever happens next, a later try finds this transaction. A
    // resend after a drop is often the very same signed transaction (same account nonce and
    // fees): recorded once.
    let mut sent_txs = c.sent_txs.clone();
    if !sent_txs.contains(&tx) {
        match record_sent(db, id, owner, &tx).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(job = id, tx, "the submission claim was lost while sending")
            }
            Err(e) => tracing::warn!(job = id, tx, "recording sent transaction: {e}"),
        }
        sent_txs.push(tx.clone());
    }
    (
        wait_mined(submitter, policy, nonce, &tx, &sent_txs).await,
        true,
    )
}

/// Polls `tx` until it is mined or the receipt timeout passes.
async fn wait_mined(
    submitter: &dyn ChainSubmitter,
    policy: &SubmitPolicy,
    nonce: U256,
    tx: &str,
    sent_txs: &[String],
) -> Outcome {
    let deadline = Instant::now() + policy.receipt_timeout;
    let mut last_error = None;
    while Instant::now() < deadline {
        match submitter.status(tx).await {
            Ok(TxState::Mined(s)) => return Outcome::Submitted(s),
            Ok(TxState::Reverted) => {
                return match settled(submitter, nonce, sent_txs).await {
                    Ok(Some(o)) => o,
                    Ok(None) => Outcome::Fail(format!("transaction {tx} reverted on chain")),
                    Err(e) => Outcome::Wait(e.to_string()),
                }
            }
            Ok(TxState::Pending | TxState::Unknown) => {}
            Err(e) => last_error = Some(e.to_string()),
        }
        tokio::time::sleep(RECEIPT_POLL).await;
    }
    Outcome::Wait(format!(
        "no receipt for transaction {tx} within {:?}{}",
        policy.receipt_timeout,
        last_error
            .map(|e| format!(" (last error: {e})"))
            .unwrap_or_default()
    ))
}

/// Who settled request `nonce`: one of `sent_txs` → submitted with it; another transaction →
/// failed naming it; nobody → `None`.
async fn settled(
    submitter: &dyn ChainSubmitter,
    nonce: U256,
    sent_txs: &[String],
) -> Result<Option<Outcome>, SubmitError> {
    let Some(by) = submitter.settlement(nonce).await? else {
        return Ok(None);
    };
    if !sent_txs.iter().any(|t| t.eq_ignore_ascii_case(&by)) {
        return Ok(Some(Outcome::Fail(format!(
            "request {nonce} was settled on chain by transaction {by}, which this job did not send"
        ))));
    }
    match submitter.status(&by).await? {
        TxState::Mined(s) => Ok(Some(Outcome::Submitted(s))),
        other => Err(SubmitError::Transient(format!(
            "settling transaction {by} is {other:?}"
        ))),
    }
}

async fn record(
    db: &Db,
    policy: &SubmitPolicy,
    owner: &str,
    c: &ClaimedSubmit,
    outcome: Outcome,
    sent: bool,
) {
    let id = c.id.as_str();
    let sends = c.sends + i64::from(sent);
    let done = match &outcome {
        Outcome::Submitted(s) => {
            tracing::info!(
                job = id,
                tx = s.tx_hash,
                gas = s.gas_used,
                "submitted to the chain"
            );
            mark_submitted(db, id, owner, s, sends).await
        }
        Outcome::Fail(reason) => {
            tracing::warn!(job = id, "chain submission failed for good: {reason}");
            release(db, id, owner, state::FAILED, reason, None, sends).await
        }
        Outcome::Retry(reason) if sends >= policy.max_attempts => {
            let reason = format!(
                "chain submission failed on each of its {sends} sends; last error: {reason}"
            );
            tracing::warn!(job = id, "{reason}");
            release(db, id, owner, state::FAILED, &reason, None, sends).await
        }
        Outcome::Retry(reason) => {
            let wait = policy.delay(sends);
            let reason = format!(
                "chain submission send {sends} of {} failed, retrying in {wait:?}: {reason}",
                policy.max_attempts
            );
            requeue(db, id, owner, &reason, wait, sends).await
        }
        Outcome::Wait(reason) => requeue(db, id, owner, reason, policy.delay(1), sends).await,
    };
    match done {
        Ok(true) => {}
        Ok(false) => tracing::warn!(job = id, "the submission claim was lost before recording"),
        Err(e) => tracing::warn!(job = id, "recording the submission: {e}"),
    }
}

/// Gives the claim back for a later try, `wait` from now, with `reason` in `error`.
async fn requeue(
    db: &Db,
    id: &str,
    owner: &str,
    reason: &str,
    wait: Duration,
    sends: i64,
) -> Result<bool, sqlx::Error> {
    tracing::warn!(job = id, "{reason}");
    let next = now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
    release(db, id, owner, state::SUBMITTING, reason, Some(next), sends).await
}

/// Claims the oldest job ready to send for `owner`: a proved attribution job whose nonce no
/// other job is submitting or has submitted, or one of ours waiting for its retry time, or one
/// whose submitter died (lease over). One statement, so two submitters cannot both claim it.
async fn claim(
    db: &Db,
    owner: &str,
    lease: Duration,
) -> Result<Option<ClaimedSubmit>, sqlx::Error> {
    let now = now_ms();
    let lease = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
    // Only the backend's lock clause is spliced in; every value is bound.
    let sql = format!(
        "UPDATE jobs SET state = $1, submit_owner = $2, submit_until = $3, updated_at = $4 \
         WHERE id = (SELECT id FROM jobs j \
             WHERE j.attributed = 1 AND j.nonce IS NOT NULL AND ( \
                 (j.state = $5 AND NOT EXISTS (SELECT 1 FROM jobs o \
                     WHERE o.nonce = j.nonce AND o.state IN ($1, $6))) \
                 OR (j.state = $1 AND ((j.submit_owner IS NULL AND COALESCE(j.next_submit_at, 0) <= $4) \
                     OR j.submit_until < $4))) \
             ORDER BY j.created_at, j.id LIMIT 1 {lock}) \
         RETURNING id, nonce, submit_attempts, sent_txs",
        lock = db.skip_locked()
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(state::SUBMITTING)
        .bind(owner)
        .bind(now + lease)
        .bind(now)
        .bind(state::PROVED)
        .bind(state::SUBMITTED)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| {
        Ok(ClaimedSubmit {
            id: r.try_get("id")?,
            nonce: r.try_get("nonce")?,
            sends: r.try_get("submit_attempts")?,
            sent_txs: jobs::sent_txs(r.try_get("sent_txs")?),
        })
    })
    .transpose()
}

/// Fails proved jobs whose nonce another job already submitted: the contract pays a nonce once,
/// so sending would only spend gas on an `AlreadyPaid` revert.
async fn refuse_settled_nonces(db: &Db) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET state = $1, updated_at = $2, \
         error = 'not submitted: nonce ' || nonce || ' was already submitted to the chain by job ' \
             || (SELECT o.id FROM jobs o WHERE o.nonce = jobs.nonce AND o.state = $3 LIMIT 1) \
         WHERE state = $4 AND attributed = 1 AND EXISTS \
             (SELECT 1 FROM jobs o WHERE o.nonce = jobs.nonce AND o.state = $3)",
    )
    .bind(state::FAILED)
    .bind(now_ms())
    .bind(state::SUBMITTED)
    .bind(state::PROVED)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected())
}

/// Appends `tx` to the job's sent transactions while `owner`'s claim holds.
async fn record_sent(db: &Db, id: &str, owner: &str, tx: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET sent_txs = COALESCE(sent_txs || ' ', '') || $1, updated_at = $2 \
         WHERE id = $3 AND submit_owner = $4 AND state = $5",
    )
    .bind(tx)
    .bind(now_ms())
    .bind(id)
    .bind(owner)
    .bind(state::SUBMITTING)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends `owner`'s claim: `to` (`failed`, or `submitting` again with a retry time) with `reason`
/// and the job's send count.
async fn release(
    db: &Db,
    id: &str,
    owner: &str,
    to: &str,
    reason: &str,
    next: Option<i64>,
    sends: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET state = $1, error = $2, next_submit_at = $3, submit_owner = NULL, \
         submit_until = NULL, updated_at = $4, submit_attempts = $5 \
         WHERE id = $6 AND submit_owner = $7 AND state = $8",
    )
    .bind(to)
    .bind(reason)
    .bind(next)
    .bind(now_ms())
    .bind(sends)
    .bind(id)
    .bind(owner)
    .bind(state::SUBMITTING)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records the transaction that carried job `job_id`'s proof, while `owner`'s claim holds.
async fn mark_submitted(
    db: &Db,
    job_id: &str,
    owner: &str,
    s: &Submission,
    sends: i64,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE jobs SET state = $1, tx_hash = $2, gas_used = $3, submitted_at = $4, \
         updated_at = $4, error = NULL, submit_owner = NULL, submit_until = NULL, \
         submit_attempts = $5 WHERE id = $6 AND submit_owner = $7 AND state = $8",
    )
    .bind(state::SUBMITTED)
    .bind(&s.tx_hash)
    .bind(i64::try_from(s.gas_used).unwrap_or(i64::MAX))
    .bind(now)
    .bind(sends)
    .bind(job_id)
    .bind(owner)
    .bind(state::SUBMITTING)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = SubmitPolicy {
            max_attempts: 5,
            backoff: Duration::from_secs(2),
            receipt_timeout: Duration::from_secs(120),
            poll: Duration::from_millis(200),
        };
        assert_eq!(p.delay(1), Duration::from_secs(2));
        assert_eq!(p.delay(2), Duration::from_secs(4));
        assert_eq!(p.delay(4), Duration::from_secs(16));
        assert_eq!(p.delay(40), Duration::from_secs(300));
    }
}
