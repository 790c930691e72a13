//! The public-instance layout — defined here and nowhere else.
//!
//! Version [`INSTANCE_LAYOUT_VERSION`]: one instance column. An attribution proof starts with
//! the attribution header ([`AttributionRows`], `7 + 2k` rows):
//!
//! | row | value |
//! |---|---|
//! | 0 | model id ([`crate::attribution::model_id`]) |
//! | 1 | adapter id (0: the base model); with `hashed` weights the weights commitment |
//! | 2 | input commitment ([`crate::commit::input_commitment`]) for `hashed` inputs, else 0 |
//! | 3 | predicted class ŷ |
//! | 4 | index root ([`crate::commit::index_root`]) |
//! | 5 | request nonce |
//! | 6 | prover address (20 bytes as a big-endian integer) |
//! | 7 + 2t, 8 + 2t | contributor address and score of the t-th highest score, t < k |
//!
//! Then (every proof, the whole layout of an inference-only proof):
//! 0. with `hashed` weights and no attribution header, the weights commitment
//!    ([`crate::weights::weights_commitment`]);
//! 1. the input part, by [`InputVisibility`]: `public` — the quantized input values (row-major,
//!    `model.input()` shape); `hashed` — one element, the input commitment (in the header's row
//!    2 instead, for attribution proofs); `private` — nothing;
//! 2. the output values (row-major; class indices for a model ending in ArgMax).
//!
//! Values are signed integers encoded with [`crate::field::fe`].

use halo2curves::bn256::Fr;
use poa_runtime::{QModel, Trace};

use crate::commit::input_commitment;
use crate::field::fe;
use crate::visibility::{InputVisibility, Visibility, WeightVisibility};
use crate::weights::weights_commitment;

/// Version of the instance layout; bump on any change to what is public or its order.
/// (2: the input part depends on the input visibility; 3: the attribution header.)
pub const INSTANCE_LAYOUT_VERSION: u32 = 3;

/// Rows of the attribution header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttributionRows {
    /// Entries published.
    pub k: usize,
}

impl AttributionRows {
    /// Model id row.
    pub const MODEL_ID: usize = 0;
    /// Adapter id row.
    pub const ADAPTER_ID: usize = 1;
    /// Input commitment row.
    pub const INPUT_COMMITMENT: usize = 2;
    /// Predicted class row.
    pub const CLASS: usize = 3;
    /// Index root row.
    pub const INDEX_ROOT: usize = 4;
    /// Request nonce row.
    pub const NONCE: usize = 5;
    /// Prover address row.
    pub const PROVER: usize = 6;

    /// Row of the t-th published contributor.
    pub fn contributor(t: usize) -> usize {
        7 + 2 * t
    }

    /// Row of the t-th published score.
    pub fn score(t: usize) -> usize {
        8 + 2 * t
    }

    /// Rows of the header.
    pub fn len(&self) -> usize {
        7 + 2 * self.k
    }

    /// Never empty (the fixed fields are always there).
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Row ranges of each public part inside the single instance column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceLayout {
    /// The attribution header (attribution proofs).
    pub attribution: Option<AttributionRows>,
    /// Row of the weights commitment (`hashed` weights): the header's adapter id row, or row 0
    /// of an inference proof.
    pub weights_commitment: Option<usize>,
    /// Rows of the quantized input (`public` inputs; empty otherwise).
    pub input: std::ops::Range<usize>,
    /// Row of the input commitment (`hashed` inputs).
    pub input_commitment: Option<usize>,
    /// Rows of the output.
    pub output: std::ops::Range<usize>,
}

impl InstanceLayout {
    /// The layout of an inference proof for a model under `vis`.
    pub fn of(model: &QModel, vis: &Visibility) -> Self {
        Self::build(model, vis, None)
    }

    /// The layout of an attribution proof publishing `k` entries.
    pub fn attributed(model: &QModel, vis: &Visibility, k: usize) -> Self {
        Self::build(model, vis, Some(AttributionRows { k }))
    }

    fn build(model: &QModel, vis: &Visibility, attribution: Option<AttributionRows>) -> Self {
        let n_in: usize = model.input().shape.iter().product();
        let n_out: usize = model.output_info().shape.iter().product();
        let hashed_weights = vis.weights == WeightVisibility::Hashed;
        let weights_commitment = Self::weights_commitment_row(vis, attribution.is_some());
        let h = match attribution {
            Some(a) => a.len(),
            None => usize::from(hashed_weights),
        };
        let (input, input_commitment, start) = match (vis.input, attribution) {
            (InputVisibility::Public, _) => (h..h + n_in, None, h + n_in),
            (InputVisibility::Hashed, None) => (h..h, Some(h), h + 1),
            (InputVisibility::Hashed, Some(_)) => {
                (h..h, Some(AttributionRows::INPUT_COMMITMENT), h)
            }
            (InputVisibility::Private, _) => (h..h, None, h),
        };
        Self {
            attribution,
            weights_commitment,
            input,
            input_commitment,
            output: start..start + n_out,
        }
    }

    /// Row of the weights commitment under `vis`: none with fixed weights; with hashed ones the
    /// header's adapter id row (`attributed`) or a first row of its own.
    pub fn weights_commitment_row(vis: &Visibility, attributed: bool) -> Option<usize> {
        match (vis.weights, attributed) {
            (WeightVisibility::Fixed, _) => None,
            (WeightVisibility::Hashed, true) => Some(AttributionRows::ADAPTER_ID),
            (WeightVisibility::Hashed, false) => Some(0),
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
    let mut out: Vec<Fr> = match vis.weights {
        WeightVisibility::Hashed => vec![weights_commitment(model)],
        WeightVisibility::Fixed => Vec::new(),
    };
    match vis.input {
        InputVisibility::Public => out.extend(input.iter().map(|&v| fe(v))),
        InputVisibility::Hashed => out.push(input_commitment(model, input)),
        InputVisibility::Private => {}
    }
    out.extend(trace.output().data.iter().map(|&v| fe(v)));
    debug_assert_eq!(InstanceLayout::of(model, vis).len(), out.len());
    out
}
