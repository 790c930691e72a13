//! The public-instance layout — defined here and nowhere else.
//!
//! Version [`INSTANCE_LAYOUT_VERSION`]: one instance column holding, in order,
//! 1. the input part, by [`InputVisibility`]: `public` — the quantized input values (row-major,
//!    `model.input()` shape); `hashed` — one element, [`crate::commit::input_commitment`];
//!    `private` — nothing;
//! 2. the output values (row-major; class indices for a model ending in ArgMax).
//!
//! Values are signed integers encoded with [`crate::field::fe`].

use halo2curves::bn256::Fr;
use poa_runtime::{QModel, Trace};

use crate::commit::input_commitment;
use crate::field::fe;
use crate::visibility::{InputVisibility, Visibility};

/// Version of the instance layout; bump on any change to what is public or its order.
/// (2: the input part depends on the input visibility.)
pub const INSTANCE_LAYOUT_VERSION: u32 = 2;

/// Row ranges of each public part inside the single instance column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceLayout {
    /// Rows of the quantized input (`public` inputs; empty otherwise).
    pub input: std::ops::Range<usize>,
    /// Row of the input commitment (`hashed` inputs).
    pub input_commitment: Option<usize>,
    /// Rows of the output.
    pub output: std::ops::Range<usize>,
}

impl InstanceLayout {
    /// The layout for a model under `vis`.
    pub fn of(model: &QModel, vis: &Visibility) -> Self {
        let n_in: usize = model.input().shape.iter().product();
        let n_out: usize = model.output_info().shape.iter().product();
        let (input, input_commitment, start) = match vis.input {
            InputVisibility::Public => (0..n_in, None, n_in),
            InputVisibility::Hashed => (0..0, Some(0), 1),
            InputVisibility::Private => (0..0, None, 0),
        };
        Self {
            input,
            input_commitment,
            output: start..start + n_out,
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
pub fn public_instances(model: &QModel, trace: &Trace, vis: &Visibility) -> Vec<Fr> {
    let input = &trace.input().data;
    let mut out: Vec<Fr> = match vis.input {
        InputVisibility::Public => input.iter().map(|&v| fe(v)).collect(),
        InputVisibility::Hashed => vec![input_commitment(model, input)],
        InputVisibility::Private => Vec::new(),
    };
    out.extend(trace.output().data.iter().map(|&v| fe(v)));
    debug_assert_eq!(InstanceLayout::of(model, vis).len(), out.len());
    out
}
