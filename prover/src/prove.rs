//! Proving: one inference's trace → a SHPLONK proof over the Keccak (EVM) transcript.

use halo2_proofs::plonk::create_proof;
use halo2_proofs::poly::kzg::commitment::KZGCommitmentScheme;
use halo2_proofs::poly::kzg::multiopen::ProverSHPLONK;
use halo2_proofs::transcript::TranscriptWriterBuffer;
use halo2curves::bn256::{Bn256, Fr, G1Affine};
use poa_circuits::{AttributionSetup, Layout, ModelCircuit, Request, Statement};
use poa_runtime::datanet::Address;
use poa_runtime::{QModel, Trace};
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};

use crate::dense::prove_dense;
use crate::digest::CircuitId;
use crate::error::{ProverError, Result};
use crate::keygen::{check_srs_k, ProvingKey};
use crate::narrow::prove_narrow;
use crate::srs::Srs;
use crate::transcript::{Challenge, Keccak};

/// A proof with the public instances it proves and the identity of its circuit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// Model digest of the proven model.
    pub model_digest: [u8; 32],
    /// Circuit digest (see [`CircuitId`]).
    pub circuit_digest: [u8; 32],
    /// True when the keys came from the insecure dev SRS.
    pub insecure_srs: bool,
    /// Public instances, in [`poa_circuits::instances`] layout.
    pub instances: Vec<Fr>,
    /// The proof bytes (Keccak/EVM transcript, uncompressed points: the verifier contract's
    /// calldata). Files carry them compressed ([`Proof::compact`]).
    pub bytes: Vec<u8>,
}

impl Proof {
    /// A proof made with `pk`: its circuit's identity and SRS kind, with these instances and
    /// transcript bytes.
    pub(crate) fn under(pk: &ProvingKey, instances: Vec<Fr>, bytes: Vec<u8>) -> Self {
        Self {
            model_digest: pk.id.model_digest,
            circuit_digest: pk.id.circuit_digest,
            insecure_srs: pk.insecure,
            instances,
            bytes,
        }
    }

    /// The proof in the [`crate::codec`] compact encoding: what proof files and REST responses
    /// carry, each curve point in 32 bytes instead of the EVM's 64.
    pub fn compact(&self) -> Vec<u8> {
        crate::codec::compact(&self.bytes)
    }
}

/// The statement of a narrow or dense circuit: inference, or attribution over `setup` for
/// `request`. Keys are made on a zero request (the request is witness, never layout).
pub(crate) fn statement(
    setup: Option<&AttributionSetup>,
    request: Option<Request>,
) -> Statement<'_> {
    match setup {
        None => Statement::Inference,
        Some(setup) => Statement::Attribution {
            setup,
            request: request.unwrap_or(Request {
                nonce: Fr::zero(),
                prover: Address([0; 20]),
            }),
        },
    }
}

/// Proves `trace` (a run of `model`) with fresh OS randomness for the blinding factors.
pub fn prove(srs: &Srs, pk: &ProvingKey, model: &QModel, trace: &Trace) -> Result<Proof> {
    prove_with_rng(srs, pk, model, trace, ChaCha20Rng::from_entropy())
}

/// [`prove`] with a caller-chosen RNG (deterministic proofs in tests).
pub fn prove_with_rng(
    srs: &Srs,
    pk: &ProvingKey,
    model: &QModel,
    trace: &Trace,
    rng: impl RngCore + CryptoRng,
) -> Result<Proof> {
    if pk.id.attributed {
        return Err(ProverError::Attribution {
            reason: "this proving key proves attribution: it needs the index and the request"
                .into(),
        });
    }
    if let Some(shape) = &pk.shape {
        return prove_narrow(srs, pk, shape, model, trace, None, rng);
    }
    if pk.id.layout == Layout::Dense {
        return prove_dense(srs, pk, model, trace, None, rng);
    }
    let circuit = ModelCircuit::new(model, Some(trace), pk.id.visibility)?;
    prove_circuit(srs, pk, &circuit, rng)
}

/// Proves inference and top-k attribution of `trace` over `setup`'s index, bound to `request`.
pub fn prove_attributed(
    srs: &Srs,
    pk: &ProvingKey,
    model: &QModel,
    trace: &Trace,
    setup: AttributionSetup,
    request: Request,
) -> Result<Proof> {
    let rng = ChaCha20Rng::from_entropy();
    if pk.id.layout == Layout::Dense {
        if !pk.id.attributed {
            return Err(ProverError::Attribution {
                reason: "this dense-layout key proves inference only, with `prove`".into(),
            });
        }
        return prove_dense(srs, pk, model, trace, Some((&setup, request)), rng);
    }
    if let Some(shape) = &pk.shape {
        return prove_narrow(srs, pk, shape, model, trace, Some((&setup, request)), rng);
    }
    let circuit = ModelCircuit::new(model, Some(trace), pk.id.visibility)?
        .with_attribution(setup, Some(request))?;
    prove_circuit(srs, pk, &circuit, rng)
}

/// Proves `circuit` (which carries its witness) under `pk`, refusing a key of another circuit.
pub fn prove_circuit(
    srs: &Srs,
    pk: &ProvingKey,
    circuit: &ModelCircuit,
    rng: impl RngCore + CryptoRng,
) -> Result<Proof> {
    if pk.id.layout == Layout::Dense {
        return Err(ProverError::Attribution {
            reason: "this is a dense-layout key: prove with `prove`/`prove_attributed`".into(),
        });
    }
    if pk.shape.is_some() {
        return Err(ProverError::Attribution {
            reason: "this is a narrow-layout key: prove with `prove`/`prove_attributed`".into(),
        });
    }
    check_key(srs, pk, &CircuitId::of_circuit(circuit)?)?;
    let instances = circuit.instances().ok_or(ProverError::Attribution {
        reason: "the circuit carries no witness to prove".into(),
    })?;
    let bytes = keccak_proof(srs, &pk.pk, circuit, &instances, rng)?;
    Ok(Proof::under(pk, instances, bytes))
}

/// Refuses `pk` unless it is the key of `want` (the circuit about to be proven): another model,
/// another circuit (version, k, index, layout shape), an SRS of another k or of the other kind
/// (dev vs ceremony) are each their own error, before any proving work.
pub(crate) fn check_key(srs: &Srs, pk: &ProvingKey, want: &CircuitId) -> Result<()> {
    let id = &pk.id;
    if want.model_digest != id.model_digest {
        return Err(ProverError::ModelMismatch {
            what: "proving key",
            expected: hex::encode(want.model_digest),
            found: hex::encode(id.model_digest),
        });
    }
    if want.circuit_digest != id.circuit_digest {
        return Err(ProverError::CircuitMismatch {
            what: "proving key",
            expected: hex::encode(want.circuit_digest),
            found: hex::encode(id.circuit_digest),
        });
    }
    check_srs_k(srs, id.k)?;
    if srs.is_insecure() != pk.insecure {
        return Err(ProverError::InsecureMismatch {
            what: "SRS",
            expected: pk.insecure,
            found: srs.is_insecure(),
        });
    }
    Ok(())
}

/// A SHPLONK proof of any circuit over the Keccak transcript the EVM verifier replays (one
/// instance column).
pub(crate) fn keccak_proof<C: halo2_proofs::plonk::Circuit<Fr>>(
    srs: &Srs,
    pk: &halo2_proofs::plonk::ProvingKey<G1Affine>,
    circuit: &C,
    instances: &[Fr],
    rng: impl RngCore + CryptoRng,
) -> Result<Vec<u8>> {
    let mut transcript =
        <Keccak<Vec<u8>> as TranscriptWriterBuffer<_, G1Affine, Challenge>>::init(Vec::new());
    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, _, _>(
        srs.params(),
        pk,
        std::slice::from_ref(circuit),
        &[&[instances]],
        rng,
        &mut transcript,
    )
    .map_err(|source| ProverError::Halo2 {
        stage: "proving",
        source,
    })?;
    Ok(transcript.finalize())
}
