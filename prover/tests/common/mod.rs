//! Shared fixtures: calibrated fixture models and, per model, one dev-SRS keygen reused by every
//! test in a binary (keygen is the slow part).
#![allow(dead_code)]

use std::sync::OnceLock;

use poa_circuits::Visibility;
use poa_prover::{keygen, prove_with_rng, Proof, ProvingKey, Srs, VerifyingKey};
use poa_runtime::{QModel, Trace};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

#[allow(unused_imports)] // not every test binary uses it
pub use poa_fixtures::compile;

/// Trace of the `i`-th held-out test sample.
pub fn trace(model: &QModel, i: usize) -> Trace {
    model.run(&poa_fixtures::test_inputs()[i]).expect("runs")
}

/// One model with its dev SRS, keys and a proof of test sample 0.
pub struct Setup {
    pub model: QModel,
    pub srs: Srs,
    pub pk: ProvingKey,
    pub vk: VerifyingKey,
    pub trace: Trace,
    pub proof: Proof,
}

fn build(name: &str, vis: Visibility) -> Setup {
    let model = compile(name);
    let k = poa_circuits::circuit_stats(&model, &vis)
        .expect("supported")
        .k;
    let srs = Srs::dev(k);
    let pk = keygen(&model, &vis, &srs).expect("keygen");
    let vk = pk.verifying_key();
    let trace = trace(&model, 0);
    let proof =
        prove_with_rng(&srs, &pk, &model, &trace, ChaCha20Rng::seed_from_u64(1)).expect("proves");
    Setup {
        model,
        srs,
        pk,
        vk,
        trace,
        proof,
    }
}

/// mlp_small, set up once per test binary.
pub fn mlp_small() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| build("mlp_small", Visibility::default()))
}

/// mlp_deep, set up once per test binary.
pub fn mlp_deep() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| build("mlp_deep", Visibility::default()))
}

/// cnn_small (its range checks split over two bands), set up once per test binary.
pub fn cnn_small() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| build("cnn_small", Visibility::default()))
}

/// mlp_small with a `hashed` input, set up once per test binary.
pub fn mlp_small_hashed() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let vis = Visibility {
            input: poa_circuits::InputVisibility::Hashed,
            ..Visibility::default()
        };
        build("mlp_small", vis)
    })
}

/// The commitments halo2-axiom writes before the evaluations for `cs` (SHPLONK, KZG: no instance
/// commitments): advice, per lookup two permuted columns and a product, the permutation's
/// product per chunk, the vanishing argument's random polynomial and its degree − 1 pieces.
pub fn leading_commitments(
    cs: &halo2_proofs::plonk::ConstraintSystem<halo2curves::bn256::Fr>,
) -> usize {
    let chunk = cs.degree() - 2;
    cs.num_advice_columns()
        + 3 * cs.lookups().len()
        + cs.permutation().get_columns().len().div_ceil(chunk)
        + 1
        + (cs.degree() - 1)
}
