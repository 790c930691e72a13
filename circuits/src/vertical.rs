//! What the narrow and dense layouts share: both lay out one run op by op from the trace
//! ([`run`], each through its own [`Backend`]), take fixed weights and a public or private
//! input only (the dense layout also hashes its input, after the run), ArgMax only as the last
//! op, and walk a window's taps (Conv, pools) in the runtime's order.

use halo2curves::bn256::Fr;
use poa_runtime::graph::Node;
use poa_runtime::ops::{argmax as first_max, nchw, pool_shape, Conv, Op, Table, Window};
use poa_runtime::quant::{bits_for, div_round_remainder};
use poa_runtime::tensor::broadcast_index;
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
        reason: format!("{what}; prove it with `--layout wide`"),
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
                 prove it with `--layout wide`"
            ),
        });
    }
    Ok(())
}

/// In-bounds taps `(ky, kx, y, x)` of output `pos` of `window` over an `h × w` plane, in kernel
/// order; padding taps are skipped (Conv reads them as zero, pools ignore them), as the runtime
/// does. Conv and the pools of every layout walk their windows through this one function.
pub(crate) fn taps(
    window: &Window,
    pos: (usize, usize),
    hw: (usize, usize),
) -> impl Iterator<Item = (usize, usize, usize, usize)> + '_ {
    let [kh, kw] = window.kernel;
    (0..kh)
        .flat_map(move |ky| (0..kw).map(move |kx| (ky, kx)))
        .filter_map(move |(ky, kx)| window.tap(pos, (ky, kx), hw).map(|(y, x)| (ky, kx, y, x)))
}

/// Output positions `(oy, ox)` of an `oh × ow` output plane, row-major.
pub(crate) fn positions(oh: usize, ow: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..oh).flat_map(move |oy| (0..ow).map(move |ox| (oy, ox)))
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
            for pos in positions(oh, ow) {
                let mut terms = Vec::with_capacity(ci * kh * kw);
                for (ky, kx, y, xx) in taps(&cv.window, pos, (h, w)) {
                    for c in 0..ci {
                        terms.push((img + (c * h + y) * w + xx, filt[(c * kh + ky) * kw + kx]));
                    }
                }
                out.push(Taps { terms, bias });
            }
        }
    }
    Some(out)
}

/// The input indices under every output of a pool of `window` over an NCHW input of `shape`,
/// in the runtime's order (plane, row, column); `None` when the window does not fit.
pub(crate) fn pool_taps(window: &Window, shape: &[usize]) -> Option<Vec<Vec<usize>>> {
    let (n, c, h, w) = nchw(shape)?;
    let out = pool_shape(window, shape)?;
    let mut all = Vec::with_capacity(out.iter().product());
    for plane in 0..n * c {
        for pos in positions(out[2], out[3]) {
            all.push(
                taps(window, pos, (h, w))
                    .map(|(_, _, y, x)| plane * h * w + y * w + x)
                    .collect(),
            );
        }
    }
    Some(all)
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
    /// A SumPool output one more than its window's sum.
    PoolSum,
    /// A MaxPool output taken from a tap below its window's maximum (the first window whose
    /// taps differ).
    PoolChoice,
    /// An AddConst or MulConst output one more than it computes.
    ConstOutput,
    /// A table's looked-up output one more.
    TableOutput,
    /// An input outside a table's domain looked up in the run one step inside the edge run
    /// (which holds the clamped value).
    TableClamp,
    /// The sign (mirror) bit of a mirrored table's nonzero input flipped, the output kept.
    TableMirror,
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
    /// The maximum of `xs` (`|x| ≤ bound`, at least one), `choice` the witnessed index of a
    /// maximal tap; `None` where the layout does not lay MaxPool out (its `check_ops` refuses
    /// it first).
    fn max(&mut self, xs: &[Self::Cell], choice: usize, bound: i128) -> Option<Self::Cell> {
        let _ = (xs, choice, bound);
        None
    }
    /// `table.lookup(x)` for `|x| ≤ bound`, with `forge` (one of the table forgeries) applied;
    /// `None` where the layout does not lay tables out (its `check_ops` refuses them first).
    fn table(
        &mut self,
        x: Self::Cell,
        table: &Table,
        bound: i128,
        forge: Option<Forge>,
    ) -> Option<Self::Cell> {
        let _ = (x, table, bound, forge);
        None
    }
}

/// Lays out the input and every op of `model` from `trace` through `b`, applying `forge` once
/// where it first fits; `refuse` names an op the backend does not take (a `None` from a default
/// [`Backend`] method; the layout's `check_ops` refuses such ops first). Returns every tensor's
/// cells; a layer whose cells differ from the trace is an error unless forged.
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
            Op::AddConst { constant } | Op::MulConst { constant } => {
                // One affine term each: `x·1 + c` or `x·c + 0`, the constant broadcast.
                let add = matches!(node.op, Op::AddConst { .. });
                let shape = &model.tensors[node.inputs[0]].shape;
                let mut out = Vec::with_capacity(want.len());
                for (j, &xc) in x.iter().enumerate() {
                    let c = constant.data[broadcast_index(j, shape, &constant.shape)];
                    let (w, bias) = if add { (1, c) } else { (c, 0) };
                    out.push(b.dot(&[(xc, w)], bias, hit(Forge::ConstOutput)));
                }
                out
            }
            Op::SumPool(win) | Op::MaxPool(win) => {
                let bad = |reason: &str| CircuitError::UnsupportedShape {
                    layer: node.name.clone(),
                    reason: reason.into(),
                };
                let windows = pool_taps(win, &model.tensors[node.inputs[0]].shape)
                    .ok_or_else(|| bad("the pool's input is not an NCHW shape its window fits"))?;
                let max = matches!(node.op, Op::MaxPool(_));
                let mut out = Vec::with_capacity(windows.len());
                for idx in windows {
                    let cells: Vec<B::Cell> = idx.iter().map(|&j| x[j]).collect();
                    if !max {
                        let terms: Vec<_> = cells.iter().map(|&c| (c, 1)).collect();
                        out.push(b.dot(&terms, 0, hit(Forge::PoolSum)));
                        continue;
                    }
                    if cells.is_empty() {
                        return Err(bad("a MaxPool window lies entirely in the padding"));
                    }
                    let vals: Vec<i64> = idx.iter().map(|&j| x_vals[j]).collect();
                    let mut choice = first_max(&vals);
                    // The forgery needs a window with a tap below its maximum.
                    if let Some(below) = vals.iter().position(|&v| v < vals[choice]) {
                        if hit(Forge::PoolChoice) {
                            choice = below;
                        }
                    }
                    out.push(
                        b.max(&cells, choice, in_bound)
                            .ok_or_else(|| refuse(node, i))?,
                    );
                }
                out
            }
            Op::Table(t) => {
                let hi = t.lo + t.values.len() as i64 - 1;
                let mut out = Vec::with_capacity(want.len());
                for (&xc, &xv) in x.iter().zip(x_vals) {
                    let fits = |f: Forge| match f {
                        Forge::TableClamp => xv < t.lo || xv > hi,
                        Forge::TableMirror => xv != 0,
                        _ => true,
                    };
                    let f = [Forge::TableOutput, Forge::TableClamp, Forge::TableMirror]
                        .into_iter()
                        .find(|&f| forge == Some(f) && fits(f))
                        .filter(|&f| hit(f));
                    out.push(b.table(xc, t, in_bound, f).ok_or_else(|| refuse(node, i))?);
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
