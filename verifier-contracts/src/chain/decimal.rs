//! `U256` values in JSON as decimal strings (OPEN amounts, nonces): alloy writes `U256` as hex;
//! people, and the CLI's other amounts, read decimal.

use alloy::primitives::U256;
use serde::{Deserialize, Deserializer, Serializer};

/// Writes `v` in decimal.
pub fn serialize<S: Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Reads a decimal string.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}
