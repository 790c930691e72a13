//! keygen → prove → verify on fixture models, in memory and through the artifact files, and the
//! proof/instance tampering every verifier must refuse.

mod common;

use common::{cnn_small, leading_commitments, mlp_deep, mlp_small, mlp_small_hashed, Setup};
use poa_circuits::commit::input_commitment;
use poa_circuits::Visibility;
use poa_circuits::{InputVisibility, InstanceLayout};
use poa_prover::artifact::fr_to_hex;
use poa_prover::{verify, Proof, ProverError, ProvingKey, Srs, VerifyingKey};

fn round_trip_through_files(s: &Setup) {
    verify(&s.srs, &s.vk, &s.proof).expect("fresh proof verifies");
    let srs = Srs::from_file_bytes(&s.srs.to_file_bytes()).expect("srs file loads");
    let vk = VerifyingKey::from_file_bytes(&s.vk.to_file_bytes()).expect("vk file loads");
    let proof = Proof::from_json(&s.proof.to_json()).expect("proof JSON parses");
    assert_eq!(proof, s.proof, "proof JSON round-trips exactly");
    verify(&srs, &vk, &proof).expect("loaded artifacts verify");
    // A pk read back from disk proves too.
    let pk = ProvingKey::from_file_bytes(&s.pk.to_file_bytes()).expect("pk file loads");
    let again = poa_prover::prove(&srs, &pk, &s.model, &s.trace).expect("proves with loaded pk");
    verify(&srs, &vk, &again).expect("proof from loaded pk verifies");
    assert_eq!(
        again.instances, s.proof.instances,
        "instances are deterministic"
    );
}

#[test]
fn mlp_small_round_trips() {
    round_trip_through_files(mlp_small());
}

#[test]
fn hashed_input_round_trips_and_binds_the_commitment() {
    let s = mlp_small_hashed();
    round_trip_through_files(s);
    assert_eq!(s.vk.id().visibility.input, InputVisibility::Hashed);
    let layout = InstanceLayout::of(&s.model, &s.vk.id().visibility);
    let row = layout
        .input_commitment
        .expect("hashed input has a commitment row");
    assert_eq!(
        s.proof.instances[row],
        input_commitment(&s.model, &s.trace.input().data),
        "the public commitment is the native one"
    );
    assert_eq!(
        s.proof.instances.len(),
        1 + 10,
        "commitment and 10 logits, no input values"
    );
    let mut p = s.proof.clone();
    p.instances[row] += halo2curves::bn256::Fr::one();
    assert_fails_verification(s, &p, "input commitment +1");
    // A hashed-input proof does not verify under the public-input key of the same model.
    match verify(&mlp_small().srs, &mlp_small().vk, &s.proof) {
        Err(ProverError::VerificationFailed { .. })
        | Err(ProverError::CircuitMismatch { .. })
        | Err(ProverError::InstanceCount { .. }) => {}
        other => panic!("public-input vk accepted a hashed-input proof: {other:?}"),
    }
}

#[test]
fn mlp_deep_round_trips() {
    round_trip_through_files(mlp_deep());
}

/// The split-range flag in the key headers brings back the same two-band layout: loaded keys
/// prove and verify, and a tampered output is refused.
#[test]
fn split_range_keys_round_trip() {
    let s = cnn_small();
    assert!(
        s.vk.id().split_range,
        "cnn_small's plan splits its range checks"
    );
    assert!(!mlp_small().vk.id().split_range);
    round_trip_through_files(s);
    let mut p = s.proof.clone();
    let last = p.instances.len() - 1;
    p.instances[last] += halo2curves::bn256::Fr::one();
    assert_fails_verification(s, &p, "output +1");
}

fn assert_fails_verification(s: &Setup, proof: &Proof, what: &str) {
    match verify(&s.srs, &s.vk, proof) {
        Err(ProverError::VerificationFailed { .. }) => {}
        other => panic!("{what}: expected VerificationFailed, got {other:?}"),
    }
}

#[test]
fn rejects_tampered_proof_bytes() {
    let s = mlp_small();
    let n = s.proof.bytes.len();
    // First commitment, a middle byte, and the last opening.
    for i in [0, 31, n / 2, n - 1] {
        let mut p = s.proof.clone();
        p.bytes[i] ^= 1;
        assert_fails_verification(s, &p, &format!("byte {i} flipped"));
    }
    let mut short = s.proof.clone();
    short.bytes.truncate(n - 32);
    assert_fails_verification(s, &short, "truncated proof");
    let mut long = s.proof.clone();
    long.bytes.extend_from_slice(&[0; 32]);
    assert_fails_verification(s, &long, "proof with trailing bytes");
}

#[test]
fn files_carry_every_point_compressed_and_read_back_the_same_proof() {
    let s = mlp_small();
    let compact = s.proof.compact();
    let lead = leading_commitments(s.vk.halo2().cs());
    // Every commitment found, SHPLONK's two openings at the end.
    assert_eq!((compact[0] as usize, compact[1]), (lead, 2));
    assert_eq!(compact.len(), 2 + s.proof.bytes.len() - 32 * (lead + 2));
    let json = s.proof.to_json();
    assert_eq!(Proof::from_json(&json).expect("reads"), s.proof);
    // A file of the previous format (points uncompressed) reads to the same proof.
    let v1 = json
        .replace("openpoa-proof-v2", "openpoa-proof-v1")
        .replace(&hex::encode(&compact), &hex::encode(&s.proof.bytes));
    assert_eq!(Proof::from_json(&v1).expect("reads v1"), s.proof);
    // A flipped bit in a compressed point: refused as no curve point, or a proof that fails.
    for i in [2, 2 + 31, 2 + 32 * lead - 1, compact.len() - 1] {
        let mut bad = compact.clone();
        bad[i] ^= 1;
        let text = json.replace(&hex::encode(&compact), &hex::encode(&bad));
        match Proof::from_json(&text) {
            Err(ProverError::ProofFormat { reason }) => {
                assert!(reason.contains("point"), "{reason}")
            }
            Ok(p) => assert_fails_verification(s, &p, &format!("compact byte {i} flipped")),
            Err(e) => panic!("byte {i}: {e}"),
        }
    }
}

#[test]
fn rejects_changed_output_instance() {
    let s = mlp_small();
    let layout = InstanceLayout::of(&s.model, &Visibility::default());
    let mut p = s.proof.clone();
    p.instances[layout.output.start] += halo2curves::bn256::Fr::one();
    assert_fails_verification(s, &p, "output +1");
}

#[test]
fn rejects_changed_input_instance() {
    let s = mlp_small();
    let layout = InstanceLayout::of(&s.model, &Visibility::default());
    let mut p = s.proof.clone();
    p.instances[layout.input.start + 20] -= halo2curves::bn256::Fr::one();
    assert_fails_verification(s, &p, "input -1");
}

#[test]
fn rejects_dropped_or_extra_instance_by_count() {
    let s = mlp_small();
    let mut p = s.proof.clone();
    p.instances.pop();
    assert!(matches!(
        verify(&s.srs, &s.vk, &p),
        Err(ProverError::InstanceCount { .. })
    ));
    let mut p = s.proof.clone();
    p.instances.push(halo2curves::bn256::Fr::zero());
    assert!(matches!(
        verify(&s.srs, &s.vk, &p),
        Err(ProverError::InstanceCount { .. })
    ));
}

#[test]
fn rejects_vk_and_pk_of_another_model() {
    let (small, deep) = (mlp_small(), mlp_deep());
    let err = verify(&deep.srs, &deep.vk, &small.proof).expect_err("other model's vk");
    assert!(
        matches!(err, ProverError::ModelMismatch { what: "proof", .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(small.model.digest()), "{err}");
    let err = poa_prover::prove(&deep.srs, &deep.pk, &small.model, &small.trace)
        .expect_err("other model's pk");
    assert!(
        matches!(
            err,
            ProverError::ModelMismatch {
                what: "proving key",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn rejects_proof_of_same_model_under_another_circuit_digest() {
    let s = mlp_small();
    let mut p = s.proof.clone();
    p.circuit_digest[0] ^= 1;
    assert!(matches!(
        verify(&s.srs, &s.vk, &p),
        Err(ProverError::CircuitMismatch { .. })
    ));
}

#[test]
fn rejects_proof_claiming_a_secure_srs_against_a_dev_vk() {
    let s = mlp_small();
    let mut p = s.proof.clone();
    p.insecure_srs = false;
    assert!(matches!(
        verify(&s.srs, &s.vk, &p),
        Err(ProverError::InsecureMismatch { .. })
    ));
}

#[test]
fn rejects_trace_of_another_model() {
    let (small, deep) = (mlp_small(), mlp_deep());
    let err = poa_prover::prove(&small.srs, &small.pk, &small.model, &deep.trace)
        .expect_err("foreign trace");
    assert!(matches!(err, ProverError::Circuit(_)), "{err:?}");
}

#[test]
fn proof_json_rejects_bad_fields() {
    let s = mlp_small();
    let json = s.proof.to_json();
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["insecure_srs"], true);
    assert_eq!(v["format"], "openpoa-proof-v2");
    assert_eq!(v["model_digest"], s.model.digest());
    let first = v["instances"][0].as_str().expect("hex").to_string();
    assert!(first.starts_with("0x") && first.len() == 66, "{first}");

    // The BN254 modulus itself is not a canonical scalar.
    let modulus = "0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";
    let bad = json.replacen(&first, modulus, 1);
    assert!(matches!(
        Proof::from_json(&bad),
        Err(ProverError::InvalidInstance { index: 0, .. })
    ));
    let bad = json.replace("openpoa-proof-v2", "openpoa-proof-v9");
    assert!(matches!(
        Proof::from_json(&bad),
        Err(ProverError::ProofFormat { .. })
    ));
    assert!(matches!(
        Proof::from_json(&json[..json.len() / 2]),
        Err(ProverError::ProofFormat { .. })
    ));
}

#[test]
fn a_proof_file_has_one_encoding() {
    let s = mlp_small();
    let json = s.proof.to_json();
    let compact = s.proof.compact();
    let lettered = s
        .proof
        .instances
        .iter()
        .map(fr_to_hex)
        .find(|h| h[2..].bytes().any(|b| b.is_ascii_alphabetic()))
        .expect("an instance with a hex letter");
    let proof_hex = hex::encode(&compact);
    let digest = hex::encode(s.proof.model_digest);
    // The same proof written another way: upper-case hex, a 0x on a digest, a commitment left
    // uncompressed. Each would read to the same proof, so each is refused by name.
    let mut fewer = vec![compact[0] - 1, compact[1]];
    let lead = compact[0] as usize;
    fewer.extend_from_slice(&compact[2..2 + 32 * (lead - 1)]);
    fewer.extend_from_slice(&s.proof.bytes[64 * (lead - 1)..64 * lead]);
    fewer.extend_from_slice(&compact[2 + 32 * lead..]);
    for (bad, field) in [
        (
            json.replacen(&lettered, &lettered.to_uppercase().replace("0X", "0x"), 1),
            "instances[",
        ),
        (json.replace(&proof_hex, &proof_hex.to_uppercase()), "proof"),
        (
            json.replace(&digest, &format!("0x{digest}")),
            "model_digest",
        ),
        (json.replace(&proof_hex, &hex::encode(&fewer)), "canonical"),
    ] {
        assert!(bad != json, "{field}: the edit applies");
        match Proof::from_json(&bad) {
            Err(ProverError::ProofFormat { reason }) => {
                assert!(
                    reason.contains(field) || reason.contains("canonical"),
                    "{reason}"
                )
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    assert_eq!(
        Proof::from_json(&json).expect("the written form reads"),
        s.proof
    );
}
