//! The alloy bindings cannot drift from the contracts: `abi/*.json` (what `sol!` generates the
//! bindings from) must equal the ABI solcjs compiles from `contracts/*.sol`, and the bindings
//! must expose exactly the compiled functions, events and errors. After changing a contract, run
//! `POA_BLESS=1 cargo test -p poa-contracts --test bindings` to rewrite `abi/`, then rebuild.

use std::collections::BTreeSet;
use std::path::PathBuf;

use alloy::json_abi::JsonAbi;
use poa_contracts::chain::bindings::{
    AttributionRewards, DatanetRegistry, ModelRegistry, OpenToken,
};
use poa_contracts::project::{Project, CONTRACTS};

/// Every function, event and error by signature and selector.
fn surface(abi: &JsonAbi) -> BTreeSet<String> {
    let functions = abi.functions().map(|f| {
        format!(
            "function {} {} -> {:?}",
            f.signature(),
            f.selector(),
            f.outputs.iter().map(|o| o.ty.clone()).collect::<Vec<_>>()
        )
    });
    let events = abi
        .events()
        .map(|e| format!("event {} {}", e.signature(), e.selector()));
    let errors = abi
        .errors()
        .map(|e| format!("error {} {}", e.signature(), e.selector()));
    functions.chain(events).chain(errors).collect()
}

#[test]
fn committed_abi_and_bindings_match_the_compiled_contracts() {
    let project = Project::compile().expect("solcjs compiles the contracts");
    let bless = std::env::var_os("POA_BLESS").is_some();
    let bindings = [
        ("OpenToken", OpenToken::abi::contract()),
        ("DatanetRegistry", DatanetRegistry::abi::contract()),
        ("ModelRegistry", ModelRegistry::abi::contract()),
        ("AttributionRewards", AttributionRewards::abi::contract()),
    ];
    assert_eq!(
        bindings.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        CONTRACTS
    );
    for (name, bound) in bindings {
        let compiled = &project.get(name).expect("compiled").abi;
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("abi/{name}.json"));
        if bless {
            let text = serde_json::to_string_pretty(compiled).expect("JSON") + "\n";
            std::fs::write(&path, text).expect("write abi");
        }
        let committed: JsonAbi =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("abi file"))
                .expect("committed ABI parses");
        let compiled: JsonAbi = serde_json::from_value(compiled.clone()).expect("ABI parses");
        assert_eq!(
            committed, compiled,
            "abi/{name}.json differs from the compiled {name}: rerun with POA_BLESS=1"
        );
        assert_eq!(
            surface(&bound),
            surface(&compiled),
            "the {name} bindings differ from the compiled ABI: rebuild after POA_BLESS=1"
        );
    }
}
