-- Job store of the REST node and prover nodes (PostgreSQL). Keep in step with
-- ../sqlite/0001_node.sql: the same tables and columns, only the type names differ.
-- Times are milliseconds since the Unix epoch; booleans are 0/1 BIGINTs so one Rust type reads
-- both backends.

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    -- SHA-256 of the key: keys are 256-bit random, so a fast hash is enough (no password KDF).
    key_sha256  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE models (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    -- compiling | ready | failed
    status            TEXT NOT NULL,
    error             TEXT,
    onnx              BYTEA NOT NULL,
    calibration       TEXT NOT NULL,
    input_visibility  TEXT NOT NULL,
    -- JSON {datanet, version, top_k, index_visibility} when set up for attribution
    attribution       TEXT,
    attributed        BIGINT NOT NULL,
    input_len         BIGINT,
    -- digest of the quantized model (what the public model id is taken from)
    commitment        TEXT,
    index_root        TEXT,
    -- JSON of the circuit size (k, rows, columns, instances, …)
    circuit           TEXT,
    insecure_srs      BIGINT,
    -- set by the chain client once the verifier is deployed
    verifier_address  TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

-- The set-up model folder (qmodel, settings, SRS, pk, vk, attribution), so prover nodes on other
-- machines load the same keys the node made.
CREATE TABLE model_files (
    model_id  TEXT NOT NULL REFERENCES models(id),
    name      TEXT NOT NULL,
    bytes     BYTEA NOT NULL,
    PRIMARY KEY (model_id, name)
);

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    model_id         TEXT NOT NULL REFERENCES models(id),
    datanet          TEXT,
    datanet_version  BIGINT,
    nonce            TEXT,
    -- JSON array of the input sample
    input            TEXT NOT NULL,
    attributed       BIGINT NOT NULL,
    api_key_id       TEXT NOT NULL REFERENCES api_keys(id),
    idempotency_key  TEXT,
    request_sha256   TEXT NOT NULL,
    -- queued | proving | proved | submitted | failed
    state            TEXT NOT NULL,
    progress         BIGINT NOT NULL DEFAULT 0,
    attempts         BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL,
    error            TEXT,
    lease_owner      TEXT,
    lease_until      BIGINT,
    proved_by        TEXT,
    -- chain submission (state `submitted`), written by the chain client
    tx_hash          TEXT,
    gas_used         BIGINT,
    submitted_at     BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (api_key_id, idempotency_key)
);
CREATE INDEX jobs_queue ON jobs (state, created_at);

-- One row per proved job: the primary key makes a second stored proof impossible.
CREATE TABLE proofs (
    job_id      TEXT PRIMARY KEY REFERENCES jobs(id),
    proof       TEXT NOT NULL,
    prove_ms    DOUBLE PRECISION NOT NULL,
    prover      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
