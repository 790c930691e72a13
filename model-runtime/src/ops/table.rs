//! Bounded lookup tables for smooth activations (Sigmoid, Tanh).
//!
//! The table covers `[lo, lo + len)`; inputs outside are clamped. The domain is cut where the
//! function's *rounded* output has already reached its rounded limit, so clamping is exact:
//! the table gives `round(f(x / 2^s) · 2^s)` for every integer `x`, not an approximation of it.

use serde::{Deserialize, Serialize};

use crate::quant::{dequantize, quantize};

/// Which function a table holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TableFn {
    /// Logistic function `1 / (1 + e^-x)`.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
}

impl TableFn {
    fn eval(self, x: f64) -> f64 {
        match self {
            Self::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Self::Tanh => x.tanh(),
        }
    }

    /// Limits at `-∞` and `+∞`.
    fn limits(self) -> (f64, f64) {
        match self {
            Self::Sigmoid => (0.0, 1.0),
            Self::Tanh => (-1.0, 1.0),
        }
    }
}

/// A materialised lookup table at one scale (input and output share it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// The function tabulated.
    pub func: TableFn,
    /// Fractional bits of input and output.
    pub scale: u32,
    /// First input covered.
    pub lo: i64,
    /// `values[i] = f(lo + i)` in fixed point.
    pub values: Vec<i64>,
}

impl Table {
    /// Builds the smallest exact table for inputs bounded by `|x| ≤ bound`.
    pub fn build(func: TableFn, scale: u32, bound: i64) -> Self {
        match Self::try_build(func, scale, bound, usize::MAX) {
            Some(t) => t,
            None => unreachable!("an uncapped table always builds"),
        }
    }

    /// Like [`Table::build`], but gives up (without allocating) once the table would need more
    /// than `max_len` entries.
    pub fn try_build(func: TableFn, scale: u32, bound: i64, max_len: usize) -> Option<Self> {
        let q = |x: i64| quantize(func.eval(dequantize(x, scale)), scale);
        let (lo_lim, hi_lim) = func.limits();
        let (lo_q, hi_q) = (quantize(lo_lim, scale), quantize(hi_lim, scale));
        let cap = i64::try_from(max_len).unwrap_or(i64::MAX);
        // Monotone functions: walk out until the rounded value sits at its limit.
        let mut hi = 0;
        while hi < bound && q(hi) != hi_q {
            hi += 1;
            if hi >= cap {
                return None;
            }
        }
        let mut lo = 0;
        while lo > -bound && q(lo) != lo_q {
            lo -= 1;
            if hi - lo >= cap {
                return None;
            }
        }
        Some(Self {
            func,
            scale,
            lo,
            values: (lo..=hi).map(q).collect(),
        })
    }

    /// Looks `x` up, clamping to the table's domain.
    pub fn lookup(&self, x: i64) -> i64 {
        let last = self.values.len() as i64 - 1;
        let i = (x - self.lo).clamp(0, last);
        self.values[i as usize]
    }

    /// Largest output magnitude.
    pub fn bound(&self) -> i64 {
        self.values.iter().map(|v| v.abs()).max().unwrap_or(0)
    }
}
