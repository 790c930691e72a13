//! Float graph → quantized [`QModel`] for a choice of [`Scales`].
//!
//! Every activation lives at the activation scale `s_a`. A Gemm/Conv multiplies by weights at
//! `s_w`, so its accumulator is at `s_a + s_w` (bias quantized there too) and a `DivRound` by
//! `2^s_w` brings it back; average pools divide their sum by the window size the same way.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Result, RuntimeError};
use crate::float_graph::{FOp, FTensor, FloatGraph};
use crate::graph::{GraphBuilder, QModel, TensorInfo};
use crate::ops::{nchw, Conv, Gemm, Op, Table, Window};
use crate::quant::quantize_checked;
use crate::tensor::{numel, Tensor};

/// Largest lookup table we build (entries); beyond this the scale is too fine for a table.
pub const MAX_TABLE_LEN: usize = 1 << 20;

/// Fixed-point scales (fractional bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scales {
    /// Scale of the input and every activation.
    pub activation: u32,
    /// Scale of weights and multiplicative constants.
    pub weight: u32,
}

/// Quantizes `graph` at `scales` for inputs with `|x| ≤ input_range`.
pub fn quantize_graph(graph: &FloatGraph, scales: Scales, input_range: f64) -> Result<QModel> {
    let s_a = scales.activation;
    let input = TensorInfo {
        name: graph.input_name.clone(),
        shape: graph.input_shape.clone(),
        scale: s_a,
        bound: quantize_checked(input_range, s_a, "input")?.abs(),
    };
    let mut b = GraphBuilder::new(graph.name.clone(), input, input_range);
    let mut ids: HashMap<&str, usize> = HashMap::from([(graph.input_name.as_str(), 0)]);
    for node in &graph.nodes {
        let ins: Vec<usize> = node
            .inputs
            .iter()
            .map(|i| {
                ids.get(i.as_str())
                    .copied()
                    .ok_or_else(|| RuntimeError::graph(&node.name, format!("unknown value `{i}`")))
            })
            .collect::<Result<_>>()?;
        let x = ins[0];
        let (shape, s_x, bound) = {
            let t = b.tensor(x);
            (t.shape.clone(), t.scale, t.bound)
        };
        let name = node.name.clone();
        let rescaled =
            |b: &mut GraphBuilder, id: usize, divisor: i64, scale: u32| -> Result<usize> {
                if divisor == 1 {
                    return Ok(id);
                }
                b.push(
                    format!("{name}.rescale"),
                    Op::DivRound { divisor },
                    vec![id],
                    scale,
                )
            };
        let id = match &node.op {
            FOp::Gemm { weight, bias } | FOp::Conv { weight, bias, .. } => {
                let (weight, bias) = (
                    q_tensor(weight, scales.weight, &name)?,
                    q_vec(bias, s_x + scales.weight, &name)?,
                );
                let op = match &node.op {
                    FOp::Conv { window, .. } => Op::Conv(Conv {
                        weight,
                        bias,
                        window: window.clone(),
                    }),
                    _ => Op::Gemm(Gemm { weight, bias }),
                };
                // The accumulator sits at s_x + s_w; divide by 2^s_w back to the activation scale.
                let acc = b.push(name.clone(), op, ins, s_x + scales.weight)?;
                rescaled(
                    &mut b,
                    acc,
                    pow2_divisor(s_x + scales.weight, s_a, &node.name)?,
                    s_a,
                )?
            }
            FOp::Relu => b.push(name, Op::Relu, ins, s_x)?,
            FOp::Add => {
                let s_y = b.tensor(ins[1]).scale;
                let s = s_x.max(s_y);
                b.push(
                    name,
                    Op::Add {
                        shift_a: s - s_x,
                        shift_b: s - s_y,
                    },
                    ins,
                    s,
                )?
            }
            FOp::AddConst(c) => b.push(
                name.clone(),
                Op::AddConst {
                    constant: q_tensor(c, s_x, &name)?,
                },
                ins,
                s_x,
            )?,
            FOp::MulConst(c) => {
                let op = Op::MulConst {
                    constant: q_tensor(c, scales.weight, &name)?,
                };
                let prod = b.push(name.clone(), op, ins, s_x + scales.weight)?;
                rescaled(
                    &mut b,
                    prod,
                    pow2_divisor(s_x + scales.weight, s_x, &node.name)?,
                    s_x,
                )?
            }
            FOp::Flatten { axis } => {
                if *axis > shape.len() {
                    return Err(RuntimeError::graph(
                        &name,
                        format!("Flatten axis {axis} > rank {}", shape.len()),
                    ));
                }
                let target = vec![numel(&shape[..*axis]), numel(&shape[*axis..])];
                b.push(name, Op::Reshape { shape: target }, ins, s_x)?
            }
            FOp::Reshape(spec) => {
                let target =
                    reshape_target(&shape, spec).map_err(|e| RuntimeError::graph(&name, e))?;
                b.push(name, Op::Reshape { shape: target }, ins, s_x)?
            }
            FOp::MaxPool(w) => b.push(name, Op::MaxPool(w.clone()), ins, s_x)?,
            FOp::AvgPool(w) => {
                let sum = b.push(name.clone(), Op::SumPool(w.clone()), ins, s_x)?;
                rescaled(&mut b, sum, w.taps() as i64, s_x)?
            }
            FOp::GlobalAvgPool => {
                let (_, _, h, w) = nchw(&shape).ok_or_else(|| {
                    RuntimeError::graph(&name, format!("expects NCHW input, got {shape:?}"))
                })?;
                let window = Window {
                    kernel: [h, w],
                    stride: [1, 1],
                    pads: [0; 4],
                };
                let sum = b.push(name.clone(), Op::SumPool(window), ins, s_x)?;
                rescaled(&mut b, sum, (h * w) as i64, s_x)?
            }
            FOp::Activation(f) => {
                let table = Table::try_build(*f, s_x, bound, MAX_TABLE_LEN).ok_or_else(|| {
                    RuntimeError::graph(
                        &name,
                        format!("{f:?} table needs over {MAX_TABLE_LEN} entries at scale {s_x}; use a smaller activation scale"),
                    )
                })?;
                b.push(name, Op::Table(table), ins, s_x)?
            }
            FOp::ArgMax { axis, keepdims } => {
                let rank = shape.len() as i64;
                if *axis != rank - 1 && *axis != -1 {
                    return Err(RuntimeError::UnsupportedAttribute {
                        node: name,
                        op: "ArgMax".into(),
                        detail: format!(
                            "axis={axis} on a rank-{rank} tensor (only the last axis is supported)"
                        ),
                    });
                }
                b.push(
                    name,
                    Op::ArgMax {
                        keepdims: *keepdims,
                    },
                    ins,
                    0,
                )?
            }
        };
        ids.insert(node.output.as_str(), id);
    }
    Ok(b.finish())
}

/// `2^(from - to)`: the divisor that rescales a tensor from scale `from` down to `to`.
fn pow2_divisor(from: u32, to: u32, layer: &str) -> Result<i64> {
    match from.checked_sub(to) {
        Some(shift) if shift < 62 => Ok(1 << shift),
        _ => Err(RuntimeError::graph(
            layer,
            format!("cannot rescale from scale {from} to {to}"),
        )),
    }
}

fn q_vec(v: &[f32], scale: u32, what: &str) -> Result<Vec<i64>> {
    v.iter()
        .map(|&x| quantize_checked(f64::from(x), scale, what))
        .collect()
}

fn q_tensor(t: &FTensor, scale: u32, what: &str) -> Result<Tensor> {
    Ok(Tensor::new(t.shape.clone(), q_vec(&t.data, scale, what)?))
}

/// Resolves an ONNX Reshape spec (`0` copies the input dimension, one `-1` is inferred).
pub fn reshape_target(input: &[usize], spec: &[i64]) -> Result<Vec<usize>, String> {
    let total = numel(input);
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &d) in spec.iter().enumerate() {
        match d {
            0 => out.push(
                *input
                    .get(i)
                    .ok_or_else(|| format!("spec {spec:?} copies missing axis {i}"))?,
            ),
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            d if d > 0 => out.push(d as usize),
            _ => return Err(format!("invalid reshape spec {spec:?}")),
        }
    }
    let known = numel(&out);
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {input:?} to {spec:?}"));
        }
        out[i] = total / known;
    }
    if numel(&out) != total {
        return Err(format!("cannot reshape {input:?} to {spec:?}"));
    }
    Ok(out)
}
