-- The circuit layout a model's keys are set up with: 'wide' (16 MAC lanes a row) or 'narrow'
-- (one advice column; a verifier small enough for mainnet). Keep in step with
-- ../sqlite/0006_layout.sql. Models stored before this migration were set up wide; adapters take
-- their base model's.
ALTER TABLE models ADD COLUMN layout TEXT NOT NULL DEFAULT 'wide';
