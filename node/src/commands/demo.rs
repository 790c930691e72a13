//! `poa demo`: the README's end-to-end command on embedded defaults. Today: compile a fixture
//! model with its calibration set, report held-out accuracy, and run a sample. Later stages
//! (setup, prove, verify, chain payout) extend it.

use std::path::PathBuf;

use serde::Serialize;

use super::{compile, run};
use crate::artifacts::{Compiled, Report, Settings};
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
}

#[derive(Serialize)]
struct DemoResult {
    settings: Settings,
    report: Report,
    run: Vec<run::RunResult>,
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
        max_scale: poa_runtime::CalibrationOptions::default().max_scale,
    };
    let (settings, report) = compile::compile(&compile_args, out)?;
    let compiled = Compiled::load(&model_dir)?;
    let run_args = run::Args {
        dir: model_dir.clone(),
        input: data.join("input_0.json"),
        trace: Some(model_dir.join("trace_input_0.json")),
    };
    let results = run::run_file(&compiled, &run_args)?;
    let result = DemoResult {
        settings,
        report,
        run: results,
    };
    out.result(&result, || {
        let held = result.report.held_out.as_ref().map_or(String::new(), |h| {
            format!("{:.2}% ({}/{})", 100.0 * h.argmax_agreement, h.argmax_matches, h.samples)
        });
        let r = &result.run[0];
        format!(
            "[1/2] compiled {} into {} (scales a=2^{}, w=2^{}; {} MACs)\n      held-out float-vs-quantized argmax agreement: {held}\n\
             [2/2] ran fixtures/data/input_0.json → class {} (trace {}; full trace in {})",
            result.settings.model,
            model_dir.display(),
            result.settings.scales.activation,
            result.settings.scales.weight,
            result.report.calibration.macs,
            r.class,
            &r.trace_hash[..16],
            model_dir.join("trace_input_0.json").display(),
        )
    })
}
