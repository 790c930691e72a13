//! `poa chain deploy|register|request|submit|claim`: the contracts on any JSON-RPC chain, one
//! transaction (or a few) per step, each printing its gas. The signing key comes from
//! `$POA_PRIVATE_KEY` or `--key-file`; the deployed addresses, the datanet and the registered
//! model are kept in a state file (`--state`, default `.poa/chain.json`) that later steps read.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address as EvmAddress, U256};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{bail, Context};
use poa_circuits::attribution::{model_id, public_adapter_id};
use poa_circuits::InstanceLayout;
use poa_circuits::{Fr, IndexVisibility};
use poa_contracts::chain::local::{Claimed, Opened, SUPPLY};
use poa_contracts::chain::{
    deploy, fr_to_u256, instances_to_u256, Chain, Deployment, ModelSpec, DEFAULT_TTL_SECS,
};
use poa_contracts::project::Project;
use poa_contracts::MAX_RUNTIME_BYTES;
use poa_runtime::attribution::RewardShares;
use serde::{Deserialize, Serialize};

use super::evm::read_proof;
use crate::artifacts::{load_attribution, write_json, Compiled};
use crate::output::Output;
use crate::proven::parse_nonce;

/// Arguments of `poa chain`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ChainCommand,
    /// JSON-RPC URL of the chain.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
    /// File holding the hex private key that signs (else `$POA_PRIVATE_KEY`).
    #[arg(long, global = true)]
    pub key_file: Option<PathBuf>,
    /// State file: deployed addresses, datanet, registered model.
    #[arg(long, global = true, default_value = ".poa/chain.json")]
    pub state: PathBuf,
}

/// The steps.
#[derive(clap::Subcommand)]
pub enum ChainCommand {
    /// Deploy OPEN (whole supply to the signer), the registries, a model folder's verifier
    /// (`poa evm-verifier` output) and the rewards contract; writes the state file.
    Deploy {
        /// Verifier.bin from `poa evm-verifier` (creation code, 0x-hex).
        #[arg(long)]
        verifier: PathBuf,
        /// Treasury address (default: the signer).
        #[arg(long)]
        treasury: Option<EvmAddress>,
        /// Deploy a verifier of keys made with the insecure dev SRS (anyone can forge its
        /// proofs): for test chains only. Refused without it.
        #[arg(long)]
        insecure: bool,
    },
    /// Create a datanet curated by the signer, seal version 1 under a model folder's index root,
    /// and register the model (the signer must own the model registry).
    Register {
        /// Model folder after `poa setup --index` (model id, k, instance count, index root).
        dir: PathBuf,
        /// Model owner (default: the signer).
        #[arg(long)]
        owner: Option<EvmAddress>,
        /// Fee shares in bps: owner,contributors,prover,treasury (sum 10,000).
        #[arg(long, default_value = "3000,5000,1500,500")]
        shares: String,
        /// Register keys made with the insecure dev SRS (anyone can forge their proofs): for
        /// test chains only. Refused without it.
        #[arg(long)]
        insecure: bool,
    },
    /// Approve and open a paid request for the registered model; prints the nonce to prove for.
    Request {
        /// Fee in OPEN base units (10^18 = 1 OPEN).
        #[arg(long)]
        fee: u128,
        /// Input file (`poa prove`'s format; its first sample) the proof must be of: its
        /// Poseidon commitment is bound to the request, so only a `hashed`-input proof of this
        /// input settles it. Without it the request binds no input (commitment 0): any proof
        /// that publishes no input commitment, on any input, settles it.
        #[arg(long, requires = "dir")]
        input: Option<PathBuf>,
        /// Model folder whose quantization `--input` is committed under.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Seconds the request can be settled; after that the requester may refund it.
        #[arg(long, default_value_t = DEFAULT_TTL_SECS)]
        ttl: u64,
    },
    /// Take back the fee of an expired request (or one whose model was disabled).
    Refund {
        /// The request's nonce (decimal or 0x-hex).
        #[arg(long, value_parser = parse_nonce)]
        nonce: Fr,
    },
    /// Submit a proof (`poa prove --nonce … --prover …`); prints what it credited.
    Submit {
        /// Proof JSON.
        proof: PathBuf,
    },
    /// Withdraw the signer's credited OPEN.
    Claim,
}

/// What `poa chain` keeps between steps.
#[derive(Serialize, Deserialize)]
pub struct ChainState {
    /// The deployed system.
    pub deployment: Deployment,
    /// Datanet and sealed version registered by `register`.
    pub datanet: Option<(U256, U256)>,
    /// The model registered by `register`.
    pub model: Option<ModelSpec>,
}

/// The signing key: `key_file`'s contents, else `$POA_PRIVATE_KEY` (also `poa node --rpc`'s).
pub(crate) fn signer(key_file: Option<&Path>) -> anyhow::Result<PrivateKeySigner> {
    let key = match key_file {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => std::env::var("POA_PRIVATE_KEY")
            .context("no signing key: set POA_PRIVATE_KEY or pass --key-file")?,
    };
    key.trim()
        .parse()
        .context("the private key is not 32 bytes of hex")
}

/// The state file `poa chain deploy` wrote (also read by `poa node --chain-state`).
pub(crate) fn read_state(path: &Path) -> anyhow::Result<ChainState> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {} (run `poa chain deploy` first)", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn parse_shares(s: &str) -> anyhow::Result<[u16; 4]> {
    let v: Vec<u16> = s
        .split(',')
        .map(|x| x.trim().parse::<u16>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--shares `{s}`: four integers"))?;
    let [o, c, p, t] = v[..] else {
        bail!("--shares `{s}`: four integers owner,contributors,prover,treasury");
    };
    RewardShares::new(o.into(), c.into(), p.into(), t.into())?;
    Ok([o, c, p, t])
}

/// Refuses keys from the dev SRS unless `--insecure` was given; with it, says so.
fn refuse_insecure(insecure: bool, what: &Path, out: &Output) -> anyhow::Result<()> {
    if !insecure {
        bail!(
            "{} comes from keys made with the dev SRS: {}. Refusing to put it on a chain; pass \
             --insecure for a test chain",
            what.display(),
            crate::artifacts::INSECURE_WARNING
        );
    }
    out.warn(&format!(
        "--insecure: {} comes from the dev SRS; {}",
        what.display(),
        crate::artifacts::INSECURE_WARNING
    ));
    Ok(())
}

/// The Poseidon commitment (`poa_circuits::commit::input_commitment`) of the first sample of
/// `input`, quantized like `poa prove` quantizes it for the model in `dir`.
fn commit_input(dir: &Path, input: &Path) -> anyhow::Result<Fr> {
    let q = Compiled::load(dir)?.qmodel;
    let text =
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?;
    let samples = poa_runtime::parse_inputs(&text, poa_runtime::tensor::numel(&q.input().shape))
        .with_context(|| format!("parsing {}", input.display()))?;
    let quantized = q
        .quantize_input(&samples[0])
        .with_context(|| format!("quantizing {}", input.display()))?;
    Ok(poa_circuits::commit::input_commitment(&q, &quantized.data))
}

/// Runs `poa chain`.
pub fn run(args: &Args, out: &Output) -> anyhow::Result<()> {
    let chain = Chain::connect(&args.rpc, signer(args.key_file.as_deref())?)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match &args.command {
        ChainCommand::Deploy {
            verifier,
            treasury,
            insecure,
        } => {
            let marker = verifier.with_file_name(super::evm::INSECURE_MARKER);
            if marker.exists() {
                refuse_insecure(*insecure, &marker, out)?;
            }
            let hex_code = std::fs::read_to_string(verifier)
                .with_context(|| format!("reading {}", verifier.display()))?;
            let code = hex::decode(hex_code.trim().trim_start_matches("0x"))
                .with_context(|| format!("{} is not hex creation code", verifier.display()))?;
            let project = Project::compile()?;
            let d = rt.block_on(deploy(
                &chain,
                &project,
                &code,
                U256::from(SUPPLY),
                treasury.unwrap_or(chain.address()),
            ))?;
            if d.verifier_runtime_bytes > MAX_RUNTIME_BYTES {
                out.warn(&format!(
                    "the verifier's runtime is {} bytes, over the {MAX_RUNTIME_BYTES}-byte EIP-170 limit: \
                     only a chain with the limit lifted (anvil --disable-code-size-limit) accepted it",
                    d.verifier_runtime_bytes
                ));
            }
            let state = ChainState {
                deployment: d,
                datanet: None,
                model: None,
            };
            write_json(&args.state, &state)?;
            out.result(&state.deployment, || {
                let d = &state.deployment;
                format!(
                    "deployed on chain {}: OPEN {} ({} gas), DatanetRegistry {} ({}), ModelRegistry {} ({}), \
                     verifier {} ({} bytes, {} gas), AttributionRewards {} ({}) → {}",
                    d.chain_id, d.token, d.gas.token, d.datanets, d.gas.datanets, d.models, d.gas.models,
                    d.verifier, d.verifier_runtime_bytes, d.gas.verifier, d.rewards, d.gas.rewards,
                    args.state.display()
                )
            })
        }
        ChainCommand::Register {
            dir,
            owner,
            shares,
            insecure,
        } => {
            let vk = poa_prover::VerifyingKey::from_file_bytes(&crate::artifacts::read_setup_file(
                dir,
                crate::artifacts::VK_FILE,
            )?)
            .with_context(|| {
                format!("loading {}", dir.join(crate::artifacts::VK_FILE).display())
            })?;
            if vk.is_insecure() {
                refuse_insecure(*insecure, dir, out)?;
            }
            let mut state = read_state(&args.state)?;
            let compiled = Compiled::load(dir)?;
            let q = &compiled.qmodel;
            let setup = load_attribution(dir, q, None)?.with_context(|| {
                format!(
                    "{} has no attribution keys: run `poa setup --index`",
                    dir.display()
                )
            })?;
            let vis = compiled.settings.visibility()?;
            let d = &state.deployment;
            let (datanet, create_gas) = rt.block_on(chain.create_datanet(d))?;
            let root = fr_to_u256(&setup.root());
            let model = ModelSpec {
                model_id: fr_to_u256(&model_id(q)),
                adapter_id: fr_to_u256(&public_adapter_id(q, &vis)),
                owner: owner.unwrap_or(chain.address()),
                verifier: d.verifier,
                k: u16::try_from(setup.k())?,
                num_instances: u32::try_from(InstanceLayout::attributed(q, &vis, setup.k()).len())?,
                shares_bps: parse_shares(shares)?,
                datanet_id: datanet,
                // A fixed index is baked into the keys: its proofs can only carry this root.
                pinned_root: if setup.visibility() == IndexVisibility::Fixed {
                    root
                } else {
                    U256::ZERO
                },
            };
            let version = U256::from(1);
            let seal_gas = rt.block_on(chain.seal_version(d, datanet, version, root))?;
            let register_gas = rt.block_on(chain.register_model(d, &model))?;
            state.datanet = Some((datanet, version));
            state.model = Some(model);
            write_json(&args.state, &state)?;
            #[derive(Serialize)]
            struct R {
                datanet: U256,
                version: U256,
                model: ModelSpec,
                create_datanet_gas: u64,
                seal_version_gas: u64,
                register_model_gas: u64,
            }
            let r = R {
                datanet,
                version,
                model,
                create_datanet_gas: create_gas,
                seal_version_gas: seal_gas,
                register_model_gas: register_gas,
            };
            out.result(&r, || {
                format!(
                    "datanet {datanet} v{version} sealed ({create_gas} + {seal_gas} gas); model {} registered \
                     (k = {}, {} instances, {register_gas} gas)",
                    r.model.model_id, r.model.k, r.model.num_instances
                )
            })
        }
        ChainCommand::Request {
            fee,
            input,
            dir,
            ttl,
        } => {
            let state = read_state(&args.state)?;
            let (Some((datanet, version)), Some(m)) = (state.datanet, state.model) else {
                bail!(
                    "{}: no registered model; run `poa chain register`",
                    args.state.display()
                );
            };
            let d = &state.deployment;
            let commitment = match (input, dir) {
                (Some(input), Some(dir)) => fr_to_u256(&commit_input(dir, input)?),
                _ => U256::ZERO,
            };
            let fee = U256::from(*fee);
            let approve_gas = rt.block_on(chain.approve(d, fee))?;
            let (nonce, open_gas) = rt.block_on(chain.open_request(
                d,
                m.model_id,
                m.adapter_id,
                datanet,
                version,
                fee,
                commitment,
                *ttl,
            ))?;
            let r = Opened {
                nonce,
                fee,
                approve_gas,
                open_gas,
            };
            out.result(&r, || {
                format!(
                    "request nonce {nonce} opened, fee {fee} paid (approve {approve_gas} gas, openRequest {open_gas} gas), \
                     input commitment {commitment:#x}, refundable after {ttl} s: prove with --nonce {nonce}"
                )
            })
        }
        ChainCommand::Refund { nonce } => {
            let state = read_state(&args.state)?;
            let (fee, gas) = rt.block_on(chain.refund(&state.deployment, fr_to_u256(nonce)))?;
            #[derive(Serialize)]
            struct R {
                #[serde(with = "poa_contracts::chain::decimal")]
                fee: U256,
                gas: u64,
            }
            out.result(&R { fee, gas }, || {
                format!("refunded {fee} OPEN base units ({gas} gas)")
            })
        }
        ChainCommand::Submit { proof } => {
            let state = read_state(&args.state)?;
            let proof = read_proof(proof)?;
            let s = rt.block_on(chain.submit(
                &state.deployment,
                &proof.bytes,
                &instances_to_u256(&proof.instances),
            ))?;
            out.result(&s, || {
                let credits: Vec<String> = s
                    .credits
                    .iter()
                    .map(|c| format!("{} {} {}", c.role, c.account, c.amount))
                    .collect();
                format!(
                    "nonce {} settled for prover {} ({} gas); credited: {}",
                    s.nonce,
                    s.prover,
                    s.gas,
                    credits.join(", ")
                )
            })
        }
        ChainCommand::Claim => {
            let state = read_state(&args.state)?;
            let (amount, gas) = rt.block_on(chain.claim(&state.deployment))?;
            let r = Claimed {
                account: chain.address(),
                amount,
                gas,
                impersonated: false,
            };
            out.result(&r, || {
                format!("{} claimed {amount} OPEN base units ({gas} gas)", r.account)
            })
        }
    }
}
