-- How proofs hold a model's weights: 'fixed' (in the verifying key) or 'hashed' (private, their
-- Poseidon commitment public in the adapter id row). Keep in step with ../postgres/0005_weight_visibility.sql.
-- Models stored before this migration were compiled with fixed weights; adapters take their
-- base model's.
ALTER TABLE models ADD COLUMN weight_visibility TEXT NOT NULL DEFAULT 'fixed';
