//! Shared helpers: fixture models calibrated with defaults, test inputs, MockProver runs.
#![allow(dead_code)]

use std::path::PathBuf;

use halo2_proofs::dev::{MockProver, VerifyFailure};
use poa_circuits::{Fr, ModelCircuit};
use poa_runtime::{calibrate, parse_inputs, CalibrationOptions, OnnxModel, QModel};

/// `fixtures/` at the repository root.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(fixtures().join(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

/// Imports `fixtures/models/<name>.onnx`.
pub fn onnx(name: &str) -> OnnxModel {
    OnnxModel::from_path(&fixtures().join(format!("models/{name}.onnx"))).expect("fixture imports")
}

/// Imports and calibrates a fixture model with default options on the calibration set.
pub fn compile(name: &str) -> QModel {
    let onnx = onnx(name);
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

/// The held-out test inputs.
pub fn test_inputs() -> Vec<Vec<f32>> {
    parse_inputs(&read("data/test.json"), 64).expect("test inputs")
}

/// Runs MockProver at the circuit's own `k` with the given instances.
pub fn mock(circuit: &ModelCircuit, instances: Vec<Fr>) -> Result<(), Vec<VerifyFailure>> {
    let k = circuit.stats().k;
    MockProver::run(k, circuit, vec![instances])
        .expect("synthesis succeeds")
        .verify()
}

/// True when some failure is an unsatisfied constraint of the gate named `gate`.
pub fn has_gate(failures: &[VerifyFailure], gate: &str) -> bool {
    failures.iter().any(|f| match f {
        VerifyFailure::ConstraintNotSatisfied { constraint, .. } => {
            constraint.to_string().ends_with(&format!("('{gate}')"))
        }
        _ => false,
    })
}

/// True when some failure is the lookup named `name`.
pub fn has_lookup(failures: &[VerifyFailure], name: &str) -> bool {
    failures
        .iter()
        .any(|f| matches!(f, VerifyFailure::Lookup { name: n, .. } if n == name))
}

/// True when some failure is a permutation (copy or instance) failure.
pub fn has_permutation(failures: &[VerifyFailure]) -> bool {
    failures
        .iter()
        .any(|f| matches!(f, VerifyFailure::Permutation { .. }))
}
