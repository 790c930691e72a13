//! Our Solidity contracts (`contracts/*.sol`), compiled at run time with the solcjs that forge's
//! `bin/solc` shim runs (0.8.28) and forge's settings (`foundry.toml`: optimizer 200 runs,
//! `cancun`), OpenZeppelin imports read from `node_modules`. The sources are embedded in the
//! binary, so the bytecode deployed is always that of the sources the crate was built with; the
//! output is cached by [`solc::standard_json`](crate::solc::standard_json).
//!
//! The ABI of each contract is also committed under `abi/` (the `sol!` bindings in
//! [`crate::chain::bindings`] are generated from it); a test compiles the sources and fails when
//! the committed ABI drifts from the compiled one.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::error::{ContractsError, Result};
use crate::solc::{contract_from, standard_json, Compiled};

/// The npm alias of the compiler (the forge shim's `solc-0.8.28`).
pub const PROJECT_SOLC: &str = "solc-0.8.28";

/// The deployed contracts, in deployment order.
pub const CONTRACTS: [&str; 4] = [
    "OpenToken",
    "DatanetRegistry",
    "ModelRegistry",
    "AttributionRewards",
];

/// The forge tests' stand-in verifier (accepts exactly the calldata hashes committed to it):
/// TEST ONLY, compiled by [`Project::compile_with_test_only`] for in-process property tests.
pub const TEST_ONLY_VERIFIER: &str = "TestOnlyHashVerifier";

/// Source file name (as solc and forge name it) → contents.
const SOURCES: [(&str, &str); 4] = [
    (
        "contracts/OpenToken.sol",
        include_str!("../contracts/OpenToken.sol"),
    ),
    (
        "contracts/DatanetRegistry.sol",
        include_str!("../contracts/DatanetRegistry.sol"),
    ),
    (
        "contracts/ModelRegistry.sol",
        include_str!("../contracts/ModelRegistry.sol"),
    ),
    (
        "contracts/AttributionRewards.sol",
        include_str!("../contracts/AttributionRewards.sol"),
    ),
];

const TEST_ONLY_SOURCE: (&str, &str) = (
    "contracts/test/utils/TestOnlyHashVerifier.sol",
    include_str!("../contracts/test/utils/TestOnlyHashVerifier.sol"),
);

/// Compiled contracts by name.
#[derive(Clone, Debug)]
pub struct Project {
    contracts: BTreeMap<String, Compiled>,
}

impl Project {
    /// Compiles [`CONTRACTS`].
    pub fn compile() -> Result<Self> {
        Self::compile_sources(&SOURCES)
    }

    /// Compiles [`CONTRACTS`] and the TEST-ONLY [`TEST_ONLY_VERIFIER`].
    pub fn compile_with_test_only() -> Result<Self> {
        let mut sources = SOURCES.to_vec();
        sources.push(TEST_ONLY_SOURCE);
        Self::compile_sources(&sources)
    }

    fn compile_sources(sources: &[(&str, &str)]) -> Result<Self> {
        let input = json!({
            "language": "Solidity",
            "sources": sources
                .iter()
                .map(|(file, text)| (file.to_string(), json!({ "content": text })))
                .collect::<serde_json::Map<String, Value>>(),
            "settings": {
                "optimizer": { "enabled": true, "runs": 200 },
                "evmVersion": "cancun",
                "outputSelection": { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } }
            }
        });
        let output = standard_json(PROJECT_SOLC, &input)?;
        let contracts = sources
            .iter()
            .map(|(file, _)| {
                let name = contract_name(file);
                Ok((name.to_string(), contract_from(&output, file, name)?))
            })
            .collect::<Result<_>>()?;
        Ok(Self { contracts })
    }

    /// The compiled contract `name`.
    pub fn get(&self, name: &str) -> Result<&Compiled> {
        self.contracts
            .get(name)
            .ok_or_else(|| ContractsError::Compile {
                contract: name.into(),
                errors: "not among the compiled contracts".into(),
            })
    }
}

/// `contracts/X.sol` → `X` (each file holds the contract of its name).
fn contract_name(file: &str) -> &str {
    let base = file.rsplit('/').next().unwrap_or(file);
    base.strip_suffix(".sol").unwrap_or(base)
}
