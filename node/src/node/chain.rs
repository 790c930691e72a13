//! Chain submission (`poa node --rpc`): a task that sends every proved attribution job's proof to
//! `AttributionRewards.submit` through the alloy chain client and records the transaction on the
//! job (state `submitted`, `tx_hash`, `gas_used`, `submitted_at`).
//!
//! A job is claimed in the database before anything is sent (state `submitting`, a lease, one
//! conditional statement), and stays `submitting` across retries, so two submitters — two node
//! processes on one job store — never both send it. A unique index over `nonce` for jobs
//! `submitting`/`submitted` (migration 0002) keeps a second job with the same nonce from being
//! claimed at all; once one is `submitted`, the others are failed without a transaction. The
//! contract's `AlreadyPaid` stays the last line of defence (nonces written differently, another
//! job store).
//!
//! Failures: an RPC error (connection, timeout, receipt) is retried with exponential backoff up
//! to `--submit-attempts` sends, the last reason in `error`; a revert (`AlreadyPaid`,
//! `InvalidProof`, `UnknownRequest` …) will revert again, so the job fails at once with the
//! decoded reason.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poa_contracts::chain::{instances_to_u256, Chain, Deployment};
use poa_contracts::error::ContractsError;
use poa_prover::Proof;
use sqlx::{AssertSqlSafe, Row};
use tokio::sync::watch;

use super::db::{now_ms, Db};
use super::jobs::{self, state};

/// Chain flags of `poa node`.
#[derive(clap::Args, Clone, Debug)]
pub struct ChainArgs {
    /// JSON-RPC URL of a chain to submit proved attribution jobs (those with a nonce) to
    /// `AttributionRewards` on; needs --chain-state and a signing key. Without it the node
    /// submits nothing and jobs stay `proved`.
    #[arg(long, requires = "chain_state")]
    pub rpc: Option<String>,
    /// State file of `poa chain deploy` (`.poa/chain.json`): the rewards contract's address is
    /// read from it.
    #[arg(long)]
    pub chain_state: Option<PathBuf>,
    /// File holding the hex private key that signs submissions (else `$POA_PRIVATE_KEY`); it
    /// pays the gas, while the proof's prover address is paid the prover share.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Sends a job gets when RPC errors occur (retried with exponential backoff) before it fails;
    /// a revert fails it at once.
    #[arg(long, default_value_t = 5)]
    pub submit_attempts: u32,
    /// Seconds before the first retry; doubled after each failed send, at most 5 minutes.
    #[arg(long, default_value_t = 2)]
    pub submit_backoff_secs: u64,
}

/// A transaction that carried a proof.
pub struct Submission {
    /// Transaction hash, 0x-hex.
    pub tx_hash: String,
    /// Gas it used.
    pub gas_used: u64,
}

/// Why a send failed: whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The contract refused the proof (decoded custom error): it would refuse it again.
    #[error("reverted: {0}")]
    Reverted(String),
    /// The RPC failed (connection, timeout, receipt): worth retrying.
    #[error("{0}")]
    Transient(String),
}

/// Sends a proved job's proof to the reward contract.
pub trait ChainSubmitter: Send + Sync {
    /// Submits `proof` (its bytes and public instances).
    fn submit<'a>(
        &'a self,
        proof: &'a Proof,
    ) -> Pin<Box<dyn Future<Output = Result<Submission, SubmitError>> + Send + 'a>>;
}

/// `AttributionRewards.submit` through the alloy chain client.
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

impl ChainSubmitter for RewardsSubmitter {
    fn submit<'a>(
        &'a self,
        proof: &'a Proof,
    ) -> Pin<Box<dyn Future<Output = Result<Submission, SubmitError>> + Send + 'a>> {
        Box::pin(async move {
            let instances = instances_to_u256(&proof.instances);
            match self
                .chain
                .submit(&self.deployment, &proof.bytes, &instances)
                .await
            {
                Ok(s) => Ok(Submission {
                    tx_hash: s.tx_hash.to_string(),
                    gas_used: s.gas,
                }),
                Err(ContractsError::Reverted { reason, .. }) => Err(SubmitError::Reverted(reason)),
                Err(e) => Err(SubmitError::Transient(e.to_string())),
            }
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
    /// Milliseconds between polls when nothing is ready.
    pub poll: Duration,
}

impl SubmitPolicy {
    /// From `poa node`'s flags.
    pub fn from_args(args: &ChainArgs, poll: Duration) -> Self {
        Self {
            max_attempts: i64::from(args.submit_attempts.max(1)),
            backoff: Duration::from_secs(args.submit_backoff_secs),
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
}

/// How long one send may take (signing, sending, waiting for the receipt) before it counts as a
/// transient failure; the claim's lease is longer, so no other submitter takes the job meanwhile.
const SEND_TIMEOUT: Duration = Duration::from_secs(120);
const LEASE: Duration = Duration::from_secs(300);

/// Runs the submitter until `shutdown` turns true; a send in flight is finished first (cutting
/// it off after broadcasting would only make the retry revert with `AlreadyPaid`).
pub async fn run(
    db: Db,
    submitter: Arc<dyn ChainSubmitter>,
    policy: SubmitPolicy,
    mut shutdown: watch::Receiver<bool>,
) {
    let owner = format!("submitter-{}", super::keys::random_hex(4));
    tracing::info!(submitter = owner, "chain submitter started");
    while !*shutdown.borrow() {
        match refuse_settled_nonces(&db).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(jobs = n, "not submitted: their nonce was already submitted"),
            Err(e) => tracing::warn!("refusing jobs of settled nonces: {e}"),
        }
        let claimed = match claim(&db, &owner).await {
            Ok(c) => c,
            Err(e) => {
                // Also a second submitter racing for the same nonce (the unique index).
                tracing::warn!(submitter = owner, "claiming a job to submit: {e}");
                None
            }
        };
        match claimed {
            Some((id, attempt)) => {
                submit_one(&db, &*submitter, &policy, &owner, &id, attempt).await
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

async fn submit_one(
    db: &Db,
    submitter: &dyn ChainSubmitter,
    policy: &SubmitPolicy,
    owner: &str,
    id: &str,
    attempt: i64,
) {
    tracing::info!(job = id, attempt, "submitting to the chain");
    let proof = match jobs::proof(db, id).await {
        Ok(Some(p)) => Proof::from_json(&p.proof).map_err(|e| format!("the stored proof: {e}")),
        Ok(None) => Err("a proved job without a proof row".to_string()),
        Err(e) => {
            // The database, not the job: give the claim back for a later try.
            return record(
                db,
                policy,
                owner,
                id,
                attempt,
                Outcome::Retry(e.to_string()),
            )
            .await;
        }
    };
    let outcome = match proof {
        Err(e) => Outcome::Fail(e),
        Ok(proof) => match tokio::time::timeout(SEND_TIMEOUT, submitter.submit(&proof)).await {
            Ok(Ok(s)) => Outcome::Sent(s),
            Ok(Err(SubmitError::Reverted(r))) if attempt > 1 && r.contains("AlreadyPaid") => {
                Outcome::Fail(format!(
                    "chain submission reverted: {r} (an earlier send of this job may be the \
                     transaction that settled it)"
                ))
            }
            Ok(Err(SubmitError::Reverted(r))) => {
                Outcome::Fail(format!("chain submission reverted: {r}"))
            }
            Ok(Err(SubmitError::Transient(r))) => Outcome::Retry(r),
            Err(_) => Outcome::Retry(format!("no receipt within {SEND_TIMEOUT:?}")),
        },
    };
    record(db, policy, owner, id, attempt, outcome).await;
}

enum Outcome {
    Sent(Submission),
    Fail(String),
    Retry(String),
}

async fn record(
    db: &Db,
    policy: &SubmitPolicy,
    owner: &str,
    id: &str,
    attempt: i64,
    outcome: Outcome,
) {
    let done = match &outcome {
        Outcome::Sent(s) => {
            tracing::info!(
                job = id,
                tx = s.tx_hash,
                gas = s.gas_used,
                "submitted to the chain"
            );
            mark_submitted(db, id, owner, s).await
        }
        Outcome::Fail(reason) => {
            tracing::warn!(job = id, "chain submission failed for good: {reason}");
            release(db, id, owner, state::FAILED, reason, None).await
        }
        Outcome::Retry(reason) if attempt >= policy.max_attempts => {
            let reason = format!(
                "chain submission failed on each of its {attempt} sends; last error: {reason}"
            );
            tracing::warn!(job = id, "{reason}");
            release(db, id, owner, state::FAILED, &reason, None).await
        }
        Outcome::Retry(reason) => {
            let wait = policy.delay(attempt);
            let reason = format!(
                "chain submission attempt {attempt} of {} failed, retrying in {wait:?}: {reason}",
                policy.max_attempts
            );
            tracing::warn!(job = id, "{reason}");
            let next = now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
            release(db, id, owner, state::SUBMITTING, &reason, Some(next)).await
        }
    };
    match done {
        Ok(true) => {}
        Ok(false) => tracing::warn!(job = id, "the submission claim was lost before recording"),
        Err(e) => tracing::warn!(job = id, "recording the submission: {e}"),
    }
}

/// Claims the oldest job ready to send for `owner`: a proved attribution job whose nonce no
/// other job is submitting or has submitted, or one of ours waiting for its retry time, or one
/// whose submitter died (lease over). One statement, so two submitters cannot both claim it.
/// Returns the job id and this send's number.
async fn claim(db: &Db, owner: &str) -> Result<Option<(String, i64)>, sqlx::Error> {
    let now = now_ms();
    let lease = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX / 2);
    // Only the backend's lock clause is spliced in; every value is bound.
    let sql = format!(
        "UPDATE jobs SET state = $1, submit_owner = $2, submit_until = $3, \
         submit_attempts = submit_attempts + 1, updated_at = $4 \
         WHERE id = (SELECT id FROM jobs j \
             WHERE j.attributed = 1 AND j.nonce IS NOT NULL AND ( \
                 (j.state = $5 AND NOT EXISTS (SELECT 1 FROM jobs o \
                     WHERE o.nonce = j.nonce AND o.state IN ($1, $6))) \
                 OR (j.state = $1 AND ((j.submit_owner IS NULL AND COALESCE(j.next_submit_at, 0) <= $4) \
                     OR j.submit_until < $4))) \
             ORDER BY j.created_at, j.id LIMIT 1 {lock}) \
         RETURNING id, submit_attempts",
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
    row.map(|r| Ok((r.try_get("id")?, r.try_get("submit_attempts")?)))
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

/// Ends `owner`'s claim: `to` (`failed`, or `submitting` again with a retry time) with `reason`.
async fn release(
    db: &Db,
    id: &str,
    owner: &str,
    to: &str,
    reason: &str,
    next: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET state = $1, error = $2, next_submit_at = $3, submit_owner = NULL, \
         submit_until = NULL, updated_at = $4 WHERE id = $5 AND submit_owner = $6 AND state = $7",
    )
    .bind(to)
    .bind(reason)
    .bind(next)
    .bind(now_ms())
    .bind(id)
    .bind(owner)
    .bind(state::SUBMITTING)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records the transaction that carried job `job_id`'s proof, while `owner`'s claim holds.
pub async fn mark_submitted(
    db: &Db,
    job_id: &str,
    owner: &str,
    s: &Submission,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE jobs SET state = $1, tx_hash = $2, gas_used = $3, submitted_at = $4, \
         updated_at = $4, error = NULL, submit_owner = NULL, submit_until = NULL \
         WHERE id = $5 AND submit_owner = $6 AND state = $7",
    )
    .bind(state::SUBMITTED)
    .bind(&s.tx_hash)
    .bind(i64::try_from(s.gas_used).unwrap_or(i64::MAX))
    .bind(now)
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
            poll: Duration::from_millis(200),
        };
        assert_eq!(p.delay(1), Duration::from_secs(2));
        assert_eq!(p.delay(2), Duration::from_secs(4));
        assert_eq!(p.delay(4), Duration::from_secs(16));
        assert_eq!(p.delay(40), Duration::from_secs(300));
    }
}
