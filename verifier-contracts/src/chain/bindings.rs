//! alloy `sol!` bindings of our contracts, generated from the ABI committed under `abi/` (which a
//! test keeps equal to the ABI solc compiles from `contracts/`: `tests/bindings.rs`). `rpc` gives
//! each contract an instance type whose methods build calls and transactions; `abi` exposes the
//! ABI the bindings were generated from, for that test.
//!
//! The generated verifier has no ABI (no selector: calldata = instances ‖ proof), so it has no
//! binding; [`crate::chain::Chain::verify_gas`] calls it raw.

// Generated items: they mirror the Solidity NatSpec, not Rust docs, and take one Rust argument
// per Solidity parameter.
#![allow(missing_docs, clippy::too_many_arguments)]

use alloy::sol;

sol!(
    #[sol(rpc, abi)]
    #[derive(Debug)]
    OpenToken,
    "abi/OpenToken.json"
);

sol!(
    #[sol(rpc, abi)]
    #[derive(Debug)]
    DatanetRegistry,
    "abi/DatanetRegistry.json"
);

sol!(
    #[sol(rpc, abi)]
    #[derive(Debug)]
    ModelRegistry,
    "abi/ModelRegistry.json"
);

sol!(
    #[sol(rpc, abi)]
    #[derive(Debug)]
    AttributionRewards,
    "abi/AttributionRewards.json"
);
