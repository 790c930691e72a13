//! Raw ONNX protobuf access: decoding, initializers and typed attributes.
//!
//! We read the protobuf directly (through tract's generated types) instead of tract's graph
//! levels, which rewrite ops (Relu → Clip, Gemm → EinSum) and hide attributes we must check.

use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_proto::DataType, NodeProto, TensorProto,
};
use tract_onnx::prelude::Framework;

use crate::error::{Result, RuntimeError};
use crate::float_graph::FTensor;

pub use tract_onnx::pb::ModelProto;

/// Decodes ONNX bytes into a `ModelProto` with a graph.
pub fn decode(bytes: &[u8]) -> Result<ModelProto> {
    let mut reader = bytes;
    let proto = tract_onnx::onnx()
        .proto_model_for_read(&mut reader)
        .map_err(|e| RuntimeError::MalformedOnnx(format!("{e:#}")))?;
    if proto.graph.as_ref().is_none_or(|g| g.node.is_empty()) {
        return Err(RuntimeError::MalformedOnnx(
            "the model has no graph or no nodes".into(),
        ));
    }
    Ok(proto)
}

fn dims(t: &TensorProto, what: &str) -> Result<Vec<usize>> {
    t.dims
        .iter()
        .map(|&d| {
            usize::try_from(d)
                .map_err(|_| RuntimeError::graph(what, format!("negative dimension {d}")))
        })
        .collect()
}

fn check_len(len: usize, shape: &[usize], what: &str) -> Result<()> {
    let n: usize = shape.iter().product();
    if len != n {
        return Err(RuntimeError::graph(
            what,
            format!("tensor has {len} values for shape {shape:?}"),
        ));
    }
    Ok(())
}

fn le_chunks<const N: usize>(raw: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    raw.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    })
}

/// Reads a numeric tensor (float, double, int32 or int64) as f32.
pub fn tensor_f32(t: &TensorProto, what: &str) -> Result<FTensor> {
    let shape = dims(t, what)?;
    let raw = &t.raw_data;
    let data: Vec<f32> = match DataType::try_from(t.data_type) {
        Ok(DataType::Float) if !raw.is_empty() => {
            le_chunks::<4>(raw).map(f32::from_le_bytes).collect()
        }
        Ok(DataType::Float) => t.float_data.clone(),
        Ok(DataType::Double) if !raw.is_empty() => le_chunks::<8>(raw)
            .map(|b| f64::from_le_bytes(b) as f32)
            .collect(),
        Ok(DataType::Double) => t.double_data.iter().map(|&v| v as f32).collect(),
        Ok(DataType::Int64 | DataType::Int32) => {
            tensor_i64(t, what)?.into_iter().map(|v| v as f32).collect()
        }
        other => {
            return Err(RuntimeError::graph(
                what,
                format!("unsupported tensor data type {other:?}"),
            ));
        }
    };
    check_len(data.len(), &shape, what)?;
    if let Some(bad) = data.iter().find(|v| !v.is_finite()) {
        return Err(RuntimeError::graph(
            what,
            format!("non-finite weight {bad}"),
        ));
    }
    Ok(FTensor { shape, data })
}

/// Reads an integer tensor (int64 or int32).
pub fn tensor_i64(t: &TensorProto, what: &str) -> Result<Vec<i64>> {
    let shape = dims(t, what)?;
    let raw = &t.raw_data;
    let data: Vec<i64> = match DataType::try_from(t.data_type) {
        Ok(DataType::Int64) if !raw.is_empty() => {
            le_chunks::<8>(raw).map(i64::from_le_bytes).collect()
        }
        Ok(DataType::Int64) => t.int64_data.clone(),
        Ok(DataType::Int32) if !raw.is_empty() => le_chunks::<4>(raw)
            .map(|b| i64::from(i32::from_le_bytes(b)))
            .collect(),
        Ok(DataType::Int32) => t.int32_data.iter().map(|&v| i64::from(v)).collect(),
        other => {
            return Err(RuntimeError::graph(
                what,
                format!("expected an integer tensor, got {other:?}"),
            ));
        }
    };
    check_len(data.len(), &shape, what)?;
    Ok(data)
}

/// Typed, validated access to one node's attributes.
pub struct Attrs<'a> {
    node: &'a NodeProto,
    name: String,
}

impl<'a> Attrs<'a> {
    /// Wraps a node; `name` is used in errors. Rejects attributes outside `known`.
    pub fn new(node: &'a NodeProto, name: &str, known: &[&str]) -> Result<Self> {
        let a = Self {
            node,
            name: name.to_string(),
        };
        if let Some(unknown) = node
            .attribute
            .iter()
            .find(|at| !known.contains(&at.name.as_str()))
        {
            return Err(a.unsupported(format!(
                "unknown attribute `{}` (this op supports: {})",
                unknown.name,
                known.join(", ")
            )));
        }
        Ok(a)
    }

    /// An [`RuntimeError::UnsupportedAttribute`] for this node.
    pub fn unsupported(&self, detail: impl Into<String>) -> RuntimeError {
        RuntimeError::UnsupportedAttribute {
            node: self.name.clone(),
            op: self.node.op_type.clone(),
            detail: detail.into(),
        }
    }

    fn get(
        &self,
        key: &str,
        ty: AttributeType,
    ) -> Result<Option<&'a tract_onnx::pb::AttributeProto>> {
        match self.node.attribute.iter().find(|a| a.name == key) {
            Some(a) if a.r#type == ty as i32 => Ok(Some(a)),
            Some(a) => Err(self.unsupported(format!(
                "attribute `{key}` has type {} not {ty:?}",
                a.r#type
            ))),
            None => Ok(None),
        }
    }

    /// Integer attribute or `default`.
    pub fn int(&self, key: &str, default: i64) -> Result<i64> {
        Ok(self.get(key, AttributeType::Int)?.map_or(default, |a| a.i))
    }

    /// Float attribute or `default`.
    pub fn float(&self, key: &str, default: f32) -> Result<f32> {
        Ok(self
            .get(key, AttributeType::Float)?
            .map_or(default, |a| a.f))
    }

    /// Integer-list attribute, if present.
    pub fn ints(&self, key: &str) -> Result<Option<Vec<i64>>> {
        Ok(self.get(key, AttributeType::Ints)?.map(|a| a.ints.clone()))
    }

    /// String attribute or `default`.
    pub fn string(&self, key: &str, default: &str) -> Result<String> {
        Ok(self
            .get(key, AttributeType::String)?
            .map_or(default.to_string(), |a| {
                String::from_utf8_lossy(&a.s).into_owned()
            }))
    }

    /// Tensor attribute, if present.
    pub fn tensor(&self, key: &str) -> Result<Option<&'a TensorProto>> {
        Ok(self
            .get(key, AttributeType::Tensor)?
            .and_then(|a| a.t.as_ref()))
    }

    /// Requires an integer attribute to equal `want` (its ONNX default when absent).
    pub fn require_int(&self, key: &str, default: i64, want: i64) -> Result<()> {
        match self.int(key, default)? {
            v if v == want => Ok(()),
            v => Err(self.unsupported(format!("{key}={v} (only {key}={want} is supported)"))),
        }
    }

    /// Non-negative integer list of `len` entries, or `default` when absent.
    pub fn usizes(&self, key: &str, len: usize, default: usize) -> Result<Vec<usize>> {
        match self.ints(key)? {
            None => Ok(vec![default; len]),
            Some(v) if v.len() == len && v.iter().all(|&x| x >= 0) => {
                Ok(v.into_iter().map(|x| x as usize).collect())
            }
            Some(v) => {
                Err(self.unsupported(format!("{key}={v:?} (expected {len} non-negative values)")))
            }
        }
    }
}
