//! Every error path of the runtime: each test asserts the error variant and that its message
//! names the thing at fault (node, op, index, layer), so a user can act on it.

mod common;

use std::path::Path;

use common::{calibration_inputs, fixtures, read, test_set};
use poa_runtime::graph::{GraphBuilder, TensorInfo};
use poa_runtime::ops::{argmax, Op};
use poa_runtime::{
    calibrate, parse_inputs, quantize_graph, CalibrationOptions, OnnxModel, QModel, RuntimeError,
    Scales, Tensor, SUPPORTED_OPS,
};
use proptest::prelude::*;

fn load(rel: &str) -> poa_runtime::Result<OnnxModel> {
    OnnxModel::from_path(&fixtures().join(rel))
}

fn model_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(format!("models/{name}.onnx"))).expect("fixture model")
}

/// mlp_small at fixed scales for inputs in [-1, 1]: a real model without a calibration run.
fn mlp_small() -> QModel {
    let onnx = load("models/mlp_small.onnx").expect("mlp_small imports");
    quantize_graph(
        &onnx.graph,
        Scales {
            activation: 8,
            weight: 8,
        },
        1.0,
    )
    .expect("mlp_small quantizes")
}

/// A valid 64-value input (the first test sample).
fn sample() -> Vec<f32> {
    parse_inputs(&read("data/input_0_ours.json"), 64)
        .expect("input_0_ours parses")
        .remove(0)
}

fn json_list(values: &[f64]) -> String {
    let items: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[{}]", items.join(","))
}

// ---------------------------------------------------------------------------------------------
// Malformed ONNX
// ---------------------------------------------------------------------------------------------

fn assert_malformed(result: poa_runtime::Result<OnnxModel>, what: &str) -> String {
    match result {
        Err(e @ RuntimeError::MalformedOnnx(_)) => {
            let msg = e.to_string();
            assert!(msg.starts_with("malformed ONNX model: "), "{what}: {msg}");
            msg
        }
        other => panic!("{what}: expected MalformedOnnx, got {other:?}"),
    }
}

#[test]
fn rejects_empty_bytes_as_malformed_onnx_with_no_graph() {
    let msg = assert_malformed(OnnxModel::from_bytes(&[], "empty"), "empty bytes");
    assert!(msg.contains("no graph"), "{msg}");
}

#[test]
fn rejects_a_truncated_model_as_malformed_onnx() {
    let bytes = model_bytes("mlp_small");
    for cut in [1, 10, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        assert_malformed(
            OnnxModel::from_bytes(&bytes[..cut], "truncated"),
            &format!("first {cut} of {} bytes", bytes.len()),
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn rejects_random_garbage_as_malformed_onnx(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        assert_malformed(OnnxModel::from_bytes(&bytes, "garbage"), "random bytes");
    }
}

#[test]
fn a_missing_model_file_is_an_io_error_naming_the_path() {
    let err = OnnxModel::from_path(Path::new("/nonexistent/dir/no_such_model.onnx"))
        .expect_err("no such file");
    let msg = err.to_string();
    assert!(
        matches!(&err, RuntimeError::Io { path, .. } if path.ends_with("no_such_model.onnx")),
        "{err:?}"
    );
    assert!(msg.contains("no_such_model.onnx"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// Unsupported models
// ---------------------------------------------------------------------------------------------

#[test]
fn rejects_an_unsupported_op_naming_op_node_and_the_supported_list() {
    let err = load("models/bad/unsupported_op.onnx").expect_err("Erf is not supported");
    let msg = err.to_string();
    match &err {
        RuntimeError::UnsupportedOp {
            op,
            domain,
            node,
            supported,
        } => {
            assert_eq!(op, "Erf");
            assert_eq!(domain, "");
            assert_eq!(node, "my_erf");
            assert_eq!(supported, &SUPPORTED_OPS.join(", "));
        }
        other => panic!("expected UnsupportedOp, got {other:?}"),
    }
    for needle in [
        "`Erf`",
        "`my_erf`",
        "Gemm",
        "Conv",
        "AveragePool",
        "Sigmoid",
    ] {
        assert!(msg.contains(needle), "message lacks {needle}: {msg}");
    }
}

#[test]
fn rejects_a_custom_domain_naming_the_domain_and_node() {
    let err = load("models/bad/custom_domain.onnx").expect_err("com.example is not ONNX");
    let msg = err.to_string();
    match &err {
        RuntimeError::UnsupportedOp {
            op, domain, node, ..
        } => {
            // Relu itself is supported: only the domain makes it unknown.
            assert_eq!(op, "Relu");
            assert_eq!(domain, "com.example");
            assert_eq!(node, "custom_relu");
        }
        other => panic!("expected UnsupportedOp, got {other:?}"),
    }
    assert!(
        msg.contains("com.example") && msg.contains("custom_relu"),
        "{msg}"
    );
}

#[test]
fn rejects_grouped_conv_as_an_unsupported_group_attribute() {
    let err = load("models/bad/conv_groups.onnx").expect_err("group=2 is not supported");
    let msg = err.to_string();
    match &err {
        RuntimeError::UnsupportedAttribute { node, op, detail } => {
            assert_eq!(op, "Conv");
            assert!(!node.is_empty());
            assert!(detail.contains("group=2"), "{detail}");
            assert!(
                detail.contains("group=1"),
                "says what is supported: {detail}"
            );
        }
        other => panic!("expected UnsupportedAttribute, got {other:?}"),
    }
    assert!(msg.contains("group") && msg.contains("(Conv)"), "{msg}");
}

#[test]
fn unsupported_models_fail_at_import_before_tract_is_reached() {
    // tract cannot run `custom_domain.onnx` at all; a Reference error here would mean tract
    // saw the model. Import has to fail first, with our own error naming the node, and no
    // `OnnxModel` (hence no `reference()`) ever exists for these files.
    for (file, node) in [
        ("unsupported_op", "my_erf"),
        ("custom_domain", "custom_relu"),
    ] {
        match OnnxModel::from_bytes(&model_bytes(&format!("bad/{file}")), file) {
            Err(RuntimeError::UnsupportedOp { node: n, .. }) => assert_eq!(n, node, "{file}"),
            Err(other) => panic!("{file}: expected UnsupportedOp, got {other:?}"),
            Ok(_) => panic!("{file}: imported"),
        }
    }
    assert!(matches!(
        load("models/bad/conv_groups.onnx"),
        Err(RuntimeError::UnsupportedAttribute { .. })
    ));
}

#[test]
fn gemm_alpha_is_folded_and_matches_tract_within_the_calibration_tolerance() {
    let onnx = load("models/bad/gemm_alpha.onnx").expect("alpha is folded, not rejected");
    assert_eq!(onnx.graph.input_shape, vec![1, 64]);
    let reference = onnx.reference().expect("tract builds gemm_alpha");
    let cal: Vec<Vec<f32>> = calibration_inputs().into_iter().take(16).collect();
    let cal_out: Vec<Vec<f32>> = cal
        .iter()
        .map(|x| reference.run(x).expect("tract runs"))
        .collect();
    let opts = CalibrationOptions::default();
    let (q, report) = calibrate(&onnx.graph, &cal, &cal_out, &opts).expect("calibrates");

    // Calibration itself is the first check: with alpha ignored every logit would be half of
    // tract's, and no scale could reach a 2 % error budget.
    assert_eq!(report.calibration.argmax_agreement, 1.0);
    assert!(report.calibration.max_abs_error <= report.error_budget);
    assert!(
        (report.error_budget - opts.tolerance * f64::from(max_abs(&cal_out))).abs() < 1e-12,
        "budget is tolerance × max |float output|"
    );

    // Held-out inputs: every output within the budget, and the same argmax wherever tract's
    // top two logits are further apart than the error can bridge.
    let (test, _) = test_set();
    let mut decided = 0;
    for (i, x) in test.iter().take(60).enumerate() {
        let want = reference.run(x).expect("tract runs");
        let trace = q.run(x).expect("quantized run");
        let got = q.dequantize_output(&trace);
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g - f64::from(*w)).abs() <= report.error_budget,
                "sample {i}: |{g} - {w}| over the budget {} (scales {:?})",
                report.error_budget,
                report.scales
            );
        }
        let mut sorted = want.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        if f64::from(sorted[0] - sorted[1]) > 2.0 * report.error_budget {
            decided += 1;
            assert_eq!(
                argmax(&trace.output().data),
                argmax(&want),
                "sample {i}: quantized {got:?} vs tract {want:?}"
            );
        }
    }
    assert!(
        decided >= 40,
        "only {decided} of 60 samples had a clear winner"
    );
}

fn max_abs(rows: &[Vec<f32>]) -> f32 {
    rows.iter().flatten().fold(0f32, |m, v| m.max(v.abs()))
}

// ---------------------------------------------------------------------------------------------
// Inputs at run time
// ---------------------------------------------------------------------------------------------

#[test]
fn rejects_an_input_of_63_values_naming_the_expected_shape() {
    let q = mlp_small();
    let mut x = sample();
    x.pop();
    let err = q.run(&x).expect_err("63 values for a 64-value input");
    let msg = err.to_string();
    match &err {
        RuntimeError::InputShape {
            model,
            expected,
            shape,
            got,
        } => {
            assert_eq!(model, "mlp_small");
            assert_eq!((*expected, *got), (64, 63));
            assert_eq!(shape, &vec![1, 64]);
        }
        other => panic!("expected InputShape, got {other:?}"),
    }
    assert!(
        msg.contains("mlp_small") && msg.contains("64") && msg.contains("got 63"),
        "{msg}"
    );
}

#[test]
fn rejects_out_of_range_input_naming_the_index() {
    let q = mlp_small();
    assert_eq!(q.input_range, 1.0);
    for (index, value) in [(5usize, 1.5f32), (0, -1.5), (63, 1.0001)] {
        let mut x = sample();
        x[index] = value;
        let err = q.run(&x).expect_err("outside ±1");
        let msg = err.to_string();
        match &err {
            RuntimeError::InputOutOfRange {
                index: i,
                value: v,
                range,
            } => {
                assert_eq!(*i, index);
                assert_eq!(*v, f64::from(value));
                assert_eq!(*range, 1.0);
            }
            other => panic!("expected InputOutOfRange, got {other:?}"),
        }
        assert!(msg.contains(&format!("index {index}")), "{msg}");
        assert!(msg.contains("--input-range"), "says how to fix it: {msg}");
    }
}

#[test]
fn accepts_inputs_exactly_at_the_range_limit() {
    let q = mlp_small();
    let mut x = sample();
    x[0] = 1.0;
    x[1] = -1.0;
    q.run(&x).expect("±1.0 is inside a range of 1.0");
}

#[test]
fn rejects_nan_and_infinite_input_naming_the_index() {
    let q = mlp_small();
    for (index, value) in [
        (3usize, f32::NAN),
        (0, f32::INFINITY),
        (63, f32::NEG_INFINITY),
    ] {
        let mut x = sample();
        x[index] = value;
        let err = q.run(&x).expect_err("non-finite");
        let msg = err.to_string();
        match &err {
            RuntimeError::NonFiniteInput { index: i, value: v } => {
                assert_eq!(*i, index);
                assert_eq!(v.is_nan(), value.is_nan());
                assert!(v.is_nan() || *v == f64::from(value));
            }
            other => panic!("expected NonFiniteInput, got {other:?}"),
        }
        assert!(msg.contains(&format!("index {index}")), "{msg}");
        assert!(msg.contains("not a finite number"), "{msg}");
    }
}

#[test]
fn an_input_file_value_that_overflows_f32_is_rejected_as_non_finite_by_run() {
    let mut values = vec![0.5f64; 64];
    values[10] = 1e39;
    let json = format!(r#"{{"inputs": [{}]}}"#, json_list(&values));
    let samples = parse_inputs(&json, 64).expect("1e39 is valid JSON and a valid f64");
    assert_eq!(samples[0][10], f32::INFINITY, "f64 → f32 overflows to ∞");
    let err = mlp_small().run(&samples[0]).expect_err("∞ is not finite");
    assert!(
        matches!(err, RuntimeError::NonFiniteInput { index: 10, value } if value == f64::INFINITY),
        "{err:?}"
    );
    assert!(err.to_string().contains("index 10"), "{err}");
}

#[test]
fn rejects_a_tampered_quantized_input_beyond_the_input_bound_naming_input() {
    let q = mlp_small();
    let bound = q.input().bound;
    assert_eq!(bound, 256, "range 1.0 at scale 8");
    for tampered in [bound + 1, -(bound + 1), i64::MAX, i64::MIN] {
        let mut t = q.quantize_input(&sample()).expect("valid input");
        t.data[7] = tampered;
        let err = q.run_quantized(t).expect_err("beyond the input bound");
        let msg = err.to_string();
        match &err {
            RuntimeError::ActivationOutOfRange {
                layer,
                value,
                bound: b,
            } => {
                assert_eq!(layer, "input");
                assert_eq!(*value, tampered);
                assert_eq!(*b, bound);
            }
            other => panic!("expected ActivationOutOfRange, got {other:?}"),
        }
        assert!(msg.contains("`input`") && msg.contains("256"), "{msg}");
    }
    // At the bound itself it runs.
    let mut t = q.quantize_input(&sample()).expect("valid input");
    t.data[7] = -bound;
    q.run_quantized(t).expect("|x| = bound is in range");
}

#[test]
fn rejects_a_quantized_input_of_the_wrong_shape() {
    let q = mlp_small();
    let err = q
        .run_quantized(Tensor::new(vec![1, 8, 8], vec![0; 64]))
        .expect_err("[1,8,8] is not [1,64]");
    assert!(
        matches!(&err, RuntimeError::InputShape { shape, got: 64, .. } if shape == &vec![1, 64]),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Input files
// ---------------------------------------------------------------------------------------------

fn assert_format_error(json: &str, what: &str, detail_has: &str) {
    match parse_inputs(json, 64) {
        Err(e @ RuntimeError::Format { .. }) => {
            let msg = e.to_string();
            let RuntimeError::Format { what: w, detail } = e else {
                unreachable!()
            };
            assert_eq!(w, what, "{msg}");
            assert!(detail.contains(detail_has), "{json:.60}: {msg}");
        }
        other => panic!("{json:.60}: expected Format error, got {other:?}"),
    }
}

#[test]
fn rejects_bad_json_as_a_format_error_showing_both_accepted_shapes() {
    assert_format_error("{\"inputs\": [[0.5, 0.25", "input JSON", "input_data");
    assert_format_error("not json", "input JSON", "\"inputs\"");
}

#[test]
fn rejects_a_wrong_field_name() {
    let json = format!(r#"{{"input": [{}]}}"#, json_list(&[0.0; 64]));
    assert_format_error(&json, "input JSON", "expected {\"inputs\"");
}

#[test]
fn rejects_a_sample_of_the_wrong_length_in_our_format() {
    let json = format!(
        r#"{{"inputs": [{}, {}]}}"#,
        json_list(&[0.0; 64]),
        json_list(&[0.0; 63])
    );
    let err = parse_inputs(&json, 64).expect_err("second sample has 63 values");
    assert!(
        matches!(
            err,
            RuntimeError::InputShape {
                expected: 64,
                got: 63,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("got 63"), "{err}");
}

#[test]
fn splits_an_ezkl_batch_of_two_samples() {
    let a: Vec<f64> = (0..64).map(|i| f64::from(i) / 64.0).collect();
    let b: Vec<f64> = (0..64).map(|i| -f64::from(i) / 128.0).collect();
    let json = format!(
        r#"{{"input_data": [{}], "output_data": [[1.0]]}}"#,
        json_list(&[a.clone(), b.clone()].concat())
    );
    let samples = parse_inputs(&json, 64).expect("a flat batch of 2 × 64");
    let as_f32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
    assert_eq!(samples, vec![as_f32(&a), as_f32(&b)]);
}

#[test]
fn rejects_an_ezkl_file_with_two_model_inputs() {
    let json = format!(
        r#"{{"input_data": [{}, {}]}}"#,
        json_list(&[0.0; 64]),
        json_list(&[0.0; 64])
    );
    assert_format_error(&json, "ezkl input", "2 model inputs");
}

#[test]
fn rejects_an_ezkl_batch_that_is_not_a_whole_number_of_samples() {
    let json = format!(r#"{{"input_data": [{}]}}"#, json_list(&[0.0; 65]));
    let err = parse_inputs(&json, 64).expect_err("65 values");
    assert!(
        matches!(
            err,
            RuntimeError::InputShape {
                expected: 64,
                got: 65,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn rejects_an_empty_list_of_samples() {
    assert_format_error(r#"{"inputs": []}"#, "input JSON", "no samples");
    let err = parse_inputs(r#"{"input_data": [[]]}"#, 64).expect_err("no values");
    assert!(
        matches!(err, RuntimeError::InputShape { got: 0, .. }),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Graph building and calibration
// ---------------------------------------------------------------------------------------------

#[test]
fn graph_builder_rejects_a_shape_clash_naming_the_layer() {
    let input = TensorInfo {
        name: "input".into(),
        shape: vec![1, 4],
        scale: 0,
        bound: 1,
    };
    let mut b = GraphBuilder::new("clash".into(), input, 1.0);
    let err = b
        .push(
            "reshape_7".into(),
            Op::Reshape { shape: vec![1, 5] },
            vec![0],
            0,
        )
        .expect_err("4 values cannot become 5");
    assert!(
        matches!(&err, RuntimeError::InvalidGraph { node, detail } if node == "reshape_7" && detail.contains("[1, 5]")),
        "{err:?}"
    );
    let err = b
        .push("relu_9".into(), Op::Relu, vec![3], 0)
        .expect_err("tensor 3 does not exist");
    assert!(
        matches!(&err, RuntimeError::InvalidGraph { node, detail } if node == "relu_9" && detail.contains("[3]")),
        "{err:?}"
    );
    assert!(err.to_string().contains("`relu_9`"), "{err}");
}

#[test]
fn calibration_without_inputs_is_a_calibration_error() {
    let onnx = load("models/mlp_small.onnx").expect("imports");
    let err = calibrate(&onnx.graph, &[], &[], &CalibrationOptions::default())
        .expect_err("nothing to calibrate on");
    assert!(
        matches!(&err, RuntimeError::Calibration(m) if m.contains("no calibration inputs")),
        "{err:?}"
    );
}

#[test]
fn calibration_that_cannot_meet_the_tolerance_reports_the_search_range() {
    let onnx = load("models/mlp_small.onnx").expect("imports");
    let reference = onnx.reference().expect("tract");
    let inputs: Vec<Vec<f32>> = calibration_inputs().into_iter().take(4).collect();
    let outputs: Vec<Vec<f32>> = inputs
        .iter()
        .map(|x| reference.run(x).expect("runs"))
        .collect();
    let opts = CalibrationOptions {
        tolerance: 1e-9,
        min_scale: 2,
        max_scale: 3,
        ..CalibrationOptions::default()
    };
    let err = calibrate(&onnx.graph, &inputs, &outputs, &opts).expect_err("1e-9 is unreachable");
    assert!(
        matches!(&err, RuntimeError::Calibration(m) if m.contains("2..=3") && m.contains("best")),
        "{err:?}"
    );
}
