-- Chain submission (`poa node --rpc`). Keep in step with ../postgres/0002_chain_submission.sql.
-- A job being sent is in state `submitting` from the moment a submitter claims it until it is
-- `submitted` or `failed`, retries included: while it is, no other job with its nonce can be
-- claimed (the unique index below), so a nonce is never sent twice by this job store.

-- Sends tried so far.
ALTER TABLE jobs ADD COLUMN submit_attempts BIGINT NOT NULL DEFAULT 0;
-- The submitter holding the job while it sends (NULL between retries).
ALTER TABLE jobs ADD COLUMN submit_owner TEXT;
-- Its lease: a submitter that died mid-send leaves the job claimable after this.
ALTER TABLE jobs ADD COLUMN submit_until BIGINT;
-- Earliest time of the next try after a transient failure (exponential backoff).
ALTER TABLE jobs ADD COLUMN next_submit_at BIGINT;

CREATE UNIQUE INDEX jobs_one_submission_per_nonce ON jobs (nonce)
    WHERE state IN ('submitting', 'submitted');
