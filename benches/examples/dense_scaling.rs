//! How the dense layout's cost grows with the model: rows, k and prove time against MACs for every
//! fixture model it takes, the wide layout's k and rows beside them. `cargo run --release -p
//! poa-benches --example dense_scaling -- [reps] [model…]` (defaults: 3 proofs per model, every
//! model of `poa_benches::MODELS`). Input public, weights fixed (the ezkl comparison's
//! visibility), the first test input. Each model: keygen once, `reps` proofs (the median is
//! printed, and every time in the last column), one native verification.

use std::time::Instant;

use poa_benches::{public_input, MODELS};
use poa_circuits::circuit_stats;
use poa_fixtures::compile;
use poa_prover::{dense_size, keygen_dense, prove, verify, Srs};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let reps: usize = match args.first().map(|a| a.parse()) {
        Some(Ok(n)) => {
            args.remove(0);
            n
        }
        _ => 3,
    };
    let models: Vec<&str> = if args.is_empty() {
        MODELS.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    let input = poa_fixtures::inputs("input_0.json")[0].clone();
    let vis = public_input();
    println!(
        "| model | MACs | dense rows | rows / MAC | dense k | wide main rows | wide k | keygen s | prove s (median of {reps}) | verify ms | proof B | prove s, each |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for name in models {
        let q = compile(name);
        let macs = q.macs();
        let wide = circuit_stats(&q, &vis).expect("wide stats");
        let size = dense_size(&q, vis).expect("the dense layout takes it");
        let trace = q.run(&input).expect("runs");
        let srs = Srs::dev(size.k);
        let t = Instant::now();
        let pk = keygen_dense(&srs, &q, vis).expect("keygen");
        let keygen_s = t.elapsed().as_secs_f64();
        let mut times = Vec::new();
        let mut proof = None;
        for _ in 0..reps.max(1) {
            let t = Instant::now();
            let p = prove(&srs, &pk, &q, &trace).expect("proves");
            times.push(t.elapsed().as_secs_f64());
            proof = Some(p);
        }
        let proof = proof.expect("at least one proof");
        let t = Instant::now();
        verify(&srs, &pk.verifying_key(), &proof).expect("verifies");
        let verify_ms = t.elapsed().as_secs_f64() * 1e3;
        let each: Vec<String> = times.iter().map(|s| format!("{s:.2}")).collect();
        println!(
            "| {name} | {macs} | {} | {:.3} | {} | {} | {} | {keygen_s:.2} | {:.2} | {verify_ms:.1} | {} | {} |",
            size.rows,
            size.rows as f64 / macs as f64,
            size.k,
            wide.main_rows,
            wide.k,
            median(times.clone()),
            proof.compact().len(),
            each.join(", ")
        );
    }
}
