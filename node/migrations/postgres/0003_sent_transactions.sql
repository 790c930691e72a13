-- Transactions sent for a job (`poa node --rpc`). Keep in step with ../sqlite/0003_sent_transactions.sql.
-- Every `submit` transaction a submitter broadcasts is recorded here (space-separated hashes,
-- oldest first) before it waits for the receipt, so a later try — after a lost receipt, a
-- timeout or a crash — first asks the chain what became of it instead of sending again.
ALTER TABLE jobs ADD COLUMN sent_txs TEXT;
