//! The one mapping between the runtime's signed integers and BN254 scalar-field elements.
//!
//! A signed integer `v` is the field element `v mod p`: `Fr::from(v)` for `v ≥ 0` and
//! `-Fr::from(-v)` otherwise. Every witness, constant and public instance goes through here.

use halo2_proofs::circuit::Value;
use halo2curves::bn256::Fr;
use halo2curves::ff::PrimeField;

/// Field element of a signed 64-bit integer.
pub fn fe(v: i64) -> Fr {
    fe128(i128::from(v))
}

/// Field element of a signed 128-bit integer (used for partial sums and range-check operands).
pub fn fe128(v: i128) -> Fr {
    let mag = v.unsigned_abs();
    let lo = Fr::from(mag as u64);
    let hi = Fr::from((mag >> 64) as u64);
    let f = hi * Fr::from(1u64 << 32) * Fr::from(1u64 << 32) + lo;
    if v < 0 {
        -f
    } else {
        f
    }
}

/// The signed integer a field element encodes, when it lies in `[-2^63, 2^63)`; `None` otherwise.
pub fn to_i64(f: &Fr) -> Option<i64> {
    let small = |x: &Fr| -> Option<u64> {
        let repr = x.to_repr();
        let bytes = repr.as_ref();
        if bytes[8..].iter().any(|&b| b != 0) {
            return None;
        }
        let mut le = [0u8; 8];
        le.copy_from_slice(&bytes[..8]);
        Some(u64::from_le_bytes(le))
    };
    if let Some(v) = small(f) {
        return i64::try_from(v).ok();
    }
    let neg = small(&-*f)?;
    if neg <= 1u64 << 63 {
        Some((neg as i128).wrapping_neg() as i64)
    } else {
        None
    }
}

/// A witness value: known when a trace is present, unknown during keygen.
pub(crate) fn wit(v: Option<i64>) -> Value<Fr> {
    match v {
        Some(v) => Value::known(fe(v)),
        None => Value::unknown(),
    }
}

/// [`wit`] for 128-bit values.
pub(crate) fn wit128(v: Option<i128>) -> Value<Fr> {
    match v {
        Some(v) => Value::known(fe128(v)),
        None => Value::unknown(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_round_trip() {
        for v in [0, 1, -1, 42, -42, i64::MAX, i64::MIN, 1 << 40, -(1 << 40)] {
            assert_eq!(to_i64(&fe(v)), Some(v), "{v}");
        }
        assert_eq!(fe(-5) + fe(5), Fr::zero());
        assert_eq!(fe128(1i128 << 70), fe(1 << 35) * fe(1 << 35));
        assert_eq!(to_i64(&fe128(1i128 << 70)), None);
    }
}
