//! Poseidon parameters and their generated constants.

use std::sync::OnceLock;

use halo2curves::bn256::Fr;
use poseidon_primitives::poseidon::primitives::Spec as GrainSpec;

/// State width.
pub const WIDTH: usize = 3;
/// Field elements absorbed per permutation.
pub const RATE: usize = 2;
/// Full rounds (half before, half after the partial rounds).
pub const FULL_ROUNDS: usize = 8;
/// Partial rounds (S-box on the first word only).
pub const PARTIAL_ROUNDS: usize = 57;

/// Whether round `t` is full (S-box on every word): the first and last `FULL_ROUNDS / 2`.
pub fn is_full_round(t: usize) -> bool {
    !(FULL_ROUNDS / 2..FULL_ROUNDS / 2 + PARTIAL_ROUNDS).contains(&t)
}

/// The parameter set, for the Grain generator.
#[derive(Debug)]
pub(crate) struct Spec;

impl GrainSpec<Fr, WIDTH, RATE> for Spec {
    fn full_rounds() -> usize {
        FULL_ROUNDS
    }
    fn partial_rounds() -> usize {
        PARTIAL_ROUNDS
    }
    fn sbox(val: Fr) -> Fr {
        super::sbox(val)
    }
    fn secure_mds() -> usize {
        0
    }
}

/// Round constants (one row per round) and the MDS matrix.
#[derive(Debug)]
pub struct Constants {
    /// `FULL_ROUNDS + PARTIAL_ROUNDS` rows of `WIDTH` constants.
    pub round_constants: Vec<[Fr; WIDTH]>,
    /// The MDS matrix.
    pub mds: [[Fr; WIDTH]; WIDTH],
}

impl Constants {
    /// `mds · state`.
    pub fn mds_mul(&self, state: &[Fr; WIDTH]) -> [Fr; WIDTH] {
        std::array::from_fn(|i| {
            (0..WIDTH).fold(Fr::zero(), |acc, j| acc + self.mds[i][j] * state[j])
        })
    }
}

/// The constants, generated once per process.
pub fn constants() -> &'static Constants {
    static C: OnceLock<Constants> = OnceLock::new();
    C.get_or_init(|| {
        let (round_constants, mds, _) = Spec::constants();
        Constants {
            round_constants,
            mds,
        }
    })
}
