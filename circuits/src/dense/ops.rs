//! The runtime's ops as dense rows ([`super::rows`]): every tensor value one lane cell, every
//! op's outputs witnessed from the trace and constrained to what the op computes.
//!
//! | op | rows | equation(s) |
//! |---|---|---|
//! | Gemm, Conv | ⌈taps / 5⌉ per output | `acc = acc_prev + Σ w·x (+ b)`, the output a lane of the last row |
//! | DivRound `d = 2^s ≤ 256` | 1 + q's check | `σ(x + ⌊d/2⌋ − d·q) = r`, σ = 2^(8−s), so `r ∈ [0,256)` is `0 ≤ x + ⌊d/2⌋ − d·q < d` |
//! | DivRound `d = 2^s > 256` | ⌈s/8⌉ + q's check | the same, `σ = 2^(8⌈s/8⌉ − s)` over ⌈s/8⌉ limbs |
//! | DivRound, other `d` | 2 checks + q's | `x + ⌊d/2⌋ − d·q ≥ 0` and `d − 1 − (x + ⌊d/2⌋ − d·q) ≥ 0` |
//! | Relu | 2 + check | `y = b·x`, `b·b = b`, `2y − x + b − 1 ≥ 0` |
//! | Add | 1 | `y = a·2^sa + b·2^sb` |
//! | AddConst, MulConst | 1 | `y = x + c`, `y = c·x` (the constant a coefficient) |
//! | SumPool | ⌈(taps + 1) / 5⌉ per output | Gemm's chain with unit weights over the in-bounds taps |
//! | MaxPool | ~ 3 taps + 2 per output | one-hot pick `m = Σ ind·x`, `m ≥ x` for every tap (one tap: none) |
//! | Sigmoid, Tanh | 3, or 5 + check where the input can pass the domain | [`super::table`] |
//! | ArgMax (last op, `[1, n]`) | ~ 6 n | one-hot `c`, `y_c ≥ y_j + [j < c]` for every `j` |
//! | Reshape | 0 | same cells |
//!
//! Range checks are whole 8-bit limbs: `v ∈ [0, 256^m)` in `m` rows, the limbs in `r` summed
//! through `acc`. A bound is rounded up to whole limbs; that is sound because every check only
//! has to keep its value far below the field modulus (no identity can then hold modulo the field
//! without holding over the integers) — the input is checked to its bound, so every later value
//! is bounded too. The one exact check, the remainder of a division, scales `r` instead.

use halo2curves::bn256::Fr;
use poa_runtime::ops::{Op, Table};
use poa_runtime::quant::bits_for;
use poa_runtime::{QModel, Trace};

use super::rows::{Equation, Rows, Var, LANES, LIMB_BITS};
use super::table::Runs;
use super::DenseTamper;
use crate::error::CircuitError;
use crate::field::{fe, fe128};
use crate::vertical::{self, signed_bits, Backend, Forge};

/// The ops the dense layout lays out.
pub const DENSE_OPS: &[&str] = &[
    "Gemm", "Conv", "DivRound", "Relu", "Add", "AddConst", "MulConst", "Reshape", "MaxPool",
    "SumPool", "Sigmoid", "Tanh", "ArgMax",
];

/// Largest power-of-two divisor a DivRound checks in one row: its scaled remainder must fit
/// one limb (any other divisor takes two range checks).
const MAX_POW2_DIVISOR: i64 = 1 << LIMB_BITS;

/// Cells by tensor id.
pub(crate) type Cells = Vec<Vec<Var>>;

fn one() -> Fr {
    Fr::one()
}

/// The error for an op outside [`DENSE_OPS`].
fn refuse(node: &poa_runtime::graph::Node, i: usize) -> CircuitError {
    CircuitError::UnsupportedOp {
        op: node.op.kind(),
        layer: node.name.clone(),
        node: i,
        supported: format!(
            "{} in the dense layout; the wide layout (`--layout wide`) takes every op",
            DENSE_OPS.join(", ")
        ),
    }
}

/// Refuses models with ops (or placements) the dense layout does not lay out.
pub(crate) fn check_ops(model: &QModel) -> Result<(), CircuitError> {
    for (i, node) in model.nodes.iter().enumerate() {
        if !DENSE_OPS.contains(&node.op.kind()) {
            return Err(refuse(node, i));
        }
        if matches!(node.op, Op::DivRound { divisor } if divisor < 1) {
            return Err(refuse(node, i));
        }
        crate::vertical::check_argmax(model, i, "dense")?;
    }
    Ok(())
}

/// Little-endian base-256 digits of `v ≥ 0`, `m` of them.
fn limbs(v: i128, m: usize) -> Vec<u64> {
    (0..m).map(|j| ((v >> (8 * j)) & 0xff) as u64).collect()
}

/// Limbs a check of `bits` bits takes.
pub(crate) fn limbs_for(bits: u32) -> usize {
    bits.div_ceil(LIMB_BITS).max(1) as usize
}

/// A term of a checked linear form: a copy of a cell, or a fresh value placed by the check.
#[derive(Clone, Copy)]
pub(crate) enum Term {
    Copy(Var, Fr),
    New(Fr, Fr),
}

impl Term {
    /// Puts `−term` in `eq` (a check's last row says `limbs − Σ terms − offset = 0`).
    fn put_neg(self, eq: &mut Equation) -> usize {
        match self {
            Term::Copy(x, c) => eq.copy(x, -c),
            Term::New(v, c) => eq.fresh(v, -c),
        }
    }
}

/// The rows of one model run.
#[derive(Default)]
pub(crate) struct Layout {
    pub rows: Rows,
    /// The activation tables the rows look up, table `i` under id `i + 1` (first use first).
    pub tables: Vec<Runs>,
    /// The predicted class's one-hot indicator, once [`Layout::argmax`] has built it
    /// (attribution reads it).
    pub class_indicator: Option<Vec<Var>>,
}

impl Layout {
    /// Checks `Σ terms + offset = v ∈ [0, 256^m)` for `v` of at most `bits` bits (`v` is the
    /// integer the terms add up to); returns the cells of the terms, in order.
    pub fn check(&mut self, terms: &[Term], offset: i128, v: i128, bits: u32) -> Vec<Var> {
        self.check_product(terms, Fr::zero(), offset, v, bits)
    }

    /// [`Layout::check`] of `Σ terms + product·t₀·t₁ + offset` (the product of the first two
    /// terms' cells, whatever their coefficients).
    pub fn check_product(
        &mut self,
        terms: &[Term],
        product: Fr,
        offset: i128,
        v: i128,
        bits: u32,
    ) -> Vec<Var> {
        assert!(terms.len() <= LANES, "a check takes at most {LANES} terms");
        let m = limbs_for(bits);
        let digits = limbs(v.max(0), m);
        let base = |j: usize| fe128(1i128 << (8 * j));
        let mut acc = Fr::zero();
        for (j, &d) in digits.iter().enumerate().take(m - 1) {
            let mut eq = Equation::default();
            acc += base(j) * Fr::from(d);
            eq.acc(acc, -one());
            if j > 0 {
                eq.acc_prev(one());
            }
            eq.limb(Fr::from(d), base(j));
            self.rows.push(eq);
        }
        // Last row: (acc_prev +) 256^(m-1)·r = Σ terms + offset.
        let mut eq = Equation::default();
        if m > 1 {
            eq.acc_prev(one());
        }
        eq.limb(Fr::from(digits[m - 1]), base(m - 1));
        let lanes: Vec<usize> = terms.iter().map(|t| t.put_neg(&mut eq)).collect();
        eq.product(-product);
        eq.constant(-fe128(offset));
        let cells = self.rows.push(eq);
        lanes.iter().filter_map(|&l| cells[l]).collect()
    }

    /// A fresh cell holding the bit `b`, constrained `b·b = b` in its own row.
    pub fn boolean(&mut self, b: bool) -> Var {
        let mut eq = Equation::default();
        let lane = eq.fresh(Fr::from(u64::from(b)), -one());
        eq.same(lane, Fr::zero());
        eq.product(one());
        self.rows.push(eq)[lane].expect("the bit lane")
    }

    /// Fresh cells holding `values`, five to a row, constrained by nothing here (the caller's
    /// rows constrain copies of them).
    pub fn witnesses(&mut self, values: &[Fr]) -> Vec<Var> {
        let mut out = Vec::with_capacity(values.len());
        for chunk in values.chunks(LANES) {
            let mut eq = Equation::default();
            for &v in chunk {
                eq.fresh(v, Fr::zero());
            }
            out.extend(self.rows.push(eq).into_iter().flatten());
        }
        out
    }

    /// `Σ c·x + constant` chained through `acc`, five terms a row, the last row left open with
    /// `room` lanes free for the caller to finish and push: returns that row (its terms placed,
    /// reading the row above) and the whole sum.
    pub(crate) fn chain(
        &mut self,
        terms: &[(Var, Fr)],
        constant: Fr,
        room: usize,
    ) -> (Equation, Fr) {
        let last = LANES - room;
        // At most every term: with two lanes of room, a few terms may all go above.
        let head = (terms.len().saturating_sub(last).div_ceil(LANES) * LANES).min(terms.len());
        let (head, tail) = terms.split_at(head);
        let mut acc = constant;
        let row = |chunk: &[(Var, Fr)], first: bool, acc: &mut Fr| {
            let mut eq = Equation::default();
            for &(x, c) in chunk {
                eq.copy(x, c);
                *acc += c * x.value;
            }
            if first {
                eq.constant(constant);
            } else {
                eq.acc_prev(one());
            }
            eq
        };
        for (j, chunk) in head.chunks(LANES).enumerate() {
            let mut eq = row(chunk, j == 0, &mut acc);
            eq.acc(acc, -one());
            self.rows.push(eq);
        }
        let eq = row(tail, head.is_empty(), &mut acc);
        (eq, acc)
    }

    /// `Σ c·x + constant = 0` over any number of terms.
    pub fn zero_sum(&mut self, terms: &[(Var, Fr)], constant: Fr) {
        let (eq, _) = self.chain(terms, constant, 0);
        self.rows.push(eq);
    }

    /// `bias + Σ x·w`: the output is a fresh lane of the last row (one extra row when the last
    /// chunk fills all five lanes). `tamper` adds one to it.
    pub fn dot(&mut self, terms: &[(Var, i64)], bias: i64, tamper: bool) -> Var {
        let terms: Vec<(Var, Fr)> = terms.iter().map(|&(x, w)| (x, fe(w))).collect();
        let (mut eq, sum) = self.chain(&terms, fe(bias), 1);
        let out = if tamper { sum + one() } else { sum };
        let lane = eq.fresh(out, -one());
        self.rows.push(eq)[lane].expect("the output lane")
    }

    /// `q = div_round(x, d)`: the remainder `x + ⌊d/2⌋ − d·q` lies in `[0, d)` once `q` is
    /// bounded (checked). For `d = 2^s ≤ 256`, `σ·(x + ⌊d/2⌋ − d·q) = r` with σ = 2^(8−s), so
    /// the lookup of `r` is exactly that range, in one row; a larger power of two scales the
    /// same way into whole limbs; any other `d` checks the remainder and `d − 1` minus it
    /// non-negative, in `bits(d − 1)` each.
    pub fn div_round(&mut self, x: Var, q: i64, d: i64, rem: i64, q_bound: i128) -> Var {
        let q = if d.count_ones() == 1 && d <= MAX_POW2_DIVISOR {
            let sigma = 1i64 << (LIMB_BITS - d.trailing_zeros());
            let mut eq = Equation::default();
            eq.copy(x, fe(sigma));
            let lane = eq.fresh(fe(q), -fe(sigma * d));
            eq.constant(fe(sigma * (d / 2)));
            eq.limb(fe(sigma * rem), -one());
            self.rows.push(eq)[lane].expect("the quotient lane")
        } else if d.count_ones() == 1 {
            // The same scaling over m limbs: σ·remainder ∈ [0, 256^m) with σ = 2^(8m − s) is
            // exactly [0, d).
            let s = d.trailing_zeros();
            let m = s.div_ceil(LIMB_BITS);
            let sigma = 1i128 << (m * LIMB_BITS - s);
            let d = i128::from(d);
            let cells = self.check(
                &[
                    Term::Copy(x, fe128(sigma)),
                    Term::New(fe(q), -fe128(sigma * d)),
                ],
                sigma * (d / 2),
                sigma * i128::from(rem),
                m * LIMB_BITS,
            );
            cells[1]
        } else {
            let bits = bits_for(i128::from(d - 1)).max(1);
            let half = i128::from(d / 2);
            let rem = i128::from(rem);
            let cells = self.check(
                &[Term::Copy(x, one()), Term::New(fe(q), -fe(d))],
                half,
                rem,
                bits,
            );
            let q = cells[1];
            self.check(
                &[Term::Copy(x, -one()), Term::Copy(q, fe(d))],
                i128::from(d - 1) - half,
                i128::from(d - 1) - rem,
                bits,
            );
            q
        };
        self.check(
            &[Term::Copy(q, one())],
            q_bound,
            i128::from(q.value_i64()) + q_bound,
            signed_bits(q_bound),
        );
        q
    }

    /// `max(0, x)` for `|x| < 2^bits` with the sign bit `b` witnessed: `y = b·x`, `b·b = b`,
    /// and `2y − x + b − 1` (`= x` when `b = 1`, `−x − 1` when `b = 0`) is non-negative.
    pub fn relu(&mut self, x: Var, non_negative: bool, bits: u32) -> Var {
        let b = Fr::from(u64::from(non_negative));
        let y_val = b * x.value;
        let mut eq = Equation::default();
        let lb = eq.fresh(b, Fr::zero());
        eq.copy(x, Fr::zero());
        let ly = eq.fresh(y_val, -one());
        eq.product(one());
        let cells = self.rows.push(eq);
        let (b, y) = (cells[lb].expect("b"), cells[ly].expect("y"));
        let mut eq = Equation::default();
        eq.copy(b, -one());
        eq.copy(b, Fr::zero());
        eq.product(one());
        self.rows.push(eq);
        let z = 2 * i128::from(y.value_i64()) - i128::from(x.value_i64())
            + i128::from(non_negative)
            - 1;
        self.check(
            &[
                Term::Copy(y, fe(2)),
                Term::Copy(x, -one()),
                Term::Copy(b, one()),
            ],
            -1,
            z,
            bits,
        );
        y
    }

    /// `y = a·2^sa + b·2^sb`.
    pub fn add(&mut self, a: Var, b: Var, sa: u32, sb: u32) -> Var {
        let (ka, kb) = (fe128(1i128 << sa), fe128(1i128 << sb));
        let mut eq = Equation::default();
        eq.copy(a, ka);
        eq.copy(b, kb);
        let lane = eq.fresh(ka * a.value + kb * b.value, -one());
        self.rows.push(eq)[lane].expect("the sum lane")
    }

    /// The first index of the maximum of `xs` (`|x| ≤ bound`), `class` witnessed: a one-hot
    /// indicator that sums to one and weighs the indices to `class`; the selected value beats
    /// every earlier one and ties or beats every later one.
    pub fn argmax(&mut self, xs: &[Var], class: i64, bound: i128) -> Var {
        let mut cells = self.witnesses(&[fe(class)]);
        let c = cells.remove(0);
        let ind = self.one_hot(xs.len(), class as usize, false);
        let mut idx: Vec<(Var, Fr)> = ind
            .iter()
            .enumerate()
            .map(|(j, &i)| (i, fe(j as i64)))
            .collect();
        idx.push((c, -one()));
        self.zero_sum(&idx, Fr::zero());
        let best = self.pick(&ind, xs);
        self.dominates(best, xs, Some(&ind), bound);
        self.class_indicator = Some(ind);
        c
    }

    /// The maximum of `xs` (`|x| ≤ bound`, at least one), `choice` a maximal index: the
    /// one-hot pick of [`Layout::argmax`] and `max ≥ x` for every `x` (which tap wins a tie
    /// does not change the value). A single tap is its own maximum.
    pub fn max(&mut self, xs: &[Var], choice: usize, bound: i128) -> Var {
        if let [x] = xs {
            return *x;
        }
        let ind = self.one_hot(xs.len(), choice, true);
        let best = self.pick(&ind, xs);
        self.dominates(best, xs, None, bound);
        best
    }

    /// Bits `ind_j = [j = choice]`, `j < n`: each boolean, summing to one. `born` puts each
    /// bit in its own boolean row ([`Layout::boolean`]); ArgMax keeps the witness rows it was
    /// measured with (five bits a row, then their boolean rows).
    fn one_hot(&mut self, n: usize, choice: usize, born: bool) -> Vec<Var> {
        let ind = if born {
            (0..n).map(|j| self.boolean(j == choice)).collect()
        } else {
            let ind_vals: Vec<Fr> = (0..n).map(|j| Fr::from(u64::from(j == choice))).collect();
            let ind = self.witnesses(&ind_vals);
            for &i in &ind {
                let mut eq = Equation::default();
                eq.copy(i, -one());
                eq.copy(i, Fr::zero());
                eq.product(one());
                self.rows.push(eq);
            }
            ind
        };
        let ones: Vec<(Var, Fr)> = ind.iter().map(|&i| (i, one())).collect();
        self.zero_sum(&ones, -one());
        ind
    }

    /// `Σ ind_j·x_j` (the value the one-hot `ind` selects), one product a row through `acc`.
    fn pick(&mut self, ind: &[Var], xs: &[Var]) -> Var {
        let n = xs.len();
        let mut best = Fr::zero();
        let mut best_cell = None;
        for (j, (&i, &x)) in ind.iter().zip(xs).enumerate() {
            let mut eq = Equation::default();
            eq.copy(i, Fr::zero());
            eq.copy(x, Fr::zero());
            eq.product(one());
            best += i.value * x.value;
            if j > 0 {
                eq.acc_prev(one());
            }
            if j + 1 == n {
                let lane = eq.fresh(best, -one());
                best_cell = self.rows.push(eq)[lane];
            } else {
                eq.acc(best, -one());
                self.rows.push(eq);
            }
        }
        best_cell.expect("a pick over at least one value")
    }

    /// `best ≥ x_j` for every `j` (`|x| ≤ bound`); with the one-hot `first`, also
    /// `best ≥ x_j + 1` before its index (ties go to the first maximum).
    fn dominates(&mut self, best: Var, xs: &[Var], first: Option<&[Var]>, bound: i128) {
        let bits = signed_bits(bound);
        let best_i = i128::from(best.value_i64());
        // later_j = Σ_{i>j} ind_i = [class > j], built from the end.
        let mut later: Option<Var> = None;
        for j in (0..xs.len()).rev() {
            let l = later.map_or(0, |v| i128::from(v.value_i64()));
            let diff = best_i - i128::from(xs[j].value_i64()) - l;
            let mut terms = vec![Term::Copy(best, one()), Term::Copy(xs[j], -one())];
            if let Some(v) = later {
                terms.push(Term::Copy(v, -one()));
            }
            self.check(&terms, 0, diff, bits);
            let Some(ind) = first else { continue };
            if j > 0 {
                let mut eq = Equation::default();
                if let Some(v) = later {
                    eq.copy(v, one());
                }
                eq.copy(ind[j], one());
                let lane = eq.fresh(later.map_or(Fr::zero(), |v| v.value) + ind[j].value, -one());
                later = self.rows.push(eq)[lane];
            }
        }
    }
}

impl Var {
    /// The cell's value as a small signed integer (cells here always hold one).
    pub(crate) fn value_i64(&self) -> i64 {
        crate::field::to_i64(&self.value).unwrap_or(i64::MAX)
    }
}

/// Assigns the input (range-checked to its bound) and every op of `model` from `trace`;
/// returns every tensor's cells and the rows.
pub(crate) fn assign_run(
    model: &QModel,
    trace: &Trace,
    tamper: Option<DenseTamper>,
) -> Result<(Layout, Cells), CircuitError> {
    let mut lay = Layout::default();
    let forge = tamper.and_then(|t| match t {
        DenseTamper::Product => Some(Forge::Product),
        DenseTamper::Remainder => Some(Forge::Remainder),
        DenseTamper::ReluSign => Some(Forge::ReluSign),
        DenseTamper::ClassOff => Some(Forge::ClassOff),
        DenseTamper::Input(v) => Some(Forge::Input(v)),
        DenseTamper::PoolSum => Some(Forge::PoolSum),
        DenseTamper::PoolChoice => Some(Forge::PoolChoice),
        DenseTamper::ConstOutput => Some(Forge::ConstOutput),
        DenseTamper::TableOutput => Some(Forge::TableOutput),
        DenseTamper::TableClamp => Some(Forge::TableClamp),
        DenseTamper::TableMirror => Some(Forge::TableMirror),
        // Attribution forgeries are applied by `super::topk`.
        _ => None,
    });
    let cells = vertical::run(&mut lay, model, trace, forge, refuse)?;
    Ok((lay, cells))
}

impl Backend for Layout {
    type Cell = Var;

    fn value(cell: &Var) -> Fr {
        cell.value
    }

    /// Exactly `v ∈ [−B, B]` (one-sided, whole limbs would admit `v` up to `256^m − B − 1`,
    /// which would make a hashed input's packing non-injective and every bound derived from the
    /// input wrong). When `N = 2B` is a power of 256 (`B = 128`: `N = 256`), `v + B = low + N·h`
    /// with `low` in whole limbs below `N` and `h·(v + B − N) = 0` — `h = 0` leaves `[0, N)`,
    /// anything else forces `v + B = N` — as many rows as one side; otherwise both sides,
    /// `v + B ≥ 0` and `B − v ≥ 0`, in whole limbs.
    fn input(&mut self, v: i64, bound: i128) -> Var {
        let bits = signed_bits(bound);
        let (x, n) = (i128::from(v) + bound, 2 * bound);
        let low_limbs = limbs_for(bits) - 1;
        if low_limbs > 0 && n == 1i128 << (LIMB_BITS as usize * low_limbs) {
            let h = x.div_euclid(n);
            let cells = self.check(
                &[Term::New(fe(v), one()), Term::New(fe128(h), -fe128(n))],
                bound,
                x - n * h,
                bits - 1,
            );
            let (cell, h) = (cells[0], cells[1]);
            let mut eq = Equation::default();
            eq.copy(h, fe128(bound - n));
            eq.copy(cell, Fr::zero());
            eq.product(one());
            self.rows.push(eq);
            return cell;
        }
        let cell = self.check(&[Term::New(fe(v), one())], bound, x, bits)[0];
        self.check(
            &[Term::Copy(cell, -one())],
            bound,
            bound - i128::from(v),
            bits,
        );
        cell
    }

    fn dot(&mut self, terms: &[(Var, i64)], bias: i64, forge: bool) -> Var {
        Layout::dot(self, terms, bias, forge)
    }

    fn div_round(&mut self, x: Var, q: i64, d: i64, r: i64, q_bound: i128) -> Var {
        Layout::div_round(self, x, q, d, r, q_bound)
    }

    fn relu(&mut self, x: Var, non_negative: bool, bits: u32) -> Var {
        Layout::relu(self, x, non_negative, bits)
    }

    fn add(&mut self, a: Var, b: Var, sa: u32, sb: u32) -> Var {
        Layout::add(self, a, b, sa, sb)
    }

    fn argmax(&mut self, xs: &[Var], class: i64, bound: i128) -> Var {
        Layout::argmax(self, xs, class, bound)
    }

    fn max(&mut self, xs: &[Var], choice: usize, bound: i128) -> Option<Var> {
        Some(Layout::max(self, xs, choice, bound))
    }

    fn table(&mut self, x: Var, table: &Table, bound: i128, forge: Option<Forge>) -> Option<Var> {
        Some(Layout::table(self, x, table, bound, forge))
    }
}
