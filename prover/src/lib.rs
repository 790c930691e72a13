//! # poa-prover
//!
//! Turns a [`poa_runtime::Trace`] into a succinct proof and checks it: SRS loading (ceremony
//! files) and the insecure dev SRS ([`srs`]), key generation ([`keygen()`]), SHPLONK proving over
//! a Keccak transcript the EVM verifier can check ([`prove()`], [`transcript`]), native
//! verification ([`verify()`]), and the versioned, checksummed artifact files ([`header`],
//! [`artifact`]). Every key, SRS and proof knows its circuit ([`digest::CircuitId`]) and whether it
//! came from the dev SRS, so mismatched artifacts fail with an error naming the mismatch.
//!
//! This crate knows nothing of HTTP or chains.

#![deny(missing_docs)]

pub mod artifact;
pub mod codec;
pub mod dense;
mod dev_srs;
pub mod digest;
pub mod error;
pub mod header;
pub mod keygen;
pub mod narrow;
pub mod prove;
pub mod srs;
pub mod transcript;
pub mod verify;

pub use dense::{
    dense_size, dense_size_attributed, keygen_dense, keygen_dense_attributed, DenseSize,
};
pub use digest::CircuitId;
pub use error::{ProverError, Result};
pub use keygen::{keygen, keygen_circuit, ProvingKey, VerifyingKey};
pub use narrow::{keygen_narrow, narrow_size, NarrowSize};
pub use prove::{prove, prove_attributed, prove_circuit, prove_with_rng, Proof};
pub use srs::Srs;
pub use verify::verify;

/// Reads a whole file, naming it in the error.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| ProverError::Io {
        path: path.display().to_string(),
        source,
    })
}
