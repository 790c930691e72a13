//! The Poseidon chip computes the native hash: MockProver accepts the native digest as the public
//! instance for several message lengths, and rejects a tampered digest, a wrong public digest and
//! a changed message cell.

mod common;

use common::{has_gate, has_permutation};
use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::dev::{MockProver, VerifyFailure};
use halo2_proofs::plonk::{Circuit, Column, ConstraintSystem, Error, Instance};
use poa_circuits::chips::{Columns, FVar};
use poa_circuits::poseidon::chip::{rows_for, PoseidonChip, PoseidonConfig};
use poa_circuits::poseidon::hash;
use poa_circuits::Fr;
use proptest::prelude::*;

#[derive(Clone, Default)]
struct HashCircuit {
    message: Vec<Fr>,
    tamper_digest: bool,
    /// Message cell `i` is copied into the sponge with a different value.
    tamper_message: Option<usize>,
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
    assert!(has_gate(&e, "poseidon full round"), "{e:#?}");
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]
    #[test]
    fn chip_equals_native_on_random_messages(vals in proptest::collection::vec(any::<u64>(), 0..6)) {
        let message: Vec<Fr> = vals.iter().map(|&v| Fr::from(v)).collect();
        let c = HashCircuit { message, ..HashCircuit::default() };
        prop_assert!(run(&c, hash(&c.message)).is_ok());
    }
}
