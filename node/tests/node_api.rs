//! The REST node end to end on a real server (127.0.0.1) and a real SQLite job store: upload the
//! fixture model, submit jobs, the embedded worker proves them through poa-prover, and the proof,
//! calldata, attribution report, idempotency, OpenAPI document and metrics are checked.

mod common;
mod node_common;

use std::time::Duration;

use node_common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn proves_a_submitted_job_and_serves_a_proof_that_verifies() {
    let Fixture {
        tmp,
        key,
        node,
        c,
        model,
        ..
    } = fixture(None, &[]).await;

    let m = node_common::model(&c, &node.url, &model).await;
    assert_eq!(m["input_len"], 64);
    assert_eq!(m["layout"], "dense", "the default layout");
    assert!(m["commitment"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(m["circuit"]["k"].as_u64().is_some_and(|k| k > 0), "{m}");
    assert_eq!(m["insecure_srs"], true);
    assert_eq!(m["verifier_address"], Value::Null);

    let id = submit(&c, &node.url, &key, &model).await;
    let (proved, p) = wait_proved(&c, &node.url, &id, Duration::from_secs(120)).await;
    assert_eq!(proved["progress"], 100);
    assert_eq!(proved["attempts"], 1);

    let instances = p["public_instances"].as_array().expect("instances");
    assert!(!instances.is_empty());
    let calldata = p["calldata"].as_str().expect("calldata");
    // The served proof's points are compressed; calldata takes the EVM transcript.
    let proof_bytes = poa_prover::Proof::from_json(&p["proof"].to_string())
        .expect("proof JSON")
        .bytes
        .len();
    assert!(hex_len(p["proof"]["proof"].as_str().unwrap_or_default()) < proof_bytes);
    assert_eq!(
        (calldata.len() - 2) / 2,
        32 * instances.len() + proof_bytes,
        "calldata = 32-byte instances ‖ proof"
    );

    // The served proof verifies with the CLI against the model folder the node set up.
    cli_verifies(
        &tmp.path().join("proof.json"),
        &p["proof"],
        &node.data.join("models").join(&model),
    );

    // Inference-only proofs publish no attribution.
    let r = c
        .get(format!("{}/v1/jobs/{id}/report", node.url))
        .send()
        .await
        .expect("report");
    assert_eq!(r.status(), 409);
    let e: Value = r.json().await.expect("JSON");
    assert_eq!(e["code"], "no_attribution");

    let metrics = c
        .get(format!("{}/metrics", node.url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("poa_jobs{state=\"proved\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("poa_jobs{state=\"queued\"} 0"),
        "{metrics}"
    );
    assert!(metrics.contains("poa_prove_seconds_count 1"), "{metrics}");
    assert!(
        metrics.contains("poa_prove_seconds_bucket{le=\"+Inf\"} 1"),
        "{metrics}"
    );
}

fn hex_len(s: &str) -> usize {
    s.trim_start_matches("0x").len() / 2
}

#[tokio::test]
async fn idempotency_key_returns_the_same_job_and_refuses_another_body() {
    // No embedded worker: this test is about the submit path only.
    let Fixture {
        db,
        key,
        node,
        c,
        model,
        tmp: _tmp,
    } = fixture(None, &["--workers", "0"]).await;
    let body = json!({"model": model, "input": sample_input()});
    let send = |body: Value, idem: &'static str| {
        c.post(format!("{}/v1/jobs", node.url))
            .bearer_auth(&key)
            .header("Idempotency-Key", idem)
            .json(&body)
            .send()
    };
    let a = send(body.clone(), "order-1").await.expect("first");
    assert_eq!(a.status(), 202, "{}", node.proc.log_text());
    assert!(a.headers().get("idempotent-replayed").is_none());
    let a: Value = a.json().await.expect("JSON");
    let b = send(body.clone(), "order-1").await.expect("retry");
    assert_eq!(b.status(), 202, "{}", node.proc.log_text());
    assert_eq!(b.headers()["idempotent-replayed"], "true");
    let b: Value = b.json().await.expect("JSON");
    assert_eq!(a["id"], b["id"], "a retry returns the first job");

    let mut other = body.clone();
    other["input"][0] = json!(0.5);
    let r = send(other, "order-1").await.expect("reuse");
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.expect("JSON");
    assert_eq!(e["code"], "idempotency_key_reused");

    let d: Value = send(body, "order-2")
        .await
        .expect("new key")
        .json()
        .await
        .expect("JSON");
    assert_ne!(d["id"], a["id"]);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM jobs").await, 2);
}

#[tokio::test]
async fn openapi_document_lists_every_route_and_health_answers() {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = sqlite_url(tmp.path());
    let node = start_node(&db, &tmp.path().join("data"), &["--workers", "0"]);
    let c = client();
    let doc: Value = c
        .get(format!("{}/v1/openapi.json", node.url))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("JSON");
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/v1/jobs",
        "/v1/jobs/{id}",
        "/v1/jobs/{id}/proof",
        "/v1/jobs/{id}/report",
        "/v1/models",
        "/v1/models/{id}",
        "/v1/models/{id}/adapters",
        "/v1/datanets",
        "/v1/datanets/{id}",
        "/v1/datanets/{id}/contributions",
        "/v1/datanets/{id}/contributions/batch",
        "/v1/datanets/{id}/seal",
        "/v1/datanets/{id}/versions/{version}",
        "/v1/health",
        "/v1/ready",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "openapi.json lacks {p}");
    }
    assert!(doc["components"]["schemas"]["SubmitJob"].is_object());
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    for p in ["/v1/health", "/v1/ready"] {
        let r = c.get(format!("{}{p}", node.url)).send().await.expect(p);
        assert_eq!(r.status(), 200, "{p}");
    }
}

/// Attribution end to end over HTTP: a datanet built through the API (batch add, seal), a model
/// set up over its sealed version, a job with a nonce proved by a worker with a prover address,
/// and the report read from the proof.
#[tokio::test]
async fn attribution_job_report_splits_the_fee_over_the_proven_top_k() {
    let prover = "0x00000000000000000000000000000000000000b0";
    let AttributionNode {
        tmp: _tmp,
        key,
        node,
        c,
        datanet: (dn, accepted, s),
    } = attribution_node(prover).await;
    assert_eq!(s["version"], 1);
    assert_eq!(s["entries"], accepted);
    let v: Value = c
        .get(format!("{}/v1/datanets/{dn}/versions/1", node.url))
        .send()
        .await
        .expect("entries")
        .json()
        .await
        .expect("JSON");
    assert_eq!(v["root"], s["root"]);
    assert_eq!(v["entries"].as_array().map(Vec::len), Some(accepted));

    let model = upload_model(
        &c,
        &node,
        &key,
        "mlp_small",
        Some(json!({"datanet": dn, "version": 1, "top_k": 4})),
    )
    .await;
    let id = submit_job(&c, &node.url, &key, &json!({"model": model, "input": sample_input(), "datanet": dn, "datanet_version": 1, "nonce": "7"})).await;
    let done = wait_all_done(
        &c,
        &node.url,
        std::slice::from_ref(&id),
        Duration::from_secs(300),
    )
    .await;
    assert_eq!(done[0]["state"], "proved", "{}", done[0]);

    let fee: u128 = 1_000_000_000_000_000_000;
    let rep: Value = c
        .get(format!("{}/v1/jobs/{id}/report?fee={fee}", node.url))
        .send()
        .await
        .expect("report")
        .json()
        .await
        .expect("JSON");
    assert_eq!(rep["attribution"]["nonce"], "7");
    assert_eq!(rep["attribution"]["prover"], prover);
    assert_eq!(rep["attribution"]["top"].as_array().map(Vec::len), Some(4));
    let w = &rep["reward"];
    assert_eq!(
        common::paid_out(w),
        fee,
        "the split pays out exactly the fee: {w}"
    );

    let svg = c
        .get(format!("{}/v1/jobs/{id}/report?format=svg", node.url))
        .send()
        .await
        .expect("svg");
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.expect("text").starts_with("<svg"));
    let bad = c
        .get(format!("{}/v1/jobs/{id}/report?format=pdf", node.url))
        .send()
        .await
        .expect("bad format");
    assert_eq!(bad.status(), 400);

    // A job for another datanet version is refused up front.
    let r = c
        .post(format!("{}/v1/jobs", node.url))
        .bearer_auth(&key)
        .json(&json!({"model": model, "input": sample_input(), "datanet": dn, "datanet_version": 2, "nonce": "8"}))
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status(), 422);
}

/// A LoRA adapter over HTTP: uploaded for a base attribution model, compiled and set up as its
/// own model, a job naming it proved with the adapter's weights; the proof publishes the base
/// model's id and the adapter's id. Unknown adapters and adapters that do not fit are refused
/// with their reason.
#[tokio::test]
async fn lora_adapter_jobs_prove_with_the_adapter_and_publish_its_id() {
    let AttributionNode {
        tmp: _tmp,
        key,
        node,
        c,
        datanet: (dn, _, _),
    } = attribution_node("0x00000000000000000000000000000000000000b0").await;
    let attribution = json!({"datanet": dn, "version": 1, "top_k": 4});
    let base = upload_model(&c, &node, &key, "mlp_small", Some(attribution)).await;
    let adapter: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("adapters/mlp_small_lora.json")).expect("fixture"),
    )
    .expect("JSON");
    let post_adapter = |model: &str, body: Value| {
        c.post(format!("{}/v1/models/{model}/adapters", node.url))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    let r = post_adapter(&base, json!({ "adapter": adapter }))
        .await
        .expect("upload");
    assert_eq!(r.status(), 202);
    let a: Value = r.json().await.expect("JSON");
    let lora = a["id"].as_str().expect("id").to_string();
    assert_eq!(a["base_model"], base.as_str());
    assert_eq!(a["adapter"], "digits-curated");
    let a = wait_model(&c, &node.url, &lora).await;
    assert_eq!(a["status"], "ready", "{a}");
    let b = wait_model(&c, &node.url, &base).await;
    assert_eq!(
        a["public_model_id"], b["public_model_id"],
        "an adapter publishes its base's id"
    );
    let zero = format!("0x{}", "0".repeat(64));
    assert_eq!(b["public_adapter_id"], zero.as_str());
    assert_ne!(a["public_adapter_id"], zero.as_str());
    assert_ne!(a["commitment"], b["commitment"], "other weights");

    let job = |adapter: Option<&str>, nonce: &str| {
        let mut j = json!({"model": base, "input": sample_input(), "datanet": dn,
                           "datanet_version": 1, "nonce": nonce});
        if let Some(a) = adapter {
            j["adapter"] = a.into();
        }
        j
    };
    let id = submit_job(&c, &node.url, &key, &job(Some(&lora), "9")).await;
    let (proved, p) = wait_proved(&c, &node.url, &id, Duration::from_secs(300)).await;
    assert_eq!(
        proved["model"],
        lora.as_str(),
        "the adapter's model is proved"
    );
    let instances = p["public_instances"].as_array().expect("instances");
    assert_eq!(instances[0], a["public_model_id"], "{p}");
    assert_eq!(instances[1], a["public_adapter_id"], "{p}");

    // Refused up front: an adapter id that is not this model's, an adapter of an adapter, a
    // malformed adapter file.
    let r = c
        .post(format!("{}/v1/jobs", node.url))
        .bearer_auth(&key)
        .json(&job(Some("nope"), "10"))
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.expect("JSON");
    assert_eq!(e["code"], "unknown_adapter", "{e}");
    let r = post_adapter(&lora, json!({ "adapter": adapter }))
        .await
        .expect("upload");
    assert_eq!(r.status(), 422);
    let mut bad = adapter.clone();
    bad["alpha"] = json!(-2.0);
    let r = post_adapter(&base, json!({ "adapter": bad }))
        .await
        .expect("upload");
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.expect("JSON");
    assert_eq!(e["code"], "invalid_adapter", "{e}");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("alpha -2")),
        "{e}"
    );
    // An adapter for a layer the model does not have is accepted, then fails its build naming
    // the layer.
    let mut misfit = adapter.clone();
    misfit["layers"][0]["node"] = json!("fc9");
    let r = post_adapter(&base, json!({ "adapter": misfit }))
        .await
        .expect("upload");
    assert_eq!(r.status(), 202);
    let m: Value = r.json().await.expect("JSON");
    let m = wait_model(&c, &node.url, m["id"].as_str().expect("id")).await;
    assert_eq!(m["status"], "failed", "{m}");
    assert!(
        m["error"].as_str().is_some_and(|e| e.contains("fc9")),
        "{m}"
    );
}

/// `weight_visibility: hashed` over HTTP: the base model and its adapter are set up with the
/// same circuit, each publishes its weights commitment as its public adapter id, and a job on
/// the adapter proves under it. An unknown visibility is refused with its code.
#[tokio::test]
async fn hashed_weight_models_and_their_adapters_share_one_circuit() {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = sqlite_url(tmp.path());
    let key = create_key(&db);
    let node = start_node(&db, &tmp.path().join("data"), &[]);
    let c = client();
    let hashed = json!({ "weight_visibility": "hashed", "layout": "wide" });
    let base = upload_model_with(&c, &node, &key, "mlp_small", hashed).await;
    let adapter: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("adapters/mlp_small_lora.json")).expect("fixture"),
    )
    .expect("JSON");
    let r = c
        .post(format!("{}/v1/models/{base}/adapters", node.url))
        .bearer_auth(&key)
        .json(&json!({ "adapter": adapter }))
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), 202);
    let lora = r.json::<Value>().await.expect("JSON")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let a = wait_model(&c, &node.url, &lora).await;
    let b = wait_model(&c, &node.url, &base).await;
    assert_eq!(a["status"], "ready", "{a}");
    assert_eq!(
        a["weight_visibility"], "hashed",
        "adapters take their base's"
    );
    assert_eq!(a["layout"], b["layout"], "adapters take their base's");
    assert_eq!(a["circuit"], b["circuit"], "one circuit");
    assert_eq!(a["public_model_id"], b["public_model_id"]);
    let zero = format!("0x{}", "0".repeat(64));
    assert_ne!(
        b["public_adapter_id"],
        zero.as_str(),
        "the base's weights commitment"
    );
    assert_ne!(a["public_adapter_id"], b["public_adapter_id"]);

    let body = json!({"model": base, "adapter": lora, "input": sample_input()});
    let id = submit_job(&c, &node.url, &key, &body).await;
    let (_, p) = wait_proved(&c, &node.url, &id, Duration::from_secs(300)).await;
    // An inference proof: the weights commitment is its first row.
    assert_eq!(p["public_instances"][0], a["public_adapter_id"], "{p}");

    let r = c
        .post(format!("{}/v1/models", node.url))
        .bearer_auth(&key)
        .json(
            &json!({"name": "m", "onnx_base64": "AAAA", "calibration": {"inputs": [[0.0]]},
                      "weight_visibility": "secret"}),
        )
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.expect("JSON");
    assert_eq!(e["code"], "invalid_weight_visibility", "{e}");
}

/// `layout: narrow` over HTTP: the model is set up with the one-column circuit (private input,
/// fixed weights), says so, and a job on it is proved with a proof `poa verify` accepts; the same
/// for `narrow_k` and for `layout: dense`.
#[tokio::test]
async fn narrow_and_dense_layout_models_are_set_up_and_prove() {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = sqlite_url(tmp.path());
    let key = create_key(&db);
    let node = start_node(&db, &tmp.path().join("data"), &[]);
    let c = client();
    let narrow = json!({ "layout": "narrow", "input_visibility": "private" });
    let model = upload_model_with(&c, &node, &key, "mlp_small", narrow).await;
    let m = node_common::model(&c, &node.url, &model).await;
    assert_eq!(m["layout"], "narrow", "{m}");
    assert_eq!(m["input_visibility"], "private", "{m}");
    assert_eq!(m["weight_visibility"], "fixed", "{m}");
    // One advice column, not the wide layout's ~20.
    assert!(
        m["circuit"]["advice_columns"]
            .as_u64()
            .is_some_and(|n| n <= 2),
        "{m}"
    );

    let id = submit(&c, &node.url, &key, &model).await;
    let (_, p) = wait_proved(&c, &node.url, &id, Duration::from_secs(300)).await;
    assert!(
        p["public_instances"]
            .as_array()
            .is_some_and(|i| !i.is_empty()),
        "{p}"
    );
    cli_verifies(
        &tmp.path().join("proof.json"),
        &p["proof"],
        &node.data.join("models").join(&model),
    );

    // narrow_k: one k below the one-column size → more columns, and a job still proves.
    let k = m["circuit"]["k"].as_i64().expect("k");
    let fewer = json!({ "layout": "narrow", "input_visibility": "private", "narrow_k": k - 1 });
    let model = upload_model_with(&c, &node, &key, "mlp_small", fewer).await;
    let m = node_common::model(&c, &node.url, &model).await;
    assert_eq!(m["narrow_k"], k - 1, "{m}");
    assert_eq!(m["circuit"]["k"], k - 1, "{m}");
    assert!(m["circuit"]["advice_columns"].as_u64() > Some(1), "{m}");
    let id = submit(&c, &node.url, &key, &model).await;
    let (_, p) = wait_proved(&c, &node.url, &id, Duration::from_secs(300)).await;
    cli_verifies(
        &tmp.path().join("proof_k.json"),
        &p["proof"],
        &node.data.join("models").join(&model),
    );

    // The dense layout: set up from the same upload field, a small k, a job proves and the
    // served proof verifies with the CLI.
    let dense = json!({ "layout": "dense" });
    let model = upload_model_with(&c, &node, &key, "mlp_small", dense).await;
    let m = node_common::model(&c, &node.url, &model).await;
    assert_eq!(m["layout"], "dense", "{m}");
    assert_eq!(m["circuit"]["k"], 10, "{m}");
    let id = submit(&c, &node.url, &key, &model).await;
    let (_, p) = wait_proved(&c, &node.url, &id, Duration::from_secs(300)).await;
    cli_verifies(
        &tmp.path().join("proof_dense.json"),
        &p["proof"],
        &node.data.join("models").join(&model),
    );

    // A k the circuit cannot take: the setup fails, naming the range.
    use base64::Engine;
    let onnx = std::fs::read(node_common::fixtures().join("models/mlp_small.onnx")).expect("onnx");
    let r = c
        .post(format!("{}/v1/models", node.url))
        .bearer_auth(&key)
        .json(&json!({
            "name": "too_big",
            "onnx_base64": base64::engine::general_purpose::STANDARD.encode(onnx),
            "calibration": node_common::calibration(),
            "layout": "narrow",
            "narrow_k": k + 1,
        }))
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), 202);
    let id = r.json::<serde_json::Value>().await.expect("JSON")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let m = node_common::wait_model(&c, &node.url, &id).await;
    assert_eq!(m["status"], "failed", "{m}");
    assert!(
        m["error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("k = {} is outside", k + 1))),
        "{m}"
    );
}

/// Writes a served proof to `file` and checks `poa verify` accepts it against `model_dir`.
fn cli_verifies(file: &std::path::Path, proof: &serde_json::Value, model_dir: &std::path::Path) {
    std::fs::write(file, proof.to_string()).expect("write proof");
    let out = poa()
        .arg("verify")
        .arg(model_dir)
        .arg(file)
        .output()
        .expect("poa verify");
    assert!(
        out.status.success(),
        "poa verify rejected the served proof: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
