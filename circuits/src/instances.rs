//! The public-instance layout — defined here and nowhere else.
//!
//! Version [`INSTANCE_LAYOUT_VERSION`]: one instance column holding, in order,
//! 1. the quantized input values (row-major, `model.input()` shape), then
//! 2. the output values (row-major; class indices for a model ending in ArgMax).
//!
//! Values are signed integers encoded with [`crate::field::fe`].

use halo2curves::bn256::Fr;
use poa_runtime::{QModel, Trace};

use crate::field::fe;

/// Version of the instance layout; bump on any change to what is public or its order.
pub const INSTANCE_LAYOUT_VERSION: u32 = 1;

/// Row ranges of each public part inside the single instance column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceLayout {
    /// Rows of the quantized input.
    pub input: std::ops::Range<usize>,
    /// Rows of the output.
    pub output: std::ops::Range<usize>,
}

impl InstanceLayout {
    /// The layout for a model.
    pub fn of(model: &QModel) -> Self {
        let n_in: usize = model.input().shape.iter().product();
        let n_out: usize = model.output_info().shape.iter().product();
        Self {
            input: 0..n_in,
            output: n_in..n_in + n_out,
        }
    }

    /// Total instance rows.
    pub fn len(&self) -> usize {
        self.output.end
    }

    /// True when nothing is public (never for a real model).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The public instances of one inference, in the layout above.
pub fn public_instances(model: &QModel, trace: &Trace) -> Vec<Fr> {
    debug_assert_eq!(
        InstanceLayout::of(model).len(),
        trace.input().len() + trace.output().len()
    );
    trace
        .input()
        .data
        .iter()
        .chain(&trace.output().data)
        .map(|&v| fe(v))
        .collect()
}
