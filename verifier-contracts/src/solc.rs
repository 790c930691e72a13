//! Solidity compilation through solcjs (npm `solc`, pinned in `verifier-contracts/package.json`
//! and its lock file) run by node: no native `solc` on PATH and nothing downloaded at run time.
//! The npm packages are installed with `npm ci` on first use when `node_modules` is missing.
//! Two compilers are pinned: 0.8.19 for the generated verifier (its `pragma solidity 0.8.19`) and
//! 0.8.28 for our contracts ([`crate::project`], the version forge's `bin/solc` shim runs).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{ContractsError, Result};

/// The npm alias of the solcjs build used (the generated verifier's `pragma solidity 0.8.19`).
pub const SOLC_PACKAGE: &str = "solc-0.8.19";

/// A compiled contract.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// Contract name.
    pub name: String,
    /// ABI (JSON).
    pub abi: Value,
    /// Creation (deployment) bytecode.
    pub bytecode: Vec<u8>,
    /// Runtime (deployed) bytecode.
    pub runtime: Vec<u8>,
}

/// The folder holding `package.json`, `solc.js` and `node_modules` (`$POA_CONTRACTS_DIR`, else
/// this crate's folder).
pub fn toolchain_dir() -> PathBuf {
    std::env::var_os("POA_CONTRACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Runs `npm ci` in the toolchain folder unless solcjs is already installed.
pub fn ensure_installed() -> Result<()> {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = toolchain_dir();
    if dir
        .join("node_modules")
        .join(SOLC_PACKAGE)
        .join("package.json")
        .is_file()
    {
        return Ok(());
    }
    tracing::info!(dir = %dir.display(), "installing solcjs with npm ci");
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .map_err(|e| {
            ContractsError::Toolchain(format!("running npm (is Node.js installed?): {e}"))
        })?;
    if !out.status.success() {
        return Err(ContractsError::Toolchain(format!(
            "npm ci in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

/// Compiles `source` (file name `file`) and returns contract `contract` from it, with solc's
/// default settings (optimizer off): the generated verifier is one long inline-assembly block,
/// and the optimizer's stack scheduling fails on it with "stack too deep".
pub fn compile(file: &str, source: &str, contract: &str) -> Result<Compiled> {
    let input = json!({
        "language": "Solidity",
        "sources": { file: { "content": source } },
        "settings": {
            "optimizer": { "enabled": false },
            "outputSelection": { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } }
        }
    });
    let output = standard_json(SOLC_PACKAGE, &input)?;
    contract_from(&output, file, contract)
}

/// Runs solcjs `package` (an npm alias in `package.json`) on a standard-JSON `input` and returns
/// its output, or the errors it reported. Imports missing from `input` are read from
/// `node_modules` (OpenZeppelin). Outputs are cached by a digest of the package and the input
/// (solcjs takes seconds on the verifier and the OpenZeppelin contracts; tests and the demo
/// compile the same sources many times).
pub fn standard_json(package: &str, input: &Value) -> Result<Value> {
    let text = input.to_string();
    let cache = cache_dir().join(format!(
        "{}.json",
        hex::encode(Sha256::digest(format!("{package}\n{text}")))
    ));
    if let Some(hit) = std::fs::read(&cache)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    {
        return Ok(hit);
    }
    ensure_installed()?;
    let dir = toolchain_dir();
    let mut child = Command::new("node")
        .arg(dir.join("solc.js"))
        .arg(package)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ContractsError::Toolchain(format!("running node: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| ContractsError::Toolchain(format!("writing to solcjs: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| ContractsError::Toolchain(format!("solcjs: {e}")))?;
    if !out.status.success() {
        return Err(ContractsError::Toolchain(format!(
            "solcjs exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let output: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| ContractsError::Toolchain(format!("solcjs output is not JSON: {e}")))?;
    let errors: Vec<String> = output["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["severity"] == "error")
        .map(|e| e["formattedMessage"].as_str().unwrap_or("?").to_string())
        .collect();
    if !errors.is_empty() {
        let files: Vec<&String> = input["sources"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        return Err(ContractsError::Compile {
            contract: format!("{files:?}"),
            errors: errors.join("\n"),
        });
    }
    // A cache that cannot be written only costs the next compile its time.
    if std::fs::create_dir_all(cache_dir()).is_ok() {
        let tmp = cache.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, &out.stdout).is_ok() {
            let _ = std::fs::rename(&tmp, &cache);
        }
    }
    Ok(output)
}

/// Where compiled outputs are cached: `$POA_SOLC_CACHE`, else `openpoa-solc` in the temp folder.
fn cache_dir() -> PathBuf {
    std::env::var_os("POA_SOLC_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("openpoa-solc"))
}

/// Contract `contract` of source `file` in a standard-JSON `output`.
pub fn contract_from(output: &Value, file: &str, contract: &str) -> Result<Compiled> {
    let c = &output["contracts"][file][contract];
    let hex_field = |v: &Value, what: &str| -> Result<Vec<u8>> {
        let s = v.as_str().ok_or_else(|| ContractsError::Compile {
            contract: file.into(),
            errors: format!("no {what} for contract {contract}"),
        })?;
        hex::decode(s).map_err(|e| ContractsError::Compile {
            contract: file.into(),
            errors: format!("{what} is not hex: {e}"),
        })
    };
    Ok(Compiled {
        name: contract.into(),
        abi: c["abi"].clone(),
        bytecode: hex_field(&c["evm"]["bytecode"]["object"], "bytecode")?,
        runtime: hex_field(&c["evm"]["deployedBytecode"]["object"], "runtime bytecode")?,
    })
}
