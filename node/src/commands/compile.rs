//! `poa compile`: ONNX → calibrated quantized model folder.

use std::path::{Path, PathBuf};

use anyhow::Context;
use poa_circuits::{InputVisibility, WeightVisibility};
use poa_runtime::lora::quantize_adapted;
use poa_runtime::{
    calibrate, compare, parse_inputs, tensor::numel, CalibrationOptions, LoraAdapter, OnnxModel,
    Reference,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::artifacts::{
    write_bytes, write_json, AdapterReport, EmbeddingInfo, Report, Settings, COMPILED_FORMAT,
};
use crate::output::Output;

/// Arguments of `poa compile`.
#[derive(clap::Args)]
pub struct Args {
    /// The ONNX model to compile.
    pub model: PathBuf,
    /// Calibration inputs (`{"inputs": [[…]]}` or ezkl's `{"input_data": [[…]]}`).
    #[arg(long)]
    pub calibration: PathBuf,
    /// Output folder (created if missing; files are replaced atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Held-out inputs to report float-vs-quantized agreement on (not used to choose scales).
    #[arg(long)]
    pub test: Option<PathBuf>,
    /// Max-abs output error allowed, relative to the largest float output.
    #[arg(long, default_value_t = CalibrationOptions::default().tolerance)]
    pub tolerance: f64,
    /// Fraction of calibration samples whose argmax must match the float model.
    #[arg(long, default_value_t = CalibrationOptions::default().min_agreement)]
    pub min_agreement: f64,
    /// Accepted input magnitude (default: calibration max rounded up to a power of two).
    #[arg(long)]
    pub input_range: Option<f64>,
    /// What proofs reveal about the input: `public` (every value), `hashed` (its Poseidon
    /// commitment) or `private` (nothing). The output is always public.
    #[arg(long, default_value_t = InputVisibility::Public)]
    pub input_visibility: InputVisibility,
    /// How proofs hold the Gemm/Conv weights: `fixed` (baked into the verifying key: one key per
    /// set of weights) or `hashed` (private; their Poseidon commitment is public, and the bounds
    /// are byte-rounded so a base model and its LoRA adapters share one key and one verifier).
    #[arg(long, default_value_t = WeightVisibility::Fixed)]
    pub weight_visibility: WeightVisibility,
    /// Largest scale (fractional bits) the search may pick.
    #[arg(long, default_value_t = CalibrationOptions::default().max_scale)]
    pub max_scale: u32,
    /// A LoRA adapter (`poa-lora/1` JSON) to merge into the model's Gemm weights: the base model
    /// is calibrated as usual, then the adapted weights are quantized at its scales. Proofs of
    /// the folder publish the base model's id and the adapter's id.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
}

#[derive(Serialize)]
struct Summary<'a> {
    out: &'a Path,
    settings: &'a Settings,
    report: &'a Report,
}

/// Runs `poa compile`.
pub fn run(args: &Args, out: &Output) -> anyhow::Result<()> {
    let (settings, report) = compile(args, out)?;
    out.result(
        &Summary {
            out: &args.out,
            settings: &settings,
            report: &report,
        },
        || text_report(&settings, &report),
    )
}

/// Imports, calibrates, evaluates and writes the folder; returns what it wrote.
pub fn compile(args: &Args, out: &Output) -> anyhow::Result<(Settings, Report)> {
    let bytes =
        std::fs::read(&args.model).with_context(|| format!("reading {}", args.model.display()))?;
    let name = args
        .model
        .file_stem()
        .map_or("model".into(), |s| s.to_string_lossy().into_owned());
    let onnx = OnnxModel::from_bytes(&bytes, &name)
        .with_context(|| format!("importing {}", args.model.display()))?;
    let sample_len = numel(&onnx.graph.input_shape);
    let inputs = read_inputs(&args.calibration, sample_len)?;
    let reference = onnx.reference()?;
    let float = float_outputs(&reference, &inputs, out, "float reference")?;
    let opts = CalibrationOptions {
        tolerance: args.tolerance,
        min_agreement: args.min_agreement,
        input_range: args.input_range,
        max_scale: args.max_scale,
        ..CalibrationOptions::default()
    };
    let spinner = out.spinner("calibrating scales");
    let (qmodel, calibration) = calibrate(&onnx.graph, &inputs, &float, &opts)?;
    spinner.finish_and_clear();
    let hashed = args.weight_visibility == WeightVisibility::Hashed;
    // Byte-rounded before an adapter is merged: the adapter records this model's digest.
    let qmodel = if hashed {
        qmodel.with_byte_rounded_bounds()
    } else {
        qmodel
    };
    let (qmodel, adapter) = match &args.adapter {
        None => (qmodel, None),
        Some(path) => {
            let (adapted, report, text) = adapt(
                &onnx.graph,
                &qmodel,
                calibration.scales,
                path,
                &inputs,
                &float,
            )?;
            let adapted = if hashed {
                adapted.with_byte_rounded_bounds()
            } else {
                adapted
            };
            (adapted, Some((report, text)))
        }
    };
    if hashed {
        poa_circuits::weights::check_hashable(&qmodel)?;
    }
    let held_out = match &args.test {
        Some(path) => {
            let test = read_inputs(path, sample_len)?;
            let float = float_outputs(&reference, &test, out, "held-out float")?;
            Some(compare(&qmodel, &test, &float).context("running the held-out set")?)
        }
        None => None,
    };
    let emb = &qmodel.tensors[qmodel.embedding];
    let settings = Settings {
        format: COMPILED_FORMAT,
        model: name,
        onnx_sha256: hex::encode(Sha256::digest(&bytes)),
        qmodel_digest: qmodel.digest().to_string(),
        scales: calibration.scales,
        input_range: calibration.input_range,
        input_shape: onnx.graph.input_shape.clone(),
        embedding: EmbeddingInfo {
            tensor: qmodel.embedding,
            name: emb.name.clone(),
            shape: emb.shape.clone(),
            scale: emb.scale,
        },
        input_visibility: args.input_visibility.to_string(),
        weight_visibility: args.weight_visibility.to_string(),
        poa_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let (adapter, adapter_text) = adapter.unzip();
    let report = Report {
        calibration,
        held_out,
        adapter,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    write_bytes(&args.out.join("model.onnx"), &bytes)?;
    let adapter_file = args.out.join("adapter.json");
    match adapter_text {
        Some(text) => write_bytes(&adapter_file, text.as_bytes())?,
        None => remove_if_present(&adapter_file)?,
    }
    write_json(&args.out.join("qmodel.json"), &qmodel)?;
    write_json(&args.out.join("report.json"), &report)?;
    // settings.json last: its presence with a matching digest marks a complete folder.
    write_json(&args.out.join("settings.json"), &settings)?;
    Ok((settings, report))
}

/// Merges the adapter at `path` into `graph` and quantizes it at the base model's `scales`;
/// returns the adapted model, its report and the adapter file's text (copied into the folder).
fn adapt(
    graph: &poa_runtime::FloatGraph,
    base: &poa_runtime::QModel,
    scales: poa_runtime::Scales,
    path: &Path,
    inputs: &[Vec<f32>],
    float: &[Vec<f32>],
) -> anyhow::Result<(poa_runtime::QModel, AdapterReport, String)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let adapter =
        LoraAdapter::from_json(&text).with_context(|| format!("parsing {}", path.display()))?;
    let adapted = quantize_adapted(graph, base, &adapter, scales)
        .with_context(|| format!("merging adapter {}", path.display()))?;
    let against_base = compare(&adapted, inputs, float).context("running the adapted model")?;
    let report = AdapterReport {
        name: adapter.name.clone(),
        digest: adapter.digest(),
        base_digest: base.digest().to_string(),
        layers: adapter.layers.iter().map(|l| l.node.clone()).collect(),
        against_base,
    };
    Ok((adapted, report, text))
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

fn read_inputs(path: &Path, sample_len: usize) -> anyhow::Result<Vec<Vec<f32>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_inputs(&text, sample_len).with_context(|| format!("parsing {}", path.display()))
}

fn float_outputs(
    r: &Reference,
    inputs: &[Vec<f32>],
    out: &Output,
    msg: &'static str,
) -> anyhow::Result<Vec<Vec<f32>>> {
    let bar = out.progress(inputs.len() as u64, msg);
    let res = inputs
        .iter()
        .map(|x| {
            bar.inc(1);
            r.run(x)
        })
        .collect::<Result<Vec<_>, _>>();
    bar.finish_and_clear();
    Ok(res?)
}

fn pct(a: &poa_runtime::Agreement) -> String {
    format!(
        "argmax agreement {:.2}% ({}/{}), max abs error {:.4}, mean abs error {:.5}",
        100.0 * a.argmax_agreement,
        a.argmax_matches,
        a.samples,
        a.max_abs_error,
        a.mean_abs_error
    )
}

fn text_report(s: &Settings, r: &Report) -> String {
    let c = &r.calibration;
    let mut t = format!(
        "compiled {} → scales: activation 2^{}, weight 2^{} (input range ±{})\n\
         work: {} MACs per inference, widest tensor bound {} bits\n\
         embedding: tensor {} `{}` {:?} at scale 2^{}\n\
         calibration ({} candidates tried, error budget {:.4}): {}",
        s.model,
        s.scales.activation,
        s.scales.weight,
        s.input_range,
        c.macs,
        c.max_bound_bits,
        s.embedding.tensor,
        s.embedding.name,
        s.embedding.shape,
        s.embedding.scale,
        c.candidates.len(),
        c.error_budget,
        pct(&c.calibration),
    );
    if let Some(h) = &r.held_out {
        t.push_str(&format!("\nheld-out: {}", pct(h)));
    }
    if let Some(a) = &r.adapter {
        t.push_str(&format!(
            "\nLoRA adapter `{}` ({}) merged into {} at the base scales; against the base \
             model's float outputs: {}",
            a.name,
            &a.digest[..16],
            a.layers.join(", "),
            pct(&a.against_base)
        ));
    }
    t
}
