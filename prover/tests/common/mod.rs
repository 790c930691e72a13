//! Shared fixtures: calibrated fixture models and, per model, one dev-SRS keygen reused by every
//! test in a binary (keygen is the slow part).
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use poa_circuits::Visibility;
use poa_prover::{keygen, prove_with_rng, Proof, ProvingKey, Srs, VerifyingKey};
use poa_runtime::{calibrate, parse_inputs, CalibrationOptions, OnnxModel, QModel, Trace};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// `fixtures/` at the repository root.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(fixtures().join(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

/// Imports and calibrates `fixtures/models/<name>.onnx` with default options.
pub fn compile(name: &str) -> QModel {
    let onnx = OnnxModel::from_path(&fixtures().join(format!("models/{name}.onnx")))
        .expect("fixture imports");
    let reference = onnx.reference().expect("reference builds");
    let inputs = parse_inputs(&read("data/calibration.json"), 64).expect("calibration inputs");
    let outputs: Vec<Vec<f32>> = inputs
        .iter()
        .map(|x| reference.run(x).expect("reference runs"))
        .collect();
    calibrate(
        &onnx.graph,
        &inputs,
        &outputs,
        &CalibrationOptions::default(),
    )
    .expect("calibrates")
    .0
}

/// Trace of the `i`-th held-out test sample.
pub fn trace(model: &QModel, i: usize) -> Trace {
    let inputs = parse_inputs(&read("data/test.json"), 64).expect("test inputs");
    model.run(&inputs[i]).expect("runs")
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

/// mlp_small with a `hashed` input, set up once per test binary.
pub fn mlp_small_hashed() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let vis = Visibility {
            input: poa_circuits::InputVisibility::Hashed,
        };
        build("mlp_small", vis)
    })
}
