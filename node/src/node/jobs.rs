//! The job queue in SQL: submit (idempotent), claim with a lease, renew, store the proof and
//! mark proved in one transaction, retry or fail, release on shutdown.
//!
//! Why not apalis (a maintained sqlx job library with both our backends): the node needs the job row itself as the API's resource —
//! an `Idempotency-Key` unique per API key, progress, the proof in a table whose primary key makes
//! a second stored proof impossible, and chain-submission columns — and a claim that filters on
//! what the worker can prove (attribution jobs need a prover address). apalis keeps its own
//! opaque task tables and completes a task apart from our proof write, so we would keep a second
//! job table in step with it; the queue itself is five statements here.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::db::{now_ms, Db};

/// Job states, as stored.
pub mod state {
    /// Waiting for a worker.
    pub const QUEUED: &str = "queued";
    /// A worker holds the lease.
    pub const PROVING: &str = "proving";
    /// The proof is stored.
    pub const PROVED: &str = "proved";
    /// A chain submitter holds it: sending, or waiting to retry (`poa node --rpc`).
    pub const SUBMITTING: &str = "submitting";
    /// The proof was accepted on chain: `tx_hash`, `gas_used` are set.
    pub const SUBMITTED: &str = "submitted";
    /// Gave up: `error` says why.
    pub const FAILED: &str = "failed";
}

/// Store errors the API maps to statuses.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The same idempotency key came with another request body.
    #[error("Idempotency-Key `{0}` was already used for a different request")]
    IdempotencyConflict(String),
    /// The database failed.
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
}

/// A job to insert.
pub struct NewJob {
    /// Job id.
    pub id: String,
    /// Model id.
    pub model_id: String,
    /// Datanet attributed over (attribution models).
    pub datanet: Option<String>,
    /// Its sealed version.
    pub datanet_version: Option<i64>,
    /// Request nonce (attribution models), as given.
    pub nonce: Option<String>,
    /// The input sample, JSON.
    pub input: String,
    /// Whether it needs attribution keys.
    pub attributed: bool,
    /// Who submitted it.
    pub api_key_id: String,
    /// `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// SHA-256 of the canonical request, to tell a retry from a reuse of the key.
    pub request_sha256: String,
    /// Attempts before it fails for good.
    pub max_attempts: i64,
}

/// A job as stored.
#[derive(Clone, Debug)]
pub struct Job {
    /// Id.
    pub id: String,
    /// Model id.
    pub model_id: String,
    /// Datanet.
    pub datanet: Option<String>,
    /// Datanet version.
    pub datanet_version: Option<i64>,
    /// Nonce.
    pub nonce: Option<String>,
    /// Input JSON.
    pub input: String,
    /// Attribution job.
    pub attributed: bool,
    /// SHA-256 of the request.
    pub request_sha256: String,
    /// State (see [`state`]).
    pub state: String,
    /// Progress percent.
    pub progress: i64,
    /// Claims so far.
    pub attempts: i64,
    /// Claims allowed.
    pub max_attempts: i64,
    /// Last error.
    pub error: Option<String>,
    /// Worker that stored the proof.
    pub proved_by: Option<String>,
    /// Chain transaction (state submitted).
    pub tx_hash: Option<String>,
    /// Chain transactions sent for it, oldest first ([`sent_txs`]).
    pub sent_txs: Vec<String>,
    /// Gas of that transaction.
    pub gas_used: Option<i64>,
    /// Created, ms.
    pub created_at: i64,
    /// Updated, ms.
    pub updated_at: i64,
}

// Statements built with `format!` (wrapped in `AssertSqlSafe`) splice in only constants of this
// module — column lists, the backend's lock clause, histogram bounds; every value is bound.
const JOB_COLUMNS: &str = "id, model_id, datanet, datanet_version, nonce, input, attributed, \
     request_sha256, state, progress, attempts, max_attempts, error, proved_by, tx_hash, sent_txs, \
     gas_used, created_at, updated_at";

/// The `sent_txs` column (space-separated hashes, NULL before the first send) as a list.
pub fn sent_txs(column: Option<String>) -> Vec<String> {
    column
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

impl Job {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: r.try_get("id")?,
            model_id: r.try_get("model_id")?,
            datanet: r.try_get("datanet")?,
            datanet_version: r.try_get("datanet_version")?,
            nonce: r.try_get("nonce")?,
            input: r.try_get("input")?,
            attributed: r.try_get::<i64, _>("attributed")? != 0,
            request_sha256: r.try_get("request_sha256")?,
            state: r.try_get("state")?,
            progress: r.try_get("progress")?,
            attempts: r.try_get("attempts")?,
            max_attempts: r.try_get("max_attempts")?,
            error: r.try_get("error")?,
            proved_by: r.try_get("proved_by")?,
            tx_hash: r.try_get("tx_hash")?,
            sent_txs: sent_txs(r.try_get("sent_txs")?),
            gas_used: r.try_get("gas_used")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }
}

/// What a submit did.
pub enum Submitted {
    /// A new job.
    Created(Job),
    /// A retry with the same `Idempotency-Key` and body: the job it made first.
    Existing(Job),
}

async fn by_idempotency_key(
    db: &Db,
    api_key_id: &str,
    key: &str,
) -> Result<Option<Job>, sqlx::Error> {
    let sql =
        format!("SELECT {JOB_COLUMNS} FROM jobs WHERE api_key_id = $1 AND idempotency_key = $2");
    sqlx::query(AssertSqlSafe(sql))
        .bind(api_key_id)
        .bind(key)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(Job::from_row)
        .transpose()
}

/// Writes the job (before the API answers 202). With an idempotency key already used by this
/// API key: the first job when the request is the same, else [`StoreError::IdempotencyConflict`].
pub async fn submit(db: &Db, job: NewJob) -> Result<Submitted, StoreError> {
    let existing = |found: Job, key: &str| {
        if found.request_sha256 == job.request_sha256 {
            Ok(Submitted::Existing(found))
        } else {
            Err(StoreError::IdempotencyConflict(key.to_string()))
        }
    };
    if let Some(key) = &job.idempotency_key {
        if let Some(found) = by_idempotency_key(db, &job.api_key_id, key).await? {
            return existing(found, key);
        }
    }
    let now = now_ms();
    // ON CONFLICT DO NOTHING: two concurrent retries with one key race here; the loser reads the
    // winner's job below instead of failing.
    let done = sqlx::query(
        "INSERT INTO jobs (id, model_id, datanet, datanet_version, nonce, input, attributed, \
         api_key_id, idempotency_key, request_sha256, state, progress, attempts, max_attempts, \
         created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, 0, $12, $13, $13) \
         ON CONFLICT (api_key_id, idempotency_key) DO NOTHING",
    )
    .bind(&job.id)
    .bind(&job.model_id)
    .bind(&job.datanet)
    .bind(job.datanet_version)
    .bind(&job.nonce)
    .bind(&job.input)
    .bind(i64::from(job.attributed))
    .bind(&job.api_key_id)
    .bind(&job.idempotency_key)
    .bind(&job.request_sha256)
    .bind(state::QUEUED)
    .bind(job.max_attempts)
    .bind(now)
    .execute(&db.pool)
    .await?;
    if done.rows_affected() == 0 {
        if let Some(key) = &job.idempotency_key {
            if let Some(found) = by_idempotency_key(db, &job.api_key_id, key).await? {
                return existing(found, key);
            }
        }
        return Err(StoreError::Sql(sqlx::Error::RowNotFound));
    }
    let created = get(db, &job.id).await?.ok_or(sqlx::Error::RowNotFound)?;
    Ok(Submitted::Created(created))
}

/// The job `id`.
pub async fn get(db: &Db, id: &str) -> Result<Option<Job>, sqlx::Error> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
    sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(Job::from_row)
        .transpose()
}

/// A job a worker holds.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// The job.
    pub job: Job,
    /// The lease holder (the worker).
    pub owner: String,
}

/// Claims the oldest claimable job for `owner` until `now + lease_ms`: a queued job, or one whose
/// lease expired (its worker died) with attempts left. `attributed_ok`: whether this worker can
/// prove attribution jobs. One statement, so the claim is atomic on both backends.
pub async fn claim(
    db: &Db,
    owner: &str,
    lease_ms: i64,
    attributed_ok: bool,
) -> Result<Option<Claimed>, sqlx::Error> {
    let now = now_ms();
    let sql = format!(
        "UPDATE jobs SET state = $1, lease_owner = $2, lease_until = $3, attempts = attempts + 1, \
         progress = 0, updated_at = $4 \
         WHERE id = (SELECT id FROM jobs \
             WHERE (state = $5 OR (state = $1 AND lease_until < $4)) \
             AND attempts < max_attempts AND (attributed = 0 OR $6 = 1) \
             ORDER BY created_at, id LIMIT 1 {lock}) \
         RETURNING {JOB_COLUMNS}",
        lock = db.skip_locked()
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(state::PROVING)
        .bind(owner)
        .bind(now + lease_ms)
        .bind(now)
        .bind(state::QUEUED)
        .bind(i64::from(attributed_ok))
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref()
        .map(|r| {
            Ok(Claimed {
                job: Job::from_row(r)?,
                owner: owner.to_string(),
            })
        })
        .transpose()
}

/// Fails, for good, jobs whose lease expired on their last attempt (the worker died each time).
pub async fn fail_expired(db: &Db) -> Result<u64, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE jobs SET state = $1, lease_owner = NULL, lease_until = NULL, updated_at = $2, \
         error = 'the worker proving it stopped (lease expired) on every one of its ' \
             || CAST(max_attempts AS TEXT) || ' attempts' \
             || COALESCE('; last error: ' || error, '') \
         WHERE state = $3 AND lease_until < $2 AND attempts >= max_attempts",
    )
    .bind(state::FAILED)
    .bind(now)
    .bind(state::PROVING)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected())
}

/// Extends the lease and records progress; `false` when the lease is no longer ours (it expired
/// and another worker took the job): the caller must drop its result.
pub async fn renew(
    db: &Db,
    c: &Claimed,
    lease_ms: i64,
    progress: i64,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE jobs SET lease_until = $1, progress = $2, updated_at = $3 \
         WHERE id = $4 AND lease_owner = $5 AND state = $6",
    )
    .bind(now + lease_ms)
    .bind(progress)
    .bind(now)
    .bind(&c.job.id)
    .bind(&c.owner)
    .bind(state::PROVING)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores the proof and marks the job proved, in one transaction, only while the lease is ours;
/// `false` (nothing written) when it is not.
pub async fn complete(
    db: &Db,
    c: &Claimed,
    proof_json: &str,
    prove_ms: f64,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let mut tx = db.pool.begin().await?;
    let done = sqlx::query(
        "UPDATE jobs SET state = $1, progress = 100, lease_owner = NULL, lease_until = NULL, \
         proved_by = $2, error = NULL, updated_at = $3 \
         WHERE id = $4 AND lease_owner = $2 AND state = $5",
    )
    .bind(state::PROVED)
    .bind(&c.owner)
    .bind(now)
    .bind(&c.job.id)
    .bind(state::PROVING)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO proofs (job_id, proof, prove_ms, prover, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&c.job.id)
    .bind(proof_json)
    .bind(prove_ms)
    .bind(&c.owner)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Records a failed attempt: back to the queue, or failed for good once attempts are used up.
pub async fn fail_attempt(db: &Db, c: &Claimed, reason: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN $1 ELSE $2 END, \
         error = $3, lease_owner = NULL, lease_until = NULL, updated_at = $4 \
         WHERE id = $5 AND lease_owner = $6 AND state = $7",
    )
    .bind(state::FAILED)
    .bind(state::QUEUED)
    .bind(reason)
    .bind(now_ms())
    .bind(&c.job.id)
    .bind(&c.owner)
    .bind(state::PROVING)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a job back untouched (graceful shutdown before it finished): queued again, and the
/// attempt does not count.
pub async fn release(db: &Db, c: &Claimed) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET state = $1, attempts = attempts - 1, progress = 0, lease_owner = NULL, \
         lease_until = NULL, updated_at = $2 WHERE id = $3 AND lease_owner = $4 AND state = $5",
    )
    .bind(state::QUEUED)
    .bind(now_ms())
    .bind(&c.job.id)
    .bind(&c.owner)
    .bind(state::PROVING)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A stored proof.
pub struct StoredProof {
    /// The proof JSON (`poa_prover::Proof::to_json`).
    pub proof: String,
    /// Milliseconds of proving.
    pub prove_ms: f64,
    /// Worker that made it.
    pub prover: String,
}

/// The proof of job `id`.
pub async fn proof(db: &Db, id: &str) -> Result<Option<StoredProof>, sqlx::Error> {
    let row = sqlx::query("SELECT proof, prove_ms, prover FROM proofs WHERE job_id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| {
        Ok(StoredProof {
            proof: r.try_get("proof")?,
            prove_ms: r.try_get("prove_ms")?,
            prover: r.try_get("prover")?,
        })
    })
    .transpose()
}

/// Jobs per state.
pub async fn counts(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
        .collect()
}

/// Upper bounds (seconds) of the proving-time histogram buckets.
pub const PROVE_BUCKETS_S: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// The proving-time histogram over every stored proof (all workers, all machines): cumulative
/// counts per bucket of [`PROVE_BUCKETS_S`], total count, sum of seconds.
pub async fn prove_histogram(db: &Db) -> Result<(Vec<i64>, i64, f64), sqlx::Error> {
    let mut cols: Vec<String> = PROVE_BUCKETS_S
        .iter()
        .enumerate()
        .map(|(i, b)| format!("COUNT(*) FILTER (WHERE prove_ms <= {}) AS b{i}", b * 1000.0))
        .collect();
    cols.push("COUNT(*) AS n".into());
    cols.push("SUM(prove_ms) AS total".into());
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {} FROM proofs",
        cols.join(", ")
    )))
    .fetch_one(&db.pool)
    .await?;
    let buckets = (0..PROVE_BUCKETS_S.len())
        .map(|i| row.try_get::<i64, _>(format!("b{i}").as_str()))
        .collect::<Result<_, _>>()?;
    let total: Option<f64> = row.try_get("total")?;
    Ok((buckets, row.try_get("n")?, total.unwrap_or(0.0) / 1000.0))
}
