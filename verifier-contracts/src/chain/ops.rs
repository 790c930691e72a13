//! The transactions of one attribution request's life, each returning its gas: a curator
//! creates a datanet and seals a version under its index root; governance registers a model; a
//! requester approves OPEN and opens a request (getting the nonce the proof must carry); anyone
//! submits the proof; every payee claims.

use alloy::contract::SolCallBuilder;
use alloy::primitives::{Address, Bytes, TxHash, TxKind, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, TransactionInput, TransactionReceipt, TransactionRequest};
use alloy::sol_types::{SolCall, SolEvent};
use serde::{Deserialize, Serialize};

use super::bindings::{AttributionRewards, DatanetRegistry, ModelRegistry, OpenToken};
use super::{call_err, chain_err, confirmed, Chain, Deployment, Gas};
use crate::error::{ContractsError, Result};
use crate::evm::calldata;
use halo2curves::bn256::Fr;

/// A model as `ModelRegistry.register` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Model id (public instance row 0).
    pub model_id: U256,
    /// Adapter id (row 1; 0 is the base model).
    pub adapter_id: U256,
    /// Paid the owner share.
    pub owner: Address,
    /// Verifier contract checking its proofs.
    pub verifier: Address,
    /// Entries published (top-k).
    pub k: u16,
    /// Public instances of a proof.
    pub num_instances: u32,
    /// Fee shares in basis points: owner, contributors, prover, treasury (sum 10,000).
    pub shares_bps: [u16; 4],
    /// The datanet the model may be attributed over (requests for another are refused).
    #[serde(default, with = "super::decimal")]
    pub datanet_id: U256,
    /// For a `fixed` index, the only index root its requests may name (0: any sealed version).
    #[serde(default, with = "super::decimal")]
    pub pinned_root: U256,
}

/// One amount the rewards contract credited for a proof (a line of its `Settled` event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credit {
    /// Who.
    pub account: Address,
    /// Why: `owner`, `contributor`, `prover` or `treasury`.
    pub role: String,
    /// OPEN base units.
    #[serde(with = "super::decimal")]
    pub amount: U256,
}

/// An accepted proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submitted {
    /// The request settled.
    #[serde(with = "super::decimal")]
    pub nonce: U256,
    /// The prover paid (instance row 6), whoever sent the transaction.
    pub prover: Address,
    /// The amounts credited, in the contract's order.
    pub credits: Vec<Credit>,
    /// Gas of the `submit` transaction (the verifier call included).
    pub gas: Gas,
    /// Hash of the `submit` transaction (what a job store records to find it again).
    pub tx_hash: TxHash,
}

/// Blocks per `eth_getLogs` query (common RPC providers allow 10,000).
const LOG_WINDOW_BLOCKS: u64 = 10_000;
/// How far back [`Chain::settlement`] looks for a paid request's `Settled` event (~140 days of
/// 12-second blocks, 100 queries).
const SETTLEMENT_LOOKBACK_BLOCKS: u64 = 1_000_000;

/// Inclusive block ranges of at most `size` blocks covering `oldest..=head`, newest first.
fn windows_back(head: u64, oldest: u64, size: u64) -> impl Iterator<Item = (u64, u64)> {
    let mut next = Some(head);
    std::iter::from_fn(move || {
        let to = next?;
        let from = to.saturating_sub(size - 1).max(oldest);
        next = (from > oldest).then(|| from - 1);
        Some((from, to))
    })
}

fn role_name(role: u8) -> String {
    ["owner", "contributor", "prover", "treasury"]
        .get(usize::from(role))
        .map_or_else(|| format!("role {role}"), |r| r.to_string())
}

impl Chain {
    /// Sends `call` from this account and waits for its receipt; a revert is an error.
    async fn send<P: Provider, C: SolCall>(
        &self,
        step: &'static str,
        call: SolCallBuilder<P, C>,
    ) -> Result<TransactionReceipt> {
        let call = call.from(self.address());
        confirmed(step, call.send().await).await
    }

    /// Creates a datanet curated by this account; returns its id.
    pub async fn create_datanet(&self, d: &Deployment) -> Result<(U256, Gas)> {
        let registry = DatanetRegistry::new(d.datanets, self.provider());
        let r = self
            .send("createDatanet", registry.createDatanet(self.address()))
            .await?;
        let id = event::<DatanetRegistry::DatanetCreated>("createDatanet", &r)?.datanetId;
        Ok((id, r.gas_used))
    }

    /// Seals `version` of `datanet` under `index_root` (curator only).
    pub async fn seal_version(
        &self,
        d: &Deployment,
        datanet: U256,
        version: U256,
        index_root: U256,
    ) -> Result<Gas> {
        let registry = DatanetRegistry::new(d.datanets, self.provider());
        let r = self
            .send(
                "sealVersion",
                registry.sealVersion(datanet, version, index_root),
            )
            .await?;
        Ok(r.gas_used)
    }

    /// Registers `m` (model registry owner only).
    pub async fn register_model(&self, d: &Deployment, m: &ModelSpec) -> Result<Gas> {
        let registry = ModelRegistry::new(d.models, self.provider());
        let [owner_bps, contributors_bps, prover_bps, treasury_bps] = m.shares_bps;
        let model = ModelRegistry::Model {
            owner: m.owner,
            verifier: m.verifier,
            k: m.k,
            numInstances: m.num_instances,
            ownerBps: owner_bps,
            contributorsBps: contributors_bps,
            proverBps: prover_bps,
            treasuryBps: treasury_bps,
            disabled: false,
        };
        let r = self
            .send(
                "register model",
                registry.register(m.model_id, m.adapter_id, model, m.datanet_id, m.pinned_root),
            )
            .await?;
        Ok(r.gas_used)
    }

    /// Disables (`model_id`, `adapter_id`) (model registry owner only): no new requests or
    /// settlements; open requests become refundable at once.
    pub async fn disable_model(
        &self,
        d: &Deployment,
        model_id: U256,
        adapter_id: U256,
    ) -> Result<Gas> {
        let registry = ModelRegistry::new(d.models, self.provider());
        Ok(self
            .send("disable model", registry.disable(model_id, adapter_id))
            .await?
            .gas_used)
    }

    /// Transfers `amount` OPEN to `to`.
    pub async fn transfer(&self, d: &Deployment, to: Address, amount: U256) -> Result<Gas> {
        let token = OpenToken::new(d.token, self.provider());
        Ok(self
            .send("transfer OPEN", token.transfer(to, amount))
            .await?
            .gas_used)
    }

    /// Lets the rewards contract pull `amount` OPEN from this account.
    pub async fn approve(&self, d: &Deployment, amount: U256) -> Result<Gas> {
        let token = OpenToken::new(d.token, self.provider());
        Ok(self
            .send("approve OPEN", token.approve(d.rewards, amount))
            .await?
            .gas_used)
    }

    /// Opens a request for (`model_id`, `adapter_id`) over `version` of `datanet`, paying `fee`
    /// (approve it first), for the input committed by `input_commitment` (row 2 of the proof;
    /// 0: a proof that publishes none, binding no input), settleable for `ttl_secs` seconds and
    /// refundable after; returns the nonce the proof must carry.
    #[allow(clippy::too_many_arguments)]
    pub async fn open_request(
        &self,
        d: &Deployment,
        model_id: U256,
        adapter_id: U256,
        datanet: U256,
        version: U256,
        fee: U256,
        input_commitment: U256,
        ttl_secs: u64,
    ) -> Result<(U256, Gas)> {
        let rewards = AttributionRewards::new(d.rewards, self.provider());
        let r = self
            .send(
                "openRequest",
                rewards.openRequest(
                    model_id,
                    adapter_id,
                    datanet,
                    version,
                    fee,
                    input_commitment,
                    U256::from(ttl_secs),
                ),
            )
            .await?;
        let nonce = event::<AttributionRewards::RequestOpened>("openRequest", &r)?.nonce;
        Ok((nonce, r.gas_used))
    }

    /// `AttributionRewards.nonceAt(counter)`: the contract's public nonce of its `counter`-th
    /// request (what [`super::request_nonce`] computes off-chain).
    pub async fn nonce_at(&self, d: &Deployment, counter: U256) -> Result<U256> {
        AttributionRewards::new(d.rewards, self.provider())
            .nonceAt(counter)
            .call()
            .await
            .map_err(|e| call_err("nonceAt", e))
    }

    /// Moves a dev chain's (anvil's) clock `secs` forward and mines a block: lets a request's
    /// deadline pass in tests and the demo.
    pub async fn advance_time(&self, secs: u64) -> Result<()> {
        let p = self.provider();
        let step = |e: alloy::transports::TransportError| chain_err("advance time", e);
        p.raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (secs,))
            .await
            .map_err(step)?;
        p.raw_request::<_, serde_json::Value>("evm_mine".into(), ())
            .await
            .map_err(step)?;
        Ok(())
    }

    /// Takes back the fee of request `nonce` (its requester only; after its deadline, or at
    /// once when its model was disabled); returns the fee refunded.
    pub async fn refund(&self, d: &Deployment, nonce: U256) -> Result<(U256, Gas)> {
        let rewards = AttributionRewards::new(d.rewards, self.provider());
        let r = self.send("refund", rewards.refund(nonce)).await?;
        let fee = event::<AttributionRewards::Refunded>("refund", &r)?.fee;
        Ok((fee, r.gas_used))
    }

    /// Submits `proof` of `instances` and waits for it to be mined; returns what was credited.
    pub async fn submit(
        &self,
        d: &Deployment,
        proof: &[u8],
        instances: &[U256],
    ) -> Result<Submitted> {
        let r = self
            .send("submit", submit_call(self, d, proof, instances))
            .await?;
        submitted(&r)
    }

    /// Broadcasts a `submit` of `proof` and returns its hash without waiting for a receipt; a
    /// revert at gas estimation is an error with the decoded reason. Callers that must never
    /// send twice (the node) record the hash before they wait, then follow it with
    /// [`Chain::submit_status`].
    pub async fn send_submit(
        &self,
        d: &Deployment,
        proof: &[u8],
        instances: &[U256],
    ) -> Result<TxHash> {
        let call = submit_call(self, d, proof, instances).from(self.address());
        let pending = call.send().await.map_err(|e| call_err("submit", e))?;
        Ok(*pending.tx_hash())
    }

    /// What became of the `submit` transaction `tx`: mined (with its credits), reverted,
    /// waiting in the node's pool, or unknown to the node (dropped, or never seen).
    pub async fn submit_status(&self, tx: TxHash) -> Result<SubmitStatus> {
        let step = "submit receipt";
        let p = self.provider();
        if let Some(r) = p
            .get_transaction_receipt(tx)
            .await
            .map_err(|e| chain_err(step, e))?
        {
            return Ok(if r.status() {
                SubmitStatus::Mined(submitted(&r)?)
            } else {
                SubmitStatus::Reverted
            });
        }
        let known = p
            .get_transaction_by_hash(tx)
            .await
            .map_err(|e| chain_err(step, e))?;
        Ok(if known.is_some() {
            SubmitStatus::Pending
        } else {
            SubmitStatus::Unknown
        })
    }

    /// The transaction whose proof settled request `nonce`, or `None` while it is open: the
    /// request's `paid` view, then its `Settled` event (the nonce is an indexed topic).
    pub async fn settlement(&self, d: &Deployment, nonce: U256) -> Result<Option<TxHash>> {
        let step = "settlement";
        let rewards = AttributionRewards::new(d.rewards, self.provider());
        let paid = rewards
            .paid(nonce)
            .call()
            .await
            .map_err(|e| call_err(step, e))?;
        if !paid {
            return Ok(None);
        }
        // Newest blocks first, a window at a time: the settlement is usually recent (a node
        // asks right after its own submit failed), and RPC providers refuse eth_getLogs over
        // more than ~10k blocks, so one query from block 0 fails on a real chain.
        let head = self
            .provider()
            .get_block_number()
            .await
            .map_err(|e| chain_err(step, e))?;
        let oldest = head.saturating_sub(SETTLEMENT_LOOKBACK_BLOCKS);
        for (from, to) in windows_back(head, oldest, LOG_WINDOW_BLOCKS) {
            let filter = Filter::new()
                .address(d.rewards)
                .event_signature(AttributionRewards::Settled::SIGNATURE_HASH)
                .topic1(B256::from(nonce))
                .from_block(from)
                .to_block(to);
            let logs = self
                .provider()
                .get_logs(&filter)
                .await
                .map_err(|e| chain_err(step, e))?;
            if let Some(tx) = logs.first().and_then(|l| l.transaction_hash) {
                return Ok(Some(tx));
            }
        }
        Err(ContractsError::Chain {
            step,
            reason: format!(
                "request {nonce} is paid but no Settled event names it in blocks {oldest}..={head}"
            ),
        })
    }

    /// The registration of (`model_id`, `adapter_id`), or `None` when it is not registered.
    pub async fn registered_model(
        &self,
        d: &Deployment,
        model_id: U256,
        adapter_id: U256,
    ) -> Result<Option<ModelSpec>> {
        let registry = ModelRegistry::new(d.models, self.provider());
        let m = registry
            .model(model_id, adapter_id)
            .call()
            .await
            .map_err(|e| call_err("model registration", e))?;
        let scope = registry
            .scopeOf(model_id, adapter_id)
            .call()
            .await
            .map_err(|e| call_err("model scope", e))?;
        Ok((m.verifier != Address::ZERO).then_some(ModelSpec {
            model_id,
            adapter_id,
            owner: m.owner,
            verifier: m.verifier,
            k: m.k,
            num_instances: m.numInstances,
            shares_bps: [m.ownerBps, m.contributorsBps, m.proverBps, m.treasuryBps],
            datanet_id: scope.datanetId,
            pinned_root: scope.pinnedRoot,
        }))
    }

    /// Withdraws this account's credited OPEN; returns the amount.
    pub async fn claim(&self, d: &Deployment) -> Result<(U256, Gas)> {
        let rewards = AttributionRewards::new(d.rewards, self.provider());
        let r = self.send("claim", rewards.claim()).await?;
        // The claim's log is OPEN's Transfer out of the rewards contract (it has no event of
        // its own; see AttributionRewards.sol).
        let amount = r
            .logs()
            .iter()
            .filter(|l| l.address() == d.token)
            .filter_map(|l| l.log_decode::<OpenToken::Transfer>().ok())
            .find(|l| l.inner.data.from == d.rewards)
            .map(|l| l.inner.data.value)
            .ok_or_else(|| ContractsError::Chain {
                step: "claim",
                reason: "no OPEN Transfer from the rewards contract in the receipt".into(),
            })?;
        Ok((amount, r.gas_used))
    }

    /// OPEN credited to `who` and not yet claimed.
    pub async fn credited(&self, d: &Deployment, who: Address) -> Result<U256> {
        AttributionRewards::new(d.rewards, self.provider())
            .balanceOf(who)
            .call()
            .await
            .map_err(|e| call_err("credited balance", e))
    }

    /// OPEN held by `who`.
    pub async fn balance(&self, d: &Deployment, who: Address) -> Result<U256> {
        OpenToken::new(d.token, self.provider())
            .balanceOf(who)
            .call()
            .await
            .map_err(|e| call_err("OPEN balance", e))
    }

    /// Gas of calling the verifier at `verifier` directly with [`calldata`] of `instances` and
    /// `proof` (the node executes it: a rejected proof is an error).
    pub async fn verify_gas(
        &self,
        verifier: Address,
        instances: &[Fr],
        proof: &[u8],
    ) -> Result<Gas> {
        let tx = TransactionRequest {
            from: Some(self.address()),
            to: Some(TxKind::Call(verifier)),
            input: TransactionInput::new(calldata(instances, proof).into()),
            ..Default::default()
        };
        self.provider()
            .estimate_gas(tx)
            .await
            .map_err(|e| ContractsError::Rejected(e.to_string()))
    }

    /// Gas the call frames into `callee` used inside mined transaction `tx` (summed, from the
    /// node's `debug_traceTransaction` call tracer): the verifier's share of a `submit`, without
    /// the transaction base or calldata a direct call would add. `None` when `tx` never called
    /// `callee`; an error when the node has no tracer.
    pub async fn inner_call_gas(&self, tx: TxHash, callee: Address) -> Result<Option<Gas>> {
        let step = "trace submit";
        let trace: serde_json::Value = self
            .provider()
            .raw_request(
                "debug_traceTransaction".into(),
                (tx, serde_json::json!({ "tracer": "callTracer" })),
            )
            .await
            .map_err(|e| chain_err(step, e))?;
        let mut total = None;
        let mut stack = vec![&trace];
        while let Some(frame) = stack.pop() {
            let to = frame["to"].as_str().and_then(|t| t.parse::<Address>().ok());
            if to == Some(callee) {
                let used = frame["gasUsed"]
                    .as_str()
                    .and_then(|g| u64::from_str_radix(g.trim_start_matches("0x"), 16).ok())
                    .ok_or_else(|| chain_err(step, "a call frame without gasUsed"))?;
                *total.get_or_insert(0) += used;
            }
            if let Some(calls) = frame["calls"].as_array() {
                stack.extend(calls);
            }
        }
        Ok(total)
    }
}

/// Where a sent `submit` transaction stands ([`Chain::submit_status`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitStatus {
    /// Mined and accepted: what it credited.
    Mined(Submitted),
    /// Mined, and reverted (the request was settled first, or the proof was refused).
    Reverted,
    /// Known to the node, not mined yet.
    Pending,
    /// The node knows no such transaction: dropped from its pool (or never received).
    Unknown,
}

fn submit_call<'a>(
    chain: &'a Chain,
    d: &Deployment,
    proof: &[u8],
    instances: &[U256],
) -> SolCallBuilder<&'a DynProvider, AttributionRewards::submitCall> {
    let call = AttributionRewards::submitCall {
        proof: Bytes::copy_from_slice(proof),
        instances: instances.to_vec(),
    };
    SolCallBuilder::new_sol(chain.provider(), &d.rewards, &call)
}

/// What a mined `submit` did, from its receipt's events.
fn submitted(r: &TransactionReceipt) -> Result<Submitted> {
    let settled = event::<AttributionRewards::Settled>("submit", r)?;
    let credits = settled
        .credits
        .into_iter()
        .map(|c| Credit {
            account: c.account,
            role: role_name(c.role),
            amount: c.amount,
        })
        .collect();
    Ok(Submitted {
        nonce: settled.nonce,
        prover: settled.prover,
        credits,
        gas: r.gas_used,
        tx_hash: r.transaction_hash,
    })
}

/// The first `E` event in `r`'s logs.
fn event<E: SolEvent>(step: &'static str, r: &TransactionReceipt) -> Result<E> {
    r.decoded_log::<E>()
        .map(|l| l.data)
        .ok_or_else(|| ContractsError::Chain {
            step,
            reason: format!("no {} event in the receipt", E::SIGNATURE),
        })
}

#[cfg(test)]
mod tests {
    use super::windows_back;

    #[test]
    fn log_windows_cover_the_range_newest_first_without_gaps() {
        let w: Vec<_> = windows_back(25_000, 0, 10_000).collect();
        assert_eq!(w, [(15_001, 25_000), (5_001, 15_000), (0, 5_000)]);
        assert_eq!(windows_back(7, 0, 10_000).collect::<Vec<_>>(), [(0, 7)]);
        assert_eq!(windows_back(0, 0, 10_000).collect::<Vec<_>>(), [(0, 0)]);
        let w: Vec<_> = windows_back(1_000_000, 980_000, 10_000).collect();
        assert_eq!(
            w,
            [(990_001, 1_000_000), (980_001, 990_000), (980_000, 980_000)]
        );
    }
}
