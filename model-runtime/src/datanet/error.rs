//! The one error type of the datanet module.

use thiserror::Error;

use super::types::EntryRef;

/// Everything that can go wrong while creating, filling, sealing, storing or importing a datanet.
///
/// Validation failures of one contribution (the first block) are also what
/// [`super::ImportReport`] lists as the reason an entry was rejected.
#[derive(Debug, Error)]
pub enum DatanetError {
    /// A contributor or curator address is not `0x` followed by 40 hex digits.
    #[error("invalid address `{value}`: {reason} (expected 0x followed by 40 hex digits)")]
    InvalidAddress {
        /// The text given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The sample has the wrong number of values for this datanet.
    #[error("sample has {got} values but datanet `{datanet}` takes inputs of {expected} values")]
    SampleLength {
        /// Datanet id.
        datanet: String,
        /// The datanet's input length.
        expected: usize,
        /// Values in the sample.
        got: usize,
    },
    /// The label is not a class of this datanet.
    #[error("label {label} is out of range: datanet `{datanet}` has {classes} classes (labels 0..={max})", max = classes.saturating_sub(1))]
    LabelOutOfRange {
        /// Datanet id.
        datanet: String,
        /// The label given.
        label: u32,
        /// Number of classes.
        classes: u32,
    },
    /// A sample value is NaN or infinite.
    #[error("sample value at index {index} is not a finite number ({value})")]
    NonFiniteValue {
        /// Index into the sample.
        index: usize,
        /// The offending value.
        value: f32,
    },
    /// The same sample and label (same content hash) is already in the datanet.
    #[error("exact duplicate of {of} (same content hash)")]
    ExactDuplicate {
        /// The earlier contribution.
        of: EntryRef,
    },
    /// A sample equal to an earlier one after quantization to the datanet precision.
    #[error("near duplicate of {of} (same sample at 2^-{bits} precision)")]
    NearDuplicate {
        /// The earlier contribution.
        of: EntryRef,
        /// The precision in fractional bits ([`super::NEAR_DUPLICATE_BITS`]).
        bits: u32,
    },
    /// A contribution was aimed at a version that is already sealed.
    #[error("version {version} of datanet `{datanet}` is sealed (root {root}); contributions go to the open version {open}")]
    VersionSealed {
        /// Datanet id.
        datanet: String,
        /// The sealed version.
        version: u32,
        /// Its root (0x-hex).
        root: String,
        /// The version that is open now.
        open: u32,
    },
    /// The datanet has no such version.
    #[error("datanet `{datanet}` has no version {version} (versions 1..={latest})")]
    UnknownVersion {
        /// Datanet id.
        datanet: String,
        /// The version asked for.
        version: u32,
        /// The newest version.
        latest: u32,
    },
    /// Sealing a version that holds no contributions.
    #[error(
        "version {version} of datanet `{datanet}` has no contributions; add some before sealing"
    )]
    EmptyVersion {
        /// Datanet id.
        datanet: String,
        /// The open, empty version.
        version: u32,
    },
    /// The store has no datanet with this id.
    #[error(
        "no datanet `{id}` in {store}; `poa datanet create` or `poa datanet import` makes one"
    )]
    UnknownDatanet {
        /// The id asked for.
        id: String,
        /// Where the store looked (folder or database).
        store: String,
    },
    /// A datanet id that is not a slug (`[a-z0-9]` words joined by `-`).
    #[error("invalid datanet id `{0}`: use lowercase letters, digits and single dashes")]
    InvalidId(String),
    /// Creation parameters that cannot make a datanet (empty name, zero input length or classes).
    #[error("invalid datanet: {0}")]
    InvalidSpec(String),
    /// An import file (or other input document) is not what it should be.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being read (e.g. "datanet file digits.json").
        what: String,
        /// Parser message (with line and column for JSON).
        detail: String,
    },
    /// A stored datanet fails its own consistency checks (edited or damaged on disk).
    #[error("corrupt datanet store file {path}: {detail}")]
    Corrupt {
        /// The file.
        path: String,
        /// What does not add up.
        detail: String,
    },
    /// Reading or writing a store file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Result alias for the datanet module.
pub type Result<T, E = DatanetError> = std::result::Result<T, E>;

impl DatanetError {
    /// Whether this error is a duplicate rejection (exact or near).
    pub fn is_duplicate(&self) -> bool {
        matches!(
            self,
            Self::ExactDuplicate { .. } | Self::NearDuplicate { .. }
        )
    }

    /// The earlier contribution a duplicate rejection points at.
    pub fn duplicate_of(&self) -> Option<&EntryRef> {
        match self {
            Self::ExactDuplicate { of } | Self::NearDuplicate { of, .. } => Some(of),
            _ => None,
        }
    }
}
