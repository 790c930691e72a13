//! Key generation: the proving and verifying keys of one model's circuit.

use halo2_proofs::plonk::{keygen_pk, keygen_vk, Circuit};
use halo2curves::bn256::{Fr, G1Affine};
use poa_circuits::{ModelCircuit, NarrowShape, Visibility};
use poa_runtime::QModel;

use crate::digest::CircuitId;
use crate::error::{ProverError, Result};
use crate::srs::Srs;

/// A proving key with the identity of its circuit and its SRS's insecure flag.
#[derive(Debug)]
pub struct ProvingKey {
    pub(crate) pk: halo2_proofs::plonk::ProvingKey<G1Affine>,
    pub(crate) id: CircuitId,
    pub(crate) insecure: bool,
    /// The narrow layout's shape (halo2-base params and break points); `None` for the wide one.
    pub(crate) shape: Option<NarrowShape>,
}

/// A verifying key with the identity of its circuit and its SRS's insecure flag.
#[derive(Clone, Debug)]
pub struct VerifyingKey {
    pub(crate) vk: halo2_proofs::plonk::VerifyingKey<G1Affine>,
    pub(crate) id: CircuitId,
    pub(crate) insecure: bool,
    /// As [`ProvingKey`]'s: the vk file needs the params to be read back.
    pub(crate) shape: Option<NarrowShape>,
}

impl ProvingKey {
    /// The verifying key inside.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey {
            vk: self.pk.get_vk().clone(),
            id: self.id.clone(),
            insecure: self.insecure,
            shape: self.shape.clone(),
        }
    }

    /// The narrow layout's shape, `None` for a wide-layout key.
    pub fn narrow_shape(&self) -> Option<&NarrowShape> {
        self.shape.as_ref()
    }

    /// The circuit this key proves.
    pub fn id(&self) -> &CircuitId {
        &self.id
    }

    /// True when made with the dev SRS.
    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    /// The halo2 key.
    pub fn halo2(&self) -> &halo2_proofs::plonk::ProvingKey<G1Affine> {
        &self.pk
    }
}

impl VerifyingKey {
    /// The circuit this key verifies.
    pub fn id(&self) -> &CircuitId {
        &self.id
    }

    /// True when made with the dev SRS.
    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    /// The halo2 key (for Solidity verifier generation).
    pub fn halo2(&self) -> &halo2_proofs::plonk::VerifyingKey<G1Affine> {
        &self.vk
    }
}

/// Checks `srs` has exactly the circuit's `k` (a larger one must be [`Srs::downsize`]d first, so
/// the keys' domain and the SRS agree).
pub(crate) fn check_srs_k(srs: &Srs, need_k: u32) -> Result<()> {
    match srs.k() {
        k if k < need_k => Err(ProverError::SrsTooSmall { have_k: k, need_k }),
        k if k > need_k => Err(ProverError::KMismatch {
            what: "SRS (downsize it first)",
            expected: need_k,
            found: k,
        }),
        _ => Ok(()),
    }
}

/// halo2's vk and pk of any circuit (every layout's keygen ends here).
pub(crate) fn halo2_keys<C: halo2_proofs::plonk::Circuit<Fr>>(
    srs: &Srs,
    circuit: &C,
) -> Result<halo2_proofs::plonk::ProvingKey<G1Affine>> {
    let halo2 = |source| ProverError::Halo2 {
        stage: "keygen",
        source,
    };
    let vk = keygen_vk(srs.params(), circuit).map_err(halo2)?;
    keygen_pk(srs.params(), vk, circuit).map_err(halo2)
}

/// Generates the keys of `model`'s inference circuit at the `k` [`poa_circuits::circuit_stats`]
/// picks. `srs` must have exactly that `k`.
pub fn keygen(model: &QModel, vis: &Visibility, srs: &Srs) -> Result<ProvingKey> {
    keygen_circuit(&ModelCircuit::new(model, None, *vis)?, srs)
}

/// Generates the keys of `circuit` (any witness it carries is ignored), e.g. an attribution
/// circuit ([`ModelCircuit::with_attribution`]). `srs` must have exactly the circuit's `k`.
pub fn keygen_circuit(circuit: &ModelCircuit, srs: &Srs) -> Result<ProvingKey> {
    let id = CircuitId::of_circuit(circuit)?;
    check_srs_k(srs, id.k)?;
    let pk = halo2_keys(srs, &circuit.without_witnesses())?;
    Ok(ProvingKey {
        pk,
        id,
        insecure: srs.is_insecure(),
        shape: None,
    })
}
