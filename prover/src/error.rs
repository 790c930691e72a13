//! Errors of SRS loading, keygen, proving, verification and artifact files.

use thiserror::Error;

/// Why a prover operation failed. Every message names the file kind or value at fault and, where
/// there is one, what to do next.
#[derive(Debug, Error)]
pub enum ProverError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the magic bytes of the expected artifact kind.
    #[error("not an OpenPoA {what} file: magic {found:?}, expected {expected:?}")]
    BadMagic {
        /// Expected artifact kind (`SRS`, `proving key`, `verifying key`).
        what: &'static str,
        /// Magic expected.
        expected: String,
        /// First bytes found (lossy text).
        found: String,
    },
    /// The artifact was written by another format version.
    #[error("{what} file format version {found}; this build reads version {supported}: regenerate it with `poa setup`")]
    UnsupportedVersion {
        /// Artifact kind.
        what: &'static str,
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// Flag bits this build does not know.
    #[error("{what} file has unknown flag bits {flags:#x}; it was written by a newer poa")]
    UnknownFlags {
        /// Artifact kind.
        what: &'static str,
        /// The flags.
        flags: u32,
    },
    /// The file is shorter or longer than its header (or the format) says.
    #[error("{what} file is {found} bytes, expected {expected}: truncated or appended to")]
    Length {
        /// Artifact kind.
        what: &'static str,
        /// Expected length in bytes.
        expected: u64,
        /// Actual length in bytes.
        found: u64,
    },
    /// The SHA-256 over header and payload does not match: the file was corrupted or edited.
    #[error("{what} file checksum mismatch (SHA-256 of header and payload differs): the file is corrupted; regenerate it")]
    Checksum {
        /// Artifact kind.
        what: &'static str,
    },
    /// The payload passed its checksum but halo2 could not decode it.
    #[error("{what} payload does not decode: {reason}")]
    Decode {
        /// Artifact kind.
        what: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// The SRS has fewer powers than the circuit needs.
    #[error("SRS too small: it has k={have_k} (2^{have_k} points), the circuit needs k={need_k}; use a larger ceremony file")]
    SrsTooSmall {
        /// k of the SRS.
        have_k: u32,
        /// k the circuit needs.
        need_k: u32,
    },
    /// Two artifacts were made for different `k`.
    #[error(
        "{what} is for k={found}, expected k={expected}: the artifacts come from different setups"
    )]
    KMismatch {
        /// Which artifact.
        what: &'static str,
        /// Expected k.
        expected: u32,
        /// k found.
        found: u32,
    },
    /// An artifact belongs to another model (model digests differ).
    #[error(
        "{what} is for model {found}, expected model {expected}: run `poa setup` for this model"
    )]
    ModelMismatch {
        /// Which artifact.
        what: &'static str,
        /// Expected model digest (hex).
        expected: String,
        /// Model digest found (hex).
        found: String,
    },
    /// An artifact belongs to another circuit (same model, different k/layout/config).
    #[error("{what} is for circuit {found}, expected circuit {expected}: the artifacts come from different setups or poa versions")]
    CircuitMismatch {
        /// Which artifact.
        what: &'static str,
        /// Expected circuit digest (hex).
        expected: String,
        /// Circuit digest found (hex).
        found: String,
    },
    /// One artifact was made with the insecure dev SRS and another one was not.
    #[error("{what} says insecure_srs={found}, but the verifying key says {expected}: artifacts from different setups")]
    InsecureMismatch {
        /// Which artifact.
        what: &'static str,
        /// The verifying key's flag.
        expected: bool,
        /// The flag found.
        found: bool,
    },
    /// Wrong number of public instances.
    #[error("proof has {found} public instances, the circuit has {expected}")]
    InstanceCount {
        /// Instances the circuit has.
        expected: usize,
        /// Instances given.
        found: usize,
    },
    /// A public instance is not a canonical field element in 0x-hex.
    #[error(
        "public instance {index} `{value}` is not a 32-byte 0x-hex BN254 scalar below the modulus"
    )]
    InvalidInstance {
        /// Position.
        index: usize,
        /// The text.
        value: String,
    },
    /// The proof JSON is malformed.
    #[error("proof file: {reason}")]
    ProofFormat {
        /// What is wrong.
        reason: String,
    },
    /// An attribution key used without its index and request, or the reverse.
    #[error("attribution: {reason}")]
    Attribution {
        /// What is wrong.
        reason: String,
    },
    /// The circuit could not be built or witnessed.
    #[error(transparent)]
    Circuit(#[from] poa_circuits::CircuitError),
    /// halo2 failed during keygen or proving.
    #[error("{stage} failed: {source}")]
    Halo2 {
        /// `keygen` or `proving`.
        stage: &'static str,
        /// halo2's error.
        #[source]
        source: halo2_proofs::plonk::Error,
    },
    /// The proof does not verify against the verifying key and its public instances.
    #[error("proof does not verify: {reason} (tampered proof or public instances, or a different setup)")]
    VerificationFailed {
        /// What the verifier reported.
        reason: String,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, ProverError>;
