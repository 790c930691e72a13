//! `poa run`: execute a compiled model and show what a proof would attest to.

use std::path::PathBuf;

use anyhow::Context;
use poa_runtime::{ops::argmax, parse_inputs, tensor::numel};
use serde::Serialize;

use crate::artifacts::{write_json, Compiled};
use crate::output::Output;

/// Arguments of `poa run`.
#[derive(clap::Args)]
pub struct Args {
    /// Compiled model folder (from `poa compile`).
    pub dir: PathBuf,
    /// Input file (`{"inputs": [[…]]}` or ezkl's `{"input_data": [[…]]}`); every sample is run.
    #[arg(long)]
    pub input: PathBuf,
    /// Also write the full trace of the first sample (every integer tensor) as JSON here.
    #[arg(long)]
    pub trace: Option<PathBuf>,
}

/// What one sample produced.
#[derive(Serialize)]
pub struct RunResult {
    /// Output in real units (class index for ArgMax models).
    pub output: Vec<f64>,
    /// Raw integer output.
    pub output_q: Vec<i64>,
    /// Predicted class.
    pub class: usize,
    /// Embedding φ(x) (integers at the embedding scale).
    pub embedding: Vec<i64>,
    /// Embedding scale (fractional bits).
    pub embedding_scale: u32,
    /// SHA-256 trace hash (hex).
    pub trace_hash: String,
}

/// Runs `poa run`.
pub fn run(args: &Args, out: &Output) -> anyhow::Result<()> {
    let compiled = Compiled::load(&args.dir)?;
    let results = run_file(&compiled, args)?;
    out.result(&results, || {
        let header = format!("model {} ({})\n", compiled.settings.model, &compiled.settings.qmodel_digest[..16]);
        header
            + &results
            .iter()
            .enumerate()
            .map(|(i, r)| {
                format!(
                    "sample {i}: class {}\n  output    {:?}\n  embedding {:?} (scale 2^{})\n  trace     {}",
                    r.class,
                    r.output.iter().map(|v| (v * 1e4).round() / 1e4).collect::<Vec<_>>(),
                    r.embedding,
                    r.embedding_scale,
                    r.trace_hash
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// Runs every sample of the input file.
pub fn run_file(compiled: &Compiled, args: &Args) -> anyhow::Result<Vec<RunResult>> {
    let q = &compiled.qmodel;
    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("reading {}", args.input.display()))?;
    let samples = parse_inputs(&text, numel(&q.input().shape))
        .with_context(|| format!("parsing {}", args.input.display()))?;
    let mut results = Vec::with_capacity(samples.len());
    for (i, x) in samples.iter().enumerate() {
        let trace = q.run(x).with_context(|| format!("sample {i}"))?;
        if i == 0 {
            if let Some(path) = &args.trace {
                write_json(path, &trace)?;
            }
        }
        let output_q = trace.output().data.clone();
        let class = if q.outputs_class() {
            output_q.first().copied().unwrap_or(0) as usize
        } else {
            argmax(&output_q)
        };
        results.push(RunResult {
            output: q.dequantize_output(&trace),
            output_q,
            class,
            embedding: trace.embedding().data.clone(),
            embedding_scale: q.tensors[q.embedding].scale,
            trace_hash: trace.hash_hex(),
        });
    }
    Ok(results)
}
