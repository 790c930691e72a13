//! What would an aggregation layer cost here? Proves mlp_small's inference with a Poseidon
//! transcript, verifies that proof inside snark-verifier's aggregation circuit (halo2-base,
//! narrow: a few advice columns, many rows) at `AGG_K` (default 20), and measures the outer
//! circuit's Solidity verifier: runtime bytes and gas, against EIP-170's 24,576 B and the
//! 300k-gas target that today's wide circuits miss (see README, "On-chain verification").
//!
//! ```sh
//! AGG_K=20 cargo run --release -p poa-contracts --features aggregation --example aggregation_probe
//! ```
//! The dev SRS of size `2^AGG_K` is cached under `~/.cache/openpoa/` between runs.
#![allow(clippy::expect_used, clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Instant;

use poa_circuits::{ModelCircuit, Visibility};
use poa_contracts::evm::{calldata, deploy_and_call, Limits};
use poa_contracts::{solc, MAX_RUNTIME_BYTES};
use poa_fixtures::{compile, test_inputs};
use poa_prover::{keygen, Srs};
use snark_verifier_sdk::evm::{gen_evm_proof_shplonk, gen_evm_verifier_sol_code};
use snark_verifier_sdk::halo2::aggregation::{
    AggregationCircuit, AggregationConfigParams, VerifierUniversality,
};
use snark_verifier_sdk::halo2::gen_proof_shplonk;
use snark_verifier_sdk::snark_verifier::halo2_base::gates::circuit::CircuitBuilderStage;
use snark_verifier_sdk::snark_verifier::system::halo2::{compile as protocol_of, Config};
use snark_verifier_sdk::{gen_pk, CircuitExt, Snark, SHPLONK};

fn cached_dev_srs(k: u32) -> Srs {
    let dir = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/openpoa");
    let path = dir.join(format!("dev-srs-{k}.bin"));
    if let Ok(srs) = Srs::load(&path) {
        return srs;
    }
    let t = Instant::now();
    let srs = Srs::dev(k);
    println!("dev SRS k={k}: {:.1?}", t.elapsed());
    let _ = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, srs.to_file_bytes()));
    srs
}

fn main() {
    let agg_k: u32 = std::env::var("AGG_K")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let model = compile("mlp_small");
    let vis = Visibility::default();
    let k = poa_circuits::circuit_stats(&model, &vis).expect("stats").k;
    let outer_srs = cached_dev_srs(agg_k);
    let inner_srs = outer_srs.downsize(k).expect("downsize");

    // Inner proof: the usual circuit, but a Poseidon transcript (cheap to replay in a circuit).
    let pk = keygen(&model, &vis, &inner_srs).expect("keygen");
    let trace = model.run(&test_inputs()[0]).expect("runs");
    let circuit = ModelCircuit::new(&model, Some(&trace), vis).expect("circuit");
    let instances = circuit.instances().expect("witnessed");
    let t = Instant::now();
    let proof = gen_proof_shplonk(
        inner_srs.params(),
        pk.halo2(),
        circuit,
        vec![instances.clone()],
        None,
    );
    println!(
        "inner: k={k}, Poseidon-transcript proof {:.1?}, {} B, {} instances",
        t.elapsed(),
        proof.len(),
        instances.len()
    );
    let protocol = protocol_of(
        inner_srs.params(),
        pk.halo2().get_vk(),
        Config::kzg().with_num_instance(vec![instances.len()]),
    );
    let snark = Snark::new(protocol, vec![instances], proof);

    // Outer circuit: keygen (which fixes its shape and break points), then prove.
    let params = outer_srs.params();
    let t = Instant::now();
    let mut agg = AggregationCircuit::new::<SHPLONK>(
        CircuitBuilderStage::Keygen,
        AggregationConfigParams {
            degree: agg_k,
            lookup_bits: agg_k as usize - 1,
            ..Default::default()
        },
        params,
        [snark.clone()],
        VerifierUniversality::None,
    );
    let shape = agg.calculate_params(Some(10));
    println!("outer: witness {:.1?}, shape {shape:?}", t.elapsed());
    let t = Instant::now();
    let outer_pk = gen_pk(params, &agg, None);
    println!("outer: keygen {:.1?}", t.elapsed());
    let break_points = agg.break_points();
    let t = Instant::now();
    let agg = AggregationCircuit::new::<SHPLONK>(
        CircuitBuilderStage::Prover,
        shape,
        params,
        [snark],
        VerifierUniversality::None,
    )
    .use_break_points(break_points);
    let outer_instances = agg.instances();
    let num_instance = agg.num_instance();
    let outer_proof = gen_evm_proof_shplonk(params, &outer_pk, agg, outer_instances.clone());
    println!(
        "outer: prove {:.1?}, proof {} B, instances {num_instance:?}",
        t.elapsed(),
        outer_proof.len()
    );

    let sol = gen_evm_verifier_sol_code::<AggregationCircuit, SHPLONK>(
        params,
        outer_pk.get_vk(),
        num_instance,
    );
    let c = solc::compile("Verifier.sol", &sol, "Halo2Verifier").expect("solcjs");
    let gas = deploy_and_call(
        &c.bytecode,
        calldata(&outer_instances[0], &outer_proof),
        Limits::Unlimited,
    )
    .expect("the outer verifier accepts");
    println!(
        "outer verifier: runtime {} B (limit {MAX_RUNTIME_BYTES}), deploy {} gas, verify {} gas",
        c.runtime.len(),
        gas.deploy,
        gas.call
    );
}
