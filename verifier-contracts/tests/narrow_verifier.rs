//! The narrow layout on the EVM: an attribution proof (mlp_small, top-8) verifies in revm under
//! mainnet rules — its Solidity verifier deploys within EIP-170's 24,576 bytes, which the wide
//! layout's cannot — and a tampered proof byte or public instance reverts, as natively.

use poa_circuits::{AttributionRows, AttributionSetup, Fr, IndexVisibility, Request};
use poa_circuits::{InputVisibility, Visibility};
use poa_contracts::evm::{calldata, deploy_and_call, Limits};
use poa_contracts::verifier::solidity_verifier;
use poa_contracts::{solc, ContractsError, MAX_RUNTIME_BYTES};
use poa_fixtures::{compile, run_index, test_inputs};
use poa_prover::{keygen_narrow, narrow_size, prove_attributed, verify, Proof, Srs, VerifyingKey};
use poa_runtime::datanet::Address;

#[test]
fn narrow_attribution_verifier_deploys_under_eip170_and_rejects_tampering() {
    let q = compile("mlp_small");
    let setup =
        AttributionSetup::new(&q, run_index(&q, 40), 8, IndexVisibility::Fixed).expect("setup");
    let request = Request {
        nonce: Fr::from(7),
        prover: Address([0x42; 20]),
    };
    // Private input: the header and the outputs are public, as the rewards contract needs.
    let vis = Visibility {
        input: InputVisibility::Private,
        ..Visibility::default()
    };
    let k = narrow_size(&q, vis, Some(&setup), None).expect("sizes").k;
    let srs = Srs::dev(k);
    let pk = keygen_narrow(&srs, &q, vis, Some(&setup), None).expect("keygen");
    // Through the files `poa setup` writes, as a prover and a verifier would load them.
    let vk = VerifyingKey::from_file_bytes(&pk.verifying_key().to_file_bytes()).expect("vk file");
    let trace = q.run(&test_inputs()[3]).expect("runs");
    let p = prove_attributed(&srs, &pk, &q, &trace, setup.clone(), request).expect("proves");
    verify(&srs, &vk, &p).expect("native");
    let (instances, proof) = (p.instances.clone(), p.bytes.clone());
    assert_eq!(instances.len(), AttributionRows { k: 8 }.len() + 10);

    let sol = solidity_verifier(&srs, &vk);
    let c = solc::compile("Verifier.sol", &sol, "Halo2Verifier").expect("solcjs compiles");
    assert!(
        c.runtime.len() <= MAX_RUNTIME_BYTES,
        "narrow verifier {} B",
        c.runtime.len()
    );
    let gas = deploy_and_call(&c.bytecode, calldata(&instances, &proof), Limits::Mainnet)
        .expect("deploys under mainnet rules and accepts the proof");
    println!(
        "narrow mlp_small top-8: k={k}, proof {} B, verifier runtime {} B (limit \
         {MAX_RUNTIME_BYTES}), deploy {} gas, verify {} gas",
        proof.len(),
        c.runtime.len(),
        gas.deploy,
        gas.call
    );

    let mut bad = proof.clone();
    bad[64] ^= 1;
    let native = |instances: &[Fr], bytes: &[u8]| {
        let p = Proof {
            instances: instances.to_vec(),
            bytes: bytes.to_vec(),
            ..p.clone()
        };
        verify(&srs, &vk, &p)
    };
    native(&instances, &bad).expect_err("native: tampered proof");
    let e = deploy_and_call(&c.bytecode, calldata(&instances, &bad), Limits::Mainnet)
        .expect_err("tampered proof");
    assert!(matches!(e, ContractsError::Rejected(_)), "{e}");
    let mut inst = instances.clone();
    inst[AttributionRows::score(0)] += Fr::one();
    native(&inst, &proof).expect_err("native: tampered instance");
    let e = deploy_and_call(&c.bytecode, calldata(&inst, &proof), Limits::Mainnet)
        .expect_err("tampered instance");
    assert!(matches!(e, ContractsError::Rejected(_)), "{e}");
}
