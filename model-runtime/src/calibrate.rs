//! Calibration: pick the smallest fixed-point scales that keep the quantized model faithful to
//! the float reference, and measure that faithfulness.
//!
//! Smaller scales mean narrower range checks and lookup tables in the circuit, so we search
//! total bits `s_a + s_w` upwards and stop at the first pair that meets both criteria: argmax
//! agreement ≥ `min_agreement` and max-abs output error ≤ `tolerance × max|float output|`.

use serde::{Deserialize, Serialize};

use crate::error::{Result, RuntimeError};
use crate::float_graph::FloatGraph;
use crate::graph::QModel;
use crate::ops::argmax;
use crate::quant::bits_for;
use crate::quantize::{quantize_graph, Scales};

/// Search settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CalibrationOptions {
    /// Required fraction of calibration samples whose argmax matches the float model.
    pub min_agreement: f64,
    /// Allowed max-abs output error, relative to the largest float output magnitude.
    pub tolerance: f64,
    /// Smallest scale tried (bits).
    pub min_scale: u32,
    /// Largest scale tried (bits).
    pub max_scale: u32,
    /// Accepted input magnitude; default: max |calibration value| rounded up to a power of two.
    pub input_range: Option<f64>,
}

impl Default for CalibrationOptions {
    fn default() -> Self {
        Self {
            min_agreement: 1.0,
            tolerance: 0.02,
            min_scale: 2,
            max_scale: 14,
            input_range: None,
        }
    }
}

/// How closely the quantized model follows the float one on a set of inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// Samples compared.
    pub samples: usize,
    /// Samples whose predicted class matches.
    pub argmax_matches: usize,
    /// `argmax_matches / samples`.
    pub argmax_agreement: f64,
    /// Largest |quantized − float| over all outputs (0 for class outputs).
    pub max_abs_error: f64,
    /// Mean |quantized − float| over all outputs (0 for class outputs).
    pub mean_abs_error: f64,
}

/// What calibration chose and why.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CalibrationReport {
    /// The chosen scales.
    pub scales: Scales,
    /// The accepted input magnitude.
    pub input_range: f64,
    /// Error budget in output units (`tolerance × max|float output|`).
    pub error_budget: f64,
    /// Agreement on the calibration set at the chosen scales.
    pub calibration: Agreement,
    /// Every candidate tried, in order, with its agreement (or why it failed to build).
    pub candidates: Vec<Candidate>,
    /// Multiply-accumulates per inference.
    pub macs: usize,
    /// Widest static bound of any tensor, in bits.
    pub max_bound_bits: u32,
}

/// One scale pair tried during the search.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Candidate {
    /// Scales tried.
    pub scales: Scales,
    /// Its agreement, when the model built.
    pub agreement: Option<Agreement>,
    /// Why it did not build (e.g. accumulator overflow).
    pub error: Option<String>,
}

/// Compares `model` against precomputed float outputs for `inputs`.
pub fn compare(
    model: &QModel,
    inputs: &[Vec<f32>],
    float_outputs: &[Vec<f32>],
) -> Result<Agreement> {
    let mut matches = 0;
    let (mut max_err, mut sum_err, mut count) = (0f64, 0f64, 0usize);
    for (x, want) in inputs.iter().zip(float_outputs) {
        let trace = model.run(x)?;
        let got = model.dequantize_output(&trace);
        if model.outputs_class() {
            matches += usize::from(got.first().map(|&c| c as f32) == want.first().copied());
            continue;
        }
        matches += usize::from(argmax(&trace.output().data) == argmax(want));
        for (g, &w) in got.iter().zip(want) {
            let e = (g - f64::from(w)).abs();
            max_err = max_err.max(e);
            sum_err += e;
            count += 1;
        }
    }
    let samples = inputs.len();
    Ok(Agreement {
        samples,
        argmax_matches: matches,
        argmax_agreement: if samples == 0 {
            1.0
        } else {
            matches as f64 / samples as f64
        },
        max_abs_error: max_err,
        mean_abs_error: if count == 0 {
            0.0
        } else {
            sum_err / count as f64
        },
    })
}

/// Default input range: the largest calibration magnitude rounded up to a power of two.
pub fn default_input_range(inputs: &[Vec<f32>]) -> f64 {
    let max = inputs
        .iter()
        .flatten()
        .fold(0f64, |m, &v| m.max(f64::from(v).abs()));
    if max > 0.0 && max.is_finite() {
        max.log2().ceil().exp2()
    } else {
        1.0
    }
}

/// Searches scales for `graph` on calibration `inputs` whose float outputs are `float_outputs`.
pub fn calibrate(
    graph: &FloatGraph,
    inputs: &[Vec<f32>],
    float_outputs: &[Vec<f32>],
    opts: &CalibrationOptions,
) -> Result<(QModel, CalibrationReport)> {
    if inputs.is_empty() {
        return Err(RuntimeError::Calibration("no calibration inputs".into()));
    }
    let input_range = opts
        .input_range
        .unwrap_or_else(|| default_input_range(inputs));
    let max_out = float_outputs
        .iter()
        .flatten()
        .fold(0f64, |m, &v| m.max(f64::from(v).abs()));
    let error_budget = opts.tolerance * max_out.max(f64::MIN_POSITIVE);
    let mut candidates = Vec::new();
    for total in 2 * opts.min_scale..=2 * opts.max_scale {
        for s_a in opts.min_scale..=opts.max_scale {
            let Some(s_w) = total
                .checked_sub(s_a)
                .filter(|w| (opts.min_scale..=opts.max_scale).contains(w))
            else {
                continue;
            };
            let scales = Scales {
                activation: s_a,
                weight: s_w,
            };
            let model = match quantize_graph(graph, scales, input_range) {
                Ok(m) => m,
                Err(e) => {
                    candidates.push(Candidate {
                        scales,
                        agreement: None,
                        error: Some(e.to_string()),
                    });
                    continue;
                }
            };
            let agreement = compare(&model, inputs, float_outputs)?;
            let ok = agreement.argmax_agreement >= opts.min_agreement
                && agreement.max_abs_error <= error_budget;
            candidates.push(Candidate {
                scales,
                agreement: Some(agreement.clone()),
                error: None,
            });
            if ok {
                let max_bound_bits = model
                    .tensors
                    .iter()
                    .map(|t| bits_for(i128::from(t.bound)))
                    .max()
                    .unwrap_or(0);
                let report = CalibrationReport {
                    scales,
                    input_range,
                    error_budget,
                    calibration: agreement,
                    candidates,
                    macs: model.macs(),
                    max_bound_bits,
                };
                return Ok((model, report));
            }
        }
    }
    let best = candidates
        .iter()
        .filter_map(|c| c.agreement.as_ref().map(|a| (c.scales, a)))
        .max_by(|a, b| a.1.argmax_agreement.total_cmp(&b.1.argmax_agreement));
    Err(RuntimeError::Calibration(format!(
        "no scales in {}..={} reach argmax agreement {} with max error ≤ {error_budget:.4}; best: {best:?}",
        opts.min_scale, opts.max_scale, opts.min_agreement
    )))
}
