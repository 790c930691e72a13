//! Where chain submission plugs in. The alloy chain client is built on another branch; this is
//! its seam, deliberately without an implementation (nothing here pretends to submit).
//!
//! A node started with a submitter (`--rpc`/`--key`, added with the client) would, after a
//! worker stores a proof, call [`ChainSubmitter::submit`] with the job's calldata and record the
//! result with [`mark_submitted`]: state `submitted`, `tx_hash`, `gas_used`, `submitted_at` —
//! columns the schema already has and `GET /v1/jobs/{id}` already returns.

use std::future::Future;
use std::pin::Pin;

use super::db::{now_ms, Db};
use super::jobs::state;

/// A transaction that carried a proof.
pub struct Submission {
    /// Transaction hash, 0x-hex.
    pub tx_hash: String,
    /// Gas it used.
    pub gas_used: u64,
}

/// Sends a proved job's calldata to the reward contract.
#[allow(dead_code)] // implemented by the chain client (see the module comment)
pub trait ChainSubmitter: Send + Sync {
    /// Submits `calldata` (instances ‖ proof) for job `job_id`.
    fn submit<'a>(
        &'a self,
        job_id: &'a str,
        calldata: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<Submission>> + Send + 'a>>;
}

/// Records a submission of a proved job.
#[allow(dead_code)] // called by the chain client once it lands (see the module comment)
pub async fn mark_submitted(db: &Db, job_id: &str, s: &Submission) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE jobs SET state = $1, tx_hash = $2, gas_used = $3, submitted_at = $4, \
         updated_at = $4 WHERE id = $5 AND state = $6",
    )
    .bind(state::SUBMITTED)
    .bind(&s.tx_hash)
    .bind(i64::try_from(s.gas_used).unwrap_or(i64::MAX))
    .bind(now)
    .bind(job_id)
    .bind(state::PROVED)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
