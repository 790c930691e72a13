//! Sliding-window geometry shared by Conv and the pools.

use serde::{Deserialize, Serialize};

/// A 2-D sliding window over the last two axes of an NCHW tensor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Vertical and horizontal stride.
    pub stride: [usize; 2],
    /// Zero padding: top, left, bottom, right.
    pub pads: [usize; 4],
}

impl Window {
    /// Output height and width for an `h × w` input, or `None` when the kernel does not fit
    /// or a stride is zero.
    pub fn out_hw(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.stride;
        let ph = h + self.pads[0] + self.pads[2];
        let pw = w + self.pads[1] + self.pads[3];
        if sh == 0 || sw == 0 || kh == 0 || kw == 0 || kh > ph || kw > pw {
            return None;
        }
        Some(((ph - kh) / sh + 1, (pw - kw) / sw + 1))
    }

    /// Input coordinate of kernel tap `(ky, kx)` for output `(oy, ox)`; `None` when it falls in
    /// the padding.
    pub fn tap(
        &self,
        (oy, ox): (usize, usize),
        (ky, kx): (usize, usize),
        (h, w): (usize, usize),
    ) -> Option<(usize, usize)> {
        let y = (oy * self.stride[0] + ky).checked_sub(self.pads[0])?;
        let x = (ox * self.stride[1] + kx).checked_sub(self.pads[1])?;
        (y < h && x < w).then_some((y, x))
    }

    /// Number of kernel taps.
    pub fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }
}

/// Splits an NCHW shape into `(n, c, h, w)`.
pub fn nchw(shape: &[usize]) -> Option<(usize, usize, usize, usize)> {
    match shape {
        [n, c, h, w] => Some((*n, *c, *h, *w)),
        _ => None,
    }
}
