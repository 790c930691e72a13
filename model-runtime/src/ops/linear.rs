//! Gemm and Conv: integer multiply-accumulate layers. They output the raw accumulator (scale
//! `s_in + s_w`); a separate rescale node brings it back to the activation scale, so the trace
//! holds both and a circuit can check each step on its own.

use serde::{Deserialize, Serialize};

use super::window::{nchw, Window};
use crate::tensor::Tensor;

/// `Y[m, n] = Σ_k X[m, k] · W[n, k] + b[n]` (weights stored output-major, like ONNX `transB=1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gemm {
    /// Weights `[n, k]`.
    pub weight: Tensor,
    /// Bias `[n]` at the accumulator scale.
    pub bias: Vec<i64>,
}

impl Gemm {
    /// Input features `k`.
    pub fn in_features(&self) -> usize {
        self.weight.shape[1]
    }

    /// Output features `n`.
    pub fn out_features(&self) -> usize {
        self.weight.shape[0]
    }

    /// Runs the layer on `x` of shape `[m, k]`.
    pub fn eval(&self, x: &Tensor) -> Tensor {
        let (n, k) = (self.out_features(), self.in_features());
        let m = x.len() / k;
        let mut out = Vec::with_capacity(m * n);
        for row in x.data.chunks_exact(k) {
            for (j, w) in self.weight.data.chunks_exact(k).enumerate() {
                let dot: i64 = row.iter().zip(w).map(|(a, b)| a * b).sum();
                out.push(dot + self.bias[j]);
            }
        }
        Tensor::new(vec![m, n], out)
    }

    /// Largest accumulator magnitude for inputs bounded by `x_bound`.
    pub fn bound(&self, x_bound: i64) -> i128 {
        filters_bound(&self.weight, &self.bias, x_bound)
    }
}

/// 2-D convolution over NCHW input, `groups = 1`, dilation 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conv {
    /// Weights `[c_out, c_in, kh, kw]`.
    pub weight: Tensor,
    /// Bias `[c_out]` at the accumulator scale.
    pub bias: Vec<i64>,
    /// Stride and padding (kernel size mirrors the weight shape).
    pub window: Window,
}

impl Conv {
    /// Output shape for an NCHW input shape, or `None` when the geometry does not fit.
    pub fn out_shape(&self, input: &[usize]) -> Option<Vec<usize>> {
        let (n, c, h, w) = nchw(input)?;
        if c != self.weight.shape[1] {
            return None;
        }
        let (oh, ow) = self.window.out_hw(h, w)?;
        Some(vec![n, self.weight.shape[0], oh, ow])
    }

    /// Runs the layer; `x` must have a shape accepted by [`Conv::out_shape`].
    pub fn eval(&self, x: &Tensor) -> Tensor {
        let (n, ci, h, w) = nchw(&x.shape).unwrap_or_default();
        let out_shape = self.out_shape(&x.shape).unwrap_or_default();
        let (co, oh, ow) = (out_shape[1], out_shape[2], out_shape[3]);
        let [kh, kw] = self.window.kernel;
        let mut out = Vec::with_capacity(n * co * oh * ow);
        for b in 0..n {
            let img = &x.data[b * ci * h * w..(b + 1) * ci * h * w];
            for (o, filt) in self.weight.data.chunks_exact(ci * kh * kw).enumerate() {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = self.bias[o];
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let Some((y, xx)) = self.window.tap((oy, ox), (ky, kx), (h, w))
                                else {
                                    continue;
                                };
                                for c in 0..ci {
                                    acc +=
                                        img[(c * h + y) * w + xx] * filt[(c * kh + ky) * kw + kx];
                                }
                            }
                        }
                        out.push(acc);
                    }
                }
            }
        }
        Tensor::new(out_shape, out)
    }

    /// Largest accumulator magnitude for inputs bounded by `x_bound` (padding only lowers it).
    pub fn bound(&self, x_bound: i64) -> i128 {
        filters_bound(&self.weight, &self.bias, x_bound)
    }
}

/// `max_o (‖W_o‖₁ · x_bound + |b_o|)` over the filters (rows of the outermost axis) of `weight`.
fn filters_bound(weight: &Tensor, bias: &[i64], x_bound: i64) -> i128 {
    let per_filter = (weight.len() / weight.shape[0].max(1)).max(1);
    weight
        .data
        .chunks_exact(per_filter)
        .zip(bias)
        .map(|(w, b)| {
            let l1: i128 = w.iter().map(|v| i128::from(v.unsigned_abs())).sum();
            l1.saturating_mul(i128::from(x_bound)) + i128::from(b.unsigned_abs())
        })
        .max()
        .unwrap_or(0)
}
