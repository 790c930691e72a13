//! Dense-layout keygen / prove / verify per fixture model it takes, with k, rows and the proof
//! size (file and EVM calldata) printed beside them. `cargo bench -p poa-benches --bench dense
//! [-- <model>]` (a filter naming a fixture sets only that one up: `poa_benches::selected`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use poa_benches::{public_input, selected, MODELS};
use poa_fixtures::compile;
use poa_prover::{dense_size, keygen_dense, prove, verify, Srs};

fn bench_dense(c: &mut Criterion) {
    let input = poa_fixtures::inputs("input_0.json")[0].clone();
    let vis = public_input();
    for &name in MODELS.iter().filter(|m| selected(m)) {
        let model = compile(name);
        let trace = model.run(&input).expect("runs");
        let size = dense_size(&model, vis).expect("the dense layout takes it");
        let srs = Srs::dev(size.k);
        let pk = keygen_dense(&srs, &model, vis).expect("keygen");
        let vk = pk.verifying_key();
        let proof = prove(&srs, &pk, &model, &trace).expect("proves");
        eprintln!(
            "{name} k {}: {} rows, proof {} bytes ({} as calldata)",
            size.k,
            size.rows,
            proof.compact().len(),
            proof.bytes.len()
        );
        let mut g = c.benchmark_group(format!("dense/{name}"));
        g.sample_size(10);
        g.bench_function("keygen", |b| {
            b.iter(|| keygen_dense(&srs, black_box(&model), vis).expect("keygen"))
        });
        g.bench_function("prove", |b| {
            b.iter(|| prove(&srs, &pk, black_box(&model), &trace).expect("proves"))
        });
        g.bench_function("verify", |b| {
            b.iter(|| verify(&srs, &vk, black_box(&proof)).expect("verifies"))
        });
        g.finish();
    }
}

criterion_group!(benches, bench_dense);
criterion_main!(benches);
