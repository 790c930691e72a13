//! Inference + top-8 attribution over a 1,000-entry fixed index (d = 32, mlp_small): the issue's
//! headline configuration, proved and verified. `cargo bench -p poa-benches --bench attribution`.
//! The scaling table over index sizes comes from `examples/attribution_scaling.rs`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use poa_circuits::{AttributionSetup, Fr, IndexVisibility, ModelCircuit, Request, Visibility};
use poa_fixtures::{compile, run_index, test_inputs};
use poa_prover::{keygen_circuit, prove_attributed, verify, Srs};
use poa_runtime::datanet::Address;

fn bench_attribution(c: &mut Criterion) {
    let q = compile("mlp_small");
    let setup =
        AttributionSetup::new(&q, run_index(&q, 1000), 8, IndexVisibility::Fixed).expect("setup");
    let circuit = ModelCircuit::new(&q, None, Visibility::default())
        .expect("builds")
        .with_attribution(setup.clone(), None)
        .expect("attribution");
    eprintln!("attribution_1000: {}", circuit.stats());
    let srs = Srs::dev(circuit.stats().k);
    let pk = keygen_circuit(&circuit, &srs).expect("keygen");
    let vk = pk.verifying_key();
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let request = Request {
        nonce: Fr::from(1),
        prover: Address([0x11; 20]),
    };
    let proof = prove_attributed(&srs, &pk, &q, &trace, setup.clone(), request).expect("proves");
    let mut g = c.benchmark_group("attribution_1000");
    g.sample_size(10);
    g.bench_function("prove", |b| {
        b.iter(|| {
            prove_attributed(&srs, &pk, black_box(&q), &trace, setup.clone(), request)
                .expect("proves")
        })
    });
    g.bench_function("verify", |b| {
        b.iter(|| verify(&srs, &vk, black_box(&proof)).expect("verifies"))
    });
    g.finish();
}

criterion_group!(benches, bench_attribution);
criterion_main!(benches);
