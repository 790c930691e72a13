//! The quantized model: a topologically ordered graph of integer ops with per-tensor scale and
//! static bound, and the function that runs it into a [`Trace`].

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, RuntimeError};
use crate::ops::Op;
use crate::quant::{bits_for, dequantize, quantize};
use crate::tensor::{numel, Tensor};
use crate::trace::Trace;

/// Version of the serialized [`QModel`] format; bump on any incompatible change.
pub const QMODEL_FORMAT: u32 = 1;

/// Largest static bound (in bits) any tensor may have. Products of two values under this
/// limit still fit in an i64 accumulator, and it leaves ample room inside the BN254 field.
pub const ACCUMULATOR_LIMIT_BITS: u32 = 62;

/// Metadata of one tensor of the graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorInfo {
    /// ONNX value name it came from (with a suffix for tensors the import introduced).
    pub name: String,
    /// Shape with the batch axis (always 1).
    pub shape: Vec<usize>,
    /// Fractional bits: the value `v` is stored as `round(v · 2^scale)`.
    pub scale: u32,
    /// Static bound: every value satisfies `|v| ≤ bound` for any in-range input.
    pub bound: i64,
}

/// One op application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Layer name (the ONNX node name, or a derived one) used in errors and reports.
    pub name: String,
    /// The operation.
    pub op: Op,
    /// Input tensor ids.
    pub inputs: Vec<usize>,
    /// Output tensor id.
    pub output: usize,
}

/// A quantized model ready to run. Tensor id 0 is the input; nodes are in topological order and
/// node `i` produces tensor `i + 1`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QModel {
    /// Format version ([`QMODEL_FORMAT`]).
    pub format: u32,
    /// Model name (file stem of the ONNX model).
    pub name: String,
    /// Accepted input magnitude in real units: |x| ≤ input_range.
    pub input_range: f64,
    /// Per-tensor metadata, indexed by tensor id.
    pub tensors: Vec<TensorInfo>,
    /// The ops.
    pub nodes: Vec<Node>,
    /// Output tensor id.
    pub output: usize,
    /// Embedding tensor id (default: the input of the last Gemm).
    pub embedding: usize,
    /// The base model and LoRA adapter this model was merged from; absent (and not written, so
    /// base models' files and digests are unchanged) on a base model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<crate::lora::AdapterOf>,
    /// Cached [`QModel::digest`]; not part of the format.
    #[serde(skip)]
    digest: DigestCache,
}

/// Memoised digest; equal for every model so it never affects comparisons.
#[derive(Debug, Default)]
struct DigestCache(OnceLock<String>);

/// A clone starts with an empty cache: the clone's public fields may be edited afterwards, and a
/// copied digest would then describe the original, not the clone.
impl Clone for DigestCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for DigestCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for DigestCache {}

/// Builds a [`QModel`] node by node, computing each output's shape and static bound as it goes
/// so later nodes (lookup tables) can size themselves from their input's bound.
#[derive(Debug)]
pub struct GraphBuilder {
    name: String,
    input_range: f64,
    tensors: Vec<TensorInfo>,
    nodes: Vec<Node>,
}

impl GraphBuilder {
    /// Starts a graph whose tensor 0 is `input`.
    pub fn new(name: String, input: TensorInfo, input_range: f64) -> Self {
        Self {
            name,
            input_range,
            tensors: vec![input],
            nodes: Vec::new(),
        }
    }

    /// Metadata of an existing tensor.
    pub fn tensor(&self, id: usize) -> &TensorInfo {
        &self.tensors[id]
    }

    /// Appends a node and returns its output tensor id. Rejects bad input ids, shape clashes
    /// and bounds over [`ACCUMULATOR_LIMIT_BITS`], naming the layer.
    pub fn push(&mut self, layer: String, op: Op, inputs: Vec<usize>, scale: u32) -> Result<usize> {
        let id = self.tensors.len();
        if inputs.len() != op.arity() || inputs.iter().any(|&i| i >= id) {
            return Err(RuntimeError::graph(
                &layer,
                format!("bad inputs {inputs:?} for {}", op.kind()),
            ));
        }
        let shapes: Vec<&[usize]> = inputs
            .iter()
            .map(|&i| self.tensors[i].shape.as_slice())
            .collect();
        let shape = op
            .out_shape(&shapes)
            .map_err(|e| RuntimeError::graph(&layer, e))?;
        let bounds: Vec<i64> = inputs.iter().map(|&i| self.tensors[i].bound).collect();
        let bound = op.bound(&bounds, shapes[0]);
        let bits = bits_for(bound);
        if bits > ACCUMULATOR_LIMIT_BITS {
            return Err(RuntimeError::AccumulatorOverflow {
                layer,
                bound,
                bits_needed: bits,
                limit_bits: ACCUMULATOR_LIMIT_BITS,
            });
        }
        self.tensors.push(TensorInfo {
            name: format!("{layer}:out"),
            shape,
            scale,
            bound: bound as i64,
        });
        self.nodes.push(Node {
            name: layer,
            op,
            inputs,
            output: id,
        });
        Ok(id)
    }

    /// Finishes the graph: the last tensor is the output; the embedding is the input of the
    /// last Gemm (or the model input when there is none).
    pub fn finish(self) -> QModel {
        let output = self.tensors.len() - 1;
        let embedding = self
            .nodes
            .iter()
            .rev()
            .find(|n| matches!(n.op, Op::Gemm(_)))
            .map_or(0, |n| n.inputs[0]);
        QModel {
            format: QMODEL_FORMAT,
            name: self.name,
            input_range: self.input_range,
            tensors: self.tensors,
            nodes: self.nodes,
            output,
            embedding,
            adapter: None,
            digest: DigestCache::default(),
        }
    }
}

impl QModel {
    /// This model with the static bound of every tensor but the input widened to
    /// [`crate::quant::byte_rounded`]. A wider bound is still a bound, so the model computes and
    /// accepts exactly what it did; what changes is that models differing only in their weights
    /// — a base model and its LoRA adapters — get equal bounds unless a layer's range crosses a
    /// byte boundary, and circuits sized from the bounds (`hashed` weights) are then one circuit.
    /// The input's bound stays: it is set by the input range and scale, shared anyway.
    pub fn with_byte_rounded_bounds(mut self) -> Self {
        for t in self.tensors.iter_mut().skip(1) {
            t.bound = crate::quant::byte_rounded(t.bound);
        }
        self.digest = DigestCache::default();
        self
    }

    /// True when every tensor bound but the input's is [`crate::quant::byte_rounded`].
    pub fn has_byte_rounded_bounds(&self) -> bool {
        self.tensors
            .iter()
            .skip(1)
            .all(|t| t.bound == crate::quant::byte_rounded(t.bound))
    }

    /// Input tensor metadata.
    pub fn input(&self) -> &TensorInfo {
        &self.tensors[0]
    }

    /// Output tensor metadata.
    pub fn output_info(&self) -> &TensorInfo {
        &self.tensors[self.output]
    }

    /// True when the model ends in ArgMax (its output is a class index, not logits).
    pub fn outputs_class(&self) -> bool {
        self.nodes
            .last()
            .is_some_and(|n| matches!(n.op, Op::ArgMax { .. }))
    }

    /// Total multiply-accumulates of one inference.
    pub fn macs(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| n.op.macs(&self.tensors[n.output].shape))
            .sum()
    }

    /// SHA-256 of the canonical JSON of the model (hex). Identifies it in traces and artifacts.
    pub fn digest(&self) -> &str {
        self.digest.0.get_or_init(|| {
            let json = serde_json::to_vec(self).unwrap_or_default();
            hex::encode(Sha256::digest(json))
        })
    }

    /// Quantizes a real-valued input, rejecting wrong length, NaN/∞ and out-of-range values.
    pub fn quantize_input(&self, x: &[f32]) -> Result<Tensor> {
        let info = self.input();
        let expected = numel(&info.shape);
        if x.len() != expected {
            return Err(RuntimeError::InputShape {
                model: self.name.clone(),
                expected,
                shape: info.shape.clone(),
                got: x.len(),
            });
        }
        let mut data = Vec::with_capacity(expected);
        for (index, &v) in x.iter().enumerate() {
            let value = f64::from(v);
            if !value.is_finite() {
                return Err(RuntimeError::NonFiniteInput { index, value });
            }
            if value.abs() > self.input_range {
                return Err(RuntimeError::InputOutOfRange {
                    index,
                    value,
                    range: self.input_range,
                });
            }
            data.push(quantize(value, info.scale));
        }
        Ok(Tensor::new(info.shape.clone(), data))
    }

    /// Runs a real-valued input: quantize, then [`QModel::run_quantized`].
    pub fn run(&self, x: &[f32]) -> Result<Trace> {
        self.run_quantized(self.quantize_input(x)?)
    }

    /// Runs an already-quantized input and records every tensor. Any value outside its static
    /// bound (only possible for an input that skipped [`QModel::quantize_input`]) is an error
    /// naming the layer.
    pub fn run_quantized(&self, input: Tensor) -> Result<Trace> {
        if input.shape != self.input().shape {
            return Err(RuntimeError::InputShape {
                model: self.name.clone(),
                expected: numel(&self.input().shape),
                shape: self.input().shape.clone(),
                got: input.len(),
            });
        }
        check_bound("input", &input, self.input().bound)?;
        let mut tensors = Vec::with_capacity(self.tensors.len());
        tensors.push(input);
        for node in &self.nodes {
            let ins: Vec<&Tensor> = node.inputs.iter().map(|&i| &tensors[i]).collect();
            let info = &self.tensors[node.output];
            let out = node.op.eval(&ins, &info.shape);
            check_bound(&node.name, &out, info.bound)?;
            tensors.push(out);
        }
        Ok(Trace {
            model_digest: self.digest().to_string(),
            tensors,
            output: self.output,
            embedding: self.embedding,
        })
    }

    /// The output of a trace in real units (class indices stay integers).
    pub fn dequantize_output(&self, trace: &Trace) -> Vec<f64> {
        let scale = self.output_info().scale;
        trace
            .output()
            .data
            .iter()
            .map(|&v| dequantize(v, scale))
            .collect()
    }
}

fn check_bound(layer: &str, t: &Tensor, bound: i64) -> Result<()> {
    match t
        .data
        .iter()
        .find(|v| v.unsigned_abs() > bound.unsigned_abs())
    {
        Some(&value) => Err(RuntimeError::ActivationOutOfRange {
            layer: layer.to_string(),
            value,
            bound,
        }),
        None => Ok(()),
    }
}
