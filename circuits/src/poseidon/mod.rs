//! Poseidon over BN254's `Fr`, natively and as a chip, computing the same function.
//!
//! Parameters: width 3 (rate 2, capacity 1), x⁵ S-box, 8 full and 57 partial rounds — the
//! 128-bit-security choice for BN254 that halo2-base and snark-verifier also use. Round
//! constants and the MDS matrix come from the reference Grain LFSR generator
//! (`poseidon-primitives`), so nothing is hand-copied.
//!
//! Hashing is the constant-length sponge of ePrint 2019/458 §4.2: the capacity starts as
//! `len · 2^64`, the message is zero-padded to a multiple of the rate, each chunk is added into
//! the rate part and permuted, and the digest is the first state word. Encoding the length in
//! the capacity makes messages of different lengths distinct despite the zero padding.
//!
//! - [`hash`], [`merkle_root`]: native functions (commitments computed outside circuits).
//! - [`chip`]: the in-circuit permutation and sponge.

pub mod chip;
pub mod merkle;
mod spec;

use halo2curves::bn256::Fr;
use halo2curves::ff::PrimeField;

pub use spec::{constants, is_full_round, Constants, FULL_ROUNDS, PARTIAL_ROUNDS, RATE, WIDTH};

/// The Poseidon permutation (in place).
pub fn permute(state: &mut [Fr; WIDTH]) {
    let c = constants();
    for (round, rc) in c.round_constants.iter().enumerate() {
        let full = is_full_round(round);
        for (s, k) in state.iter_mut().zip(rc) {
            *s += k;
        }
        if full {
            state.iter_mut().for_each(|s| *s = sbox(*s));
        } else {
            state[0] = sbox(state[0]);
        }
        *state = c.mds_mul(state);
    }
}

/// x⁵.
pub(crate) fn sbox(x: Fr) -> Fr {
    let x2 = x.square();
    x2.square() * x
}

/// The initial sponge state for a message of `len` field elements.
pub fn initial_state(len: usize) -> [Fr; WIDTH] {
    let mut s = [Fr::zero(); WIDTH];
    s[RATE] = Fr::from_u128((len as u128) << 64);
    s
}

/// Poseidon hash of `message` (any length, including zero).
pub fn hash(message: &[Fr]) -> Fr {
    let mut state = initial_state(message.len());
    let mut chunks = message.chunks(RATE).peekable();
    if chunks.peek().is_none() {
        permute(&mut state);
    }
    for chunk in chunks {
        for (s, m) in state.iter_mut().zip(chunk) {
            *s += m;
        }
        permute(&mut state);
    }
    state[0]
}

/// Binary Merkle root of `leaves` with [`hash`] of two children as the node function.
///
/// An odd node at any level is paired with zero; the root of one leaf is `hash([leaf, 0])`
/// and of no leaves is `hash([])`, so the root always went through the hash (a bare leaf is
/// never a root). The leaf count is hashed in at the top (`hash([root, n])`), so a tree cannot
/// be confused with one padded with zero leaves.
pub fn merkle_root(leaves: &[Fr]) -> Fr {
    if leaves.is_empty() {
        return hash(&[]);
    }
    let mut level: Vec<Fr> = leaves.to_vec();
    loop {
        level = level
            .chunks(2)
            .map(|p| hash(&[p[0], p.get(1).copied().unwrap_or(Fr::zero())]))
            .collect();
        if level.len() == 1 {
            break;
        }
    }
    hash(&[level[0], Fr::from(leaves.len() as u64)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use poseidon_primitives::poseidon::primitives::{ConstantLength, Hash};

    fn msg(n: u64) -> Vec<Fr> {
        (0..n).map(|i| Fr::from(i * 7 + 3)).collect()
    }

    /// Cross-check against poseidon-primitives' own sponge (an independent implementation of
    /// the same permutation and domain).
    #[test]
    fn matches_reference_sponge() {
        fn reference<const L: usize>(m: &[Fr]) -> Fr {
            let m: [Fr; L] = m.try_into().expect("length");
            Hash::<Fr, spec::Spec, ConstantLength<L>, WIDTH, RATE>::init().hash(m)
        }
        assert_eq!(hash(&msg(1)), reference::<1>(&msg(1)));
        assert_eq!(hash(&msg(2)), reference::<2>(&msg(2)));
        assert_eq!(hash(&msg(3)), reference::<3>(&msg(3)));
        assert_eq!(hash(&msg(7)), reference::<7>(&msg(7)));
    }

    #[test]
    fn length_is_bound() {
        assert_ne!(hash(&[Fr::one()]), hash(&[Fr::one(), Fr::zero()]));
        assert_ne!(hash(&[]), hash(&[Fr::zero()]));
    }

    #[test]
    fn merkle_root_shape() {
        let l = msg(5);
        assert_ne!(merkle_root(&l), merkle_root(&l[..4]));
        let mut swapped = l.clone();
        swapped.swap(0, 1);
        assert_ne!(merkle_root(&l), merkle_root(&swapped));
        let mut padded = l.clone();
        padded.push(Fr::zero());
        assert_ne!(merkle_root(&l), merkle_root(&padded));
        let h01 = hash(&[l[0], l[1]]);
        let h23 = hash(&[l[2], l[3]]);
        let h4 = hash(&[l[4], Fr::zero()]);
        let top = hash(&[hash(&[h01, h23]), hash(&[h4, Fr::zero()])]);
        assert_eq!(merkle_root(&l), hash(&[top, Fr::from(5u64)]));
    }
}
