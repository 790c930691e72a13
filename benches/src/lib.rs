//! What the benches in `benches/` share: the fixture models they run and the ezkl comparison's
//! visibility.

#![deny(missing_docs)]

use poa_circuits::{InputVisibility, Visibility};

/// The fixture models every layout takes (ops_zoo's pools and tables are the wide layout's): the
/// four small ones (`poa_fixtures::SMALL_MODELS`), then the MLPs of the sizes users bring
/// (`poa_fixtures::LARGE_MODELS`: mlp_26k, 26,122 parameters, and mlp_85k, 85,002). Loops over it
/// set a model up only when [`selected`] says so.
pub const MODELS: &[&str] = &[
    "mlp_small",
    "mlp_deep",
    "cnn_small",
    "mlp_argmax",
    "mlp_26k",
    "mlp_85k",
];

/// Whether a bench should set `name` up (compile, keygen, first proof) at all: false when the
/// bench binary's arguments (criterion's filter, e.g. `cargo bench --bench dense -- mlp_small`)
/// name some fixture model of [`MODELS`] but not this one. Criterion's filter alone would skip
/// only the timed functions, after every model's keygen, and mlp_85k's keygen is the slow one.
/// A filter naming no fixture (a regex, `prove`) sets every model up.
pub fn selected(name: &str) -> bool {
    selected_by(name, &std::env::args().skip(1).collect::<Vec<_>>())
}

fn selected_by(name: &str, args: &[String]) -> bool {
    let named: Vec<&str> = MODELS
        .iter()
        .copied()
        .filter(|m| args.iter().any(|a| a.contains(m)))
        .collect();
    named.is_empty() || named.contains(&name)
}

/// The ezkl comparison's visibility: input public, weights fixed.
pub fn public_input() -> Visibility {
    Visibility {
        input: InputVisibility::Public,
        ..Visibility::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_filter_naming_a_fixture_selects_only_it() {
        let all = args(&["--bench"]);
        assert!(MODELS.iter().all(|m| selected_by(m, &all)));
        let small = args(&["--bench", "mlp_small"]);
        assert!(selected_by("mlp_small", &small));
        assert!(!selected_by("mlp_85k", &small));
        let full_id = args(&["--bench", "dense/mlp_85k/prove"]);
        assert!(selected_by("mlp_85k", &full_id) && !selected_by("mlp_26k", &full_id));
        let no_fixture = args(&["--bench", "prove"]);
        assert!(MODELS.iter().all(|m| selected_by(m, &no_fixture)));
    }
}
