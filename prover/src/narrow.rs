//! Keys and proofs for the narrow layout ([`poa_circuits::narrow`]): the one-advice-column
//! circuits whose Solidity verifier fits one contract. Same SRS, same SHPLONK + Keccak
//! transcript, same [`ProvingKey`]/[`crate::VerifyingKey`] files (the header's narrow flag, the
//! shape in front of the payload) and the same [`crate::verify()`] as the wide layout: callers
//! pick the layout once, at keygen, and [`crate::prove()`] / [`crate::prove_attributed`] follow
//! the key.

use poa_circuits::{
    AttributionSetup, NarrowCircuit, NarrowColumns, NarrowShape, Request, Visibility,
};
use poa_runtime::{QModel, Trace};
use rand_core::{CryptoRng, RngCore};

use crate::digest::CircuitId;
use crate::error::Result;
use crate::keygen::{check_srs_k, halo2_keys, ProvingKey};
use crate::prove::{check_key, keccak_proof, statement, Proof};
use crate::srs::Srs;

/// How big the narrow circuit of a model is, before keygen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NarrowSize {
    /// Circuit size exponent: the SRS must be made or downsized to it before [`keygen_narrow`].
    pub k: u32,
    /// Advice cells used.
    pub advice_cells: usize,
    /// Rows a gate column holds ([`NarrowCircuit::rows`]): the cells, with one column.
    pub rows: usize,
    /// Public instances of a proof.
    pub instances: usize,
    /// Columns, selectors and lookups.
    pub columns: NarrowColumns,
}

/// Lays out the narrow circuit of `model` (with attribution over `setup`) to size it; an error
/// names what the layout cannot take (an op, hashed weights or input, a hashed index, a `k`
/// out of range). `k: None` is the one-advice-column size; a smaller `k` takes more columns
/// ([`NarrowCircuit::keygen`]).
pub fn narrow_size(
    model: &QModel,
    vis: Visibility,
    setup: Option<&AttributionSetup>,
    k: Option<u32>,
) -> Result<NarrowSize> {
    let c = NarrowCircuit::keygen(model, vis, statement(setup, None), k)?;
    Ok(NarrowSize {
        k: c.k(),
        advice_cells: c.advice_cells(),
        rows: c.rows(),
        instances: c.instances().len(),
        columns: c.columns(),
    })
}

/// Generates narrow-layout keys for `model`'s inference (with `setup`: and top-k attribution
/// over its index), at `k` as in [`narrow_size`]. `srs` must have exactly the circuit's `k`.
pub fn keygen_narrow(
    srs: &Srs,
    model: &QModel,
    vis: Visibility,
    setup: Option<&AttributionSetup>,
    k: Option<u32>,
) -> Result<ProvingKey> {
    let c = NarrowCircuit::keygen(model, vis, statement(setup, None), k)?;
    check_srs_k(srs, c.k())?;
    let pk = halo2_keys(srs, c.circuit())?;
    // Keygen fixed the break points: only now is the shape complete.
    let shape = c.shape();
    let id = CircuitId::of_narrow(
        model,
        vis,
        setup,
        &shape,
        c.advice_cells(),
        c.instances().len(),
    )?;
    Ok(ProvingKey {
        pk,
        id,
        insecure: srs.is_insecure(),
        shape: Some(shape),
    })
}

/// Proves `trace` with narrow keys (`pk.shape`), after the same key checks as the wide path.
pub(crate) fn prove_narrow(
    srs: &Srs,
    pk: &ProvingKey,
    shape: &NarrowShape,
    model: &QModel,
    trace: &Trace,
    attribution: Option<(&AttributionSetup, Request)>,
    rng: impl RngCore + CryptoRng,
) -> Result<Proof> {
    let vis = pk.id.visibility;
    let setup = attribution.map(|(s, _)| s);
    let request = attribution.map(|(_, r)| r);
    // Lay out first: the circuit digest covers the cells the layout uses, so the key must be of
    // exactly this circuit (model, index, shape, size) before any proving work.
    let c = NarrowCircuit::prover(model, trace, vis, statement(setup, request), shape)?;
    let want = CircuitId::of_narrow(
        model,
        vis,
        setup,
        shape,
        c.advice_cells(),
        c.instances().len(),
    )?;
    check_key(srs, pk, &want)?;
    let instances = c.instances().to_vec();
    let bytes = keccak_proof(srs, &pk.pk, &c.into_circuit(), &instances, rng)?;
    Ok(Proof::under(pk, instances, bytes))
}
