//! Bad requests against the real node: each gets a 4xx JSON `{code, message}`, the node keeps
//! serving, and no job row is written.

mod node_common;

use node_common::*;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use serde_json::{json, Value};

async fn expect_error(r: reqwest::Response, status: u16, code: &str) {
    assert_eq!(r.status().as_u16(), status, "expected {status} {code}");
    let e: Value = r.json().await.expect("a JSON error body");
    assert_eq!(e["code"], code, "{e}");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_write_nothing() {
    let Fixture {
        db,
        key,
        node,
        c,
        model,
        tmp: _tmp,
    } = fixture(None, &["--workers", "0", "--max-body-bytes", "16384"]).await;
    let jobs = format!("{}/v1/jobs", node.url);
    let post = |body: String| {
        c.post(&jobs)
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    expect_error(
        post("{\"model\": ".into()).await.expect("send"),
        400,
        "malformed_json",
    )
    .await;
    expect_error(
        post(json!({"model": 5, "input": "x"}).to_string())
            .await
            .expect("send"),
        422,
        "invalid_body",
    )
    .await;
    expect_error(
        post(json!({"model": model, "input": sample_input(), "colour": "red"}).to_string())
            .await
            .expect("send"),
        422,
        "invalid_body",
    )
    .await;
    expect_error(
        post(json!({"model": "nope", "input": sample_input()}).to_string())
            .await
            .expect("send"),
        422,
        "unknown_model",
    )
    .await;
    expect_error(
        post(json!({"model": model, "input": [1.0, 2.0]}).to_string())
            .await
            .expect("send"),
        422,
        "wrong_input_shape",
    )
    .await;
    expect_error(
        post(json!({"model": model, "input": sample_input(), "nonce": "1"}).to_string())
            .await
            .expect("send"),
        422,
        "not_attributed",
    )
    .await;
    expect_error(
        post(json!({"model": model, "input": sample_input(), "adapter": "a1"}).to_string())
            .await
            .expect("send"),
        422,
        "unknown_adapter",
    )
    .await;
    // A model is not its own adapter.
    expect_error(
        post(json!({"model": model, "input": sample_input(), "adapter": model}).to_string())
            .await
            .expect("send"),
        422,
        "unknown_adapter",
    )
    .await;
    let big = format!("{{\"model\": \"{}\", \"input\": []}}", "x".repeat(20_000));
    expect_error(post(big).await.expect("send"), 413, "body_too_large").await;
    expect_error(
        c.post(&jobs)
            .body(json!({"model": model, "input": sample_input()}).to_string())
            .header("content-type", "application/json")
            .send()
            .await
            .expect("send"),
        401,
        "missing_api_key",
    )
    .await;
    expect_error(
        c.post(&jobs)
            .bearer_auth("poa_not-a-key")
            .json(&json!({"model": model, "input": sample_input()}))
            .send()
            .await
            .expect("send"),
        401,
        "invalid_api_key",
    )
    .await;
    expect_error(
        c.post(&jobs)
            .bearer_auth(&key)
            .body(json!({"model": model, "input": sample_input()}).to_string())
            .send()
            .await
            .expect("send"),
        415,
        "unsupported_media_type",
    )
    .await;
    expect_error(
        c.get(format!("{}/v1/jobs/nope", node.url))
            .send()
            .await
            .expect("send"),
        404,
        "job_not_found",
    )
    .await;
    expect_error(
        c.get(format!("{}/v1/nothing", node.url))
            .send()
            .await
            .expect("send"),
        404,
        "no_such_route",
    )
    .await;
    expect_error(
        c.delete(&jobs).send().await.expect("send"),
        405,
        "method_not_allowed",
    )
    .await;
    expect_error(
        c.post(format!("{}/v1/models", node.url))
            .bearer_auth(&key)
            .json(&json!({"name": "m", "onnx_base64": "***", "calibration": {}}))
            .send()
            .await
            .expect("send"),
        422,
        "invalid_onnx",
    )
    .await;
    expect_error(
        c.post(format!("{}/v1/models", node.url))
            .bearer_auth(&key)
            .json(
                &json!({"name": "m", "onnx_base64": "AAAA", "calibration": {"inputs": [[0.0]]},
                           "layout": "tall"}),
            )
            .send()
            .await
            .expect("send"),
        422,
        "invalid_layout",
    )
    .await;
    expect_error(
        c.post(format!("{}/v1/models", node.url))
            .bearer_auth(&key)
            .json(
                &json!({"name": "m", "onnx_base64": "AAAA", "calibration": {"inputs": [[0.0]]},
                           "narrow_k": 12}),
            )
            .send()
            .await
            .expect("send"),
        422,
        "invalid_narrow_k",
    )
    .await;

    // Fuzzed bodies: random bytes and mutations of a valid job, from a fixed seed (reproducible).
    let valid = json!({"model": model, "input": sample_input()})
        .to_string()
        .into_bytes();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for i in 0..300 {
        let body: Vec<u8> = if i % 3 == 0 {
            let mut b = vec![0u8; (rng.next_u32() % 256) as usize];
            rng.fill_bytes(&mut b);
            b
        } else {
            let mut b = valid.clone();
            for _ in 0..=(rng.next_u32() % 8) {
                let at = (rng.next_u32() as usize) % b.len();
                match rng.next_u32() % 3 {
                    0 => b[at] = (rng.next_u32() % 128) as u8,
                    1 => {
                        b.remove(at);
                    }
                    _ => b.insert(at, b"{}[]\",:-e9"[(rng.next_u32() % 10) as usize]),
                }
            }
            b
        };
        let r = c
            .post(&jobs)
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("the node still answers");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        if status == 202 {
            // A mutation that is still a valid job (e.g. a changed digit) is fine to accept.
            continue;
        }
        assert!(
            (400..500).contains(&status),
            "fuzz case {i}: status {status} for {:?}",
            String::from_utf8_lossy(&body)
        );
        let e: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("fuzz case {i}: not JSON: {text}"));
        assert!(e["code"].is_string() && e["message"].is_string(), "{e}");
    }

    // Only fuzz cases that were valid jobs were written, each complete.
    let health = c
        .get(format!("{}/v1/health", node.url))
        .send()
        .await
        .expect("alive");
    assert_eq!(health.status(), 200);
    let half = count(
        &db,
        "SELECT COUNT(*) FROM jobs WHERE model_id <> '' AND state <> 'queued'",
    )
    .await;
    assert_eq!(half, 0, "no job is anything but a complete queued row");
    let bad_model = count(
        &db,
        &format!("SELECT COUNT(*) FROM jobs WHERE model_id <> '{model}'"),
    )
    .await;
    assert_eq!(bad_model, 0);
    assert!(
        !node.proc.log_text().contains("panicked"),
        "{}",
        node.proc.log_text()
    );
}

#[tokio::test]
async fn garbage_onnx_upload_ends_failed_with_the_reason() {
    use base64::Engine;
    let tmp = tempfile::tempdir().expect("tmp");
    let db = sqlite_url(tmp.path());
    let key = create_key(&db);
    let node = start_node(&db, &tmp.path().join("data"), &["--workers", "0"]);
    let c = client();
    let r = c
        .post(format!("{}/v1/models", node.url))
        .bearer_auth(&key)
        .json(&json!({
            "name": "junk",
            "onnx_base64": base64::engine::general_purpose::STANDARD.encode(b"not an onnx file"),
            "calibration": calibration(),
        }))
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.expect("JSON")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let m = wait_model(&c, &node.url, &id).await;
    assert_eq!(m["status"], "failed");
    assert!(m["error"].as_str().is_some_and(|e| !e.is_empty()), "{m}");
    let r = c
        .post(format!("{}/v1/jobs", node.url))
        .bearer_auth(&key)
        .json(&json!({"model": id, "input": sample_input()}))
        .send()
        .await
        .expect("submit");
    expect_error(r, 409, "model_not_ready").await;
}
