//! Keys and proofs for the dense layout ([`poa_circuits::dense`]): inference in few columns and
//! few rows. Same SRS, same SHPLONK + Keccak transcript, same key files (the header's dense
//! flag), the same [`crate::prove()`] (the key picks the layout) and [`crate::verify()`].

use poa_circuits::{DenseCircuit, Visibility};
use poa_runtime::{QModel, Trace};
use rand_core::{CryptoRng, RngCore};

use crate::digest::CircuitId;
use crate::error::Result;
use crate::keygen::{check_srs_k, halo2_keys, ProvingKey};
use crate::prove::{check_key, keccak_proof, Proof};
use crate::srs::Srs;

/// How big the dense circuit of a model is, before keygen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenseSize {
    /// Circuit size exponent: the SRS must be made or downsized to it before [`keygen_dense`].
    pub k: u32,
    /// Rows used (one equation each).
    pub rows: usize,
    /// Public instances of a proof.
    pub instances: usize,
}

/// Lays out the dense circuit of `model` to size it; an error names what the layout cannot take
/// (an op, a divisor, hashed weights).
pub fn dense_size(model: &QModel, vis: Visibility) -> Result<DenseSize> {
    let c = DenseCircuit::keygen(model, vis)?;
    Ok(DenseSize {
        k: c.k(),
        rows: c.rows(),
        instances: c.instances().len(),
    })
}

/// Generates dense-layout keys for `model`'s inference. `srs` must have exactly the circuit's
/// `k` ([`dense_size`]).
pub fn keygen_dense(srs: &Srs, model: &QModel, vis: Visibility) -> Result<ProvingKey> {
    let c = DenseCircuit::keygen(model, vis)?;
    check_srs_k(srs, c.k())?;
    Ok(ProvingKey {
        pk: halo2_keys(srs, c.circuit())?,
        id: CircuitId::of_dense(model, vis, &c)?,
        insecure: srs.is_insecure(),
        shape: None,
    })
}

/// Proves `trace` with dense keys, after the same key checks as the other layouts.
pub(crate) fn prove_dense(
    srs: &Srs,
    pk: &ProvingKey,
    model: &QModel,
    trace: &Trace,
    rng: impl RngCore + CryptoRng,
) -> Result<Proof> {
    let c = DenseCircuit::prover(model, trace, pk.id.visibility)?;
    check_key(srs, pk, &CircuitId::of_dense(model, pk.id.visibility, &c)?)?;
    let instances = c.instances().to_vec();
    let bytes = keccak_proof(srs, &pk.pk, c.circuit(), &instances, rng)?;
    Ok(Proof::under(pk, instances, bytes))
}
