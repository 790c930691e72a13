//! Narrow-layout prove / verify per fixture model at its one-column k and one and two k below
//! (`poa setup --narrow-k`): the rows-for-columns trade, with the proof size of each point
//! printed beside it. `cargo bench -p poa-benches --bench narrow [-- <model>]` (a filter naming a
//! fixture sets only that one up: `poa_benches::selected`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use poa_benches::{public_input, selected, MODELS};
use poa_fixtures::compile;
use poa_prover::{keygen_narrow, narrow_size, prove, verify, Srs};

fn bench_narrow(c: &mut Criterion) {
    let input = poa_fixtures::inputs("input_0.json")[0].clone();
    let vis = public_input();
    for &name in MODELS.iter().filter(|m| selected(m)) {
        let model = compile(name);
        let trace = model.run(&input).expect("runs");
        let one = narrow_size(&model, vis, None, None).expect("the narrow layout takes it");
        let mut g = c.benchmark_group(format!("narrow/{name}"));
        g.sample_size(10);
        for drop in 0..=2 {
            let k = one.k - drop;
            let size = narrow_size(&model, vis, None, Some(k)).expect("sizes");
            let srs = Srs::dev(k);
            let pk = keygen_narrow(&srs, &model, vis, None, Some(k)).expect("keygen");
            let vk = pk.verifying_key();
            let proof = prove(&srs, &pk, &model, &trace).expect("proves");
            eprintln!(
                "{name} k {k}: {} advice columns, {} cells, proof {} bytes",
                size.columns.advice,
                size.advice_cells,
                proof.bytes.len()
            );
            g.bench_function(format!("k{k}/prove"), |b| {
                b.iter(|| prove(&srs, &pk, black_box(&model), &trace).expect("proves"))
            });
            g.bench_function(format!("k{k}/verify"), |b| {
                b.iter(|| verify(&srs, &vk, black_box(&proof)).expect("verifies"))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench_narrow);
criterion_main!(benches);
