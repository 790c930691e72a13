//! Helpers shared by the CLI test binaries.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// The repository's `fixtures/`.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The `poa` binary, blind to the environment variables that would redirect it (datanet store,
/// chain key).
pub fn poa() -> Command {
    let mut cmd = Command::cargo_bin("poa").expect("poa binary is built");
    cmd.env_remove("POA_STORE").env_remove("POA_PRIVATE_KEY");
    cmd
}

/// A command's standard output as text.
pub fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

/// A token amount as the JSON output writes it (a decimal string).
pub fn amount(x: &Value) -> u128 {
    x.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("amount string, got {x}"))
}

/// What a reward split (`"reward"` in `poa attribute`/`poa demo` JSON) pays out in total:
/// owner + prover + treasury + every contributor.
pub fn paid_out(w: &Value) -> u128 {
    amount(&w["owner"])
        + amount(&w["prover"])
        + amount(&w["treasury"])
        + w["contributors"]
            .as_array()
            .expect("contributors")
            .iter()
            .map(|c| amount(&c["amount"]))
            .sum::<u128>()
}

/// Compiles the small MLP into `dir/mlp`, imports and seals the fixture datanet into a store in
/// `dir`, and indexes it (checking the open version cannot be); returns the model folder and
/// the index file.
pub fn indexed_model(dir: &Path) -> (PathBuf, PathBuf) {
    indexed_model_with(dir, &[])
}

/// `poa [--json] compile` of the small MLP on the fixture calibration set into `out`, with
/// `extra` arguments.
pub fn compile_mlp_small(
    json: bool,
    out: &Path,
    extra: &[&std::ffi::OsStr],
) -> assert_cmd::assert::Assert {
    let mut cmd = poa();
    if json {
        cmd.arg("--json");
    }
    cmd.arg("compile")
        .arg(fixtures().join("models/mlp_small.onnx"))
        .arg("--calibration")
        .arg(fixtures().join("data/calibration.json"))
        .arg("--out")
        .arg(out)
        .args(extra)
        .assert()
}

/// [`indexed_model`] with more `poa compile` arguments (`--adapter …`).
pub fn indexed_model_with(dir: &Path, compile_args: &[&std::ffi::OsStr]) -> (PathBuf, PathBuf) {
    let (model, store) = (dir.join("mlp"), dir.join("store"));
    compile_mlp_small(false, &model, compile_args).success();
    let datanet = |args: &[&str]| {
        poa()
            .arg("datanet")
            .args(args)
            .arg("--store")
            .arg(&store)
            .assert()
    };
    let fixture = fixtures().join("datanet/digits.json");
    let m = model.to_str().expect("utf-8 path");
    datanet(&[
        "import",
        fixture.to_str().expect("utf-8 path"),
        "--classes",
        "10",
    ])
    .success();
    // The open version cannot be indexed.
    let a = datanet(&["index", m, "digits", "--version", "1"]).failure();
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("seal it"));
    datanet(&["seal", "digits"]).success();
    let a = datanet(&["index", m, "digits", "--version", "1"]).success();
    let text = stdout(&a);
    assert!(text.contains("1437 entries, embedding dim 32"), "{text}");
    assert!(text.contains("index root 0x"), "{text}");
    let index = model.join("index_digits_v1.json");
    assert!(index.is_file());
    (model, index)
}
