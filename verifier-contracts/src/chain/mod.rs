//! The contracts on a real chain, through alloy: deploy the system ([`deploy`]), register a
//! datanet version and a model, open a paid request, submit a proof, claim ([`ops`]). Every
//! transaction returns its receipt's gas; a revert is an error naming the step and the decoded
//! custom error (`InvalidProof`, `AlreadyPaid(7)` …).
//!
//! A [`Chain`] is one account on one JSON-RPC endpoint: a local key signs its transactions, or —
//! on anvil only — the node signs for an impersonated address ([`Chain::impersonate`]), which the
//! demo uses to claim for datanet contributors whose keys it does not hold.

pub mod bindings;
pub mod decimal;
pub mod deploy;
pub mod local;
pub mod ops;

use std::borrow::Cow;

use alloy::contract::Error as CallError;
use alloy::primitives::{Address, U256};
use alloy::providers::fillers::{
    ChainIdFiller, GasFiller, JoinFill, NonceFiller, SimpleNonceManager,
};
use alloy::providers::network::Ethereum;
use alloy::providers::{
    DynProvider, Identity, PendingTransactionBuilder, Provider, ProviderBuilder,
};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use halo2curves::bn256::Fr;
use halo2curves::ff::PrimeField;

use crate::error::{ContractsError, Result};
use bindings::{AttributionRewards, DatanetRegistry, ModelRegistry, OpenToken};

pub use deploy::{deploy, DeployGas, Deployment};
pub use ops::{Credit, ModelSpec, SubmitStatus, Submitted};

/// One account on one chain endpoint.
#[derive(Clone)]
pub struct Chain {
    provider: DynProvider,
    from: Address,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("from", &self.from).finish()
    }
}

/// Gas of one transaction, from its receipt.
pub type Gas = u64;

fn rpc_url(url: &str) -> Result<alloy::transports::http::reqwest::Url> {
    url.parse().map_err(|e| ContractsError::Chain {
        step: "connect",
        reason: format!("RPC URL `{url}`: {e}"),
    })
}

type Fillers = JoinFill<
    JoinFill<JoinFill<Identity, GasFiller>, NonceFiller<SimpleNonceManager>>,
    ChainIdFiller,
>;

/// alloy's recommended fillers, but with the nonce read from the node for every transaction: the
/// default cached nonce manager counts a nonce for a transaction whose gas estimation reverted
/// (never sent), and every later transaction of the account then waits forever behind the gap.
fn builder() -> ProviderBuilder<Identity, Fillers> {
    ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
}

impl Chain {
    /// Connects to `url` with transactions signed by `signer`.
    pub fn connect(url: &str, signer: PrivateKeySigner) -> Result<Self> {
        let from = signer.address();
        let provider = builder()
            .wallet(signer)
            .connect_http(rpc_url(url)?)
            .erased();
        Ok(Self { provider, from })
    }

    /// ANVIL ONLY: acts as `account` without its key — the node is told to sign for it
    /// (`anvil_impersonateAccount`) and funds it with 1 ETH for gas (`anvil_setBalance`).
    pub async fn impersonate(url: &str, account: Address) -> Result<Self> {
        let provider = builder().connect_http(rpc_url(url)?).erased();
        let step = "impersonate";
        provider
            .raw_request::<_, ()>(Cow::Borrowed("anvil_impersonateAccount"), (account,))
            .await
            .map_err(|e| chain_err(step, e))?;
        provider
            .raw_request::<_, ()>(
                Cow::Borrowed("anvil_setBalance"),
                (account, U256::from(10u128.pow(18))),
            )
            .await
            .map_err(|e| chain_err(step, e))?;
        Ok(Self {
            provider,
            from: account,
        })
    }

    /// The account transactions are sent from.
    pub fn address(&self) -> Address {
        self.from
    }

    /// The provider (for reads the helpers do not cover).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The chain id.
    pub async fn chain_id(&self) -> Result<u64> {
        self.provider
            .get_chain_id()
            .await
            .map_err(|e| chain_err("chain id", e))
    }
}

fn chain_err(step: &'static str, e: impl std::fmt::Display) -> ContractsError {
    ContractsError::Chain {
        step,
        reason: e.to_string(),
    }
}

/// A call error, with a revert decoded against every contract's custom errors.
fn call_err(step: &'static str, e: CallError) -> ContractsError {
    let decoded = e
        .as_decoded_interface_error::<AttributionRewards::AttributionRewardsErrors>()
        .map(|x| format!("{x:?}"))
        .or_else(|| {
            e.as_decoded_interface_error::<ModelRegistry::ModelRegistryErrors>()
                .map(|x| format!("{x:?}"))
        })
        .or_else(|| {
            e.as_decoded_interface_error::<DatanetRegistry::DatanetRegistryErrors>()
                .map(|x| format!("{x:?}"))
        })
        .or_else(|| {
            e.as_decoded_interface_error::<OpenToken::OpenTokenErrors>()
                .map(|x| format!("{x:?}"))
        });
    match decoded {
        Some(reason) => ContractsError::Reverted { step, reason },
        None => chain_err(step, e),
    }
}

/// The receipt of a sent transaction once mined; an error when it could not be sent (a revert
/// at gas estimation, decoded) or reverted on-chain.
async fn confirmed(
    step: &'static str,
    sent: std::result::Result<PendingTransactionBuilder<Ethereum>, CallError>,
) -> Result<TransactionReceipt> {
    let receipt = sent
        .map_err(|e| call_err(step, e))?
        .get_receipt()
        .await
        .map_err(|e| chain_err(step, e))?;
    if receipt.status() {
        Ok(receipt)
    } else {
        Err(ContractsError::Reverted {
            step,
            reason: format!("transaction {} reverted", receipt.transaction_hash),
        })
    }
}

/// A BN254 scalar (a public instance) as the `uint256` the contracts read.
pub fn fr_to_u256(f: &Fr) -> U256 {
    U256::from_le_bytes(f.to_repr())
}

/// A `uint256` as a BN254 scalar; `None` when it is not below the field modulus.
pub fn u256_to_fr(u: U256) -> Option<Fr> {
    Option::from(Fr::from_repr(u.to_le_bytes::<32>()))
}

/// The BN254 scalar field modulus r (`AttributionRewards.FIELD_MODULUS`).
pub const FIELD_MODULUS: U256 = alloy::primitives::uint!(
    21888242871839275222246405745257275088548364400416034343698204186575808495617_U256
);

/// How long `poa chain request` and the demo's requests stay settleable (then refundable): a day.
pub const DEFAULT_TTL_SECS: u64 = 86_400;

/// The public nonce of the `counter`-th request (counters start at 1) of the rewards contract
/// at `rewards` on chain `chain_id`: `keccak256(abi.encode(chainid, rewards, counter)) mod r`,
/// exactly `AttributionRewards.nonceAt`. Binding the chain and the deployment keeps a proof
/// made for one deployment from answering a request of another; reducing below r keeps it a
/// public instance.
pub fn request_nonce(chain_id: u64, rewards: Address, counter: U256) -> U256 {
    use alloy::sol_types::SolValue;
    let word = alloy::primitives::keccak256((U256::from(chain_id), rewards, counter).abi_encode());
    U256::from_be_bytes(word.0) % FIELD_MODULUS
}

/// Public instances as the `uint256[]` of `AttributionRewards.submit`.
pub fn instances_to_u256(instances: &[Fr]) -> Vec<U256> {
    instances.iter().map(fr_to_u256).collect()
}
