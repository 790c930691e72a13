//! End-to-end checks on the committed fixture models: import, float reference, calibration and
//! held-out agreement between the quantized runtime and the float model.

mod common;

use common::{compile, fixture_logits, test_set};
use poa_runtime::compare;

/// Quantized argmax must agree with float on ≥ 99% of the held-out digits test set.
fn assert_held_out_agreement(name: &str) {
    let (onnx, q, report) = compile(name);
    let reference = onnx.reference().expect("reference");
    let (inputs, _) = test_set();
    let float: Vec<Vec<f32>> = inputs
        .iter()
        .map(|x| reference.run(x).expect("float run"))
        .collect();
    // tract reproduces the logits the fixture script computed independently.
    for (ours, theirs) in float.iter().zip(fixture_logits(name)) {
        for (a, b) in ours.iter().zip(&theirs) {
            assert!((a - b).abs() < 1e-4, "{name}: tract {a} vs fixture {b}");
        }
    }
    let agreement = compare(&q, &inputs, &float).expect("quantized run");
    println!(
        "{name}: scales {:?}, held-out argmax agreement {:.2}% ({}/{}), max abs err {:.4}, mean {:.5}, macs {}",
        report.scales,
        100.0 * agreement.argmax_agreement,
        agreement.argmax_matches,
        agreement.samples,
        agreement.max_abs_error,
        agreement.mean_abs_error,
        report.macs
    );
    assert!(
        agreement.argmax_agreement >= 0.99,
        "{name}: agreement {agreement:?}"
    );
}

#[test]
fn mlp_small_agrees_with_float_on_held_out_set() {
    assert_held_out_agreement("mlp_small");
}

#[test]
fn mlp_deep_agrees_with_float_on_held_out_set() {
    assert_held_out_agreement("mlp_deep");
}

#[test]
fn cnn_small_agrees_with_float_on_held_out_set() {
    assert_held_out_agreement("cnn_small");
}

#[test]
fn mlp_26k_agrees_with_float_on_held_out_set() {
    assert_held_out_agreement("mlp_26k");
}

#[test]
fn mlp_85k_agrees_with_float_on_held_out_set() {
    assert_held_out_agreement("mlp_85k");
}

#[test]
fn ops_zoo_agrees_with_float_on_held_out_set() {
    assert_held_out_agreement("ops_zoo");
}
