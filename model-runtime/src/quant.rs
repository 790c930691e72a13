//! Fixed-point encoding and the single definition of rounding.
//!
//! A real value `v` at scale `s` is stored as the integer `round(v · 2^s)` (ties away from
//! zero). Every rescale in the runtime is a *rounded division* by a positive integer `d`:
//! `y = floor((x + floor(d/2)) / d)`, i.e. round half up. A circuit checks it exactly with
//! `x + floor(d/2) = y·d + r` and a range check `0 ≤ r < d`; for `d = 2^k` this is a shift.

use crate::error::{Result, RuntimeError};

/// Encodes `v` at scale `s` (fractional bits): `round(v · 2^s)`, ties away from zero.
///
/// The caller guarantees `v` is finite and `|v · 2^s| < 2^62`; see [`quantize_checked`].
pub fn quantize(v: f64, scale: u32) -> i64 {
    (v * f64::from(scale).exp2()).round() as i64
}

/// Encodes `v` at scale `s`, rejecting non-finite values and magnitudes over 2^62.
pub fn quantize_checked(v: f64, scale: u32, what: &str) -> Result<i64> {
    let scaled = v * f64::from(scale).exp2();
    if !scaled.is_finite() || scaled.abs() >= 2f64.powi(62) {
        return Err(RuntimeError::graph(
            what,
            format!("constant {v} does not fit 62 bits at scale {scale}"),
        ));
    }
    Ok(scaled.round() as i64)
}

/// Decodes an integer at scale `s` back to a real value.
pub fn dequantize(q: i64, scale: u32) -> f64 {
    q as f64 / f64::from(scale).exp2()
}

/// Rounded division by a positive divisor: `floor((x + floor(d/2)) / d)` (round half up).
///
/// Computed in i128 so it is exact for every `i64` input.
pub fn div_round(x: i64, d: i64) -> i64 {
    debug_assert!(d > 0, "divisor must be positive");
    let d = i128::from(d);
    (i128::from(x) + d / 2).div_euclid(d) as i64
}

/// The remainder a circuit range-checks for [`div_round`]: `x + floor(d/2) - y·d`, in `[0, d)`.
pub fn div_round_remainder(x: i64, d: i64) -> i64 {
    let d = i128::from(d);
    (i128::from(x) + d / 2).rem_euclid(d) as i64
}

/// Largest magnitude `div_round` can produce for inputs with `|x| ≤ bound`.
pub fn div_round_bound(bound: i64, d: i64) -> i64 {
    div_round(bound, d).abs().max(div_round(-bound, d).abs())
}

/// The largest magnitude of `bound`'s signed byte width: `2^(8m − 1) − 1` for the fewest bytes
/// `m` holding `±bound`, capped at `2^62` ([`crate::graph::ACCUMULATOR_LIMIT_BITS`]). Bounds
/// rounded this way change only when a value crosses a byte boundary, and `2·b` then fills
/// whole 8-bit range-check limbs.
pub fn byte_rounded(bound: i64) -> i64 {
    let bytes = (bits_for(i128::from(bound)) + 1).div_ceil(8).max(1);
    let cap = 1i64 << crate::graph::ACCUMULATOR_LIMIT_BITS;
    if bytes >= 8 {
        return cap;
    }
    ((1i64 << (8 * bytes - 1)) - 1).min(cap)
}

/// Number of bits needed to represent magnitudes up to `bound` (0 for 0).
pub fn bits_for(bound: i128) -> u32 {
    128 - bound.unsigned_abs().leading_zeros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_rounded_is_the_top_of_the_signed_byte_width() {
        assert_eq!(byte_rounded(0), 127);
        assert_eq!(byte_rounded(127), 127);
        assert_eq!(byte_rounded(128), 32_767);
        assert_eq!(byte_rounded(32_767), 32_767);
        assert_eq!(byte_rounded(32_768), (1 << 23) - 1);
        assert_eq!(byte_rounded(1 << 40), (1 << 47) - 1);
        assert_eq!(byte_rounded(1 << 62), 1 << 62);
        assert_eq!(byte_rounded((1 << 55) - 1), (1 << 55) - 1);
        for b in [1, 100, 5_000, 1 << 30] {
            let r = byte_rounded(b);
            assert!(r >= b && byte_rounded(r) == r);
            assert_eq!(
                bits_for(2 * i128::from(r)) % 8,
                0,
                "2·{r} fills whole bytes"
            );
        }
    }
}
