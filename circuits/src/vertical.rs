//! What the narrow and dense layouts share: both lay out one run op by op from the trace, take
//! fixed weights and a public or private input only, ArgMax only as the last op, and walk a
//! convolution's taps in the runtime's order.

use poa_runtime::ops::{Conv, Op};
use poa_runtime::QModel;

use crate::error::CircuitError;
use crate::visibility::{InputVisibility, Visibility, WeightVisibility};

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
