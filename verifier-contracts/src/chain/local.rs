//! The whole system on a local anvil, with its dev accounts in every role: what `poa demo` and
//! the end-to-end tests run. Roles: dev account 0 deploys, owns the model registry, curates the
//! datanet and is the treasury; 1 owns the model; 2 requests; 3 proves; 4 is a third party that
//! submits someone else's proof. Payees without a known key (datanet contributors) claim through
//! anvil's impersonation.

use alloy::primitives::{Address, U256};
use serde::Serialize;

use super::{Chain, Deployment, Gas, ModelSpec};
use crate::anvil::Anvil;
use crate::error::Result;
use crate::project::Project;

/// OPEN minted at deployment: 1 billion, 18 decimals.
pub const SUPPLY: u128 = 1_000_000_000 * 10u128.pow(18);

/// One account per role.
#[derive(Clone, Debug)]
pub struct Actors {
    /// JSON-RPC URL.
    pub url: String,
    /// Deployer, model-registry owner, curator, treasury.
    pub deployer: Chain,
    /// Model owner.
    pub owner: Chain,
    /// Requester (pays the fee).
    pub requester: Chain,
    /// Prover (named in the proof, paid the prover share).
    pub prover: Chain,
    /// A third party that may submit a proof it did not make.
    pub other: Chain,
}

impl Actors {
    /// Anvil's dev accounts 0–4.
    pub fn of(anvil: &Anvil) -> Result<Self> {
        let url = anvil.url();
        let at = |i| Chain::connect(&url, anvil.dev_key(i)?);
        Ok(Self {
            deployer: at(0)?,
            owner: at(1)?,
            requester: at(2)?,
            prover: at(3)?,
            other: at(4)?,
            url,
        })
    }

    /// The accounts whose keys are known.
    fn known(&self) -> [&Chain; 5] {
        [
            &self.deployer,
            &self.owner,
            &self.requester,
            &self.prover,
            &self.other,
        ]
    }

    /// The account acting for `who`: its known key, else anvil impersonating it (`true`).
    pub async fn acting_as(&self, who: Address) -> Result<(Chain, bool)> {
        match self.known().into_iter().find(|c| c.address() == who) {
            Some(c) => Ok((c.clone(), false)),
            None => Ok((Chain::impersonate(&self.url, who).await?, true)),
        }
    }
}

/// A deployed system with one sealed datanet version and one registered model.
#[derive(Clone, Debug, Serialize)]
pub struct Registered {
    /// Addresses and deploy gas.
    pub deployment: Deployment,
    /// The datanet.
    pub datanet: U256,
    /// Its sealed version (1).
    pub version: U256,
    /// The registered model.
    pub model: ModelSpec,
    /// Gas of `createDatanet`, `sealVersion` and `register`.
    pub gas: RegisterGas,
}

/// Gas of the registration transactions.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RegisterGas {
    /// `DatanetRegistry.createDatanet`.
    pub create_datanet: Gas,
    /// `DatanetRegistry.sealVersion`.
    pub seal_version: Gas,
    /// `ModelRegistry.register`.
    pub register_model: Gas,
}

/// What a model registration needs besides the verifier address.
#[derive(Clone, Copy, Debug)]
pub struct ModelTerms {
    /// Model id (row 0).
    pub model_id: U256,
    /// Adapter id (row 1; 0 for a base model).
    pub adapter_id: U256,
    /// Entries published.
    pub k: u16,
    /// Public instances of a proof.
    pub num_instances: u32,
    /// Owner, contributors, prover, treasury shares in basis points.
    pub shares_bps: [u16; 4],
}

impl ModelTerms {
    /// The terms of `model`'s attribution proofs with top-`k` under `vis`: its public model and
    /// adapter ids, and the attributed instance layout's length.
    pub fn attributed(
        model: &poa_runtime::QModel,
        vis: &poa_circuits::Visibility,
        k: u16,
        shares_bps: [u16; 4],
    ) -> Self {
        use poa_circuits::attribution::{model_id, public_adapter_id};
        let fe = super::fr_to_u256;
        Self {
            model_id: fe(&model_id(model)),
            adapter_id: fe(&public_adapter_id(model, vis)),
            k,
            num_instances: poa_circuits::InstanceLayout::attributed(model, vis, usize::from(k))
                .len() as u32,
            shares_bps,
        }
    }
}

/// Deploys everything (the verifier from `verifier_creation`), seals datanet version 1 under
/// `index_root` and registers the model owned by [`Actors::owner`].
pub async fn deploy_and_register(
    actors: &Actors,
    project: &Project,
    verifier_creation: &[u8],
    index_root: U256,
    terms: ModelTerms,
) -> Result<Registered> {
    let d = &actors.deployer;
    let deployment = super::deploy(
        d,
        project,
        verifier_creation,
        U256::from(SUPPLY),
        d.address(),
    )
    .await?;
    let (datanet, create_datanet) = d.create_datanet(&deployment).await?;
    let version = U256::from(1);
    let seal_version = d
        .seal_version(&deployment, datanet, version, index_root)
        .await?;
    let model = ModelSpec {
        model_id: terms.model_id,
        adapter_id: terms.adapter_id,
        owner: actors.owner.address(),
        verifier: deployment.verifier,
        k: terms.k,
        num_instances: terms.num_instances,
        shares_bps: terms.shares_bps,
        datanet_id: datanet,
        pinned_root: U256::ZERO,
    };
    let register_model = d.register_model(&deployment, &model).await?;
    Ok(Registered {
        deployment,
        datanet,
        version,
        model,
        gas: RegisterGas {
            create_datanet,
            seal_version,
            register_model,
        },
    })
}

/// A paid request: its nonce and the gas of funding, approving and opening it.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Opened {
    /// The nonce the proof must carry.
    #[serde(with = "super::decimal")]
    pub nonce: U256,
    /// The fee paid (OPEN base units).
    #[serde(with = "super::decimal")]
    pub fee: U256,
    /// `approve`.
    pub approve_gas: Gas,
    /// `openRequest`.
    pub open_gas: Gas,
}

/// The deployer funds the requester with `fee`, who approves and opens a request for the model
/// binding no input (commitment 0: the proof publishes none), settleable for a day.
pub async fn open_paid_request(actors: &Actors, r: &Registered, fee: U256) -> Result<Opened> {
    open_paid_request_with(actors, r, fee, U256::ZERO, super::DEFAULT_TTL_SECS).await
}

/// [`open_paid_request`] for the input committed by `input_commitment`, settleable for
/// `ttl_secs` seconds.
pub async fn open_paid_request_with(
    actors: &Actors,
    r: &Registered,
    fee: U256,
    input_commitment: U256,
    ttl_secs: u64,
) -> Result<Opened> {
    let d = &r.deployment;
    actors
        .deployer
        .transfer(d, actors.requester.address(), fee)
        .await?;
    let approve_gas = actors.requester.approve(d, fee).await?;
    let (nonce, open_gas) = actors
        .requester
        .open_request(
            d,
            r.model.model_id,
            r.model.adapter_id,
            r.datanet,
            r.version,
            fee,
            input_commitment,
            ttl_secs,
        )
        .await?;
    Ok(Opened {
        nonce,
        fee,
        approve_gas,
        open_gas,
    })
}

/// One payee's claim.
#[derive(Clone, Debug, Serialize)]
pub struct Claimed {
    /// Who claimed.
    pub account: Address,
    /// OPEN received.
    #[serde(with = "super::decimal")]
    pub amount: U256,
    /// Gas of the claim.
    pub gas: Gas,
    /// True when anvil signed for the account (its key is not known here).
    pub impersonated: bool,
}

/// Every account with a credited balance in `accounts` claims it.
pub async fn claim_all(
    actors: &Actors,
    d: &Deployment,
    accounts: &[Address],
) -> Result<Vec<Claimed>> {
    let mut out = Vec::new();
    for &who in accounts {
        let (chain, impersonated) = actors.acting_as(who).await?;
        if chain.credited(d, who).await?.is_zero() {
            continue;
        }
        let (amount, gas) = chain.claim(d).await?;
        out.push(Claimed {
            account: who,
            amount,
            gas,
            impersonated,
        });
    }
    Ok(out)
}
