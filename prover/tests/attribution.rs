//! Attribution proofs end to end: keygen, prove and native verification of inference + top-k,
//! with every public header value bound to the proof.

use poa_circuits::{
    AttributionRows, AttributionSetup, Fr, IndexVisibility, ModelCircuit, Request, Visibility,
};
use poa_fixtures::{compile, run_index, test_inputs};
use poa_prover::{keygen, keygen_circuit, prove, prove_attributed, verify, ProverError, Srs};
use poa_runtime::datanet::Address;

#[test]
fn attribution_proof_round_trip_binds_every_public_value() {
    let q = compile("mlp_small");
    let vis = Visibility::default();
    let setup =
        AttributionSetup::new(&q, run_index(&q, 24), 8, IndexVisibility::Fixed).expect("setup");
    let keygen_circuit_ = ModelCircuit::new(&q, None, vis)
        .expect("builds")
        .with_attribution(setup.clone(), None)
        .expect("attribution");
    let srs = Srs::dev(keygen_circuit_.stats().k);
    let pk = keygen_circuit(&keygen_circuit_, &srs).expect("keygen");
    let vk = pk.verifying_key();
    assert!(vk.id().attributed);
    let trace = q.run(&test_inputs()[1]).expect("runs");
    let request = Request {
        nonce: Fr::from(7),
        prover: Address([0x42; 20]),
    };
    let proof = prove_attributed(&srs, &pk, &q, &trace, setup.clone(), request).expect("proves");
    verify(&srs, &vk, &proof).expect("verifies");

    // Any public value changed — nonce, prover, a contributor, a score, the class, the root —
    // and the proof no longer verifies.
    for row in [
        AttributionRows::NONCE,
        AttributionRows::PROVER,
        AttributionRows::contributor(0),
        AttributionRows::score(7),
        AttributionRows::CLASS,
        AttributionRows::INDEX_ROOT,
        AttributionRows::MODEL_ID,
    ] {
        let mut forged = proof.clone();
        forged.instances[row] += Fr::one();
        let e = verify(&srs, &vk, &forged).expect_err("forged instance");
        assert!(
            matches!(e, ProverError::VerificationFailed { .. }),
            "row {row}: {e}"
        );
    }

    // The attribution key refuses a plain inference proof, and the inference key's circuit is
    // another circuit.
    let e = prove(&srs, &pk, &q, &trace).expect_err("needs index and request");
    assert!(e.to_string().contains("attribution"), "{e}");
    let plain_k = poa_circuits::circuit_stats(&q, &vis).expect("stats").k;
    let plain = keygen(&q, &vis, &Srs::dev(plain_k)).expect("plain keygen");
    assert_ne!(plain.id().circuit_digest, pk.id().circuit_digest);

    // A key for another index (one entry fewer) is another circuit: refused before proving.
    let other =
        AttributionSetup::new(&q, run_index(&q, 23), 8, IndexVisibility::Fixed).expect("setup");
    let e = prove_attributed(&srs, &pk, &q, &trace, other, request).expect_err("other index");
    assert!(matches!(e, ProverError::CircuitMismatch { .. }), "{e}");
}

/// A hashed index: one key proves over any index of the same shape — here two different
/// 6-entry indexes (another sealed version, say) — and publishes each one's root.
#[test]
fn one_hashed_index_key_serves_every_index_of_its_shape() {
    let q = compile("mlp_small");
    let vis = Visibility::default();
    let index_a = run_index(&q, 6);
    let mut b = (*run_index(&q, 12)).clone();
    b.entries.drain(..6);
    let index_b = std::sync::Arc::new(b);
    let setup_a = AttributionSetup::new(&q, index_a, 3, IndexVisibility::Hashed).expect("setup");
    let setup_b = AttributionSetup::new(&q, index_b, 3, IndexVisibility::Hashed).expect("setup");
    assert_ne!(setup_a.root(), setup_b.root());
    let circuit = ModelCircuit::new(&q, None, vis)
        .expect("builds")
        .with_attribution(setup_a.clone(), None)
        .expect("attribution");
    let srs = Srs::dev(circuit.stats().k);
    let pk = keygen_circuit(&circuit, &srs).expect("keygen");
    let vk = pk.verifying_key();
    let trace = q.run(&test_inputs()[2]).expect("runs");
    let request = Request {
        nonce: Fr::from(9),
        prover: Address([0x42; 20]),
    };
    for setup in [setup_a, setup_b] {
        let root = setup.root();
        let proof = prove_attributed(&srs, &pk, &q, &trace, setup, request).expect("proves");
        assert_eq!(proof.instances[AttributionRows::INDEX_ROOT], root);
        verify(&srs, &vk, &proof).expect("verifies");
        let mut forged = proof.clone();
        forged.instances[AttributionRows::INDEX_ROOT] += Fr::one();
        assert!(
            verify(&srs, &vk, &forged).is_err(),
            "another root must not verify"
        );
    }
    // A fixed-index key of the same index is another circuit.
    let fixed =
        AttributionSetup::new(&q, run_index(&q, 6), 3, IndexVisibility::Fixed).expect("setup");
    let e = prove_attributed(&srs, &pk, &q, &trace, fixed, request).expect_err("fixed vs hashed");
    assert!(matches!(e, ProverError::CircuitMismatch { .. }), "{e}");
}
