//! The generated Solidity verifier, compiled with solcjs and run in revm, accepts the proofs
//! the native verifier accepts and rejects a tampered proof byte or public instance; and the
//! mainnet size rule is enforced (today's circuits are too wide for one contract).

use poa_circuits::{Fr, Visibility};
use poa_contracts::evm::{calldata, deploy_and_call, Limits};
use poa_contracts::verifier::solidity_verifier;
use poa_contracts::{solc, ContractsError, MAX_RUNTIME_BYTES};
use poa_fixtures::{compile, test_inputs};
use poa_prover::{keygen, prove, verify, Srs};

#[test]
fn inference_verifier_accepts_a_proof_and_rejects_tampering() {
    let q = compile("mlp_small");
    let vis = Visibility::default();
    let k = poa_circuits::circuit_stats(&q, &vis).expect("stats").k;
    let srs = Srs::dev(k);
    let pk = keygen(&q, &vis, &srs).expect("keygen");
    let vk = pk.verifying_key();
    let trace = q.run(&test_inputs()[0]).expect("runs");
    let proof = prove(&srs, &pk, &q, &trace).expect("proves");
    verify(&srs, &vk, &proof).expect("native");

    let sol = solidity_verifier(&srs, &vk);
    let c = solc::compile("Verifier.sol", &sol, "Halo2Verifier").expect("solcjs compiles");
    let good = calldata(&proof.instances, &proof.bytes);
    // Measured without the size limit: the verifier works, it is just too large to deploy.
    let gas = deploy_and_call(&c.bytecode, good.clone(), Limits::Unlimited)
        .expect("the EVM verifier accepts the proof");
    println!(
        "mlp_small verifier: runtime {} B (limit {MAX_RUNTIME_BYTES}), deploy {} gas, verify {} gas",
        c.runtime.len(),
        gas.deploy,
        gas.call
    );
    let mut bad = proof.bytes.clone();
    bad[100] ^= 1;
    let e = deploy_and_call(
        &c.bytecode,
        calldata(&proof.instances, &bad),
        Limits::Unlimited,
    )
    .expect_err("tampered proof");
    assert!(matches!(e, ContractsError::Rejected(_)), "{e}");
    let mut inst = proof.instances.clone();
    inst[0] += Fr::one();
    let e = deploy_and_call(
        &c.bytecode,
        calldata(&inst, &proof.bytes),
        Limits::Unlimited,
    )
    .expect_err("tampered instance");
    assert!(matches!(e, ContractsError::Rejected(_)), "{e}");
    // The same verifier on a real node: anvil (size limit lifted, as for revm above).
    let anvil = poa_contracts::anvil::Anvil::start(false).expect("anvil starts");
    let (address, deploy_gas) = anvil.deploy(&c.bytecode).expect("deploys on anvil");
    let anvil_gas = anvil
        .estimate_call(&address, &good)
        .expect("anvil's EVM accepts the proof");
    println!("on anvil: deploy {deploy_gas} gas, verify {anvil_gas} gas");
    let e = anvil
        .estimate_call(&address, &calldata(&proof.instances, &bad))
        .expect_err("anvil rejects the tampered proof");
    assert!(matches!(e, ContractsError::Rejected(_)), "{e}");
    drop(anvil);

    // Mainnet rules refuse the deployment while the runtime is over EIP-170's limit.
    if c.runtime.len() > MAX_RUNTIME_BYTES {
        let e = deploy_and_call(&c.bytecode, good, Limits::Mainnet).expect_err("too large");
        assert!(matches!(e, ContractsError::Deploy(_)), "{e}");
    }
}
