//! The Poseidon permutation and sponge of [`crate::poseidon`] as dense rows ([`super::rows`]):
//! the same function (width, rounds, constants, MDS, padding, length in the capacity), bit for
//! bit, in the dense gate with no columns of its own.
//!
//! The gate has one product per row, and x⁵ needs three (`u² = u·u`, `u⁴ = u²·u²`, `u⁵ = u⁴·u`),
//! so an S-box is three rows. Everything linear is folded into those rows' coefficients:
//!
//! - the state is kept as affine forms over cells ([`Lin`]), so round constants and the MDS
//!   matrix cost no rows of their own;
//! - the S-box input need not be a cell: for `u = α·y + β` over one cell `y` the square row is
//!   `α²·y·y + 2αβ·y + β² = u²` and the last row `α·u⁴·y + β·u⁴ = u⁵`;
//! - the last row does not stop at `u⁵`: it pins a useful affine form of it (the next round's
//!   first S-box input), so `u⁵` itself stays a form over that cell;
//! - a form is written to a cell ([`Sponge::cell`]) only where a row needs it to fit: an S-box
//!   input over several cells, or a state too wide for a last row's free lanes.

use halo2curves::bn256::Fr;

use super::rows::{DenseRows, Equation, Rows, Var, LANES};
use crate::commit::Packing;
use crate::error::CircuitError;
use crate::poseidon::{constants, initial_state, is_full_round, RATE, WIDTH};

/// Whether two cells are the same cell (not merely equal values).
fn same(a: &Var, b: &Var) -> bool {
    a.row == b.row && a.lane == b.lane
}

/// An affine form `Σ c·x + constant` over cells, no cell twice and no zero coefficient.
#[derive(Clone, Debug)]
pub(crate) struct Lin {
    terms: Vec<(Var, Fr)>,
    constant: Fr,
}

impl Lin {
    /// The cell `x`.
    pub fn cell(x: Var) -> Self {
        Self {
            terms: vec![(x, Fr::one())],
            constant: Fr::zero(),
        }
    }

    /// The constant `c`.
    pub fn constant(c: Fr) -> Self {
        Self {
            terms: Vec::new(),
            constant: c,
        }
    }

    /// `Σ c·x + constant` over `terms` (a cell may repeat; its coefficients add up).
    pub fn sum(terms: impl IntoIterator<Item = (Var, Fr)>, constant: Fr) -> Self {
        let mut out = Self::constant(constant);
        for (x, c) in terms {
            out.add_term(x, c);
        }
        out
    }

    fn add_term(&mut self, x: Var, c: Fr) {
        match self.terms.iter().position(|(y, _)| same(y, &x)) {
            Some(i) => {
                self.terms[i].1 += c;
                if self.terms[i].1 == Fr::zero() {
                    self.terms.remove(i);
                }
            }
            None if c != Fr::zero() => self.terms.push((x, c)),
            None => {}
        }
    }

    /// The value the form has.
    pub fn value(&self) -> Fr {
        self.terms
            .iter()
            .fold(self.constant, |s, (x, c)| s + *c * x.value)
    }

    /// `self + k·other`.
    fn plus(&self, k: Fr, other: &Lin) -> Lin {
        let mut out = self.clone();
        for &(x, c) in &other.terms {
            out.add_term(x, k * c);
        }
        out.constant += k * other.constant;
        out
    }

    /// `k·self`.
    fn scaled(&self, k: Fr) -> Lin {
        Lin::constant(Fr::zero()).plus(k, self)
    }

    /// `self + c`.
    fn plus_const(&self, c: Fr) -> Lin {
        let mut out = self.clone();
        out.constant += c;
        out
    }

    /// `(y, α, β)` when the form is `α·y + β` over one cell.
    fn single(&self) -> Option<(Var, Fr, Fr)> {
        match self.terms.as_slice() {
            [(y, a)] => Some((*y, *a, self.constant)),
            _ => None,
        }
    }

    /// The coefficient of `y` and the form without it.
    fn split(&self, y: &Var) -> (Fr, Lin) {
        let mut rest = self.clone();
        let c = match rest.terms.iter().position(|(x, _)| same(x, y)) {
            Some(i) => rest.terms.remove(i).1,
            None => Fr::zero(),
        };
        (c, rest)
    }
}

/// `Σ_j m[j]·f[j]` over forms.
fn combine(m: &[Fr; WIDTH], f: &[Lin; WIDTH]) -> Lin {
    (0..WIDTH).fold(Lin::constant(Fr::zero()), |s, j| s.plus(m[j], &f[j]))
}

/// Lays out Poseidon hashes as rows; remembers some cells so tests can forge them.
pub(crate) struct Sponge<'a> {
    rows: &'a mut Rows,
    /// Every S-box's `u²` cell, in order.
    pub squares: Vec<Var>,
    /// Every pinned last-row cell (a round's output form), in order.
    pub pinned: Vec<Var>,
}

impl<'a> Sponge<'a> {
    /// Hashes into `rows`.
    pub fn new(rows: &'a mut Rows) -> Self {
        Self {
            rows,
            squares: Vec::new(),
            pinned: Vec::new(),
        }
    }

    /// The form as a cell: itself when it is one, else a cell pinned to it (one row per four
    /// terms, chained through `acc`; a constant gets a row too, `constant − out = 0`).
    pub fn cell(&mut self, f: &Lin) -> Var {
        if let Some((y, a, b)) = f.single() {
            if a == Fr::one() && b == Fr::zero() {
                return y;
            }
        }
        let mut terms = f.terms.as_slice();
        let mut first = true;
        let mut acc = f.constant;
        while terms.len() >= LANES {
            let (head, tail) = terms.split_at(LANES);
            let mut eq = Equation::default();
            for &(x, c) in head {
                eq.copy(x, c);
                acc += c * x.value;
            }
            if first {
                eq.constant(f.constant);
            } else {
                eq.acc_prev(Fr::one());
            }
            eq.acc(acc, -Fr::one());
            self.rows.push(eq);
            first = false;
            terms = tail;
        }
        let mut eq = Equation::default();
        for &(x, c) in terms {
            eq.copy(x, c);
        }
        if first {
            eq.constant(f.constant);
        } else {
            eq.acc_prev(Fr::one());
        }
        let lane = eq.fresh(f.value(), -Fr::one());
        self.rows.push(eq)[lane].expect("the output lane")
    }

    /// `u⁵` as a form. With `pin = (λ, F)` whose cells other than the S-box's own fit the last
    /// row's two free lanes, that row pins `out = λ·u⁵ + F` and `u⁵ = (out − F)/λ`; otherwise it
    /// pins `u⁵` itself. A constant `u` takes no rows.
    fn sbox(&mut self, u: &Lin, pin: Option<(Fr, &Lin)>) -> Lin {
        if u.terms.is_empty() {
            return Lin::constant(crate::poseidon::sbox(u.constant));
        }
        let (y, a, b) = u
            .single()
            .unwrap_or_else(|| (self.cell(u), Fr::one(), Fr::zero()));
        let uv = u.value();
        let (u2, u4) = (uv.square(), uv.square().square());
        // u² = α²·y·y + 2αβ·y + β².
        let mut eq = Equation::default();
        eq.copy(y, a.double() * b);
        eq.copy(y, Fr::zero());
        let l2 = eq.fresh(u2, -Fr::one());
        eq.product(a.square());
        eq.constant(b.square());
        let sq = self.rows.push(eq)[l2].expect("u² lane");
        self.squares.push(sq);
        // u⁴ = u²·u².
        let mut eq = Equation::default();
        eq.copy(sq, Fr::zero());
        eq.copy(sq, Fr::zero());
        let l4 = eq.fresh(u4, -Fr::one());
        eq.product(Fr::one());
        let q = self.rows.push(eq)[l4].expect("u⁴ lane");
        // out = λ·(α·u⁴·y + β·u⁴) + F.
        let (lambda, f) = match pin {
            Some((l, f)) if f.split(&y).1.terms.len() <= LANES - 3 => (l, f.clone()),
            _ => (Fr::one(), Lin::constant(Fr::zero())),
        };
        let (fy, rest) = f.split(&y);
        let x5 = u4 * uv;
        let mut eq = Equation::default();
        eq.copy(q, lambda * b);
        eq.copy(y, fy);
        for &(x, c) in &rest.terms {
            eq.copy(x, c);
        }
        eq.product(lambda * a);
        eq.constant(rest.constant);
        let lo = eq.fresh(lambda * x5 + f.value(), -Fr::one());
        let out = self.rows.push(eq)[lo].expect("output lane");
        self.pinned.push(out);
        let inv = lambda.invert().expect("MDS entries are non-zero");
        Lin::cell(out).plus(-Fr::one(), &f).scaled(inv)
    }

    /// The permutation of [`crate::poseidon::permute`] on a state of forms; returns the state
    /// as forms (word 0 a cell).
    pub fn permute(&mut self, state: [Lin; WIDTH]) -> [Lin; WIDTH] {
        let c = constants();
        let rounds = c.round_constants.len();
        let mut s = state;
        for t in 0..rounds {
            let rc = &c.round_constants[t];
            // What the next round adds to word 0 (nothing after the last round).
            let next0 = c.round_constants.get(t + 1).map_or(Fr::zero(), |r| r[0]);
            let u: [Lin; WIDTH] = std::array::from_fn(|i| s[i].plus_const(rc[i]));
            let x: [Lin; WIDTH] = if is_full_round(t) {
                let x0 = self.sbox(&u[0], None);
                let x1 = self.sbox(&u[1], None);
                // The last S-box pins the next round's word 0: M₀₂·u₂⁵ + M₀₀·x₀ + M₀₁·x₁ + rc.
                let f = x0
                    .scaled(c.mds[0][0])
                    .plus(c.mds[0][1], &x1)
                    .plus_const(next0);
                let x2 = self.sbox(&u[2], Some((c.mds[0][2], &f)));
                [x0, x1, x2]
            } else {
                // Only word 0 goes through the S-box; its last row pins the next word 0, which
                // reads words 1 and 2: they must fit two lanes beside the S-box's own cell.
                let y = u[0].single().map(|(y, _, _)| y);
                let f = |u: &[Lin; WIDTH]| {
                    u[1].scaled(c.mds[0][1])
                        .plus(c.mds[0][2], &u[2])
                        .plus_const(next0)
                };
                let mut u = u;
                let wide = match y {
                    Some(y) => f(&u).split(&y).1.terms.len() > LANES - 3,
                    None => true,
                };
                if wide {
                    for w in u.iter_mut().skip(1) {
                        *w = Lin::cell(self.cell(w));
                    }
                }
                let x0 = self.sbox(&u[0], Some((c.mds[0][0], &f(&u))));
                let [_, u1, u2] = u;
                [x0, u1, u2]
            };
            s = std::array::from_fn(|i| combine(&c.mds[i], &x));
        }
        s
    }

    /// [`crate::poseidon::hash`] of `message`: the digest's cell.
    pub fn hash(&mut self, message: &[Lin]) -> Var {
        let mut state = initial_state(message.len()).map(Lin::constant);
        if message.is_empty() {
            state = self.permute(state);
        }
        for chunk in message.chunks(RATE) {
            for (s, m) in state.iter_mut().zip(chunk) {
                *s = s.plus(Fr::one(), m);
            }
            state = self.permute(state);
        }
        self.cell(&state[0])
    }

    /// [`crate::poseidon::merkle_root`] of `leaves`: pairs hashed level by level, an odd node
    /// paired with zero, the leaf count hashed in at the top; returns the root's cell.
    pub fn merkle_root(&mut self, leaves: &[Lin]) -> Var {
        if leaves.is_empty() {
            return self.hash(&[]);
        }
        let zero = Lin::constant(Fr::zero());
        let mut level = leaves.to_vec();
        loop {
            let mut next = Vec::with_capacity(level.len().div_ceil(2));
            for pair in level.chunks(2) {
                let right = pair.get(1).unwrap_or(&zero).clone();
                next.push(Lin::cell(self.hash(&[pair[0].clone(), right])));
            }
            level = next;
            if level.len() == 1 {
                break;
            }
        }
        let count = Lin::constant(Fr::from(leaves.len() as u64));
        self.hash(&[level[0].clone(), count])
    }

    /// [`crate::commit::index_root`]'s leaf: `hash([contributor, label, packed embedding])`.
    /// The embedding cells must be range-checked to the packing's bound by the caller (that is
    /// what makes the packing injective).
    pub fn index_leaf(
        &mut self,
        contributor: Lin,
        label: Lin,
        packing: &Packing,
        embedding: &[Var],
    ) -> Lin {
        let mut message = vec![contributor, label];
        message.extend(pack(packing, embedding));
        Lin::cell(self.hash(&message))
    }
}

/// [`crate::commit::input_commitment`] of the input `cells`: each packed element the form
/// `Σ (x + offset)·2^(slot_bits·i)` over its slots, hashed; returns the digest's cell. The
/// packing is injective only because every input cell is checked to `[−B, B]`.
pub(crate) fn input_commitment(rows: &mut Rows, packing: &Packing, cells: &[Var]) -> Var {
    Sponge::new(rows).hash(&pack(packing, cells))
}

/// [`Packing::pack`] of `cells` as forms (no rows): `Σ (x + offset)·2^(slot_bits·i)` per
/// element.
pub(crate) fn pack(packing: &Packing, cells: &[Var]) -> Vec<Lin> {
    cells
        .chunks(packing.per_element)
        .map(|chunk| {
            Lin::sum(
                chunk
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| (x, packing.slot_weight(i))),
                packing.element_offset(chunk.len()),
            )
        })
        .collect()
}

/// A forged cell for negative tests; never set outside tests.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoseidonTamper {
    /// The `u²` cell of the n-th S-box laid out, one more.
    Square(usize),
    /// The n-th pinned round output (an S-box's last row), one more.
    RoundOutput(usize),
}

/// Poseidon alone as dense rows, its inputs and outputs public: a permutation or a hash, for
/// tests and row counts.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct DensePoseidon {
    circuit: DenseRows,
    instances: Vec<Fr>,
    k: u32,
    rows: usize,
}

impl DensePoseidon {
    /// The permutation of `state`; instances: the state, then the permuted state.
    pub fn permutation(
        state: [Fr; WIDTH],
        tamper: Option<PoseidonTamper>,
    ) -> Result<Self, CircuitError> {
        Self::build(&state, tamper, |sponge, cells| {
            let out = sponge.permute(std::array::from_fn(|i| Lin::cell(cells[i])));
            out.iter().map(|f| sponge.cell(f)).collect()
        })
    }

    /// The hash of `message`; instances: the message, then the digest.
    pub fn hash(message: &[Fr], tamper: Option<PoseidonTamper>) -> Result<Self, CircuitError> {
        Self::build(message, tamper, |sponge, cells| {
            let m: Vec<Lin> = cells.iter().map(|&x| Lin::cell(x)).collect();
            vec![sponge.hash(&m)]
        })
    }

    /// [`crate::commit::index_root`] of `index`; instances: per entry its contributor, label
    /// and embedding, then the root. The embedding cells are not range-checked here.
    pub fn index_root(
        index: &poa_runtime::attribution::AttributionIndex,
        tamper: Option<PoseidonTamper>,
    ) -> Result<Self, CircuitError> {
        let packing = Packing::for_bound(index.embedding_bound);
        let d = index.entries.first().map_or(0, |e| e.embedding.len());
        if index.entries.iter().any(|e| e.embedding.len() != d) {
            return Err(CircuitError::UnsupportedShape {
                layer: "dense index root".into(),
                reason: "entries' embeddings differ in length".into(),
            });
        }
        let inputs: Vec<Fr> = index
            .entries
            .iter()
            .flat_map(|e| {
                [
                    crate::commit::fr_be(&e.contributor.0),
                    Fr::from(u64::from(e.label)),
                ]
                .into_iter()
                .chain(e.embedding.iter().map(|&v| crate::field::fe(v)))
            })
            .collect();
        Self::build(&inputs, tamper, |sponge, cells| {
            let leaves: Vec<Lin> = cells
                .chunks(2 + d)
                .map(|e| sponge.index_leaf(Lin::cell(e[0]), Lin::cell(e[1]), &packing, &e[2..]))
                .collect();
            vec![sponge.merkle_root(&leaves)]
        })
    }

    fn build(
        inputs: &[Fr],
        tamper: Option<PoseidonTamper>,
        lay: impl FnOnce(&mut Sponge<'_>, &[Var]) -> Vec<Var>,
    ) -> Result<Self, CircuitError> {
        let mut rows = Rows::default();
        let mut cells = Vec::with_capacity(inputs.len());
        for chunk in inputs.chunks(LANES) {
            let mut eq = Equation::default();
            for &v in chunk {
                eq.fresh(v, Fr::zero());
            }
            cells.extend(rows.push(eq).into_iter().flatten());
        }
        let start = rows.len();
        let mut sponge = Sponge::new(&mut rows);
        let outputs = lay(&mut sponge, &cells);
        let forged = match tamper {
            Some(PoseidonTamper::Square(n)) => sponge.squares.get(n).copied(),
            Some(PoseidonTamper::RoundOutput(n)) => sponge.pinned.get(n).copied(),
            None => None,
        };
        if let Some(x) = forged {
            rows.forge(&x, Fr::one());
        }
        let bad = |reason: String| CircuitError::TraceMismatch {
            what: "dense Poseidon".into(),
            reason,
        };
        if tamper.is_none() {
            if let Some(i) = (0..rows.len()).find(|&i| rows.residual(i) != Fr::zero()) {
                return Err(bad(format!("row {i}'s equation does not hold")));
            }
        } else if forged.is_none() {
            return Err(bad("the forged cell does not exist".into()));
        }
        let public: Vec<Var> = cells.into_iter().chain(outputs).collect();
        let instances: Vec<Fr> = public.iter().map(|x| x.value).collect();
        let (k, usable) = super::size(
            rows.len(),
            instances.len(),
            &[],
            super::DenseParams::default(),
        )?;
        Ok(Self {
            rows: rows.len() - start,
            circuit: DenseRows {
                rows,
                public,
                tables: Vec::new(),
                params: super::DenseParams::default(),
                usable,
            },
            instances,
            k,
        })
    }

    /// The halo2 circuit.
    pub fn circuit(&self) -> &DenseRows {
        &self.circuit
    }

    /// The public instances: inputs, then outputs.
    pub fn instances(&self) -> &[Fr] {
        &self.instances
    }

    /// Circuit size exponent.
    pub fn k(&self) -> u32 {
        self.k
    }

    /// Rows of the permutation or hash (the input rows not counted).
    pub fn rows(&self) -> usize {
        self.rows
    }
}
