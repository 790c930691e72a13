//! Two `poa prover` processes on one job store — SQLite file, and PostgreSQL with
//! `FOR UPDATE SKIP LOCKED` — prove every job exactly once and lose none.
//!
//! Job count: `POA_QUEUE_JOBS` (default 100) inference jobs on mlp_small (~0.3 s a proof), so
//! the run stays around a minute on a 2-core machine while 100 claims race.

mod node_common;

use std::collections::BTreeMap;
use std::time::Duration;

use node_common::*;

fn job_count() -> usize {
    std::env::var("POA_QUEUE_JOBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100)
}

async fn two_provers_prove_each_job_once(db: Option<String>) {
    let Fixture {
        tmp,
        db,
        key,
        node,
        c,
        model,
    } = fixture(db, &["--workers", "0"]).await;
    let (db, tmp) = (db.as_str(), tmp.path());
    let mut provers = [
        start_prover(
            db,
            &tmp.join("cache-a"),
            &["--workers", "1", "--poll-ms", "20"],
        ),
        start_prover(
            db,
            &tmp.join("cache-b"),
            &["--workers", "1", "--poll-ms", "20"],
        ),
    ];
    let n = job_count();
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        ids.push(submit(&c, &node.url, &key, &model).await);
    }
    let done = wait_all_done(&c, &node.url, &ids, Duration::from_secs(60 + 3 * n as u64)).await;

    let mut by_worker: BTreeMap<String, usize> = BTreeMap::new();
    for j in &done {
        assert_eq!(j["state"], "proved", "{j}");
        assert_eq!(j["attempts"], 1, "claimed more than once: {j}");
        *by_worker
            .entry(j["proved_by"].as_str().expect("proved_by").to_string())
            .or_default() += 1;
    }
    assert_eq!(by_worker.len(), 2, "both provers took jobs: {by_worker:?}");
    assert_eq!(count(db, "SELECT COUNT(*) FROM proofs").await, n as i64);
    assert_eq!(
        count(db, "SELECT COUNT(DISTINCT job_id) FROM proofs").await,
        n as i64
    );
    for p in &mut provers {
        let status = p
            .terminate(Duration::from_secs(30))
            .expect("prover exits on SIGTERM");
        assert!(status.success(), "prover exit: {status}\n{}", p.log_text());
    }
}

#[tokio::test]
async fn two_provers_share_an_sqlite_queue() {
    two_provers_prove_each_job_once(None).await;
}

#[tokio::test]
async fn two_provers_share_a_postgres_queue() {
    let Some(pg) = pg::database("queue").await else {
        return;
    };
    two_provers_prove_each_job_once(Some(pg.url.clone())).await;
    drop(pg);
}
