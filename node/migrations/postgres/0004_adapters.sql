-- LoRA adapters and public ids. Keep in step with ../sqlite/0004_adapters.sql.
-- An adapter is a model row of its own (compiled from its base model's ONNX and calibration
-- with the adapter merged, set up with its own keys) that names its base model.
ALTER TABLE models ADD COLUMN base_model TEXT;
-- The adapter file (poa-lora/1 JSON); NULL on a base model. Read only to build the model.
ALTER TABLE models ADD COLUMN adapter TEXT;
-- Its name, apart, so listing and reading models never parses the file.
ALTER TABLE models ADD COLUMN adapter_name TEXT;
-- The ids a proof publishes (instance rows 0 and 1, 0x-hex), set when the model is ready: what
-- ModelRegistry.register is keyed by.
ALTER TABLE models ADD COLUMN public_model_id TEXT;
ALTER TABLE models ADD COLUMN public_adapter_id TEXT;
-- Models set up before this migration are base models: model id = the digest's first 31 bytes
-- (poa_circuits::attribution::model_id), adapter id 0.
UPDATE models SET public_model_id = '0x00' || substr(commitment, 1, 62),
    public_adapter_id = '0x0000000000000000000000000000000000000000000000000000000000000000'
    WHERE commitment IS NOT NULL AND adapter IS NULL;
