-- The narrow layout's k when a model asked for fewer rows than the one-column size
-- (`poa setup --narrow-k`); NULL: the one-column size, and always for the wide layout. Keep in
-- step with ../sqlite/0007_narrow_k.sql. Adapters take their base model's.
ALTER TABLE models ADD COLUMN narrow_k BIGINT;
