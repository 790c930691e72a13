//! Load benchmark of the REST node, bounded and on loopback only: accepted jobs/s on the submit
//! path (concurrent clients, SQLite job store), then proofs/min with 1 and 2 `poa prover`
//! processes on the smallest fixture model (mlp_small, inference-only jobs).
//!
//! `cargo bench -p poa-node --bench load` (sizes: `POA_BENCH_SUBMITS`, `POA_BENCH_PROOFS`).
//! Results and the machine they were measured on are recorded in the README.

#[path = "../tests/node_common/mod.rs"]
mod node_common;

use std::time::{Duration, Instant};

use node_common::*;
use serde_json::json;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn proofs_per_minute(
    c: &reqwest::Client,
    node: &Node,
    key: &str,
    model: &str,
    workers: usize,
    jobs: usize,
    tmp: &std::path::Path,
) -> f64 {
    let mut provers: Vec<Proc> = (0..workers)
        .map(|i| {
            start_prover(
                &node.db,
                &tmp.join(format!("cache-{workers}-{i}")),
                &["--workers", "1", "--poll-ms", "20"],
            )
        })
        .collect();
    // Warm up: every prover loads the keys once (cached afterwards) before timing.
    let warm: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..workers * 2 {
            v.push(submit(c, &node.url, key, model).await);
        }
        v
    };
    wait_all_done(c, &node.url, &warm, Duration::from_secs(300)).await;
    let mut ids = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        ids.push(submit(c, &node.url, key, model).await);
    }
    let t = Instant::now();
    let done = wait_all_done(c, &node.url, &ids, Duration::from_secs(1200)).await;
    let secs = t.elapsed().as_secs_f64();
    assert!(done.iter().all(|j| j["state"] == "proved"));
    for p in &mut provers {
        p.terminate(Duration::from_secs(30));
    }
    jobs as f64 / secs * 60.0
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let submits = env_usize("POA_BENCH_SUBMITS", 1000);
        let proofs = env_usize("POA_BENCH_PROOFS", 40);
        let Fixture {
            tmp,
            db,
            key,
            node,
            c,
            model,
        } = fixture(None, &["--workers", "0"]).await;

        let body = json!({"model": model, "input": sample_input()});
        let clients = 8;
        let t = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..clients {
            let (c, url, key, body) = (c.clone(), node.url.clone(), key.clone(), body.clone());
            let n = submits / clients + usize::from(w < submits % clients);
            tasks.spawn(async move {
                for _ in 0..n {
                    let r = c
                        .post(format!("{url}/v1/jobs"))
                        .bearer_auth(&key)
                        .json(&body)
                        .send()
                        .await
                        .expect("submit");
                    assert_eq!(r.status(), 202);
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        let submit_rate = submits as f64 / t.elapsed().as_secs_f64();
        println!(
            "submit: {submits} jobs from {clients} concurrent clients: {submit_rate:.0} accepted jobs/s (SQLite)"
        );
        // Clear the submit-path jobs so the proving runs start from an empty queue.
        {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(&format!("{db}?mode=rwc"))
                .await
                .expect("connect");
            sqlx::query("UPDATE jobs SET state = 'failed', error = 'bench: submit path only' WHERE state = 'queued'")
                .execute(&mut conn)
                .await
                .expect("clear");
        }
        for workers in [1, 2] {
            let rate =
                proofs_per_minute(&c, &node, &key, &model, workers, proofs, tmp.path()).await;
            println!(
                "prove: {proofs} mlp_small inference jobs, {workers} prover process(es) × 1 worker: {rate:.0} proofs/min"
            );
        }
    });
}
