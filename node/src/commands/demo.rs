//! `poa demo`: the README's end-to-end command on embedded defaults: compile a fixture model with
//! its calibration set (reporting held-out accuracy), run a sample, import, seal and index the
//! fixture datanet (attributing the sample natively), set up attribution keys on the INSECURE dev
//! SRS, generate the Solidity verifier, start a local anvil with the contracts deployed and open a
//! paid request there, prove inference + top-k attribution for that request's nonce and a prover
//! address, verify it, check the proof publishes the native attribution, then submit it on-chain
//! and claim for every payee: the OPEN paid must equal the split of the proof's public instances
//! — each step with its time and gas ([`demo_chain`]).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{ensure, Context};
use poa_circuits::commit::index_root;
use poa_circuits::{IndexVisibility, InputVisibility, Layout, Request, WeightVisibility};
use poa_contracts::chain::local::ModelTerms;
use poa_runtime::attribution::{split, RewardShares, RewardSplit};
use poa_runtime::datanet::Address;
use serde::Serialize;

use super::{compile, demo_attribution, demo_chain, evm, prove, run, setup, verify};
use crate::artifacts::{ms_since, write_bytes, Compiled, Report, Settings};
use crate::output::Output;
use crate::reward_report::{self, format_open};

/// The demo request's fee: 1 OPEN.
const FEE: u128 = 1_000_000_000_000_000_000;

/// Arguments of `poa demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Fixtures folder (models, data).
    #[arg(long, default_value = "fixtures")]
    pub fixtures: PathBuf,
    /// Fixture model to use (`fixtures/models/<name>.onnx`).
    #[arg(long, default_value = "mlp_small")]
    pub model: String,
    /// Work folder for the compiled model.
    #[arg(long, default_value = "out/demo")]
    pub out: PathBuf,
    /// Input visibility of the proof: `public`, `hashed` or `private`. Hashed by default: the
    /// proof publishes the input's Poseidon commitment and the request binds it on-chain, so
    /// only a proof of the requester's own input is paid (each public value would instead cost
    /// the verifier ~160 bytes and ~420 gas).
    #[arg(long, default_value_t = InputVisibility::Hashed)]
    pub input_visibility: InputVisibility,
    /// How the proof holds the weights: `fixed` (in the verifying key) or `hashed` (private,
    /// their commitment public in the adapter id row).
    #[arg(long, default_value_t = WeightVisibility::Fixed)]
    pub weight_visibility: WeightVisibility,
    /// Run the whole demo with a LoRA adapter merged into the model (e.g.
    /// `fixtures/adapters/mlp_small_lora.json`): the request and the registration name the base
    /// model's id and the adapter's id.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Circuit layout (`poa setup --layout`): `dense` by default — fast, and its verifier
    /// deploys on a chain with mainnet's code-size limit; `narrow` is the one-column layout
    /// (fixed weights, public or private input); `wide` takes hashed weights, but its verifier
    /// needs anvil with the limit lifted.
    #[arg(long, default_value_t = Layout::Dense)]
    pub layout: Layout,
}

#[derive(Serialize)]
struct DemoResult {
    settings: Settings,
    report: Report,
    run: Vec<run::RunResult>,
    compile_ms: f64,
    attribution: demo_attribution::AttributionStep,
    setup: setup::SetupResult,
    prove: prove::ProveResult,
    verify: verify::VerifyResult,
    reward: RewardSplit,
    reward_report: PathBuf,
    verifier: evm::VerifierResult,
    chain: demo_chain::ChainStep,
}

/// Runs `poa demo`.
pub fn run(args: &Args, out: &Output) -> anyhow::Result<()> {
    // Fail before any work: hashed weights are the wide layout's, hashed inputs not the
    // narrow one's.
    ensure!(
        args.layout == Layout::Wide || args.weight_visibility == WeightVisibility::Fixed,
        "hashed weights need `--layout wide`"
    );
    if args.layout == Layout::Narrow {
        ensure!(
            args.weight_visibility == WeightVisibility::Fixed
                && args.input_visibility != InputVisibility::Hashed,
            "the narrow layout takes fixed weights and a public or private input; add \
             `--layout wide` for --weight-visibility {} --input-visibility {}",
            args.weight_visibility,
            args.input_visibility
        );
    }
    let data = args.fixtures.join("data");
    let model_dir = args.out.join(&args.model);
    let compile_args = compile::Args {
        model: args
            .fixtures
            .join("models")
            .join(format!("{}.onnx", args.model)),
        calibration: data.join("calibration.json"),
        out: model_dir.clone(),
        test: Some(data.join("test.json")),
        tolerance: poa_runtime::CalibrationOptions::default().tolerance,
        min_agreement: poa_runtime::CalibrationOptions::default().min_agreement,
        input_range: None,
        input_visibility: args.input_visibility,
        weight_visibility: args.weight_visibility,
        max_scale: poa_runtime::CalibrationOptions::default().max_scale,
        adapter: args.adapter.clone(),
    };
    let t = Instant::now();
    let (settings, report) = compile::compile(&compile_args, out)?;
    let compile_ms = ms_since(t);
    let compiled = Compiled::load(&model_dir)?;
    let run_args = run::Args {
        dir: model_dir.clone(),
        input: data.join("input_0.json"),
        trace: Some(model_dir.join("trace_input_0.json")),
    };
    let results = run::run_file(&compiled, &run_args)?;
    let sample = poa_runtime::parse_inputs(
        &std::fs::read_to_string(&run_args.input)?,
        poa_runtime::tensor::numel(&compiled.qmodel.input().shape),
    )?;
    let attribution = demo_attribution::run(&compiled, &args.fixtures, &model_dir, &sample[0])?;
    let index = setup::read_index(&attribution.index_file)?;
    let root = index_root(&index);
    let k = attribution.attribution.top.len();
    let setup = setup::setup(
        &model_dir,
        setup::SrsSource::Dev,
        Some((index, k, IndexVisibility::Fixed)),
        args.layout,
        None,
        out,
    )?;
    let verifier = evm::write_verifier(&model_dir, &model_dir.join("evm"), None, out)?;

    // The request is opened (and paid) on-chain first: the proof must carry its nonce.
    let shares = RewardShares::default();
    let terms = ModelTerms::attributed(
        &compiled.qmodel,
        &settings.visibility()?,
        u16::try_from(k)?,
        demo_chain::shares_bps(&shares)?,
    );
    // A hashed-input proof publishes the input's commitment (row 2): the request binds it, so
    // only a proof of this very input settles it. Public and private inputs publish 0.
    let input_commitment = if args.input_visibility == InputVisibility::Hashed {
        let q = &compiled.qmodel;
        let quantized = q.quantize_input(&sample[0])?;
        poa_contracts::chain::fr_to_u256(&poa_circuits::commit::input_commitment(
            q,
            &quantized.data,
        ))
    } else {
        alloy::primitives::U256::ZERO
    };
    let spinner = out.spinner("starting anvil, deploying, opening a paid request");
    let chain = demo_chain::LocalChain::start(
        &verifier.creation,
        verifier.runtime_bytes,
        terms,
        &root,
        FEE,
        input_commitment,
        verifier.insecure_srs,
    )?;
    spinner.finish_and_clear();
    let proof_file = model_dir.join("proof_input_0.json");
    let request = Request {
        nonce: chain.nonce(),
        prover: chain.prover(),
    };
    let prove = prove::prove_file(
        &model_dir,
        &run_args.input,
        &proof_file,
        Some(request),
        None,
        out,
    )?;
    let verify = verify::verify_file(&model_dir, &proof_file, out)?;

    // The proof must publish exactly the native attribution; the reward is split from what the
    // proof publishes, as the contract will.
    let proven = prove
        .attribution
        .as_ref()
        .context("attribution keys gave no attribution")?;
    let native: Vec<(Address, i128)> = attribution
        .attribution
        .top
        .iter()
        .map(|a| (a.contributor, a.score))
        .collect();
    let published: Vec<(Address, i128)> = proven
        .top
        .iter()
        .map(|e| Ok((e.contributor, i128::try_from(e.score)?)))
        .collect::<anyhow::Result<_>>()?;
    ensure!(
        published == native
            && u128::from(attribution.attribution.predicted_class) == proven.predicted_class,
        "the proof's attribution differs from the native one: {published:?} vs {native:?}"
    );
    let reward = split(FEE, &shares, &published)?;
    let reward_report = model_dir.join("reward.svg");
    let title = format!("Reward from the proof's public instances: top-{k}");
    write_bytes(
        &reward_report,
        reward_report::svg(&reward, &title).as_bytes(),
    )?;
    let spinner = out.spinner("submitting the proof and claiming");
    let chain = chain.settle(&evm::read_proof(&proof_file)?, proven, &reward)?;
    spinner.finish_and_clear();
    let result = DemoResult {
        settings,
        report,
        run: results,
        compile_ms,
        attribution,
        setup,
        prove,
        verify,
        reward,
        reward_report,
        verifier,
        chain,
    };
    out.result(&result, || text(&result, &model_dir))
}

fn text(result: &DemoResult, model_dir: &std::path::Path) -> String {
    let held = result.report.held_out.as_ref().map_or(String::new(), |h| {
        format!(
            "{:.2}% ({}/{})",
            100.0 * h.argmax_agreement,
            h.argmax_matches,
            h.samples
        )
    });
    let r = &result.run[0];
    let w = &result.reward;
    let contributors: Vec<String> = w
        .contributors
        .iter()
        .map(|c| {
            format!(
                "{}… {} OPEN",
                &c.contributor.to_string()[..10],
                format_open(c.amount)
            )
        })
        .collect();
    let c = &result.chain;
    let adapter = result.report.adapter.as_ref().map_or(String::new(), |a| {
        format!(
            "\n      LoRA adapter `{}` merged into {} (adapter {}…, base model {}…): proofs publish the \
             base model's id and the adapter's; it changes the base prediction on {} of {} \
             calibration samples",
            a.name,
            a.layers.join(", "),
            &a.digest[..16],
            &a.base_digest[..16],
            a.against_base.samples - a.against_base.argmax_matches,
            a.against_base.samples
        )
    });
    format!(
        "[1/10] compiled {} into {} in {:.0} ms (scales a=2^{}, w=2^{}; {} MACs)\n      held-out float-vs-quantized argmax agreement: {held}{adapter}\n\
         [2/10] ran fixtures/data/input_0.json → class {} (trace {}; full trace in {})\n\
         [3/10] {}\n\
         [4/10] setup on the dev SRS: {}\n\
         [5/10] {}\n\
         [6/10] {}\n\
         [7/10] {}\n\
         [8/10] {}\n\
         [9/10] the proof publishes exactly the native top-{} (class {}); its split of the fee ({} OPEN, shares {} bps): owner {}, prover {}, treasury {} (dust {} units), contributors: {} → {}\n\
         [10/10] {}",
        result.settings.model,
        model_dir.display(),
        result.compile_ms,
        result.settings.scales.activation,
        result.settings.scales.weight,
        result.report.calibration.macs,
        r.class,
        &r.trace_hash[..16],
        model_dir.join("trace_input_0.json").display(),
        demo_attribution::text(&result.attribution),
        setup::text(&result.setup).replace('\n', "\n      "),
        demo_chain::verifier_text(result.verifier.runtime_bytes),
        demo_chain::setup_text(c),
        prove::text(&result.prove),
        verify::text(&result.verify),
        result.attribution.attribution.top.len(),
        result.attribution.attribution.predicted_class,
        format_open(w.fee),
        w.shares,
        format_open(w.owner),
        format_open(w.prover),
        format_open(w.treasury),
        w.dust,
        contributors.join(", "),
        result.reward_report.display(),
        demo_chain::text(c),
    )
}
