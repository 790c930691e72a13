//! Narrow-layout keys as product artifacts: made by `keygen_narrow`, written and read back
//! through the same key files as the wide layout (the header's narrow flag, the shape under the
//! checksum), proven through the same `prove`/`prove_attributed` (the key picks the layout) and
//! checked by the same `verify` — and refused, each with its own error, for another model,
//! another index, the other layout or a damaged shape.

mod common;

use poa_circuits::{
    AttributionSetup, Fr, IndexVisibility, InputVisibility, Layout, Request, Visibility,
};
use poa_fixtures::{compile, run_index, test_inputs};
use poa_prover::header::HEADER_LEN;
use poa_prover::{
    keygen, keygen_narrow, narrow_size, prove, prove_attributed, verify, ProverError, ProvingKey,
    Srs, VerifyingKey,
};
use poa_runtime::datanet::Address;

fn private() -> Visibility {
    Visibility {
        input: InputVisibility::Private,
        ..Visibility::default()
    }
}

#[test]
fn narrow_inference_keys_round_trip_through_files_and_prove_like_wide() {
    let q = compile("mlp_small");
    let vis = private();
    let k = narrow_size(&q, vis, None, None).expect("sizes").k;
    let srs = Srs::dev(k);
    let pk = keygen_narrow(&srs, &q, vis, None, None).expect("keygen");
    assert_eq!(pk.id().layout, Layout::Narrow);
    assert!(pk.narrow_shape().is_some());
    let pk = ProvingKey::from_file_bytes(&pk.to_file_bytes()).expect("pk file");
    let vk = VerifyingKey::from_file_bytes(&pk.verifying_key().to_file_bytes()).expect("vk file");
    assert_eq!(vk.id(), pk.id());
    let trace = q.run(&test_inputs()[2]).expect("runs");
    let proof = prove(&srs, &pk, &q, &trace).expect("proves");
    verify(&srs, &vk, &proof).expect("verifies");
    // The outputs are public, as with the wide layout: the last 10 instances.
    let outputs = &proof.instances[proof.instances.len() - 10..];
    let want: Vec<Fr> = trace
        .output()
        .data
        .iter()
        .map(|&v| poa_circuits::field::fe(v))
        .collect();
    assert_eq!(outputs, &want[..]);

    // The wide key of the same model is another circuit: its proofs and this vk do not mix.
    let wide_k = poa_circuits::circuit_stats(&q, &vis).expect("stats").k;
    let wide_srs = Srs::dev(wide_k);
    let wide = keygen(&q, &vis, &wide_srs).expect("wide keygen");
    assert_ne!(wide.id().circuit_digest, pk.id().circuit_digest);
    let wide_proof = prove(&wide_srs, &wide, &q, &trace).expect("wide proves");
    let e = verify(&srs, &vk, &wide_proof).expect_err("wide proof, narrow vk");
    assert!(matches!(e, ProverError::CircuitMismatch { .. }), "{e}");

    // Another model with these keys: refused by name before any proving.
    let other = compile("mlp_deep");
    let e = prove(
        &srs,
        &pk,
        &other,
        &other.run(&test_inputs()[0]).expect("runs"),
    )
    .expect_err("another model");
    assert!(matches!(e, ProverError::ModelMismatch { .. }), "{e}");
}

#[test]
fn narrow_attribution_keys_bind_their_index_and_refuse_damage() {
    let q = compile("mlp_small");
    let vis = private();
    let setup =
        AttributionSetup::new(&q, run_index(&q, 24), 8, IndexVisibility::Fixed).expect("setup");
    let srs = Srs::dev(narrow_size(&q, vis, Some(&setup), None).expect("sizes").k);
    let pk = keygen_narrow(&srs, &q, vis, Some(&setup), None).expect("keygen");
    assert!(pk.id().attributed);
    let request = Request {
        nonce: Fr::from(9),
        prover: Address([0x17; 20]),
    };
    let trace = q.run(&test_inputs()[1]).expect("runs");
    let proof = prove_attributed(&srs, &pk, &q, &trace, setup.clone(), request).expect("proves");
    verify(&srs, &pk.verifying_key(), &proof).expect("verifies");
    let mut forged = proof.clone();
    forged.instances[poa_circuits::AttributionRows::NONCE] += Fr::one();
    let e = verify(&srs, &pk.verifying_key(), &forged).expect_err("forged nonce");
    assert!(matches!(e, ProverError::VerificationFailed { .. }), "{e}");

    // The keys fix the index: another index (same size) is another circuit.
    let mut index = (*run_index(&q, 24)).clone();
    index.entries[3].embedding[0] += 1;
    let other = AttributionSetup::new(&q, std::sync::Arc::new(index), 8, IndexVisibility::Fixed)
        .expect("setup");
    let e = prove_attributed(&srs, &pk, &q, &trace, other, request).expect_err("another index");
    assert!(matches!(e, ProverError::CircuitMismatch { .. }), "{e}");
    // And inference alone is not what they prove.
    let e = prove(&srs, &pk, &q, &trace).expect_err("attribution key");
    assert!(e.to_string().contains("attribution"), "{e}");

    // A damaged file: any flipped byte in the shape (or anywhere) fails the checksum, and a
    // layout the model cannot take is an error naming the op.
    let mut file = pk.verifying_key().to_file_bytes();
    file[HEADER_LEN + 12] ^= 1;
    let e = VerifyingKey::from_file_bytes(&file).expect_err("damaged shape");
    assert!(matches!(e, ProverError::Checksum { .. }), "{e}");
    let zoo = compile("ops_zoo");
    let e =
        narrow_size(&zoo, vis, None, None).expect_err("ops_zoo has ops the narrow layout lacks");
    assert!(e.to_string().contains("narrow layout"), "{e}");
}

/// Keys at a smaller k than the one-column size: more columns, a longer proof, the same
/// statement; the one-column keys are another circuit.
#[test]
fn narrow_keys_at_a_smaller_k_prove_with_more_columns() {
    let q = compile("mlp_small");
    let vis = private();
    let one = narrow_size(&q, vis, None, None).expect("sizes");
    let size = narrow_size(&q, vis, None, Some(one.k - 1)).expect("sizes at k - 1");
    assert_eq!(size.k, one.k - 1);
    assert_eq!(size.advice_cells, one.advice_cells);
    assert_eq!(one.rows, one.advice_cells);
    assert!(size.rows < 1 << size.k, "{size:?}");
    assert!(size.columns.advice > one.columns.advice, "{size:?}");
    let srs = Srs::dev(size.k);
    let pk = keygen_narrow(&srs, &q, vis, None, Some(size.k)).expect("keygen");
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let proof = prove(&srs, &pk, &q, &trace).expect("proves");
    verify(&srs, &pk.verifying_key(), &proof).expect("verifies");
    let one_srs = Srs::dev(one.k);
    let one_pk = keygen_narrow(&one_srs, &q, vis, None, None).expect("one-column keygen");
    assert_ne!(one_pk.id().circuit_digest, pk.id().circuit_digest);
    let one_proof = prove(&one_srs, &one_pk, &q, &trace).expect("proves");
    assert_eq!(one_proof.instances, proof.instances);
    assert!(proof.bytes.len() > one_proof.bytes.len());
    // The compact encoding finds every commitment of both shapes.
    for (p, pk) in [(&proof, &pk), (&one_proof, &one_pk)] {
        let c = p.compact();
        let lead = common::leading_commitments(pk.verifying_key().halo2().cs());
        assert_eq!((c[0] as usize, c[1]), (lead, 2));
    }
    // An SRS of the one-column k does not fit keys of k - 1.
    let e = keygen_narrow(&one_srs, &q, vis, None, Some(size.k)).expect_err("wrong SRS k");
    assert!(e.to_string().contains(&size.k.to_string()), "{e}");
}
