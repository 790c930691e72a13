//! # poa-runtime
//!
//! The quantized integer model runtime of OpenPoA. It imports ONNX models (through tract's
//! protobuf types), folds them into a small set of integer ops, chooses fixed-point scales by
//! calibration against tract's float run, and executes models into a [`Trace`] that holds every
//! intermediate tensor — exactly the witness the proving circuit checks.
//!
//! Pipeline: [`OnnxModel::from_path`] → [`calibrate()`] (or [`quantize_graph`]) → [`QModel`] →
//! [`QModel::run`] → [`Trace`].
//!
//! Number format: a real `v` at scale `s` is the integer `round(v · 2^s)`; all rescaling is the
//! rounded division of [`quant::div_round`], so a circuit can check it with one range-checked
//! remainder. This crate has no ZK dependency.
//!
//! [`datanet`] keeps the versioned, de-duplicated datanets that attribution scores against;
//! [`attribution`] indexes them for a model and computes Proof of Attribution v1 natively.

#![deny(missing_docs)]

pub mod attribution;
pub mod calibrate;
pub mod datanet;
pub mod error;
pub mod float_graph;
pub mod graph;
pub mod input;
pub mod lora;
pub mod onnx;
pub mod ops;
pub mod quant;
pub mod quantize;
pub mod tensor;
pub mod trace;

pub use calibrate::{calibrate, compare, Agreement, CalibrationOptions, CalibrationReport};
pub use error::{Result, RuntimeError};
pub use float_graph::FloatGraph;
pub use graph::{QModel, TensorInfo};
pub use input::parse_inputs;
pub use lora::{AdapterOf, LoraAdapter};
pub use onnx::{OnnxModel, Reference, SUPPORTED_OPS};
pub use quantize::{quantize_graph, Scales};
pub use tensor::Tensor;
pub use trace::Trace;
