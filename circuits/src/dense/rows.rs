//! The dense layout's one gate and the rows it constrains.
//!
//! Every row is one equation over its own cells, its coefficients in fixed columns:
//!
//! `Σᵢ wᵢ·xᵢ + f_a·acc + f_p·acc_prev + f_c + f_m·x₀·x₁ + f_r·r = 0`
//!
//! with five copyable lanes `x₀..x₄`, an accumulator `acc` that the next row can read
//! (`acc_prev`), and `r`, looked up in an 8-bit table on every row. A row whose coefficients
//! are all zero constrains nothing (that is what unused rows and halo2's blinding rows are), so
//! the gate needs no selector. Weights are coefficients: a Gemm row does five MACs with only the
//! inputs as advice, which is what keeps both k and the proof small.

use halo2_proofs::circuit::{Cell, Layouter, Region, SimpleFloorPlanner, Value};
use halo2_proofs::plonk::{
    Advice, Circuit, Column, ConstraintSystem, Error, Expression, Fixed, Instance, TableColumn,
};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;

use super::table::{Runs, TableConfig};

/// Copyable advice lanes per row.
pub const LANES: usize = 5;

/// Bits of the looked-up range table (`0..256`).
pub const LIMB_BITS: u32 = 8;

/// The lane an attribution circuit's bit gate and slot lookup read ([`DenseParams`]).
pub(crate) const ATTR_LANE: usize = 4;

/// A cell of a lane, with its value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Var {
    pub row: usize,
    pub lane: usize,
    pub value: Fr,
}

/// What a lane of a row holds: a fresh value, a copy of an earlier cell, or a copy of an
/// earlier lane of the same row (a cell whose row is not pushed yet has no [`Var`]).
#[derive(Clone, Copy, Debug)]
enum Slot {
    New(Fr),
    Copy(Var),
    Same(usize),
}

/// One row: its cells and the coefficients of its equation.
#[derive(Clone, Debug, Default)]
pub(crate) struct Row {
    lanes: [Option<Slot>; LANES],
    w: [Fr; LANES],
    acc: Fr,
    fa: Fr,
    fp: Fr,
    fc: Fr,
    fm: Fr,
    r: Fr,
    fr: Fr,
    /// The activation table this row looks lanes 1–3 up in (0: none; [`super::table`]).
    tag: Fr,
    /// Attribution columns: the entry table `t = f_ent·x₀·x₁ + f_tab`, the slot lookup input
    /// `f_slot·x₄`, the bit check `f_bit·(x₄² − x₄)`.
    f_ent: Fr,
    f_tab: Fr,
    f_slot: bool,
    f_bit: bool,
}

/// Builds one row's equation term by term.
#[derive(Default)]
pub(crate) struct Equation {
    row: Row,
    used: usize,
}

impl Equation {
    fn lane(&mut self, slot: Slot, coeff: Fr) -> usize {
        let i = self.used;
        assert!(i < LANES, "a dense row has {LANES} lanes");
        self.row.lanes[i] = Some(slot);
        self.row.w[i] = coeff;
        self.used += 1;
        i
    }
    /// `coeff · x` for a copy of `x`; returns the lane.
    pub fn copy(&mut self, x: Var, coeff: Fr) -> usize {
        self.lane(Slot::Copy(x), coeff)
    }
    /// `coeff · v` for a fresh cell holding `v`; returns the lane.
    pub fn fresh(&mut self, v: Fr, coeff: Fr) -> usize {
        self.lane(Slot::New(v), coeff)
    }
    /// `coeff · x` for a copy of this row's lane `lane` (filled before); returns the lane.
    pub fn same(&mut self, lane: usize, coeff: Fr) -> usize {
        assert!(lane < self.used, "lane {lane} is not filled yet");
        self.lane(Slot::Same(lane), coeff)
    }
    /// Leaves lanes empty (zero) up to `lane`, so the next term lands there.
    pub fn skip_to(&mut self, lane: usize) {
        assert!(
            self.used <= lane && lane < LANES,
            "lane {lane} is taken or out of range"
        );
        self.used = lane;
    }
    /// Looks lanes 1–3 up as a run `(y, s, e)` of activation table `id` (1-based).
    pub fn lookup(&mut self, id: usize) {
        self.row.tag = Fr::from(id as u64);
    }
    /// `coeff · acc` with `acc` holding `v`.
    pub fn acc(&mut self, v: Fr, coeff: Fr) {
        self.row.acc = v;
        self.row.fa = coeff;
    }
    /// `coeff · acc_prev` (the previous row's accumulator).
    pub fn acc_prev(&mut self, coeff: Fr) {
        self.row.fp = coeff;
    }
    /// A constant term.
    pub fn constant(&mut self, c: Fr) {
        self.row.fc = c;
    }
    /// `coeff · x₀ · x₁` (lanes 0 and 1 must be filled first).
    pub fn product(&mut self, coeff: Fr) {
        self.row.fm = coeff;
    }
    /// `coeff · r` with `r` holding `v` (which the table bounds to `[0, 256)`).
    pub fn limb(&mut self, v: Fr, coeff: Fr) {
        self.row.r = v;
        self.row.fr = coeff;
    }
    /// Puts this row in the entry table: `t = f_ent·x₀·x₁ + f_tab` (attribution circuits).
    pub fn table(&mut self, f_ent: Fr, f_tab: Fr) {
        self.row.f_ent = f_ent;
        self.row.f_tab = f_tab;
    }
    /// Looks lane [`ATTR_LANE`] up in the entry table (attribution circuits).
    pub fn slot(&mut self) {
        self.row.f_slot = true;
    }
    /// Constrains lane [`ATTR_LANE`] to a bit (attribution circuits).
    pub fn bit(&mut self) {
        self.row.f_bit = true;
    }
}

impl Row {
    /// The value lane `l` holds (zero when empty).
    fn value(&self, l: usize) -> Fr {
        match self.lanes[l] {
            Some(Slot::New(v)) => v,
            Some(Slot::Copy(c)) => c.value,
            Some(Slot::Same(j)) => self.value(j),
            None => Fr::zero(),
        }
    }
}

/// Every row of one circuit, in order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rows {
    rows: Vec<Row>,
}

impl Rows {
    /// Appends `eq`'s row; returns the cells of its lanes.
    pub fn push(&mut self, eq: Equation) -> [Option<Var>; LANES] {
        let row = self.rows.len();
        let cells = std::array::from_fn(|lane| {
            eq.row.lanes[lane].map(|_| Var {
                row,
                lane,
                value: eq.row.value(lane),
            })
        });
        self.rows.push(eq.row);
        cells
    }

    /// Adds `delta` to the fresh cell `x`, leaving its copies as they were (forgeries in
    /// negative tests).
    pub fn forge(&mut self, x: &Var, delta: Fr) {
        if let Some(Slot::New(v)) = &mut self.rows[x.row].lanes[x.lane] {
            *v += delta;
        }
    }

    /// Rows used.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when any row uses an attribution column (such rows need [`DenseParams`]'s
    /// attribution configuration).
    pub fn uses_attribution(&self) -> bool {
        self.rows
            .iter()
            .any(|r| r.f_slot || r.f_bit || r.f_ent != Fr::zero() || r.f_tab != Fr::zero())
    }

    /// The entry-table value of row `i` (`f_ent·x₀·x₁ + f_tab`; zero off the table).
    pub fn table_value(&self, i: usize) -> Fr {
        let row = &self.rows[i];
        row.f_ent * row.value(0) * row.value(1) + row.f_tab
    }

    /// True when row `i`'s bit check holds (or it has none).
    pub fn bit_holds(&self, i: usize) -> bool {
        let row = &self.rows[i];
        let x = row.value(ATTR_LANE);
        !row.f_bit || x * x == x
    }

    /// The value row `i` looks up in the entry table, if it is a slot row.
    pub fn slot_value(&self, i: usize) -> Option<Fr> {
        let row = &self.rows[i];
        row.f_slot.then(|| row.value(ATTR_LANE))
    }

    /// The value `row`'s equation leaves over (zero when it holds); the layout checks every row
    /// before a proof is made, so a bug here is an error, not an invalid proof.
    pub fn residual(&self, i: usize) -> Fr {
        let row = &self.rows[i];
        let x = |l: usize| row.value(l);
        let prev = if i == 0 {
            Fr::zero()
        } else {
            self.rows[i - 1].acc
        };
        (0..LANES).fold(Fr::zero(), |s, l| s + row.w[l] * x(l))
            + row.fa * row.acc
            + row.fp * prev
            + row.fc
            + row.fm * x(0) * x(1)
            + row.fr * row.r
    }
}

/// The columns only attribution circuits have.
#[derive(Clone, Debug)]
struct AttrColumns {
    f_use: Column<Fixed>,
    f_ent: Column<Fixed>,
    f_tab: Column<Fixed>,
    f_slot: Column<Fixed>,
    f_bit: Column<Fixed>,
    t: Column<Advice>,
}

/// The dense layout's columns.
#[derive(Clone, Debug)]
pub struct DenseConfig {
    lanes: [Column<Advice>; LANES],
    acc: Column<Advice>,
    r: Column<Advice>,
    w: [Column<Fixed>; LANES],
    fa: Column<Fixed>,
    fp: Column<Fixed>,
    fc: Column<Fixed>,
    fm: Column<Fixed>,
    fr: Column<Fixed>,
    table: TableColumn,
    instance: Column<Instance>,
    /// The activation-table lookup, in circuits whose model has a table.
    tables: Option<TableConfig>,
    attr: Option<AttrColumns>,
}

/// What the dense layout configures beyond its fixed columns (halo2's circuit params, so
/// keygen, a read key and MockProver configure the same columns as the circuit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DenseParams {
    /// Whether the activation-table lookup ([`super::table`]) exists: only models with a
    /// Sigmoid or Tanh pay for its columns and lookup argument.
    pub tables: bool,
    /// Whether the attribution columns exist (top-k attribution over a fixed index):
    /// only attribution circuits pay for them.
    pub attribution: bool,
}

/// Name of the membership lookup of attribution circuits.
pub const SLOT_LOOKUP: &str = "slot in entry table";

impl DenseConfig {
    /// Allocates the columns, the row gate, the range lookup and, when `params` asks, the
    /// activation-table lookup.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, params: DenseParams) -> Self {
        let lanes = std::array::from_fn(|_| {
            let c = meta.advice_column();
            meta.enable_equality(c);
            c
        });
        let acc = meta.advice_column();
        let r = meta.advice_column();
        let w = std::array::from_fn(|_| meta.fixed_column());
        let [fa, fp, fc, fm, fr] = std::array::from_fn(|_| meta.fixed_column());
        let table = meta.lookup_table_column();
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        meta.create_gate("dense row", |m| {
            let f = |c: Column<Fixed>, m: &mut halo2_proofs::plonk::VirtualCells<'_, Fr>| {
                m.query_fixed(c, Rotation::cur())
            };
            let x: [Expression<Fr>; LANES] =
                std::array::from_fn(|i| m.query_advice(lanes[i], Rotation::cur()));
            let mut e = f(fa, m) * m.query_advice(acc, Rotation::cur())
                + f(fp, m) * m.query_advice(acc, Rotation::prev())
                + f(fc, m)
                + f(fm, m) * x[0].clone() * x[1].clone()
                + f(fr, m) * m.query_advice(r, Rotation::cur());
            for (i, xi) in x.into_iter().enumerate() {
                e = e + f(w[i], m) * xi;
            }
            vec![(
                "Σ w·x + f_a·acc + f_p·acc_prev + f_c + f_m·x0·x1 + f_r·r = 0",
                e,
            )]
        });
        meta.lookup("r in [0, 256)", |m| {
            vec![(m.query_advice(r, Rotation::cur()), table)]
        });
        let tables = params
            .tables
            .then(|| TableConfig::configure(meta, [lanes[1], lanes[2], lanes[3]]));
        let attr = params.attribution.then(|| {
            let [f_use, f_ent, f_tab, f_slot, f_bit] = std::array::from_fn(|_| meta.fixed_column());
            let t = meta.advice_column();
            // On every usable row (`f_use`), so `t` is zero off the entry rows; halo2's blinding
            // rows (random `t`) are outside both the gate and the lookup.
            meta.create_gate("entry table", |m| {
                let x0 = m.query_advice(lanes[0], Rotation::cur());
                let x1 = m.query_advice(lanes[1], Rotation::cur());
                vec![(
                    "f_use·(t − f_ent·x0·x1 − f_tab) = 0",
                    m.query_fixed(f_use, Rotation::cur())
                        * (m.query_advice(t, Rotation::cur())
                            - m.query_fixed(f_ent, Rotation::cur()) * x0 * x1
                            - m.query_fixed(f_tab, Rotation::cur())),
                )]
            });
            meta.create_gate("lane bit", |m| {
                let x = m.query_advice(lanes[ATTR_LANE], Rotation::cur());
                vec![(
                    "f_bit·(x4² − x4) = 0",
                    m.query_fixed(f_bit, Rotation::cur()) * (x.clone() * x.clone() - x),
                )]
            });
            meta.lookup_any(SLOT_LOOKUP, |m| {
                vec![(
                    m.query_fixed(f_slot, Rotation::cur())
                        * m.query_advice(lanes[ATTR_LANE], Rotation::cur()),
                    m.query_advice(t, Rotation::cur()),
                )]
            });
            AttrColumns {
                f_use,
                f_ent,
                f_tab,
                f_slot,
                f_bit,
                t,
            }
        });
        Self {
            lanes,
            acc,
            r,
            w,
            fa,
            fp,
            fc,
            fm,
            fr,
            table,
            instance,
            tables,
            attr,
        }
    }

    /// Assigns the tables, every row, the copies and the public cells (`public[i]` is instance
    /// row `i`).
    pub(crate) fn assign(
        &self,
        mut layouter: impl Layouter<Fr>,
        rows: &Rows,
        public: &[Var],
        tables: &[Runs],
        usable: usize,
    ) -> Result<(), Error> {
        layouter.assign_table(
            || "range table",
            |mut t| {
                for v in 0..1usize << LIMB_BITS {
                    t.assign_cell(
                        || "limb",
                        self.table,
                        v,
                        || Value::known(Fr::from(v as u64)),
                    )?;
                }
                Ok(())
            },
        )?;
        match (&self.tables, tables.is_empty()) {
            (Some(t), _) => t.load(&mut layouter, tables)?,
            (None, true) => {}
            (None, false) => return Err(Error::Synthesis),
        }
        let cells = layouter.assign_region(
            || "dense rows",
            |mut region| {
                let cells = self.rows(&mut region, rows)?;
                if let Some(a) = &self.attr {
                    for i in 0..usable.max(rows.len()) {
                        region.assign_fixed(a.f_use, i, Fr::one());
                        if i >= rows.len() {
                            region.assign_advice(a.t, i, Value::known(Fr::zero()));
                        }
                    }
                }
                Ok(cells)
            },
        )?;
        for (i, v) in public.iter().enumerate() {
            let cell = cells[v.row][v.lane].ok_or(Error::Synthesis)?;
            layouter.constrain_instance(cell, self.instance, i);
        }
        Ok(())
    }

    fn rows(
        &self,
        region: &mut Region<'_, Fr>,
        rows: &Rows,
    ) -> Result<Vec<[Option<Cell>; LANES]>, Error> {
        let mut cells: Vec<[Option<Cell>; LANES]> = Vec::with_capacity(rows.len());
        for (i, row) in rows.rows.iter().enumerate() {
            let mut here = [None; LANES];
            for (lane, slot) in row.lanes.iter().enumerate() {
                let Some(slot) = slot else { continue };
                let value = row.value(lane);
                let cell = region
                    .assign_advice(self.lanes[lane], i, Value::known(value))
                    .cell();
                let src = match slot {
                    Slot::New(_) => None,
                    Slot::Copy(x) if x.row == i => Some(here[x.lane]),
                    Slot::Copy(x) => Some(cells.get(x.row).and_then(|c| c[x.lane])),
                    Slot::Same(j) => Some(here[*j]),
                };
                if let Some(src) = src {
                    region.constrain_equal(cell, src.ok_or(Error::Synthesis)?);
                }
                here[lane] = Some(cell);
            }
            for (lane, w) in row.w.iter().enumerate() {
                region.assign_fixed(self.w[lane], i, *w);
            }
            for (col, v) in [
                (self.fa, row.fa),
                (self.fp, row.fp),
                (self.fc, row.fc),
                (self.fm, row.fm),
                (self.fr, row.fr),
            ] {
                region.assign_fixed(col, i, v);
            }
            if row.tag != Fr::zero() {
                let t = self.tables.as_ref().ok_or(Error::Synthesis)?;
                region.assign_fixed(t.tag, i, row.tag);
            }
            region.assign_advice(self.acc, i, Value::known(row.acc));
            region.assign_advice(self.r, i, Value::known(row.r));
            if let Some(a) = &self.attr {
                let bit = |b: bool| if b { Fr::one() } else { Fr::zero() };
                region.assign_fixed(a.f_ent, i, row.f_ent);
                region.assign_fixed(a.f_tab, i, row.f_tab);
                region.assign_fixed(a.f_slot, i, bit(row.f_slot));
                region.assign_fixed(a.f_bit, i, bit(row.f_bit));
                let t = row.f_ent * row.value(0) * row.value(1) + row.f_tab;
                region.assign_advice(a.t, i, Value::known(t));
            } else if row.f_slot || row.f_bit || row.f_ent != Fr::zero() || row.f_tab != Fr::zero()
            {
                // An attribution row in an inference configuration would be unconstrained.
                return Err(Error::Synthesis);
            }
            cells.push(here);
        }
        Ok(cells)
    }
}

/// The halo2 circuit of a laid-out model: its rows and public cells.
#[derive(Clone, Debug)]
pub struct DenseRows {
    pub(crate) rows: Rows,
    pub(crate) public: Vec<Var>,
    /// The model's activation tables (their stored runs), table `i` looked up under id `i + 1`.
    pub(crate) tables: Vec<Runs>,
    pub(crate) params: DenseParams,
    /// Usable rows at the circuit's k (attribution circuits constrain `t` on all of them).
    pub(crate) usable: usize,
}

impl Circuit<Fr> for DenseRows {
    type Config = DenseConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = DenseParams;

    /// Keygen reads only the fixed columns and copies, which do not depend on the witness.
    fn without_witnesses(&self) -> Self {
        self.clone()
    }

    fn params(&self) -> DenseParams {
        self.params
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> DenseConfig {
        DenseConfig::configure(meta, DenseParams::default())
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, params: DenseParams) -> DenseConfig {
        DenseConfig::configure(meta, params)
    }

    fn synthesize(&self, config: DenseConfig, layouter: impl Layouter<Fr>) -> Result<(), Error> {
        config.assign(
            layouter,
            &self.rows,
            &self.public,
            &self.tables,
            self.usable,
        )
    }
}
