//! `poa evm-verifier` and `poa evm-calldata`: the Solidity verifier of a model folder's
//! verifying key (source, bytecode, ABI, size against the EIP-170 limit, optionally checked on a
//! proof in the in-process EVM), and the calldata of a proof for it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use poa_contracts::evm::{calldata, deploy_and_call, Limits};
use poa_contracts::verifier::solidity_verifier;
use poa_contracts::{solc, MAX_RUNTIME_BYTES};
use poa_prover::{Proof, VerifyingKey};
use serde::Serialize;

use crate::artifacts::{load_srs, read_setup_file, write_bytes, write_json, VK_FILE};
use crate::output::Output;

/// Arguments of `poa evm-verifier`.
#[derive(clap::Args)]
pub struct VerifierArgs {
    /// Model folder after `poa setup` (SRS, vk.bin).
    pub dir: PathBuf,
    /// Folder for Verifier.sol, Verifier.bin (creation code, hex), Verifier.abi.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Also deploy the verifier in the in-process EVM and verify this proof, reporting gas.
    #[arg(long)]
    pub check: Option<PathBuf>,
}

/// Arguments of `poa evm-calldata`.
#[derive(clap::Args)]
pub struct CalldataArgs {
    /// Proof JSON from `poa prove`.
    pub proof: PathBuf,
    /// Write the calldata (0x-hex) here instead of printing it.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// What `poa evm-verifier` wrote.
#[derive(Serialize)]
pub struct VerifierResult {
    /// Solidity source.
    pub source: PathBuf,
    /// Creation bytecode (hex).
    pub bytecode: PathBuf,
    /// ABI.
    pub abi: PathBuf,
    /// Runtime bytecode size in bytes.
    pub runtime_bytes: usize,
    /// True when the runtime fits EIP-170's 24,576-byte limit (deployable on mainnet).
    pub deployable: bool,
    /// With `--check`: gas of deploying (size limits off) and of the verify call.
    pub check: Option<CheckResult>,
    /// True when the verifying key was made with the insecure dev SRS (anyone can forge
    /// proofs); a `Verifier.INSECURE` file next to `Verifier.bin` says so to `poa chain deploy`.
    pub insecure_srs: bool,
    /// Creation bytecode (what the demo deploys).
    #[serde(skip)]
    pub creation: Vec<u8>,
}

/// The file `poa evm-verifier` writes next to `Verifier.bin` when the key is from the dev SRS.
pub const INSECURE_MARKER: &str = "Verifier.INSECURE";

/// Gas of the in-process check.
#[derive(Serialize)]
pub struct CheckResult {
    /// Deployment gas.
    pub deploy_gas: u64,
    /// Verify call gas (base and calldata included).
    pub verify_gas: u64,
}

/// Runs `poa evm-verifier`.
pub fn run_verifier(args: &VerifierArgs, out: &Output) -> anyhow::Result<()> {
    let r = write_verifier(&args.dir, &args.out, args.check.as_deref(), out)?;
    out.result(&r, || {
        let check = r.check.as_ref().map_or(String::new(), |c| {
            format!(
                "\nin-process EVM: the verifier accepts the proof, {} gas (deploy {} gas)",
                c.verify_gas, c.deploy_gas
            )
        });
        format!(
            "wrote {}, {}, {}: runtime {} bytes ({} the {MAX_RUNTIME_BYTES}-byte EIP-170 limit){check}",
            r.source.display(),
            r.bytecode.display(),
            r.abi.display(),
            r.runtime_bytes,
            if r.deployable { "within" } else { "OVER" }
        )
    })
}

/// Generates, compiles and writes the verifier of `dir`'s vk into `dest`.
pub fn write_verifier(
    dir: &Path,
    dest: &Path,
    check: Option<&Path>,
    out: &Output,
) -> anyhow::Result<VerifierResult> {
    let srs = load_srs(dir)?;
    let vk = VerifyingKey::from_file_bytes(&read_setup_file(dir, VK_FILE)?)
        .with_context(|| format!("loading {}", dir.join(VK_FILE).display()))?;
    let spinner = out.spinner("generating and compiling the Solidity verifier");
    let source = solidity_verifier(&srs, &vk);
    let compiled = solc::compile("Verifier.sol", &source, "Halo2Verifier")?;
    spinner.finish_and_clear();
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    let (sol, bin, abi) = (
        dest.join("Verifier.sol"),
        dest.join("Verifier.bin"),
        dest.join("Verifier.abi.json"),
    );
    write_bytes(&sol, source.as_bytes())?;
    write_bytes(
        &bin,
        format!("0x{}", hex::encode(&compiled.bytecode)).as_bytes(),
    )?;
    write_json(&abi, &compiled.abi)?;
    let marker = dest.join(INSECURE_MARKER);
    if vk.is_insecure() {
        write_bytes(
            &marker,
            format!("{}\n", crate::artifacts::INSECURE_WARNING).as_bytes(),
        )?;
    } else if marker.exists() {
        std::fs::remove_file(&marker).with_context(|| format!("removing {}", marker.display()))?;
    }
    let deployable = compiled.runtime.len() <= MAX_RUNTIME_BYTES;
    if !deployable {
        let cs = vk.halo2().cs();
        out.warn(&format!(
            "the verifier's runtime code is {} bytes, over the {MAX_RUNTIME_BYTES}-byte EIP-170 limit: \
             it runs in the in-process EVM (`--check`) and on a chain without the limit (anvil \
             --disable-code-size-limit) but cannot be deployed on mainnet. Its size follows the \
             circuit's width — {} advice, {} fixed and {} instance columns, {} gates, {} lookups, \
             each column a commitment and an opening the contract checks — and ~160 bytes per \
             public instance: `poa setup --layout narrow` (one advice column) with a private \
             input is the setting that fits (README, \"On-chain\")",
            compiled.runtime.len(),
            cs.num_advice_columns(),
            cs.num_fixed_columns(),
            cs.num_instance_columns(),
            cs.gates().len(),
            cs.lookups().len(),
        ));
    }
    let check = match check {
        Some(path) => {
            let proof = read_proof(path)?;
            let gas = deploy_and_call(
                &compiled.bytecode,
                calldata(&proof.instances, &proof.bytes),
                Limits::Unlimited,
            )
            .with_context(|| format!("checking {} in the in-process EVM", path.display()))?;
            Some(CheckResult {
                deploy_gas: gas.deploy,
                verify_gas: gas.call,
            })
        }
        None => None,
    };
    Ok(VerifierResult {
        source: sol,
        bytecode: bin,
        abi,
        runtime_bytes: compiled.runtime.len(),
        deployable,
        check,
        insecure_srs: vk.is_insecure(),
        creation: compiled.bytecode,
    })
}

/// Reads a proof JSON written by `poa prove`.
pub fn read_proof(path: &Path) -> anyhow::Result<Proof> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Proof::from_json(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Runs `poa evm-calldata`.
pub fn run_calldata(args: &CalldataArgs, out: &Output) -> anyhow::Result<()> {
    let proof = read_proof(&args.proof)?;
    let data = format!(
        "0x{}",
        hex::encode(calldata(&proof.instances, &proof.bytes))
    );
    #[derive(Serialize)]
    struct R {
        bytes: usize,
        calldata: Option<String>,
        file: Option<PathBuf>,
    }
    let bytes = (data.len() - 2) / 2;
    let r = match &args.out {
        Some(p) => {
            write_bytes(p, data.as_bytes())?;
            R {
                bytes,
                calldata: None,
                file: Some(p.clone()),
            }
        }
        None => R {
            bytes,
            calldata: Some(data),
            file: None,
        },
    };
    out.result(&r, || match (&r.file, &r.calldata) {
        (Some(p), _) => format!("{} bytes of calldata → {}", r.bytes, p.display()),
        (None, Some(c)) => c.clone(),
        _ => String::new(),
    })
}
