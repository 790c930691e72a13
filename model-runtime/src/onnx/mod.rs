//! ONNX import: raw protobuf → validated [`FloatGraph`], plus tract's float reference run.

mod import;
mod proto;
mod reference;

use std::path::Path;

pub use import::SUPPORTED_OPS;
pub use reference::Reference;

use crate::error::{Result, RuntimeError};
use crate::float_graph::FloatGraph;

/// An imported ONNX model: the validated float graph and the protobuf tract runs.
pub struct OnnxModel {
    /// The graph our runtime quantizes.
    pub graph: FloatGraph,
    proto: proto::ModelProto,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("graph", &self.graph.name)
            .finish_non_exhaustive()
    }
}

impl OnnxModel {
    /// Parses and validates ONNX bytes. Every op, attribute and initializer is checked here, so
    /// an unsupported model fails with the node named, before tract or quantization see it.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self> {
        let proto = proto::decode(bytes)?;
        let graph = import::to_float_graph(&proto, name)?;
        Ok(Self { graph, proto })
    }

    /// Reads a model file; the model is named after the file stem.
    pub fn from_path(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| RuntimeError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let name = path
            .file_stem()
            .map_or_else(|| "model".to_string(), |s| s.to_string_lossy().into_owned());
        Self::from_bytes(&bytes, &name)
    }

    /// Builds tract's float plan for the model's input shape.
    pub fn reference(&self) -> Result<Reference> {
        Reference::new(&self.proto, &self.graph.input_shape)
    }
}
