//! Nothing accepted is lost: the node is killed with SIGKILL while proving, restarted on the
//! same job store, and every accepted job ends proved exactly once; a prover asked to stop
//! (SIGTERM) finishes its job first; a job that keeps failing ends failed with its reason.

mod node_common;

use std::time::Duration;

use node_common::*;
use serde_json::json;

#[tokio::test]
async fn node_killed_while_proving_loses_no_job() {
    // Short leases so the job the dead node held comes back quickly.
    let lease = ["--lease-secs", "2"];
    let Fixture {
        db,
        key,
        mut node,
        c,
        model,
        tmp: _tmp,
    } = fixture(None, &lease).await;
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(submit(&c, &node.url, &key, &model).await);
    }
    // Kill while a job is being proved and some are still queued.
    let (cr, url, idr) = (&c, node.url.as_str(), &ids);
    let proving = wait_for(Duration::from_secs(60), || async move {
        let mut states = Vec::new();
        for id in idr {
            states.push(job(cr, url, id).await["state"].clone());
        }
        let proving = states.iter().filter(|s| *s == "proving").count();
        let proved = states.iter().filter(|s| *s == "proved").count();
        (proving == 1 && proved >= 1).then_some(())
    })
    .await;
    assert!(proving.is_some(), "never saw a job proving");
    node.proc.kill9();
    assert!(
        count(&db, "SELECT COUNT(*) FROM jobs WHERE state = 'proving'").await >= 1,
        "the killed node held a lease"
    );

    let node = start_node(&db, &node.data, &lease);
    let done = wait_all_done(&c, &node.url, &ids, Duration::from_secs(180)).await;
    assert_eq!(done.len(), ids.len());
    for j in &done {
        assert_eq!(j["state"], "proved", "{j}");
    }
    assert!(
        done.iter().any(|j| j["attempts"] == 2),
        "the job in flight at the crash was proved on a second claim"
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM jobs").await,
        ids.len() as i64
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM proofs").await,
        ids.len() as i64
    );
}

#[tokio::test]
async fn prover_finishes_its_job_on_sigterm() {
    let Fixture {
        tmp,
        db,
        key,
        node,
        c,
        model,
    } = fixture(None, &["--workers", "0"]).await;
    let ids = [
        submit(&c, &node.url, &key, &model).await,
        submit(&c, &node.url, &key, &model).await,
    ];
    let mut prover = start_prover(&db, &tmp.path().join("cache"), &["--workers", "1"]);
    let (cr, url, first) = (&c, node.url.as_str(), ids[0].as_str());
    let seen = wait_for(Duration::from_secs(60), || async move {
        (job(cr, url, first).await["state"] == "proving").then_some(())
    })
    .await;
    assert!(seen.is_some(), "the prover never claimed the first job");
    let status = prover
        .terminate(Duration::from_secs(60))
        .expect("prover exits after SIGTERM");
    assert!(status.success(), "{}", prover.log_text());
    let first = job(&c, &node.url, &ids[0]).await;
    assert_eq!(
        first["state"], "proved",
        "the job in flight was finished: {first}"
    );
    let second = job(&c, &node.url, &ids[1]).await;
    assert_eq!(
        second["state"], "queued",
        "no new job after SIGTERM: {second}"
    );
}

#[tokio::test]
async fn job_that_keeps_failing_ends_failed_with_its_reason() {
    let Fixture {
        db,
        key,
        node,
        c,
        model,
        tmp: _tmp,
    } = fixture(None, &["--max-attempts", "2"]).await;
    // Far outside the calibrated input range: the runtime refuses it at proving time.
    let id = submit_job(
        &c,
        &node.url,
        &key,
        &json!({"model": model, "input": vec![1.0e30_f64; 64]}),
    )
    .await;
    let done = wait_all_done(
        &c,
        &node.url,
        std::slice::from_ref(&id),
        Duration::from_secs(60),
    )
    .await;
    let j = &done[0];
    assert_eq!(j["state"], "failed", "{j}");
    assert_eq!(j["attempts"], 2, "{j}");
    assert!(
        j["error"].as_str().is_some_and(|e| e.contains("proving")),
        "{j}"
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM proofs").await, 0);
}
