//! Prove time of inference + top-k attribution against index size, for the README's table:
//! `cargo run --release -p poa-benches --example attribution_scaling -- [hashed] [model] [k]
//! [sizes…]` (defaults: fixed index, mlp_small, k = 8, 100 1000 10000 entries). Each size: keygen once, then the
//! median of 3 proofs (1 at 10,000 entries and above), and one native verification.

use std::time::Instant;

use poa_circuits::{AttributionSetup, Fr, IndexVisibility, ModelCircuit, Request, Visibility};
use poa_fixtures::{compile, run_index, test_inputs};
use poa_prover::{keygen_circuit, prove_attributed, verify, Srs};
use poa_runtime::datanet::Address;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let vis = if args.first().is_some_and(|a| a == "hashed") {
        args.remove(0);
        IndexVisibility::Hashed
    } else {
        IndexVisibility::Fixed
    };
    let name = args.first().map_or("mlp_small", String::as_str);
    let k: usize = args.get(1).map_or(8, |s| s.parse().expect("k is a number"));
    let sizes: Vec<usize> = match args.get(2..) {
        Some(rest) if !rest.is_empty() => rest.iter().map(|s| s.parse().expect("size")).collect(),
        _ => vec![100, 1000, 10000],
    };
    let q = compile(name);
    let d: usize = q.tensors[q.embedding].shape.iter().product();
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let request = Request {
        nonce: Fr::from(1),
        prover: Address([0x11; 20]),
    };
    println!("model {name}, embedding dimension {d}, k = {k}, {vis} index");
    println!("| entries | k (log2 rows) | main rows | range rows | keygen s | prove s | verify ms | proof bytes |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let setup = AttributionSetup::new(&q, run_index(&q, n), k, vis).expect("setup");
        let circuit = ModelCircuit::new(&q, None, Visibility::default())
            .expect("builds")
            .with_attribution(setup.clone(), None)
            .expect("attribution");
        let stats = circuit.stats();
        let srs = Srs::dev(stats.k);
        let t = Instant::now();
        let pk = keygen_circuit(&circuit, &srs).expect("keygen");
        let keygen_s = t.elapsed().as_secs_f64();
        let reps = if n >= 10_000 { 1 } else { 3 };
        let mut times = Vec::new();
        let mut proof = None;
        for _ in 0..reps {
            let t = Instant::now();
            let p =
                prove_attributed(&srs, &pk, &q, &trace, setup.clone(), request).expect("proves");
            times.push(t.elapsed().as_secs_f64());
            proof = Some(p);
        }
        times.sort_by(f64::total_cmp);
        let proof = proof.expect("at least one proof");
        let t = Instant::now();
        verify(&srs, &pk.verifying_key(), &proof).expect("verifies");
        let verify_ms = t.elapsed().as_secs_f64() * 1e3;
        println!(
            "| {n} | {} | {} | {} | {keygen_s:.2} | {:.2} | {verify_ms:.1} | {} |",
            stats.k,
            stats.main_rows,
            stats.range_rows,
            times[times.len() / 2],
            proof.bytes.len()
        );
    }
}
