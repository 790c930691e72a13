//! The README's main command, `poa demo`, end to end: every step reports success, the proof is
//! made for the nonce of the request opened on the local chain, the OPEN paid on-chain is exactly
//! the split of the proof's public instances (fee in full; each top-k contributor ∝ score), a
//! second run over the same folder (in the wide layout, public input) gives the same datanet and
//! index roots. By default the demo proves in the dense layout with a hashed input (the
//! commitment in the header, bound by the request), and its verifier deploys on an anvil
//! enforcing EIP-170; the narrow layout with a private input does too.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

mod common;
use common::{amount, paid_out};

fn demo(out: &std::path::Path, extra: &[&str]) -> Value {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let a = Command::cargo_bin("poa")
        .expect("poa binary is built")
        .arg("--json")
        .arg("demo")
        .arg("--fixtures")
        .arg(&fixtures)
        .arg("--out")
        .arg(out)
        .args(extra)
        .assert()
        .success();
    serde_json::from_slice(&a.get_output().stdout).expect("demo prints one JSON document")
}

#[test]
fn demo_runs_every_step_and_is_reproducible() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let v = demo(tmp.path(), &[]);
    assert_eq!(v["run"][0]["class"], 7, "{v}");
    assert_eq!(v["verify"]["valid"], true, "{v}");
    assert_eq!(v["setup"]["layout"], "dense");
    assert_eq!(v["prove"]["input_visibility"], "hashed");
    // Attribution header (7 + 2·8, its row 2 the input commitment) and the output.
    assert_eq!(v["prove"]["instances"], 7 + 2 * 8 + 10);
    assert!(v["prove"]["input_commitment"]
        .as_str()
        .is_some_and(|c| c.starts_with("0x") && c.len() == 66));
    // 23 curve points, each 32 bytes shorter in the file.
    assert_eq!(v["prove"]["evm_proof_bytes"], 2976);
    assert_eq!(v["prove"]["proof_bytes"], 2976 - 23 * 32 + 2);
    assert_eq!(v["chain"]["code_size_limit_lifted"], false);
    let a = &v["attribution"];
    assert_eq!(a["accepted"], 1437, "{a}");
    assert_eq!(a["rejected"].as_array().map(Vec::len), Some(12), "{a}");
    assert_eq!(a["attribution"]["predicted_class"], 7);
    assert_eq!(a["attribution"]["top"].as_array().map(Vec::len), Some(8));
    // The proof publishes the native top-8, and verification reads the same back.
    let proven = &v["prove"]["attribution"];
    assert_eq!(proven["predicted_class"], 7, "{proven}");
    // The proof answers the request opened on-chain (the first of a fresh chain: a
    // domain-separated nonce, not the counter 1) and names the prover that was paid.
    let c = &v["chain"];
    assert_eq!(proven["nonce"], c["request"]["nonce"], "{c}");
    assert_ne!(proven["nonce"], "1");
    // A second, unanswered request is refunded in full after its deadline; the dev-SRS keys
    // went on-chain as --insecure would put them.
    assert_eq!(
        amount(&c["expired_refund"]["fee"]),
        amount(&v["reward"]["fee"]),
        "{c}"
    );
    assert_eq!(c["insecure_srs"], true, "{c}");
    let lower = |x: &Value| x.as_str().map(str::to_lowercase);
    assert_eq!(lower(&proven["prover"]), lower(&c["submitted"]["prover"]));
    let native: Vec<(String, String)> = a["attribution"]["top"]
        .as_array()
        .expect("top")
        .iter()
        .map(|t| (t["contributor"].to_string(), t["score"].to_string()))
        .collect();
    let published: Vec<(String, String)> = proven["top"]
        .as_array()
        .expect("top")
        .iter()
        .map(|t| (t["contributor"].to_string(), t["score"].to_string()))
        .collect();
    assert_eq!(published, native);
    assert_eq!(v["verify"]["attribution"]["top"], proven["top"]);
    // The reward preview from the public instances pays out exactly the fee.
    let w = &v["reward"];
    assert_eq!(paid_out(w), amount(&w["fee"]), "{w}");

    assert_on_chain_payout(&v);

    // Again over the same folder, in the wide layout with a public input: same roots, the input
    // public, and a verifier only an anvil with the size limit lifted takes.
    let again = demo(
        tmp.path(),
        &["--layout", "wide", "--input-visibility", "public"],
    );
    assert_eq!(again["attribution"]["datanet_root"], a["datanet_root"]);
    assert_eq!(again["attribution"]["index_root"], a["index_root"]);
    assert_eq!(again["setup"]["layout"], "wide");
    assert_eq!(again["prove"]["instances"], 7 + 2 * 8 + 64 + 10);
    assert_eq!(again["chain"]["code_size_limit_lifted"], true);
    assert_on_chain_payout(&again);
}

/// The on-chain half: the fee was paid out in full by claims, every credit is the preview's
/// amount, each top-k contributor got their share, and every step's gas is reported.
fn assert_on_chain_payout(v: &Value) {
    let c = &v["chain"];
    let w = &v["reward"];
    assert_eq!(amount(&c["paid_total"]), amount(&w["fee"]), "{c}");
    let payouts = c["payouts"].as_array().expect("payouts");
    let paid = |role: &str| -> u128 {
        payouts
            .iter()
            .filter(|p| p["role"] == role)
            .map(|p| amount(&p["amount"]))
            .sum()
    };
    assert_eq!(paid("owner"), amount(&w["owner"]));
    assert_eq!(paid("prover"), amount(&w["prover"]));
    assert_eq!(paid("treasury"), amount(&w["treasury"]));
    for contributor in w["contributors"].as_array().expect("contributors") {
        let got: u128 = payouts
            .iter()
            .filter(|p| {
                p["account"].as_str().map(str::to_lowercase)
                    == contributor["contributor"].as_str().map(str::to_lowercase)
            })
            .map(|p| amount(&p["amount"]))
            .sum();
        assert_eq!(got, amount(&contributor["amount"]), "{contributor}");
    }
    let gas: Vec<&str> = c["gas"]
        .as_array()
        .expect("gas")
        .iter()
        .filter_map(|g| g["step"].as_str())
        .collect();
    for step in [
        "deploy verifier",
        "openRequest",
        "submit (k=8)",
        "verifier call inside submit (trace)",
        "verifier as its own transaction (estimate)",
    ] {
        assert!(gas.contains(&step), "{step} in {gas:?}");
    }
    assert!(c["verifier_runtime_bytes"].as_u64().expect("size") > 0);
    assert_eq!(
        c["code_size_limit_lifted"],
        c["verifier_runtime_bytes"].as_u64().expect("size") > 24_576
    );
}

#[test]
fn demo_in_the_narrow_layout_with_a_private_input() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let v = demo(
        tmp.path(),
        &["--layout", "narrow", "--input-visibility", "private"],
    );
    assert_eq!(v["verify"]["valid"], true, "{v}");
    assert_eq!(v["setup"]["layout"], "narrow");
    // Attribution header (row 2 is 0: nothing binds the input) and the output.
    assert_eq!(v["prove"]["instances"], 7 + 2 * 8 + 10);
    assert_eq!(v["prove"]["evm_proof_bytes"], 1376);
    assert_eq!(v["prove"]["proof_bytes"], 1376 - 12 * 32 + 2);
    assert_eq!(v["chain"]["code_size_limit_lifted"], false);
    assert_on_chain_payout(&v);
}

#[test]
fn demo_with_a_lora_adapter_registers_and_pays_under_the_adapter_id() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let lora = fixtures.join("adapters/mlp_small_lora.json");
    let v = demo(tmp.path(), &["--adapter", lora.to_str().expect("utf-8")]);
    assert_eq!(v["verify"]["valid"], true, "{v}");
    assert_eq!(v["report"]["adapter"]["name"], "digits-curated");
    // Hex numbers compared by value: the proof writes 64 digits, the registration fewer.
    let hex = |x: &Value| {
        let s = x.as_str().expect("hex").trim_start_matches("0x");
        s.trim_start_matches('0').to_lowercase()
    };
    let proven = &v["prove"]["attribution"];
    let registered = &v["chain"]["registered"]["model"];
    assert!(!hex(&proven["adapter_id"]).is_empty(), "{proven}");
    assert_eq!(hex(&proven["adapter_id"]), hex(&registered["adapter_id"]));
    assert_eq!(hex(&proven["model_id"]), hex(&registered["model_id"]));
    let base_digest = v["report"]["adapter"]["base_digest"]
        .as_str()
        .expect("digest");
    assert_eq!(
        hex(&proven["model_id"]),
        base_digest[..62].trim_start_matches('0')
    );
    assert_on_chain_payout(&v);
}
