//! Shared helpers: fixture models calibrated with defaults, test inputs, MockProver runs.
#![allow(dead_code)]

use halo2_proofs::dev::{MockProver, VerifyFailure};
use poa_circuits::field::to_i64;
use poa_circuits::{public_instances, Fr, InstanceLayout, ModelCircuit, Visibility};
use poa_runtime::{QModel, Trace};

#[allow(unused_imports)] // not every test binary uses both
pub use poa_fixtures::{compile, test_inputs};

/// MockProver on `trace`'s public-input circuit; on success, the public outputs it exposes,
/// decoded back to integers (to compare with the runtime's).
pub fn mock_outputs(q: &QModel, trace: &Trace) -> Result<Vec<i64>, Vec<VerifyFailure>> {
    mock_outputs_with(q, trace, Visibility::default())
}

/// [`mock_outputs`] under `vis`.
pub fn mock_outputs_with(
    q: &QModel,
    trace: &Trace,
    vis: Visibility,
) -> Result<Vec<i64>, Vec<VerifyFailure>> {
    let circuit = ModelCircuit::new(q, Some(trace), vis).expect("builds");
    let instances = public_instances(q, trace, &vis);
    assert_eq!(circuit.instances().as_deref(), Some(instances.as_slice()));
    mock(&circuit, instances.clone())?;
    Ok(instances[InstanceLayout::of(q, &vis).output]
        .iter()
        .map(|f| to_i64(f).expect("small output"))
        .collect())
}

/// Runs MockProver at the circuit's own `k` with the given instances.
pub fn mock(circuit: &ModelCircuit, instances: Vec<Fr>) -> Result<(), Vec<VerifyFailure>> {
    let k = circuit.stats().k;
    MockProver::run(k, circuit, vec![instances])
        .expect("synthesis succeeds")
        .verify()
}

/// MockProver on any circuit at `k` with the given instances (the narrow and dense layouts).
pub fn mock_at<C: halo2_proofs::plonk::Circuit<poa_circuits::Fr>>(
    k: u32,
    circuit: &C,
    instances: Vec<poa_circuits::Fr>,
) -> Result<(), Vec<VerifyFailure>> {
    MockProver::run(k, circuit, vec![instances])
        .expect("synthesis succeeds")
        .verify()
}

/// True when some failure is an unsatisfied constraint of the gate named `gate`.
pub fn has_gate(failures: &[VerifyFailure], gate: &str) -> bool {
    failures.iter().any(|f| match f {
        VerifyFailure::ConstraintNotSatisfied { constraint, .. } => {
            constraint.to_string().ends_with(&format!("('{gate}')"))
        }
        _ => false,
    })
}

/// True when some failure is the lookup named `name`.
pub fn has_lookup(failures: &[VerifyFailure], name: &str) -> bool {
    failures
        .iter()
        .any(|f| matches!(f, VerifyFailure::Lookup { name: n, .. } if n == name))
}

/// True when some failure is a permutation (copy or instance) failure.
pub fn has_permutation(failures: &[VerifyFailure]) -> bool {
    failures
        .iter()
        .any(|f| matches!(f, VerifyFailure::Permutation { .. }))
}
