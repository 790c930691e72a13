//! Deploying the system: OPEN (whole supply to the deployer), the datanet and model registries
//! (the deployer owns the model registry), the generated proof verifier and the rewards contract.

use alloy::contract::RawCallBuilder;
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolConstructor;
use serde::{Deserialize, Serialize};

use super::bindings::{AttributionRewards, ModelRegistry, OpenToken};
use super::{chain_err, confirmed, Chain, Gas};
use crate::error::{ContractsError, Result};
use crate::project::Project;

/// Addresses of a deployed system and what deploying it cost (what `poa chain` keeps in its
/// state file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// Chain id the contracts live on.
    pub chain_id: u64,
    /// Deployer: holds the initial OPEN supply and owns the model registry.
    pub deployer: Address,
    /// Receives the treasury share and every rounding remainder.
    pub treasury: Address,
    /// OPEN token.
    pub token: Address,
    /// Datanet registry.
    pub datanets: Address,
    /// Model registry.
    pub models: Address,
    /// Attribution rewards.
    pub rewards: Address,
    /// The generated proof verifier.
    pub verifier: Address,
    /// Runtime bytecode size of the verifier (EIP-170 allows 24,576 bytes on mainnet).
    pub verifier_runtime_bytes: usize,
    /// Gas of each deployment.
    pub gas: DeployGas,
}

/// Gas of each deployment transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployGas {
    /// OpenToken.
    pub token: Gas,
    /// DatanetRegistry.
    pub datanets: Gas,
    /// ModelRegistry.
    pub models: Gas,
    /// The verifier.
    pub verifier: Gas,
    /// AttributionRewards.
    pub rewards: Gas,
}

/// Deploys the system from `chain`'s account: OPEN with `supply` (base units) minted to it, the
/// registries, the verifier from its creation code, and the rewards contract paying `treasury`.
pub async fn deploy(
    chain: &Chain,
    project: &Project,
    verifier_creation: &[u8],
    supply: U256,
    treasury: Address,
) -> Result<Deployment> {
    let me = chain.address();
    let with_args = |name: &str, args: Vec<u8>| -> Result<Vec<u8>> {
        Ok([project.get(name)?.bytecode.clone(), args].concat())
    };
    let token_code = with_args(
        "OpenToken",
        OpenToken::constructorCall {
            holder: me,
            initialSupply: supply,
        }
        .abi_encode(),
    )?;
    let (token, token_gas) = create(chain, "deploy OpenToken", token_code).await?;
    let (datanets, datanets_gas) = create(
        chain,
        "deploy DatanetRegistry",
        with_args("DatanetRegistry", Vec::new())?,
    )
    .await?;
    let models_code = with_args(
        "ModelRegistry",
        ModelRegistry::constructorCall { initialOwner: me }.abi_encode(),
    )?;
    let (models, models_gas) = create(chain, "deploy ModelRegistry", models_code).await?;
    let (verifier, verifier_gas) =
        create(chain, "deploy verifier", verifier_creation.to_vec()).await?;
    let rewards_code = with_args(
        "AttributionRewards",
        AttributionRewards::constructorCall {
            token_: token,
            models_: models,
            datanets_: datanets,
            treasury_: treasury,
        }
        .abi_encode(),
    )?;
    let (rewards, rewards_gas) = create(chain, "deploy AttributionRewards", rewards_code).await?;
    let verifier_runtime_bytes = chain
        .provider()
        .get_code_at(verifier)
        .await
        .map_err(|e| chain_err("verifier code", e))?
        .len();
    Ok(Deployment {
        chain_id: chain.chain_id().await?,
        deployer: me,
        treasury,
        token,
        datanets,
        models,
        rewards,
        verifier,
        verifier_runtime_bytes,
        gas: DeployGas {
            token: token_gas,
            datanets: datanets_gas,
            models: models_gas,
            verifier: verifier_gas,
            rewards: rewards_gas,
        },
    })
}

/// Sends a contract creation; returns the new address and the gas used.
async fn create(chain: &Chain, step: &'static str, code: Vec<u8>) -> Result<(Address, Gas)> {
    let deploy =
        RawCallBuilder::new_raw_deploy(chain.provider().clone(), code.into()).from(chain.address());
    let receipt = confirmed(step, deploy.send().await).await?;
    let address = receipt.contract_address.ok_or(ContractsError::Chain {
        step,
        reason: "the receipt names no contract address".into(),
    })?;
    Ok((address, receipt.gas_used))
}
