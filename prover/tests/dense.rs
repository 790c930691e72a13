//! Dense-layout keys as product artifacts: made by `keygen_dense`, written and read back through
//! the same key files (the header's dense flag), proven by the same `prove` and checked by the
//! same `verify` as the other layouts — and refused for another model, a tampered proof or
//! instance, and attribution.

mod common;

use poa_circuits::{
    public_instances, AttributionSetup, Fr, IndexVisibility, InputVisibility, Layout, Request,
    Visibility,
};
use poa_fixtures::{compile, run_index, test_inputs};
use poa_prover::{
    dense_size, keygen_dense, prove, prove_attributed, verify, ProverError, ProvingKey, Srs,
    VerifyingKey,
};
use poa_runtime::datanet::Address;

#[test]
fn dense_keys_round_trip_prove_small_and_refuse_damage() {
    let q = compile("mlp_small");
    let vis = Visibility::default();
    let size = dense_size(&q, vis).expect("sizes");
    assert_eq!(size.k, 10, "{size:?}");
    let srs = Srs::dev(size.k);
    let pk = keygen_dense(&srs, &q, vis).expect("keygen");
    assert_eq!(pk.id().layout, Layout::Dense);
    let pk = ProvingKey::from_file_bytes(&pk.to_file_bytes()).expect("pk reads back");
    let vk = VerifyingKey::from_file_bytes(&pk.verifying_key().to_file_bytes()).expect("vk");
    assert_eq!(vk.id().layout, Layout::Dense);
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let proof = prove(&srs, &pk, &q, &trace).expect("proves");
    verify(&srs, &vk, &proof).expect("verifies");
    let c = proof.compact();
    let lead = common::leading_commitments(vk.halo2().cs());
    assert_eq!((c[0] as usize, c[1]), (lead, 2));
    assert!(c.len() <= 2048, "{} bytes", c.len());
    for i in [0, proof.bytes.len() / 2, proof.bytes.len() - 1] {
        let mut bad = proof.clone();
        bad.bytes[i] ^= 1;
        assert!(
            matches!(
                verify(&srs, &vk, &bad),
                Err(ProverError::VerificationFailed { .. })
            ),
            "byte {i}"
        );
    }
    let mut bad = proof.clone();
    bad.instances[3] += Fr::one();
    assert!(matches!(
        verify(&srs, &vk, &bad),
        Err(ProverError::VerificationFailed { .. })
    ));
    // Another model's trace is refused before proving.
    let deep = compile("mlp_deep");
    let t2 = deep.run(&test_inputs()[0]).expect("runs");
    assert!(prove(&srs, &pk, &deep, &t2).is_err());
    // A private input is another circuit.
    let private = Visibility {
        input: InputVisibility::Private,
        ..vis
    };
    let pk2 = keygen_dense(&srs, &q, private).expect("keygen private");
    assert_ne!(pk2.id().circuit_digest, pk.id().circuit_digest);
    // Dense keys prove inference only.
    let setup =
        AttributionSetup::new(&q, run_index(&q, 20), 4, IndexVisibility::Fixed).expect("setup");
    let request = Request {
        nonce: Fr::one(),
        prover: Address([7; 20]),
    };
    let e = prove_attributed(&srs, &pk, &q, &trace, setup, request).expect_err("refused");
    assert!(matches!(e, ProverError::Attribution { .. }), "{e}");
    // An SRS of another k is refused by name.
    let e = keygen_dense(&Srs::dev(size.k + 1), &q, vis)
        .expect_err("wrong SRS k")
        .to_string();
    assert!(e.contains(&size.k.to_string()), "{e}");
}

/// A hashed input: the proof's only input instance is the wide layout's commitment; it proves,
/// verifies, and is refused with a flipped byte or another input's commitment.
#[test]
fn dense_hashed_input_proves_and_verifies() {
    let q = compile("mlp_small");
    let vis = Visibility {
        input: InputVisibility::Hashed,
        ..Visibility::default()
    };
    let size = dense_size(&q, vis).expect("sizes");
    let srs = Srs::dev(size.k);
    let pk = keygen_dense(&srs, &q, vis).expect("keygen");
    let pk = ProvingKey::from_file_bytes(&pk.to_file_bytes()).expect("pk reads back");
    assert_eq!(pk.id().visibility.input, InputVisibility::Hashed);
    let vk = pk.verifying_key();
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let proof = prove(&srs, &pk, &q, &trace).expect("proves");
    assert_eq!(proof.instances, public_instances(&q, &trace, &vis));
    assert_eq!(
        proof.instances[0],
        poa_circuits::commit::input_commitment(&q, &trace.input().data)
    );
    verify(&srs, &vk, &proof).expect("verifies");
    println!(
        "dense hashed mlp_small: k {}, {} rows, {} instances, {} compact bytes",
        size.k,
        size.rows,
        size.instances,
        proof.compact().len()
    );
    let mut bad = proof.clone();
    let mid = bad.bytes.len() / 2;
    bad.bytes[mid] ^= 1;
    assert!(matches!(
        verify(&srs, &vk, &bad),
        Err(ProverError::VerificationFailed { .. })
    ));
    let other = q.run(&test_inputs()[1]).expect("runs");
    let mut bad = proof;
    bad.instances[0] = poa_circuits::commit::input_commitment(&q, &other.input().data);
    assert!(matches!(
        verify(&srs, &vk, &bad),
        Err(ProverError::VerificationFailed { .. })
    ));
}

/// ops_zoo (pools, constants, Sigmoid and Tanh tables) in the dense layout: its keys carry the
/// table lookup (the header flag), read back into the same circuit, prove and verify; a
/// tampered proof or output is refused.
#[test]
fn dense_ops_zoo_keys_carry_their_tables_and_prove() {
    let q = compile("ops_zoo");
    let vis = Visibility::default();
    let size = dense_size(&q, vis).expect("sizes");
    let srs = Srs::dev(size.k);
    let pk = keygen_dense(&srs, &q, vis).expect("keygen");
    assert!(pk.id().dense_tables);
    let pk = ProvingKey::from_file_bytes(&pk.to_file_bytes()).expect("pk reads back");
    let vk = VerifyingKey::from_file_bytes(&pk.verifying_key().to_file_bytes()).expect("vk");
    assert!(vk.id().dense_tables && vk.id().layout == Layout::Dense);
    assert_eq!(vk.halo2().cs().lookups().len(), 2);
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let proof = prove(&srs, &pk, &q, &trace).expect("proves");
    verify(&srs, &vk, &proof).expect("verifies");
    let mut bad = proof.clone();
    let mid = bad.bytes.len() / 2;
    bad.bytes[mid] ^= 1;
    assert!(matches!(
        verify(&srs, &vk, &bad),
        Err(ProverError::VerificationFailed { .. })
    ));
    let mut bad = proof.clone();
    let last = bad.instances.len() - 1;
    bad.instances[last] += Fr::one();
    assert!(matches!(
        verify(&srs, &vk, &bad),
        Err(ProverError::VerificationFailed { .. })
    ));
    // A model without tables keeps the plain configuration and flag.
    let small = keygen_dense(&Srs::dev(10), &compile("mlp_small"), vis).expect("keygen");
    assert!(!small.id().dense_tables);
    assert_eq!(small.halo2().get_vk().cs().lookups().len(), 1);
}
