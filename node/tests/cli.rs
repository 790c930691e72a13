//! The `poa` binary driven as a user would: compile and run fixture models, JSON output, and
//! clear errors (non-zero exit, message naming the problem) for bad models and inputs.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn poa() -> Command {
    Command::cargo_bin("poa").expect("poa binary is built")
}

/// `poa [--json] compile <fixture model> --calibration … --test … --out <out>`.
fn compile_cmd(model: &str, out: &Path, json: bool) -> Command {
    let mut cmd = poa();
    if json {
        cmd.arg("--json");
    }
    cmd.arg("compile")
        .arg(fixtures().join(format!("models/{model}.onnx")))
        .arg("--calibration")
        .arg(fixtures().join("data/calibration.json"))
        .arg("--test")
        .arg(fixtures().join("data/test.json"))
        .arg("--out")
        .arg(out);
    cmd
}

fn compile(model: &str, out: &Path) -> assert_cmd::assert::Assert {
    compile_cmd(model, out, false).assert()
}

fn stdout_json(a: &assert_cmd::assert::Assert) -> serde_json::Value {
    serde_json::from_slice(&a.get_output().stdout).expect("stdout is JSON")
}

#[test]
fn compile_prints_report_and_run_predicts_the_label() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mlp");
    let a = compile("mlp_small", &out).success();
    let text = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert!(text.contains("held-out: argmax agreement"), "{text}");
    for f in ["model.onnx", "qmodel.json", "settings.json", "report.json"] {
        assert!(out.join(f).is_file(), "{f} written");
    }
    let a = poa()
        .args(["--json", "run"])
        .arg(&out)
        .arg("--input")
        .arg(fixtures().join("data/input_0.json"))
        .assert()
        .success();
    let v = stdout_json(&a);
    assert_eq!(v[0]["class"], 7, "test sample 0 is a 7: {v}");
    assert_eq!(v[0]["embedding"].as_array().map(Vec::len), Some(32));
    assert_eq!(v[0]["trace_hash"].as_str().map(str::len), Some(64));
}

#[test]
fn compile_json_reports_held_out_agreement_for_every_fixture() {
    let dir = tempfile::tempdir().expect("tempdir");
    // mlp_26k and mlp_85k compile in about a second each in a debug build.
    for model in ["mlp_small", "mlp_deep", "cnn_small", "mlp_26k", "mlp_85k"] {
        let a = compile_cmd(model, &dir.path().join(model), true)
            .assert()
            .success();
        let v = stdout_json(&a);
        let agreement = v["report"]["held_out"]["argmax_agreement"]
            .as_f64()
            .expect("held-out agreement");
        println!("{model}: held-out agreement {agreement}");
        assert!(agreement >= 0.99, "{model}: {agreement}");
    }
}

#[test]
fn rejects_unsupported_op_naming_the_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = poa()
        .arg("compile")
        .arg(fixtures().join("models/bad/unsupported_op.onnx"))
        .arg("--calibration")
        .arg(fixtures().join("data/calibration.json"))
        .arg("--out")
        .arg(dir.path().join("x"))
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(
        err.contains("unsupported ONNX op `Erf`")
            && err.contains("my_erf")
            && err.contains("supported ops: Gemm"),
        "{err}"
    );
    assert!(
        !dir.path().join("x/qmodel.json").exists(),
        "nothing written on failure"
    );
}

#[test]
fn rejects_malformed_onnx_and_missing_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"\x08\x07not a protobuf at all").expect("write");
    let a = poa()
        .arg("compile")
        .arg(&garbage)
        .arg("--calibration")
        .arg(fixtures().join("data/calibration.json"))
        .arg("--out")
        .arg(dir.path().join("x"))
        .assert()
        .failure();
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("malformed ONNX model"));
    let a = poa()
        .args(["run", "/nonexistent/dir", "--input", "x.json"])
        .assert()
        .failure();
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("not a compiled model folder"));
}

#[test]
fn run_rejects_wrong_shape_bad_json_and_out_of_range_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mlp");
    compile("mlp_small", &out).success();
    let cases = [
        (
            "short.json",
            "{\"inputs\": [[0.5, 0.5]]}".to_string(),
            "expects 64 values",
        ),
        (
            "bad.json",
            "{\"inputs\": [[0.5,".to_string(),
            "invalid input JSON",
        ),
        (
            "range.json",
            format!("{{\"inputs\": [[{}]]}}", ["2.5"; 64].join(",")),
            "outside the calibrated input range",
        ),
        (
            "inf.json",
            format!("{{\"input_data\": [[{}]]}}", ["1e39"; 64].join(",")),
            "not a finite number",
        ),
    ];
    for (file, body, want) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, body).expect("write input");
        let a = poa()
            .args(["--json", "run"])
            .arg(&out)
            .arg("--input")
            .arg(&path)
            .assert()
            .failure();
        let v = stdout_json(&a);
        let msg = v["error"].as_str().unwrap_or_default();
        assert!(msg.contains(want), "{file}: {msg}");
    }
}

#[test]
fn run_rejects_a_tampered_model_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mlp");
    compile("mlp_small", &out).success();
    let q = out.join("qmodel.json");
    let text = std::fs::read_to_string(&q).expect("read");
    std::fs::write(
        &q,
        text.replacen("\"input_range\": 1.0", "\"input_range\": 2.0", 1),
    )
    .expect("write");
    let a = poa()
        .arg("run")
        .arg(&out)
        .arg("--input")
        .arg(fixtures().join("data/input_0.json"))
        .assert()
        .failure();
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("digest differs"));
}

/// `poa [--json] <args…>` on a model folder, asserting nothing yet.
fn poa_in(json: bool, args: &[&std::ffi::OsStr]) -> assert_cmd::assert::Assert {
    let mut cmd = poa();
    if json {
        cmd.arg("--json");
    }
    cmd.args(args).assert()
}

/// `poa --json setup <out> --dev-srs --layout <layout>`.
fn setup_layout(out: &Path, layout: &str) -> assert_cmd::assert::Assert {
    poa_in(
        true,
        &[
            "setup".as_ref(),
            out.as_os_str(),
            "--dev-srs".as_ref(),
            "--layout".as_ref(),
            layout.as_ref(),
        ],
    )
}

/// `poa --json prove <out> --input <input> --out <proof>`.
fn prove_in(out: &Path, input: &Path, proof: &Path) -> assert_cmd::assert::Assert {
    poa_in(
        true,
        &[
            "prove".as_ref(),
            out.as_os_str(),
            "--input".as_ref(),
            input.as_os_str(),
            "--out".as_ref(),
            proof.as_os_str(),
        ],
    )
}

fn stderr_text(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

#[test]
fn setup_dev_srs_then_prove_then_verify_and_reject_a_tampered_proof() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mlp");
    compile("mlp_small", &out).success();
    let a = poa_in(
        true,
        &["setup".as_ref(), out.as_os_str(), "--dev-srs".as_ref()],
    )
    .success();
    assert!(stderr_text(&a).contains("INSECURE"), "dev SRS warns");
    let v = stdout_json(&a);
    assert_eq!(v["insecure_srs"], true);
    assert!(v["stats"]["k"].as_u64().is_some_and(|k| k >= 8), "{v}");
    for f in ["srs.dev.bin", "pk.bin", "vk.bin"] {
        assert!(out.join(f).is_file(), "{f} written");
    }

    let proof = dir.path().join("proof.json");
    let input = fixtures().join("data/input_0.json");
    let a = prove_in(&out, &input, &proof).success();
    let v = stdout_json(&a);
    assert!(v["proof_bytes"].as_u64().is_some_and(|n| n > 500), "{v}");
    let text = std::fs::read_to_string(&proof).expect("proof written");
    assert!(text.contains("\"insecure_srs\": true"), "{text}");

    let a = poa_in(
        true,
        &["verify".as_ref(), out.as_os_str(), proof.as_os_str()],
    )
    .success();
    assert_eq!(stdout_json(&a)["valid"], true);

    // Flip one hex digit in the middle of the proof bytes.
    let j: serde_json::Value = serde_json::from_str(&text).expect("json");
    let hex = j["proof"].as_str().expect("proof hex");
    let mid = hex.len() / 2;
    let flipped = if &hex[mid..=mid] == "0" { "1" } else { "0" };
    let tampered_hex = format!("{}{flipped}{}", &hex[..mid], &hex[mid + 1..]);
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, text.replace(hex, &tampered_hex)).expect("write");
    let a = poa_in(
        false,
        &["verify".as_ref(), out.as_os_str(), tampered.as_os_str()],
    )
    .failure();
    let err = stderr_text(&a);
    assert!(err.contains("proof does not verify"), "{err}");

    // Change the first public output value.
    let n_in = 64;
    let mut j2 = j.clone();
    j2["instances"][n_in] = serde_json::Value::String(format!("0x{}", "0".repeat(64)));
    std::fs::write(&tampered, serde_json::to_string(&j2).expect("json")).expect("write");
    let a = poa_in(
        true,
        &["verify".as_ref(), out.as_os_str(), tampered.as_os_str()],
    )
    .failure();
    let v = stdout_json(&a);
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("proof does not verify"),
        "{v}"
    );
}

#[test]
fn setup_takes_a_ceremony_srs_and_rejects_one_too_small() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mlp");
    compile("mlp_small", &out).success();
    let small = dir.path().join("kzg5.srs");
    std::fs::write(&small, poa_prover::Srs::dev(5).to_raw_bytes()).expect("write");
    let a = poa_in(
        false,
        &[
            "setup".as_ref(),
            out.as_os_str(),
            "--srs".as_ref(),
            small.as_os_str(),
        ],
    )
    .failure();
    let err = stderr_text(&a);
    assert!(
        err.contains("SRS too small") && err.contains("k=5"),
        "{err}"
    );

    let big = dir.path().join("kzg12.srs");
    std::fs::write(&big, poa_prover::Srs::dev(12).to_raw_bytes()).expect("write");
    let a = poa_in(
        true,
        &[
            "setup".as_ref(),
            out.as_os_str(),
            "--srs".as_ref(),
            big.as_os_str(),
        ],
    )
    .success();
    assert!(
        !stderr_text(&a).contains("INSECURE"),
        "a ceremony SRS does not warn"
    );
    assert_eq!(stdout_json(&a)["insecure_srs"], false);
    assert!(out.join("srs.bin").is_file() && !out.join("srs.dev.bin").exists());

    let proof = dir.path().join("proof.json");
    let input = fixtures().join("data/input_0_ours.json");
    prove_in(&out, &input, &proof).success();
    poa_in(
        false,
        &["verify".as_ref(), out.as_os_str(), proof.as_os_str()],
    )
    .success();
}

#[test]
fn setup_needs_exactly_one_srs_source_and_verify_needs_setup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mlp");
    poa_in(false, &["setup".as_ref(), out.as_os_str()]).failure();
    poa_in(
        false,
        &[
            "setup".as_ref(),
            out.as_os_str(),
            "--dev-srs".as_ref(),
            "--srs".as_ref(),
            "x".as_ref(),
        ],
    )
    .failure();
    compile("mlp_small", &out).success();
    let a = poa_in(
        false,
        &["verify".as_ref(), out.as_os_str(), "p.json".as_ref()],
    )
    .failure();
    assert!(
        stderr_text(&a).contains("run `poa setup` first"),
        "{}",
        stderr_text(&a)
    );
}

#[test]
fn setup_dense_layout_proves_a_small_proof() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mlp");
    compile_cmd("mlp_small", &out, false).assert().success();
    let a = setup_layout(&out, "dense").success();
    let v = stdout_json(&a);
    assert_eq!(v["layout"], "dense", "{v}");
    assert_eq!(v["stats"]["k"], 10, "{v}");
    assert_eq!(v["stats"]["selectors"], 0, "{v}");
    assert_eq!(v["stats"]["instances"], 64 + 10, "{v}");
    // prove and verify read the layout from the keys.
    let proof = dir.path().join("proof.json");
    let input = fixtures().join("data/input_0.json");
    let a = prove_in(&out, &input, &proof).success();
    let p = stdout_json(&a);
    assert!(p["proof_bytes"].as_u64() <= Some(2048), "{p}");
    assert!(
        p["evm_proof_bytes"].as_u64() > p["proof_bytes"].as_u64(),
        "{p}"
    );
    let a = poa_in(
        true,
        &["verify".as_ref(), out.as_os_str(), proof.as_os_str()],
    )
    .success();
    assert_eq!(stdout_json(&a)["valid"], true);
    // A flipped proof byte fails verification.
    let text = std::fs::read_to_string(&proof).expect("proof");
    let bad_proof = dir.path().join("bad.json");
    let mut j: serde_json::Value = serde_json::from_str(&text).expect("json");
    let hex = j["proof"].as_str().expect("hex").to_string();
    let mid = hex.len() / 2;
    let flipped = if &hex[mid..mid + 1] == "0" { "1" } else { "0" };
    j["proof"] = format!("{}{flipped}{}", &hex[..mid], &hex[mid + 1..]).into();
    std::fs::write(&bad_proof, j.to_string()).expect("write");
    poa_in(
        true,
        &["verify".as_ref(), out.as_os_str(), bad_proof.as_os_str()],
    )
    .failure();
}

#[test]
fn setup_narrow_layout_proves_verifies_and_its_verifier_deploys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mlp");
    compile_cmd("mlp_small", &out, false)
        .args(["--input-visibility", "private"])
        .assert()
        .success();
    let a = setup_layout(&out, "narrow").success();
    let v = stdout_json(&a);
    assert_eq!(v["layout"], "narrow", "{v}");
    // One advice column; halo2-base looks the range table up from it under a selector.
    assert_eq!(v["stats"]["advice_columns"], 1, "{v}");
    assert_eq!(v["stats"]["selectors"], 2, "{v}");
    assert_eq!(v["stats"]["instances"], 10, "{v}");

    // prove and verify read the layout from the keys: the same commands as for the wide one.
    let proof = dir.path().join("proof.json");
    let input = fixtures().join("data/input_0.json");
    let a = prove_in(&out, &input, &proof).success();
    assert_eq!(stdout_json(&a)["evm_proof_bytes"], 1376);
    // 12 points of 64 bytes in 32 each, and the 2-byte header.
    assert_eq!(stdout_json(&a)["proof_bytes"], 1376 - 12 * 32 + 2);
    let a = poa_in(
        true,
        &["verify".as_ref(), out.as_os_str(), proof.as_os_str()],
    )
    .success();
    assert_eq!(stdout_json(&a)["valid"], true);
    let evm = dir.path().join("evm");
    let a = poa_in(
        true,
        &[
            "evm-verifier".as_ref(),
            out.as_os_str(),
            "--out".as_ref(),
            evm.as_os_str(),
            "--check".as_ref(),
            proof.as_os_str(),
        ],
    )
    .success();
    let v = stdout_json(&a);
    assert_eq!(v["deployable"], true, "{v}");
    assert!(
        v["check"]["verify_gas"].as_u64().is_some_and(|g| g > 0),
        "{v}"
    );

    // A model the narrow layout cannot take: an error naming the op and the other layout.
    let cnn = dir.path().join("cnn");
    compile("ops_zoo", &cnn).success();
    let a = poa_in(
        false,
        &[
            "setup".as_ref(),
            cnn.as_os_str(),
            "--dev-srs".as_ref(),
            "--layout".as_ref(),
            "narrow".as_ref(),
        ],
    )
    .failure();
    let err = stderr_text(&a);
    assert!(
        err.contains("narrow layout") && err.contains("wide"),
        "{err}"
    );
    assert!(
        !cnn.join("pk.bin").exists(),
        "nothing written on a refused setup"
    );

    // --narrow-k: one k less than the one-column 14 → more columns, a longer proof that still
    // verifies; outside the range, or with the wide layout, refused by name.
    let setup_at = |k: &str, layout: &str, ok: bool| {
        let a = poa_in(
            ok,
            &[
                "setup".as_ref(),
                out.as_os_str(),
                "--dev-srs".as_ref(),
                "--layout".as_ref(),
                layout.as_ref(),
                "--narrow-k".as_ref(),
                k.as_ref(),
            ],
        );
        if ok {
            stdout_json(&a.success()).to_string()
        } else {
            stderr_text(&a.failure())
        }
    };
    let v: serde_json::Value = serde_json::from_str(&setup_at("13", "narrow", true)).expect("json");
    assert_eq!(v["stats"]["k"], 13, "{v}");
    assert!(v["stats"]["rows"].as_u64() < Some(1 << 13), "{v}");
    assert!(v["stats"]["advice_columns"].as_u64() > Some(1), "{v}");
    let a = prove_in(&out, &input, &proof).success();
    assert!(stdout_json(&a)["evm_proof_bytes"].as_u64() > Some(1376));
    poa_in(
        true,
        &["verify".as_ref(), out.as_os_str(), proof.as_os_str()],
    )
    .success();
    let err = setup_at("15", "narrow", false);
    assert!(err.contains("k = 15 is outside"), "{err}");
    let err = setup_at("13", "wide", false);
    assert!(err.contains("--layout narrow"), "{err}");
}
