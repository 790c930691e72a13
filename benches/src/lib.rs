//! What the benches in `benches/` share: the fixture models they run and the ezkl comparison's
//! visibility.

#![deny(missing_docs)]

use poa_circuits::{InputVisibility, Visibility};

/// The fixture models every layout takes (ops_zoo's pools and tables are the wide layout's).
pub const MODELS: &[&str] = &["mlp_small", "mlp_deep", "cnn_small", "mlp_argmax"];

/// The ezkl comparison's visibility: input public, weights fixed.
pub fn public_input() -> Visibility {
    Visibility {
        input: InputVisibility::Public,
        ..Visibility::default()
    }
}
