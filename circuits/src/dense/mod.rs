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
//! public cell is checked natively before a proof is made. Supported: fixed weights, a `public`,
//! `private` or `hashed` input (its commitment hashed in dense rows, `dense/poseidon.rs`), the
//! ops in [`DENSE_OPS`], and top-k attribution over a fixed index (`topk`). A model with a
//! Sigmoid or Tanh adds a tag column, the table's columns and one lookup ([`table`]); an
//! attribution circuit adds the entry table's columns and the slot lookup ([`DenseParams`]);
//! every other circuit keeps exactly the columns above.

mod ops;
mod poseidon;
mod rows;
pub mod table;
mod topk;

use halo2_proofs::plonk::ConstraintSystem;
use halo2curves::bn256::Fr;
use poa_runtime::{QModel, Trace};

use crate::attribution::attribution_instances;
use crate::commit::input_packing;
use crate::error::CircuitError;
use crate::instances::public_instances;
use crate::instances::AttributionRows;
use crate::model::check_trace;
use crate::narrow::{zero_trace, Statement};
use crate::visibility::{IndexVisibility, InputVisibility, Visibility};

pub use ops::DENSE_OPS;
#[doc(hidden)]
pub use poseidon::{DensePoseidon, PoseidonTamper};
pub use rows::{DenseConfig, DenseParams, DenseRows, LANES, LIMB_BITS, SLOT_LOOKUP};

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
    /// The first input value set to this one (outside its bound for the test to mean anything).
    Input(i64),
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
    /// Attribution: entry 0's dot product one more.
    AttrDot,
    /// Attribution: the first masked query value (indicator × embedding) one more.
    AttrMask,
    /// Attribution: the first unselected entry's selection bit set.
    ExtraSelected,
    /// Attribution: slot 0's score one more.
    SlotScore,
    /// Attribution: slot 0's contributor another address.
    SlotContributor,
    /// Attribution: slots 0 and 1 swapped.
    SlotsSwapped,
    /// Attribution: slot 1 a copy of slot 0.
    SlotDuplicated,
    /// Attribution: the last slot replaced by the (k+1)-th best entry (so τ is too low and
    /// the selection bits, set against it, count k + 1).
    SlotNotTop,
    /// Attribution: the last slot a phantom at index M − 1 with score 0 and contributor 0
    /// (its `w` is 0, the table value of every row off the entry table).
    PhantomSlot,
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
        Self::keygen_statement(model, vis, Statement::Inference)
    }

    /// [`Self::keygen`] of `statement` (attribution keys are made on the request given, which
    /// is witness, never layout).
    pub fn keygen_statement(
        model: &QModel,
        vis: Visibility,
        statement: Statement<'_>,
    ) -> Result<Self, CircuitError> {
        let trace = zero_trace(model)?;
        Self::layout(model, &trace, vis, statement, None)
    }

    /// The circuit of one run, for proving (or `MockProver`).
    pub fn prover(model: &QModel, trace: &Trace, vis: Visibility) -> Result<Self, CircuitError> {
        Self::layout(model, trace, vis, Statement::Inference, None)
    }

    /// The circuit of one run proving `statement` (inference, or inference and attribution).
    pub fn prover_statement(
        model: &QModel,
        trace: &Trace,
        vis: Visibility,
        statement: Statement<'_>,
    ) -> Result<Self, CircuitError> {
        Self::layout(model, trace, vis, statement, None)
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
        Self::layout(model, trace, vis, Statement::Inference, Some(tamper))
    }

    /// [`Self::mock_tampered`] of `statement`.
    #[doc(hidden)]
    pub fn mock_tampered_statement(
        model: &QModel,
        trace: &Trace,
        vis: Visibility,
        statement: Statement<'_>,
        tamper: DenseTamper,
    ) -> Result<Self, CircuitError> {
        Self::layout(model, trace, vis, statement, Some(tamper))
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
        self.circuit.params
    }

    fn layout(
        model: &QModel,
        trace: &Trace,
        vis: Visibility,
        statement: Statement<'_>,
        tamper: Option<DenseTamper>,
    ) -> Result<Self, CircuitError> {
        supported(model, &vis, &statement)?;
        check_trace(model, trace)?;
        let (mut lay, cells) = ops::assign_run(model, trace, tamper)?;
        // A hashed input's commitment: the input part of an inference proof, row 2 of an
        // attribution header.
        let commitment = (vis.input == InputVisibility::Hashed)
            .then(|| poseidon::input_commitment(&mut lay.rows, &input_packing(model), &cells[0]));
        let (native, mut public) = match statement {
            Statement::Inference => (public_instances(model, trace, &vis), Vec::new()),
            Statement::Attribution { setup, request } => {
                let wit = setup.witness(model, trace)?;
                let part = topk::Part {
                    model,
                    vis: &vis,
                    trace,
                    cells: &cells,
                    setup,
                    wit: &wit,
                    request: &request,
                    tamper,
                };
                let mut header = topk::assign(&mut lay, &part)?;
                if let Some(c) = commitment {
                    header[AttributionRows::INPUT_COMMITMENT] = c;
                }
                let native = attribution_instances(model, trace, &vis, setup, &wit, &request);
                (native, header)
            }
        };
        let params = DenseParams {
            tables: !lay.tables.is_empty(),
            attribution: matches!(statement, Statement::Attribution { .. }),
        };
        match (vis.input, commitment) {
            (InputVisibility::Public, _) => public.extend(cells[0].iter().copied()),
            (InputVisibility::Hashed, Some(c)) if !params.attribution => public.push(c),
            _ => {}
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
            if let Some(i) = (0..rows.len()).find(|&i| !rows.bit_holds(i)) {
                return Err(bad(format!("row {i}'s bit is not a bit")));
            }
            if params.attribution {
                let table: std::collections::HashSet<[u8; 32]> = (0..rows.len())
                    .map(|i| rows.table_value(i).to_bytes())
                    .collect();
                let missing = (0..rows.len()).find(|&i| {
                    rows.slot_value(i)
                        .is_some_and(|w| !table.contains(&w.to_bytes()))
                });
                if let Some(i) = missing {
                    return Err(bad(format!("slot row {i} is not in the entry table")));
                }
            }
        }
        if !params.attribution && rows.uses_attribution() {
            return Err(CircuitError::TraceMismatch {
                what: "dense layout".into(),
                reason: "an inference circuit uses attribution columns".into(),
            });
        }
        let (k, usable) = size(rows.len(), values.len(), &tables, params)?;
        Ok(Self {
            circuit: DenseRows {
                rows,
                public,
                tables,
                params,
                usable,
            },
            instances: values,
            k,
        })
    }
}

/// The smallest k whose usable rows (2^k minus halo2's blinding rows) hold `rows`, the 256-row
/// range table, the activation `tables` and the `instances`; and how many rows are usable at
/// that k.
fn size(
    rows: usize,
    instances: usize,
    tables: &[table::Runs],
    params: DenseParams,
) -> Result<(u32, usize), CircuitError> {
    let mut cs = ConstraintSystem::<Fr>::default();
    DenseConfig::configure(&mut cs, params);
    let reserved = cs.minimum_rows();
    let table_rows = if params.tables {
        table::table_rows(tables)
    } else {
        0
    };
    let need = rows.max(1 << LIMB_BITS).max(instances).max(table_rows);
    let k = (1..=MAX_K)
        .find(|&k| (1usize << k) >= need + reserved)
        .ok_or_else(|| CircuitError::UnsupportedShape {
            layer: "dense layout".into(),
            reason: format!("{rows} rows need more than 2^{MAX_K}"),
        })?;
    Ok((k, (1usize << k) - cs.blinding_factors() - 1))
}

/// Refuses what the dense layout does not lay out, naming it and the way out.
fn supported(
    model: &QModel,
    vis: &Visibility,
    statement: &Statement<'_>,
) -> Result<(), CircuitError> {
    // A hashed input is laid out here (Poseidon in dense rows); the check shared with the
    // narrow layout, which cannot hash, sees it as public.
    let shared = Visibility {
        input: match vis.input {
            InputVisibility::Hashed => InputVisibility::Public,
            other => other,
        },
        ..*vis
    };
    crate::vertical::check_visibility(&shared, "dense")?;
    if let Statement::Attribution { setup, .. } = statement {
        if setup.visibility() != IndexVisibility::Fixed {
            return Err(CircuitError::UnsupportedShape {
                layer: "dense layout".into(),
                reason: "only a fixed attribution index is supported; prove it with the \
                         wide layout (`--layout wide`)"
                    .into(),
            });
        }
    }
    ops::check_ops(model)
}
