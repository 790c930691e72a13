//! # poa-contracts
//!
//! The on-chain side of OpenPoA, from Rust: the Solidity verifier of a verifying key
//! ([`verifier::solidity_verifier`], snark-verifier's EVM loader), compiled with the pinned
//! solcjs from npm ([`solc`], no native `solc` needed), and run in an in-process EVM
//! ([`evm`], revm) to check proofs and measure gas; our contracts ([`project`]: OPEN, the
//! registries, attribution rewards) compiled the same way, and driven on a real chain through
//! alloy ([`chain`]: deploy, register, request, submit, claim), e.g. a local [`anvil`].
//!
//! The generated verifier has no function selector: its calldata is the public instances (32
//! bytes each, big-endian) followed by the proof bytes ([`evm::calldata`]); it returns nothing on
//! success and reverts on a bad proof.

#![deny(missing_docs)]

pub mod anvil;
pub mod chain;
pub mod error;
pub mod evm;
pub mod inprocess;
pub mod project;
pub mod solc;
pub mod verifier;

pub use error::{ContractsError, Result};

/// Largest runtime bytecode a contract may deploy (EIP-170).
pub const MAX_RUNTIME_BYTES: usize = 24_576;
