//! The float graph: what ONNX import produces and quantization consumes. Parameters are real
//! numbers; BatchNormalization, Gemm's alpha/beta and MatMul + bias are already folded away.

use serde::{Deserialize, Serialize};

use crate::ops::{TableFn, Window};

/// A dense row-major float tensor (weights and constants).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FTensor {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

/// One float op. Shapes are resolved during quantization, where they are known.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FOp {
    /// `Y = X · Wᵀ + b`, weight `[n, k]`.
    Gemm {
        /// Weights `[n, k]`.
        weight: FTensor,
        /// Bias `[n]`.
        bias: Vec<f32>,
    },
    /// 2-D convolution, weight `[c_out, c_in, kh, kw]`.
    Conv {
        /// Weights.
        weight: FTensor,
        /// Bias `[c_out]`.
        bias: Vec<f32>,
        /// Stride and pads.
        window: Window,
    },
    /// `max(0, x)`.
    Relu,
    /// Element-wise sum of two tensors of one shape.
    Add,
    /// `x + c`, `c` broadcast.
    AddConst(FTensor),
    /// `x · c`, `c` broadcast.
    MulConst(FTensor),
    /// Flatten to 2-D at `axis`.
    Flatten {
        /// First axis of the second dimension.
        axis: usize,
    },
    /// ONNX Reshape spec (`0` copies a dimension, `-1` infers one).
    Reshape(Vec<i64>),
    /// Max pooling.
    MaxPool(Window),
    /// Average pooling (pads count as zeros in the average).
    AvgPool(Window),
    /// Average over each whole channel plane.
    GlobalAvgPool,
    /// Sigmoid or Tanh.
    Activation(TableFn),
    /// Index of the maximum along the last axis.
    ArgMax {
        /// ONNX axis (must resolve to the last axis).
        axis: i64,
        /// Keep the reduced axis.
        keepdims: bool,
    },
}

/// One float node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FNode {
    /// Layer name.
    pub name: String,
    /// The op.
    pub op: FOp,
    /// Input value names.
    pub inputs: Vec<String>,
    /// Output value name.
    pub output: String,
}

/// An imported model in float, topologically ordered, single input and output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatGraph {
    /// Model name.
    pub name: String,
    /// Input value name.
    pub input_name: String,
    /// Input shape, batch axis fixed to 1.
    pub input_shape: Vec<usize>,
    /// Nodes.
    pub nodes: Vec<FNode>,
    /// Output value name.
    pub output_name: String,
}
