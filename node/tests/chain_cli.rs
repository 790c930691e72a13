//! `poa chain deploy|register|request|submit|claim` against a local anvil, step by step as a
//! user runs them: the key from a file, addresses in the state file, the proof made with
//! `poa prove --nonce <the request's nonce> --prover <the signer>`, and the signer — owner,
//! prover and treasury here — claims its credits.

use std::path::{Path, PathBuf};

use poa_contracts::anvil::Anvil;
use serde_json::Value;

mod common;
use common::{amount, fixtures, indexed_model, poa};

fn json(a: &assert_cmd::assert::Assert) -> Value {
    serde_json::from_slice(&a.get_output().stdout).expect("stdout is JSON")
}

/// The fixture's indexed small MLP (see [`indexed_model`]) with attribution keys and its
/// verifier; returns the model folder.
fn attribution_model(dir: &Path) -> PathBuf {
    let (model, index) = indexed_model(dir);
    let m = model.to_str().expect("utf-8 path");
    poa()
        .args(["setup", m, "--dev-srs", "--index"])
        .arg(index)
        .assert()
        .success();
    poa()
        .args(["evm-verifier", m, "--out"])
        .arg(model.join("evm"))
        .assert()
        .success();
    model
}

#[test]
fn chain_commands_deploy_register_request_submit_and_claim() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = attribution_model(tmp.path());
    // The verifier is over EIP-170's limit today: a chain with the limit lifted.
    let anvil = Anvil::start(false).expect("anvil starts");
    let key = anvil.dev_key(0).expect("dev key");
    let key_file = tmp.path().join("key");
    std::fs::write(&key_file, format!("0x{}", hex::encode(key.to_bytes()))).expect("key file");
    let signer = key.address().to_string().to_lowercase();
    let state = tmp.path().join("chain.json");
    let chain = |args: &[&std::ffi::OsStr]| {
        poa()
            .arg("--json")
            .arg("chain")
            .args(args)
            .arg("--rpc")
            .arg(anvil.url())
            .arg("--key-file")
            .arg(&key_file)
            .arg("--state")
            .arg(&state)
            .assert()
    };

    // Keys from the dev SRS are refused on a chain unless --insecure says it is a test chain.
    let refused = chain(&[
        "deploy".as_ref(),
        "--verifier".as_ref(),
        model.join("evm/Verifier.bin").as_os_str(),
    ])
    .failure();
    let o = refused.get_output();
    let said = String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("--insecure"), "{said}");
    let d = json(
        &chain(&[
            "deploy".as_ref(),
            "--verifier".as_ref(),
            model.join("evm/Verifier.bin").as_os_str(),
            "--insecure".as_ref(),
        ])
        .success(),
    );
    assert!(
        d["verifier_runtime_bytes"].as_u64().expect("size") > 0,
        "{d}"
    );
    assert!(state.is_file());
    chain(&["register".as_ref(), model.as_os_str()]).failure();
    let r = json(
        &chain(&[
            "register".as_ref(),
            model.as_os_str(),
            "--insecure".as_ref(),
        ])
        .success(),
    );
    assert_eq!(r["model"]["k"], 8, "{r}");
    let fee = 10u128.pow(18);
    let q = json(
        &chain(&[
            "request".as_ref(),
            "--fee".as_ref(),
            fee.to_string().as_ref(),
        ])
        .success(),
    );
    let nonce = q["nonce"].as_str().expect("nonce").to_string();
    // keccak256(chainid, rewards, 1) mod r: a full-size field element, not the counter 1.
    let n: alloy::primitives::U256 = nonce.parse().expect("decimal nonce");
    assert!(n > alloy::primitives::U256::from(u128::MAX), "{q}");

    let proof = tmp.path().join("proof.json");
    poa()
        .arg("prove")
        .arg(&model)
        .arg("--input")
        .arg(fixtures().join("data/input_0.json"))
        .arg("--out")
        .arg(&proof)
        .args(["--nonce", &nonce, "--prover", &signer])
        .assert()
        .success();
    let s = json(&chain(&["submit".as_ref(), proof.as_os_str()]).success());
    let credited: u128 = s["credits"]
        .as_array()
        .expect("credits")
        .iter()
        .map(|c| amount(&c["amount"]))
        .sum();
    assert_eq!(credited, fee, "{s}");
    // Replaying the proof is refused with the contract's reason.
    let a = chain(&["submit".as_ref(), proof.as_os_str()]).failure();
    assert!(String::from_utf8_lossy(&a.get_output().stdout).contains("AlreadyPaid"));

    // The signer is owner, prover and treasury: it claims every credit but the contributors'.
    let c = json(&chain(&["claim".as_ref()]).success());
    let own: u128 = s["credits"]
        .as_array()
        .expect("credits")
        .iter()
        .filter(|c| {
            c["account"].as_str().map(str::to_lowercase).as_deref() == Some(signer.as_str())
        })
        .map(|c| amount(&c["amount"]))
        .sum();
    assert_eq!(amount(&c["amount"]), own, "{c}");
    chain(&["claim".as_ref()]).failure();
}
