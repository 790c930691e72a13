//! # poa-circuits
//!
//! Halo2 (halo2-axiom, KZG on BN254) circuits for OpenPoA: a quantized [`poa_runtime::QModel`]
//! laid out as one circuit whose witness is read from a [`poa_runtime::Trace`], so the circuit's
//! public outputs are bit-exact with the runtime.
//!
//! - [`chips`]: Gemm (also Conv and SumPool), DivRound, Relu, ArgMax (also MaxPool), affine
//!   (Add, AddConst, MulConst) and Table (Sigmoid, Tanh), plus the range-check chip they share;
//!   Reshape costs nothing (its output reuses its input's cells). Every runtime op is supported.
//! - [`model::ModelCircuit`]: the whole model; [`model::circuit_stats`] reports rows, columns and
//!   the `k` it needs.
//! - [`instances`]: the public-instance layout (quantized input, then output), defined once.
//! - [`field`]: the signed-integer ↔ field-element mapping.
//!
//! This crate knows nothing of files, HTTP or chains.

#![deny(missing_docs)]

pub mod attribution;
pub mod chips;
pub mod commit;
pub mod dense;
pub mod error;
pub mod field;
pub mod instances;
pub mod layout;
pub mod model;
pub mod narrow;
pub mod poseidon;
mod vertical;
pub mod visibility;
pub mod weights;

pub use attribution::{AttributionPublic, AttributionSetup, Request};
pub use dense::{DenseCircuit, DenseTamper};
pub use error::CircuitError;
pub use instances::{public_instances, AttributionRows, InstanceLayout, INSTANCE_LAYOUT_VERSION};
pub use layout::Layout;
pub use model::{circuit_stats, CircuitStats, ModelCircuit, Tamper, SUPPORTED_OPS};
pub use narrow::{NarrowCircuit, NarrowColumns, NarrowShape, Statement};
pub use visibility::{IndexVisibility, InputVisibility, Visibility, WeightVisibility};

/// The scalar field the circuits are defined over (BN254's `Fr`).
pub use halo2curves::bn256::Fr;
