//! Keys, proofs and native verification for the narrow layout ([`poa_circuits::narrow`]): the
//! one-advice-column circuits whose Solidity verifier fits one contract. Same SRS, same SHPLONK
//! + Keccak transcript as the wide layout, so the same EVM verifier generator and calldata serve.

use halo2_proofs::plonk::{keygen_pk, keygen_vk, ProvingKey, VerifyingKey};
use halo2curves::bn256::{Fr, G1Affine};
use poa_circuits::{NarrowCircuit, NarrowShape, Statement, Visibility};
use poa_runtime::{QModel, Trace};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::error::{ProverError, Result};
use crate::keygen::check_srs_k;
use crate::prove::keccak_proof;
use crate::srs::Srs;
use crate::verify::verify_keccak;

/// A narrow circuit's proving key and the shape it was made for.
pub struct NarrowKeys {
    /// The halo2 proving key (its verifying key inside).
    pub pk: ProvingKey<G1Affine>,
    /// k, columns and break points: a proof must be laid out in exactly this shape.
    pub shape: NarrowShape,
    /// Public instances a proof carries.
    pub instances: usize,
}

impl NarrowKeys {
    /// The verifying key.
    pub fn vk(&self) -> &VerifyingKey<G1Affine> {
        self.pk.get_vk()
    }

    /// k of the circuit.
    pub fn k(&self) -> u32 {
        self.shape.params.k as u32
    }
}

/// The `k` the narrow circuit of `statement` needs (so the SRS can be downsized to it first).
pub fn narrow_k(model: &QModel, vis: Visibility, statement: Statement<'_>) -> Result<u32> {
    Ok(NarrowCircuit::keygen(model, vis, statement)?.k())
}

/// Generates the keys of the narrow circuit of `statement`; `srs` must have exactly its `k`
/// ([`narrow_k`]).
pub fn keygen_narrow(
    srs: &Srs,
    model: &QModel,
    vis: Visibility,
    statement: Statement<'_>,
) -> Result<NarrowKeys> {
    let c = NarrowCircuit::keygen(model, vis, statement)?;
    check_srs_k(srs, c.k())?;
    let halo2 = |source| ProverError::Halo2 {
        stage: "keygen",
        source,
    };
    let instances = c.instances().len();
    let circuit = c.circuit();
    let vk = keygen_vk(srs.params(), circuit).map_err(halo2)?;
    let pk = keygen_pk(srs.params(), vk, circuit).map_err(halo2)?;
    Ok(NarrowKeys {
        pk,
        shape: c.shape(),
        instances,
    })
}

/// Proves `statement` for `trace` with narrow keys; returns the public instances and the proof.
pub fn prove_narrow(
    srs: &Srs,
    keys: &NarrowKeys,
    model: &QModel,
    trace: &Trace,
    vis: Visibility,
    statement: Statement<'_>,
) -> Result<(Vec<Fr>, Vec<u8>)> {
    check_srs_k(srs, keys.k())?;
    let c = NarrowCircuit::prover(model, trace, vis, statement, &keys.shape)?;
    if c.instances().len() != keys.instances {
        return Err(ProverError::InstanceCount {
            expected: keys.instances,
            found: c.instances().len(),
        });
    }
    let instances = c.instances().to_vec();
    let bytes = keccak_proof(
        srs,
        &keys.pk,
        &c.into_circuit(),
        &instances,
        ChaCha20Rng::from_entropy(),
    )?;
    Ok((instances, bytes))
}

/// Checks a narrow proof natively (the instance count must match the key's exactly).
pub fn verify_narrow(srs: &Srs, keys: &NarrowKeys, instances: &[Fr], proof: &[u8]) -> Result<()> {
    check_srs_k(srs, keys.k())?;
    if instances.len() != keys.instances {
        return Err(ProverError::InstanceCount {
            expected: keys.instances,
            found: instances.len(),
        });
    }
    verify_keccak(srs, keys.vk(), instances, proof)
}
