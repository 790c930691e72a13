//! A whole [`QModel`] as one circuit, witnessed from a [`Trace`].
//!
//! Layout: one region, rows placed explicitly. The *main band* holds, in order, the quantized
//! input (`LANES` values a row; these cells are bound to the public instances), then every node
//! in graph order. The *range-check band* (its own columns) holds every range check the chips
//! requested, from row 0, beside the main band. [`circuit_stats`] counts rows with the same
//! per-chip row functions the assignment uses, and `synthesize` asserts they agree.
//!
//! Every runtime op has a chip: Gemm, Conv (a dot product per output over its in-bounds taps,
//! padding skipped) and SumPool (a dot product with unit weights) share the Gemm chip; MaxPool
//! reuses the ArgMax layout per window; Add, AddConst and MulConst share the affine chip;
//! Sigmoid/Tanh tables have the Table chip (its lookup table runs beside both bands and also
//! bounds the rows); Reshape reuses its input's cells.

use halo2_proofs::circuit::{Layouter, Region, SimpleFloorPlanner};
use halo2_proofs::plonk::{Circuit, Column, ConstraintSystem, Error, Instance};
use halo2curves::bn256::Fr;
use poa_runtime::ops::{argmax as first_max, nchw, Op, Table, Window};
use poa_runtime::tensor::{broadcast_index, numel};
use poa_runtime::{QModel, Trace};

use crate::attribution::chip::{self as topk, SlotCells, TopKChip, TopKConfig, TopKTamper};
use crate::attribution::{
    adapter_id, attribution_instances, model_id, AttributionSetup, AttributionWitness, Request,
};
use crate::chips::affine::{self, AffineChip, AffineConfig, AffineInstructions, AffineTerm};
use crate::chips::argmax::{self, ArgMaxChip, ArgMaxConfig, ArgMaxInstructions};
use crate::chips::div_round::{self, DivForge, DivRoundChip, DivRoundConfig, DivRoundInstructions};
use crate::chips::dot::{self, DotChip, DotConfig};
use crate::chips::gemm::{self, GemmChip, GemmConfig, GemmInstructions};
use crate::chips::range_check::{
    self, RangeCheckChip, RangeCheckConfig, RangeCheckInstructions, MAX_BITS, TABLE_ROWS,
};
use crate::chips::relu::{self, ReluChip, ReluConfig, ReluInstructions};
use crate::chips::table::{self, TableChip, TableConfig, TableInstructions, TableTamper};
use crate::chips::{assign, Columns, FVar, RangeRequest, Var, LANES};
use crate::commit::{input_packing, Packing};
use crate::error::CircuitError;
use crate::instances::{public_instances, AttributionRows, InstanceLayout};
use crate::poseidon::chip::{self as poseidon, PoseidonChip, PoseidonConfig};
use crate::poseidon::merkle;
use crate::visibility::{IndexVisibility, InputVisibility, Visibility, WeightVisibility};
use crate::weights::{self, WeightCells};

/// Ops the circuit lays out today.
pub const SUPPORTED_OPS: &[&str] = &[
    "Gemm", "Conv", "DivRound", "Relu", "Add", "AddConst", "MulConst", "Reshape", "MaxPool",
    "SumPool", "Sigmoid", "Tanh", "ArgMax",
];

/// A deliberate witness fault, for negative tests only: applied during assignment so a test can
/// show which gate or lookup rejects it. Never set outside tests.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tamper {
    /// Adds one to the final accumulator of the first output of Gemm node `node`.
    GemmAccumulator {
        /// Node index.
        node: usize,
    },
    /// Lowers the first quotient of DivRound node `node` by one (its remainder grows by `d`).
    DivRoundQuotient {
        /// Node index.
        node: usize,
    },
    /// Rounds every quotient of the DivRound producing the model output with offset `rho`
    /// ([`crate::chips::div_round::DivForge::Rounding`]): remainders stay in range, the outputs
    /// become `q' + ρ·d⁻¹`, shifted alike, so the test publishes them as the outputs.
    OutputRounding {
        /// The rounding offset, in `[1, d)`.
        rho: i64,
    },
    /// Flips the branch bit of element `element` of Relu node `node` (y and z follow it).
    ReluBranch {
        /// Node index.
        node: usize,
        /// Element index.
        element: usize,
    },
    /// Claims `index` as the first row's argmax of ArgMax node `node`.
    ArgMaxIndex {
        /// Node index.
        node: usize,
        /// Claimed index.
        index: usize,
    },
    /// Adds one to the accumulator of the first output of Conv node `node`.
    ConvAccumulator {
        /// Node index.
        node: usize,
    },
    /// Adds one to the first sum of SumPool node `node`.
    SumPoolSum {
        /// Node index.
        node: usize,
    },
    /// In the first window of MaxPool node `node` whose taps differ, claims a tap below the
    /// maximum as the max.
    MaxPoolChoice {
        /// Node index.
        node: usize,
    },
    /// Adds one to the first output of Add, AddConst or MulConst node `node`.
    AffineOutput {
        /// Node index.
        node: usize,
    },
    /// Adds one to the table output of element `element` of Table node `node`.
    TableOutput {
        /// Node index.
        node: usize,
        /// Element index.
        element: usize,
    },
    /// Moves the clamped input of element `element` of Table node `node` (an input outside the
    /// table's domain) one step inside the domain, with the table's output there.
    TableClamp {
        /// Node index.
        node: usize,
        /// Element index.
        element: usize,
    },
    /// Flips the mirror bit of element `element` of Table node `node` (a mirrored table), with
    /// the output kept and the looked-up value made to fit.
    TableMirror {
        /// Node index.
        node: usize,
        /// Element index.
        element: usize,
    },
    /// Adds one to the input commitment's digest (`hashed` inputs).
    InputCommitment,
    /// Adds one to the weights commitment's digest (`hashed` weights).
    WeightsCommitment,
    /// Uses the first weight of node `node`'s first dot product plus one in the product, leaving
    /// its committed cell as it was (`hashed` weights).
    WeightCopy {
        /// Node index.
        node: usize,
    },
    /// Adds `2^slot_bits` to weight `element` of node `node` and subtracts one from weight
    /// `element + 1` (same packed element, same commitment; `hashed` weights).
    WeightSlotOverflow {
        /// Node index.
        node: usize,
        /// Weight element (`element + 1` must share its packed field element).
        element: usize,
    },
    /// Replaces input value `element` with `value` (e.g. one outside its range-check slot).
    InputValue {
        /// Element index.
        element: usize,
        /// The value assigned instead.
        value: i64,
    },
    /// A fault in the attribution rows (see [`TopKTamper`]).
    Attribution(TopKTamper),
    /// Publishes another top-k set: the k-th entry swapped for the best unselected one, slots
    /// and threshold made consistent with the swap.
    TopKSet,
    /// Adds one to the first index entry's leaf digest (hashed indexes).
    IndexLeaf,
    /// Adds one to the first index entry's dot product with the query (hashed indexes).
    IndexDot,
    /// Adds `2^slot_bits` to embedding value `element` of index entry `entry` and subtracts one
    /// from value `element + 1` (same packed element, same leaf; hashed indexes).
    IndexSlotOverflow {
        /// Entry index.
        entry: usize,
        /// Embedding element (`element + 1` must share its packed field element).
        element: usize,
    },
    /// Claims `index` as the predicted class (models whose output is not already a class).
    PredictedClass {
        /// Claimed class.
        index: usize,
    },
}

/// Size of a model's circuit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CircuitStats {
    /// Rows used: the larger band, at least the lookup table.
    pub rows: usize,
    /// Rows of the main band (input, Gemm, element-wise chips).
    pub main_rows: usize,
    /// Rows of the longest range-check band.
    pub range_rows: usize,
    /// Range-check bands side by side (2 for attribution circuits, whose range checks outnumber
    /// the main band's rows).
    pub range_bands: usize,
    /// Rows of the activation lookup table (runs of equal Sigmoid/Tanh outputs; 1 when the model
    /// has none).
    pub table_rows: usize,
    /// Smallest `k` with `rows + blinding rows ≤ 2^k`.
    pub k: u32,
    /// Advice columns.
    pub advice_columns: usize,
    /// Fixed columns (selectors not included).
    pub fixed_columns: usize,
    /// Selectors (compressed into fixed columns at keygen).
    pub selectors: usize,
    /// Lookup arguments.
    pub lookups: usize,
    /// Multiply-accumulates of one inference.
    pub macs: usize,
    /// Public instance values.
    pub instances: usize,
}

impl std::fmt::Display for CircuitStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "k={} rows={} (main {}, range {}{}, table {}) advice={} fixed={} selectors={} lookups={} macs={} instances={}",
            self.k,
            self.rows,
            self.main_rows,
            if self.range_bands > 1 { format!("{}×", self.range_bands) } else { String::new() },
            self.range_rows,
            self.table_rows,
            self.advice_columns,
            self.fixed_columns,
            self.selectors,
            self.lookups,
            self.macs,
            self.instances
        )
    }
}

/// What shapes the columns of a [`ModelCircuit`] beyond the fixed set (halo2's circuit params,
/// so keygen and MockProver configure the same columns as the circuit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CircuitParams {
    /// Range-check bands (1, or 2 for attribution circuits).
    pub range_bands: usize,
    /// Whether the attribution chips (top-k gates and lookup, witness dot products) exist. An
    /// inference circuit leaves them out: every configured gate costs the prover and the
    /// verifier even where no row enables it.
    pub attribution: bool,
    /// Whether the Poseidon chip exists (hashed inputs or weights, attribution circuits).
    pub poseidon: bool,
    /// Whether the advice × advice dot chip exists (hashed weights, attribution circuits).
    pub dot: bool,
}

impl CircuitParams {
    /// The params of an inference circuit (`attributed = false`) or an attribution one, with or
    /// without a hashed input. Attribution circuits always have two range bands; an inference
    /// circuit has two when `split_range` (its plan splits the range checks because that
    /// lowers k). `weights_hashed` adds the chips private weights need.
    pub fn of(
        attributed: bool,
        input_hashed: bool,
        split_range: bool,
        weights_hashed: bool,
    ) -> Self {
        Self {
            range_bands: if attributed || split_range { 2 } else { 1 },
            attribution: attributed,
            poseidon: attributed || input_hashed || weights_hashed,
            dot: attributed || weights_hashed,
        }
    }
}

impl Default for CircuitParams {
    fn default() -> Self {
        Self::of(false, false, false, false)
    }
}

/// Column configuration of [`ModelCircuit`].
#[derive(Clone, Debug)]
pub struct ModelConfig {
    cols: Columns,
    gemm: GemmConfig,
    div: DivRoundConfig,
    relu: ReluConfig,
    argmax: ArgMaxConfig,
    affine: AffineConfig,
    table: TableConfig,
    poseidon: Option<PoseidonConfig>,
    topk: Option<TopKConfig>,
    dot: Option<DotConfig>,
    /// One range-check band per [`CircuitParams::range_bands`], sharing the limb table.
    ranges: Vec<RangeCheckConfig>,
    instance: Column<Instance>,
}

/// The circuit of one model; with a trace it carries the witness of one inference.
#[derive(Clone, Debug)]
pub struct ModelCircuit {
    model: QModel,
    trace: Option<Trace>,
    vis: Visibility,
    attribution: Option<Attributed>,
    plan: Plan,
    /// Test-only fault injection (see [`Tamper`]).
    #[doc(hidden)]
    pub tamper: Option<Tamper>,
}

/// The attribution part of a circuit: its setup and, when proving, the request and witness.
#[derive(Clone, Debug)]
struct Attributed {
    setup: AttributionSetup,
    request: Option<Request>,
    witness: Option<AttributionWitness>,
}

/// Row counts, computed once from the model.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Plan {
    main_rows: usize,
    /// Rows of each range band (one band, or two for attribution circuits).
    range_rows: Vec<usize>,
    /// True with an attribution part.
    attributed: bool,
    /// True when the input is hashed.
    input_hashed: bool,
    /// True when the weights are hashed.
    weights_hashed: bool,
    table_rows: usize,
}

impl ModelCircuit {
    /// Builds the circuit of `model` under `vis`, with the witness of `trace` (`None` for
    /// keygen). Rejects unsupported ops (naming the layer) and a trace that is not this model's.
    pub fn new(
        model: &QModel,
        trace: Option<&Trace>,
        vis: Visibility,
    ) -> Result<Self, CircuitError> {
        let plan = plan(model, &vis, None)?;
        if let Some(t) = trace {
            check_trace(model, t)?;
        }
        Ok(Self {
            model: model.clone(),
            trace: trace.cloned(),
            vis,
            attribution: None,
            plan,
            tamper: None,
        })
    }

    /// Adds the top-k attribution over `setup`'s index (see [`crate::attribution`]). A circuit
    /// with a trace needs the `request` it answers; keygen passes `None` for both.
    pub fn with_attribution(
        mut self,
        setup: AttributionSetup,
        request: Option<Request>,
    ) -> Result<Self, CircuitError> {
        let witness = match (&self.trace, request) {
            (Some(t), Some(_)) => Some(setup.witness(&self.model, t)?),
            (Some(_), None) => {
                return Err(CircuitError::Attribution {
                    reason: "a proof needs the request (nonce, prover) it answers".into(),
                })
            }
            (None, _) => None,
        };
        self.plan = plan(&self.model, &self.vis, Some(&setup))?;
        self.attribution = Some(Attributed {
            setup,
            request,
            witness,
        });
        Ok(self)
    }

    /// The attribution setup, for attribution circuits.
    pub fn attribution(&self) -> Option<&AttributionSetup> {
        self.attribution.as_ref().map(|a| &a.setup)
    }

    /// The instance layout of this circuit.
    pub fn layout(&self) -> InstanceLayout {
        match &self.attribution {
            Some(a) => InstanceLayout::attributed(&self.model, &self.vis, a.setup.k()),
            None => InstanceLayout::of(&self.model, &self.vis),
        }
    }

    /// The model.
    pub fn model(&self) -> &QModel {
        &self.model
    }

    /// Public instances of the carried trace (`None` without one), in the
    /// [`crate::instances`] layout.
    pub fn instances(&self) -> Option<Vec<Fr>> {
        let t = self.trace.as_ref()?;
        Some(match &self.attribution {
            None => public_instances(&self.model, t, &self.vis),
            Some(a) => attribution_instances(
                &self.model,
                t,
                &self.vis,
                &a.setup,
                a.witness.as_ref()?,
                a.request.as_ref()?,
            ),
        })
    }

    /// The visibility the circuit was built with.
    pub fn visibility(&self) -> Visibility {
        self.vis
    }

    /// Size of this circuit.
    pub fn stats(&self) -> CircuitStats {
        stats_from_plan(&self.model, &self.plan, self.layout().len())
    }

    fn value(&self, tensor: usize, i: usize) -> Option<i64> {
        self.trace.as_ref().map(|t| t.tensors[tensor].data[i])
    }
}

/// Size of `model`'s circuit under `vis` (rows, `k`, columns, lookups, MACs), or why it cannot
/// be built.
pub fn circuit_stats(model: &QModel, vis: &Visibility) -> Result<CircuitStats, CircuitError> {
    let instances = InstanceLayout::of(model, vis).len();
    Ok(stats_from_plan(model, &plan(model, vis, None)?, instances))
}

/// The constraint system `plan` configures, the rows it needs and the smallest k that holds them.
fn sized(plan: &Plan, instances: usize) -> (ConstraintSystem<Fr>, usize, u32) {
    let mut cs = ConstraintSystem::<Fr>::default();
    let _ = ModelCircuit::configure_with_params(&mut cs, plan.params());
    let range_rows = plan.range_rows.iter().copied().max().unwrap_or(0);
    let rows = plan
        .main_rows
        .max(range_rows)
        .max(plan.table_rows)
        .max(TABLE_ROWS)
        .max(instances);
    // MockProver and keygen reserve blinding_factors + 1 rows at the end.
    let reserved = cs.blinding_factors() + 1;
    let mut k = 1u32;
    while (1usize << k) < rows + reserved {
        k += 1;
    }
    (cs, rows, k)
}

fn stats_from_plan(model: &QModel, plan: &Plan, instances: usize) -> CircuitStats {
    let (cs, rows, k) = sized(plan, instances);
    let range_rows = plan.range_rows.iter().copied().max().unwrap_or(0);
    CircuitStats {
        rows,
        main_rows: plan.main_rows,
        range_rows,
        range_bands: plan.range_rows.len(),
        table_rows: plan.table_rows,
        k,
        advice_columns: cs.num_advice_columns(),
        fixed_columns: cs.num_fixed_columns(),
        selectors: cs.num_selectors(),
        lookups: cs.lookups().len(),
        macs: model.macs(),
        instances,
    }
}

fn layer_err(model: &QModel, node: usize, reason: String) -> CircuitError {
    CircuitError::UnsupportedShape {
        layer: model.nodes[node].name.clone(),
        reason,
    }
}

fn check_bits(model: &QModel, node: usize, bits: u32) -> Result<(), CircuitError> {
    if bits > MAX_BITS {
        return Err(CircuitError::RangeTooWide {
            layer: model.nodes[node].name.clone(),
            bits,
            limit: MAX_BITS,
        });
    }
    Ok(())
}

/// The two checks that put an input value `x` in `[−B, B]` exactly, `B = packing.offset`, in
/// whole limbs of `b = packing.slot_bits`: `x + B ∈ [0, 2^b)` (so `x ≥ −B`) and
/// `x + 2^b − 1 − B ∈ [0, 2^b)` (so `x ≤ B`). One check alone lets `x` reach `2^b − 1 − B`.
fn input_checks(var: Var, packing: &Packing) -> [RangeRequest; 2] {
    let top = (1i64 << packing.slot_bits) - 1 - packing.offset;
    [packing.offset, top].map(|offset| RangeRequest {
        var,
        offset,
        bits: packing.slot_bits,
    })
}

/// The bound DivRound's quotients (tensor `id`) must be range-checked against, or `None` where they
/// are pinned without it: a tensor read only by Relu nodes (whose sign check bounds it). The
/// model output is checked too: its instance is the prover's choice, not a pin (see
/// [`crate::chips::div_round`]).
fn quotient_check(model: &QModel, id: usize) -> Option<i64> {
    let mut readers = model
        .nodes
        .iter()
        .filter(|n| n.inputs.contains(&id))
        .peekable();
    let only_relu = readers.peek().is_some() && readers.all(|n| matches!(n.op, Op::Relu));
    (!only_relu).then(|| model.tensors[id].bound)
}

/// Checks every op is supported and counts rows of both bands, chip by chip.
fn plan(
    model: &QModel,
    vis: &Visibility,
    attribution: Option<&AttributionSetup>,
) -> Result<Plan, CircuitError> {
    let n_input = numel(&model.input().shape);
    let mut main = n_input.div_ceil(LANES);
    // Every input value is range-checked to `[−B, B]`, whatever its visibility: a private input
    // must be shown in range, and a hashed one must pack injectively ([`input_checks`]).
    let packing = input_packing(model);
    // One limb below the widest check, so the upper check's offset fits an i64.
    let input_limit = MAX_BITS - range_check::LIMB_BITS;
    if packing.slot_bits > input_limit {
        return Err(CircuitError::RangeTooWide {
            layer: model.input().name.clone(),
            bits: packing.slot_bits,
            limit: input_limit,
        });
    }
    let mut range = n_input * 2 * range_check::rows_for(packing.slot_bits);
    // Range rows per block (the input's checks, then each node's), for a split into two bands.
    let mut blocks = vec![range];
    if vis.input == InputVisibility::Hashed {
        let elements = n_input.div_ceil(packing.per_element);
        main += elements + poseidon::rows_for(elements);
    }
    let rc_rows = |bits: &[u32]| -> usize { bits.iter().map(|&b| range_check::rows_for(b)).sum() };
    let hashed_weights = vis.weights == WeightVisibility::Hashed;
    // Rows of each block of weight slot checks (hashed weights).
    let mut weight_chunks: Vec<usize> = Vec::new();
    let blocks_w = if hashed_weights {
        weights::check_hashable(model)?;
        // The cell pinned to 1 that the biases multiply, and the commitment's hash.
        let w = weights::weight_blocks(model);
        let elements: usize = w
            .iter()
            .map(|b| {
                let (ew, eb) = weights::elements(model, b);
                ew + eb
            })
            .sum();
        main += 1 + poseidon::rows_for(elements);
        w
    } else {
        Vec::new()
    };
    for (ni, node) in model.nodes.iter().enumerate() {
        if let Some(b) = blocks_w.iter().find(|b| b.node == ni) {
            let (m, checks) = weights::block_rows(model, b);
            main += m;
            // Slot checks in blocks of their own, so a layer's thousands of weights can be
            // balanced over two bands.
            for chunk in checks.chunks(weights::CHECK_BLOCK) {
                let rows = chunk
                    .iter()
                    .map(|&b| range_check::rows_for(b))
                    .sum::<usize>();
                range += rows;
                blocks.push(rows);
                weight_chunks.push(rows);
            }
        }
        let before = range;
        if node.inputs.len() != node.op.arity() {
            return Err(layer_err(
                model,
                ni,
                format!("{} with {} inputs", node.op.kind(), node.inputs.len()),
            ));
        }
        let input = &model.tensors[node.inputs[0]];
        let n_in = numel(&input.shape);
        match &node.op {
            Op::Gemm(g) => {
                let k = g.in_features();
                if input.shape.len() != 2 || input.shape[1] != k {
                    return Err(layer_err(
                        model,
                        ni,
                        format!("Gemm input shape {:?}", input.shape),
                    ));
                }
                main += input.shape[0] * g.out_features() * dot_rows(k, hashed_weights);
            }
            Op::DivRound { divisor } => {
                if *divisor < 1 {
                    return Err(layer_err(model, ni, format!("divisor {divisor} < 1")));
                }
                let bits =
                    div_round::range_bits(n_in, *divisor, quotient_check(model, node.output));
                for &b in &bits {
                    check_bits(model, ni, b)?;
                }
                main += div_round::rows_for(n_in);
                range += rc_rows(&bits);
            }
            Op::Relu => {
                let b = relu::range_bits(input.bound);
                check_bits(model, ni, b)?;
                main += relu::rows_for(n_in);
                range += n_in * range_check::rows_for(b);
            }
            Op::Reshape { .. } => {}
            Op::Conv(c) => {
                let (n, ci, h, w) = nchw(&input.shape)
                    .ok_or_else(|| layer_err(model, ni, format!("Conv input {:?}", input.shape)))?;
                let out = &model.tensors[node.output].shape;
                if c.weight.shape.len() != 4 || c.weight.shape[2..] != c.window.kernel {
                    return Err(layer_err(
                        model,
                        ni,
                        format!("Conv weight {:?}", c.weight.shape),
                    ));
                }
                let per_image: usize = positions(out)
                    .map(|p| dot_rows(taps(&c.window, p, (h, w)).len() * ci, hashed_weights))
                    .sum();
                main += n * out[1] * per_image;
            }
            Op::SumPool(win) => {
                let (n, c, h, w) = nchw(&input.shape)
                    .ok_or_else(|| layer_err(model, ni, format!("pool input {:?}", input.shape)))?;
                let out = &model.tensors[node.output].shape;
                let per_plane: usize = positions(out)
                    .map(|p| gemm::rows_for(taps(win, p, (h, w)).len()))
                    .sum();
                main += n * c * per_plane;
            }
            Op::MaxPool(win) => {
                let (n, c, h, w) = nchw(&input.shape)
                    .ok_or_else(|| layer_err(model, ni, format!("pool input {:?}", input.shape)))?;
                let b = argmax::range_bits(input.bound);
                check_bits(model, ni, b)?;
                let out = &model.tensors[node.output].shape;
                let mut per_plane = 0;
                let mut checks = 0;
                for p in positions(out) {
                    let t = taps(win, p, (h, w)).len();
                    if t == 0 {
                        return Err(layer_err(
                            model,
                            ni,
                            format!("MaxPool window at output {p:?} lies entirely in the padding"),
                        ));
                    }
                    per_plane += argmax::rows_for(t);
                    checks += t;
                }
                main += n * c * per_plane;
                range += n * c * checks * range_check::rows_for(b);
            }
            Op::Add { .. } | Op::AddConst { .. } | Op::MulConst { .. } => {
                main += affine::rows_for(n_in);
            }
            Op::Table(t) => {
                if t.values.is_empty() {
                    return Err(layer_err(model, ni, "empty lookup table".into()));
                }
                let b = table::range_bits(t, input.bound);
                let rb = table::run_bits(t);
                check_bits(model, ni, b)?;
                check_bits(model, ni, rb)?;
                main += table::rows_for(n_in);
                range += 2 * n_in * (range_check::rows_for(b) + range_check::rows_for(rb));
            }
            Op::ArgMax { .. } => {
                let b = argmax::range_bits(input.bound);
                check_bits(model, ni, b)?;
                let last = input.shape.last().copied().unwrap_or(0);
                if last == 0 {
                    return Err(layer_err(model, ni, "ArgMax over an empty axis".into()));
                }
                main += (n_in / last) * argmax::rows_for(last);
                range += n_in * range_check::rows_for(b);
            }
        }
        blocks.push(range - before);
    }
    let mut range_rows = vec![range];
    if let Some(setup) = attribution {
        let (m, [r0, r1]) = attribution_rows(model, setup)?;
        main += m;
        // Weight slot checks go wherever there is room once the attribution's are placed.
        let w: usize = weight_chunks.iter().sum();
        let (_, bands) = balance_from([range - w + r0, r1], weight_chunks);
        range_rows = bands.to_vec();
    }
    let one_band = Plan {
        main_rows: main,
        range_rows,
        attributed: attribution.is_some(),
        input_hashed: vis.input == InputVisibility::Hashed,
        weights_hashed: hashed_weights,
        table_rows: table::table_rows(&model_tables(model)),
    };
    if one_band.attributed {
        return Ok(one_band);
    }
    // An inference circuit whose range checks set k gets a second band (two advice and two fixed
    // columns and a lookup more) only when that lowers k: half the rows costs far more.
    let (_, bands) = balance(blocks);
    let two_bands = Plan {
        range_rows: bands.to_vec(),
        ..one_band.clone()
    };
    let instances = InstanceLayout::of(model, vis).len();
    Ok(
        if sized(&two_bands, instances).2 < sized(&one_band, instances).2 {
            two_bands
        } else {
            one_band
        },
    )
}

/// Rows of one weighted dot product of length `k`: the Gemm chip's (fixed weights), or the dot
/// chip's with the bias as one more pair (hashed weights).
fn dot_rows(k: usize, hashed_weights: bool) -> usize {
    if hashed_weights {
        dot::rows_for(k + 1)
    } else {
        gemm::rows_for(k)
    }
}

/// Main-band and range-band rows of the attribution part: the predicted class (an ArgMax over
/// the outputs unless the model ends in one), one dot product per entry, the top-k chip's rows,
/// and their range checks.
fn attribution_rows(
    model: &QModel,
    setup: &AttributionSetup,
) -> Result<(usize, [usize; 2]), CircuitError> {
    let (n, k) = (setup.index().entries.len(), setup.k());
    let rc = range_check::rows_for;
    let (mut main, mut range, mut range1) = (0, 0, 0);
    if !model.outputs_class() {
        let out = model.output_info();
        let b = argmax::range_bits(out.bound);
        check_bits(model, model.nodes.len() - 1, b)?;
        let n_out = numel(&out.shape);
        main += argmax::rows_for(n_out);
        range += n_out * rc(b);
    }
    let d = setup.index().dim();
    main += topk::rows_for(n, k);
    match setup.visibility() {
        IndexVisibility::Fixed => main += n * gemm::rows_for(d),
        IndexVisibility::Hashed => {
            let packing = setup.packing();
            let elements = d.div_ceil(packing.per_element);
            main += n * (dot::rows_for(d) + elements + poseidon::rows_for(2 + elements))
                + merkle::rows(n);
            // Embedding slot checks alternate between the bands.
            range += n * d.div_ceil(2) * rc(packing.slot_bits);
            range1 += n * (d / 2) * rc(packing.slot_bits);
        }
    }
    range += n * rc(setup.dot_bits);
    range1 +=
        n * rc(setup.dot_bits) + k * rc(setup.slot_index_bits()) + (k - 1) * rc(setup.key_bits);
    Ok((main, [range, range1]))
}

impl Plan {
    fn params(&self) -> CircuitParams {
        let split = !self.attributed && self.range_rows.len() == 2;
        let p = CircuitParams::of(
            self.attributed,
            self.input_hashed,
            split,
            self.weights_hashed,
        );
        debug_assert_eq!(p.range_bands, self.range_rows.len());
        p
    }
}

/// Assigns blocks of range checks (one block per op, so an op's checks stay together) to two
/// bands, each to the band with fewer rows so far (ties to the first): returns each block's
/// band and the bands' rows. The planner and the synthesis both call it, on the same block
/// sizes, so they agree on the split.
fn balance(sizes: impl IntoIterator<Item = usize>) -> (Vec<usize>, [usize; 2]) {
    balance_from([0, 0], sizes)
}

/// [`balance`] onto bands that already hold `rows`.
fn balance_from(
    mut rows: [usize; 2],
    sizes: impl IntoIterator<Item = usize>,
) -> (Vec<usize>, [usize; 2]) {
    let bands = sizes
        .into_iter()
        .map(|n| {
            let band = usize::from(rows[1] < rows[0]);
            rows[band] += n;
            band
        })
        .collect();
    (bands, rows)
}

/// Output positions `(oy, ox)` of an NCHW output shape, row-major.
fn positions(out: &[usize]) -> impl Iterator<Item = (usize, usize)> {
    let (oh, ow) = (out[2], out[3]);
    (0..oh).flat_map(move |oy| (0..ow).map(move |ox| (oy, ox)))
}

/// In-bounds taps `(ky, kx, y, x)` of output `pos` over an `h × w` plane, in kernel order;
/// padding taps (constant zero) are skipped.
fn taps(
    window: &Window,
    pos: (usize, usize),
    hw: (usize, usize),
) -> Vec<(usize, usize, usize, usize)> {
    crate::vertical::taps(window, pos, hw).collect()
}

/// The model's distinct lookup tables in first-use order; table `i` is loaded with id `i + 1`.
fn model_tables(model: &QModel) -> Vec<&Table> {
    let mut tables: Vec<&Table> = Vec::new();
    for node in &model.nodes {
        if let Op::Table(t) = &node.op {
            if !tables.contains(&t) {
                tables.push(t);
            }
        }
    }
    tables
}

/// The trace must be this model's run: same digest and tensor count, every tensor within its
/// static bound, and every node's output what the runtime's op computes from its inputs.
pub(crate) fn check_trace(model: &QModel, trace: &Trace) -> Result<(), CircuitError> {
    let mismatch = |what: String, reason: String| CircuitError::TraceMismatch { what, reason };
    if trace.model_digest != model.digest() {
        return Err(mismatch(
            "model digest".into(),
            format!(
                "trace is of model {}, circuit of {}",
                trace.model_digest,
                model.digest()
            ),
        ));
    }
    if trace.tensors.len() != model.tensors.len() || trace.output != model.output {
        return Err(mismatch(
            "tensor list".into(),
            format!(
                "{} tensors, model has {}",
                trace.tensors.len(),
                model.tensors.len()
            ),
        ));
    }
    for (id, (t, info)) in trace.tensors.iter().zip(&model.tensors).enumerate() {
        if t.shape != info.shape || t.data.len() != numel(&info.shape) {
            return Err(mismatch(
                format!("tensor {id} `{}`", info.name),
                format!("shape {:?}, expected {:?}", t.shape, info.shape),
            ));
        }
        if let Some(v) = t
            .data
            .iter()
            .find(|v| v.unsigned_abs() > info.bound.unsigned_abs())
        {
            return Err(mismatch(
                format!("tensor {id} `{}`", info.name),
                format!("value {v} outside bound {}", info.bound),
            ));
        }
    }
    for node in &model.nodes {
        let ins: Vec<_> = node.inputs.iter().map(|&i| &trace.tensors[i]).collect();
        let expected = node.op.eval(&ins, &model.tensors[node.output].shape);
        if expected != trace.tensors[node.output] {
            return Err(mismatch(
                format!("layer `{}` (tensor {})", node.name, node.output),
                "output differs from what the op computes on the trace's inputs".into(),
            ));
        }
    }
    Ok(())
}

impl Circuit<Fr> for ModelCircuit {
    type Config = ModelConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = CircuitParams;

    fn without_witnesses(&self) -> Self {
        Self {
            model: self.model.clone(),
            trace: None,
            vis: self.vis,
            attribution: self.attribution.as_ref().map(|a| Attributed {
                setup: a.setup.clone(),
                request: None,
                witness: None,
            }),
            plan: self.plan.clone(),
            tamper: None,
        }
    }

    fn params(&self) -> CircuitParams {
        self.plan.params()
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> ModelConfig {
        Self::configure_with_params(meta, CircuitParams::default())
    }

    fn configure_with_params(
        meta: &mut ConstraintSystem<Fr>,
        params: CircuitParams,
    ) -> ModelConfig {
        let cols = Columns::configure(meta);
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        ModelConfig {
            cols,
            gemm: GemmChip::configure(meta, cols),
            div: DivRoundChip::configure(meta, cols),
            relu: ReluChip::configure(meta, cols),
            argmax: ArgMaxChip::configure(meta, cols),
            affine: AffineChip::configure(meta, cols),
            table: TableChip::configure(meta, cols),
            poseidon: params.poseidon.then(|| PoseidonChip::configure(meta, cols)),
            topk: params.attribution.then(|| TopKChip::configure(meta, cols)),
            dot: params.dot.then(|| DotChip::configure(meta, cols)),
            ranges: {
                let first = RangeCheckChip::configure(meta);
                let table = first.table;
                std::iter::once(first)
                    .chain(
                        (1..params.range_bands).map(|_| RangeCheckChip::configure_on(meta, table)),
                    )
                    .collect()
            },
            instance,
        }
    }

    fn synthesize(
        &self,
        config: ModelConfig,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        let model = &self.model;
        let gemm_chip = GemmChip::construct(config.gemm.clone());
        let div_chip = DivRoundChip::construct(config.div.clone());
        let relu_chip = ReluChip::construct(config.relu.clone());
        let argmax_chip = ArgMaxChip::construct(config.argmax.clone());
        let affine_chip = AffineChip::construct(config.affine.clone());
        let table_chip = TableChip::construct(config.table.clone());
        let poseidon_chip = config.poseidon.clone().map(PoseidonChip::construct);
        let topk_chip = config.topk.clone().map(TopKChip::construct);
        let dot_chip = config.dot.clone().map(DotChip::construct);
        let range_chips: Vec<RangeCheckChip> = config
            .ranges
            .iter()
            .map(|c| RangeCheckChip::construct(c.clone()))
            .collect();
        // The bands share one limb table, loaded once.
        range_chips
            .first()
            .ok_or(Error::Synthesis)?
            .load_table(&mut layouter)?;
        let tables = model_tables(model);
        table_chip.load_tables(&mut layouter, &tables)?;

        let (inputs, commitment, outputs, attributed, weights_digest) = layouter.assign_region(
            || "model",
            |mut region| {
                let region = &mut region;
                let mut cells: Vec<Option<Vec<Var>>> = vec![None; model.tensors.len()];
                let mut reqs: Vec<RangeRequest> = Vec::new();
                // Range checks for the second band (attribution circuits).
                let mut reqs1: Vec<RangeRequest> = Vec::new();
                let n_in = numel(&model.input().shape);
                let input: Vec<Var> = (0..n_in)
                    .map(|i| {
                        assign(
                            region,
                            config.cols.lanes[i % LANES],
                            i / LANES,
                            match self.tamper {
                                Some(Tamper::InputValue { element, value }) if element == i => {
                                    Some(value)
                                }
                                _ => self.value(0, i),
                            },
                            None,
                        )
                    })
                    .collect();
                let mut row = n_in.div_ceil(LANES);
                let packing = input_packing(model);
                reqs.extend(input.iter().flat_map(|&var| input_checks(var, &packing)));
                // Where each block of range checks ends (the input's, then each node's).
                let mut block_ends = vec![reqs.len()];
                let commitment = if self.vis.input == InputVisibility::Hashed {
                    let (packed, used) = gemm_chip.pack(region, row, &input, &packing)?;
                    row += used;
                    let tamper = self.tamper == Some(Tamper::InputCommitment);
                    let (digest, used) = poseidon_chip
                        .as_ref()
                        .ok_or(Error::Synthesis)?
                        .hash(region, row, &packed, tamper)?;
                    row += used;
                    Some(digest)
                } else {
                    None
                };
                cells[0] = Some(input);

                // Hashed weights: a cell pinned to 1 (the biases' partner), then each layer's
                // private cells, packed for the commitment.
                let weight_blocks = match self.vis.weights {
                    WeightVisibility::Hashed => weights::weight_blocks(model),
                    WeightVisibility::Fixed => Vec::new(),
                };
                let one = if weight_blocks.is_empty() {
                    None
                } else {
                    let (v, used) = gemm_chip.dot(region, row, &[], &[], 1, false)?;
                    row += used;
                    Some(v)
                };
                let mut packed_weights: Vec<FVar> = Vec::new();
                // Attribution circuits place weight slot checks after their own (see the plan).
                let mut weight_reqs: Vec<Vec<RangeRequest>> = Vec::new();
                let weighted = Weighted {
                    gemm: &gemm_chip,
                    dot: dot_chip.as_ref(),
                    one,
                };

                for (ni, node) in model.nodes.iter().enumerate() {
                    let xs = cells[node.inputs[0]].clone().ok_or(Error::Synthesis)?;
                    let in_info = &model.tensors[node.inputs[0]];
                    let private = match weight_blocks.iter().find(|b| b.node == ni) {
                        Some(b) => {
                            let overflow = match self.tamper {
                                Some(Tamper::WeightSlotOverflow { node, element })
                                    if node == ni =>
                                {
                                    Some(element)
                                }
                                _ => None,
                            };
                            let known = self.trace.is_some();
                            let (c, r, used) = weights::assign_block(
                                &gemm_chip, region, row, model, b, known, overflow,
                            )?;
                            row += used;
                            for chunk in r.chunks(weights::CHECK_BLOCK) {
                                if self.attribution.is_some() {
                                    weight_reqs.push(chunk.to_vec());
                                } else {
                                    reqs.extend_from_slice(chunk);
                                    block_ends.push(reqs.len());
                                }
                            }
                            packed_weights.extend_from_slice(&c.packed);
                            Some(c)
                        }
                        None => None,
                    };
                    let copy_fault = self.tamper == Some(Tamper::WeightCopy { node: ni });
                    let outs = match &node.op {
                        Op::Gemm(g) => {
                            let (k, n) = (g.in_features(), g.out_features());
                            let tamper = self.tamper == Some(Tamper::GemmAccumulator { node: ni });
                            let mut outs = Vec::with_capacity(xs.len() / k.max(1) * n);
                            for r in 0..in_info.shape[0] {
                                let x_row = &xs[r * k..(r + 1) * k];
                                for j in 0..n {
                                    let idx: Vec<usize> = (j * k..(j + 1) * k).collect();
                                    let first = r == 0 && j == 0;
                                    let (v, used) = weighted.dot(
                                        region,
                                        row,
                                        x_row,
                                        (&g.weight.data, &g.bias),
                                        private.as_ref(),
                                        (&idx, j),
                                        (tamper && first, copy_fault && first),
                                    )?;
                                    row += used;
                                    outs.push(v);
                                }
                            }
                            outs
                        }
                        Op::DivRound { divisor } => {
                            let ys: Vec<Option<i64>> =
                                (0..xs.len()).map(|i| self.value(node.output, i)).collect();
                            let forge = match self.tamper {
                                Some(Tamper::DivRoundQuotient { node }) if node == ni => {
                                    Some(DivForge::LowerFirst)
                                }
                                Some(Tamper::OutputRounding { rho })
                                    if node.output == model.output =>
                                {
                                    Some(DivForge::Rounding(rho))
                                }
                                _ => None,
                            };
                            let (outs, r, used) = div_chip.div_round(
                                region,
                                row,
                                &xs,
                                &ys,
                                *divisor,
                                quotient_check(model, node.output),
                                forge,
                            )?;
                            row += used;
                            reqs.extend(r);
                            outs
                        }
                        Op::Relu => {
                            let tamper = match self.tamper {
                                Some(Tamper::ReluBranch { node, element }) if node == ni => {
                                    Some(element)
                                }
                                _ => None,
                            };
                            let (outs, r, used) =
                                relu_chip.relu(region, row, &xs, in_info.bound, tamper)?;
                            row += used;
                            reqs.extend(r);
                            outs
                        }
                        Op::Reshape { .. } => xs,
                        Op::ArgMax { .. } => {
                            let last = in_info.shape.last().copied().ok_or(Error::Synthesis)?;
                            let mut outs = Vec::with_capacity(xs.len() / last);
                            for (ri, x_row) in xs.chunks(last).enumerate() {
                                let tamper = match self.tamper {
                                    Some(Tamper::ArgMaxIndex { node, index })
                                        if node == ni && ri == 0 =>
                                    {
                                        Some(index)
                                    }
                                    _ => None,
                                };
                                let idx = self.value(node.output, ri);
                                let (v, r, used) = argmax_chip.argmax(
                                    region,
                                    row,
                                    x_row,
                                    idx,
                                    in_info.bound,
                                    tamper,
                                )?;
                                row += used;
                                reqs.extend(r);
                                outs.push(v);
                            }
                            outs
                        }
                        Op::Conv(c) => {
                            let (nb, ci, h, w) = nchw(&in_info.shape).ok_or(Error::Synthesis)?;
                            let out_shape = &model.tensors[node.output].shape;
                            let [kh, kw] = c.window.kernel;
                            let per_filter = ci * kh * kw;
                            let tamper = self.tamper == Some(Tamper::ConvAccumulator { node: ni });
                            let mut outs = Vec::with_capacity(numel(out_shape));
                            for b in 0..nb {
                                for o in 0..out_shape[1] {
                                    for pos in positions(out_shape) {
                                        let mut x_cells = Vec::new();
                                        let mut idx = Vec::new();
                                        for (ky, kx, y, x) in taps(&c.window, pos, (h, w)) {
                                            for ch in 0..ci {
                                                x_cells.push(xs[((b * ci + ch) * h + y) * w + x]);
                                                idx.push(o * per_filter + (ch * kh + ky) * kw + kx);
                                            }
                                        }
                                        let first = outs.is_empty();
                                        let (v, used) = weighted.dot(
                                            region,
                                            row,
                                            &x_cells,
                                            (&c.weight.data, &c.bias),
                                            private.as_ref(),
                                            (&idx, o),
                                            (tamper && first, copy_fault && first),
                                        )?;
                                        row += used;
                                        outs.push(v);
                                    }
                                }
                            }
                            outs
                        }
                        Op::SumPool(win) => {
                            let (_, _, h, w) = nchw(&in_info.shape).ok_or(Error::Synthesis)?;
                            let out_shape = &model.tensors[node.output].shape;
                            let tamper = self.tamper == Some(Tamper::SumPoolSum { node: ni });
                            let mut outs = Vec::with_capacity(numel(out_shape));
                            for plane in xs.chunks(h * w) {
                                for pos in positions(out_shape) {
                                    let cells: Vec<Var> = taps(win, pos, (h, w))
                                        .into_iter()
                                        .map(|(_, _, y, x)| plane[y * w + x])
                                        .collect();
                                    let ones = vec![1; cells.len()];
                                    let first = tamper && outs.is_empty();
                                    let (v, used) =
                                        gemm_chip.dot(region, row, &cells, &ones, 0, first)?;
                                    row += used;
                                    outs.push(v);
                                }
                            }
                            outs
                        }
                        Op::MaxPool(win) => {
                            let (_, _, h, w) = nchw(&in_info.shape).ok_or(Error::Synthesis)?;
                            let out_shape = &model.tensors[node.output].shape;
                            let mut tamper =
                                self.tamper == Some(Tamper::MaxPoolChoice { node: ni });
                            let mut outs = Vec::with_capacity(numel(out_shape));
                            for plane in xs.chunks(h * w) {
                                for pos in positions(out_shape) {
                                    let cells: Vec<Var> = taps(win, pos, (h, w))
                                        .into_iter()
                                        .map(|(_, _, y, x)| plane[y * w + x])
                                        .collect();
                                    let vals: Option<Vec<i64>> =
                                        cells.iter().map(|v| v.value).collect();
                                    let index = vals.as_ref().map(|v| first_max(v) as i64);
                                    let mut fault = None;
                                    if tamper {
                                        let below = vals.as_ref().and_then(|v| {
                                            let m = v.iter().max()?;
                                            v.iter().position(|x| x < m)
                                        });
                                        if below.is_some() {
                                            fault = below;
                                            tamper = false;
                                        }
                                    }
                                    let (v, r, used) = argmax_chip.max(
                                        region,
                                        row,
                                        &cells,
                                        index,
                                        in_info.bound,
                                        fault,
                                    )?;
                                    row += used;
                                    reqs.extend(r);
                                    outs.push(v);
                                }
                            }
                            outs
                        }
                        Op::Add { shift_a, shift_b } => {
                            let ys = cells[node.inputs[1]].as_ref().ok_or(Error::Synthesis)?;
                            let terms: Vec<AffineTerm> = xs
                                .iter()
                                .zip(ys)
                                .map(|(&a, &b)| AffineTerm {
                                    a,
                                    b: Some(b),
                                    alpha: 1i64 << shift_a,
                                    beta: 1i64 << shift_b,
                                    gamma: 0,
                                })
                                .collect();
                            let tamper = self.tamper == Some(Tamper::AffineOutput { node: ni });
                            let (outs, used) = affine_chip.affine(region, row, &terms, tamper)?;
                            row += used;
                            outs
                        }
                        Op::AddConst { constant } | Op::MulConst { constant } => {
                            let is_add = matches!(node.op, Op::AddConst { .. });
                            let terms: Vec<AffineTerm> = xs
                                .iter()
                                .enumerate()
                                .map(|(i, &a)| {
                                    let c = constant.data
                                        [broadcast_index(i, &in_info.shape, &constant.shape)];
                                    AffineTerm {
                                        a,
                                        b: None,
                                        alpha: if is_add { 1 } else { c },
                                        beta: 0,
                                        gamma: if is_add { c } else { 0 },
                                    }
                                })
                                .collect();
                            let tamper = self.tamper == Some(Tamper::AffineOutput { node: ni });
                            let (outs, used) = affine_chip.affine(region, row, &terms, tamper)?;
                            row += used;
                            outs
                        }
                        Op::Table(t) => {
                            let id = tables
                                .iter()
                                .position(|u| *u == t)
                                .ok_or(Error::Synthesis)?
                                + 1;
                            let tamper = match self.tamper {
                                Some(Tamper::TableOutput { node, element }) if node == ni => {
                                    Some((element, TableTamper::Output))
                                }
                                Some(Tamper::TableClamp { node, element }) if node == ni => {
                                    Some((element, TableTamper::Clamp))
                                }
                                Some(Tamper::TableMirror { node, element }) if node == ni => {
                                    Some((element, TableTamper::Mirror))
                                }
                                _ => None,
                            };
                            let (outs, r, used) = table_chip.lookup(
                                region,
                                row,
                                &xs,
                                t,
                                id,
                                in_info.bound,
                                tamper,
                            )?;
                            row += used;
                            reqs.extend(r);
                            outs
                        }
                    };
                    cells[node.output] = Some(outs);
                    block_ends.push(reqs.len());
                }
                let weights_digest = if weight_blocks.is_empty() {
                    None
                } else {
                    let tamper = self.tamper == Some(Tamper::WeightsCommitment);
                    let (digest, used) = poseidon_chip.as_ref().ok_or(Error::Synthesis)?.hash(
                        region,
                        row,
                        &packed_weights,
                        tamper,
                    )?;
                    row += used;
                    Some(digest)
                };
                if self.attribution.is_none() && range_chips.len() == 2 {
                    // The plan split the blocks between the bands: the same split.
                    let all = std::mem::take(&mut reqs);
                    let starts = std::iter::once(0).chain(block_ends.iter().copied());
                    let blocks: Vec<&[RangeRequest]> = starts
                        .zip(block_ends.iter().copied())
                        .map(|(start, end)| &all[start..end])
                        .collect();
                    let rows = |b: &[RangeRequest]| -> usize {
                        b.iter().map(|r| range_check::rows_for(r.bits)).sum()
                    };
                    let (bands, _) = balance(blocks.iter().map(|b| rows(b)));
                    for (block, band) in blocks.iter().zip(bands) {
                        if band == 0 { &mut reqs } else { &mut reqs1 }.extend_from_slice(block);
                    }
                }
                let attributed = match &self.attribution {
                    Some(a) => {
                        let chips = AttributionChips {
                            gemm: &gemm_chip,
                            dot: dot_chip.as_ref().ok_or(Error::Synthesis)?,
                            argmax: &argmax_chip,
                            poseidon: poseidon_chip.as_ref().ok_or(Error::Synthesis)?,
                            topk: topk_chip.as_ref().ok_or(Error::Synthesis)?,
                        };
                        let (laid, [r0, r1], used) =
                            self.layout_attribution(region, row, &chips, a, &cells, commitment)?;
                        row += used;
                        reqs.extend(r0);
                        reqs1.extend(r1);
                        // Weight slot checks where there is room (the plan's split).
                        let rows = |b: &[RangeRequest]| -> usize {
                            b.iter().map(|r| range_check::rows_for(r.bits)).sum()
                        };
                        let (bands, _) = balance_from(
                            [rows(&reqs), rows(&reqs1)],
                            weight_reqs.iter().map(|b| rows(b)),
                        );
                        for (block, band) in weight_reqs.iter().zip(bands) {
                            if band == 0 { &mut reqs } else { &mut reqs1 }.extend_from_slice(block);
                        }
                        Some(laid)
                    }
                    None => None,
                };
                assert_eq!(
                    row, self.plan.main_rows,
                    "main band rows differ from the plan"
                );

                if !reqs1.is_empty() && range_chips.len() < 2 {
                    return Err(Error::Synthesis);
                }
                let mut band_rows = Vec::with_capacity(range_chips.len());
                for (chip, reqs) in range_chips.iter().zip([&reqs, &reqs1]) {
                    let mut range_row = 0;
                    for req in reqs {
                        range_row += chip.check(region, range_row, req)?;
                    }
                    band_rows.push(range_row);
                }
                assert_eq!(
                    band_rows, self.plan.range_rows,
                    "range band rows differ from the plan"
                );

                let inputs = cells[0].clone().ok_or(Error::Synthesis)?;
                let outputs = cells[model.output].clone().ok_or(Error::Synthesis)?;
                Ok((inputs, commitment, outputs, attributed, weights_digest))
            },
        )?;

        let layout = self.layout();
        if let Some(a) = attributed {
            a.bind(&mut layouter, config.instance, weights_digest);
        } else if let (Some(d), Some(row)) = (weights_digest, layout.weights_commitment) {
            layouter.constrain_instance(d.cell, config.instance, row);
        }
        if let (Some(d), Some(row)) = (commitment, layout.input_commitment) {
            layouter.constrain_instance(d.cell, config.instance, row);
        }
        for (v, row) in inputs.iter().zip(layout.input) {
            layouter.constrain_instance(v.cell, config.instance, row);
        }
        for (v, row) in outputs.iter().zip(layout.output) {
            layouter.constrain_instance(v.cell, config.instance, row);
        }
        Ok(())
    }
}

/// Weighted dot products (Gemm and Conv outputs) under either weight visibility.
struct Weighted<'a> {
    gemm: &'a GemmChip,
    /// The advice × advice chip (hashed weights).
    dot: Option<&'a DotChip>,
    /// The cell pinned to 1 (hashed weights).
    one: Option<Var>,
}

impl Weighted<'_> {
    /// `bias[out] + Σ_i xs_i · weights[idx_i]`: with `private` cells (hashed weights) on the dot
    /// chip, the bias cell paired with the 1-cell; else on the Gemm chip with the weights as
    /// fixed constants. `faults`: add one to the result; use weight + 1 in the product without
    /// changing its committed cell (negative tests only).
    #[allow(clippy::too_many_arguments)]
    fn dot(
        &self,
        region: &mut Region<'_, Fr>,
        row: usize,
        xs: &[Var],
        (weights, bias): (&[i64], &[i64]),
        private: Option<&WeightCells>,
        (idx, out): (&[usize], usize),
        (tamper, copy_fault): (bool, bool),
    ) -> Result<(Var, usize), Error> {
        match (private, self.dot, self.one) {
            (Some(c), Some(dot), Some(one)) => {
                let mut x = xs.to_vec();
                x.push(one);
                let mut y: Vec<Var> = idx.iter().map(|&i| c.weights[i]).collect();
                y.push(c.bias[out]);
                if copy_fault {
                    y[0].value = y[0].value.map(|v| v + 1);
                }
                dot.dot_copied(region, row, &x, &y, tamper)
            }
            (None, _, _) => {
                let w: Vec<i64> = idx.iter().map(|&i| weights[i]).collect();
                self.gemm.dot(region, row, xs, &w, bias[out], tamper)
            }
            _ => Err(Error::Synthesis),
        }
    }
}

/// The chips the attribution part lays out with.
struct AttributionChips<'a> {
    gemm: &'a GemmChip,
    dot: &'a DotChip,
    argmax: &'a ArgMaxChip,
    poseidon: &'a PoseidonChip,
    topk: &'a TopKChip,
}

/// The attribution cells bound to the header of the public instances.
struct AttributionCells {
    class: Var,
    /// Model id, adapter id, fixed index root, zero, entry count (see [`TopKChip::pin`]).
    pins: Vec<FVar>,
    /// The index root: pinned (fixed index) or computed (hashed index).
    root: FVar,
    slots: Vec<SlotCells>,
    /// True when the input commitment row is bound to the hash's digest instead of a pin.
    hashed: bool,
}

impl AttributionCells {
    /// Binds the header rows; `weights` (hashed weights' commitment) takes the adapter id row.
    fn bind(
        &self,
        layouter: &mut impl Layouter<Fr>,
        instance: Column<Instance>,
        weights: Option<FVar>,
    ) {
        let mut at = |cell, row| layouter.constrain_instance(cell, instance, row);
        at(self.pins[0].cell, AttributionRows::MODEL_ID);
        at(
            weights.unwrap_or(self.pins[1]).cell,
            AttributionRows::ADAPTER_ID,
        );
        at(self.root.cell, AttributionRows::INDEX_ROOT);
        if !self.hashed {
            at(self.pins[3].cell, AttributionRows::INPUT_COMMITMENT);
        }
        at(self.class.cell, AttributionRows::CLASS);
        for (t, slot) in self.slots.iter().enumerate() {
            at(slot.contributor.cell, AttributionRows::contributor(t));
            at(slot.score.cell, AttributionRows::score(t));
        }
    }
}

/// `w` with its k-th entry swapped for the best unselected one (the [`Tamper::TopKSet`] fault).
fn swapped_top_k(w: &AttributionWitness) -> AttributionWitness {
    let mut w = w.clone();
    let chosen: Vec<usize> = w.top.indices.clone();
    let best_other = (0..w.scores.len())
        .filter(|i| !chosen.contains(i))
        .max_by(|&a, &b| w.scores[a].cmp(&w.scores[b]).then(b.cmp(&a)));
    if let Some(j) = best_other {
        let mut set: Vec<usize> = chosen[..chosen.len() - 1].to_vec();
        set.push(j);
        set.sort_by(|&a, &b| w.scores[b].cmp(&w.scores[a]).then(a.cmp(&b)));
        w.top.scores = set.iter().map(|&i| w.scores[i]).collect();
        w.top.threshold = w.top.scores.last().copied().unwrap_or(0);
        w.top.indices = set;
    }
    w
}

impl ModelCircuit {
    /// Lays out the attribution part from `row`: the predicted class, one dot product per index
    /// entry against the embedding's cells, the score and slot rows, the pinned constants.
    fn layout_attribution(
        &self,
        region: &mut Region<'_, Fr>,
        mut row: usize,
        chips: &AttributionChips<'_>,
        a: &Attributed,
        cells: &[Option<Vec<Var>>],
        commitment: Option<FVar>,
    ) -> Result<(AttributionCells, [Vec<RangeRequest>; 2], usize), Error> {
        let model = &self.model;
        let start = row;
        // Band 0: the class's ArgMax and the Relu signs; band 1: every threshold comparison.
        let (mut reqs, mut reqs1) = (Vec::new(), Vec::new());
        let outputs = cells[model.output].as_ref().ok_or(Error::Synthesis)?;
        let class = if model.outputs_class() {
            *outputs.first().ok_or(Error::Synthesis)?
        } else {
            let tamper = match self.tamper {
                Some(Tamper::PredictedClass { index }) => Some(index),
                _ => None,
            };
            let class = a.witness.as_ref().map(|w| i64::from(w.class));
            let bound = model.output_info().bound;
            let (v, r, used) = chips
                .argmax
                .argmax(region, row, outputs, class, bound, tamper)?;
            row += used;
            reqs.extend(r);
            v
        };
        let query = cells[model.embedding].as_ref().ok_or(Error::Synthesis)?;
        let setup = &a.setup;
        let hashed_index = setup.visibility() == IndexVisibility::Hashed;
        let packing = setup.packing();
        let mut dots = Vec::with_capacity(setup.index().entries.len());
        let mut packed = Vec::new();
        for (ei, entry) in setup.index().entries.iter().enumerate() {
            if hashed_index {
                // Private embedding: assigned beside the query, range-checked to its packing
                // slot (so the packing is injective) and packed for the entry's leaf.
                let mut ys: Vec<Option<i64>> = entry
                    .embedding
                    .iter()
                    .map(|&v| a.witness.as_ref().map(|_| v))
                    .collect();
                if let Some(Tamper::IndexSlotOverflow { entry, element }) = self.tamper {
                    if entry == ei && element + 1 < ys.len() {
                        ys[element] = ys[element].map(|v| v + (1i64 << packing.slot_bits));
                        ys[element + 1] = ys[element + 1].map(|v| v - 1);
                    }
                }
                let tamper = self.tamper == Some(Tamper::IndexDot) && ei == 0;
                let (v, y_cells, used) = chips.dot.dot(region, row, query, &ys, tamper)?;
                row += used;
                dots.push(v);
                for (j, &var) in y_cells.iter().enumerate() {
                    let req = RangeRequest {
                        var,
                        offset: packing.offset,
                        bits: packing.slot_bits,
                    };
                    if j % 2 == 0 {
                        reqs.push(req)
                    } else {
                        reqs1.push(req)
                    }
                }
                let (p, used) = chips.gemm.pack(region, row, &y_cells, &packing)?;
                row += used;
                packed.push(p);
            } else {
                let (v, used) = chips
                    .gemm
                    .dot(region, row, query, &entry.embedding, 0, false)?;
                row += used;
                dots.push(v);
            }
        }
        let witness = match (self.tamper, a.witness.as_ref()) {
            (Some(Tamper::TopKSet), Some(w)) => Some(swapped_top_k(w)),
            (_, w) => w.cloned(),
        };
        let fault = match self.tamper {
            Some(Tamper::Attribution(t)) => Some(t),
            _ => None,
        };
        let scored =
            chips
                .topk
                .scores(region, row, setup, &dots, class, witness.as_ref(), fault)?;
        row += scored.rows;
        reqs.extend(scored.signs);
        reqs1.extend(scored.thresholds);
        let n = setup.index().entries.len();
        let pins = [
            model_id(model),
            // Hashed weights publish their commitment in this row instead (see `bind`); the
            // pin must then not depend on the weights.
            match self.vis.weights {
                WeightVisibility::Fixed => adapter_id(model),
                WeightVisibility::Hashed => Fr::zero(),
            },
            if hashed_index {
                Fr::zero()
            } else {
                setup.root()
            },
            Fr::zero(),
            Fr::from(n as u64),
        ];
        let (pins, used) = chips.topk.pin(region, row, pins)?;
        row += used;
        let root = if hashed_index {
            // Each entry's leaf, then the Merkle root over them: crate::commit::index_root.
            let mut leaves = Vec::with_capacity(n);
            for (e, p) in scored.entries.iter().zip(&packed) {
                let mut message = vec![e.contributor, e.label];
                message.extend_from_slice(p);
                let tamper = self.tamper == Some(Tamper::IndexLeaf) && leaves.is_empty();
                let (leaf, used) = chips.poseidon.hash(region, row, &message, tamper)?;
                row += used;
                leaves.push(leaf);
            }
            let (root, used) =
                merkle::root(chips.poseidon, region, row, &leaves, pins[3], pins[4])?;
            row += used;
            root
        } else {
            pins[2]
        };
        let (slots, r, used) = chips
            .topk
            .slots(region, row, setup, witness.as_ref(), fault)?;
        row += used;
        reqs1.extend(r);
        let laid = AttributionCells {
            class,
            pins,
            root,
            slots,
            hashed: commitment.is_some(),
        };
        Ok((laid, [reqs, reqs1], row - start))
    }
}
