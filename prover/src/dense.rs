//! Keys and proofs for the dense layout ([`poa_circuits::dense`]): inference in few columns and
//! few rows. Same SRS, same SHPLONK + Keccak transcript, same key files (the header's dense
//! flag), the same [`crate::prove()`] / [`crate::prove_attributed`] (the key picks the layout)
//! and [`crate::verify()`]. Attribution keys ([`keygen_dense_attributed`]) carry the header's
//! attribution flag, which also picks the circuit's column configuration when a key is read.

use halo2curves::bn256::Fr;
use poa_circuits::{AttributionSetup, DenseCircuit, Request, Visibility};
use poa_runtime::{QModel, Trace};
use rand_core::{CryptoRng, RngCore};

use crate::digest::CircuitId;
use crate::error::Result;
use crate::keygen::{check_srs_k, halo2_keys, ProvingKey};
use crate::prove::{check_key, keccak_proof, statement, Proof};
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
    /// Advice columns of its configuration.
    pub advice_columns: usize,
    /// Fixed columns (halo2 counts lookup-table columns among them).
    pub fixed_columns: usize,
    /// Lookup arguments (the range table; activation tables and the attribution slot lookup
    /// where the circuit has them).
    pub lookups: usize,
}

/// Lays out the dense circuit of `model` to size it; an error names what the layout cannot take
/// (an op, a divisor, hashed weights).
pub fn dense_size(model: &QModel, vis: Visibility) -> Result<DenseSize> {
    dense_size_attributed(model, vis, None)
}

/// [`dense_size`] of the circuit with top-k attribution over `setup` (`None`: inference).
pub fn dense_size_attributed(
    model: &QModel,
    vis: Visibility,
    setup: Option<&AttributionSetup>,
) -> Result<DenseSize> {
    let c = DenseCircuit::keygen_statement(model, vis, statement(setup, None))?;
    // The configuration the circuit's params select, counted as halo2 sees it.
    let mut cs = halo2_proofs::plonk::ConstraintSystem::<Fr>::default();
    poa_circuits::dense::DenseConfig::configure(&mut cs, c.params());
    Ok(DenseSize {
        k: c.k(),
        rows: c.rows(),
        instances: c.instances().len(),
        advice_columns: cs.num_advice_columns(),
        fixed_columns: cs.num_fixed_columns(),
        lookups: cs.lookups().len(),
    })
}

/// Generates dense-layout keys for `model`'s inference. `srs` must have exactly the circuit's
/// `k` ([`dense_size`]).
pub fn keygen_dense(srs: &Srs, model: &QModel, vis: Visibility) -> Result<ProvingKey> {
    keygen_dense_attributed(srs, model, vis, None)
}

/// Generates dense-layout keys for `model`'s inference and top-k attribution over `setup`'s
/// fixed index (`None`: inference only, as [`keygen_dense`]). `srs` must have exactly the
/// circuit's `k` ([`dense_size_attributed`]).
pub fn keygen_dense_attributed(
    srs: &Srs,
    model: &QModel,
    vis: Visibility,
    setup: Option<&AttributionSetup>,
) -> Result<ProvingKey> {
    let c = DenseCircuit::keygen_statement(model, vis, statement(setup, None))?;
    check_srs_k(srs, c.k())?;
    Ok(ProvingKey {
        pk: halo2_keys(srs, c.circuit())?,
        id: CircuitId::of_dense(model, vis, &c, setup)?,
        insecure: srs.is_insecure(),
        shape: None,
    })
}

/// Proves `trace` with dense keys (with attribution over `setup` for `request` when given),
/// after the same key checks as the other layouts.
pub(crate) fn prove_dense(
    srs: &Srs,
    pk: &ProvingKey,
    model: &QModel,
    trace: &Trace,
    attribution: Option<(&AttributionSetup, Request)>,
    rng: impl RngCore + CryptoRng,
) -> Result<Proof> {
    let setup = attribution.map(|(s, _)| s);
    let request = attribution.map(|(_, r)| r);
    let vis = pk.id.visibility;
    let c = DenseCircuit::prover_statement(model, trace, vis, statement(setup, request))?;
    check_key(srs, pk, &CircuitId::of_dense(model, vis, &c, setup)?)?;
    let instances = c.instances().to_vec();
    let bytes = keccak_proof(srs, &pk.pk, c.circuit(), &instances, rng)?;
    Ok(Proof::under(pk, instances, bytes))
}
