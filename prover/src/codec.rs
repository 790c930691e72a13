//! The compact proof encoding: the EVM transcript with its curve points compressed.
//!
//! A proof's bytes ([`crate::Proof::bytes`]) are snark-verifier's EVM transcript: commitments as
//! uncompressed G1 points (`x ‖ y`, 64 bytes big-endian, what the Solidity verifier reads from
//! calldata) and evaluations as 32-byte scalars. A point is determined by `x` and the parity of
//! `y`, so files and REST responses carry each point in 32 bytes, as halo2's own transcript
//! does; [`expand`] restores the exact EVM bytes (the Fiat–Shamir challenges are over those, so
//! nothing about the proof changes) for native verification and calldata.
//!
//! Layout: `[lead: u8][tail: u8]`, `lead` compressed points, the middle bytes verbatim, `tail`
//! compressed points. halo2 writes all commitments before the evaluations and SHPLONK's two
//! opening commitments after them, so [`compact`] counts the 64-byte chunks that are valid curve
//! points from the front and from the back. Two scalars that happen to form a curve point
//! (probability ~2^-127) would be compressed too — harmless: the encoding is lossless for any
//! input, a damaged chunk that is no point simply stays verbatim, and the verifier decides.
//!
//! A compressed point is `x` big-endian with two flag bits in its first byte (BN254's base field
//! is 254 bits, so they are always free in `x`): `0x80` y is odd, `0x40` the point at infinity
//! (all other bits zero).
//!
//! The encoding is canonical: [`expand`] accepts only what [`compact`] writes for the bytes it
//! restores (every point-shaped chunk compressed, nothing else), so one proof has exactly one
//! file encoding and a file cannot be re-encoded into a second one that names the same proof
//! (which would defeat deduplication by file hash).

use halo2curves::bn256::{Fq, G1Affine};
use halo2curves::ff::{Field, PrimeField};
use halo2curves::CurveAffine;

use crate::error::{ProverError, Result};

const POINT: usize = 64;
const COMPRESSED: usize = 32;
const ODD: u8 = 0x80;
const INFINITY: u8 = 0x40;
/// Most points counted at either end (the count is one byte).
const MAX_POINTS: usize = u8::MAX as usize;

/// The compact encoding of EVM transcript bytes (never longer than `evm` plus two bytes).
pub fn compact(evm: &[u8]) -> Vec<u8> {
    let chunks = evm.len() / POINT;
    let lead = (0..chunks.min(MAX_POINTS))
        .take_while(|&i| point(&evm[i * POINT..][..POINT]).is_some())
        .count();
    // From the back, 64-byte chunks aligned to the end, never overlapping the leading points.
    let room = (evm.len() - lead * POINT) / POINT;
    let tail = (0..room.min(MAX_POINTS))
        .take_while(|&i| point(&evm[evm.len() - (i + 1) * POINT..][..POINT]).is_some())
        .count();
    let (head, rest) = evm.split_at(lead * POINT);
    let (middle, back) = rest.split_at(rest.len() - tail * POINT);
    let mut out = Vec::with_capacity(2 + (lead + tail) * COMPRESSED + middle.len());
    out.extend([lead as u8, tail as u8]);
    head.chunks(POINT).for_each(|c| out.extend(compress(c)));
    out.extend_from_slice(middle);
    back.chunks(POINT).for_each(|c| out.extend(compress(c)));
    out
}

/// The EVM transcript bytes a compact encoding holds; a point that does not decompress (no
/// curve point has that `x`, bad flags, `x` not below the field modulus) is an error naming it.
pub fn expand(compact: &[u8]) -> Result<Vec<u8>> {
    let bad = |reason: String| ProverError::ProofFormat { reason };
    let (&[lead, tail], rest) = compact
        .split_first_chunk::<2>()
        .ok_or_else(|| bad("the proof is shorter than its 2-byte header".into()))?;
    let (lead, tail) = (lead as usize, tail as usize);
    let points = (lead + tail) * COMPRESSED;
    if rest.len() < points {
        return Err(bad(format!(
            "the header announces {} compressed points ({points} bytes), the proof has {}",
            lead + tail,
            rest.len()
        )));
    }
    let (head, rest) = rest.split_at(lead * COMPRESSED);
    let (middle, back) = rest.split_at(rest.len() - tail * COMPRESSED);
    let point = |i: usize, c: &[u8]| {
        decompress(c).ok_or_else(|| {
            bad(format!(
                "compressed point {i} (0x{}) is not a point of the curve",
                hex::encode(c)
            ))
        })
    };
    let mut out = Vec::with_capacity((lead + tail) * POINT + middle.len());
    for (i, c) in head.chunks(COMPRESSED).enumerate() {
        out.extend(point(i, c)?);
    }
    out.extend_from_slice(middle);
    for (i, c) in back.chunks(COMPRESSED).enumerate() {
        out.extend(point(lead + i, c)?);
    }
    if compact != self::compact(&out) {
        return Err(bad(
            "not the canonical encoding of the proof it holds (a point left uncompressed, or \
             fewer points announced than it has)"
                .into(),
        ));
    }
    Ok(out)
}

/// The point an EVM chunk `x ‖ y` encodes, when it is one (the identity is `0 ‖ 0`).
fn point(chunk: &[u8]) -> Option<G1Affine> {
    let x = fq(&chunk[..32])?;
    let y = fq(&chunk[32..])?;
    Option::from(G1Affine::from_xy(x, y))
}

/// A canonical big-endian base-field element.
fn fq(be: &[u8]) -> Option<Fq> {
    let mut le = [0u8; 32];
    le.copy_from_slice(be);
    le.reverse();
    Option::from(Fq::from_repr(le))
}

fn compress(chunk: &[u8]) -> [u8; COMPRESSED] {
    let mut out = [0u8; COMPRESSED];
    if chunk.iter().all(|&b| b == 0) {
        out[0] = INFINITY;
        return out;
    }
    out.copy_from_slice(&chunk[..32]);
    if chunk[63] & 1 == 1 {
        out[0] |= ODD;
    }
    out
}

fn decompress(c: &[u8]) -> Option<[u8; POINT]> {
    let flags = c[0] & (ODD | INFINITY);
    let mut xb = [0u8; 32];
    xb.copy_from_slice(c);
    xb[0] &= !(ODD | INFINITY);
    if flags == INFINITY {
        return xb.iter().all(|&b| b == 0).then_some([0u8; POINT]);
    }
    if flags & INFINITY != 0 {
        return None;
    }
    let x = fq(&xb)?;
    // y² = x³ + 3 on BN254's G1.
    let y: Fq = Option::from((x.square() * x + Fq::from(3)).sqrt())?;
    let odd = flags & ODD != 0;
    let y = if (y.to_repr()[0] & 1 == 1) == odd {
        y
    } else {
        -y
    };
    let mut out = [0u8; POINT];
    out[..32].copy_from_slice(&xb);
    let mut yb = y.to_repr();
    yb.reverse();
    out[32..].copy_from_slice(&yb);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2curves::bn256::{Fr, G1};
    use halo2curves::group::prime::PrimeCurveAffine;
    use halo2curves::group::Curve;

    fn evm_point(p: G1Affine) -> Vec<u8> {
        let mut v = Vec::new();
        for c in [p.x, p.y] {
            let mut be = c.to_repr();
            be.reverse();
            v.extend_from_slice(&be);
        }
        v
    }

    fn scalar(n: u64) -> Vec<u8> {
        let mut be = Fr::from(n).to_repr();
        be.reverse();
        be.to_vec()
    }

    /// Points, an odd number of scalars, then two points: the shape of a halo2 SHPLONK proof.
    fn transcript() -> Vec<u8> {
        let g = G1::generator();
        let mut v = Vec::new();
        for i in 1..=5u64 {
            v.extend(evm_point((g * Fr::from(i * 7919)).to_affine()));
        }
        v.extend(evm_point(G1Affine::identity()));
        for i in 0..7 {
            v.extend(scalar(1_000_003 * i + 11));
        }
        v.extend(evm_point((g * Fr::from(3)).to_affine()));
        v.extend(evm_point((-g * Fr::from(5)).to_affine()));
        v
    }

    #[test]
    fn points_shrink_to_half_and_expand_to_the_same_bytes() {
        let evm = transcript();
        let c = compact(&evm);
        assert_eq!((c[0], c[1]), (6, 2));
        assert_eq!(c.len(), 2 + 8 * 32 + 7 * 32);
        assert_eq!(expand(&c).expect("expands"), evm);
    }

    #[test]
    fn any_bytes_round_trip() {
        for evm in [Vec::new(), vec![7u8; 31], vec![0u8; 64], vec![0xffu8; 200]] {
            assert_eq!(expand(&compact(&evm)).expect("expands"), evm);
        }
        // A damaged point stays verbatim: still lossless.
        let mut evm = transcript();
        evm[64 + 40] ^= 1;
        let c = compact(&evm);
        assert_eq!(c[0], 1);
        assert_eq!(expand(&c).expect("expands"), evm);
    }

    #[test]
    fn non_canonical_encodings_are_refused() {
        let evm = transcript();
        let c = compact(&evm);
        // The same bytes with the last leading point left verbatim: expands to the same proof,
        // so it must be refused.
        let mut fewer = vec![c[0] - 1, c[1]];
        fewer.extend_from_slice(&c[2..2 + 5 * COMPRESSED]);
        fewer.extend_from_slice(&evm[5 * POINT..evm.len() - 2 * POINT]);
        fewer.extend_from_slice(&c[c.len() - 2 * COMPRESSED..]);
        let e = expand(&fewer).expect_err("refused").to_string();
        assert!(e.contains("canonical"), "{e}");
        // The same with the first of the two trailing points left verbatim (in the middle).
        let mut tail = c[..c.len() - 2 * COMPRESSED].to_vec();
        tail[1] -= 1;
        tail.extend_from_slice(&evm[evm.len() - 2 * POINT..evm.len() - POINT]);
        tail.extend_from_slice(&c[c.len() - COMPRESSED..]);
        assert_eq!(expand(&compact(&evm)).expect("expands"), evm);
        assert!(expand(&tail)
            .expect_err("refused")
            .to_string()
            .contains("canonical"));
        // A point whose x is written with an extra (ignored) flag combination is no second
        // encoding either: infinity with a non-zero x is refused.
        let mut inf = c.clone();
        inf[2 + 5 * COMPRESSED] |= ODD;
        assert!(expand(&inf).is_err());
    }

    #[test]
    fn bad_encodings_are_named() {
        let c = compact(&transcript());
        for (bytes, needle) in [
            (vec![], "2-byte header"),
            (vec![9, 0, 1, 2], "announces 9 compressed points"),
        ] {
            let e = expand(&bytes).expect_err("refused").to_string();
            assert!(e.contains(needle), "{e}");
        }
        // An x with no curve point above it: x³ + 3 not a square.
        let mut bad = c.clone();
        let x = (2u64..)
            .find(|&x| {
                bool::from(
                    (Fq::from(x).square() * Fq::from(x) + Fq::from(3))
                        .sqrt()
                        .is_none(),
                )
            })
            .expect("a non-residue");
        let mut be = Fq::from(x).to_repr();
        be.reverse();
        bad[2..34].copy_from_slice(&be);
        let e = expand(&bad).expect_err("refused").to_string();
        assert!(e.contains("compressed point 0"), "{e}");
        let mut flags = c.clone();
        flags[2] |= INFINITY;
        assert!(expand(&flags).is_err());
    }
}
