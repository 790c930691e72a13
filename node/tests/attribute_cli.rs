//! `poa datanet index` and `poa attribute` end to end: compile the small MLP, import and seal
//! the fixture datanet, index it, attribute a held-out input.

use std::path::Path;

use assert_cmd::Command;

mod common;
use common::{
    amount, compile_mlp_small, fixtures, indexed_model, indexed_model_with, paid_out, poa, stdout,
};

/// `<cmd> attribute <model> --input <fixture input> --index <index>`.
fn attribute(mut cmd: Command, model: &Path, index: &Path) -> Command {
    cmd.arg("attribute")
        .arg(model)
        .arg("--input")
        .arg(fixtures().join("data/input_0_ours.json"))
        .arg("--index")
        .arg(index);
    cmd
}

#[test]
fn index_a_sealed_version_and_attribute_an_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (model, index) = indexed_model(dir.path());
    for (k, json) in [(8usize, false), (3, true)] {
        let mut cmd = poa();
        if json {
            cmd.arg("--json");
        }
        let a = attribute(cmd, &model, &index)
            .args(["--k", &k.to_string()])
            .assert()
            .success();
        let text = stdout(&a);
        if json {
            let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(v["top"].as_array().map(Vec::len), Some(k), "{text}");
            assert!(v["index_root"]
                .as_str()
                .is_some_and(|r| r.starts_with("0x")));
            // The reward split pays out exactly the (default, 1 OPEN) fee.
            let w = &v["reward"];
            assert_eq!(amount(&w["fee"]), 1_000_000_000_000_000_000, "{text}");
            let contributors = w["contributors"].as_array().expect("contributors");
            assert!(!contributors.is_empty(), "{text}");
            assert_eq!(paid_out(w), amount(&w["fee"]), "{text}");
        } else {
            assert!(text.contains("predicted class"), "{text}");
            let rows = text
                .lines()
                .filter(|l| {
                    l.split_whitespace()
                        .next()
                        .is_some_and(|w| w.parse::<usize>().is_ok())
                        && l.contains("0x")
                })
                .count();
            assert_eq!(rows, k, "{text}");
            assert!(text.contains("reward preview"), "{text}");
            for party in ["owner", "contributor", "prover", "treasury"] {
                assert!(
                    text.lines().any(|l| l.trim_start().starts_with(party)),
                    "{party}: {text}"
                );
            }
            assert!(text.contains("0.300000000000000000"), "{text}");
        }
    }
    // Custom fee and shares, with an SVG and an HTML report.
    for (name, head) in [("reward.svg", "<svg"), ("reward.html", "<!DOCTYPE html>")] {
        let report = dir.path().join(name);
        let a = poa()
            .arg("--json")
            .arg("attribute")
            .arg(&model)
            .arg("--input")
            .arg(fixtures().join("data/input_0_ours.json"))
            .arg("--index")
            .arg(&index)
            .args(["--fee", "1000", "--shares", "0,10000,0,0", "--report"])
            .arg(&report)
            .assert()
            .success();
        let v: serde_json::Value = serde_json::from_str(&stdout(&a)).expect("JSON");
        assert_eq!(v["reward"]["owner"], "0");
        assert_eq!(v["reward"]["fee"], "1000");
        let doc = std::fs::read_to_string(&report).expect("report written");
        assert!(doc.starts_with(head), "{doc}");
        assert!(doc.contains("<rect"), "{doc}");
        assert!(doc.contains("</svg>"), "{doc}");
    }
    // Shares not summing to 100 % are refused.
    let a = attribute(poa(), &model, &index)
        .args(["--shares", "3000,5000,1500,400"])
        .assert()
        .failure();
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("10000"));
    // k beyond the index is refused.
    attribute(poa(), &model, &index)
        .args(["--k", "5000"])
        .assert()
        .failure();
}

/// `poa setup --index` makes attribution keys; `poa prove --nonce --prover` proves inference and
/// top-k attribution publishing exactly what `poa attribute` computes; `poa verify` reads it
/// back; a proof whose nonce was edited fails; inference keys refuse a request.
/// `poa setup <model> --dev-srs --index <index> --top-k 4`, which must succeed.
fn setup_top4(model: &Path, index: &Path) {
    poa()
        .arg("setup")
        .arg(model)
        .arg("--dev-srs")
        .arg("--index")
        .arg(index)
        .args(["--top-k", "4"])
        .assert()
        .success();
}

#[test]
fn prove_and_verify_an_attribution_over_the_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (model, index) = indexed_model(dir.path());
    let input = fixtures().join("data/input_0_ours.json");
    let proof = dir.path().join("proof.json");
    setup_top4(&model, &index);
    let prove = |extra: &[&str]| {
        let mut cmd = poa();
        cmd.arg("--json")
            .arg("prove")
            .arg(&model)
            .arg("--input")
            .arg(&input)
            .arg("--out")
            .arg(&proof)
            .args(extra);
        cmd.assert()
    };
    // With --json the error is a JSON document on stdout.
    let stderr = |a: &assert_cmd::assert::Assert| {
        let o = a.get_output();
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let e = stderr(&prove(&[]).failure());
    assert!(e.contains("--nonce and --prover"), "{e}");
    let e = stderr(&prove(&["--nonce", "5"]).failure());
    assert!(e.contains("go together"), "{e}");
    let e = stderr(
        &prove(&[
            "--nonce",
            "five",
            "--prover",
            "0x00000000000000000000000000000000000000b0",
        ])
        .failure(),
    );
    assert!(e.contains("nonce"), "{e}");
    assert!(!proof.exists(), "no proof written by a failed prove");

    let a = prove(&[
        "--nonce",
        "5",
        "--prover",
        "0x00000000000000000000000000000000000000b0",
    ])
    .success();
    let proven: serde_json::Value = serde_json::from_str(&stdout(&a)).expect("JSON");
    let proven = &proven["attribution"];
    assert_eq!(proven["nonce"], "5", "{proven}");
    let a = poa()
        .arg("--json")
        .arg("attribute")
        .arg(&model)
        .arg("--input")
        .arg(&input)
        .arg("--index")
        .arg(&index)
        .args(["--k", "4"])
        .assert()
        .success();
    let native: serde_json::Value = serde_json::from_str(&stdout(&a)).expect("JSON");
    assert_eq!(proven["predicted_class"], native["predicted_class"]);
    for (p, n) in proven["top"]
        .as_array()
        .expect("top")
        .iter()
        .zip(native["top"].as_array().expect("top"))
    {
        assert_eq!(p["contributor"], n["contributor"]);
        assert_eq!(p["score"].to_string(), n["score"].to_string());
    }
    let a = poa()
        .arg("--json")
        .arg("verify")
        .arg(&model)
        .arg(&proof)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_str(&stdout(&a)).expect("JSON");
    assert_eq!(v["attribution"]["top"], proven["top"]);

    // The reward preview straight from the proof's public instances.
    let a = poa()
        .arg("--json")
        .arg("attribute")
        .arg(&model)
        .arg("--proof")
        .arg(&proof)
        .args(["--fee", "1000"])
        .assert()
        .success();
    let r: serde_json::Value = serde_json::from_str(&stdout(&a)).expect("JSON");
    assert_eq!(r["attribution"]["top"], proven["top"]);
    let w = &r["reward"];
    assert_eq!(paid_out(w), 1000, "{w}");

    // Bump the nonce instance (row 5) of the proof file: it no longer verifies.
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&proof).expect("proof")).expect("JSON");
    doc["instances"][5] = serde_json::Value::String(format!("0x{:064x}", 6));
    let forged = dir.path().join("forged.json");
    std::fs::write(&forged, doc.to_string()).expect("write");
    poa()
        .arg("verify")
        .arg(&model)
        .arg(&forged)
        .assert()
        .failure();
    // Nor does a reward preview trust it.
    poa()
        .arg("attribute")
        .arg(&model)
        .arg("--proof")
        .arg(&forged)
        .assert()
        .failure();

    // Inference-only keys drop the attribution setup and refuse a request.
    poa()
        .arg("setup")
        .arg(&model)
        .arg("--dev-srs")
        .assert()
        .success();
    assert!(!model.join("attribution.json").exists());
    let e = stderr(
        &prove(&[
            "--nonce",
            "5",
            "--prover",
            "0x00000000000000000000000000000000000000b0",
        ])
        .failure(),
    );
    assert!(e.contains("inference only"), "{e}");
}

/// `--index-visibility hashed`: one set of keys proves over two different indexes of the same
/// shape (say, two sealed versions), each proof publishing its own index root; fixed-index keys
/// refuse another index.
#[test]
fn hashed_index_keys_prove_over_any_index_of_their_shape() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (model, full) = indexed_model(dir.path());
    let mut index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&full).expect("index")).expect("JSON");
    let entries = index["entries"].as_array().expect("entries").clone();
    let write = |name: &str, part: &[serde_json::Value], index: &mut serde_json::Value| {
        index["entries"] = serde_json::Value::Array(part.to_vec());
        let path = dir.path().join(name);
        std::fs::write(&path, index.to_string()).expect("write");
        path
    };
    let a = write("a.json", &entries[..5], &mut index);
    let b = write("b.json", &entries[5..10], &mut index);
    let setup = |vis: &str| {
        poa()
            .arg("setup")
            .arg(&model)
            .arg("--dev-srs")
            .arg("--index")
            .arg(&a)
            .args([
                "--top-k",
                "2",
                "--index-visibility",
                vis,
                "--layout",
                "wide",
            ])
            .assert()
            .success()
    };
    let prove = |index: Option<&Path>, out: &Path| {
        let mut cmd = poa();
        cmd.arg("--json")
            .arg("prove")
            .arg(&model)
            .arg("--input")
            .arg(fixtures().join("data/input_0_ours.json"))
            .arg("--out")
            .arg(out)
            .args([
                "--nonce",
                "3",
                "--prover",
                "0x00000000000000000000000000000000000000b0",
            ]);
        if let Some(i) = index {
            cmd.arg("--index").arg(i);
        }
        cmd.assert()
    };
    setup("hashed");
    let mut roots = Vec::new();
    for (i, index) in [None, Some(b.as_path())].into_iter().enumerate() {
        let proof = dir.path().join(format!("proof{i}.json"));
        let v: serde_json::Value =
            serde_json::from_str(&stdout(&prove(index, &proof).success())).expect("JSON");
        roots.push(v["attribution"]["index_root"].clone());
        poa()
            .arg("verify")
            .arg(&model)
            .arg(&proof)
            .assert()
            .success();
    }
    assert_ne!(
        roots[0], roots[1],
        "each proof publishes its own index's root"
    );

    setup("fixed");
    let o = prove(Some(b.as_path()), &dir.path().join("p.json")).failure();
    let text = String::from_utf8_lossy(&o.get_output().stdout).into_owned();
    assert!(
        text.contains("circuit"),
        "fixed keys refuse another index: {text}"
    );
}

/// `poa compile --adapter`: the LoRA-adapted model is indexed, set up and proved like any other,
/// and its proofs publish the base model's id and the adapter's id.
#[test]
fn adapted_model_proves_attribution_under_base_and_adapter_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lora = fixtures().join("adapters/mlp_small_lora.json");
    let (model, index) = indexed_model_with(dir.path(), &["--adapter".as_ref(), lora.as_os_str()]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("report.json")).expect("report"))
            .expect("JSON");
    let adapter = &report["adapter"];
    assert_eq!(adapter["name"], "digits-curated", "{adapter}");
    assert_eq!(adapter["layers"], serde_json::json!(["fc1", "fc2"]));
    assert!(model.join("adapter.json").is_file());
    let base = dir.path().join("base");
    let a = compile_mlp_small(true, &base, &[]).success();
    let b: serde_json::Value = serde_json::from_str(&stdout(&a)).expect("JSON");
    let base_digest = b["settings"]["qmodel_digest"].as_str().expect("digest");
    assert_eq!(adapter["base_digest"], base_digest);
    assert!(!base.join("adapter.json").exists());

    setup_top4(&model, &index);
    let proof = dir.path().join("proof.json");
    poa()
        .arg("prove")
        .arg(&model)
        .arg("--input")
        .arg(fixtures().join("data/input_0_ours.json"))
        .arg("--out")
        .arg(&proof)
        .args([
            "--nonce",
            "3",
            "--prover",
            "0x00000000000000000000000000000000000000b0",
        ])
        .assert()
        .success();
    let a = poa()
        .arg("--json")
        .arg("verify")
        .arg(&model)
        .arg(&proof)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_str(&stdout(&a)).expect("JSON");
    let proven = &v["attribution"];
    let id = |digest: &str| format!("0x00{}", &digest[..62]);
    assert_eq!(proven["model_id"], id(base_digest), "{proven}");
    let adapter_digest = adapter["digest"].as_str().expect("digest");
    assert_eq!(proven["adapter_id"], id(adapter_digest), "{proven}");
}
