//! Quantized operators: what each computes on integers, its output shape and its static bound.
//!
//! Each op is small and total over valid shapes; shapes are validated once, when the graph is
//! built ([`Op::out_shape`]), so `eval` never sees a mismatched input.

mod linear;
mod pool;
mod table;
mod window;

use serde::{Deserialize, Serialize};

pub use linear::{Conv, Gemm};
pub use pool::{pool, pool_shape, PoolKind};
pub use table::{Table, TableFn};
pub use window::{nchw, Window};

use crate::quant::{div_round, div_round_bound};
use crate::tensor::{broadcast_index, broadcasts_to, numel, Tensor};

/// One quantized operation. Inputs are tensor ids held by the graph node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Matrix multiply plus bias; outputs the accumulator (scale `s_in + s_w`).
    Gemm(Gemm),
    /// 2-D convolution plus bias; outputs the accumulator.
    Conv(Conv),
    /// Rounded division by a positive constant (a rescale when it is a power of two).
    DivRound {
        /// The divisor, ≥ 1.
        divisor: i64,
    },
    /// `max(0, x)`.
    Relu,
    /// `(a << shift_a) + (b << shift_b)`: the shifts align two scales exactly.
    Add {
        /// Left shift applied to the first input.
        shift_a: u32,
        /// Left shift applied to the second input.
        shift_b: u32,
    },
    /// `x + c` with `c` broadcast, already at `x`'s scale.
    AddConst {
        /// The constant.
        constant: Tensor,
    },
    /// `x · c` with `c` broadcast; the output scale is the sum of both scales.
    MulConst {
        /// The constant.
        constant: Tensor,
    },
    /// Same values, new shape.
    Reshape {
        /// Target shape.
        shape: Vec<usize>,
    },
    /// Max pooling.
    MaxPool(Window),
    /// Sum pooling (average pooling before its division).
    SumPool(Window),
    /// Lookup-table activation.
    Table(Table),
    /// Index of the largest value along the last axis (ties: first index).
    ArgMax {
        /// Keep the reduced axis as size 1.
        keepdims: bool,
    },
}

impl Op {
    /// Short name used in reports and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Gemm(_) => "Gemm",
            Self::Conv(_) => "Conv",
            Self::DivRound { .. } => "DivRound",
            Self::Relu => "Relu",
            Self::Add { .. } => "Add",
            Self::AddConst { .. } => "AddConst",
            Self::MulConst { .. } => "MulConst",
            Self::Reshape { .. } => "Reshape",
            Self::MaxPool(_) => "MaxPool",
            Self::SumPool(_) => "SumPool",
            Self::Table(t) => match t.func {
                TableFn::Sigmoid => "Sigmoid",
                TableFn::Tanh => "Tanh",
            },
            Self::ArgMax { .. } => "ArgMax",
        }
    }

    /// Number of tensor inputs the op takes.
    pub fn arity(&self) -> usize {
        if matches!(self, Self::Add { .. }) {
            2
        } else {
            1
        }
    }

    /// Multiply-accumulates per run (what a circuit pays rows for).
    pub fn macs(&self, out_shape: &[usize]) -> usize {
        match self {
            Self::Gemm(g) => numel(out_shape) * g.in_features(),
            Self::Conv(c) => numel(out_shape) * (c.weight.len() / c.weight.shape[0].max(1)),
            _ => 0,
        }
    }

    /// Output shape for the given input shapes, or a message saying why they do not fit.
    pub fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let x = inputs[0];
        match self {
            Self::Gemm(g) => match x {
                [m, k] if *k == g.in_features() => Ok(vec![*m, g.out_features()]),
                _ => Err(format!("expects [m, {}], got {x:?}", g.in_features())),
            },
            Self::Conv(c) => c
                .out_shape(x)
                .ok_or_else(|| format!("kernel {:?} does not fit input {x:?}", c.weight.shape)),
            Self::MaxPool(w) | Self::SumPool(w) => pool_shape(w, x)
                .ok_or_else(|| format!("window {:?} does not fit input {x:?}", w.kernel)),
            Self::Add { shift_a, shift_b } if (*shift_a).max(*shift_b) >= 62 => Err(format!(
                "scale shift {} is too large",
                (*shift_a).max(*shift_b)
            )),
            Self::Add { .. } if inputs[1] != x => {
                Err(format!("operand shapes differ: {x:?} vs {:?}", inputs[1]))
            }
            Self::AddConst { constant } | Self::MulConst { constant }
                if !broadcasts_to(&constant.shape, x) =>
            {
                Err(format!(
                    "constant {:?} does not broadcast to {x:?}",
                    constant.shape
                ))
            }
            Self::Reshape { shape } if numel(shape) != numel(x) => {
                Err(format!("cannot reshape {x:?} to {shape:?}"))
            }
            Self::Reshape { shape } => Ok(shape.clone()),
            Self::ArgMax { keepdims } => match x.split_last() {
                Some((_, rest)) if *keepdims => Ok([rest, &[1]].concat()),
                Some((_, rest)) => Ok(rest.to_vec()),
                None => Err("ArgMax of a scalar".into()),
            },
            Self::DivRound { divisor } if *divisor < 1 => Err(format!("divisor {divisor} < 1")),
            _ => Ok(x.to_vec()),
        }
    }

    /// Evaluates the op on inputs whose shapes passed [`Op::out_shape`].
    pub fn eval(&self, inputs: &[&Tensor], out_shape: &[usize]) -> Tensor {
        let x = inputs[0];
        let map = |f: &dyn Fn(i64) -> i64| {
            Tensor::new(out_shape.to_vec(), x.data.iter().map(|&v| f(v)).collect())
        };
        match self {
            Self::Gemm(g) => g.eval(x),
            Self::Conv(c) => c.eval(x),
            Self::DivRound { divisor } => map(&|v| div_round(v, *divisor)),
            Self::Relu => map(&|v| v.max(0)),
            Self::Add { shift_a, shift_b } => Tensor::new(
                out_shape.to_vec(),
                x.data
                    .iter()
                    .zip(&inputs[1].data)
                    .map(|(a, b)| (a << shift_a) + (b << shift_b))
                    .collect(),
            ),
            Self::AddConst { constant } => broadcast_zip(x, constant, |a, c| a + c),
            Self::MulConst { constant } => broadcast_zip(x, constant, |a, c| a * c),
            Self::Reshape { .. } => map(&|v| v),
            Self::MaxPool(w) => pool(PoolKind::Max, w, x),
            Self::SumPool(w) => pool(PoolKind::Sum, w, x),
            Self::Table(t) => map(&|v| t.lookup(v)),
            Self::ArgMax { .. } => {
                let last = x.shape.last().copied().unwrap_or(1).max(1);
                let data = x
                    .data
                    .chunks_exact(last)
                    .map(|row| argmax(row) as i64)
                    .collect();
                Tensor::new(out_shape.to_vec(), data)
            }
        }
    }

    /// Largest output magnitude given the inputs' bounds (saturating, never overflowing).
    pub fn bound(&self, inputs: &[i64], in_shape: &[usize]) -> i128 {
        let b = i128::from(inputs[0]);
        match self {
            Self::Gemm(g) => g.bound(inputs[0]),
            Self::Conv(c) => c.bound(inputs[0]),
            Self::DivRound { divisor } => i128::from(div_round_bound(inputs[0], *divisor)),
            Self::Relu | Self::Reshape { .. } | Self::MaxPool(_) => b,
            Self::Add { shift_a, shift_b } => {
                // `<<` would silently drop high bits (2^30 << 100 wraps); multiply, saturating.
                let shifted = |v: i128, s: u32| v.saturating_mul(2i128.saturating_pow(s));
                shifted(b, *shift_a).saturating_add(shifted(i128::from(inputs[1]), *shift_b))
            }
            Self::AddConst { constant } => b.saturating_add(i128::from(constant.max_abs())),
            Self::MulConst { constant } => b.saturating_mul(i128::from(constant.max_abs())),
            Self::SumPool(w) => b.saturating_mul(w.taps() as i128),
            Self::Table(t) => i128::from(t.bound()),
            Self::ArgMax { .. } => in_shape.last().map_or(0, |&n| n as i128 - 1),
        }
    }
}

/// Index of the first maximum (ties go to the lower index, as ONNX's default).
pub fn argmax<T: PartialOrd>(row: &[T]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

fn broadcast_zip(x: &Tensor, c: &Tensor, f: impl Fn(i64, i64) -> i64) -> Tensor {
    let data = (0..x.len())
        .map(|i| f(x.data[i], c.data[broadcast_index(i, &x.shape, &c.shape)]))
        .collect();
    Tensor::new(x.shape.clone(), data)
}
