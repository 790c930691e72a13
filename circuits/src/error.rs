//! Errors of circuit construction and witness assignment.

use thiserror::Error;

/// Why a [`crate::ModelCircuit`] could not be built or assigned.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CircuitError {
    /// The model uses an op this circuit has no chip for yet.
    #[error(
        "layer `{layer}` (node {node}) uses op {op}, which the circuit does not support yet \
         (supported: {supported}); remove it from the model or wait for its chip"
    )]
    UnsupportedOp {
        /// Op kind ([`poa_runtime::ops::Op::kind`]).
        op: &'static str,
        /// Layer name.
        layer: String,
        /// Node index in the model.
        node: usize,
        /// The ops that are supported.
        supported: String,
    },
    /// A supported op in a shape or configuration the chips cannot lay out.
    #[error("layer `{layer}`: {reason}")]
    UnsupportedShape {
        /// Layer name.
        layer: String,
        /// What does not fit.
        reason: String,
    },
    /// The trace does not belong to the model, or a tensor differs from what the model computes.
    #[error(
        "trace does not match the model at {what}: {reason}; re-run the model to get its trace"
    )]
    TraceMismatch {
        /// Which tensor or layer.
        what: String,
        /// What differs.
        reason: String,
    },
    /// A value needs more bits than the range-check chip handles.
    #[error("layer `{layer}`: range check of {bits} bits exceeds the chip's limit of {limit}")]
    RangeTooWide {
        /// Layer name.
        layer: String,
        /// Bits requested.
        bits: u32,
        /// The chip's limit.
        limit: u32,
    },
    /// The model cannot be proved with `hashed` weights.
    #[error("hashed weights: {reason}")]
    HashedWeights {
        /// What is wrong and what to do.
        reason: String,
    },
    /// The attribution part cannot be built: index of another model, bad k, malformed index.
    #[error("attribution: {reason}")]
    Attribution {
        /// What is wrong.
        reason: String,
    },
}
