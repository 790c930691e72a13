//! `poa compile --weight-visibility hashed` end to end: the base model and its LoRA adapter get
//! byte-identical keys, the adapter's proof verifies with the base model's folder and names its
//! weights commitment, and a model with constants the circuit would keep public is refused at
//! compile time with the fix named.

mod common;

use std::ffi::OsStr;
use std::path::Path;

use common::{compile_mlp_small, fixtures, poa, stdout};
use serde_json::Value;

fn compile(out: &Path, extra: &[&OsStr]) -> assert_cmd::assert::Assert {
    let mut args: Vec<&OsStr> = vec!["--weight-visibility".as_ref(), "hashed".as_ref()];
    args.extend_from_slice(extra);
    compile_mlp_small(true, out, &args)
}

fn json(a: &assert_cmd::assert::Assert) -> Value {
    serde_json::from_str(&stdout(a)).expect("JSON output")
}

#[test]
fn base_and_adapter_share_keys_and_proofs_name_their_weights() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (base, lora) = (dir.path().join("base"), dir.path().join("lora"));
    let s = json(&compile(&base, &[]).success());
    assert_eq!(s["settings"]["weight_visibility"], "hashed");
    let adapter = fixtures().join("adapters/mlp_small_lora.json");
    compile(&lora, &["--adapter".as_ref(), adapter.as_os_str()]).success();
    for d in [&base, &lora] {
        poa()
            .arg("setup")
            .arg(d)
            .args(["--dev-srs", "--layout", "wide"])
            .assert()
            .success();
    }
    let vk = |d: &Path| std::fs::read(d.join("vk.bin")).expect("vk");
    assert_eq!(
        vk(&base),
        vk(&lora),
        "one verifying key for the base and the adapter"
    );

    let mut commitments = Vec::new();
    for d in [&base, &lora] {
        let proof = d.join("proof.json");
        let p = json(
            &poa()
                .arg("--json")
                .arg("prove")
                .arg(d)
                .arg("--input")
                .arg(fixtures().join("data/input_0.json"))
                .arg("--out")
                .arg(&proof)
                .assert()
                .success(),
        );
        // Verified with the *base* folder's keys, whichever model proved it.
        let v = json(
            &poa()
                .arg("--json")
                .arg("verify")
                .arg(&base)
                .arg(&proof)
                .assert()
                .success(),
        );
        assert_eq!(v["weights_commitment"], p["weights_commitment"], "{v}");
        commitments.push(p["weights_commitment"].as_str().expect("hex").to_string());
    }
    assert_ne!(commitments[0], commitments[1]);
}

#[test]
fn a_model_with_public_constants_is_refused_at_compile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = poa()
        .arg("compile")
        .arg(fixtures().join("models/ops_zoo.onnx"))
        .arg("--calibration")
        .arg(fixtures().join("data/calibration.json"))
        .arg("--out")
        .arg(dir.path().join("zoo"))
        .args(["--weight-visibility", "hashed"])
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(
        err.contains("hashed weights") && err.contains("--weight-visibility fixed"),
        "{err}"
    );
    assert!(
        !dir.path().join("zoo/settings.json").exists(),
        "nothing written"
    );
    let a = poa()
        .args(["compile", "x.onnx", "--calibration", "c.json", "--out", "o"])
        .args(["--weight-visibility", "secret"])
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains("unknown weight visibility `secret`"), "{err}");
}
