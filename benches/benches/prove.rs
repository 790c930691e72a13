//! keygen / prove / verify per fixture model the circuits support, plus pk load time in both
//! halo2 serialisations (the measurement behind `poa_prover::artifact::KEY_FORMAT`).
//! `cargo bench -p poa-benches [-- <model>]`; models whose circuit cannot be built are skipped with a
//! note, and a filter naming a fixture sets only that one up (`poa_benches::selected`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use halo2_proofs::SerdeFormat;
use poa_circuits::Visibility;
use poa_circuits::{circuit_stats, ModelCircuit};
use poa_fixtures::compile;
use poa_prover::{keygen, prove, verify, Srs};

/// The wide layout's criterion set: the small MLPs and the MLPs of the sizes users bring.
const MODELS: &[&str] = &["mlp_small", "mlp_deep", "mlp_argmax", "mlp_26k", "mlp_85k"];

fn bench_models(c: &mut Criterion) {
    let input = poa_fixtures::inputs("input_0.json")[0].clone();
    for &name in MODELS.iter().filter(|m| poa_benches::selected(m)) {
        let model = compile(name);
        let stats = match circuit_stats(&model, &Visibility::default())
            .and_then(|_| ModelCircuit::new(&model, None, Visibility::default()))
        {
            Ok(circuit) => circuit.stats(),
            Err(e) => {
                eprintln!("skipping {name}: {e}");
                continue;
            }
        };
        eprintln!("{name}: {stats}");
        let srs = Srs::dev(stats.k);
        let trace = model.run(&input).expect("runs");
        let pk = keygen(&model, &Visibility::default(), &srs).expect("keygen");
        let vk = pk.verifying_key();
        let proof = prove(&srs, &pk, &model, &trace).expect("proves");
        eprintln!(
            "{name}: proof {} bytes, pk {} bytes, vk {} bytes",
            proof.bytes.len(),
            pk.to_file_bytes().len(),
            vk.to_file_bytes().len()
        );

        let mut g = c.benchmark_group(name);
        g.sample_size(10);
        g.bench_function("keygen", |b| {
            b.iter(|| keygen(black_box(&model), &Visibility::default(), &srs).expect("keygen"))
        });
        g.bench_function("prove", |b| {
            b.iter(|| prove(&srs, &pk, black_box(&model), &trace).expect("proves"))
        });
        g.bench_function("verify", |b| {
            b.iter(|| verify(&srs, &vk, black_box(&proof)).expect("verifies"))
        });
        for (label, format) in [
            ("raw", SerdeFormat::RawBytes),
            ("processed", SerdeFormat::Processed),
        ] {
            let bytes = pk.halo2().to_bytes(format);
            eprintln!("{name}: pk payload {label} {} bytes", bytes.len());
            g.bench_function(format!("pk_load_{label}"), |b| {
                b.iter(|| {
                    halo2_proofs::plonk::ProvingKey::<halo2curves::bn256::G1Affine>::from_bytes::<
                        ModelCircuit,
                    >(black_box(&bytes), format, Default::default())
                    .expect("loads")
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench_models);
criterion_main!(benches);
