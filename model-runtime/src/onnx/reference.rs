//! The float reference: tract runs the original ONNX model so quantization error is measured
//! against an independent implementation, not against our own float code.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use tract_onnx::prelude::{
    tvec, Framework, InferenceFact, InferenceModelExt, IntoRunnable, Tensor as TractTensor,
    TypedRunnableModel,
};

use super::proto::ModelProto;
use crate::error::{Result, RuntimeError};

/// A compiled tract plan for one input shape.
pub struct Reference {
    plan: Arc<TypedRunnableModel>,
    input_shape: Vec<usize>,
}

impl std::fmt::Debug for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reference")
            .field("input_shape", &self.input_shape)
            .finish_non_exhaustive()
    }
}

/// Runs `f`, turning tract errors and panics into [`RuntimeError::Reference`].
fn guarded<T>(f: impl FnOnce() -> tract_onnx::prelude::TractResult<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(RuntimeError::Reference(format!("{e:#}"))),
        Err(_) => Err(RuntimeError::Reference(
            "tract panicked on this model".into(),
        )),
    }
}

impl Reference {
    /// Builds the plan for `input_shape` (call only on a graph our importer accepted, so tract
    /// never sees an op we would reject).
    pub fn new(proto: &ModelProto, input_shape: &[usize]) -> Result<Self> {
        let shape = input_shape.to_vec();
        let plan = guarded(|| {
            let fact = InferenceFact::dt_shape(f32::datum_type(), shape.clone());
            tract_onnx::onnx()
                .model_for_proto_model(proto)?
                .with_input_fact(0, fact)?
                .into_optimized()?
                .into_runnable()
        })?;
        Ok(Self {
            plan,
            input_shape: input_shape.to_vec(),
        })
    }

    /// Runs one input (flattened) and returns the first output as f32 (class indices included).
    pub fn run(&self, x: &[f32]) -> Result<Vec<f32>> {
        guarded(|| {
            let t = TractTensor::from_shape(&self.input_shape, x)?;
            let out = self.plan.run(tvec!(t.into()))?;
            let first = out[0].cast_to::<f32>()?;
            Ok(first
                .to_plain_array_view::<f32>()?
                .iter()
                .copied()
                .collect())
        })
    }
}

use tract_onnx::prelude::Datum;
