//! `hashed` weights end to end: one keygen on the base model proves and verifies its LoRA
//! adapter too (byte-identical keys from either model), the proof's row 0 is the adapter's
//! weights commitment, and a proof whose commitment row is swapped for the base's fails native
//! verification. Keys survive their files with the weights flag.

use halo2curves::ff::Field;
use poa_circuits::weights::{shape_digest, weights_commitment};
use poa_circuits::{circuit_stats, Fr, Visibility, WeightVisibility};
use poa_prover::{keygen, prove_with_rng, verify, ProvingKey, Srs, VerifyingKey};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn hashed() -> Visibility {
    Visibility {
        weights: WeightVisibility::Hashed,
        ..Visibility::default()
    }
}

#[test]
fn one_key_serves_the_base_model_and_its_adapter() {
    let (base, adapted) = poa_fixtures::compile_adapted_hashed();
    let vis = hashed();
    let k = circuit_stats(&base, &vis).expect("supported").k;
    let srs = Srs::dev(k);
    let pk = keygen(&base, &vis, &srs).expect("keygen");
    let vk = pk.verifying_key();
    assert_eq!(vk.id().model_digest, shape_digest(&base));
    // The adapter's own keygen gives the same bytes: one verifier for both.
    let pk_adapted = keygen(&adapted, &vis, &srs).expect("keygen");
    assert_eq!(
        pk_adapted.verifying_key().to_file_bytes(),
        vk.to_file_bytes()
    );

    for (i, q) in [&base, &adapted].into_iter().enumerate() {
        let trace = q.run(&poa_fixtures::test_inputs()[i]).expect("runs");
        let proof =
            prove_with_rng(&srs, &pk, q, &trace, ChaCha20Rng::seed_from_u64(7)).expect("proves");
        assert_eq!(proof.instances[0], weights_commitment(q));
        verify(&srs, &vk, &proof).expect("verifies under the shared key");
    }

    // The adapter's proof claiming the base model's weights (or any other) is refused.
    let trace = adapted.run(&poa_fixtures::test_inputs()[3]).expect("runs");
    let proof =
        prove_with_rng(&srs, &pk, &adapted, &trace, ChaCha20Rng::seed_from_u64(8)).expect("proves");
    for claimed in [weights_commitment(&base), proof.instances[0] + Fr::ONE] {
        let mut forged = proof.clone();
        forged.instances[0] = claimed;
        assert!(
            verify(&srs, &vk, &forged).is_err(),
            "forged commitment accepted"
        );
    }

    // Files carry the weights flag, so a loaded key reconfigures the same columns.
    let vk2 = VerifyingKey::from_file_bytes(&vk.to_file_bytes()).expect("vk file");
    assert_eq!(vk2.id().visibility.weights, WeightVisibility::Hashed);
    verify(&srs, &vk2, &proof).expect("verifies after a file round trip");
    let pk2 = ProvingKey::from_file_bytes(&pk.to_file_bytes()).expect("pk file");
    let again = prove_with_rng(&srs, &pk2, &adapted, &trace, ChaCha20Rng::seed_from_u64(9))
        .expect("proves");
    verify(&srs, &vk, &again).expect("loaded pk proves");

    // A fixed-weights key is another circuit: it refuses the hashed model's proof.
    let fixed = keygen(
        &base,
        &Visibility::default(),
        &Srs::dev(
            circuit_stats(&base, &Visibility::default())
                .expect("stats")
                .k,
        ),
    )
    .expect("keygen");
    assert!(verify(&srs, &fixed.verifying_key(), &proof).is_err());
}
