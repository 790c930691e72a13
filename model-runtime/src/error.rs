//! The one error type of the runtime crate.

use thiserror::Error;

/// Everything that can go wrong while importing, quantizing or running a model.
///
/// Messages name the thing at fault (node, layer, index) and, where there is one, what to do next.
#[derive(Debug, Error)]
pub enum RuntimeError {
    /// The bytes are not a parseable ONNX `ModelProto`.
    #[error("malformed ONNX model: {0}")]
    MalformedOnnx(String),
    /// The model uses an operator (or operator domain) the runtime cannot map.
    #[error(
        "unsupported ONNX op `{op}` (domain `{domain}`) at node `{node}`; supported ops: {supported}"
    )]
    UnsupportedOp {
        /// Operator type as written in the model.
        op: String,
        /// Operator domain ("" is the default ONNX domain).
        domain: String,
        /// Node name (or a generated `#index` when the node has none).
        node: String,
        /// Comma-separated list of supported ops.
        supported: String,
    },
    /// A supported op uses an attribute value the runtime does not implement.
    #[error("unsupported attribute on node `{node}` ({op}): {detail}")]
    UnsupportedAttribute {
        /// Node name.
        node: String,
        /// Operator type.
        op: String,
        /// What is wrong and which values are supported.
        detail: String,
    },
    /// The graph is structurally invalid (missing tensor, bad initializer, shape clash).
    #[error("invalid model graph at node `{node}`: {detail}")]
    InvalidGraph {
        /// Node name, or `graph` for graph-level problems.
        node: String,
        /// What is wrong.
        detail: String,
    },
    /// An input has the wrong number of values.
    #[error(
        "wrong input shape: model `{model}` expects {expected} values (shape {shape:?}), got {got}"
    )]
    InputShape {
        /// Model name.
        model: String,
        /// Number of values expected.
        expected: usize,
        /// Expected tensor shape.
        shape: Vec<usize>,
        /// Number of values given.
        got: usize,
    },
    /// An input value is NaN or infinite.
    #[error("input value at index {index} is not a finite number ({value})")]
    NonFiniteInput {
        /// Flat index into the input.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// An input value is outside the range the model was calibrated and bounded for.
    #[error(
        "input value {value} at index {index} is outside the calibrated input range [-{range}, {range}]; recompile with a wider --input-range"
    )]
    InputOutOfRange {
        /// Flat index into the input.
        index: usize,
        /// The offending value.
        value: f64,
        /// The accepted magnitude.
        range: f64,
    },
    /// A tensor value escaped the static bound computed for its layer at import.
    #[error(
        "activation out of range in layer `{layer}`: |{value}| exceeds the layer bound {bound}"
    )]
    ActivationOutOfRange {
        /// Node that produced the tensor.
        layer: String,
        /// The offending value.
        value: i64,
        /// The static bound.
        bound: i64,
    },
    /// The static bound of a layer does not fit the integer width the runtime and circuit use.
    #[error(
        "layer `{layer}` can reach |{bound}|, which needs {bits_needed} bits, over the 2^{limit_bits} accumulator limit; use smaller scales or a narrower input range"
    )]
    AccumulatorOverflow {
        /// Node whose accumulator is too wide.
        layer: String,
        /// The bound (saturated at i128::MAX when even that overflowed).
        bound: i128,
        /// Bits the bound needs.
        bits_needed: u32,
        /// The limit in bits.
        limit_bits: u32,
    },
    /// Calibration found no scale meeting the requested accuracy.
    #[error("calibration failed: {0}")]
    Calibration(String),
    /// The float reference (tract) failed.
    #[error("float reference run failed: {0}")]
    Reference(String),
    /// An input or model file could not be parsed.
    #[error("invalid {what}: {detail}")]
    Format {
        /// What was being read (e.g. "input JSON").
        what: String,
        /// Parser message.
        detail: String,
    },
    /// Reading or writing a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Result alias for this crate.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

impl RuntimeError {
    /// Shorthand for [`RuntimeError::InvalidGraph`].
    pub fn graph(node: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::InvalidGraph {
            node: node.into(),
            detail: detail.into(),
        }
    }
}
