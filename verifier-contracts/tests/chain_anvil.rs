//! What `poa demo` does on-chain, on a real node (anvil) through alloy, with a real attribution
//! proof and the real generated verifier: deploy, seal the index root, register the model, open
//! a paid request, prove for its nonce, submit, claim for every payee — and the OPEN balances
//! say exactly what `poa_runtime::attribution::split` says (total paid = fee, contributors ∝
//! score, every rounding remainder to the treasury). A tampered proof byte or instance, and a
//! replay, revert; a proof sent by another account pays the prover it names.
//!
//! The circuit is the demo's: the narrow layout with a private input, whose verifier deploys
//! under EIP-170's 24,576-byte limit — anvil enforces it here. A second request for the same
//! model, submitted before anyone claims, measures `submit` when the payees already hold credits.

use std::sync::Arc;

use alloy::primitives::{Address as EvmAddress, U256};
use poa_circuits::{
    AttributionRows, AttributionSetup, IndexVisibility, InputVisibility, Request, Visibility,
};
use poa_contracts::anvil::Anvil;
use poa_contracts::chain::local::{
    claim_all, deploy_and_register, open_paid_request, open_paid_request_with, Actors, ModelTerms,
};
use poa_contracts::chain::{fr_to_u256, instances_to_u256, request_nonce, u256_to_fr};
use poa_contracts::project::Project;
use poa_contracts::verifier::solidity_verifier;
use poa_contracts::{solc, ContractsError, MAX_RUNTIME_BYTES};
use poa_fixtures::{compile, run_index, test_inputs};
use poa_prover::{keygen_narrow, narrow_size, prove_attributed, verify, Srs};
use poa_runtime::attribution::{attribute, split, RewardShares};
use poa_runtime::datanet::Address;

const K: usize = 8;
const SHARES: [u16; 4] = [3000, 5000, 1500, 500];

fn evm(a: &Address) -> EvmAddress {
    EvmAddress::from(a.0)
}

fn reverted_with(e: &ContractsError, what: &str) -> bool {
    matches!(e, ContractsError::Reverted { reason, .. } if reason.contains(what))
}

#[test]
fn anvil_pays_the_proven_attribution_and_rejects_tampering() {
    let q = compile("mlp_small");
    let vis = Visibility {
        input: InputVisibility::Private,
        ..Visibility::default()
    };
    let index = run_index(&q, 24);
    let setup =
        AttributionSetup::new(&q, Arc::clone(&index), K, IndexVisibility::Fixed).expect("setup");
    let srs = Srs::dev(narrow_size(&q, vis, Some(&setup), None).expect("sizes").k);
    let pk = keygen_narrow(&srs, &q, vis, Some(&setup), None).expect("keygen");
    let vk = pk.verifying_key();
    let verifier = solc::compile(
        "Verifier.sol",
        &solidity_verifier(&srs, &vk),
        "Halo2Verifier",
    )
    .expect("solcjs compiles the verifier");
    assert!(
        verifier.runtime.len() <= MAX_RUNTIME_BYTES,
        "verifier runtime {} B, over the {MAX_RUNTIME_BYTES}-byte EIP-170 limit",
        verifier.runtime.len()
    );
    // Mainnet's code-size limit, enforced.
    let anvil = Anvil::start(true).expect("anvil starts");
    let actors = Actors::of(&anvil).expect("dev accounts");
    let project = Project::compile().expect("solcjs compiles the contracts");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let terms = ModelTerms::attributed(&q, &vis, K as u16, SHARES);
    let reg = rt
        .block_on(deploy_and_register(
            &actors,
            &project,
            &verifier.bytecode,
            fr_to_u256(&setup.root()),
            terms,
        ))
        .expect("deploys and registers");
    let d = &reg.deployment;
    // An odd fee so the split leaves rounding dust.
    let fee = U256::from(10u128.pow(18) + 7);
    let opened = rt
        .block_on(open_paid_request(&actors, &reg, fee))
        .expect("opens a paid request");

    // The proof is made for the on-chain nonce and the prover's address.
    let input = &test_inputs()[1];
    let trace = q.run(input).expect("runs");
    let prover = Address(actors.prover.address().into_array());
    let request = Request {
        nonce: u256_to_fr(opened.nonce).expect("nonce below r"),
        prover,
    };
    let proof = prove_attributed(&srs, &pk, &q, &trace, setup.clone(), request).expect("proves");
    verify(&srs, &vk, &proof).expect("verifies natively");
    let instances = instances_to_u256(&proof.instances);

    let verify_gas = rt
        .block_on(
            actors
                .other
                .verify_gas(d.verifier, &proof.instances, &proof.bytes),
        )
        .expect("anvil's verifier accepts the proof");

    // Tampered proof byte and tampered instance (a score) revert as InvalidProof.
    let mut bad_proof = proof.bytes.clone();
    bad_proof[100] ^= 1;
    let e = rt
        .block_on(actors.other.submit(d, &bad_proof, &instances))
        .expect_err("tampered proof");
    assert!(reverted_with(&e, "InvalidProof"), "{e}");
    let mut bad_instances = instances.clone();
    bad_instances[AttributionRows::score(0)] += U256::from(1);
    let e = rt
        .block_on(actors.other.submit(d, &proof.bytes, &bad_instances))
        .expect_err("tampered instance");
    assert!(reverted_with(&e, "InvalidProof"), "{e}");

    // A third party submits the proof: the prover it names is paid.
    let submitted = rt
        .block_on(actors.other.submit(d, &proof.bytes, &instances))
        .expect("the proof is accepted");
    assert_eq!(submitted.prover, actors.prover.address());
    assert_eq!(submitted.nonce, opened.nonce);
    let inner_verify_gas = rt
        .block_on(actors.other.inner_call_gas(submitted.tx_hash, d.verifier))
        .expect("anvil traces")
        .expect("submit called the verifier");
    let e = rt
        .block_on(actors.prover.submit(d, &proof.bytes, &instances))
        .expect_err("replay");
    assert!(reverted_with(&e, "AlreadyPaid"), "{e}");

    // The contract credits exactly the runtime's split of the proven top-k.
    let native = attribute(&q, &index, input, K).expect("native attribution");
    let top: Vec<(Address, i128)> = native
        .top
        .iter()
        .map(|a| (a.contributor, a.score))
        .collect();
    let shares = RewardShares::new(
        u32::from(SHARES[0]),
        u32::from(SHARES[1]),
        u32::from(SHARES[2]),
        u32::from(SHARES[3]),
    )
    .expect("shares");
    let expected = split(fee.to::<u128>(), &shares, &top).expect("split");
    let credited = |who: EvmAddress, role: &str| -> U256 {
        submitted
            .credits
            .iter()
            .filter(|c| c.account == who && c.role == role)
            .map(|c| c.amount)
            .sum()
    };
    assert_eq!(
        credited(actors.owner.address(), "owner"),
        U256::from(expected.owner)
    );
    assert_eq!(
        credited(actors.prover.address(), "prover"),
        U256::from(expected.prover)
    );
    assert_eq!(
        credited(d.treasury, "treasury"),
        U256::from(expected.treasury)
    );
    assert!(
        expected.dust > 0,
        "the odd fee leaves dust for the treasury"
    );
    for c in &expected.contributors {
        assert_eq!(
            credited(evm(&c.contributor), "contributor"),
            U256::from(c.amount),
            "{}",
            c.contributor
        );
    }

    // A second request for the same model and input, submitted before anyone claims: every
    // payee already holds a credit, so no balance slot is new; it credits the same split.
    let opened2 = rt
        .block_on(open_paid_request(&actors, &reg, fee))
        .expect("opens a second request");
    assert_ne!(opened2.nonce, opened.nonce);
    // The client computes the contract's domain-separated nonces (chain id, rewards address,
    // counter), and `nonceAt` agrees for any counter.
    assert_eq!(
        opened.nonce,
        request_nonce(d.chain_id, d.rewards, U256::from(1))
    );
    assert_eq!(
        opened2.nonce,
        request_nonce(d.chain_id, d.rewards, U256::from(2))
    );
    for counter in [U256::from(3), U256::from(u64::MAX), U256::MAX] {
        let on_chain = rt
            .block_on(actors.other.nonce_at(d, counter))
            .expect("nonceAt");
        assert_eq!(on_chain, request_nonce(d.chain_id, d.rewards, counter));
    }
    assert_ne!(
        request_nonce(d.chain_id + 1, d.rewards, U256::from(1)),
        opened.nonce
    );
    let request2 = Request {
        nonce: u256_to_fr(opened2.nonce).expect("nonce below r"),
        prover,
    };
    let proof2 = prove_attributed(&srs, &pk, &q, &trace, setup, request2).expect("proves");
    let e = rt
        .block_on(
            actors
                .prover
                .submit(d, &proof.bytes, &instances_to_u256(&proof2.instances)),
        )
        .expect_err("the first proof under the second nonce");
    assert!(reverted_with(&e, "InvalidProof"), "{e}");
    let again = rt
        .block_on(
            actors
                .prover
                .submit(d, &proof2.bytes, &instances_to_u256(&proof2.instances)),
        )
        .expect("the second proof is accepted");
    let credit_amounts = |s: &poa_contracts::chain::Submitted| -> Vec<(EvmAddress, U256)> {
        s.credits.iter().map(|c| (c.account, c.amount)).collect()
    };
    assert_eq!(credit_amounts(&again), credit_amounts(&submitted));

    // Every payee claims; the contract ends empty and both fees are exactly paid out.
    let mut payees = vec![actors.owner.address(), actors.prover.address(), d.treasury];
    payees.extend(expected.contributors.iter().map(|c| evm(&c.contributor)));
    let before: Vec<U256> = payees
        .iter()
        .map(|&p| rt.block_on(actors.other.balance(d, p)).expect("balance"))
        .collect();
    let claims = rt
        .block_on(claim_all(&actors, d, &payees))
        .expect("every payee claims");
    let total: U256 = claims.iter().map(|c| c.amount).sum();
    assert_eq!(total, fee * U256::from(2));
    for (p, b) in payees.iter().zip(&before) {
        let after = rt.block_on(actors.other.balance(d, *p)).expect("balance");
        let got = claims
            .iter()
            .find(|c| c.account == *p)
            .map_or(U256::ZERO, |c| c.amount);
        assert_eq!(after - *b, got, "{p}");
    }
    assert_eq!(
        rt.block_on(actors.other.balance(d, d.rewards))
            .expect("balance"),
        U256::ZERO
    );
    assert!(claims.iter().any(|c| c.impersonated));

    // An expired request is refunded to its requester, once; before its deadline it is not.
    let opened3 = rt
        .block_on(open_paid_request_with(&actors, &reg, fee, U256::ZERO, 60))
        .expect("opens a third request");
    let e = rt
        .block_on(actors.requester.refund(d, opened3.nonce))
        .expect_err("not expired yet");
    assert!(reverted_with(&e, "NotExpired"), "{e}");
    rt.block_on(actors.other.advance_time(61))
        .expect("time passes");
    let (refunded, refund_gas) = rt
        .block_on(actors.requester.refund(d, opened3.nonce))
        .expect("refunds after the deadline");
    assert_eq!(refunded, fee);
    let e = rt
        .block_on(actors.requester.refund(d, opened3.nonce))
        .expect_err("refunded twice");
    assert!(reverted_with(&e, "AlreadyRefunded"), "{e}");
    println!("refund gas on anvil: {refund_gas}");

    println!(
        "gas on anvil: deploy token {} datanets {} models {} verifier {} rewards {}; \
         createDatanet {} seal {} register {}; approve {} openRequest {}; \
         verifier call inside submit {inner_verify_gas} (as its own transaction {verify_gas}); \
         submit (k={K}, new payees) {}; submit (payees holding credits) {}; claims {:?}",
        d.gas.token,
        d.gas.datanets,
        d.gas.models,
        d.gas.verifier,
        d.gas.rewards,
        reg.gas.create_datanet,
        reg.gas.seal_version,
        reg.gas.register_model,
        opened.approve_gas,
        opened.open_gas,
        submitted.gas,
        again.gas,
        claims.iter().map(|c| c.gas).collect::<Vec<_>>()
    );
}
