//! Shared helpers for the runtime's integration tests: fixture paths and loaders.
#![allow(dead_code)]

use std::path::PathBuf;

use poa_runtime::{
    calibrate, parse_inputs, CalibrationOptions, CalibrationReport, OnnxModel, QModel,
};

/// `fixtures/` at the repository root.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Reads a fixture file as text.
pub fn read(rel: &str) -> String {
    std::fs::read_to_string(fixtures().join(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

/// Loads a fixture model by name (`fixtures/models/<name>.onnx`).
pub fn model(name: &str) -> OnnxModel {
    OnnxModel::from_path(&fixtures().join(format!("models/{name}.onnx")))
        .expect("fixture model imports")
}

/// Calibration inputs (64 values each).
pub fn calibration_inputs() -> Vec<Vec<f32>> {
    parse_inputs(&read("data/calibration.json"), 64).expect("calibration inputs parse")
}

/// Held-out test inputs and labels.
pub fn test_set() -> (Vec<Vec<f32>>, Vec<usize>) {
    let v: serde_json::Value = serde_json::from_str(&read("data/test.json")).expect("test.json");
    let inputs = parse_inputs(&read("data/test.json"), 64).expect("test inputs");
    let labels = v["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|l| l.as_u64().expect("label") as usize)
        .collect();
    (inputs, labels)
}

/// Reference float logits the fixture script computed for the test set.
pub fn fixture_logits(name: &str) -> Vec<Vec<f32>> {
    let v: serde_json::Value =
        serde_json::from_str(&read(&format!("data/logits_{name}.json"))).expect("logits");
    serde_json::from_value(v["logits"].clone()).expect("logits shape")
}

/// Imports, runs the float reference on the calibration set and calibrates with defaults.
pub fn compile(name: &str) -> (OnnxModel, QModel, CalibrationReport) {
    let onnx = model(name);
    let reference = onnx.reference().expect("tract reference builds");
    let inputs = calibration_inputs();
    let outputs: Vec<Vec<f32>> = inputs
        .iter()
        .map(|x| reference.run(x).expect("reference runs"))
        .collect();
    let (q, report) = calibrate(
        &onnx.graph,
        &inputs,
        &outputs,
        &CalibrationOptions::default(),
    )
    .expect("calibrates");
    (onnx, q, report)
}
