//! Which of the three circuit layouts proves a model: the trade between proving time, proof size and what a
//! verifier (above all a contract) pays.

use std::fmt;
use std::str::FromStr;

use crate::visibility::named;

/// How a model's statement is laid out in columns. All prove the same statement with the same
/// public instances; they differ in cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Layout {
    /// [`crate::ModelCircuit`]: 16 multiply-accumulate lanes a row, ~20 advice columns. Small k
    /// and the fastest proofs; its Solidity verifier is too large for EIP-170.
    #[default]
    Wide,
    /// [`crate::NarrowCircuit`]: one advice column. ~3 rows a MAC, so larger k and slower
    /// proofs, but a ~1.4 KB proof and a ~16 KB, ~0.3 M-gas verifier contract. Fixed weights,
    /// public or private input, fixed index, and the ops in [`crate::narrow::NARROW_OPS`]. At a
    /// k below its one-column size ([`crate::NarrowCircuit::keygen`]) the same cells take more
    /// columns: faster proving, longer proofs, a larger verifier.
    Narrow,
    /// [`crate::DenseCircuit`]: one selector-free gate over five lanes with the weights as
    /// fixed coefficients, so five MACs a row with only the inputs as advice: a small k and a
    /// ~1.9 KB proof (points compressed). Inference only, fixed weights, a public, private or
    /// hashed input, the ops in [`crate::dense::DENSE_OPS`].
    Dense,
}

impl Layout {
    /// Every layout, in the order the CLI lists them.
    pub const ALL: [Self; 3] = [Self::Wide, Self::Narrow, Self::Dense];

    /// Its name on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wide => "wide",
            Self::Narrow => "narrow",
            Self::Dense => "dense",
        }
    }
}

named!(Layout, "layout", "wide, narrow or dense");
