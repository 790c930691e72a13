//! `hashed` weights: which tensors are the weights, how they are packed and committed, and the
//! shape that names a hashed-weights circuit.
//!
//! The weights are every Gemm and Conv layer's weight tensor and bias, in graph order. Layer
//! `l`'s weights are packed with [`Packing::for_bound`]`(w_l)`, `w_l` the
//! [`byte_rounded`] largest `|w|` of the layer, its biases likewise with their own bound; the
//! commitment is the Poseidon [`hash`] of every packed element, layer by layer, weights before
//! biases. In the circuit each value is a private cell range-checked to its slot (so the packing
//! is injective and the commitment binds the exact weights), packed by the Gemm chip's packing
//! rows and multiplied against the activations by the advice × advice dot chip, the bias as one
//! more pair against a cell pinned to 1.
//!
//! What is left in the circuit, and so in the verifying key, is the shape ([`shape_digest`]):
//! ops, tensor shapes, scales, static bounds, activation tables, the slot bounds and the pinned
//! model id. A model compiled with `hashed` weights has [byte-rounded
//! bounds](poa_runtime::QModel::with_byte_rounded_bounds), so a base model and its LoRA adapters
//! (same ops, scales and model id, weights moved a little) lay out the same circuit — one key
//! and one on-chain verifier — and differ only in the commitment they publish.

use halo2_proofs::circuit::Region;
use halo2_proofs::plonk::Error;
use halo2curves::bn256::Fr;
use halo2curves::ff::PrimeField;
use poa_runtime::ops::Op;
use poa_runtime::quant::byte_rounded;
use poa_runtime::QModel;
use sha2::{Digest, Sha256};

use crate::attribution::model_id;
use crate::chips::gemm::GemmChip;
use crate::chips::range_check::MAX_BITS;
use crate::chips::{FVar, RangeRequest, Var};
use crate::commit::Packing;
use crate::error::CircuitError;
use crate::poseidon::hash;

/// One layer's weights as the circuit holds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeightBlock {
    /// Node index.
    pub node: usize,
    /// Packing of the weight tensor.
    pub weights: Packing,
    /// Packing of the bias.
    pub bias: Packing,
}

/// The weight tensor and bias of a Gemm or Conv op (`None` for other ops).
pub fn weights_of(op: &Op) -> Option<(&[i64], &[i64])> {
    match op {
        Op::Gemm(g) => Some((&g.weight.data, &g.bias)),
        Op::Conv(c) => Some((&c.weight.data, &c.bias)),
        _ => None,
    }
}

fn packing_of(values: &[i64]) -> Packing {
    let max = values.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
    Packing::for_bound(byte_rounded(i64::try_from(max).unwrap_or(i64::MAX)))
}

/// The model's weight layers with their packings, in graph order.
pub fn weight_blocks(model: &QModel) -> Vec<WeightBlock> {
    model
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(node, n)| {
            weights_of(&n.op).map(|(w, b)| WeightBlock {
                node,
                weights: packing_of(w),
                bias: packing_of(b),
            })
        })
        .collect()
}

/// Why `model` cannot be proved with hashed weights, if it cannot: bounds not byte-rounded
/// (compiled for fixed weights), an op whose constants would stay in the verifying key
/// (AddConst, MulConst), or weights too wide for a range check.
pub fn check_hashable(model: &QModel) -> Result<(), CircuitError> {
    let err = |reason: String| Err(CircuitError::HashedWeights { reason });
    if !model.has_byte_rounded_bounds() {
        return err(format!(
            "model `{}` was not compiled for hashed weights (its bounds are not byte-rounded, so \
             its adapters would each need their own circuit); compile it with \
             `--weight-visibility hashed`",
            model.name
        ));
    }
    for n in &model.nodes {
        if matches!(n.op, Op::AddConst { .. } | Op::MulConst { .. }) {
            return err(format!(
                "layer `{}` ({}) has constants the circuit keeps in the verifying key; hashed \
                 weights cover Gemm and Conv layers only, so this model needs \
                 `--weight-visibility fixed`",
                n.name,
                n.op.kind()
            ));
        }
    }
    for b in weight_blocks(model) {
        let bits = b.weights.slot_bits.max(b.bias.slot_bits);
        if bits > MAX_BITS {
            return Err(CircuitError::RangeTooWide {
                layer: model.nodes[b.node].name.clone(),
                bits,
                limit: MAX_BITS,
            });
        }
    }
    Ok(())
}

/// The packed message the commitment hashes: per weight layer, its packed weights then its
/// packed biases.
pub fn packed_weights(model: &QModel) -> Vec<Fr> {
    weight_blocks(model)
        .iter()
        .flat_map(|b| {
            let (w, bias) = weights_of(&model.nodes[b.node].op).unwrap_or_default();
            let mut m = b.weights.pack(w);
            m.extend(b.bias.pack(bias));
            m
        })
        .collect()
}

/// Poseidon commitment to `model`'s weights (the public instance of `hashed` weights; see the
/// module docs for the encoding).
pub fn weights_commitment(model: &QModel) -> Fr {
    hash(&packed_weights(model))
}

/// Packed elements of one block: weights, then biases.
pub(crate) fn elements(model: &QModel, b: &WeightBlock) -> (usize, usize) {
    let (w, bias) = weights_of(&model.nodes[b.node].op).unwrap_or_default();
    (
        w.len().div_ceil(b.weights.per_element),
        bias.len().div_ceil(b.bias.per_element),
    )
}

/// SHA-256 naming the circuit a model lays out with hashed weights: the model with every weight
/// and bias zeroed, its name and adapter record cleared (then its [`QModel::digest`]), the pinned
/// model id and every slot packing. Equal for a base model and an adapter exactly when they can
/// share keys.
pub fn shape_digest(model: &QModel) -> [u8; 32] {
    let mut shape = model.clone();
    shape.name.clear();
    shape.adapter = None;
    for n in &mut shape.nodes {
        match &mut n.op {
            Op::Gemm(g) => {
                g.weight.data.fill(0);
                g.bias.fill(0);
            }
            Op::Conv(c) => {
                c.weight.data.fill(0);
                c.bias.fill(0);
            }
            _ => {}
        }
    }
    let mut h = Sha256::new();
    h.update(b"openpoa-weights-shape-v1");
    h.update(shape.digest().as_bytes());
    h.update(model_id(model).to_repr().as_ref());
    for b in weight_blocks(model) {
        for p in [b.weights, b.bias] {
            h.update((b.node as u64).to_le_bytes());
            h.update(p.offset.to_le_bytes());
            h.update(p.slot_bits.to_le_bytes());
        }
    }
    h.finalize().into()
}

/// One weight layer's cells: every weight and bias (in the op's order) and the packed elements.
#[derive(Clone, Debug)]
pub(crate) struct WeightCells {
    pub weights: Vec<Var>,
    pub bias: Vec<Var>,
    pub packed: Vec<FVar>,
}

/// Assigns layer `b`'s weights and biases as private cells in packing rows from `offset` (the
/// Gemm chip's packing: the rows are where the values live) and requests their slot checks.
/// `overflow = Some(i)` moves `2^slot_bits` from weight `i + 1` into weight `i` (same element,
/// same packed value; negative tests only). Returns the cells, the range requests and the rows.
pub(crate) fn assign_block(
    gemm: &GemmChip,
    region: &mut Region<'_, Fr>,
    offset: usize,
    model: &QModel,
    b: &WeightBlock,
    known: bool,
    overflow: Option<usize>,
) -> Result<(WeightCells, Vec<RangeRequest>, usize), Error> {
    let (w, bias) = weights_of(&model.nodes[b.node].op).ok_or(Error::Synthesis)?;
    let mut values: Vec<Option<i64>> = w.iter().map(|&v| known.then_some(v)).collect();
    if let Some(i) = overflow.filter(|&i| i + 1 < values.len()) {
        values[i] = values[i].map(|v| v + (1i64 << b.weights.slot_bits));
        values[i + 1] = values[i + 1].map(|v| v - 1);
    }
    let (weights, mut packed, rows_w) = gemm.pack_values(region, offset, &values, &b.weights)?;
    let values: Vec<Option<i64>> = bias.iter().map(|&v| known.then_some(v)).collect();
    let (bias, packed_b, rows_b) = gemm.pack_values(region, offset + rows_w, &values, &b.bias)?;
    packed.extend(packed_b);
    let reqs = slot_checks(&weights, &b.weights)
        .chain(slot_checks(&bias, &b.bias))
        .collect();
    let cells = WeightCells {
        weights,
        bias,
        packed,
    };
    Ok((cells, reqs, rows_w + rows_b))
}

fn slot_checks<'a>(cells: &'a [Var], p: &'a Packing) -> impl Iterator<Item = RangeRequest> + 'a {
    cells.iter().map(move |&var| RangeRequest {
        var,
        offset: p.offset,
        bits: p.slot_bits,
    })
}

/// Slot checks per block of range checks: a layer's checks are split into blocks of this many
/// so the planner can balance them over two range bands.
pub(crate) const CHECK_BLOCK: usize = 256;

/// Main-band rows of layer `b`'s packing rows, and the bits of its slot checks in request order
/// (weights, then biases).
pub(crate) fn block_rows(model: &QModel, b: &WeightBlock) -> (usize, Vec<u32>) {
    let (w, bias) = weights_of(&model.nodes[b.node].op).unwrap_or_default();
    let (ew, eb) = elements(model, b);
    let bits = std::iter::repeat_n(b.weights.slot_bits, w.len())
        .chain(std::iter::repeat_n(b.bias.slot_bits, bias.len()))
        .collect();
    (ew + eb, bits)
}
