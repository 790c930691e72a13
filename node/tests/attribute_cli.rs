//! `poa datanet index` and `poa attribute` end to end: compile the small MLP, import and seal
//! the fixture datanet, index it, attribute a held-out input.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn poa() -> Command {
    let mut cmd = Command::cargo_bin("poa").expect("poa binary is built");
    cmd.env_remove("POA_STORE");
    cmd
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

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
    let (model, store) = (dir.path().join("mlp"), dir.path().join("store"));
    poa()
        .arg("compile")
        .arg(fixtures().join("models/mlp_small.onnx"))
        .arg("--calibration")
        .arg(fixtures().join("data/calibration.json"))
        .arg("--out")
        .arg(&model)
        .assert()
        .success();
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
            let amount = |x: &serde_json::Value| -> u128 {
                x.as_str()
                    .and_then(|a| a.parse().ok())
                    .unwrap_or_else(|| panic!("amount string, got {x}"))
            };
            let w = &v["reward"];
            assert_eq!(amount(&w["fee"]), 1_000_000_000_000_000_000, "{text}");
            let contributors = w["contributors"].as_array().expect("contributors");
            assert!(!contributors.is_empty(), "{text}");
            let paid = amount(&w["owner"])
                + amount(&w["prover"])
                + amount(&w["treasury"])
                + contributors
                    .iter()
                    .map(|c| amount(&c["amount"]))
                    .sum::<u128>();
            assert_eq!(paid, amount(&w["fee"]), "{text}");
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
