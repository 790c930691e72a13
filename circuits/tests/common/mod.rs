//! Shared helpers: fixture models calibrated with defaults, test inputs, MockProver runs.
#![allow(dead_code)]

use halo2_proofs::dev::{MockProver, VerifyFailure};
use poa_circuits::{Fr, ModelCircuit};

#[allow(unused_imports)] // not every test binary uses both
pub use poa_fixtures::{compile, test_inputs};

/// Runs MockProver at the circuit's own `k` with the given instances.
pub fn mock(circuit: &ModelCircuit, instances: Vec<Fr>) -> Result<(), Vec<VerifyFailure>> {
    let k = circuit.stats().k;
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
