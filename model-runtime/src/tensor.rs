//! Integer tensors (row-major) and shape helpers.

use serde::{Deserialize, Serialize};

/// A dense row-major integer tensor. Values are fixed-point integers; their scale lives in the
/// model's tensor metadata, not here, so a trace is just numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values in row-major order.
    pub data: Vec<i64>,
}

impl Tensor {
    /// Builds a tensor; `data.len()` must equal the shape's element count.
    pub fn new(shape: Vec<usize>, data: Vec<i64>) -> Self {
        debug_assert_eq!(
            numel(&shape),
            data.len(),
            "tensor data does not match shape"
        );
        Self { shape, data }
    }

    /// A tensor of zeros.
    pub fn zeros(shape: Vec<usize>) -> Self {
        let n = numel(&shape);
        Self {
            shape,
            data: vec![0; n],
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the tensor holds no values.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Largest absolute value (0 for an empty tensor).
    pub fn max_abs(&self) -> i64 {
        self.data
            .iter()
            .map(|v| v.saturating_abs())
            .max()
            .unwrap_or(0)
    }
}

/// Element count of a shape.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides of a shape.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Maps a flat index of `out_shape` to the flat index of a tensor of `in_shape` broadcast to it
/// (numpy rules: shapes right-aligned, size-1 dimensions repeat).
pub fn broadcast_index(flat: usize, out_shape: &[usize], in_shape: &[usize]) -> usize {
    let out_strides = strides(out_shape);
    let in_strides = strides(in_shape);
    let offset = out_shape.len() - in_shape.len();
    let mut idx = 0;
    for (d, &dim) in in_shape.iter().enumerate() {
        let coord = (flat / out_strides[d + offset]) % out_shape[d + offset];
        if dim != 1 {
            idx += coord * in_strides[d];
        }
    }
    idx
}

/// True when `small` broadcasts to `big` under numpy rules without changing `big`.
pub fn broadcasts_to(small: &[usize], big: &[usize]) -> bool {
    small.len() <= big.len()
        && small
            .iter()
            .rev()
            .zip(big.iter().rev())
            .all(|(&s, &b)| s == b || s == 1)
}
