//! `poa demo`: the README's end-to-end command on embedded defaults: compile a fixture model with
//! its calibration set (reporting held-out accuracy), run a sample, set up keys on the INSECURE
//! dev SRS, prove the sample and verify the proof — each step with its time — then import, seal
//! and index the fixture datanet and attribute the sample natively. The chain payout extends it
//! later.

use std::path::PathBuf;
use std::time::Instant;

use poa_circuits::InputVisibility;
use serde::Serialize;

use super::{compile, demo_attribution, prove, run, setup, verify};
use crate::artifacts::{ms_since, Compiled, Report, Settings};
use crate::output::Output;

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
    /// Input visibility of the proof: `public`, `hashed` or `private`.
    #[arg(long, default_value_t = InputVisibility::Public)]
    pub input_visibility: InputVisibility,
}

#[derive(Serialize)]
struct DemoResult {
    settings: Settings,
    report: Report,
    run: Vec<run::RunResult>,
    compile_ms: f64,
    setup: setup::SetupResult,
    prove: prove::ProveResult,
    verify: verify::VerifyResult,
    attribution: demo_attribution::AttributionStep,
}

/// Runs `poa demo`.
pub fn run(args: &Args, out: &Output) -> anyhow::Result<()> {
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
        max_scale: poa_runtime::CalibrationOptions::default().max_scale,
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
    let setup = setup::setup(&model_dir, setup::SrsSource::Dev, out)?;
    let proof_file = model_dir.join("proof_input_0.json");
    let prove = prove::prove_file(&model_dir, &run_args.input, &proof_file, out)?;
    let verify = verify::verify_file(&model_dir, &proof_file, out)?;
    let sample = poa_runtime::parse_inputs(
        &std::fs::read_to_string(&run_args.input)?,
        poa_runtime::tensor::numel(&compiled.qmodel.input().shape),
    )?;
    let attribution = demo_attribution::run(&compiled, &args.fixtures, &model_dir, &sample[0])?;
    let result = DemoResult {
        settings,
        report,
        run: results,
        compile_ms,
        setup,
        prove,
        verify,
        attribution,
    };
    out.result(&result, || {
        let held = result.report.held_out.as_ref().map_or(String::new(), |h| {
            format!("{:.2}% ({}/{})", 100.0 * h.argmax_agreement, h.argmax_matches, h.samples)
        });
        let r = &result.run[0];
        format!(
            "[1/7] compiled {} into {} in {:.0} ms (scales a=2^{}, w=2^{}; {} MACs)\n      held-out float-vs-quantized argmax agreement: {held}\n\
             [2/7] ran fixtures/data/input_0.json → class {} (trace {}; full trace in {})\n\
             [3/7] setup on the dev SRS: {}\n\
             [4/7] {}\n\
             [5/7] {}\n\
             {}",
            result.settings.model,
            model_dir.display(),
            result.compile_ms,
            result.settings.scales.activation,
            result.settings.scales.weight,
            result.report.calibration.macs,
            r.class,
            &r.trace_hash[..16],
            model_dir.join("trace_input_0.json").display(),
            setup::text(&result.setup).replace('\n', "\n      "),
            prove::text(&result.prove),
            verify::text(&result.verify),
            demo_attribution::text(&result.attribution),
        )
    })
}
