//! Helpers shared by the CLI test binaries.
#![allow(dead_code)]

use serde_json::Value;

/// A token amount as the JSON output writes it (a decimal string).
pub fn amount(x: &Value) -> u128 {
    x.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("amount string, got {x}"))
}

/// What a reward split (`"reward"` in `poa attribute`/`poa demo` JSON) pays out in total:
/// owner + prover + treasury + every contributor.
pub fn paid_out(w: &Value) -> u128 {
    amount(&w["owner"])
        + amount(&w["prover"])
        + amount(&w["treasury"])
        + w["contributors"]
            .as_array()
            .expect("contributors")
            .iter()
            .map(|c| amount(&c["amount"]))
            .sum::<u128>()
}
