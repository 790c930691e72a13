//! Max and sum pooling over NCHW tensors. Average pooling is a sum pool followed by a rounded
//! division by the window size, so the only non-linear step stays the shared rounding rule.

use super::window::{nchw, Window};
use crate::tensor::Tensor;

/// How a pool combines the values under its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// Maximum over the in-bounds taps (padding never wins).
    Max,
    /// Sum over the in-bounds taps (padding counts as zero).
    Sum,
}

/// Output shape of a pool, or `None` when the window does not fit.
pub fn pool_shape(window: &Window, input: &[usize]) -> Option<Vec<usize>> {
    let (n, c, h, w) = nchw(input)?;
    let (oh, ow) = window.out_hw(h, w)?;
    Some(vec![n, c, oh, ow])
}

/// Runs a pool; `x` must have a shape accepted by [`pool_shape`].
pub fn pool(kind: PoolKind, window: &Window, x: &Tensor) -> Tensor {
    let (n, c, h, w) = nchw(&x.shape).unwrap_or_default();
    let out_shape = pool_shape(window, &x.shape).unwrap_or_default();
    let (oh, ow) = (out_shape[2], out_shape[3]);
    let mut out = Vec::with_capacity(n * c * oh * ow);
    for plane in x.data.chunks_exact(h * w) {
        for oy in 0..oh {
            for ox in 0..ow {
                let taps = (0..window.kernel[0])
                    .flat_map(|ky| (0..window.kernel[1]).map(move |kx| (ky, kx)))
                    .filter_map(|k| window.tap((oy, ox), k, (h, w)))
                    .map(|(y, xx)| plane[y * w + xx]);
                out.push(match kind {
                    PoolKind::Max => taps.max().unwrap_or(0),
                    PoolKind::Sum => taps.sum(),
                });
            }
        }
    }
    Tensor::new(out_shape, out)
}
