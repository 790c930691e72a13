//! An in-process EVM (revm) for tests, gas figures and `poa evm-verify`: deploy a contract,
//! call it, report gas — with mainnet's contract-size limits, or without them to measure a
//! contract that is still too large to deploy.

use halo2curves::bn256::Fr;
use revm::context::result::{ExecutionResult, Output};
use revm::context::TxEnv;
use revm::database::InMemoryDB;
use revm::primitives::TxKind;
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};
use snark_verifier_sdk::snark_verifier::loader::evm::encode_calldata;

use crate::error::{ContractsError, Result};

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
    let mut evm = Context::mainnet()
        .with_db(InMemoryDB::default())
        .modify_cfg_chained(|cfg| {
            if limits == Limits::Unlimited {
                cfg.limit_contract_code_size = Some(usize::MAX);
                cfg.limit_contract_initcode_size = Some(usize::MAX);
            }
        })
        .build_mainnet();
    let deploy = TxEnv {
        gas_limit: 30_000_000,
        kind: TxKind::Create,
        data: creation_code.to_vec().into(),
        ..Default::default()
    };
    let deployed = evm
        .transact_commit(deploy)
        .map_err(|e| ContractsError::Deploy(format!("{e:?}")))?;
    let (contract, deploy_gas) = match deployed {
        ExecutionResult::Success {
            output: Output::Create(_, Some(address)),
            gas_used,
            ..
        } => (address, gas_used),
        other => return Err(ContractsError::Deploy(format!("{other:?}"))),
    };
    let call = TxEnv {
        gas_limit: 30_000_000,
        kind: TxKind::Call(contract),
        data: calldata.into(),
        nonce: 1,
        ..Default::default()
    };
    match evm
        .transact_commit(call)
        .map_err(|e| ContractsError::Rejected(format!("{e:?}")))?
    {
        ExecutionResult::Success { gas_used, .. } => Ok(Gas {
            deploy: deploy_gas,
            call: gas_used,
        }),
        ExecutionResult::Revert { gas_used, .. } => Err(ContractsError::Rejected(format!(
            "reverted after {gas_used} gas"
        ))),
        ExecutionResult::Halt { reason, gas_used } => Err(ContractsError::Rejected(format!(
            "halted ({reason:?}) after {gas_used} gas"
        ))),
    }
}
