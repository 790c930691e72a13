//! The Poseidon sponge as a chip over the main band's columns: one row per round.
//!
//! A hash of `n` elements takes `c = max(1, ceil(n / RATE))` chunks of `ROUNDS + 1` rows, plus one
//! row for the digest. Chunk rows, from `base`:
//!
//! | row | lanes 0..3 | lanes 3..6 | consts 0..3 | consts 3..5 | selector |
//! |---|---|---|---|---|---|
//! | `base` | state `s` | message `m` (copies) | initial state (first chunk) | 1 where `m` is real, 0 for padding | `q_absorb` (+ `q_init`) |
//! | `base+1+t` | state entering round `t` | `(s_j + rc_j)²` | `rc_t` | | `q_full` / `q_partial` |
//! | `base+1+ROUNDS` | permutation output (= next chunk's `base`) | | | | |
//!
//! Gates (degree ≤ 4, so they never raise the circuit's degree): absorb `s'_j = s_j + mask_j·m_j`;
//! full round `x2_j = (s_j + rc_j)²`, `s'_i = Σ_j M_ij·x2_j²·(s_j + rc_j)`; partial round the same
//! with the S-box on word 0 only. Padding is masked by a fixed column, so its cells carry no
//! obligation; the length sits in the fixed initial capacity, as in the native [`super::hash`].

use halo2_proofs::circuit::{Region, Value};
use halo2_proofs::plonk::{ConstraintSystem, Error, Expression, Selector, VirtualCells};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;

use super::{
    constants, initial_state, is_full_round, sbox, FULL_ROUNDS, PARTIAL_ROUNDS, RATE, WIDTH,
};
use crate::chips::{Columns, FVar};

/// Rounds of one permutation.
pub const ROUNDS: usize = FULL_ROUNDS + PARTIAL_ROUNDS;

/// Rows one hash of `len` elements uses.
pub fn rows_for(len: usize) -> usize {
    len.div_ceil(RATE).max(1) * (ROUNDS + 1) + 1
}

/// Selectors of the Poseidon chip (its columns are the shared [`Columns`]).
#[derive(Clone, Debug)]
pub struct PoseidonConfig {
    cols: Columns,
    q_init: Selector,
    q_absorb: Selector,
    q_full: Selector,
    q_partial: Selector,
}

/// The Poseidon chip.
#[derive(Clone, Debug)]
pub struct PoseidonChip {
    config: PoseidonConfig,
}

impl PoseidonChip {
    /// Wraps a configuration.
    pub fn construct(config: PoseidonConfig) -> Self {
        Self { config }
    }

    /// Creates the init, absorb and round gates over the shared columns.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, cols: Columns) -> PoseidonConfig {
        let q_init = meta.selector();
        let q_absorb = meta.selector();
        let q_full = meta.selector();
        let q_partial = meta.selector();
        let mds = constants().mds;
        let s =
            |m: &mut VirtualCells<'_, Fr>, j: usize, r: Rotation| m.query_advice(cols.lanes[j], r);

        meta.create_gate("poseidon initial state", |m| {
            let q = m.query_selector(q_init);
            (0..WIDTH)
                .map(|j| {
                    let c = m.query_fixed(cols.consts[j], Rotation::cur());
                    ("s = initial", q.clone() * (s(m, j, Rotation::cur()) - c))
                })
                .collect::<Vec<_>>()
        });
        meta.create_gate("poseidon absorb", |m| {
            let q = m.query_selector(q_absorb);
            (0..WIDTH)
                .map(|j| {
                    let mut sum = s(m, j, Rotation::cur());
                    if j < RATE {
                        let mask = m.query_fixed(cols.consts[WIDTH + j], Rotation::cur());
                        sum = sum + mask * s(m, WIDTH + j, Rotation::cur());
                    }
                    (
                        "s' = s + mask·m",
                        q.clone() * (s(m, j, Rotation::next()) - sum),
                    )
                })
                .collect::<Vec<_>>()
        });
        // Both round gates: x2_j = (s_j + rc_j)² for S-boxed words, then s' = M · u.
        let round = |m: &mut VirtualCells<'_, Fr>, q: Expression<Fr>, boxed: usize| {
            let mut out = Vec::new();
            let mut u = Vec::with_capacity(WIDTH);
            for j in 0..WIDTH {
                let x = s(m, j, Rotation::cur()) + m.query_fixed(cols.consts[j], Rotation::cur());
                if j < boxed {
                    let x2 = s(m, WIDTH + j, Rotation::cur());
                    out.push((
                        "x2 = (s + rc)²",
                        q.clone() * (x2.clone() - x.clone() * x.clone()),
                    ));
                    u.push(x2.clone() * x2 * x);
                } else {
                    u.push(x);
                }
            }
            for (i, row) in mds.iter().enumerate() {
                let mixed = row
                    .iter()
                    .zip(&u)
                    .fold(Expression::Constant(Fr::zero()), |acc, (&c, u)| {
                        acc + Expression::Constant(c) * u.clone()
                    });
                out.push((
                    "s' = M·sbox(s + rc)",
                    q.clone() * (s(m, i, Rotation::next()) - mixed),
                ));
            }
            out
        };
        meta.create_gate("poseidon full round", |m| {
            let q = m.query_selector(q_full);
            round(m, q, WIDTH)
        });
        meta.create_gate("poseidon partial round", |m| {
            let q = m.query_selector(q_partial);
            round(m, q, 1)
        });
        PoseidonConfig {
            cols,
            q_init,
            q_absorb,
            q_full,
            q_partial,
        }
    }

    /// Lays out the hash of `message` from `offset`; returns the digest cell and rows used.
    /// `tamper` adds one to the digest (negative tests only).
    pub fn hash(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        message: &[FVar],
        tamper: bool,
    ) -> Result<(FVar, usize), Error> {
        let cols = &self.config.cols;
        let c = constants();
        let init = initial_state(message.len());
        let known = message.iter().all(|m| m.value.is_some());
        let mut state: Option<[Fr; WIDTH]> = known.then_some(init);
        let put = |region: &mut Region<'_, Fr>, col: usize, row: usize, v: Option<Fr>| {
            let val = v.map_or(Value::unknown(), Value::known);
            region.assign_advice(cols.lanes[col], row, val).cell()
        };
        let chunks: Vec<&[FVar]> = if message.is_empty() {
            vec![&[]]
        } else {
            message.chunks(RATE).collect()
        };
        let mut row = offset;
        for (ci, chunk) in chunks.iter().enumerate() {
            // Absorb row.
            for j in 0..WIDTH {
                put(region, j, row, state.map(|s| s[j]));
            }
            if ci == 0 {
                for (j, v) in init.iter().enumerate() {
                    region.assign_fixed(cols.consts[j], row, *v);
                }
                self.config.q_init.enable(region, row)?;
            }
            for j in 0..RATE {
                match chunk.get(j) {
                    Some(m) => {
                        region.assign_fixed(cols.consts[WIDTH + j], row, Fr::one());
                        let cell = put(region, WIDTH + j, row, m.value);
                        region.constrain_equal(cell, m.cell);
                    }
                    None => {
                        put(region, WIDTH + j, row, Some(Fr::zero()));
                    }
                }
            }
            self.config.q_absorb.enable(region, row)?;
            if let Some(s) = state.as_mut() {
                for (w, m) in s.iter_mut().zip(chunk.iter()) {
                    *w += m.value.expect("known");
                }
            }
            row += 1;
            // Round rows.
            for (t, rc) in c.round_constants.iter().enumerate() {
                let full = is_full_round(t);
                let boxed = if full { WIDTH } else { 1 };
                for j in 0..WIDTH {
                    put(region, j, row, state.map(|s| s[j]));
                    region.assign_fixed(cols.consts[j], row, rc[j]);
                }
                for j in 0..boxed {
                    put(
                        region,
                        WIDTH + j,
                        row,
                        state.map(|s| (s[j] + rc[j]).square()),
                    );
                }
                if full {
                    self.config.q_full.enable(region, row)?;
                } else {
                    self.config.q_partial.enable(region, row)?;
                }
                if let Some(s) = state.as_mut() {
                    let mut u = [Fr::zero(); WIDTH];
                    for j in 0..WIDTH {
                        u[j] = s[j] + rc[j];
                        if j < boxed {
                            u[j] = sbox(u[j]);
                        }
                    }
                    *s = c.mds_mul(&u);
                }
                row += 1;
            }
        }
        // Digest row (its other words are assigned so every state cell exists).
        let digest = state.map(|s| if tamper { s[0] + Fr::one() } else { s[0] });
        let cell = put(region, 0, row, digest);
        for j in 1..WIDTH {
            put(region, j, row, state.map(|s| s[j]));
        }
        row += 1;
        debug_assert_eq!(row - offset, rows_for(message.len()));
        Ok((
            FVar {
                cell,
                value: digest,
            },
            row - offset,
        ))
    }
}
