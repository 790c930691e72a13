//! ONNX graph → [`FloatGraph`]: validates every op, attribute and initializer, and folds
//! BatchNormalization, Gemm's alpha/beta and MatMul + bias into plain Gemm/Conv nodes.

use std::collections::HashMap;

use tract_onnx::pb::{type_proto, GraphProto, NodeProto, TensorProto};

use super::proto::{tensor_f32, tensor_i64, Attrs, ModelProto};
use crate::error::{Result, RuntimeError};
use crate::float_graph::{FNode, FOp, FTensor, FloatGraph};
use crate::ops::{TableFn, Window};

/// ONNX ops the runtime maps, in the order the docs list them.
pub const SUPPORTED_OPS: &[&str] = &[
    "Gemm",
    "MatMul",
    "Conv",
    "Relu",
    "Add",
    "Mul",
    "Flatten",
    "Reshape",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "BatchNormalization",
    "Sigmoid",
    "Tanh",
    "ArgMax",
    "Identity",
    "Dropout",
    "Constant",
];

/// Converts a decoded model into a float graph named `name`.
pub fn to_float_graph(proto: &ModelProto, name: &str) -> Result<FloatGraph> {
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| RuntimeError::MalformedOnnx("the model has no graph".into()))?;
    let mut imp = Importer::new(graph);
    let (input_name, input_shape) = imp.graph_input(graph)?;
    for (i, node) in graph.node.iter().enumerate() {
        let node_name = if node.name.is_empty() {
            format!("#{i}:{}", node.op_type)
        } else {
            node.name.clone()
        };
        imp.node(node, &node_name)?;
    }
    let output_name = match graph.output.as_slice() {
        [o] => imp.resolve(&o.name),
        outs => {
            return Err(RuntimeError::graph(
                "graph",
                format!("expected 1 output, found {}", outs.len()),
            ));
        }
    };
    imp.check_connected(&input_name, &output_name)?;
    Ok(FloatGraph {
        name: name.to_string(),
        input_name,
        input_shape,
        nodes: imp.nodes,
        output_name,
    })
}

struct Importer<'g> {
    consts: HashMap<String, &'g TensorProto>,
    /// Outputs of Identity/Dropout and folded nodes, mapped to the value they stand for.
    alias: HashMap<String, String>,
    /// How many nodes read each value (folding needs a single reader).
    readers: HashMap<String, usize>,
    nodes: Vec<FNode>,
}

impl<'g> Importer<'g> {
    fn new(graph: &'g GraphProto) -> Self {
        let mut readers = HashMap::new();
        for n in &graph.node {
            for i in &n.input {
                *readers.entry(i.clone()).or_insert(0) += 1;
            }
        }
        for o in &graph.output {
            *readers.entry(o.name.clone()).or_insert(0) += 1;
        }
        let consts = graph
            .initializer
            .iter()
            .map(|t| (t.name.clone(), t))
            .collect();
        Self {
            consts,
            alias: HashMap::new(),
            readers,
            nodes: Vec::new(),
        }
    }

    fn resolve(&self, name: &str) -> String {
        let mut n = name;
        while let Some(a) = self.alias.get(n) {
            n = a;
        }
        n.to_string()
    }

    fn graph_input(&self, graph: &GraphProto) -> Result<(String, Vec<usize>)> {
        let inputs: Vec<_> = graph
            .input
            .iter()
            .filter(|i| !self.consts.contains_key(&i.name))
            .collect();
        let [input] = inputs.as_slice() else {
            return Err(RuntimeError::graph(
                "graph",
                format!("expected 1 non-constant input, found {}", inputs.len()),
            ));
        };
        let shape = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(type_proto::Value::TensorType(t)) => {
                t.shape.as_ref().map(|s| s.dim.clone()).unwrap_or_default()
            }
            _ => {
                return Err(RuntimeError::graph(
                    "graph",
                    format!("input `{}` is not a tensor", input.name),
                ))
            }
        };
        let mut dims = Vec::with_capacity(shape.len());
        for (axis, d) in shape.iter().enumerate() {
            use tract_onnx::pb::tensor_shape_proto::dimension::Value;
            match (&d.value, axis) {
                (Some(Value::DimValue(v)), _) if *v > 0 => dims.push(*v as usize),
                // A symbolic or zero batch axis: we prove one sample at a time.
                (_, 0) => dims.push(1),
                (v, _) => {
                    return Err(RuntimeError::graph(
                        "graph",
                        format!(
                            "input `{}` has dynamic dimension {v:?} at axis {axis}",
                            input.name
                        ),
                    ));
                }
            }
        }
        if dims.is_empty() || dims[0] != 1 {
            return Err(RuntimeError::graph(
                "graph",
                format!("input shape {dims:?} must start with batch 1"),
            ));
        }
        Ok((input.name.clone(), dims))
    }

    fn constant(&self, name: &str) -> Option<&'g TensorProto> {
        self.consts.get(&self.resolve(name)).copied()
    }

    fn const_f32(&self, node: &str, name: &str) -> Result<FTensor> {
        let t = self.constant(name).ok_or_else(|| {
            RuntimeError::graph(node, format!("`{name}` must be an initializer or Constant"))
        })?;
        tensor_f32(t, node)
    }

    fn push(&mut self, name: &str, op: FOp, inputs: Vec<String>, output: &str) {
        self.nodes.push(FNode {
            name: name.to_string(),
            op,
            inputs,
            output: output.to_string(),
        });
    }

    /// The node producing `value` when it can absorb a per-channel affine map (Gemm or Conv
    /// read only by the node being folded).
    fn foldable_producer(&mut self, value: &str) -> Option<&mut FNode> {
        if self.readers.get(value).copied() != Some(1) {
            return None;
        }
        self.nodes
            .iter_mut()
            .rev()
            .find(|n| n.output == value)
            .filter(|n| matches!(n.op, FOp::Gemm { .. } | FOp::Conv { .. }))
    }

    fn node(&mut self, node: &'g NodeProto, name: &str) -> Result<()> {
        if !(node.domain.is_empty() || node.domain == "ai.onnx")
            || !SUPPORTED_OPS.contains(&node.op_type.as_str())
        {
            return Err(RuntimeError::UnsupportedOp {
                op: node.op_type.clone(),
                domain: node.domain.clone(),
                node: name.to_string(),
                supported: SUPPORTED_OPS.join(", "),
            });
        }
        let ins: Vec<String> = node.input.iter().map(|i| self.resolve(i)).collect();
        let out = node.output.first().cloned().unwrap_or_default();
        let arg = |i: usize| -> Result<&String> {
            ins.get(i).filter(|s| !s.is_empty()).ok_or_else(|| {
                RuntimeError::graph(name, format!("{} is missing input {i}", node.op_type))
            })
        };
        match node.op_type.as_str() {
            "Relu" | "Sigmoid" | "Tanh" => {
                Attrs::new(node, name, &[])?;
                let op = match node.op_type.as_str() {
                    "Relu" => FOp::Relu,
                    "Sigmoid" => FOp::Activation(TableFn::Sigmoid),
                    _ => FOp::Activation(TableFn::Tanh),
                };
                self.push(name, op, vec![arg(0)?.clone()], &out);
            }
            "Identity" | "Dropout" => {
                Attrs::new(node, name, &["ratio", "seed", "training_mode"])?;
                if node
                    .output
                    .iter()
                    .skip(1)
                    .any(|o| self.readers.contains_key(o))
                {
                    return Err(RuntimeError::graph(name, "Dropout mask output is used"));
                }
                self.alias.insert(out, arg(0)?.clone());
            }
            "Constant" => {
                let a = Attrs::new(node, name, &["value"])?;
                let t = a
                    .tensor("value")?
                    .ok_or_else(|| a.unsupported("Constant without a `value` tensor"))?;
                self.consts.insert(out, t);
            }
            "Gemm" => self.gemm(node, name, &ins, &out)?,
            "MatMul" => {
                Attrs::new(node, name, &[])?;
                let w = self.const_f32(name, arg(1)?)?;
                if w.shape.len() != 2 {
                    return Err(RuntimeError::graph(
                        name,
                        format!("MatMul weight must be 2-D, got {:?}", w.shape),
                    ));
                }
                let weight = transpose(&w);
                let bias = vec![0.0; weight.shape[0]];
                self.push(
                    name,
                    FOp::Gemm { weight, bias },
                    vec![arg(0)?.clone()],
                    &out,
                );
            }
            "Conv" => self.conv(node, name, &ins, &out)?,
            "Add" | "Mul" => {
                Attrs::new(node, name, &[])?;
                let (a, b) = (arg(0)?.clone(), arg(1)?.clone());
                let (x, c) = match (self.constant(&a), self.constant(&b)) {
                    (None, Some(_)) => (a, b),
                    (Some(_), None) => (b, a),
                    (None, None) if node.op_type == "Add" => {
                        self.push(name, FOp::Add, vec![a, b], &out);
                        return Ok(());
                    }
                    _ => {
                        return Err(RuntimeError::UnsupportedAttribute {
                            node: name.into(),
                            op: node.op_type.clone(),
                            detail: "exactly one operand must be an activation (Mul needs a constant factor)".into(),
                        });
                    }
                };
                let c = self.const_f32(name, &c)?;
                if node.op_type == "Add" && self.fold_bias(&x, &c) {
                    self.alias.insert(out, x);
                } else if node.op_type == "Add" {
                    self.push(name, FOp::AddConst(c), vec![x], &out);
                } else {
                    self.push(name, FOp::MulConst(c), vec![x], &out);
                }
            }
            "Flatten" => {
                let a = Attrs::new(node, name, &["axis"])?;
                let axis = a.int("axis", 1)?;
                if axis < 0 {
                    return Err(a.unsupported(format!("axis={axis} (use a non-negative axis)")));
                }
                self.push(
                    name,
                    FOp::Flatten {
                        axis: axis as usize,
                    },
                    vec![arg(0)?.clone()],
                    &out,
                );
            }
            "Reshape" => {
                let a = Attrs::new(node, name, &["allowzero"])?;
                a.require_int("allowzero", 0, 0)?;
                let spec = self
                    .constant(arg(1)?)
                    .ok_or_else(|| a.unsupported("the target shape must be a constant"))?;
                let spec = tensor_i64(spec, name)?;
                self.push(name, FOp::Reshape(spec), vec![arg(0)?.clone()], &out);
            }
            "MaxPool" | "AveragePool" => {
                let a = Attrs::new(
                    node,
                    name,
                    &[
                        "auto_pad",
                        "ceil_mode",
                        "count_include_pad",
                        "dilations",
                        "kernel_shape",
                        "pads",
                        "storage_order",
                        "strides",
                    ],
                )?;
                a.require_int("ceil_mode", 0, 0)?;
                a.require_int("storage_order", 0, 0)?;
                if a.usizes("dilations", 2, 1)? != [1, 1] {
                    return Err(a.unsupported("dilations other than 1"));
                }
                let window = window(&a, None)?;
                let op = if node.op_type == "MaxPool" {
                    FOp::MaxPool(window)
                } else {
                    if window.pads != [0; 4] && a.int("count_include_pad", 0)? == 0 {
                        return Err(a.unsupported(
                            "padded AveragePool with count_include_pad=0 (the divisor would vary per position)",
                        ));
                    }
                    FOp::AvgPool(window)
                };
                self.push(name, op, vec![arg(0)?.clone()], &out);
            }
            "GlobalAveragePool" => {
                Attrs::new(node, name, &[])?;
                self.push(name, FOp::GlobalAvgPool, vec![arg(0)?.clone()], &out);
            }
            "BatchNormalization" => self.batch_norm(node, name, &ins, &out)?,
            "ArgMax" => {
                let a = Attrs::new(node, name, &["axis", "keepdims", "select_last_index"])?;
                a.require_int("select_last_index", 0, 0)?;
                let axis = a.int("axis", 0)?;
                let keepdims = a.int("keepdims", 1)? != 0;
                self.push(
                    name,
                    FOp::ArgMax { axis, keepdims },
                    vec![arg(0)?.clone()],
                    &out,
                );
            }
            other => unreachable!("op {other} is in SUPPORTED_OPS but not mapped"),
        }
        Ok(())
    }

    fn gemm(&mut self, node: &NodeProto, name: &str, ins: &[String], out: &str) -> Result<()> {
        let a = Attrs::new(node, name, &["alpha", "beta", "transA", "transB"])?;
        a.require_int("transA", 0, 0)?;
        let (alpha, beta) = (a.float("alpha", 1.0)?, a.float("beta", 1.0)?);
        let x = ins
            .first()
            .filter(|s| self.constant(s).is_none())
            .ok_or_else(|| a.unsupported("input A must be an activation"))?;
        let w = self.const_f32(name, ins.get(1).ok_or_else(|| a.unsupported("missing B"))?)?;
        if w.shape.len() != 2 {
            return Err(RuntimeError::graph(
                name,
                format!("Gemm weight must be 2-D, got {:?}", w.shape),
            ));
        }
        let mut weight = if a.int("transB", 0)? != 0 {
            w
        } else {
            transpose(&w)
        };
        weight.data.iter_mut().for_each(|v| *v *= alpha);
        let n = weight.shape[0];
        let bias = match ins.get(2).filter(|s| !s.is_empty()) {
            None => vec![0.0; n],
            Some(c) => {
                let c = self.const_f32(name, c)?;
                let per_feature =
                    c.data.len() == n && c.shape.iter().rev().skip(1).all(|&d| d == 1);
                match c.data.len() {
                    1 => vec![c.data[0] * beta; n],
                    _ if per_feature => c.data.iter().map(|v| v * beta).collect(),
                    _ => {
                        return Err(a.unsupported(format!(
                            "bias C of shape {:?} (expected [{n}] or a scalar)",
                            c.shape
                        )))
                    }
                }
            }
        };
        self.push(name, FOp::Gemm { weight, bias }, vec![x.clone()], out);
        Ok(())
    }

    fn conv(&mut self, node: &NodeProto, name: &str, ins: &[String], out: &str) -> Result<()> {
        let a = Attrs::new(
            node,
            name,
            &[
                "auto_pad",
                "dilations",
                "group",
                "kernel_shape",
                "pads",
                "strides",
            ],
        )?;
        a.require_int("group", 1, 1)?;
        let weight = self.const_f32(
            name,
            ins.get(1).ok_or_else(|| a.unsupported("missing weights"))?,
        )?;
        if weight.shape.len() != 4 {
            return Err(a.unsupported(format!(
                "only 2-D convolution (4-D weights) is supported, got {:?}",
                weight.shape
            )));
        }
        if a.usizes("dilations", 2, 1)? != [1, 1] {
            return Err(a.unsupported("dilations other than 1"));
        }
        let window = window(&a, Some([weight.shape[2], weight.shape[3]]))?;
        let bias = match ins.get(2).filter(|s| !s.is_empty()) {
            None => vec![0.0; weight.shape[0]],
            Some(b) => {
                let b = self.const_f32(name, b)?;
                if b.data.len() != weight.shape[0] {
                    return Err(RuntimeError::graph(
                        name,
                        format!(
                            "bias has {} values for {} filters",
                            b.data.len(),
                            weight.shape[0]
                        ),
                    ));
                }
                b.data
            }
        };
        let x = ins
            .first()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| a.unsupported("missing input X"))?;
        self.push(
            name,
            FOp::Conv {
                weight,
                bias,
                window,
            },
            vec![x.clone()],
            out,
        );
        Ok(())
    }

    /// Folds `x + c` into the bias of the Gemm/Conv producing `x` when `c` is per-channel.
    fn fold_bias(&mut self, x: &str, c: &FTensor) -> bool {
        let Some(producer) = self.foldable_producer(x) else {
            return false;
        };
        let (bias, channel_shape_ok) = match &mut producer.op {
            FOp::Gemm { bias, .. } => {
                let n = bias.len();
                (bias, c.data.len() == n && c.shape.last() == Some(&n))
            }
            FOp::Conv { bias, .. } => {
                let n = bias.len();
                let ok = c.data.len() == n && c.shape.len() >= 3 && c.shape[c.shape.len() - 3] == n;
                (bias, ok)
            }
            _ => return false,
        };
        if !channel_shape_ok {
            return false;
        }
        bias.iter_mut().zip(&c.data).for_each(|(b, v)| *b += v);
        true
    }

    fn batch_norm(
        &mut self,
        node: &NodeProto,
        name: &str,
        ins: &[String],
        out: &str,
    ) -> Result<()> {
        let a = Attrs::new(
            node,
            name,
            &["epsilon", "momentum", "spatial", "training_mode"],
        )?;
        a.require_int("training_mode", 0, 0)?;
        a.require_int("spatial", 1, 1)?;
        let eps = a.float("epsilon", 1e-5)?;
        let [x, gamma, beta, mean, var] = ins else {
            return Err(RuntimeError::graph(
                name,
                "BatchNormalization needs 5 inputs",
            ));
        };
        let (gamma, beta, mean, var) = (
            self.const_f32(name, gamma)?.data,
            self.const_f32(name, beta)?.data,
            self.const_f32(name, mean)?.data,
            self.const_f32(name, var)?.data,
        );
        let x = x.clone();
        let Some(producer) = self.foldable_producer(&x) else {
            return Err(a.unsupported("BatchNormalization must directly follow a Conv or Gemm/MatMul (it is folded into it)"));
        };
        let (weight, bias) = match &mut producer.op {
            FOp::Gemm { weight, bias } | FOp::Conv { weight, bias, .. } => (weight, bias),
            _ => unreachable!("foldable_producer only returns Gemm/Conv"),
        };
        let channels = bias.len();
        if [&gamma, &beta, &mean, &var]
            .iter()
            .any(|v| v.len() != channels)
        {
            return Err(RuntimeError::graph(
                name,
                format!("parameters must have {channels} values (one per channel)"),
            ));
        }
        let per_channel = weight.data.len() / channels;
        for c in 0..channels {
            let s = gamma[c] / (var[c] + eps).sqrt();
            weight.data[c * per_channel..(c + 1) * per_channel]
                .iter_mut()
                .for_each(|w| *w *= s);
            bias[c] = (bias[c] - mean[c]) * s + beta[c];
        }
        self.alias.insert(out.to_string(), x);
        Ok(())
    }

    fn check_connected(&self, input: &str, output: &str) -> Result<()> {
        let mut known = vec![input.to_string()];
        for n in &self.nodes {
            if let Some(missing) = n.inputs.iter().find(|i| !known.contains(i)) {
                return Err(RuntimeError::graph(
                    &n.name,
                    format!("reads unknown value `{missing}`"),
                ));
            }
            known.push(n.output.clone());
        }
        if self.nodes.is_empty()
            || !known.iter().any(|k| k == output)
            || self.nodes.last().is_some_and(|n| n.output != output)
        {
            return Err(RuntimeError::graph(
                "graph",
                format!("output `{output}` is not produced by the last op"),
            ));
        }
        Ok(())
    }
}

fn transpose(w: &FTensor) -> FTensor {
    let (r, c) = (w.shape[0], w.shape[1]);
    let data = (0..c)
        .flat_map(|j| (0..r).map(move |i| (i, j)))
        .map(|(i, j)| w.data[i * c + j])
        .collect();
    FTensor {
        shape: vec![c, r],
        data,
    }
}

fn window(a: &Attrs<'_>, kernel_from_weights: Option<[usize; 2]>) -> Result<Window> {
    let kernel = match (a.ints("kernel_shape")?, kernel_from_weights) {
        (None, Some(k)) => k,
        (Some(_), _) => {
            let k = a.usizes("kernel_shape", 2, 1)?;
            let k = [k[0], k[1]];
            if kernel_from_weights.is_some_and(|w| w != k) {
                return Err(a.unsupported(format!(
                    "kernel_shape {k:?} does not match the weights {kernel_from_weights:?}"
                )));
            }
            k
        }
        (None, None) => return Err(a.unsupported("kernel_shape is required")),
    };
    let pads = match a.string("auto_pad", "NOTSET")?.as_str() {
        "NOTSET" => a.usizes("pads", 4, 0)?,
        "VALID" => vec![0; 4],
        other => return Err(a.unsupported(format!("auto_pad={other} (use explicit pads)"))),
    };
    let strides = a.usizes("strides", 2, 1)?;
    // ONNX pads are [top, left, bottom, right] for 2-D.
    Ok(Window {
        kernel,
        stride: [strides[0], strides[1]],
        pads: [pads[0], pads[1], pads[2], pads[3]],
    })
}
