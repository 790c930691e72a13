//! The dense layout: the inference statement of [`crate::ModelCircuit`] in few columns and few
//! rows, for proofs that are both small and fast.
//!
//! The wide layout is fast because its weights sit in fixed columns (free for the prover) but
//! spends 19 advice and 24 fixed columns and 20 selectors, each a commitment or an evaluation
//! in the proof (6.5 KB); the narrow layout is small because it has one advice column, but
//! copies every weight into it (3 cells a MAC, so a large k). This layout keeps the weights as
//! fixed coefficients of one selector-free gate over five copyable lanes
//! ([`rows`]: `Σ w·x + f_a·acc + f_p·acc_prev + f_c + f_m·x₀·x₁ + f_r·r = 0`), so a Gemm row is
//! five MACs whose only advice is the inputs, and the proof has 7 advice columns, 11 fixed
//! columns and one lookup: a 1,858-byte proof file (its points compressed by
//! `poa_prover::codec`; 2,464 bytes as EVM calldata).
//!
//! Same statement, same public instances in the same order ([`crate::instances`]): the rows
//! are built from the [`Trace`] (never recomputed differently), every row's equation and every
//! public cell is checked natively before a proof is made. Supported: fixed weights, `public`
//! or `private` input, inference (no attribution), and the ops in [`DENSE_OPS`]. A model with a
//! Sigmoid or Tanh adds a tag column, the table's columns and one lookup ([`table`],
//! [`DenseParams`]); every other model keeps exactly the columns above.

mod ops;
mod rows;
pub mod table;

use halo2_proofs::plonk::ConstraintSystem;
use halo2curves::bn256::Fr;
use poa_runtime::{QModel, Trace};

use crate::error::CircuitError;
use crate::instances::public_instances;
use crate::model::check_trace;
use crate::narrow::zero_trace;
use crate::visibility::{InputVisibility, Visibility};

pub use ops::DENSE_OPS;
pub use rows::{DenseConfig, DenseParams, DenseRows, LANES, LIMB_BITS};

/// Largest k the dense layout will choose.
const MAX_K: u32 = 24;

/// A deliberate forgery for negative tests; never set outside tests. The witness is changed
/// during layout and the circuit's own public cells are published, so the test sees which
/// constraint rejects it rather than an instance mismatch.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenseTamper {
    /// The first Gemm/Conv output one more than its dot product.
    Product,
    /// The first DivRound's quotient one less, its remainder `d` more (out of range).
    Remainder,
    /// The first Relu's sign bit flipped.
    ReluSign,
    /// The predicted class one more (mod the classes).
    ClassOff,
    /// The first SumPool output one more than its window's sum.
    PoolSum,
    /// In the first MaxPool window whose taps differ, a tap below the maximum chosen.
    PoolChoice,
    /// The first AddConst or MulConst output one more.
    ConstOutput,
    /// The first table element's looked-up output one more.
    TableOutput,
    /// The first table element outside its domain looked up in the run next to the edge run.
    TableClamp,
    /// The sign bit of the first nonzero element of a mirrored table flipped, its output kept.
    TableMirror,
}

/// A dense-layout circuit ready for keygen, proving or `MockProver`.
#[derive(Clone, Debug)]
pub struct DenseCircuit {
    circuit: DenseRows,
    instances: Vec<Fr>,
    k: u32,
}

impl DenseCircuit {
    /// The circuit keys are made from: the layout of an all-zero input (rows and coefficients
    /// do not depend on the witness).
    pub fn keygen(model: &QModel, vis: Visibility) -> Result<Self, CircuitError> {
        let trace = zero_trace(model)?;
        Self::layout(model, &trace, vis, None)
    }

    /// The circuit of one run, for proving (or `MockProver`).
    pub fn prover(model: &QModel, trace: &Trace, vis: Visibility) -> Result<Self, CircuitError> {
        Self::layout(model, trace, vis, None)
    }

    /// A forged circuit for negative tests: `tamper` is applied while laying out and the
    /// circuit's own public cells are published.
    #[doc(hidden)]
    pub fn mock_tampered(
        model: &QModel,
        trace: &Trace,
        vis: Visibility,
        tamper: DenseTamper,
    ) -> Result<Self, CircuitError> {
        Self::layout(model, trace, vis, Some(tamper))
    }

    /// The halo2 circuit.
    pub fn circuit(&self) -> &DenseRows {
        &self.circuit
    }

    /// The public instances (natively computed; the layout's public cells equal them).
    pub fn instances(&self) -> &[Fr] {
        &self.instances
    }

    /// Circuit size exponent: the smallest that holds the rows, the range table and halo2's
    /// blinding rows.
    pub fn k(&self) -> u32 {
        self.k
    }

    /// Rows used (each one equation).
    pub fn rows(&self) -> usize {
        self.circuit.rows.len()
    }

    /// Rows of the activation-table lookup (0 for a model without tables).
    pub fn table_rows(&self) -> usize {
        if self.circuit.tables.is_empty() {
            0
        } else {
            table::table_rows(&self.circuit.tables)
        }
    }

    /// The halo2 circuit params (what a key of this circuit is read back with).
    pub fn params(&self) -> DenseParams {
        halo2_proofs::plonk::Circuit::params(&self.circuit)
    }

    fn layout(
        model: &QModel,
        trace: &Trace,
        vis: Visibility,
        tamper: Option<DenseTamper>,
    ) -> Result<Self, CircuitError> {
        supported(model, &vis)?;
        check_trace(model, trace)?;
        let native = public_instances(model, trace, &vis);
        let (lay, cells) = ops::assign_run(model, trace, tamper)?;
        let mut public = Vec::new();
        if vis.input == InputVisibility::Public {
            public.extend(cells[0].iter().copied());
        }
        public.extend(cells[model.output].iter().copied());
        let values: Vec<Fr> = public.iter().map(|c| c.value).collect();
        let rows = lay.rows;
        let tables = lay.tables;
        if tamper.is_none() {
            // Both are computed here from the trace; a difference is a bug in this layout.
            let bad = |reason: String| CircuitError::TraceMismatch {
                what: "dense layout".into(),
                reason,
            };
            if values != native {
                return Err(bad(
                    "the public cells differ from the native instances".into()
                ));
            }
            if let Some(i) = (0..rows.len()).find(|&i| rows.residual(i) != Fr::zero()) {
                return Err(bad(format!("row {i}'s equation does not hold")));
            }
        }
        let k = size(rows.len(), values.len(), &tables)?;
        Ok(Self {
            circuit: DenseRows {
                rows,
                public,
                tables,
            },
            instances: values,
            k,
        })
    }
}

/// The smallest k whose usable rows (2^k minus halo2's blinding rows) hold `rows`, the 256-row
/// range table, the activation `tables` and the `instances`.
fn size(rows: usize, instances: usize, tables: &[table::Runs]) -> Result<u32, CircuitError> {
    let mut cs = ConstraintSystem::<Fr>::default();
    let params = DenseParams {
        tables: !tables.is_empty(),
    };
    DenseConfig::configure(&mut cs, params);
    let reserved = cs.minimum_rows();
    let table_rows = if params.tables {
        table::table_rows(tables)
    } else {
        0
    };
    let need = rows.max(1 << LIMB_BITS).max(instances).max(table_rows);
    (1..=MAX_K)
        .find(|&k| (1usize << k) >= need + reserved)
        .ok_or_else(|| CircuitError::UnsupportedShape {
            layer: "dense layout".into(),
            reason: format!("{rows} rows need more than 2^{MAX_K}"),
        })
}

/// Refuses what the dense layout does not lay out, naming it and the way out.
fn supported(model: &QModel, vis: &Visibility) -> Result<(), CircuitError> {
    crate::vertical::check_visibility(vis, "dense")?;
    ops::check_ops(model)
}
