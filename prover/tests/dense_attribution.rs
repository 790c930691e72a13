//! Dense-layout attribution keys: made by `keygen_dense_attributed`, written and read back
//! through the key files (the header's attribution flag reconfigures the circuit), proven by
//! `prove_attributed` and checked by `verify` — and refused for a tampered proof byte or
//! instance, another index, and inference alone. Also the release-mode timing run (ignored).

use std::time::Instant;

use poa_circuits::{
    AttributionRows, AttributionSetup, Fr, IndexVisibility, Layout, Request, Visibility,
};
use poa_fixtures::{compile, run_index, test_inputs};
use poa_prover::{
    dense_size, dense_size_attributed, keygen_dense_attributed, prove, prove_attributed, verify,
    ProverError, ProvingKey, Srs, VerifyingKey,
};
use poa_runtime::datanet::Address;

fn request() -> Request {
    Request {
        nonce: Fr::from(9),
        prover: Address([0x17; 20]),
    }
}

#[test]
fn dense_attribution_keys_round_trip_prove_and_refuse_damage() {
    let q = compile("mlp_small");
    let vis = Visibility::default();
    let setup =
        AttributionSetup::new(&q, run_index(&q, 24), 4, IndexVisibility::Fixed).expect("setup");
    let size = dense_size_attributed(&q, vis, Some(&setup)).expect("sizes");
    let srs = Srs::dev(size.k);
    let pk = keygen_dense_attributed(&srs, &q, vis, Some(&setup)).expect("keygen");
    assert!(pk.id().attributed);
    assert_eq!(pk.id().layout, Layout::Dense);
    // Read back: the attribution flag picks the columns, so the keys are the same keys.
    let pk = ProvingKey::from_file_bytes(&pk.to_file_bytes()).expect("pk reads back");
    let vk_file = pk.verifying_key().to_file_bytes();
    let vk = VerifyingKey::from_file_bytes(&vk_file).expect("vk reads back");
    assert!(vk.id().attributed);
    assert_eq!(vk.to_file_bytes(), vk_file);
    assert_eq!(vk.halo2().cs().num_fixed_columns(), 16);

    let trace = q.run(&test_inputs()[1]).expect("runs");
    let proof = prove_attributed(&srs, &pk, &q, &trace, setup.clone(), request()).expect("proves");
    assert_eq!(proof.instances[AttributionRows::NONCE], Fr::from(9));
    verify(&srs, &vk, &proof).expect("verifies");
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
    for row in [
        AttributionRows::NONCE,
        AttributionRows::contributor(0),
        AttributionRows::score(3),
    ] {
        let mut bad = proof.clone();
        bad.instances[row] += Fr::one();
        assert!(
            matches!(
                verify(&srs, &vk, &bad),
                Err(ProverError::VerificationFailed { .. })
            ),
            "instance {row}"
        );
    }

    // The keys fix the index: another index of the same size is another circuit.
    let mut index = (*run_index(&q, 24)).clone();
    index.entries[3].embedding[0] += 1;
    let other = AttributionSetup::new(&q, std::sync::Arc::new(index), 4, IndexVisibility::Fixed)
        .expect("setup");
    let e = prove_attributed(&srs, &pk, &q, &trace, other, request()).expect_err("other index");
    assert!(matches!(e, ProverError::CircuitMismatch { .. }), "{e}");
    // Inference alone is not what they prove, and inference keys are another circuit.
    let e = prove(&srs, &pk, &q, &trace).expect_err("attribution key");
    assert!(e.to_string().contains("attribution"), "{e}");
    let inference = dense_size(&q, vis).expect("sizes");
    assert!(inference.k <= size.k);
}

/// Release-mode timing of mlp_small top-8 over 1,000 and 1,437 entries (run with
/// `cargo test --release -p poa-prover --test dense_attribution -- --ignored --nocapture`).
#[test]
#[ignore]
fn timing_mlp_small_top8() {
    let q = compile("mlp_small");
    let vis = Visibility::default();
    for n in [100, 1000, 1437] {
        let setup =
            AttributionSetup::new(&q, run_index(&q, n), 8, IndexVisibility::Fixed).expect("setup");
        let size = dense_size_attributed(&q, vis, Some(&setup)).expect("sizes");
        let srs = Srs::dev(size.k);
        let t = Instant::now();
        let pk = keygen_dense_attributed(&srs, &q, vis, Some(&setup)).expect("keygen");
        let keygen = t.elapsed();
        let trace = q.run(&test_inputs()[1]).expect("runs");
        let t = Instant::now();
        let proof =
            prove_attributed(&srs, &pk, &q, &trace, setup.clone(), request()).expect("proves");
        let prove_s = t.elapsed();
        let t = Instant::now();
        verify(&srs, &pk.verifying_key(), &proof).expect("verifies");
        let verify_s = t.elapsed();
        eprintln!(
            "n={n}: rows {} k {} keygen {keygen:.2?} prove {prove_s:.2?} verify {verify_s:.2?} \
             proof {} B (compact {} B)",
            size.rows,
            size.k,
            proof.bytes.len(),
            proof.compact().len()
        );
    }
}
