//! A persistent in-process EVM (revm) with several accounts: deploy, call, commit — the real
//! compiled contracts, thousands of transactions a second, no node. Property tests run here;
//! anvil ([`crate::anvil`], [`crate::chain`]) is the real node for end-to-end checks.

use std::collections::HashMap;

use alloy::primitives::{Address, Bytes};
use revm::context::result::{ExecutionResult, Output};
use revm::context::TxEnv;
use revm::database::InMemoryDB;
use revm::handler::{MainnetContext, MainnetEvm};
use revm::primitives::TxKind;
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};

use crate::error::{ContractsError, Result};
use crate::evm::Limits;

/// One in-memory chain. Gas is free (price 0), so accounts need no ETH.
pub struct InProcess {
    evm: MainnetEvm<MainnetContext<InMemoryDB>>,
    nonces: HashMap<Address, u64>,
}

impl std::fmt::Debug for InProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcess").finish_non_exhaustive()
    }
}

impl InProcess {
    /// A fresh chain under `limits`.
    pub fn new(limits: Limits) -> Self {
        let evm = Context::mainnet()
            .with_db(InMemoryDB::default())
            .modify_cfg_chained(|cfg| {
                if limits == Limits::Unlimited {
                    cfg.limit_contract_code_size = Some(usize::MAX);
                    cfg.limit_contract_initcode_size = Some(usize::MAX);
                }
            })
            .build_mainnet();
        Self {
            evm,
            nonces: HashMap::new(),
        }
    }

    fn transact(&mut self, from: Address, kind: TxKind, data: Vec<u8>) -> Result<ExecutionResult> {
        let nonce = self.nonces.entry(from).or_insert(0);
        let tx = TxEnv {
            caller: from,
            gas_limit: 30_000_000,
            kind,
            data: Bytes::from(data),
            nonce: *nonce,
            ..Default::default()
        };
        let result = self.evm.transact_commit(tx).map_err(|e| match kind {
            TxKind::Create => ContractsError::Deploy(format!("{e:?}")),
            TxKind::Call(_) => ContractsError::Reverted {
                step: "in-process call",
                reason: format!("{e:?}"),
            },
        })?;
        *nonce += 1;
        Ok(result)
    }

    /// Deploys `creation_code` from `from`; returns the address and the gas.
    pub fn deploy(&mut self, from: Address, creation_code: Vec<u8>) -> Result<(Address, u64)> {
        match self.transact(from, TxKind::Create, creation_code)? {
            ExecutionResult::Success {
                output: Output::Create(_, Some(address)),
                gas_used,
                ..
            } => Ok((address, gas_used)),
            other => Err(ContractsError::Deploy(format!("{other:?}"))),
        }
    }

    /// Calls `to` with `data` from `from` and commits; returns the output and the gas, or the
    /// revert.
    pub fn call(&mut self, from: Address, to: Address, data: Vec<u8>) -> Result<(Vec<u8>, u64)> {
        match self.transact(from, TxKind::Call(to), data)? {
            ExecutionResult::Success {
                output, gas_used, ..
            } => Ok((output.into_data().to_vec(), gas_used)),
            ExecutionResult::Revert { output, gas_used } => Err(ContractsError::Reverted {
                step: "in-process call",
                reason: format!("after {gas_used} gas: 0x{}", hex::encode(output)),
            }),
            ExecutionResult::Halt { reason, gas_used } => Err(ContractsError::Reverted {
                step: "in-process call",
                reason: format!("halted ({reason:?}) after {gas_used} gas"),
            }),
        }
    }
}
