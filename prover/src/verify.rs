//! Native verification (SHPLONK, single proof, Keccak/EVM transcript).

use halo2_proofs::plonk::verify_proof;
use halo2_proofs::poly::kzg::commitment::KZGCommitmentScheme;
use halo2_proofs::poly::kzg::multiopen::VerifierSHPLONK;
use halo2_proofs::poly::kzg::strategy::SingleStrategy;
use halo2_proofs::transcript::TranscriptReadBuffer;
use halo2curves::bn256::{Bn256, G1Affine};

use crate::error::{ProverError, Result};
use crate::keygen::{check_srs_k, VerifyingKey};
use crate::prove::Proof;
use crate::srs::Srs;
use crate::transcript::{Challenge, Keccak};

/// Checks `proof` against `vk`: first that both belong to the same circuit and setup (each
/// mismatch its own error), then the proof itself.
pub fn verify(srs: &Srs, vk: &VerifyingKey, proof: &Proof) -> Result<()> {
    let id = &vk.id;
    if proof.model_digest != id.model_digest {
        return Err(ProverError::ModelMismatch {
            what: "proof",
            expected: hex::encode(id.model_digest),
            found: hex::encode(proof.model_digest),
        });
    }
    if proof.circuit_digest != id.circuit_digest {
        return Err(ProverError::CircuitMismatch {
            what: "proof",
            expected: hex::encode(id.circuit_digest),
            found: hex::encode(proof.circuit_digest),
        });
    }
    if proof.insecure_srs != vk.insecure {
        return Err(ProverError::InsecureMismatch {
            what: "proof",
            expected: vk.insecure,
            found: proof.insecure_srs,
        });
    }
    check_srs_k(srs, id.k)?;
    // halo2 zero-pads missing instances, so a dropped trailing zero would still verify: the
    // count must match exactly.
    if proof.instances.len() != id.instances {
        return Err(ProverError::InstanceCount {
            expected: id.instances,
            found: proof.instances.len(),
        });
    }
    verify_keccak(srs, &vk.vk, &proof.instances, &proof.bytes)
}

/// Checks a SHPLONK proof over the Keccak transcript against a halo2 verifying key (one instance
/// column); trailing bytes are refused.
pub(crate) fn verify_keccak(
    srs: &Srs,
    vk: &halo2_proofs::plonk::VerifyingKey<G1Affine>,
    instances: &[halo2curves::bn256::Fr],
    bytes: &[u8],
) -> Result<()> {
    let failed = |reason: String| ProverError::VerificationFailed { reason };
    let mut rest: &[u8] = bytes;
    {
        let mut transcript =
            <Keccak<&mut &[u8]> as TranscriptReadBuffer<_, G1Affine, Challenge>>::init(&mut rest);
        verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<'_, Bn256>, _, _, _>(
            srs.params(),
            vk,
            SingleStrategy::new(srs.params()),
            &[&[instances]],
            &mut transcript,
        )
        .map_err(|e| failed(e.to_string()))?;
    }
    // Extra bytes after a valid proof would be ignored by the math; refuse them so a proof has
    // one encoding.
    if !rest.is_empty() {
        return Err(failed(format!(
            "{} unread bytes after the proof",
            rest.len()
        )));
    }
    Ok(())
}
