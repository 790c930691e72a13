//! `poa node --rpc`: proved attribution jobs are submitted to `AttributionRewards` on a real
//! anvil, with the contracts deployed, the model registered and requests opened by `poa chain`
//! over the verifier of the model the node itself set up; no mocks. The node is started once to
//! set the model up, then again with `--rpc` on the same job store, as an operator would after
//! deploying. The once-per-nonce rules run on SQLite and on PostgreSQL; the receipt handling
//! (a slow receipt, a dropped transaction) is driven through anvil's mining controls.

mod common;
mod node_common;

use std::path::PathBuf;
use std::time::Duration;

use node_common::*;
use poa_contracts::anvil::Anvil;
use serde_json::{json, Value};

/// `poa --json <args…>`, which must succeed: its JSON.
fn poa_json(args: &[&std::ffi::OsStr]) -> Value {
    let out = poa()
        .env_remove("POA_PRIVATE_KEY")
        .arg("--json")
        .args(args)
        .output()
        .expect("run poa");
    assert!(
        out.status.success(),
        "poa {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// A model set up by a node, its verifier deployed and the model registered on a fresh anvil.
struct OnChain {
    tmp: tempfile::TempDir,
    db: String,
    data: PathBuf,
    key: String,
    c: reqwest::Client,
    model: String,
    model_dir: PathBuf,
    datanet: String,
    anvil: Anvil,
    key_file: PathBuf,
    state: PathBuf,
    /// The signer: pays gas, owns everything, is the proofs' prover.
    signer: String,
}

impl OnChain {
    async fn new(db: Option<String>) -> Self {
        let tmp = tempfile::tempdir().expect("tmp");
        let db = db.unwrap_or_else(|| sqlite_url(tmp.path()));
        let data = tmp.path().join("data");
        let key = create_key(&db);
        let c = client();

        // 1. The node sets the attribution model up (no chain yet).
        let node = start_node(&db, &data, &["--workers", "0"]);
        let (datanet, _, _) = sealed_datanet(&c, &node, &key).await;
        let attribution = json!({"datanet": datanet, "version": 1, "top_k": 4});
        let model = upload_model(&c, &node, &key, "mlp_small", Some(attribution)).await;
        let m = node_common::model(&c, &node.url, &model).await;
        assert_eq!(m["verifier_address"], Value::Null, "no chain yet: {m}");
        drop(node);
        let model_dir = data.join("models").join(&model);

        // 2. Its verifier on a chain: deploy, register (datanet sealed on chain under the same
        //    index root). The verifier is over EIP-170's limit: the limit is lifted.
        let evm = tmp.path().join("evm");
        poa_json(&[
            "evm-verifier".as_ref(),
            model_dir.as_os_str(),
            "--out".as_ref(),
            evm.as_os_str(),
        ]);
        let anvil = Anvil::start(false).expect("anvil starts");
        let signer = anvil.dev_key(0).expect("dev key");
        let key_file = tmp.path().join("key");
        std::fs::write(&key_file, format!("0x{}", hex::encode(signer.to_bytes()))).expect("key");
        let on_chain = Self {
            signer: signer.address().to_string().to_lowercase(),
            state: tmp.path().join("chain.json"),
            tmp,
            db,
            data,
            key,
            c,
            model,
            model_dir,
            datanet,
            anvil,
            key_file,
        };
        let verifier = evm.join("Verifier.bin");
        on_chain.chain(&[
            "deploy".as_ref(),
            "--verifier".as_ref(),
            verifier.as_os_str(),
            // Test keys from the dev SRS: refused without it.
            "--insecure".as_ref(),
        ]);
        on_chain.chain(&[
            "register".as_ref(),
            on_chain.model_dir.as_os_str(),
            "--insecure".as_ref(),
        ]);
        on_chain
    }

    /// `poa --json chain <args> --rpc … --key-file … --state …`.
    fn chain(&self, args: &[&std::ffi::OsStr]) -> Value {
        let mut all: Vec<&std::ffi::OsStr> = vec!["chain".as_ref()];
        all.extend_from_slice(args);
        let url = self.anvil.url();
        all.extend_from_slice(&[
            "--rpc".as_ref(),
            url.as_ref(),
            "--key-file".as_ref(),
            self.key_file.as_os_str(),
            "--state".as_ref(),
            self.state.as_os_str(),
        ]);
        poa_json(&all)
    }

    /// Opens a paid request (1 OPEN); its nonce, decimal.
    fn request(&self) -> String {
        let q = self.chain(&[
            "request".as_ref(),
            "--fee".as_ref(),
            "1000000000000000000".as_ref(),
        ]);
        q["nonce"].as_str().expect("nonce").to_string()
    }

    /// The node again, now submitting; `extra` flags added.
    fn submitting_node(&self, extra: &[&str]) -> Node {
        let url = self.anvil.url();
        let mut args = vec![
            "--prover-address",
            &self.signer,
            "--rpc",
            &url,
            "--chain-state",
            self.state.to_str().expect("utf-8"),
            "--key-file",
            self.key_file.to_str().expect("utf-8"),
            "--submit-backoff-secs",
            "1",
        ];
        args.extend_from_slice(extra);
        start_node(&self.db, &self.data, &args)
    }

    fn job_body(&self, nonce: &str) -> Value {
        json!({"model": self.model, "input": sample_input(), "datanet": self.datanet,
               "datanet_version": 1, "nonce": nonce})
    }

    /// `submit_attempts` of job `id`, from the job store.
    async fn sends(&self, id: &str) -> i64 {
        count(
            &self.db,
            &format!("SELECT submit_attempts FROM jobs WHERE id = '{id}'"),
        )
        .await
    }

    /// Transactions sent from the signer so far (its account nonce, pending ones counted).
    fn signer_txs(&self) -> u64 {
        let n = self
            .anvil
            .call("eth_getTransactionCount", json!([self.signer, "pending"]))
            .expect("eth_getTransactionCount");
        u64::from_str_radix(n.as_str().expect("hex").trim_start_matches("0x"), 16).expect("hex")
    }
}

/// Waits until job `id` satisfies `done`; returns it.
async fn wait_job(
    node: &Node,
    c: &reqwest::Client,
    id: &str,
    what: &str,
    done: fn(&Value) -> bool,
) -> Value {
    let url = node.url.clone();
    wait_for(Duration::from_secs(400), || {
        let url = url.clone();
        async move {
            let j = job(c, &url, id).await;
            done(&j).then_some(j)
        }
    })
    .await
    .unwrap_or_else(|| panic!("job {id}: not {what} in time\n{}", node.proc.log_text()))
}

fn settled(j: &Value) -> bool {
    j["state"] == "submitted" || j["state"] == "failed"
}

async fn submits_once_per_nonce(db: Option<String>) {
    let t = OnChain::new(db).await;
    let (c, key) = (&t.c, t.key.as_str());
    let nonce = t.request();
    let node = t.submitting_node(&[]);

    // The model's verifier address comes from the chain's model registry.
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(&t.state).expect("state")).expect("JSON");
    let registered = state["deployment"]["verifier"].as_str().expect("verifier");
    let m = wait_for(Duration::from_secs(60), || async {
        let m = try_get_json(c, &node.url, &format!("/v1/models/{}", t.model)).await?;
        m["verifier_address"].is_string().then_some(m)
    })
    .await
    .unwrap_or_else(|| panic!("no verifier address\n{}", node.proc.log_text()));
    assert!(
        m["verifier_address"]
            .as_str()
            .is_some_and(|v| v.eq_ignore_ascii_case(registered)),
        "{m} vs {registered}"
    );

    let first = submit_job(c, &node.url, key, &t.job_body(&nonce)).await;
    let j = wait_job(&node, c, &first, "settled", settled).await;
    assert_eq!(j["state"], "submitted", "{j}\n{}", node.proc.log_text());
    let tx = j["tx_hash"].as_str().expect("tx hash");
    assert!(tx.starts_with("0x") && tx.len() == 66, "{j}");
    assert_eq!(j["sent_txs"], json!([tx]), "{j}");
    assert!(j["gas_used"].as_i64().is_some_and(|g| g > 100_000), "{j}");
    assert_eq!(j["error"], Value::Null, "{j}");
    assert_eq!(t.sends(&first).await, 1);

    // The credit is on chain: the signer is owner, prover and treasury, and claims it.
    let claimed = t.chain(&["claim".as_ref()]);
    assert!(common::amount(&claimed["amount"]) > 0, "{claimed}");

    // A second job for the same nonce — written in hex this time, which the API stores in the
    // one decimal spelling — is proved but never sent: the job store refuses it.
    let hex_nonce = format!(
        "{:#x}",
        nonce
            .parse::<alloy::primitives::U256>()
            .expect("decimal nonce")
    );
    let second = submit_job(c, &node.url, key, &t.job_body(&hex_nonce)).await;
    let j = wait_job(&node, c, &second, "settled", settled).await;
    assert_eq!(j["nonce"], nonce.as_str(), "{j}");
    assert_eq!(j["state"], "failed", "{j}");
    let error = j["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("already submitted") && error.contains(&first),
        "{j}"
    );
    assert_eq!(j["tx_hash"], Value::Null, "{j}");
    assert_eq!(t.sends(&second).await, 0, "the second job was sent");

    // A request settled by someone else (here `poa chain submit` of a proof made with
    // `poa prove`): the node's send reverts `AlreadyPaid`, and the job fails naming the
    // transaction that settled it — not sent again.
    let other = t.request();
    let input = t.tmp.path().join("input.json");
    std::fs::write(&input, json!({"inputs": [sample_input()]}).to_string()).expect("input");
    let proof = t.tmp.path().join("proof.json");
    poa_json(&[
        "prove".as_ref(),
        t.model_dir.as_os_str(),
        "--input".as_ref(),
        input.as_os_str(),
        "--out".as_ref(),
        proof.as_os_str(),
        "--nonce".as_ref(),
        other.as_ref(),
        "--prover".as_ref(),
        t.signer.as_ref(),
    ]);
    let by_cli = t.chain(&["submit".as_ref(), proof.as_os_str()]);
    let cli_tx = by_cli["tx_hash"].as_str().expect("tx_hash").to_string();
    let third = submit_job(c, &node.url, key, &t.job_body(&other)).await;
    let j = wait_job(&node, c, &third, "settled", settled).await;
    assert_eq!(j["state"], "failed", "{j}");
    let error = j["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("settled on chain by transaction")
            && error.to_lowercase().contains(&cli_tx.to_lowercase()),
        "{j} (settled by {cli_tx})"
    );
    assert_eq!(t.sends(&third).await, 1, "a revert is not retried");
    assert_eq!(
        count(&t.db, "SELECT COUNT(*) FROM jobs WHERE state = 'submitted'").await,
        1
    );
}

#[tokio::test]
async fn node_submits_proved_jobs_once_per_nonce() {
    submits_once_per_nonce(None).await;
}

#[tokio::test]
async fn node_submits_once_per_nonce_on_postgres() {
    let Some(pg) = pg::database("chain").await else {
        return;
    };
    submits_once_per_nonce(Some(pg.url.clone())).await;
    drop(pg);
}

/// A receipt that does not come in time is waited for, never answered by a second send; a
/// transaction the chain dropped is sent again, and the job records both.
#[tokio::test]
async fn node_waits_for_slow_receipts_and_resends_dropped_transactions() {
    let t = OnChain::new(None).await;
    let (c, key) = (&t.c, t.key.as_str());
    let (slow, dropped) = (t.request(), t.request());
    // From here on blocks are mined only when the test says so.
    t.anvil
        .call("evm_setAutomine", json!([false]))
        .expect("evm_setAutomine");
    let node = t.submitting_node(&["--submit-timeout-secs", "2"]);
    let before = t.signer_txs();

    // 1. Slow receipt: the node times out waiting, gives the job back, and on each later try
    //    finds its transaction still pending — it sends nothing more.
    let a = submit_job(c, &node.url, key, &t.job_body(&slow)).await;
    let j = wait_job(&node, c, &a, "waiting for its transaction", |j| {
        j["error"]
            .as_str()
            .is_some_and(|e| e.contains("waiting for transaction"))
    })
    .await;
    assert_eq!(j["state"], "submitting", "{j}");
    let sent = j["sent_txs"].as_array().expect("sent_txs").clone();
    assert_eq!(sent.len(), 1, "{j}");
    assert_eq!(t.signer_txs(), before + 1, "one transaction sent");
    t.anvil.call("evm_mine", json!([])).expect("evm_mine");
    let j = wait_job(&node, c, &a, "settled", settled).await;
    assert_eq!(j["state"], "submitted", "{j}\n{}", node.proc.log_text());
    assert_eq!(j["tx_hash"], sent[0], "{j}");
    assert_eq!(j["sent_txs"], json!(sent), "{j}");
    assert_eq!(t.sends(&a).await, 1);

    // 2. Dropped: the chain forgets the pending transaction; the node, finding it gone and the
    //    request still open, sends again (the same signed transaction when nothing else changed:
    //    same account nonce, same fees, so the same hash).
    let b = submit_job(c, &node.url, key, &t.job_body(&dropped)).await;
    let j = wait_job(&node, c, &b, "sent", |j| {
        j["sent_txs"].as_array().is_some_and(|s| s.len() == 1)
    })
    .await;
    let first = j["sent_txs"][0].clone();
    t.anvil
        .call("anvil_dropTransaction", json!([first]))
        .expect("anvil_dropTransaction");
    let resent = wait_for(Duration::from_secs(60), || async {
        (t.sends(&b).await == 2).then_some(())
    })
    .await;
    assert!(resent.is_some(), "not sent again\n{}", node.proc.log_text());
    let j = job(c, &node.url, &b).await;
    let sent = j["sent_txs"].as_array().expect("sent_txs").clone();
    assert_eq!(sent[0], first, "{j}");
    let last = sent.last().expect("a transaction").clone();
    let pooled = t
        .anvil
        .call("eth_getTransactionByHash", json!([last]))
        .expect("eth_getTransactionByHash");
    assert!(
        pooled.is_object(),
        "the resent transaction is pending: {pooled}"
    );
    t.anvil.call("evm_mine", json!([])).expect("evm_mine");
    let j = wait_job(&node, c, &b, "settled", settled).await;
    assert_eq!(j["state"], "submitted", "{j}\n{}", node.proc.log_text());
    assert_eq!(j["tx_hash"], last, "{j}");
    assert_eq!(t.sends(&b).await, 2);
}
