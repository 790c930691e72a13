//! The on-chain steps of `poa demo`, on a local anvil started for the run and stopped when the
//! [`LocalChain`] is dropped (at the end, or on any error): deploy OPEN, the registries, the
//! generated verifier and the rewards contract; seal the datanet version under the index root;
//! register the model; a requester pays the fee and gets the nonce the proof must carry
//! ([`LocalChain::start`]); then the proof is submitted and every payee claims
//! ([`LocalChain::settle`]), and the OPEN received must equal the split the runtime computes from
//! the proof's public instances.
//!
//! The verifier is over EIP-170's 24,576-byte limit today: anvil then runs with the limit lifted,
//! and the demo says so.

use alloy::primitives::{Address as EvmAddress, U256};
use anyhow::{ensure, Context};
use poa_circuits::Fr;
use poa_contracts::anvil::Anvil;
use poa_contracts::chain::local::{
    claim_all, deploy_and_register, open_paid_request_with, Actors, Claimed, ModelTerms, Opened,
    Registered,
};
use poa_contracts::chain::{fr_to_u256, instances_to_u256, Submitted};
use poa_contracts::project::Project;
use poa_contracts::MAX_RUNTIME_BYTES;
use poa_prover::Proof;
use poa_runtime::attribution::{RewardShares, RewardSplit};
use poa_runtime::datanet::Address;
use serde::Serialize;

use crate::proven::ProvenAttribution;
use crate::reward_report::format_open;

/// A local chain with the system deployed and one paid request open.
pub struct LocalChain {
    rt: tokio::runtime::Runtime,
    actors: Actors,
    registered: Registered,
    opened: Opened,
    code_size_limit_lifted: bool,
    verifier_runtime_bytes: usize,
    insecure_srs: bool,
    // Last field: dropped (anvil killed) after everything that talks to it.
    _anvil: Anvil,
}

/// One amount paid, and why.
#[derive(Serialize)]
pub struct Payout {
    /// Who.
    pub account: EvmAddress,
    /// `owner`, `contributor`, `prover` or `treasury`.
    pub role: String,
    /// OPEN base units received by the claim (decimal).
    #[serde(with = "poa_contracts::chain::decimal")]
    pub amount: U256,
    /// Why this account was paid this much.
    pub reason: String,
}

/// One transaction's gas.
#[derive(Serialize)]
pub struct GasLine {
    /// What it did.
    pub step: String,
    /// Gas used (receipt; the verifier call is an estimate of calling it directly).
    pub gas: u64,
}

/// What happened on-chain.
#[derive(Serialize)]
pub struct ChainStep {
    /// Runtime bytes of the deployed verifier.
    pub verifier_runtime_bytes: usize,
    /// True when the verifier is over EIP-170's limit and anvil ran with the limit lifted.
    pub code_size_limit_lifted: bool,
    /// Addresses, datanet, model and registration gas.
    pub registered: Registered,
    /// The paid request the proof answers.
    pub request: Opened,
    /// The accepted proof and what it credited.
    pub submitted: Submitted,
    /// Every payee's claim.
    pub claims: Vec<Claimed>,
    /// Who was paid how much, and why.
    pub payouts: Vec<Payout>,
    /// Sum of the claims (equals the fee; decimal).
    #[serde(with = "poa_contracts::chain::decimal")]
    pub paid_total: U256,
    /// Gas of every step.
    pub gas: Vec<GasLine>,
    /// True when the keys (and so the verifier) come from the insecure dev SRS: the demo puts
    /// them on its local chain as `poa chain deploy|register --insecure` would.
    pub insecure_srs: bool,
    /// A second request nobody answered, refunded after its deadline.
    pub expired_refund: ExpiredRefund,
}

/// A request left unanswered past its deadline, and its refund.
#[derive(Serialize)]
pub struct ExpiredRefund {
    /// Its nonce.
    #[serde(with = "poa_contracts::chain::decimal")]
    pub nonce: U256,
    /// Seconds it could be settled.
    pub ttl_secs: u64,
    /// The fee refunded to the requester (decimal).
    #[serde(with = "poa_contracts::chain::decimal")]
    pub fee: U256,
    /// Gas of `refund`.
    pub gas: u64,
}

/// Seconds the demo's unanswered request stays open.
const EXPIRING_TTL_SECS: u64 = 60;

/// Opens a request nobody answers, lets anvil's clock pass its deadline, and refunds it.
async fn refund_expired(
    actors: &Actors,
    r: &Registered,
    fee: U256,
) -> poa_contracts::Result<ExpiredRefund> {
    let o = open_paid_request_with(actors, r, fee, U256::ZERO, EXPIRING_TTL_SECS).await?;
    actors.other.advance_time(EXPIRING_TTL_SECS + 1).await?;
    let (fee, gas) = actors.requester.refund(&r.deployment, o.nonce).await?;
    Ok(ExpiredRefund {
        nonce: o.nonce,
        ttl_secs: EXPIRING_TTL_SECS,
        fee,
        gas,
    })
}

impl LocalChain {
    /// Starts anvil (lifting the code-size limit only when the verifier needs it), deploys and
    /// registers the model with `shares`, and opens a request paying `fee` for the input
    /// committed by `input_commitment` (0: the proof publishes none).
    pub fn start(
        verifier_creation: &[u8],
        verifier_runtime_bytes: usize,
        terms: ModelTerms,
        index_root: &Fr,
        fee: u128,
        input_commitment: U256,
        insecure_srs: bool,
    ) -> anyhow::Result<Self> {
        let lifted = verifier_runtime_bytes > MAX_RUNTIME_BYTES;
        let anvil = Anvil::start(!lifted).context("starting anvil")?;
        let actors = Actors::of(&anvil)?;
        let project = Project::compile().context("compiling the contracts")?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let registered = rt.block_on(deploy_and_register(
            &actors,
            &project,
            verifier_creation,
            fr_to_u256(index_root),
            terms,
        ))?;
        let opened = rt.block_on(open_paid_request_with(
            &actors,
            &registered,
            U256::from(fee),
            input_commitment,
            poa_contracts::chain::DEFAULT_TTL_SECS,
        ))?;
        Ok(Self {
            rt,
            actors,
            registered,
            opened,
            code_size_limit_lifted: lifted,
            verifier_runtime_bytes,
            insecure_srs,
            _anvil: anvil,
        })
    }

    /// The request nonce to prove for.
    pub fn nonce(&self) -> Fr {
        poa_contracts::chain::u256_to_fr(self.opened.nonce)
            .expect("the contract's nonces are below the field modulus")
    }

    /// The prover's address (to name in the proof).
    pub fn prover(&self) -> Address {
        Address(self.actors.prover.address().into_array())
    }

    /// Submits `proof` from the prover's account, claims for every payee, and checks the OPEN
    /// received equals `expected` (the runtime's split of the proof's public instances).
    pub fn settle(
        self,
        proof: &Proof,
        proven: &ProvenAttribution,
        expected: &RewardSplit,
    ) -> anyhow::Result<ChainStep> {
        let d = &self.registered.deployment;
        let verify_gas = self.rt.block_on(self.actors.prover.verify_gas(
            d.verifier,
            &proof.instances,
            &proof.bytes,
        ))?;
        let submitted = self.rt.block_on(self.actors.prover.submit(
            d,
            &proof.bytes,
            &instances_to_u256(&proof.instances),
        ))?;
        // What the verifier costs inside submit (no transaction base, no calldata of its own).
        let inner_verify_gas = self
            .rt
            .block_on(
                self.actors
                    .prover
                    .inner_call_gas(submitted.tx_hash, d.verifier),
            )?
            .context("the submit transaction never called the verifier")?;
        let mut payees: Vec<EvmAddress> = Vec::new();
        for c in &submitted.credits {
            if !payees.contains(&c.account) {
                payees.push(c.account);
            }
        }
        let claims = self.rt.block_on(claim_all(&self.actors, d, &payees))?;
        let paid_total: U256 = claims.iter().map(|c| c.amount).sum();
        ensure!(
            paid_total == U256::from(expected.fee),
            "paid out {paid_total}, not the fee {}",
            expected.fee
        );
        let left = self.rt.block_on(self.actors.prover.balance(d, d.rewards))?;
        ensure!(
            left.is_zero(),
            "the rewards contract still holds {left} after every claim"
        );
        let expired_refund = self.rt.block_on(refund_expired(
            &self.actors,
            &self.registered,
            U256::from(expected.fee),
        ))?;
        ensure!(
            expired_refund.fee == U256::from(expected.fee),
            "refunded {}, not the fee {}",
            expired_refund.fee,
            expected.fee
        );
        let left = self.rt.block_on(self.actors.prover.balance(d, d.rewards))?;
        ensure!(
            left.is_zero(),
            "the rewards contract still holds {left} after the refund"
        );
        let payouts = payouts(&submitted, &claims, proven, expected)?;
        let mut gas = gas_lines(
            &self.registered,
            &self.opened,
            [inner_verify_gas, verify_gas],
            &submitted,
            &claims,
        );
        gas.push(GasLine {
            step: "refund (expired request)".into(),
            gas: expired_refund.gas,
        });
        Ok(ChainStep {
            verifier_runtime_bytes: self.verifier_runtime_bytes,
            code_size_limit_lifted: self.code_size_limit_lifted,
            registered: self.registered.clone(),
            request: self.opened,
            submitted,
            claims,
            payouts,
            paid_total,
            gas,
            insecure_srs: self.insecure_srs,
            expired_refund,
        })
    }
}

/// `shares` as the registry takes them: owner, contributors, prover, treasury basis points.
pub fn shares_bps(shares: &RewardShares) -> anyhow::Result<[u16; 4]> {
    let bps = |b: u32| u16::try_from(b).context("a share over 10,000 bps");
    Ok([
        bps(shares.owner_bps)?,
        bps(shares.contributors_bps)?,
        bps(shares.prover_bps)?,
        bps(shares.treasury_bps)?,
    ])
}

/// One line per credit, with the amount claimed and the reason; checks each against `expected`.
fn payouts(
    submitted: &Submitted,
    claims: &[Claimed],
    proven: &ProvenAttribution,
    expected: &RewardSplit,
) -> anyhow::Result<Vec<Payout>> {
    let shares = &expected.shares;
    let pct = |bps: u32| f64::from(bps) / 100.0;
    let top_total: u128 = proven.top.iter().map(|e| e.score).sum();
    submitted
        .credits
        .iter()
        .map(|c| {
            let claimed = claims
                .iter()
                .find(|x| x.account == c.account)
                .map_or(U256::ZERO, |x| x.amount);
            let (reason, want) = match c.role.as_str() {
                "owner" => (format!("model owner, {}% of the fee", pct(shares.owner_bps)), expected.owner),
                "prover" => (
                    format!("named prover in the proof, {}% of the fee", pct(shares.prover_bps)),
                    expected.prover,
                ),
                "treasury" => (
                    format!(
                        "treasury, {}% of the fee + {} units of rounding dust",
                        pct(shares.treasury_bps),
                        expected.dust
                    ),
                    expected.treasury,
                ),
                _ => {
                    let mine: Vec<u128> = proven
                        .top
                        .iter()
                        .filter(|e| EvmAddress::from(e.contributor.0) == c.account)
                        .map(|e| e.score)
                        .collect();
                    let score: u128 = mine.iter().sum();
                    let want = expected
                        .contributors
                        .iter()
                        .find(|x| EvmAddress::from(x.contributor.0) == c.account)
                        .map_or(0, |x| x.amount);
                    (
                        format!(
                            "{} of the top-{} entries, score {score} = {:.1}% of the top-{} score, of the {}% contributors' pool",
                            mine.len(),
                            proven.top.len(),
                            100.0 * score as f64 / top_total.max(1) as f64,
                            proven.top.len(),
                            pct(shares.contributors_bps)
                        ),
                        want,
                    )
                }
            };
            ensure!(
                c.amount == U256::from(want),
                "{} {} was credited {}, the runtime's split says {want}",
                c.role,
                c.account,
                c.amount
            );
            Ok(Payout {
                account: c.account,
                role: c.role.clone(),
                amount: claimed,
                reason,
            })
        })
        .collect()
}

fn gas_lines(
    r: &Registered,
    o: &Opened,
    [inner_verify_gas, verify_gas]: [u64; 2],
    s: &Submitted,
    claims: &[Claimed],
) -> Vec<GasLine> {
    let g = &r.deployment.gas;
    let mut lines: Vec<(String, u64)> = vec![
        ("deploy OpenToken".into(), g.token),
        ("deploy DatanetRegistry".into(), g.datanets),
        ("deploy ModelRegistry".into(), g.models),
        ("deploy verifier".into(), g.verifier),
        ("deploy AttributionRewards".into(), g.rewards),
        ("createDatanet".into(), r.gas.create_datanet),
        ("sealVersion".into(), r.gas.seal_version),
        ("register model".into(), r.gas.register_model),
        ("approve".into(), o.approve_gas),
        ("openRequest".into(), o.open_gas),
        (
            "verifier call inside submit (trace)".into(),
            inner_verify_gas,
        ),
        (
            "verifier as its own transaction (estimate)".into(),
            verify_gas,
        ),
        (format!("submit (k={})", r.model.k), s.gas),
    ];
    lines.extend(
        claims
            .iter()
            .map(|c| (format!("claim {}", short(&c.account)), c.gas)),
    );
    lines
        .into_iter()
        .map(|(step, gas)| GasLine { step, gas })
        .collect()
}

fn short(a: &EvmAddress) -> String {
    a.to_string()[..10].to_string() + "…"
}

/// The verifier line: its size against the limit, and whether the limit was lifted.
pub fn verifier_text(runtime_bytes: usize) -> String {
    if runtime_bytes > MAX_RUNTIME_BYTES {
        format!(
            "Solidity verifier: {runtime_bytes}-byte runtime, OVER the {MAX_RUNTIME_BYTES}-byte EIP-170 limit: \
             it cannot be deployed on mainnet yet; the local anvil below runs with the limit LIFTED \
             (--disable-code-size-limit)"
        )
    } else {
        format!("Solidity verifier: {runtime_bytes}-byte runtime, within the {MAX_RUNTIME_BYTES}-byte EIP-170 limit")
    }
}

/// The line of the chain set-up step (deploy, register, open the request).
pub fn setup_text(c: &ChainStep) -> String {
    let r = &c.registered;
    let d = &r.deployment;
    let m = &r.model;
    format!(
        "local anvil (chain {}, stopped at the end{}): deployed OPEN {}, DatanetRegistry {}, ModelRegistry {}, \
         verifier {}, AttributionRewards {}\n      datanet {} v{} sealed under the index root; model {}registered \
         (owner {}, k = {}, {} public instances, shares {:?} bps); the requester paid {} OPEN → request nonce {}{}",
        d.chain_id,
        if c.code_size_limit_lifted { ", code-size limit LIFTED" } else { "" },
        d.token,
        d.datanets,
        d.models,
        d.verifier,
        d.rewards,
        r.datanet,
        r.version,
        if m.adapter_id.is_zero() {
            String::new()
        } else {
            format!("with adapter {:#x} ", m.adapter_id)
        },
        m.owner,
        m.k,
        m.num_instances,
        m.shares_bps,
        format_open(c.request.fee.to::<u128>()),
        c.request.nonce,
        if c.insecure_srs {
            "\n      keys from the INSECURE dev SRS: deployed and registered with --insecure (what \
             `poa chain deploy|register` require for such keys; test chains only)"
        } else {
            ""
        }
    )
}

/// The lines of the on-chain steps (submit, claims, gas).
pub fn text(c: &ChainStep) -> String {
    let d = &c.registered.deployment;
    let payouts: Vec<String> = c
        .payouts
        .iter()
        .map(|p| {
            format!(
                "{:<11} {} {:>22} OPEN  ({})",
                p.role,
                p.account,
                format_open(p.amount.to::<u128>()),
                p.reason
            )
        })
        .collect();
    let gas: Vec<String> = c
        .gas
        .iter()
        .map(|g| format!("{} {}", g.step, g.gas))
        .collect();
    format!(
        "submitted on-chain by {}: the verifier accepted it; nonce {} settled, {} credits; \
         every payee claimed (contributors' keys are not known here: anvil impersonated them)\n      {}\n      \
         total paid {} OPEN = the fee; rewards contract {} now holds 0\n      \
         a second request (nonce {}) went unanswered past its {} s deadline: its requester refunded {} OPEN \
         ({} gas); the contract holds 0\n      gas: {}",
        c.submitted.prover,
        c.submitted.nonce,
        c.submitted.credits.len(),
        payouts.join("\n      "),
        format_open(c.paid_total.to::<u128>()),
        d.rewards,
        c.expired_refund.nonce,
        c.expired_refund.ttl_secs,
        format_open(c.expired_refund.fee.to::<u128>()),
        c.expired_refund.gas,
        gas.join(", ")
    )
}
