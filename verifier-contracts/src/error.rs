//! Errors of verifier generation, compilation and EVM execution.

use thiserror::Error;

/// What went wrong on the contract side.
#[derive(Debug, Error)]
pub enum ContractsError {
    /// The npm toolchain could not be installed or run.
    #[error("solcjs toolchain: {0}")]
    Toolchain(String),
    /// solc reported errors.
    #[error("solc rejected {contract}: {errors}")]
    Compile {
        /// Source file compiled.
        contract: String,
        /// solc's error messages.
        errors: String,
    },
    /// The runtime bytecode is over the EIP-170 limit.
    #[error(
        "the verifier's runtime bytecode is {size} bytes, over the {limit}-byte contract limit: \
         the circuit has too many columns/evaluations for one contract"
    )]
    TooLarge {
        /// Runtime size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Deployment failed.
    #[error("deploying the verifier failed: {0}")]
    Deploy(String),
    /// The verifier rejected the proof (reverted).
    #[error("the EVM verifier rejected the proof: {0}")]
    Rejected(String),
    /// A chain call failed (connection, RPC, signing, missing receipt data).
    #[error("{step}: {reason}")]
    Chain {
        /// What was being done (`deploy OpenToken`, `submit` …).
        step: &'static str,
        /// Why.
        reason: String,
    },
    /// A transaction or call reverted; `reason` is the decoded custom error when there is one.
    #[error("{step} reverted: {reason}")]
    Reverted {
        /// What was being done.
        step: &'static str,
        /// The decoded revert (`InvalidProof`, `AlreadyPaid { nonce: 1 }` …) or the raw error.
        reason: String,
    },
    /// Files.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// Result with [`ContractsError`].
pub type Result<T> = std::result::Result<T, ContractsError>;
