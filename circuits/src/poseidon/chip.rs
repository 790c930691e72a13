//! The Poseidon sponge as a chip over the main band's columns: several rounds per row.
//!
//! A row holds the state entering its first round in lanes 0..3 and chains rounds inside the
//! row. Every S-box input `x` is affine in cells already in the row (the state and the S-box
//! outputs of the row's earlier rounds), so per S-box the row stores only `x2 = x²` and, except
//! in its last round, `y = x2²·x` (from lane 3, in S-box order): 6 cells per full round, 2 per
//! partial round, 1 per S-box of the last round (its `x2²·x` goes straight into the output).
//! The state leaving the row is affine in those and is constrained into the next row's lanes
//! 0..3. The constant part of each affine S-box input and output word (the round constants
//! pushed through the MDS matrix) is a fixed cell, in the order the S-boxes come. Wider rows,
//! not more columns: a permutation takes 12 rows instead of 65 round rows and an absorb row.
//!
//! A hash of `n` elements takes `c = max(1, ceil(n / RATE))` chunks of [`ROWS_PER_PERMUTATION`]
//! rows, plus one row for the digest. Chunk rows, from `base`:
//!
//! | rows | rounds | lanes | gate |
//! |---|---|---|---|
//! | `base` | 2 full, absorbing | 3 + 6 + 3, message at 14..16 | `poseidon full rounds` (+ `poseidon initial state` in the first chunk) |
//! | `base+1` | 2 full, 1 partial | 3 + 6 + 6 + 1 = 16 | `poseidon full and partial rounds` |
//! | `base+2..base+10` | 7 partial each | 3 + 6·2 + 1 = 16 | `poseidon partial rounds` |
//! | `base+10..base+12` | 2 full each | as `base`, message lanes 0 | `poseidon full rounds` |
//!
//! Gates (degree ≤ 4 with the selector, so they never raise the circuit's degree): `x2 = x²`,
//! `y = x2²·x`, `s' = affine(row)`; absorb rows add the message to the rate words of the first
//! round's input and require `(1 − mask)·m = 0`, so padding (and the message lanes of
//! non-absorbing full rows) is zero. The mask is a fixed column, so the length sits in fixed
//! cells and the initial capacity, as in the native [`super::hash`].

use halo2_proofs::circuit::Region;
use halo2_proofs::plonk::{ConstraintSystem, Error, Expression, Selector, VirtualCells};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;

use super::{constants, initial_state, FULL_ROUNDS, PARTIAL_ROUNDS, RATE, WIDTH};
use crate::chips::{assign_fe, Columns, FVar, LANES};

/// Rounds of one permutation.
pub const ROUNDS: usize = FULL_ROUNDS + PARTIAL_ROUNDS;

/// Rows of one permutation (one absorbed chunk).
pub const ROWS_PER_PERMUTATION: usize = LAYOUT.len();

/// Rows one hash of `len` elements uses.
pub fn rows_for(len: usize) -> usize {
    len.div_ceil(RATE).max(1) * ROWS_PER_PERMUTATION + 1
}

/// Message lanes (and mask consts) of absorbing rows: the top `RATE` lanes.
const MSG: usize = LANES - RATE;
/// Initial-state consts of the first row, just below the mask consts.
const INIT: usize = MSG - WIDTH;

/// A kind of row: its gate's name, its rounds (`true` = full) and whether it has message lanes.
struct RowKind {
    gate: &'static str,
    rounds: &'static [bool],
    absorb: bool,
}

/// The row kinds, each with its own selector and gate.
const KINDS: [RowKind; 3] = [
    RowKind {
        gate: "poseidon full rounds",
        rounds: &[true, true],
        absorb: true,
    },
    RowKind {
        gate: "poseidon full and partial rounds",
        rounds: &[true, true, false],
        absorb: false,
    },
    RowKind {
        gate: "poseidon partial rounds",
        rounds: &[false; 7],
        absorb: false,
    },
];

/// Row kinds of one permutation, in order: rounds 0–1, 2–4, 5–60 (8 × 7), 61–62, 63–64.
const LAYOUT: [usize; 12] = [0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0];

/// Variables of a row's affine forms: the lanes, then the S-box outputs of the row's last round
/// (not stored; `x2²·x` in the gate).
const VARS: usize = LANES + WIDTH;

/// `Σ c_i·var_i + k`.
#[derive(Clone, Copy)]
struct Aff {
    c: [Fr; VARS],
    k: Fr,
}

impl Aff {
    fn zero() -> Self {
        Self {
            c: [Fr::zero(); VARS],
            k: Fr::zero(),
        }
    }

    fn var(i: usize) -> Self {
        let mut a = Self::zero();
        a.c[i] = Fr::one();
        a
    }

    fn add_scaled(mut self, o: &Self, s: Fr) -> Self {
        for (a, b) in self.c.iter_mut().zip(&o.c) {
            *a += *b * s;
        }
        self.k += o.k * s;
        self
    }

    fn eval(&self, v: &[Fr; VARS]) -> Fr {
        self.c
            .iter()
            .zip(v)
            .fold(self.k, |acc, (c, x)| acc + *c * x)
    }

    /// The variable part as an expression (the constant comes from a fixed cell).
    fn linear(&self, vars: &[Expression<Fr>]) -> Expression<Fr> {
        self.c
            .iter()
            .zip(vars)
            .filter(|(c, _)| **c != Fr::zero())
            .map(|(&c, v)| {
                if c == Fr::one() {
                    v.clone()
                } else {
                    Expression::Constant(c) * v.clone()
                }
            })
            .reduce(|a, b| a + b)
            .unwrap_or(Expression::Constant(Fr::zero()))
    }
}

/// One S-box of a row: its affine input, the fixed column of that input's constant, the lane of
/// `x2` and the variable of `y` (a lane, or virtual in the row's last round).
struct Sbox {
    x: Aff,
    col: usize,
    x2: usize,
    y: usize,
}

/// A row's S-boxes and output state, with the fixed columns of the output's constants.
struct Plan {
    sboxes: Vec<Sbox>,
    out: [Aff; WIDTH],
    out_cols: [usize; WIDTH],
}

/// Chains `kind`'s rounds symbolically. The variable parts depend only on the kind (the gate);
/// the constants on `rcs` (the fixed cells).
fn plan(kind: &RowKind, rcs: &[[Fr; WIDTH]]) -> Plan {
    assert_eq!(kind.rounds.len(), rcs.len());
    let mds = &constants().mds;
    let mut w: [Aff; WIDTH] = std::array::from_fn(Aff::var);
    if kind.absorb {
        for (j, wj) in w.iter_mut().enumerate().take(RATE) {
            *wj = wj.add_scaled(&Aff::var(MSG + j), Fr::one());
        }
    }
    let (mut lane, mut col) = (WIDTH, 0);
    let mut sboxes = Vec::new();
    for (r, (&full, rc)) in kind.rounds.iter().zip(rcs).enumerate() {
        let last = r + 1 == kind.rounds.len();
        let mut u = w;
        for (uj, k) in u.iter_mut().zip(rc) {
            uj.k += k;
        }
        for (j, uj) in u.iter_mut().enumerate().take(if full { WIDTH } else { 1 }) {
            let y = if last { LANES + j } else { lane + 1 };
            sboxes.push(Sbox {
                x: *uj,
                col,
                x2: lane,
                y,
            });
            lane += if last { 1 } else { 2 };
            col += 1;
            *uj = Aff::var(y);
        }
        w = std::array::from_fn(|i| {
            (0..WIDTH).fold(Aff::zero(), |acc, j| acc.add_scaled(&u[j], mds[i][j]))
        });
    }
    let out_cols = std::array::from_fn(|i| col + i);
    col += WIDTH;
    let (lanes, cols) = if kind.absorb {
        (MSG, INIT)
    } else {
        (LANES, LANES)
    };
    assert!(lane <= lanes && col <= cols, "{} too wide", kind.gate);
    Plan {
        sboxes,
        out: w,
        out_cols,
    }
}

/// Selectors of the Poseidon chip (its columns are the shared [`Columns`]).
#[derive(Clone, Debug)]
pub struct PoseidonConfig {
    cols: Columns,
    q_init: Selector,
    q_rows: [Selector; KINDS.len()],
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

    /// Creates the initial-state gate and one gate per row kind over the shared columns.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, cols: Columns) -> PoseidonConfig {
        let q_init = meta.selector();
        let q_rows = std::array::from_fn(|_| meta.selector());
        let lane =
            |m: &mut VirtualCells<'_, Fr>, j: usize, r: Rotation| m.query_advice(cols.lanes[j], r);
        let fixed =
            |m: &mut VirtualCells<'_, Fr>, c: usize| m.query_fixed(cols.consts[c], Rotation::cur());

        meta.create_gate("poseidon initial state", |m| {
            let q = m.query_selector(q_init);
            (0..WIDTH)
                .map(|j| {
                    let c = fixed(m, INIT + j);
                    ("s = initial", q.clone() * (lane(m, j, Rotation::cur()) - c))
                })
                .collect::<Vec<_>>()
        });
        for (kind, &q_row) in KINDS.iter().zip(&q_rows) {
            let p = plan(kind, &vec![[Fr::zero(); WIDTH]; kind.rounds.len()]);
            meta.create_gate(kind.gate, |m| {
                let q = m.query_selector(q_row);
                let lanes: Vec<_> = (0..LANES).map(|j| lane(m, j, Rotation::cur())).collect();
                // Virtual variables are filled in as their S-boxes come.
                let mut vars = lanes.clone();
                vars.resize(VARS, Expression::Constant(Fr::zero()));
                let mut out = Vec::new();
                for sb in &p.sboxes {
                    let x = sb.x.linear(&vars) + fixed(m, sb.col);
                    let x2 = lanes[sb.x2].clone();
                    out.push(("x2 = x²", q.clone() * (x2.clone() - x.clone() * x.clone())));
                    let y = x2.clone() * x2 * x;
                    if sb.y < LANES {
                        out.push(("y = x2²·x", q.clone() * (lanes[sb.y].clone() - y)));
                    } else {
                        vars[sb.y] = y;
                    }
                }
                for (i, (o, &c)) in p.out.iter().zip(&p.out_cols).enumerate() {
                    let next = lane(m, i, Rotation::next());
                    out.push((
                        "s' = state after the row",
                        q.clone() * (next - o.linear(&vars) - fixed(m, c)),
                    ));
                }
                if kind.absorb {
                    for j in 0..RATE {
                        let mask = fixed(m, MSG + j);
                        out.push((
                            "padding is zero",
                            q.clone()
                                * (Expression::Constant(Fr::one()) - mask)
                                * lanes[MSG + j].clone(),
                        ));
                    }
                }
                out
            });
        }
        PoseidonConfig {
            cols,
            q_init,
            q_rows,
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
            assign_fe(region, cols.lanes[col], row, v).cell
        };
        let chunks: Vec<&[FVar]> = if message.is_empty() {
            vec![&[]]
        } else {
            message.chunks(RATE).collect()
        };
        let mut row = offset;
        for (ci, chunk) in chunks.iter().enumerate() {
            let entering = state;
            let mut t = 0;
            for (ri, &k) in LAYOUT.iter().enumerate() {
                let kind = &KINDS[k];
                let n = kind.rounds.len();
                let p = plan(kind, &c.round_constants[t..t + n]);
                let mut vals = state.map(|s| {
                    let mut v = [Fr::zero(); VARS];
                    v[..WIDTH].copy_from_slice(&s);
                    v
                });
                for j in 0..WIDTH {
                    put(region, j, row, state.map(|s| s[j]));
                }
                if ci == 0 && ri == 0 {
                    for (j, v) in init.iter().enumerate() {
                        region.assign_fixed(cols.consts[INIT + j], row, *v);
                    }
                    self.config.q_init.enable(region, row)?;
                }
                if kind.absorb {
                    for j in 0..RATE {
                        // Only a chunk's first row absorbs; elsewhere the lanes must be zero.
                        let m = if ri == 0 { chunk.get(j) } else { None };
                        let mask = if m.is_some() { Fr::one() } else { Fr::zero() };
                        region.assign_fixed(cols.consts[MSG + j], row, mask);
                        let v = m.map_or(Some(Fr::zero()), |m| m.value);
                        let cell = put(region, MSG + j, row, v);
                        if let Some(m) = m {
                            region.constrain_equal(cell, m.cell);
                        }
                        if let (Some(vals), Some(v)) = (vals.as_mut(), v) {
                            vals[MSG + j] = v;
                        }
                    }
                }
                for sb in &p.sboxes {
                    region.assign_fixed(cols.consts[sb.col], row, sb.x.k);
                    let x = vals.map(|v| sb.x.eval(&v));
                    let x2 = x.map(|x| x.square());
                    let y = x.zip(x2).map(|(x, x2)| x2.square() * x);
                    put(region, sb.x2, row, x2);
                    if sb.y < LANES {
                        put(region, sb.y, row, y);
                    }
                    if let (Some(v), Some(x2), Some(y)) = (vals.as_mut(), x2, y) {
                        v[sb.x2] = x2;
                        v[sb.y] = y;
                    }
                }
                for (o, &col) in p.out.iter().zip(&p.out_cols) {
                    region.assign_fixed(cols.consts[col], row, o.k);
                }
                state = vals.map(|v| std::array::from_fn(|i| p.out[i].eval(&v)));
                self.config.q_rows[k].enable(region, row)?;
                row += 1;
                t += n;
            }
            debug_assert_eq!(t, ROUNDS);
            debug_assert_eq!(
                state,
                entering.map(|mut s| {
                    for (w, m) in s.iter_mut().zip(chunk.iter()) {
                        *w += m.value.expect("known");
                    }
                    super::permute(&mut s);
                    s
                }),
                "chip rows differ from the native permutation"
            );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poseidon::is_full_round;

    #[test]
    fn layout_runs_every_round_in_order() {
        let rounds: Vec<bool> = LAYOUT
            .iter()
            .flat_map(|&k| KINDS[k].rounds.iter().copied())
            .collect();
        assert_eq!(rounds.len(), ROUNDS);
        for (t, &full) in rounds.iter().enumerate() {
            assert_eq!(full, is_full_round(t), "round {t}");
        }
        // The absorbing kind starts every permutation.
        assert!(KINDS[LAYOUT[0]].absorb);
    }

    #[test]
    fn every_gate_has_degree_at_most_four() {
        let mut meta = ConstraintSystem::<Fr>::default();
        let cols = Columns::configure(&mut meta);
        PoseidonChip::configure(&mut meta, cols);
        for gate in meta.gates() {
            for poly in gate.polynomials() {
                assert!(
                    poly.degree() <= 4,
                    "{}: degree {}",
                    gate.name(),
                    poly.degree()
                );
            }
        }
        assert_eq!(rows_for(2), 13);
    }
}
