//! The narrow layout: the same statement as [`crate::ModelCircuit`] in one advice column, for
//! proofs checked on a chain.
//!
//! The default ("wide") layout spends columns to save rows: 16 multiply-accumulate lanes a row,
//! 19–21 advice and 24–27 fixed columns. A verifier pays per column (a commitment, an
//! evaluation, a multi-scalar-multiplication term), so its Solidity verifier is 55–86 KB and
//! 0.9–1.2 M gas — over EIP-170's 24,576 B. This layout is the other end of the trade: halo2-base's
//! vertical gate (`a + b·c = d` over four consecutive cells of one advice column), one fixed
//! column for constants (weights, the index — so the verifying key still commits to them) and an
//! 8-bit range table looked up from that same advice column under a selector (halo2-base needs no
//! lookup-advice copy with one column). Rows ≈ 3 × MACs, so k is larger and proving
//! slower; the verifier is ~15 KB and ~0.3 M gas and the proof ~1.4 KB whatever the model.
//!
//! Same statement, same public instances, in the same order ([`crate::instances`]): the circuit
//! is built from the [`Trace`] and the runtime's attribution (never recomputed differently) and
//! every public cell is compared with the natively computed instances before a proof is made.
//! Supported: fixed weights, `public` or `private` inputs, a fixed attribution index, and the ops
//! in [`NARROW_OPS`].

mod ops;
mod topk;

use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::gates::circuit::{BaseCircuitParams, CircuitBuilderStage};
use halo2_base::gates::flex_gate::MultiPhaseThreadBreakPoints;
use halo2_base::AssignedValue;
use halo2_proofs::plonk::{Circuit, ConstraintSystem};
use halo2curves::bn256::Fr;
use poa_runtime::{QModel, Trace};

use crate::attribution::{attribution_instances, AttributionSetup, Request};
use crate::error::CircuitError;
use crate::instances::public_instances;
use crate::model::check_trace;
use crate::visibility::{IndexVisibility, InputVisibility, Visibility};

pub use ops::NARROW_OPS;

/// Bits of the range lookup table (`0..2^8`): small enough that a small model keeps a small k.
pub const LOOKUP_BITS: usize = 8;

/// Rows halo2 keeps for blinding; halo2-base's `minimum_rows`.
const BLINDING_ROWS: usize = 9;

/// Smallest k tried (the 2^8-row range table needs at least 2^9 rows with blinding).
const MIN_K: usize = 9;

/// Largest k the narrow layout will choose.
const MAX_K: usize = 24;

/// What fixes a narrow circuit's shape: halo2-base's parameters (k, columns) and the break
/// points of its advice column(s). Read after keygen ([`NarrowCircuit::shape`]); a proof must be
/// laid out in its key's shape.
#[derive(Clone, Debug)]
pub struct NarrowShape {
    /// k and column counts.
    pub params: BaseCircuitParams,
    /// Where each advice column's cells break to the next column (empty with one column).
    pub break_points: MultiPhaseThreadBreakPoints,
}

/// Column counts of a narrow circuit ([`NarrowCircuit::columns`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NarrowColumns {
    /// Advice columns.
    pub advice: usize,
    /// Fixed columns (constants and the range table).
    pub fixed: usize,
    /// Selectors (the gate's, the lookup's).
    pub selectors: usize,
    /// Lookup arguments.
    pub lookups: usize,
}

/// A narrow-layout circuit ready for keygen, proving or `MockProver`.
pub struct NarrowCircuit {
    builder: BaseCircuitBuilder<Fr>,
    instances: Vec<Fr>,
}

impl Drop for NarrowCircuit {
    /// A circuit laid out but never synthesized (sized only, or refused before proving) would
    /// make halo2-base warn about unassigned cells on drop; clearing it says it was meant.
    fn drop(&mut self) {
        self.builder.clear();
    }
}

/// What one circuit proves: inference alone, or inference and top-k attribution for a request.
#[derive(Clone, Copy)]
pub enum Statement<'a> {
    /// Inference only (the [`crate::InstanceLayout::of`] layout).
    Inference,
    /// Inference plus attribution (the [`crate::InstanceLayout::attributed`] layout).
    Attribution {
        /// The index and k.
        setup: &'a AttributionSetup,
        /// The request bound into the proof.
        request: Request,
    },
}

/// A deliberate forgery for negative tests; never set outside tests. The witness is changed
/// before layout and the circuit's own public cells are published, so the test sees which
/// constraint rejects it rather than an instance mismatch.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NarrowTamper {
    /// The first DivRound's quotient one less, its remainder `d` more (out of range).
    Remainder,
    /// The first Relu's sign bit flipped.
    ReluSign,
    /// The predicted class one more (mod the classes).
    ClassOff,
    /// Slot 0's score one more.
    SlotScore,
    /// Slot 0's contributor another address.
    SlotContributor,
    /// The last slot replaced by the (k+1)-th best entry (true score and contributor).
    SlotNotTop,
    /// Slots 0 and 1 swapped.
    SlotsSwapped,
    /// One more entry's selection bit set.
    ExtraSelected,
    /// The first input value replaced by this one (outside its bound, for the range check).
    Input(i64),
}

/// The assigned cells of a run: one per tensor value, by tensor id.
pub(crate) type Cells = Vec<Vec<AssignedValue<Fr>>>;

impl NarrowCircuit {
    /// Lays out `statement` for `model` to fix the circuit's shape, on a run of an all-zero
    /// input (the layout never depends on values). `k: None` is the smallest k that holds the
    /// circuit in one advice column; a smaller `k` spreads the same cells over as many columns
    /// as halo2-base needs (fewer rows: faster proving, ~300 bytes more proof per column).
    pub fn keygen(
        model: &QModel,
        vis: Visibility,
        statement: Statement<'_>,
        k: Option<u32>,
    ) -> Result<Self, CircuitError> {
        let trace = zero_trace(model)?;
        Self::sized(
            CircuitBuilderStage::Keygen,
            model,
            &trace,
            vis,
            statement,
            None,
            k,
        )
    }

    /// The shape a keygen-stage circuit was laid out in; call after halo2's keygen, which is
    /// what fixes the break points.
    pub fn shape(&self) -> NarrowShape {
        NarrowShape {
            params: self.builder.config_params.clone(),
            break_points: self.builder.break_points(),
        }
    }

    /// Lays out `statement` for a witnessed run, in the `shape` its key was made with.
    pub fn prover(
        model: &QModel,
        trace: &Trace,
        vis: Visibility,
        statement: Statement<'_>,
        shape: &NarrowShape,
    ) -> Result<Self, CircuitError> {
        let mut c = Self::layout(
            CircuitBuilderStage::Prover,
            model,
            trace,
            vis,
            statement,
            None,
        )?;
        c.builder.set_params(shape.params.clone());
        c.builder.set_break_points(shape.break_points.clone());
        Ok(c)
    }

    /// Lays out `statement` for `MockProver`, sized like [`Self::keygen`] with `k: None`.
    pub fn mock(
        model: &QModel,
        trace: &Trace,
        vis: Visibility,
        statement: Statement<'_>,
    ) -> Result<Self, CircuitError> {
        Self::mock_at(model, trace, vis, statement, None)
    }

    /// [`Self::mock`] at a chosen `k` (see [`Self::keygen`]).
    pub fn mock_at(
        model: &QModel,
        trace: &Trace,
        vis: Visibility,
        statement: Statement<'_>,
        k: Option<u32>,
    ) -> Result<Self, CircuitError> {
        Self::sized(
            CircuitBuilderStage::Mock,
            model,
            trace,
            vis,
            statement,
            None,
            k,
        )
    }

    /// [`Self::mock_at`] with a forged witness (negative tests only).
    #[doc(hidden)]
    pub fn mock_tampered(
        model: &QModel,
        trace: &Trace,
        vis: Visibility,
        statement: Statement<'_>,
        tamper: NarrowTamper,
        k: Option<u32>,
    ) -> Result<Self, CircuitError> {
        Self::sized(
            CircuitBuilderStage::Mock,
            model,
            trace,
            vis,
            statement,
            Some(tamper),
            k,
        )
    }

    /// The halo2 circuit.
    pub fn circuit(&self) -> &BaseCircuitBuilder<Fr> {
        &self.builder
    }

    /// The halo2 circuit, by value (the prover consumes it).
    pub fn into_circuit(mut self) -> BaseCircuitBuilder<Fr> {
        std::mem::take(&mut self.builder)
    }

    /// The public instances (one column), equal to the wide layout's for the same run.
    pub fn instances(&self) -> &[Fr] {
        &self.instances
    }

    /// k: the circuit has `2^k` rows.
    pub fn k(&self) -> u32 {
        self.builder.config_params.k as u32
    }

    /// The columns, selectors and lookups of this circuit's shape, counted by halo2 on the
    /// constraint system halo2-base configures for it (before selector compression).
    pub fn columns(&self) -> NarrowColumns {
        let mut cs = ConstraintSystem::<Fr>::default();
        BaseCircuitBuilder::<Fr>::configure_with_params(
            &mut cs,
            self.builder.config_params.clone(),
        );
        NarrowColumns {
            advice: cs.num_advice_columns(),
            fixed: cs.num_fixed_columns(),
            selectors: cs.num_selectors(),
            lookups: cs.lookups().len(),
        }
    }

    /// Rows a gate column holds: the advice cells, or with more than one gate column (a k below
    /// the one-column size) the cells per column, rounded up.
    pub fn rows(&self) -> usize {
        let columns = self.builder.config_params.num_advice_per_phase[0].max(1);
        self.advice_cells().div_ceil(columns)
    }

    /// Advice cells used (the circuit's size; rows ≈ cells with one column, cells / columns
    /// with more).
    pub fn advice_cells(&self) -> usize {
        self.builder.statistics().gate.total_advice_per_phase[0]
    }

    /// [`Self::layout`], then sized by [`Self::size`] (keygen and `MockProver`).
    fn sized(
        stage: CircuitBuilderStage,
        model: &QModel,
        trace: &Trace,
        vis: Visibility,
        statement: Statement<'_>,
        tamper: Option<NarrowTamper>,
        k: Option<u32>,
    ) -> Result<Self, CircuitError> {
        let mut c = Self::layout(stage, model, trace, vis, statement, tamper)?;
        c.size(k)?;
        Ok(c)
    }

    /// Sets the builder's parameters for `2^k` rows: by default the smallest k whose rows hold
    /// every advice cell and every looked-up cell in one column each; a requested `k` must lie
    /// between the smallest that holds the range table and the instances, and that one-column k.
    fn size(&mut self, requested: Option<u32>) -> Result<(), CircuitError> {
        let stats = self.builder.statistics();
        let cells = stats.gate.total_advice_per_phase[0];
        let lookups = stats.total_lookup_advice_per_phase[0];
        let fits = |need: usize| (MIN_K..=MAX_K).find(|&k| (1usize << k) > need + BLINDING_ROWS);
        let floor = (1usize << LOOKUP_BITS).max(self.instances.len());
        let one_column =
            fits(cells.max(lookups).max(floor)).ok_or_else(|| CircuitError::UnsupportedShape {
                layer: "narrow layout".into(),
                reason: format!("{cells} advice cells need more than 2^{MAX_K} rows"),
            })?;
        let k = match requested {
            None => one_column,
            Some(k) => {
                // `fits(floor)` is always found: floor is far below 2^MAX_K.
                let lowest = fits(floor).unwrap_or(MIN_K);
                let k = k as usize;
                if k < lowest || k > one_column {
                    return Err(CircuitError::UnsupportedShape {
                        layer: "narrow layout".into(),
                        reason: format!(
                            "k = {k} is outside {lowest}..={one_column}: 2^{lowest} rows hold \
                             the {}-row range table and the {} instances, and 2^{one_column} \
                             already hold all {cells} advice cells in one column",
                            1usize << LOOKUP_BITS,
                            self.instances.len()
                        ),
                    });
                }
                k
            }
        };
        self.builder.set_k(k);
        self.builder.calculate_params(Some(BLINDING_ROWS));
        Ok(())
    }

    fn layout(
        stage: CircuitBuilderStage,
        model: &QModel,
        trace: &Trace,
        vis: Visibility,
        statement: Statement<'_>,
        tamper: Option<NarrowTamper>,
    ) -> Result<Self, CircuitError> {
        supported(model, &vis, &statement)?;
        check_trace(model, trace)?;
        let attribution = match statement {
            Statement::Inference => None,
            Statement::Attribution { setup, request } => {
                Some((setup, request, setup.witness(model, trace)?))
            }
        };
        let native = match &attribution {
            None => public_instances(model, trace, &vis),
            Some((setup, request, wit)) => {
                attribution_instances(model, trace, &vis, setup, wit, request)
            }
        };
        let mut builder = BaseCircuitBuilder::from_stage(stage)
            .use_k(MIN_K)
            .use_lookup_bits(LOOKUP_BITS)
            .use_instance_columns(1);
        let range = builder.range_chip();
        let ctx = builder.main(0);
        let run = ops::assign_run(ctx, &range, model, trace, tamper)?;
        let mut public = match &attribution {
            None => vec![],
            Some((setup, request, wit)) => {
                let part = topk::Part {
                    model,
                    vis: &vis,
                    trace,
                    run: &run,
                    setup,
                    wit,
                    request,
                    tamper,
                };
                topk::assign(ctx, &range, &part)?
            }
        };
        if vis.input == InputVisibility::Public {
            public.extend(run.cells[0].iter().copied());
        }
        public.extend(run.cells[model.output].iter().copied());
        let values: Vec<Fr> = public.iter().map(|c| *c.value()).collect();
        if tamper.is_some() {
            builder.assigned_instances[0] = public;
            return Ok(Self {
                builder,
                instances: values,
            });
        }
        if values != native {
            // The cells are computed by halo2-base from the trace; a difference is a bug here.
            return Err(CircuitError::TraceMismatch {
                what: "public instances".into(),
                reason: "the narrow layout's public cells differ from the native instances".into(),
            });
        }
        builder.assigned_instances[0] = public;
        Ok(Self {
            builder,
            instances: native,
        })
    }
}

/// Refuses what the narrow layout does not lay out, naming it and the way out.
fn supported(
    model: &QModel,
    vis: &Visibility,
    statement: &Statement<'_>,
) -> Result<(), CircuitError> {
    crate::vertical::check_visibility(vis, "narrow")?;
    if let Statement::Attribution { setup, .. } = statement {
        if setup.visibility() != IndexVisibility::Fixed {
            return Err(CircuitError::UnsupportedShape {
                layer: "narrow layout".into(),
                reason: "only a fixed attribution index is supported; prove it with the \
                         wide layout (`--layout wide`)"
                    .into(),
            });
        }
    }
    ops::check_ops(model)
}

/// The trace of an all-zero input: a valid run that stands in for the witness at keygen.
pub(crate) fn zero_trace(model: &QModel) -> Result<Trace, CircuitError> {
    let n: usize = model.input().shape.iter().product();
    model
        .run(&vec![0.0; n])
        .map_err(|e| CircuitError::TraceMismatch {
            what: "keygen run".into(),
            reason: e.to_string(),
        })
}
