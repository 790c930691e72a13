//! Input files: our format and ezkl's, so ezkl users bring their inputs unchanged.
//!
//! - ours: `{"inputs": [[x0, x1, …], …]}`, one flattened sample per inner list;
//! - ezkl: `{"input_data": [[x0, x1, …]]}`, one list per model input (we have one), holding
//!   one or more samples back to back. Other ezkl keys (`output_data`, …) are ignored.

use serde::Deserialize;

use crate::error::{Result, RuntimeError};

#[derive(Deserialize)]
#[serde(untagged)]
enum InputFile {
    Ours { inputs: Vec<Vec<f64>> },
    Ezkl { input_data: Vec<Vec<f64>> },
}

/// Parses an input file into samples of `sample_len` values each.
pub fn parse_inputs(json: &str, sample_len: usize) -> Result<Vec<Vec<f32>>> {
    let file: InputFile = serde_json::from_str(json).map_err(|e| RuntimeError::Format {
        what: "input JSON".into(),
        detail: format!("{e} (expected {{\"inputs\": [[…]]}} or ezkl's {{\"input_data\": [[…]]}})"),
    })?;
    let shape_err = |got| RuntimeError::InputShape {
        model: "input file".into(),
        expected: sample_len,
        shape: vec![sample_len],
        got,
    };
    let samples: Vec<Vec<f64>> = match file {
        InputFile::Ours { inputs } => {
            if let Some(bad) = inputs.iter().find(|s| s.len() != sample_len) {
                return Err(shape_err(bad.len()));
            }
            inputs
        }
        InputFile::Ezkl { input_data } => match input_data.as_slice() {
            [flat]
                if !flat.is_empty() && sample_len > 0 && flat.len().is_multiple_of(sample_len) =>
            {
                flat.chunks(sample_len).map(<[f64]>::to_vec).collect()
            }
            [flat] => return Err(shape_err(flat.len())),
            many => {
                return Err(RuntimeError::Format {
                    what: "ezkl input".into(),
                    detail: format!("{} model inputs given; the model has one", many.len()),
                });
            }
        },
    };
    if samples.is_empty() {
        return Err(RuntimeError::Format {
            what: "input JSON".into(),
            detail: "no samples".into(),
        });
    }
    // f64 → f32 can overflow to ∞; the runtime then rejects it as non-finite, naming the index.
    Ok(samples
        .into_iter()
        .map(|s| s.into_iter().map(|v| v as f32).collect())
        .collect())
}
