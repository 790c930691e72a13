//! The error type of the attribution module.

use thiserror::Error;

use crate::datanet::DatanetError;
use crate::error::RuntimeError;

/// Everything that can go wrong while building an index or attributing an output.
#[derive(Debug, Error)]
pub enum AttributionError {
    /// A datanet whose samples do not have the model's input length.
    #[error("datanet `{datanet}` takes samples of {datanet_len} values but model `{model}` takes inputs of {model_len}; index it with a model of the same input shape")]
    InputLength {
        /// Datanet id.
        datanet: String,
        /// Values per datanet sample.
        datanet_len: usize,
        /// Model name.
        model: String,
        /// Values per model input.
        model_len: usize,
    },
    /// Indexing a version that is still open (its contents, and so its root, may change).
    #[error("version {version} of datanet `{datanet}` is open; seal it before indexing (the index names the sealed root)")]
    VersionOpen {
        /// Datanet id.
        datanet: String,
        /// The open version.
        version: u32,
    },
    /// Running the model on one entry failed.
    #[error("entry #{entry}: {source}")]
    Entry {
        /// Index of the entry in the version.
        entry: usize,
        /// The runtime's error.
        source: RuntimeError,
    },
    /// Running the model on the query input failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A datanet error (unknown version, …).
    #[error(transparent)]
    Datanet(#[from] DatanetError),
    /// The index was built with another model (or another compilation of it).
    #[error("index was built for model {index} but this model is {model}; rebuild the index with `poa datanet index`")]
    ModelMismatch {
        /// The index's model digest.
        index: String,
        /// This model's digest.
        model: String,
    },
    /// The index is inconsistent (an entry's embedding has another dimension than the model's).
    #[error("malformed index: {0}")]
    MalformedIndex(String),
    /// `k` is 0 or larger than the number of entries.
    #[error("k = {k} is out of range: the index has {entries} entries (k must be 1..={entries})")]
    BadK {
        /// The k asked for.
        k: usize,
        /// Entries in the index.
        entries: usize,
    },
}

/// Result alias for the attribution module.
pub type Result<T, E = AttributionError> = std::result::Result<T, E>;
