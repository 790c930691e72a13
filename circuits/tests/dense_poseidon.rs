//! Poseidon in dense rows computes the native Poseidon: the permutation and the sponge equal
//! `poseidon::permute` / `poseidon::hash` on random inputs (MockProver accepts them as public),
//! a forged S-box square or round output fails its row; a `hashed` dense input publishes the
//! wide layout's commitment, and a forged input or commitment is rejected.

mod common;

use common::{compile, has_gate, has_permutation, mock_at, test_inputs};
use poa_circuits::dense::{DensePoseidon, PoseidonTamper};
use poa_circuits::poseidon::{hash, permute, WIDTH};
use poa_circuits::{
    public_instances, DenseCircuit, DenseTamper, Fr, InputVisibility, ModelCircuit, Visibility,
};
use proptest::prelude::*;

const GATE: &str = "dense row";

fn mock(
    p: &DensePoseidon,
    instances: Vec<Fr>,
) -> Result<(), Vec<halo2_proofs::dev::VerifyFailure>> {
    mock_at(p.k(), p.circuit(), instances)
}

fn fr(v: u64) -> Fr {
    Fr::from(v)
}

#[test]
fn the_permutation_equals_the_native_one() {
    for state in [[0u64, 0, 0], [1, 2, 3], [u64::MAX, 7, 1 << 63]] {
        let state: [Fr; WIDTH] = state.map(fr);
        let mut native = state;
        permute(&mut native);
        let p = DensePoseidon::permutation(state, None).expect("lays out");
        assert_eq!(&p.instances()[WIDTH..], &native);
        println!("dense Poseidon permutation: {} rows", p.rows());
        mock(&p, p.instances().to_vec()).expect("MockProver accepts");
        let mut bad = p.instances().to_vec();
        bad[WIDTH + 1] += Fr::one();
        assert!(has_permutation(&mock(&p, bad).expect_err("wrong output")));
    }
}

#[test]
fn the_hash_equals_the_native_one_for_every_length_class() {
    for n in [0u64, 1, 2, 3, 4, 7] {
        let m: Vec<Fr> = (0..n).map(|i| fr(i * 1_000_003 + 17)).collect();
        let p = DensePoseidon::hash(&m, None).expect("lays out");
        assert_eq!(p.instances().last(), Some(&hash(&m)), "n = {n}");
        println!("dense Poseidon hash of {n}: {} rows", p.rows());
        mock(&p, p.instances().to_vec()).unwrap_or_else(|e| panic!("n = {n}: {e:#?}"));
    }
}

#[test]
fn a_forged_square_or_round_output_fails_its_row() {
    let m = [fr(5), fr(6), fr(7)];
    // A full round's first S-box, one in the partial rounds, one in the second permutation.
    for t in [
        PoseidonTamper::Square(0),
        PoseidonTamper::Square(40),
        PoseidonTamper::Square(100),
        PoseidonTamper::RoundOutput(2),
        PoseidonTamper::RoundOutput(30),
        PoseidonTamper::RoundOutput(90),
    ] {
        let p = DensePoseidon::hash(&m, Some(t)).expect("lays out");
        let mut honest = m.to_vec();
        honest.push(hash(&m));
        let f = mock(&p, honest).expect_err("forgery rejected");
        assert!(has_gate(&f, GATE), "{t:?}: {f:#?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]
    #[test]
    fn random_states_and_messages_match(
        s in proptest::array::uniform3(any::<u64>()),
        vals in proptest::collection::vec(any::<u64>(), 0..6),
    ) {
        let state = s.map(fr);
        let mut native = state;
        permute(&mut native);
        let p = DensePoseidon::permutation(state, None).expect("lays out");
        prop_assert_eq!(&p.instances()[WIDTH..], &native);
        prop_assert!(mock(&p, p.instances().to_vec()).is_ok());
        let m: Vec<Fr> = vals.iter().map(|&v| fr(v)).collect();
        let h = DensePoseidon::hash(&m, None).expect("lays out");
        prop_assert_eq!(h.instances().last(), Some(&hash(&m)));
        prop_assert!(mock(&h, h.instances().to_vec()).is_ok());
    }
}

fn hashed() -> Visibility {
    Visibility {
        input: InputVisibility::Hashed,
        ..Visibility::default()
    }
}

#[test]
fn hashed_input_publishes_the_wide_commitment_and_is_accepted() {
    for name in ["mlp_small", "cnn_small"] {
        let q = compile(name);
        let trace = q.run(&test_inputs()[1]).expect("runs");
        let c = DenseCircuit::prover(&q, &trace, hashed()).expect("lays out");
        let wide = ModelCircuit::new(&q, Some(&trace), hashed()).expect("wide");
        assert_eq!(
            c.instances(),
            public_instances(&q, &trace, &hashed()).as_slice()
        );
        assert_eq!(Some(c.instances().to_vec()), wide.instances());
        let public = DenseCircuit::prover(&q, &trace, Visibility::default()).expect("public");
        println!(
            "{name}: {} inputs within {}; hashed input {} rows (k {}), public input {} rows",
            trace.input().data.len(),
            q.input().bound,
            c.rows(),
            c.k(),
            public.rows()
        );
        mock_at(c.k(), c.circuit(), c.instances().to_vec()).expect("MockProver accepts");
        // The commitment instance one more.
        let mut bad = c.instances().to_vec();
        bad[0] += Fr::one();
        let f = mock_at(c.k(), c.circuit(), bad).expect_err("tampered commitment");
        assert!(has_permutation(&f), "{f:#?}");
    }
}

/// A wider input bound packs fewer, wider slots (`B = 128`: 16-bit slots, 15 an element);
/// the commitment still equals the native one.
#[test]
fn hashed_input_with_wide_slots_equals_the_native_commitment() {
    let mut q = compile("mlp_small");
    q.tensors[0].bound = 128;
    let trace = q.run(&test_inputs()[1]).expect("runs");
    let c = DenseCircuit::prover(&q, &trace, hashed()).expect("lays out");
    assert_eq!(
        c.instances(),
        public_instances(&q, &trace, &hashed()).as_slice()
    );
    mock_at(c.k(), c.circuit(), c.instances().to_vec()).expect("MockProver accepts");
}

/// The circuit laid out over another input (in bound) cannot show the run's commitment.
#[test]
fn a_changed_input_cell_is_rejected() {
    let q = compile("mlp_small");
    let trace = q.run(&test_inputs()[1]).expect("runs");
    let honest = public_instances(&q, &trace, &hashed());
    let v = trace.input().data[0];
    let other = if v > 0 { v - 1 } else { v + 1 };
    let c = DenseCircuit::mock_tampered(&q, &trace, hashed(), DenseTamper::Input(other))
        .expect("lays out");
    assert_ne!(c.instances()[0], honest[0]);
    let f = mock_at(c.k(), c.circuit(), honest).expect_err("changed input accepted");
    assert!(has_permutation(&f), "{f:#?}");
}

/// The index root in dense rows equals `commit::index_root` (odd and even entry counts, one
/// entry), and a forged node fails its row.
#[test]
fn the_index_root_equals_the_native_one() {
    let q = compile("mlp_small");
    for n in [1, 4, 5] {
        let index = poa_fixtures::run_index(&q, n);
        let p = DensePoseidon::index_root(&index, None).expect("lays out");
        assert_eq!(
            p.instances().last(),
            Some(&poa_circuits::commit::index_root(&index))
        );
        println!(
            "dense index root of {n} entries (d = {}): {} rows",
            index.entries[0].embedding.len(),
            p.rows()
        );
        mock(&p, p.instances().to_vec()).unwrap_or_else(|e| panic!("n = {n}: {e:#?}"));
    }
    let index = poa_fixtures::run_index(&q, 3);
    let p = DensePoseidon::index_root(&index, Some(PoseidonTamper::RoundOutput(300)))
        .expect("lays out");
    let mut honest = p.instances().to_vec();
    *honest.last_mut().expect("root") = poa_circuits::commit::index_root(&index);
    let f = mock(&p, honest).expect_err("forged node rejected");
    assert!(has_gate(&f, GATE), "{f:#?}");
}
