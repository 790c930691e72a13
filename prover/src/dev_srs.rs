//! The dev SRS, computed fast: the same points `ParamsKZG::setup` makes from the same secret,
//! about ten times sooner.
//!
//! `setup` does one full scalar multiplication per point and per Lagrange point (two variable-
//! base multiplications of ~250 doublings each). Every point here is a multiple of the one
//! generator, so a fixed-base table (32 windows of 8 bits) turns each into 32 mixed additions,
//! and the Lagrange scalars `ℓ_i(s) = (sⁿ − 1)/n · ωⁱ/(s − ωⁱ)` need one batch inversion. That
//! matters for the aggregation circuit's `k` ≥ 20, where `setup` took minutes here.

use halo2_proofs::arithmetic::parallelize;
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2curves::bn256::{Bn256, Fr, G1Affine, G2Affine, G1};
use halo2curves::ff::{BatchInvert, Field, PrimeField};
use halo2curves::group::prime::PrimeCurveAffine;
use halo2curves::group::{Curve, Group};
use rand_core::RngCore;

/// Bits per window of the fixed-base table.
const WINDOW: usize = 8;
/// Windows covering a 256-bit scalar.
const WINDOWS: usize = 256 / WINDOW;

/// `table[w][j] = j · 2^(8w) · G` for the G1 generator `G`.
struct FixedBase {
    table: Vec<Vec<G1Affine>>,
}

impl FixedBase {
    fn generator() -> Self {
        let mut base = G1::generator();
        let table = (0..WINDOWS)
            .map(|_| {
                let mut row = vec![G1::identity(); 1 << WINDOW];
                for j in 1..row.len() {
                    row[j] = row[j - 1] + base;
                }
                for _ in 0..WINDOW {
                    base = base.double();
                }
                let mut affine = vec![G1Affine::identity(); row.len()];
                G1::batch_normalize(&row, &mut affine);
                affine
            })
            .collect();
        Self { table }
    }

    /// `s · G`.
    fn mul(&self, s: &Fr) -> G1 {
        // `to_repr` is little-endian: byte `w` is window `w`.
        let bytes = s.to_repr();
        self.table
            .iter()
            .zip(bytes.as_ref())
            .fold(G1::identity(), |acc, (row, &b)| acc + row[usize::from(b)])
    }

    /// `[sᵢ · G]` in affine form, in parallel.
    fn mul_all(&self, scalars: &[Fr]) -> Vec<G1Affine> {
        let mut points = vec![G1Affine::identity(); scalars.len()];
        parallelize(&mut points, |chunk, start| {
            let projective: Vec<G1> = scalars[start..start + chunk.len()]
                .iter()
                .map(|s| self.mul(s))
                .collect();
            G1::batch_normalize(&projective, chunk);
        });
        points
    }
}

/// The KZG parameters of size `2^k` whose secret is the first field element drawn from `rng`
/// (exactly as `ParamsKZG::setup(k, rng)` draws it).
pub(crate) fn params(k: u32, rng: impl RngCore) -> ParamsKZG<Bn256> {
    assert!(k <= Fr::S, "k above BN254's two-adicity");
    let s = Fr::random(rng);
    let n = 1usize << k;

    let mut powers = vec![Fr::ONE; n];
    parallelize(&mut powers, |chunk, start| {
        let mut cur = s.pow_vartime([start as u64]);
        for p in chunk.iter_mut() {
            *p = cur;
            cur *= s;
        }
    });

    // ω: the n-th root of unity halo2's evaluation domain uses.
    let mut omega = Fr::ROOT_OF_UNITY;
    for _ in k..Fr::S {
        omega = omega.square();
    }
    let mut omegas = vec![Fr::ONE; n];
    parallelize(&mut omegas, |chunk, start| {
        let mut cur = omega.pow_vartime([start as u64]);
        for w in chunk.iter_mut() {
            *w = cur;
            cur *= omega;
        }
    });
    // ℓ_i(s) = (sⁿ − 1)/n · ωⁱ/(s − ωⁱ); s is a random secret, so s ≠ ωⁱ.
    let mut denominators: Vec<Fr> = omegas.iter().map(|w| s - w).collect();
    denominators.iter_mut().batch_invert();
    let n_inv = Fr::from(n as u64).invert().unwrap_or(Fr::ZERO);
    let multiplier = (s.pow_vartime([n as u64]) - Fr::ONE) * n_inv;
    let lagrange: Vec<Fr> = omegas
        .iter()
        .zip(&denominators)
        .map(|(w, d)| multiplier * w * d)
        .collect();

    let base = FixedBase::generator();
    let g = base.mul_all(&powers);
    let g_lagrange = base.mul_all(&lagrange);
    let g2 = G2Affine::generator();
    let s_g2 = (g2 * s).to_affine();
    // `from_parts` is a method; a 2-point setup is the cheapest receiver to call it on.
    ParamsKZG::<Bn256>::setup(1, rand_core::OsRng).from_parts(k, g, Some(g_lagrange), g2, s_g2)
}

#[cfg(test)]
mod tests {
    use halo2_proofs::poly::commitment::Params;
    use halo2_proofs::SerdeFormat;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;

    #[test]
    fn same_points_as_halo2_setup() {
        for k in [1, 4, 9] {
            let fast = params(k, ChaCha20Rng::from_seed([7; 32]));
            let slow = ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::from_seed([7; 32]));
            assert_eq!(fast.k(), k);
            // The raw serialization holds g, g_lagrange, g2 and s_g2.
            assert!(raw(&fast) == raw(&slow), "params differ at k={k}");
        }
        // Another secret gives other points (the test can fail).
        let other = params(4, ChaCha20Rng::from_seed([8; 32]));
        let slow = ParamsKZG::<Bn256>::setup(4, ChaCha20Rng::from_seed([7; 32]));
        assert!(raw(&other) != raw(&slow));
    }

    fn raw(p: &ParamsKZG<Bn256>) -> Vec<u8> {
        let mut out = Vec::new();
        p.write_custom(&mut out, SerdeFormat::RawBytes)
            .expect("to a Vec");
        out
    }
}
