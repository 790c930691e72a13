//! What the narrow and dense layouts share: both lay out one run op by op from the trace
//! ([`run`], each through its own [`Backend`]), take fixed weights and a public or private
//! input only (the dense layout also hashes its input, after the run), ArgMax only as the last
//! op, and walk a convolution's taps in the runtime's order.

use halo2curves::bn256::Fr;
use poa_runtime::graph::Node;
use poa_runtime::ops::{Conv, Op};
use poa_runtime::quant::{bits_for, div_round_remainder};
use poa_runtime::{QModel, Trace};

use crate::error::CircuitError;
use crate::field::fe;
use crate::visibility::{InputVisibility, Visibility, WeightVisibility};

/// Bits of a range check that holds exactly the values in `[0, 2·bound]` (a value in
/// `[−bound, bound]` shifted by `bound`), at least 1.
pub(crate) fn signed_bits(bound: i128) -> u32 {
    bits_for(2 * bound).max(1)
}

/// Refuses hashed weights or a hashed input for `layout`, naming the way out.
pub(crate) fn check_visibility(vis: &Visibility, layout: &str) -> Result<(), CircuitError> {
    let refuse = |what: &str| CircuitError::UnsupportedShape {
        layer: format!("{layout} layout"),
        reason: format!("{what}; prove it with the default (wide) layout"),
    };
    if vis.weights != WeightVisibility::Fixed {
        return Err(refuse("only fixed weights are supported"));
    }
    if vis.input == InputVisibility::Hashed {
        return Err(refuse(
            "hashed inputs are not supported (use public or private)",
        ));
    }
    Ok(())
}

/// Refuses an ArgMax (node `i`) that is not the last op over a `[1, n]` tensor.
pub(crate) fn check_argmax(model: &QModel, i: usize, layout: &str) -> Result<(), CircuitError> {
    let node = &model.nodes[i];
    if !matches!(node.op, Op::ArgMax { .. }) {
        return Ok(());
    }
    let shape = &model.tensors[node.inputs[0]].shape;
    if i + 1 != model.nodes.len() || shape.len() != 2 || shape[0] != 1 {
        return Err(CircuitError::UnsupportedShape {
            layer: node.name.clone(),
            reason: format!(
                "the {layout} layout takes ArgMax only as the last op over [1, n], got {shape:?}; \
                 prove it with the default (wide) layout"
            ),
        });
    }
    Ok(())
}

/// One convolution output: `(input index, weight)` per in-bounds tap (padding taps skipped, as
/// the runtime does), and the bias.
pub(crate) struct Taps {
    pub terms: Vec<(usize, i64)>,
    pub bias: i64,
}

/// The taps of every output of `cv` over an NCHW input of `shape`, in the runtime's order
/// (batch, filter, row, column); `None` when the shape is not NCHW or the kernel does not fit.
pub(crate) fn conv_taps(cv: &Conv, shape: &[usize]) -> Option<Vec<Taps>> {
    let &[n, ci, h, w] = shape else { return None };
    let out_shape = cv.out_shape(shape)?;
    let (oh, ow) = (out_shape[2], out_shape[3]);
    let [kh, kw] = cv.window.kernel;
    let mut out = Vec::with_capacity(out_shape.iter().product());
    for b in 0..n {
        let img = b * ci * h * w;
        for (filt, &bias) in cv.weight.data.chunks_exact(ci * kh * kw).zip(&cv.bias) {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut terms = Vec::with_capacity(ci * kh * kw);
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let Some((y, xx)) = cv.window.tap((oy, ox), (ky, kx), (h, w)) else {
                                continue;
                            };
                            for c in 0..ci {
                                terms.push((
                                    img + (c * h + y) * w + xx,
                                    filt[(c * kh + ky) * kw + kx],
                                ));
                            }
                        }
                    }
                    out.push(Taps { terms, bias });
                }
            }
        }
    }
    Some(out)
}

/// A forgery the shared run applies once, where it first fits (negative tests only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Forge {
    /// A Gemm/Conv output one more than its dot product.
    Product,
    /// A DivRound's quotient one less, its remainder `d` more (out of range).
    Remainder,
    /// A Relu's sign bit flipped.
    ReluSign,
    /// The predicted class one more (mod the classes).
    ClassOff,
    /// The first input value replaced by this one (out of its bound).
    Input(i64),
}

/// How one layout constrains each op of a run; [`run`] walks the model and calls these with
/// the trace's values.
pub(crate) trait Backend {
    /// An assigned cell.
    type Cell: Copy;
    /// The value a cell holds.
    fn value(cell: &Self::Cell) -> Fr;
    /// A fresh input value, checked to `|v| ≤ bound`.
    fn input(&mut self, v: i64, bound: i128) -> Self::Cell;
    /// `bias + Σ x·w`; `forge` adds one to it.
    fn dot(&mut self, terms: &[(Self::Cell, i64)], bias: i64, forge: bool) -> Self::Cell;
    /// `q = div_round(x, d)` with remainder `r`, `q` within `q_bound`.
    fn div_round(&mut self, x: Self::Cell, q: i64, d: i64, r: i64, q_bound: i128) -> Self::Cell;
    /// `max(0, x)` for `|x| < 2^bits`, the sign witnessed.
    fn relu(&mut self, x: Self::Cell, non_negative: bool, bits: u32) -> Self::Cell;
    /// `a·2^sa + b·2^sb`.
    fn add(&mut self, a: Self::Cell, b: Self::Cell, sa: u32, sb: u32) -> Self::Cell;
    /// The first index of the maximum of `xs` (`|x| ≤ bound`), `class` witnessed.
    fn argmax(&mut self, xs: &[Self::Cell], class: i64, bound: i128) -> Self::Cell;
}

/// Lays out the input and every op of `model` from `trace` through `b`, applying `forge` once
/// where it first fits; `refuse` names an op the layout does not take (its `check_ops` refuses
/// them first). Returns every tensor's cells; a layer whose cells differ from the trace is an
/// error unless forged.
pub(crate) fn run<B: Backend>(
    b: &mut B,
    model: &QModel,
    trace: &Trace,
    forge: Option<Forge>,
    refuse: impl Fn(&Node, usize) -> CircuitError,
) -> Result<Vec<Vec<B::Cell>>, CircuitError> {
    let mut pending = forge;
    let mut hit = |f: Forge| {
        let h = pending == Some(f);
        if h {
            pending = None;
        }
        h
    };
    let input_bound = i128::from(model.input().bound);
    let forged_input = match forge {
        Some(Forge::Input(v)) => Some(v),
        _ => None,
    };
    let input = trace.tensors[0]
        .data
        .iter()
        .enumerate()
        .map(|(i, &v)| b.input(forged_input.filter(|_| i == 0).unwrap_or(v), input_bound))
        .collect();
    let mut cells: Vec<Vec<B::Cell>> = vec![input];
    for (i, node) in model.nodes.iter().enumerate() {
        let x = &cells[node.inputs[0]];
        let want = &trace.tensors[node.output].data;
        let x_vals = &trace.tensors[node.inputs[0]].data;
        let in_bound = i128::from(model.tensors[node.inputs[0]].bound);
        let out_bound = i128::from(model.tensors[node.output].bound);
        let out = match &node.op {
            Op::Gemm(g) => {
                let k = g.in_features();
                let mut out = Vec::with_capacity(want.len());
                for row in x.chunks(k) {
                    for (w, &bias) in g.weight.data.chunks(k).zip(&g.bias) {
                        let terms: Vec<_> = row.iter().copied().zip(w.iter().copied()).collect();
                        out.push(b.dot(&terms, bias, hit(Forge::Product)));
                    }
                }
                out
            }
            Op::Conv(cv) => {
                let bad = || CircuitError::UnsupportedShape {
                    layer: node.name.clone(),
                    reason: "the convolution's input is not an NCHW shape its kernel fits".into(),
                };
                let taps = conv_taps(cv, &model.tensors[node.inputs[0]].shape).ok_or_else(bad)?;
                let mut out = Vec::with_capacity(taps.len());
                for t in taps {
                    let terms = t
                        .terms
                        .iter()
                        .map(|&(j, w)| x.get(j).map(|&c| (c, w)))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(bad)?;
                    out.push(b.dot(&terms, t.bias, hit(Forge::Product)));
                }
                out
            }
            Op::DivRound { divisor } => {
                let d = *divisor;
                let mut out = Vec::with_capacity(want.len());
                for ((&xc, &q), &xv) in x.iter().zip(want).zip(x_vals) {
                    let r = div_round_remainder(xv, d);
                    let (q, r) = if hit(Forge::Remainder) {
                        (q - 1, r + d)
                    } else {
                        (q, r)
                    };
                    out.push(b.div_round(xc, q, d, r, out_bound));
                }
                out
            }
            Op::Relu => {
                let bits = bits_for(in_bound).max(1);
                let mut out = Vec::with_capacity(want.len());
                for (&xc, &xv) in x.iter().zip(x_vals) {
                    let sign = (xv >= 0) != hit(Forge::ReluSign);
                    out.push(b.relu(xc, sign, bits));
                }
                out
            }
            Op::Add { shift_a, shift_b } => {
                let y = &cells[node.inputs[1]];
                let mut out = Vec::with_capacity(want.len());
                for (&a, &c) in x.iter().zip(y) {
                    out.push(b.add(a, c, *shift_a, *shift_b));
                }
                out
            }
            Op::Reshape { .. } => x.clone(),
            Op::ArgMax { .. } => {
                let mut class = *want.first().unwrap_or(&0);
                if hit(Forge::ClassOff) {
                    class = (class + 1) % x.len() as i64;
                }
                vec![b.argmax(x, class, in_bound)]
            }
            // Refused by the layout's `check_ops` before layout; kept total rather than panicking.
            _ => return Err(refuse(node, i)),
        };
        let got: Vec<Fr> = out.iter().map(B::value).collect();
        let expect: Vec<Fr> = want.iter().map(|&v| fe(v)).collect();
        if got != expect && forge.is_none() {
            return Err(CircuitError::TraceMismatch {
                what: format!("layer `{}`", node.name),
                reason: "the trace's values are not what the op computes".into(),
            });
        }
        cells.push(out);
    }
    Ok(cells)
}
