//! `poa node --rpc`: proved attribution jobs are submitted to `AttributionRewards` on a real
//! anvil, with the contracts deployed, the model registered and a request opened by `poa chain`
//! over the verifier of the model the node itself set up; no mocks. The node is started once to
//! set the model up, then again with `--rpc` on the same SQLite job store, as an operator would
//! after deploying.

mod common;
mod node_common;

use std::path::Path;
use std::time::Duration;

use node_common::*;
use poa_contracts::anvil::Anvil;
use serde_json::{json, Value};

/// `poa --json chain <args> --rpc … --key-file … --state …`, which must succeed: its JSON.
fn chain(anvil: &Anvil, key_file: &Path, state: &Path, args: &[&std::ffi::OsStr]) -> Value {
    let out = poa()
        .env_remove("POA_PRIVATE_KEY")
        .arg("--json")
        .arg("chain")
        .args(args)
        .arg("--rpc")
        .arg(anvil.url())
        .arg("--key-file")
        .arg(key_file)
        .arg("--state")
        .arg(state)
        .output()
        .expect("run poa chain");
    assert!(
        out.status.success(),
        "poa chain {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// Waits until job `id` is `submitted` or `failed`.
async fn wait_settled(c: &reqwest::Client, node: &Node, id: &str) -> Value {
    let url = node.url.clone();
    wait_for(Duration::from_secs(400), || {
        let url = url.clone();
        async move {
            let j = job(c, &url, id).await;
            (j["state"] == "submitted" || j["state"] == "failed").then_some(j)
        }
    })
    .await
    .unwrap_or_else(|| panic!("job {id} not submitted in time\n{}", node.proc.log_text()))
}

#[tokio::test]
async fn node_submits_proved_jobs_once_per_nonce() {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = sqlite_url(tmp.path());
    let data = tmp.path().join("data");
    let key = create_key(&db);
    let c = client();

    // 1. The node sets the attribution model up (no chain yet).
    let node = start_node(&db, &data, &["--workers", "0"]);
    let (dn, _, _) = sealed_datanet(&c, &node, &key).await;
    let model = upload_model(
        &c,
        &node,
        &key,
        "mlp_small",
        Some(json!({"datanet": dn, "version": 1, "top_k": 4})),
    )
    .await;
    drop(node);
    let model_dir = data.join("models").join(&model);

    // 2. Its verifier on a chain: deploy, register (datanet sealed on chain under the same index
    //    root), open a paid request. The verifier is over EIP-170's limit: the limit is lifted.
    let evm = tmp.path().join("evm");
    let out = poa()
        .arg("evm-verifier")
        .arg(&model_dir)
        .arg("--out")
        .arg(&evm)
        .output()
        .expect("poa evm-verifier");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let anvil = Anvil::start(false).expect("anvil starts");
    let signer = anvil.dev_key(0).expect("dev key");
    let key_file = tmp.path().join("key");
    std::fs::write(&key_file, format!("0x{}", hex::encode(signer.to_bytes()))).expect("key");
    let prover = signer.address().to_string().to_lowercase();
    let state = tmp.path().join("chain.json");
    let verifier = evm.join("Verifier.bin");
    chain(
        &anvil,
        &key_file,
        &state,
        &[
            "deploy".as_ref(),
            "--verifier".as_ref(),
            verifier.as_os_str(),
        ],
    );
    chain(
        &anvil,
        &key_file,
        &state,
        &["register".as_ref(), model_dir.as_os_str()],
    );
    let fee = 10u128.pow(18);
    let q = chain(
        &anvil,
        &key_file,
        &state,
        &[
            "request".as_ref(),
            "--fee".as_ref(),
            fee.to_string().as_ref(),
        ],
    );
    let nonce = q["nonce"].as_str().expect("nonce").to_string();

    // 3. The node again, now submitting.
    let node = start_node(
        &db,
        &data,
        &[
            "--prover-address",
            &prover,
            "--rpc",
            &anvil.url(),
            "--chain-state",
            state.to_str().expect("utf-8"),
            "--key-file",
            key_file.to_str().expect("utf-8"),
            "--submit-backoff-secs",
            "1",
        ],
    );
    let body = |nonce: &str| json!({"model": model, "input": sample_input(), "datanet": dn, "datanet_version": 1, "nonce": nonce});
    let first = submit_job(&c, &node.url, &key, &body(&nonce)).await;
    let j = wait_settled(&c, &node, &first).await;
    assert_eq!(j["state"], "submitted", "{j}\n{}", node.proc.log_text());
    let tx = j["tx_hash"].as_str().expect("tx hash");
    assert!(tx.starts_with("0x") && tx.len() == 66, "{j}");
    assert!(j["gas_used"].as_i64().is_some_and(|g| g > 100_000), "{j}");
    assert_eq!(j["error"], Value::Null, "{j}");

    // The credit is on chain: the signer is owner, prover and treasury, and claims it.
    let claimed = chain(&anvil, &key_file, &state, &["claim".as_ref()]);
    assert!(common::amount(&claimed["amount"]) > 0, "{claimed}");

    // A second job for the same nonce is proved but never sent: the job store refuses it.
    let second = submit_job(&c, &node.url, &key, &body(&nonce)).await;
    let j = wait_settled(&c, &node, &second).await;
    assert_eq!(j["state"], "failed", "{j}");
    let error = j["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("already submitted") && error.contains(&first),
        "{j}"
    );
    assert_eq!(j["tx_hash"], Value::Null, "{j}");
    let sends = count(
        &db,
        &format!("SELECT submit_attempts FROM jobs WHERE id = '{second}'"),
    )
    .await;
    assert_eq!(sends, 0, "the second job was sent");

    // The same nonce written in hex gets past the job store; the contract refuses it
    // (`AlreadyPaid`) and the job fails at once, sent once, not retried.
    let hex_nonce = format!("{:#x}", nonce.parse::<u64>().expect("decimal nonce"));
    let third = submit_job(&c, &node.url, &key, &body(&hex_nonce)).await;
    let j = wait_settled(&c, &node, &third).await;
    assert_eq!(j["state"], "failed", "{j}");
    assert!(
        j["error"]
            .as_str()
            .is_some_and(|e| e.contains("AlreadyPaid")),
        "{j}"
    );
    let sends = count(
        &db,
        &format!("SELECT submit_attempts FROM jobs WHERE id = '{third}'"),
    )
    .await;
    assert_eq!(sends, 1, "a revert is not retried");
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM jobs WHERE state = 'submitted'").await,
        1
    );
}
