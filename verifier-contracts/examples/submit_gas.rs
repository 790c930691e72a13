//! `submit` gas at the demo's size, on anvil enforcing EIP-170, with the real narrow verifier:
//! mlp_small, top-8 over `N` entries (default 1,437, the fixture datanet's count), private input,
//! every entry its own contributor so the top-8 are 8 distinct payees (the most credits a k = 8
//! submit writes: 8 + owner + prover + treasury). Two requests are proven and submitted before
//! anyone claims — the first credits 11 fresh balances, the second finds them all non-zero —
//! then every payee claims. Prints the gas of each step: the figures in the README's gas table.
//!
//! ```sh
//! cargo run --release -p poa-contracts --example submit_gas
//! ```
#![allow(clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;

use alloy::primitives::U256;
use poa_circuits::{AttributionSetup, IndexVisibility, InputVisibility};
use poa_circuits::{Request, Visibility};
use poa_contracts::anvil::Anvil;
use poa_contracts::chain::local::{
    claim_all, deploy_and_register, open_paid_request, Actors, ModelTerms,
};
use poa_contracts::chain::{fr_to_u256, instances_to_u256};
use poa_contracts::project::Project;
use poa_contracts::verifier::solidity_verifier;
use poa_contracts::{solc, MAX_RUNTIME_BYTES};
use poa_fixtures::{compile, run_index, test_inputs};
use poa_prover::{keygen_narrow, narrow_size, prove_attributed, Srs};
use poa_runtime::datanet::Address;

const K: usize = 8;

fn main() {
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1437);
    let q = compile("mlp_small");
    let vis = Visibility {
        input: InputVisibility::Private,
        ..Visibility::default()
    };
    let mut index = (*run_index(&q, n)).clone();
    for (i, e) in index.entries.iter_mut().enumerate() {
        let mut a = [0x11; 20];
        a[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
        e.contributor = Address(a);
    }
    let setup =
        AttributionSetup::new(&q, Arc::new(index), K, IndexVisibility::Fixed).expect("setup");
    let srs = Srs::dev(narrow_size(&q, vis, Some(&setup), None).expect("sizes").k);
    let pk = keygen_narrow(&srs, &q, vis, Some(&setup), None).expect("keygen");
    let verifier = solc::compile(
        "Verifier.sol",
        &solidity_verifier(&srs, &pk.verifying_key()),
        "Halo2Verifier",
    )
    .expect("solcjs");
    assert!(verifier.runtime.len() <= MAX_RUNTIME_BYTES);

    let anvil = Anvil::start(true).expect("anvil (EIP-170 enforced)");
    let actors = Actors::of(&anvil).expect("accounts");
    let project = Project::compile().expect("contracts");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let terms = ModelTerms::attributed(&q, &vis, K as u16, [3000, 5000, 1500, 500]);
    let reg = rt
        .block_on(deploy_and_register(
            &actors,
            &project,
            &verifier.bytecode,
            fr_to_u256(&setup.root()),
            terms,
        ))
        .expect("deploys");
    let d = &reg.deployment;
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let prover = Address(actors.prover.address().into_array());
    let fee = U256::from(10u128.pow(18));
    let (mut submits, mut opens) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        let opened = rt
            .block_on(open_paid_request(&actors, &reg, fee))
            .expect("opens");
        let request = Request {
            nonce: poa_contracts::chain::u256_to_fr(opened.nonce).expect("nonce below r"),
            prover,
        };
        let p = prove_attributed(&srs, &pk, &q, &trace, setup.clone(), request).expect("proves");
        let s = rt
            .block_on(
                actors
                    .prover
                    .submit(d, &p.bytes, &instances_to_u256(&p.instances)),
            )
            .expect("accepted");
        let inner = rt
            .block_on(actors.prover.inner_call_gas(s.tx_hash, d.verifier))
            .expect("trace")
            .expect("verifier called");
        let standalone = rt
            .block_on(actors.prover.verify_gas(d.verifier, &p.instances, &p.bytes))
            .expect("estimate");
        opens.push((opened.approve_gas, opened.open_gas));
        submits.push((s, inner, standalone, p.bytes.len()));
    }
    let mut payees: Vec<_> = submits[0].0.credits.iter().map(|c| c.account).collect();
    payees.dedup();
    let claims = rt.block_on(claim_all(&actors, d, &payees)).expect("claims");
    let total: U256 = claims.iter().map(|c| c.amount).sum();
    assert_eq!(total, fee * U256::from(2));

    println!(
        "top-{K} over {n} entries (k={}), verifier runtime {} B (limit {MAX_RUNTIME_BYTES}), deploy {} gas",
        pk.id().k,
        verifier.runtime.len(),
        d.gas.verifier
    );
    for (i, (s, inner, standalone, bytes)) in submits.iter().enumerate() {
        let distinct = {
            let mut a: Vec<_> = s.credits.iter().map(|c| c.account).collect();
            a.sort();
            a.dedup();
            a.len()
        };
        println!(
            "submit #{}: {} gas ({} credits to {distinct} accounts, {}); verifier inside it {inner}, \
             as its own transaction {standalone} (estimate); proof {bytes} B",
            i + 1,
            s.gas,
            s.credits.len(),
            if i == 0 { "all balances new" } else { "all balances already non-zero" }
        );
    }
    println!(
        "approve, openRequest: {opens:?}; claims: {:?}",
        claims.iter().map(|c| c.gas).collect::<Vec<_>>()
    );
}
