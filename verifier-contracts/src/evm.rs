//! An in-process EVM (revm) for tests, gas figures and `poa evm-verify`: deploy a contract,
//! call it, report gas — with mainnet's contract-size limits, or without them to measure a
//! contract that is still too large to deploy.

use alloy::primitives::Address;
use halo2curves::bn256::Fr;
use snark_verifier_sdk::snark_verifier::loader::evm::encode_calldata;

use crate::error::{ContractsError, Result};
use crate::inprocess::InProcess;

/// Calldata of the generated verifier: each instance as 32 big-endian bytes, then the proof.
pub fn calldata(instances: &[Fr], proof: &[u8]) -> Vec<u8> {
    encode_calldata(&[instances.to_vec()], proof)
}

/// Which contract-size rules the EVM applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limits {
    /// Mainnet: runtime code ≤ 24,576 bytes (EIP-170), init code ≤ 49,152 (EIP-3860).
    Mainnet,
    /// No size limits: measures gas of a contract that could not be deployed yet.
    Unlimited,
}

/// Gas of one deployment and one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gas {
    /// Deployment transaction gas.
    pub deploy: u64,
    /// Call transaction gas (includes the 21,000 base and the calldata cost).
    pub call: u64,
}

/// Deploys `creation_code` in a fresh in-memory EVM and calls it with `calldata`; returns the gas
/// of both, or why deployment failed or the call reverted.
pub fn deploy_and_call(creation_code: &[u8], calldata: Vec<u8>, limits: Limits) -> Result<Gas> {
    let mut evm = InProcess::new(limits);
    let (contract, deploy) = evm.deploy(Address::ZERO, creation_code.to_vec())?;
    // Any revert or halt of the verifier is its rejection of the proof.
    let (_, call) = evm
        .call(Address::ZERO, contract, calldata)
        .map_err(|e| match e {
            ContractsError::Reverted { reason, .. } => ContractsError::Rejected(reason),
            other => other,
        })?;
    Ok(Gas { deploy, call })
}
