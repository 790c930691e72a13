//! The Poseidon chip computes the native hash: MockProver accepts the native digest as the public
//! instance for several message lengths, and rejects a tampered digest, a wrong public digest, a
//! changed message cell, and a changed cell in every kind of row (each caught by its own gate).

mod common;

use common::{has_gate, has_permutation};
use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::dev::{MockProver, VerifyFailure};
use halo2_proofs::plonk::{Circuit, Column, ConstraintSystem, Error, Instance};
use poa_circuits::chips::{Columns, FVar};
use poa_circuits::poseidon::chip::{rows_for, PoseidonChip, PoseidonConfig, ROWS_PER_PERMUTATION};
use poa_circuits::poseidon::hash;
use poa_circuits::Fr;
use proptest::prelude::*;

#[derive(Clone, Default)]
struct HashCircuit {
    message: Vec<Fr>,
    tamper_digest: bool,
    /// Message cell `i` is copied into the sponge with a different value.
    tamper_message: Option<usize>,
    /// Sponge cell `(lane, row)` is overwritten after the hash is laid out.
    tamper_cell: Option<(usize, usize)>,
}

impl Circuit<Fr> for HashCircuit {
    type Config = (Columns, PoseidonConfig, Column<Instance>);
    type FloorPlanner = SimpleFloorPlanner;
    type Params = ();

    fn without_witnesses(&self) -> Self {
        Self {
            message: self.message.clone(),
            ..Self::default()
        }
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> Self::Config {
        let cols = Columns::configure(meta);
        let poseidon = PoseidonChip::configure(meta, cols);
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        (cols, poseidon, instance)
    }

    fn synthesize(
        &self,
        config: Self::Config,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        let (cols, poseidon, instance) = config;
        let chip = PoseidonChip::construct(poseidon);
        let digest = layouter.assign_region(
            || "hash",
            |mut region| {
                // The message lives in the accumulator column, which the sponge does not use.
                let msg: Vec<FVar> = self
                    .message
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| {
                        let cell = region.assign_advice(cols.acc, i, Value::known(v)).cell();
                        let value = if self.tamper_message == Some(i) {
                            v + Fr::one()
                        } else {
                            v
                        };
                        FVar {
                            cell,
                            value: Some(value),
                        }
                    })
                    .collect();
                let (d, rows) = chip.hash(&mut region, 0, &msg, self.tamper_digest)?;
                assert_eq!(rows, rows_for(self.message.len()));
                if let Some((lane, row)) = self.tamper_cell {
                    region.assign_advice(cols.lanes[lane], row, Value::known(Fr::from(0xdead)));
                }
                Ok(d)
            },
        )?;
        layouter.constrain_instance(digest.cell, instance, 0);
        Ok(())
    }
}

fn run(c: &HashCircuit, public: Fr) -> Result<(), Vec<VerifyFailure>> {
    let k = (rows_for(c.message.len()) + 10)
        .next_power_of_two()
        .trailing_zeros();
    MockProver::run(k, c, vec![vec![public]])
        .expect("synthesis")
        .verify()
}

fn message(n: u64) -> Vec<Fr> {
    (0..n).map(|i| Fr::from(i * 1_000_003 + 17)).collect()
}

#[test]
fn chip_equals_native_for_every_length_class() {
    // 0 (one all-padding chunk), odd (padded tail), even, several chunks.
    for n in [0u64, 1, 2, 3, 4, 7] {
        let c = HashCircuit {
            message: message(n),
            ..HashCircuit::default()
        };
        run(&c, hash(&c.message)).unwrap_or_else(|e| panic!("n={n}: {e:#?}"));
    }
}

#[test]
fn tampered_digest_is_rejected_by_the_last_round() {
    let c = HashCircuit {
        message: message(3),
        tamper_digest: true,
        ..HashCircuit::default()
    };
    let e = run(&c, hash(&c.message) + Fr::one()).expect_err("tampered digest accepted");
    assert!(has_gate(&e, "poseidon full rounds"), "{e:#?}");
}

#[test]
fn wrong_public_digest_is_rejected() {
    let c = HashCircuit {
        message: message(3),
        ..HashCircuit::default()
    };
    let e = run(&c, hash(&message(4))).expect_err("other message's digest accepted");
    assert!(has_permutation(&e), "{e:#?}");
}

#[test]
fn message_cell_differing_from_its_source_is_rejected() {
    let c = HashCircuit {
        message: message(3),
        tamper_message: Some(2),
        ..HashCircuit::default()
    };
    let mut m = message(3);
    m[2] += Fr::one();
    let e = run(&c, hash(&m)).expect_err("copied message cell changed");
    assert!(has_permutation(&e), "{e:#?}");
}

/// True when some failure is the constraint named `name` of the gate named `gate`.
fn has_constraint(failures: &[VerifyFailure], gate: &str, name: &str) -> bool {
    failures.iter().any(|f| match f {
        VerifyFailure::ConstraintNotSatisfied { constraint, .. } => {
            let c = constraint.to_string();
            c.contains(&format!(" ('{name}') in gate ")) && c.ends_with(&format!("('{gate}')"))
        }
        _ => false,
    })
}

fn tampered_cell(n: u64, lane: usize, row: usize) -> Vec<VerifyFailure> {
    let c = HashCircuit {
        message: message(n),
        tamper_cell: Some((lane, row)),
        ..HashCircuit::default()
    };
    run(&c, hash(&c.message)).expect_err("changed sponge cell accepted")
}

#[test]
fn every_row_kind_rejects_a_changed_cell() {
    // (lane, row in the permutation, gate, constraint): x2 cells of the first and last S-box of
    // a row, y cells, and a state cell, which the previous row's gate pins down.
    let cases = [
        (3, 0, "poseidon full rounds", "x2 = x²"),
        (6, 0, "poseidon full rounds", "y = x2²·x"),
        (11, 11, "poseidon full rounds", "x2 = x²"),
        (3, 1, "poseidon full and partial rounds", "x2 = x²"),
        (15, 1, "poseidon full and partial rounds", "x2 = x²"),
        (10, 1, "poseidon full and partial rounds", "y = x2²·x"),
        (3, 2, "poseidon partial rounds", "x2 = x²"),
        (14, 9, "poseidon partial rounds", "y = x2²·x"),
        (15, 9, "poseidon partial rounds", "x2 = x²"),
        (1, 3, "poseidon partial rounds", "s' = state after the row"),
        (2, 10, "poseidon partial rounds", "s' = state after the row"),
        (
            0,
            2,
            "poseidon full and partial rounds",
            "s' = state after the row",
        ),
    ];
    for (lane, row, gate, name) in cases {
        // The second chunk's rows, so chaining between permutations is covered too.
        let e = tampered_cell(3, lane, ROWS_PER_PERMUTATION + row);
        assert!(
            has_constraint(&e, gate, name),
            "lane {lane} row {row}: {e:#?}"
        );
    }
}

#[test]
fn initial_state_is_the_fixed_one() {
    for lane in 0..3 {
        let e = tampered_cell(2, lane, 0);
        assert!(has_gate(&e, "poseidon initial state"), "{e:#?}");
    }
}

#[test]
fn padding_and_unused_message_lanes_must_be_zero() {
    // Padding of the last chunk (message of 3), and message lanes of non-absorbing full rows.
    for (lane, row) in [
        (15, ROWS_PER_PERMUTATION),
        (14, 10),
        (15, 11),
        (14, ROWS_PER_PERMUTATION + 10),
    ] {
        let e = tampered_cell(3, lane, row);
        assert!(
            has_constraint(&e, "poseidon full rounds", "padding is zero"),
            "lane {lane} row {row}: {e:#?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]
    #[test]
    fn chip_equals_native_on_random_messages(vals in proptest::collection::vec(any::<u64>(), 0..6)) {
        let message: Vec<Fr> = vals.iter().map(|&v| Fr::from(v)).collect();
        let c = HashCircuit { message, ..HashCircuit::default() };
        prop_assert!(run(&c, hash(&c.message)).is_ok());
    }
}
