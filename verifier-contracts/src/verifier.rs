//! The Solidity verifier of a verifying key: snark-verifier's PLONK verifier for our SHPLONK +
//! Keccak transcript, traced through its EVM loader into Yul-in-Solidity.

use std::rc::Rc;

use halo2_proofs::poly::commitment::ParamsProver;
use halo2curves::bn256::{Fq, Fr, G1Affine};
use poa_prover::{Srs, VerifyingKey};
use snark_verifier_sdk::snark_verifier::loader::evm::EvmLoader;
use snark_verifier_sdk::snark_verifier::pcs::kzg::KzgDecidingKey;
use snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::EvmTranscript;
use snark_verifier_sdk::snark_verifier::system::halo2::{compile, Config};
use snark_verifier_sdk::snark_verifier::verifier::SnarkVerifier;
use snark_verifier_sdk::{PlonkVerifier, SHPLONK};

/// Solidity source of the verifier for `vk` (made with `srs`, whose `k` it must have).
/// Both layouts' keys serve: the generator reads the constraint system from the vk.
pub fn solidity_verifier(srs: &Srs, vk: &VerifyingKey) -> String {
    let instances = vk.id().instances;
    let params = srs.params();
    let protocol = compile(
        params,
        vk.halo2(),
        Config::kzg().with_num_instance(vec![instances]),
    );
    let dk: KzgDecidingKey<halo2curves::bn256::Bn256> =
        (params.get_g()[0], params.g2(), params.s_g2()).into();
    let loader = EvmLoader::new::<Fq, Fr>();
    let protocol = protocol.loaded(&loader);
    let mut transcript = EvmTranscript::<G1Affine, Rc<EvmLoader>, _, _>::new(&loader);
    let instances = transcript.load_instances(vec![instances]);
    // Tracing a verifier over symbolic values cannot fail for a protocol compiled from a vk.
    #[allow(clippy::expect_used)]
    let proof = PlonkVerifier::<SHPLONK>::read_proof(&dk, &protocol, &instances, &mut transcript)
        .expect("symbolic proof read");
    #[allow(clippy::expect_used)]
    PlonkVerifier::<SHPLONK>::verify(&dk, &protocol, &instances, &proof).expect("symbolic verify");
    loader.solidity_code()
}
