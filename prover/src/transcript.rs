//! The Fiat–Shamir transcript of every proof: Keccak-256 in snark-verifier's EVM layout, so the
//! Solidity verifier generated from a verifying key checks the same bytes the native verifier
//! does. (halo2's Blake2b transcript would be cheaper natively but has no EVM verifier.)

use halo2curves::bn256::G1Affine;
use snark_verifier_sdk::snark_verifier::loader::native::NativeLoader;
use snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::{
    ChallengeEvm, EvmTranscript,
};

/// Transcript over stream `S` (a `Vec<u8>` when proving, a reader when verifying).
pub type Keccak<S> = EvmTranscript<G1Affine, NativeLoader, S, Vec<u8>>;

/// The challenge type that goes with [`Keccak`].
pub type Challenge = ChallengeEvm<G1Affine>;
