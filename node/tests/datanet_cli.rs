//! `poa datanet` driven as a curator would: create, import the fixture, show, seal, refuse an
//! addition to the sealed version, and reproduce the sealed root from a second store.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

const CURATOR: &str = "0x3dea41fd57b1661144efd8b85bef9b96b186f4ad";
/// Contributor #2 of the fixture (whose entries contributor #8 resubmits).
const CONTRIBUTOR_2: &str = "0x6edec40768b8eb50a476f2a2f425397bc42ee23a";
/// Contributor #8 of the fixture, the duplicator.
const CONTRIBUTOR_8: &str = "0xc2e3cbc9a4bb461b421a11be34e193176a3bec3d";

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/datanet/digits.json")
}

/// `poa --json datanet <args…> --store <store>`, with `POA_STORE` cleared.
fn datanet(store: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("poa")
        .expect("poa binary is built")
        .env_remove("POA_STORE")
        .args(["--json", "datanet"])
        .args(args)
        .arg("--store")
        .arg(store)
        .assert()
}

fn json(a: &assert_cmd::assert::Assert) -> serde_json::Value {
    serde_json::from_slice(&a.get_output().stdout).expect("stdout is JSON")
}

fn error_of(a: &assert_cmd::assert::Assert) -> String {
    json(a)["error"].as_str().unwrap_or_default().to_string()
}

fn fixture_str() -> String {
    fixture().display().to_string()
}

#[test]
fn create_import_show_seal_and_refuse_additions_to_the_sealed_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");

    let v = json(
        &datanet(
            &store,
            &[
                "create",
                "Digits",
                "--curator",
                CURATOR,
                "--input-len",
                "64",
                "--classes",
                "10",
            ],
        )
        .success(),
    );
    assert_eq!(v["datanet"], "digits");
    assert!(store.join("digits.json").is_file());

    let v = json(&datanet(&store, &["import", &fixture_str(), "--id", "digits"]).success());
    assert_eq!(v["entries"], 1449);
    assert_eq!(v["accepted"], 1437);
    let rejected = v["rejected"].as_array().expect("rejected list");
    assert_eq!(rejected.len(), 12);
    for r in rejected {
        assert_eq!(r["contributor"], CONTRIBUTOR_8);
        assert_eq!(r["duplicate_of"]["contributor"], CONTRIBUTOR_2, "{r}");
        let reason = r["reason"].as_str().unwrap_or_default();
        assert!(
            reason.starts_with("exact duplicate of version 1 entry #"),
            "{reason}"
        );
    }

    let v = json(&datanet(&store, &["show", "digits"]).success());
    assert_eq!(v["open_version"], 1);
    assert_eq!(v["versions"][0]["entries"], 1437);
    assert_eq!(v["versions"][0]["sealed"], false);
    assert_eq!(v["versions"][0]["contributors"][CONTRIBUTOR_2], 144);
    assert_eq!(v["versions"][0]["contributors"][CONTRIBUTOR_8], 143);

    let sealed = json(&datanet(&store, &["seal", "digits"]).success());
    assert_eq!(
        (sealed["version"].as_u64(), sealed["open"].as_u64()),
        (Some(1), Some(2))
    );
    let root = sealed["root"].as_str().expect("root").to_string();
    assert!(root.starts_with("0x") && root.len() == 66, "{root}");

    let v = json(&datanet(&store, &["show", "digits", "--version", "1"]).success());
    assert_eq!(v["versions"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["versions"][0]["root"], root.as_str());
    assert_eq!(v["versions"][0]["sealed"], true);

    let sample = format!("[{}]", ["0.5"; 64].join(","));
    let add = |version: &str| {
        datanet(
            &store,
            &[
                "add",
                "digits",
                "--contributor",
                CONTRIBUTOR_2,
                "--sample",
                &sample,
                "--label",
                "3",
                "--version",
                version,
            ],
        )
    };
    let msg = error_of(&add("1").failure());
    assert!(
        msg.contains("version 1 of datanet `digits` is sealed")
            && msg.contains(&root)
            && msg.contains("open version 2"),
        "{msg}"
    );
    let v = json(&add("2").success());
    assert_eq!(
        (v["version"].as_u64(), v["index"].as_u64()),
        (Some(2), Some(0))
    );
    let msg = error_of(&add("2").failure());
    assert!(
        msg.contains("exact duplicate of version 2 entry #0"),
        "{msg}"
    );

    let v = json(&datanet(&store, &["show", "digits"]).success());
    assert_eq!(
        v["versions"][0]["entries"], 1437,
        "the sealed version did not change"
    );
    assert_eq!(v["versions"][0]["root"], root.as_str());
    assert_eq!(v["versions"][1]["entries"], 1);
}

#[test]
fn sealed_root_is_reproducible_from_a_second_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let roots: Vec<String> = ["a", "b"]
        .iter()
        .map(|name| {
            let store = dir.path().join(name);
            let a = datanet(&store, &["import", &fixture_str()]).success();
            let v = json(&a);
            assert_eq!(v["created"]["datanet"], "digits");
            assert_eq!(v["created"]["input_shape"][0], 64);
            assert_eq!(v["created"]["classes"], 10);
            assert_eq!(v["accepted"], 1437);
            let warn = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
            assert!(warn.contains("inferred"), "{warn}");
            let v = json(&datanet(&store, &["seal", "digits"]).success());
            v["root"].as_str().expect("root").to_string()
        })
        .collect();
    assert_eq!(roots[0], roots[1], "same entries, same root");

    // A different set of entries gives a different root.
    let store = dir.path().join("c");
    datanet(&store, &["import", &fixture_str()]).success();
    let sample = format!("[{}]", ["0.25"; 64].join(","));
    datanet(
        &store,
        &[
            "add",
            "digits",
            "--contributor",
            CURATOR,
            "--sample",
            &sample,
            "--label",
            "0",
        ],
    )
    .success();
    let v = json(&datanet(&store, &["seal", "digits"]).success());
    assert_ne!(v["root"].as_str(), Some(roots[0].as_str()));
}

#[test]
fn clear_errors_for_bad_input_and_the_store_from_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let msg = error_of(
        &datanet(
            &store,
            &[
                "create",
                "x",
                "--curator",
                "0x12",
                "--input-len",
                "4",
                "--classes",
                "2",
            ],
        )
        .failure(),
    );
    assert!(
        msg.contains("--curator") && msg.contains("invalid address `0x12`"),
        "{msg}"
    );

    let msg = error_of(&datanet(&store, &["show", "nope"]).failure());
    assert!(msg.contains("no datanet `nope`"), "{msg}");
    let msg = error_of(&datanet(&store, &["seal", "../etc"]).failure());
    assert!(msg.contains("invalid datanet id `../etc`"), "{msg}");

    datanet(
        &store,
        &[
            "create",
            "x",
            "--curator",
            CURATOR,
            "--input-len",
            "4",
            "--classes",
            "2",
        ],
    )
    .success();
    let msg = error_of(&datanet(&store, &["seal", "x"]).failure());
    assert!(msg.contains("has no contributions"), "{msg}");
    for (sample, label, want) in [
        ("[0, 0.5, 1]", "0", "3 values"),
        ("[0, 0.5, 1, 1]", "2", "label 2 is out of range"),
        ("[0, 0.5, 1, 1e39]", "0", "index 3 is not a finite number"),
        ("[0, 0.5,", "0", "expected a JSON array of numbers"),
        ("missing.json", "0", "reading --sample missing.json"),
    ] {
        let msg = error_of(
            &datanet(
                &store,
                &[
                    "add",
                    "x",
                    "--contributor",
                    CURATOR,
                    "--sample",
                    sample,
                    "--label",
                    label,
                ],
            )
            .failure(),
        );
        assert!(msg.contains(want), "{sample}: {msg}");
    }

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"name\": \"x\", \"entries\": [").expect("write");
    let msg = error_of(&datanet(&store, &["import", &bad.display().to_string()]).failure());
    assert!(msg.contains("malformed datanet file"), "{msg}");

    // POA_STORE is used when --store is absent.
    let sample_file = dir.path().join("sample.json");
    std::fs::write(&sample_file, "[1, 0, 0, 1]").expect("write");
    let v: serde_json::Value = serde_json::from_slice(
        &Command::cargo_bin("poa")
            .expect("poa binary is built")
            .env("POA_STORE", &store)
            .args([
                "--json",
                "datanet",
                "add",
                "x",
                "--contributor",
                CURATOR,
                "--label",
                "1",
            ])
            .arg("--sample")
            .arg(&sample_file)
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .expect("stdout is JSON");
    assert_eq!(
        (v["version"].as_u64(), v["index"].as_u64()),
        (Some(1), Some(0))
    );
}
