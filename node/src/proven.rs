//! The attribution a proof publishes, read back from its public instances (the header of
//! [`poa_circuits::instances`]) into the types a user reads: addresses, integers, hex.

use anyhow::{bail, Context};
use poa_circuits::{AttributionPublic, Fr};
use poa_prover::artifact::{fr_from_hex, fr_to_hex};
use poa_runtime::datanet::Address;
use serde::Serialize;

/// One published `(contributor, score)`.
#[derive(Clone, Debug, Serialize)]
pub struct ProvenEntry {
    /// Contributor address.
    pub contributor: Address,
    /// Score v1.
    pub score: u128,
}

/// The attribution header of a proof, decoded.
#[derive(Clone, Debug, Serialize)]
pub struct ProvenAttribution {
    /// Model id (0x-hex).
    pub model_id: String,
    /// Adapter id (0x-hex; zero: the base model).
    pub adapter_id: String,
    /// Input commitment (0x-hex; zero unless the input is `hashed`).
    pub input_commitment: String,
    /// Predicted class.
    pub predicted_class: u128,
    /// Index root (0x-hex).
    pub index_root: String,
    /// Request nonce (decimal below 2^128, else 0x-hex).
    pub nonce: String,
    /// Address paid for proving.
    pub prover: Address,
    /// The top-k, best first.
    pub top: Vec<ProvenEntry>,
}

/// A field element holding an integer below 2^128.
fn small(f: &Fr, what: &str) -> anyhow::Result<u128> {
    let hex = fr_to_hex(f);
    let digits = &hex[2..];
    if !digits[..32].bytes().all(|b| b == b'0') {
        bail!("public {what} {hex} is not a 128-bit integer");
    }
    Ok(u128::from_str_radix(&digits[32..], 16)?)
}

/// A field element holding a 20-byte address.
fn address(f: &Fr, what: &str) -> anyhow::Result<Address> {
    let hex = fr_to_hex(f);
    let digits = &hex[2..];
    if !digits[..24].bytes().all(|b| b == b'0') {
        bail!("public {what} {hex} is not an address");
    }
    format!("0x{}", &digits[24..])
        .parse()
        .with_context(|| format!("public {what}"))
}

impl ProvenAttribution {
    /// Decodes the header of `instances` for `k` published entries.
    pub fn decode(instances: &[Fr], k: usize) -> anyhow::Result<Self> {
        let p = AttributionPublic::decode(instances, k).with_context(|| {
            format!(
                "{} public instances hold no top-{k} header",
                instances.len()
            )
        })?;
        Ok(Self {
            model_id: fr_to_hex(&p.model_id),
            adapter_id: fr_to_hex(&p.adapter_id),
            input_commitment: fr_to_hex(&p.input_commitment),
            predicted_class: small(&p.class, "class")?,
            index_root: fr_to_hex(&p.index_root),
            nonce: poa_contracts::chain::fr_to_u256(&p.nonce).to_string(),
            prover: address(&p.prover, "prover")?,
            top: p
                .top
                .iter()
                .map(|(c, s)| {
                    Ok(ProvenEntry {
                        contributor: address(c, "contributor")?,
                        score: small(s, "score")?,
                    })
                })
                .collect::<anyhow::Result<_>>()?,
        })
    }

    /// One line: class, nonce, prover and the top entries.
    pub fn text(&self) -> String {
        let top: Vec<String> = self
            .top
            .iter()
            .map(|e| format!("{}…={}", &e.contributor.to_string()[..10], e.score))
            .collect();
        format!(
            "class {}, nonce {}, prover {}, index root {}…, top-{}: {}",
            self.predicted_class,
            self.nonce,
            self.prover,
            &self.index_root[..18],
            self.top.len(),
            top.join(" ")
        )
    }
}

/// Parses a request nonce: a decimal integer or 0x-hex of at most 64 digits, below the field
/// modulus (on-chain nonces are `keccak256(chainid, rewards, counter) mod r`: full-size).
pub fn parse_nonce(s: &str) -> Result<Fr, String> {
    if let Some(digits) = s.strip_prefix("0x") {
        if digits.is_empty() || digits.len() > 64 {
            return Err(format!("nonce `{s}`: 1 to 64 hex digits after 0x"));
        }
        return fr_from_hex(&format!("0x{digits:0>64}"))
            .ok_or_else(|| format!("nonce `{s}` is not hex below the BN254 scalar modulus"));
    }
    alloy::primitives::U256::from_str_radix(s, 10)
        .ok()
        .filter(|_| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(poa_contracts::chain::u256_to_fr)
        .ok_or_else(|| {
            format!("nonce `{s}`: not a decimal integer below the BN254 scalar modulus, or 0x-hex")
        })
}
