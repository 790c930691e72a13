//! `poa evm-verifier` and `poa evm-calldata` on a proven fixture model: the verifier is written
//! and checked on the proof in the in-process EVM, its size reported against EIP-170, a tampered
//! proof is rejected, and the calldata is instances then proof.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn poa(args: &[&std::ffi::OsStr]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("poa")
        .expect("poa binary is built")
        .args(args)
        .assert()
}

fn json(a: &assert_cmd::assert::Assert) -> Value {
    serde_json::from_slice(&a.get_output().stdout).expect("stdout is JSON")
}

#[test]
fn verifier_is_generated_checked_in_the_evm_and_refuses_a_tampered_proof() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("mlp");
    let proof = tmp.path().join("proof.json");
    let d = dir.as_os_str();
    poa(&[
        "compile".as_ref(),
        fixtures().join("models/mlp_small.onnx").as_os_str(),
        "--calibration".as_ref(),
        fixtures().join("data/calibration.json").as_os_str(),
        "--out".as_ref(),
        d,
    ])
    .success();
    poa(&["setup".as_ref(), d, "--dev-srs".as_ref()]).success();
    poa(&[
        "prove".as_ref(),
        d,
        "--input".as_ref(),
        fixtures().join("data/input_0.json").as_os_str(),
        "--out".as_ref(),
        proof.as_os_str(),
    ])
    .success();
    let evm = tmp.path().join("evm");
    let v = json(
        &poa(&[
            "--json".as_ref(),
            "evm-verifier".as_ref(),
            d,
            "--out".as_ref(),
            evm.as_os_str(),
            "--check".as_ref(),
            proof.as_os_str(),
        ])
        .success(),
    );
    for f in ["Verifier.sol", "Verifier.bin", "Verifier.abi.json"] {
        assert!(evm.join(f).is_file(), "{f}");
    }
    let runtime = v["runtime_bytes"].as_u64().expect("size");
    assert_eq!(v["deployable"], runtime <= 24_576, "{v}");
    assert!(
        v["check"]["verify_gas"].as_u64().expect("gas") > 21_000,
        "{v}"
    );

    // A flipped proof byte: the EVM verifier reverts and the command fails.
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&proof).expect("proof")).expect("JSON");
    let bytes = doc["proof"].as_str().expect("proof hex").to_string();
    let flipped = format!(
        "{}{}",
        &bytes[..100],
        if &bytes[100..101] == "0" { "1" } else { "0" }
    );
    doc["proof"] = Value::String(format!("{flipped}{}", &bytes[101..]));
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, doc.to_string()).expect("write");
    poa(&[
        "evm-verifier".as_ref(),
        d,
        "--out".as_ref(),
        evm.as_os_str(),
        "--check".as_ref(),
        bad.as_os_str(),
    ])
    .failure();

    let c = json(
        &poa(&[
            "--json".as_ref(),
            "evm-calldata".as_ref(),
            proof.as_os_str(),
        ])
        .success(),
    );
    let p: Value =
        serde_json::from_str(&std::fs::read_to_string(&proof).expect("proof")).expect("JSON");
    let instances = p["instances"].as_array().expect("instances").len();
    // The file carries the proof's points compressed; calldata takes the EVM transcript.
    let text = std::fs::read_to_string(&proof).expect("proof");
    let proof_bytes = poa_prover::Proof::from_json(&text)
        .expect("proof")
        .bytes
        .len();
    assert!((p["proof"].as_str().expect("hex").len() - 2) / 2 < proof_bytes);
    assert_eq!(c["bytes"], 32 * instances + proof_bytes, "{c}");
}
