//! The narrow layout at the demo's size: mlp_small, top-8 over `N` entries (default 1,437, the
//! fixture datanet's count), private input. Prints the circuit's k and cells, keygen and prove
//! times, proof bytes, and its Solidity verifier's runtime size and gas under mainnet rules
//! (EIP-170 enforced) — the figures in the README's "On-chain" section.
//!
//! ```sh
//! cargo run --release -p poa-contracts --example narrow_attribution
//! ```
#![allow(clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use poa_circuits::{AttributionSetup, Fr, IndexVisibility, NarrowCircuit, Request, Statement};
use poa_circuits::{InputVisibility, Visibility};
use poa_contracts::evm::{calldata, deploy_and_call, Limits};
use poa_contracts::verifier::solidity_verifier;
use poa_contracts::{solc, MAX_RUNTIME_BYTES};
use poa_fixtures::{compile, run_index, test_inputs};
use poa_prover::{keygen_narrow, prove_attributed, verify, Srs};
use poa_runtime::datanet::Address;

fn main() {
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1437);
    let q = compile("mlp_small");
    let setup =
        AttributionSetup::new(&q, run_index(&q, n), 8, IndexVisibility::Fixed).expect("setup");
    let request = Request {
        nonce: Fr::from(7),
        prover: Address([0x42; 20]),
    };
    let statement = Statement::Attribution {
        setup: &setup,
        request,
    };
    let vis = Visibility {
        input: InputVisibility::Private,
        ..Visibility::default()
    };
    let c = NarrowCircuit::keygen(&q, vis, statement, None).expect("lays out");
    let k = c.k();
    println!(
        "top-8 over {n} entries: k={k}, {} advice cells",
        c.advice_cells()
    );
    let srs = Srs::dev(k);
    let t = Instant::now();
    let pk = keygen_narrow(&srs, &q, vis, Some(&setup), None).expect("keygen");
    println!("keygen {:.1?}", t.elapsed());
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let t = Instant::now();
    let p = prove_attributed(&srs, &pk, &q, &trace, setup.clone(), request).expect("proves");
    println!("prove {:.1?}, proof {} B", t.elapsed(), p.bytes.len());
    let t = Instant::now();
    let vk = pk.verifying_key();
    verify(&srs, &vk, &p).expect("verifies");
    println!("native verify {:.1?}", t.elapsed());
    let (instances, proof) = (p.instances, p.bytes);
    let sol = solidity_verifier(&srs, &vk);
    let c = solc::compile("Verifier.sol", &sol, "Halo2Verifier").expect("solcjs");
    let gas = deploy_and_call(&c.bytecode, calldata(&instances, &proof), Limits::Mainnet)
        .expect("deploys under EIP-170 and accepts");
    println!(
        "verifier runtime {} B (limit {MAX_RUNTIME_BYTES}), deploy {} gas, verify {} gas",
        c.runtime.len(),
        gas.deploy,
        gas.call
    );
}
