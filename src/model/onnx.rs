//! Native-only: reads the weights of a BERT / XLM-R encoder out of an ONNX
//! export (the `onnx/model.onnx` and `onnx/model_quantized.onnx` that
//! transformers.js users download), for [`super::import`].
//!
//! The graph is read with `tract-onnx` (its protobuf model and tensor
//! loader, external data included); nothing is run. Exports name their
//! initializers in two ways: after the module (`encoder.layer.0.
//! attention.self.query.bias`) or opaquely (`onnx::MatMul_1234`, which is
//! every transposed Linear weight of a torch export). So the weights are
//! found by the graph's structure, and names are only a fallback hint:
//!
//! * a *linear* is a `MatMul` (or `Gemm`) whose second operand is a
//!   constant, followed by an `Add` of a constant bias;
//! * a *layer norm* is a `LayerNormalization` node, or the decomposed form
//!   older opsets export (`… / Sqrt(…)`, then `Mul` by γ, `Add` of β);
//! * an *embedding table* is a constant that a `Gather` reads rows of,
//!   told apart by its row count (vocabulary, positions, token types);
//! * in topological order, BERT is: embedding layer norm, then per layer
//!   four linears (query, key, value in any order, then the attention
//!   output), a layer norm, two linears (intermediate, output), a layer norm.
//!   Query, key and value are told apart by where their outputs meet: query
//!   is the left operand of the score `MatMul`, key its right operand, value
//!   the right operand of the `MatMul` with the softmax.
//!
//! Quantised exports are dequantised to f32 here (the pack quantises them
//! again, as it does safetensors weights): onnxruntime's `quantize_dynamic`
//! (`MatMulInteger` on a constant int8/uint8 weight with per-tensor or
//! per-column zero points, its scale found through the `Cast` → `Mul` that
//! follows; embedding tables as `Gather` + `DequantizeLinear`) and the QDQ
//! form (`DequantizeLinear` of a constant before a `MatMul`). Other
//! quantisation ops (4-bit `MatMulNBits`, `QLinearMatMul`, blocked
//! `DequantizeLinear`…) and onnxruntime's fused transformer ops are refused
//! by name.

use std::collections::HashMap;
use std::path::Path;

use tract_onnx::pb::{GraphProto, NodeProto, TensorProto};
use tract_onnx::prelude::{Framework, Tensor};

use crate::error::{Error, Result};

fn err(msg: impl Into<String>) -> Error {
    Error::Import(msg.into())
}

/// The sizes `config.json` gives, which the graph's weights must match.
#[derive(Clone, Copy, Debug)]
pub struct Dims {
    pub hidden: usize,
    pub layers: usize,
    pub intermediate: usize,
    pub vocab: usize,
    pub max_positions: usize,
    /// `type_vocab_size`, when the config has one.
    pub type_vocab: Option<usize>,
}

/// One weight, dequantised to f32, in the Hugging Face layout (`[out, in]`
/// for linear weights).
#[derive(Debug)]
pub struct Weight {
    /// The ONNX initializer it came from, for messages.
    pub onnx_name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// The encoder's weights, keyed by their Hugging Face names
/// (`embeddings.word_embeddings.weight`, `encoder.layer.0.attention.self.query.weight`, …).
#[derive(Debug, Default)]
pub struct OnnxWeights {
    pub tensors: HashMap<String, Weight>,
    /// How the weights were stored when not f32 (e.g. "int8 MatMulInteger").
    pub quantisation: Option<String>,
}

/// onnxruntime's fused transformer ops (`com.microsoft`), written by its
/// graph optimiser: the weights inside them are laid out for that kernel.
const FUSED_OPS: &[&str] = &[
    "Attention",
    "MultiHeadAttention",
    "EmbedLayerNormalization",
    "SkipLayerNormalization",
    "SkipSimplifiedLayerNormalization",
    "SimplifiedLayerNormalization",
    "BiasGelu",
    "FastGelu",
    "FusedMatMul",
    "FusedGemm",
];

/// Quantisation ops this reader cannot dequantise.
const UNSUPPORTED_QUANT_OPS: &[&str] = &[
    "MatMulNBits",
    "MatMulBnb4",
    "MatMulFpQ4",
    "QLinearMatMul",
    "QGemm",
    "MatMulIntegerToFloat",
    "DynamicQuantizeMatMul",
    "QAttention",
    "QOrderedMatMul",
    "QOrderedAttention",
    "QEmbedLayerNormalization",
    "GatherBlockQuantized",
    "QLinearAdd",
    "QLinearMul",
    "ConvInteger",
    "QLinearConv",
];

/// A weight as found: shape, values, the constant it came from, whether it
/// was dequantised.
type Found = (Vec<usize>, Vec<f32>, String, bool);

/// A `MatMulInteger` weight: shape `[inp, out]`, values, the tensor after
/// its scale.
type Dequantised = (Vec<usize>, Vec<f32>, String);

/// Stores a weight under its Hugging Face name: (name, ONNX name, shape, values).
type Put<'a> = dyn FnMut(String, &str, Vec<usize>, Vec<f32>) -> Result<()> + 'a;

/// A constant's values, widened.
enum Values {
    F(Vec<f32>),
    I(Vec<i32>),
}

/// A linear layer found in the graph: `y = x · w + b`, `w` as `[inp, out]`.
struct Linear {
    /// Index of the node that reads the activation (MatMul, MatMulInteger, Gemm).
    node: usize,
    /// Its activation input, as the graph names it.
    input: String,
    w: Vec<f32>,
    inp: usize,
    out: usize,
    w_name: String,
    b: Vec<f32>,
    b_name: String,
    /// The tensor after the bias.
    end: String,
}

struct Norm {
    node: usize,
    gamma: Vec<f32>,
    gamma_name: String,
    beta: Vec<f32>,
    beta_name: String,
}

struct Table {
    w: Vec<f32>,
    shape: Vec<usize>,
    name: String,
}

struct Graph<'a> {
    file: String,
    dir: String,
    g: &'a GraphProto,
    consts: HashMap<&'a str, &'a TensorProto>,
    producer: HashMap<&'a str, usize>,
    consumers: HashMap<&'a str, Vec<(usize, usize)>>,
    onnx: tract_onnx::Onnx,
}

fn attr_i(n: &NodeProto, name: &str) -> Option<i64> {
    n.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}

fn attr_f(n: &NodeProto, name: &str) -> Option<f32> {
    n.attribute.iter().find(|a| a.name == name).map(|a| a.f)
}

fn attr_ints(n: &NodeProto, name: &str) -> Option<Vec<i64>> {
    n.attribute
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.ints.clone())
}

fn node_label(n: &NodeProto) -> String {
    if n.name.is_empty() {
        format!("{} → {}", n.op_type, n.output.first().map_or("?", |s| s))
    } else {
        format!("{} `{}`", n.op_type, n.name)
    }
}

/// `[inp, out]` → `[out, inp]`.
fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0f32; w.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

/// `(q - zp) * scale`, with `scale` and `zp` of one value (per tensor) or
/// one per index of `axis` (per channel).
fn dequantise(
    q: &[i32],
    shape: &[usize],
    scale: &[f32],
    zp: Option<&[i32]>,
    axis: i64,
    what: &str,
) -> Result<Vec<f32>> {
    let zp_len = zp.map_or(1, <[i32]>::len);
    if scale.len() == 1 && zp_len == 1 {
        let z = zp.map_or(0, |z| z[0]);
        return Ok(q.iter().map(|&v| (v - z) as f32 * scale[0]).collect());
    }
    let rank = shape.len() as i64;
    let ax = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&ax) {
        return Err(err(format!(
            "{what}: quantisation axis {axis} outside a tensor of shape {shape:?}"
        )));
    }
    let ax = ax as usize;
    let n = shape[ax];
    if scale.len() != n || (zp.is_some() && zp_len != n && zp_len != 1) {
        return Err(err(format!(
            "{what}: {} scale(s) and {zp_len} zero point(s) for axis {ax} of shape {shape:?}",
            scale.len()
        )));
    }
    let inner: usize = shape[ax + 1..].iter().product();
    Ok(q.iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = (i / inner) % n;
            let z = match zp {
                Some(z) if z.len() == n => z[c],
                Some(z) => z[0],
                None => 0,
            };
            (v - z) as f32 * scale[c]
        })
        .collect())
}

impl<'a> Graph<'a> {
    fn node(&self, i: usize) -> &'a NodeProto {
        &self.g.node[i]
    }

    fn producer_node(&self, name: &str) -> Option<&'a NodeProto> {
        self.producer.get(name).map(|&i| self.node(i))
    }

    fn consumers_of(&self, name: &str) -> &[(usize, usize)] {
        self.consumers.get(name).map_or(&[], Vec::as_slice)
    }

    /// A constant (initializer or `Constant` node) as f32 or i32 values.
    fn constant(&self, name: &str) -> Result<Option<(Vec<usize>, Values)>> {
        let Some(t) = self.consts.get(name) else {
            return Ok(None);
        };
        // ONNX TensorProto.DataType: what tract reads and this importer uses
        let float = match t.data_type {
            1 | 10 | 11 => true,        // float, float16, double
            2 | 3 | 5 | 6 | 7 => false, // uint8, int8, int16, int32, int64
            16 => {
                return Err(err(format!(
                    "{}: tensor {name} is bfloat16, which this importer does not read; export in float32 or float16",
                    self.file
                )))
            }
            21 | 22 => {
                return Err(err(format!(
                    "{}: tensor {name} is 4-bit (int4/uint4): unsupported quantisation; use the float32 export or onnxruntime's int8 quantize_dynamic",
                    self.file
                )))
            }
            _ => return Ok(None), // strings, bools…: never a weight
        };
        let tensor: Tensor =
            tract_onnx::tensor::load_tensor(&*self.onnx.provider, t, Some(&self.dir))
                .map_err(|e| err(format!("{}: cannot read tensor {name}: {e}", self.file)))?;
        let shape = tensor.shape().to_vec();
        let read = |e: tract_onnx::prelude::TractError| {
            err(format!("{}: cannot read tensor {name}: {e}", self.file))
        };
        let values = if float {
            let c = tensor.cast_to::<f32>().map_err(read)?;
            let v = c
                .try_as_plain_ram()
                .map_err(read)?
                .as_slice::<f32>()
                .map_err(read)?
                .to_vec();
            Values::F(v)
        } else {
            let c = tensor.cast_to::<i32>().map_err(read)?;
            let v = c
                .try_as_plain_ram()
                .map_err(read)?
                .as_slice::<i32>()
                .map_err(read)?
                .to_vec();
            Values::I(v)
        };
        Ok(Some((shape, values)))
    }

    fn const_f32(&self, name: &str) -> Result<Option<(Vec<usize>, Vec<f32>)>> {
        Ok(match self.constant(name)? {
            Some((s, Values::F(v))) => Some((s, v)),
            _ => None,
        })
    }

    fn const_int(&self, name: &str) -> Result<Option<(Vec<usize>, Vec<i32>)>> {
        Ok(match self.constant(name)? {
            Some((s, Values::I(v))) => Some((s, v)),
            _ => None,
        })
    }

    /// A tensor whose value does not depend on the inputs, as f32: a float
    /// constant, or one seen through `Identity`, `Cast`, a 2-D `Transpose`
    /// or a `DequantizeLinear` of an integer constant. `None` for activations.
    /// The name returned is the constant's (for messages); the flag says
    /// whether it was dequantised.
    fn weight(&self, name: &str) -> Result<Option<Found>> {
        if let Some((s, v)) = self.const_f32(name)? {
            return Ok(Some((s, v, name.to_string(), false)));
        }
        if self.consts.contains_key(name) {
            return Ok(None);
        }
        let Some(n) = self.producer_node(name) else {
            return Ok(None);
        };
        match n.op_type.as_str() {
            "Identity" | "Cast" => self.weight(&n.input[0]),
            "Transpose" => {
                let Some((s, v, src, q)) = self.weight(&n.input[0])? else {
                    return Ok(None);
                };
                let perm = attr_ints(n, "perm").unwrap_or_else(|| vec![1, 0]);
                if s.len() != 2 || perm != [1, 0] {
                    return Ok(None);
                }
                Ok(Some((vec![s[1], s[0]], transpose(&v, s[0], s[1]), src, q)))
            }
            "DequantizeLinear" => {
                let Some((s, q)) = self.const_int(&n.input[0])? else {
                    return Ok(None);
                };
                if attr_i(n, "block_size").unwrap_or(0) != 0 {
                    return Err(err(format!(
                        "{}: {} uses blocked quantisation (block_size), which is unsupported",
                        self.file,
                        node_label(n)
                    )));
                }
                let src = n.input[0].clone();
                let (scale, zp) = self.scale_zp(n, 1, 2)?;
                let v = dequantise(
                    &q,
                    &s,
                    &scale,
                    zp.as_deref(),
                    attr_i(n, "axis").unwrap_or(1),
                    &src,
                )?;
                Ok(Some((s, v, src, true)))
            }
            _ => Ok(None),
        }
    }

    /// The constant scale and (optional) zero point inputs of a quantisation node.
    fn scale_zp(
        &self,
        n: &NodeProto,
        si: usize,
        zi: usize,
    ) -> Result<(Vec<f32>, Option<Vec<i32>>)> {
        let label = node_label(n);
        let scale_name = n
            .input
            .get(si)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| err(format!("{}: {label} has no scale input", self.file)))?;
        let (_, scale) = self.const_f32(scale_name)?.ok_or_else(|| {
            err(format!(
                "{}: the scale {scale_name} of {label} is not a constant",
                self.file
            ))
        })?;
        let zp = match n.input.get(zi).filter(|s| !s.is_empty()) {
            Some(z) => Some(
                self.const_int(z)?
                    .ok_or_else(|| {
                        err(format!(
                            "{}: the zero point {z} of {label} is not an integer constant",
                            self.file
                        ))
                    })?
                    .1,
            ),
            None => None,
        };
        Ok((scale, zp))
    }

    /// The only consumer of `name` of type `op`, if that is what follows.
    fn next(&self, name: &str, op: &str) -> Option<&'a NodeProto> {
        match self.consumers_of(name) {
            [(i, _)] if self.node(*i).op_type == op => Some(self.node(*i)),
            _ => None,
        }
    }

    /// `MatMulInteger(x_q, W_q, x_zp, W_zp)` as `quantize_dynamic` writes
    /// it: the int32 product is `Cast` to float and multiplied by
    /// `x_scale · W_scale`. Returns the dequantised `[inp, out]` weight and
    /// the float output tensor.
    fn matmul_integer(&self, n: &NodeProto) -> Result<Option<Dequantised>> {
        let label = node_label(n);
        let Some((s, q)) = self.const_int(&n.input[1])? else {
            return Ok(None); // both operands are activations
        };
        if s.len() != 2 {
            return Err(err(format!(
                "{}: {label}: weight {} has shape {s:?}, expected 2 dimensions",
                self.file, n.input[1]
            )));
        }
        let zp = match n.input.get(3).filter(|z| !z.is_empty()) {
            Some(z) => Some(
                self.const_int(z)?
                    .ok_or_else(|| {
                        err(format!(
                            "{}: the weight zero point {z} of {label} is not a constant",
                            self.file
                        ))
                    })?
                    .1,
            ),
            None => None,
        };
        let unexpected = || {
            err(format!(
                "{}: {label}: cannot find the weight's scale (expected the product to be Cast to float and multiplied by activation scale × weight scale, as onnxruntime's quantize_dynamic writes); unsupported quantisation pattern",
                self.file
            ))
        };
        let cast = self.next(&n.output[0], "Cast").ok_or_else(unexpected)?;
        let mul = self.next(&cast.output[0], "Mul").ok_or_else(unexpected)?;
        let other = mul
            .input
            .iter()
            .find(|i| **i != cast.output[0])
            .ok_or_else(unexpected)?;
        let scales = self.producer_node(other).ok_or_else(unexpected)?;
        if scales.op_type != "Mul" {
            return Err(unexpected());
        }
        let mut w_scale = None;
        for i in &scales.input {
            if let Some((_, v)) = self.const_f32(i)? {
                w_scale = Some(v);
            }
        }
        let scale = w_scale.ok_or_else(unexpected)?;
        // per column of the [inp, out] weight (axis 1), or per tensor
        let w = dequantise(&q, &s, &scale, zp.as_deref(), 1, &n.input[1])?;
        Ok(Some((s, w, mul.output[0].clone())))
    }

    /// The bias `Add` after a linear's output: the operand that is a
    /// constant of `out` values.
    fn bias_after(&self, out_name: &str, out: usize) -> Result<Option<(Vec<f32>, String, String)>> {
        for &(i, _) in self.consumers_of(out_name) {
            let n = self.node(i);
            if n.op_type != "Add" {
                continue;
            }
            for inp in &n.input {
                if inp == out_name {
                    continue;
                }
                if let Some((_, v, src, _)) = self.weight(inp)? {
                    if v.len() == out {
                        return Ok(Some((v, src, n.output[0].clone())));
                    }
                }
            }
        }
        Ok(None)
    }

    fn linears(&self, quant: &mut Option<String>) -> Result<Vec<Linear>> {
        let mut found = Vec::new();
        for (i, n) in self.g.node.iter().enumerate() {
            let label = node_label(n);
            let (shape, w, w_name, out_name, gemm_bias) = match n.op_type.as_str() {
                "MatMul" => match self.weight(&n.input[1])? {
                    Some((s, w, src, q)) => {
                        if q {
                            quant.get_or_insert_with(|| "int8 DequantizeLinear (QDQ)".into());
                        }
                        (s, w, src, n.output[0].clone(), None)
                    }
                    None => continue,
                },
                "MatMulInteger" => match self.matmul_integer(n)? {
                    Some((s, w, out)) => {
                        quant.get_or_insert_with(|| {
                            "int8 MatMulInteger (onnxruntime quantize_dynamic)".into()
                        });
                        (s, w, n.input[1].clone(), out, None)
                    }
                    None => continue,
                },
                "Gemm" => {
                    let Some((s, w, src, _)) = self.weight(&n.input[1])? else {
                        continue;
                    };
                    if attr_i(n, "transA").unwrap_or(0) != 0 || s.len() != 2 {
                        return Err(err(format!(
                            "{}: {label} is not a linear layer (transA, or a weight {src} of shape {s:?})",
                            self.file
                        )));
                    }
                    let alpha = attr_f(n, "alpha").unwrap_or(1.0);
                    let beta = attr_f(n, "beta").unwrap_or(1.0);
                    let (s, mut w) = if attr_i(n, "transB").unwrap_or(0) != 0 {
                        (vec![s[1], s[0]], transpose(&w, s[0], s[1]))
                    } else {
                        (s, w)
                    };
                    w.iter_mut().for_each(|x| *x *= alpha);
                    let bias = match n.input.get(2).filter(|b| !b.is_empty()) {
                        Some(b) => match self.weight(b)? {
                            Some((_, mut v, bsrc, _)) => {
                                v.iter_mut().for_each(|x| *x *= beta);
                                Some((v, bsrc))
                            }
                            None => None,
                        },
                        None => None,
                    };
                    (s, w, src, n.output[0].clone(), bias)
                }
                _ => continue,
            };
            if shape.len() != 2 {
                return Err(err(format!(
                    "{}: {label}: weight {w_name} has shape {shape:?}, expected 2 dimensions ([in, out])",
                    self.file
                )));
            }
            let (inp, out) = (shape[0], shape[1]);
            let (b, b_name, end) = match gemm_bias {
                Some((b, bn)) if b.len() == out => (b, bn, out_name),
                Some((b, bn)) => {
                    return Err(err(format!(
                        "{}: {label}: bias {bn} has {} values, expected {out}",
                        self.file,
                        b.len()
                    )))
                }
                None => self.bias_after(&out_name, out)?.ok_or_else(|| {
                    err(format!(
                        "{}: {label} (weight {w_name}, {inp}x{out}) has no bias Add after it; not a BERT/XLM-R encoder linear layer",
                        self.file
                    ))
                })?,
            };
            found.push(Linear {
                node: i,
                input: n.input[0].clone(),
                w,
                inp,
                out,
                w_name,
                b,
                b_name,
                end,
            });
        }
        Ok(found)
    }

    fn norms(&self) -> Result<Vec<Norm>> {
        let mut found = Vec::new();
        for (i, n) in self.g.node.iter().enumerate() {
            let label = node_label(n);
            match n.op_type.as_str() {
                "LayerNormalization" => {
                    let get = |k: usize, what: &str| -> Result<(Vec<f32>, String)> {
                        let name =
                            n.input.get(k).filter(|s| !s.is_empty()).ok_or_else(|| {
                                err(format!("{}: {label} has no {what}", self.file))
                            })?;
                        let (_, v, src, _) = self.weight(name)?.ok_or_else(|| {
                            err(format!(
                                "{}: the {what} {name} of {label} is not a constant",
                                self.file
                            ))
                        })?;
                        Ok((v, src))
                    };
                    let (gamma, gamma_name) = get(1, "scale")?;
                    let (beta, beta_name) = get(2, "bias")?;
                    found.push(Norm {
                        node: i,
                        gamma,
                        gamma_name,
                        beta,
                        beta_name,
                    });
                }
                // decomposed: (x - mean) / Sqrt(var + eps), then · γ + β
                "Div"
                    if self
                        .producer_node(&n.input[1])
                        .is_some_and(|p| p.op_type == "Sqrt") =>
                {
                    let Some(mul) = self.next(&n.output[0], "Mul") else {
                        continue;
                    };
                    let Some(add) = self.next(&mul.output[0], "Add") else {
                        continue;
                    };
                    let operand =
                        |m: &NodeProto, skip: &str| -> Result<Option<(Vec<f32>, String)>> {
                            for inp in &m.input {
                                if inp != skip {
                                    if let Some((_, v, src, _)) = self.weight(inp)? {
                                        return Ok(Some((v, src)));
                                    }
                                }
                            }
                            Ok(None)
                        };
                    let (Some((gamma, gamma_name)), Some((beta, beta_name))) =
                        (operand(mul, &n.output[0])?, operand(add, &mul.output[0])?)
                    else {
                        continue;
                    };
                    found.push(Norm {
                        node: i,
                        gamma,
                        gamma_name,
                        beta,
                        beta_name,
                    });
                }
                _ => {}
            }
        }
        Ok(found)
    }

    /// Constant tables that `Gather` reads rows of, float or dequantised
    /// (`Gather` of an integer table followed by `DequantizeLinear`).
    fn tables(&self, quant: &mut Option<String>) -> Result<Vec<Table>> {
        let mut found: Vec<Table> = Vec::new();
        for n in &self.g.node {
            if n.op_type != "Gather" || attr_i(n, "axis").unwrap_or(0) != 0 {
                continue;
            }
            let name = &n.input[0];
            if found.iter().any(|t| &t.name == name) {
                continue;
            }
            let (shape, w) = if let Some((s, v, _, q)) = self.weight(name)? {
                if q {
                    quant.get_or_insert_with(|| "int8 DequantizeLinear (QDQ)".into());
                }
                (s, v)
            } else if let Some((s, q)) = self.const_int(name)? {
                let Some(dq) = self.next(&n.output[0], "DequantizeLinear") else {
                    continue; // an integer table read as integers (shapes…)
                };
                let (scale, zp) = self.scale_zp(dq, 1, 2)?;
                if scale.len() != 1 {
                    return Err(err(format!(
                        "{}: embedding table {name} is quantised per channel after the Gather ({}): unsupported quantisation",
                        self.file,
                        node_label(dq)
                    )));
                }
                quant.get_or_insert_with(|| "int8 (onnxruntime quantize_dynamic)".into());
                (
                    s.clone(),
                    dequantise(&q, &s, &scale, zp.as_deref(), 0, name)?,
                )
            } else {
                continue;
            };
            if shape.len() == 2 {
                found.push(Table {
                    w,
                    shape,
                    name: name.clone(),
                });
            }
        }
        Ok(found)
    }

    /// Follows an attention projection's output forward (through reshapes,
    /// transposes, scaling, activation quantisation) to the first `MatMul`
    /// between two activations; returns that node and the operand it is.
    fn meets(&self, from: &str) -> Option<(usize, usize)> {
        let mut frontier = vec![from.to_string()];
        for _ in 0..8 {
            let mut next = Vec::new();
            for t in &frontier {
                for &(i, k) in self.consumers_of(t) {
                    let n = self.node(i);
                    match n.op_type.as_str() {
                        "MatMul" | "MatMulInteger" => return Some((i, k)),
                        "Reshape"
                        | "Transpose"
                        | "Mul"
                        | "Div"
                        | "Cast"
                        | "Identity"
                        | "DynamicQuantizeLinear"
                        | "Unsqueeze"
                        | "Squeeze"
                        | "Contiguous" => next.push(n.output[0].clone()),
                        _ => {}
                    }
                }
            }
            if next.is_empty() {
                return None;
            }
            frontier = next;
        }
        None
    }
}

/// Reads the encoder weights of the ONNX file at `path`.
pub fn read(path: &Path, dims: &Dims) -> Result<OnnxWeights> {
    let file = path.display().to_string();
    // no op registry: only the protobuf model and its tensors are read, and
    // without the registry the linker leaves tract's ONNX ops out of the binary
    let onnx = tract_onnx::Onnx::default();
    let model = onnx.proto_model_for_path(path).map_err(|e| {
        err(format!(
            "{file}: not a readable ONNX model: {}",
            e.root_cause()
        ))
    })?;
    let g = model
        .graph
        .as_ref()
        .ok_or_else(|| err(format!("{file}: the ONNX model has no graph")))?;
    for n in &g.node {
        if UNSUPPORTED_QUANT_OPS.contains(&n.op_type.as_str()) {
            return Err(err(format!(
                "{file}: unsupported quantisation op {} (node {}); crossfind imports float32 exports and onnxruntime's quantize_dynamic int8 (DynamicQuantizeLinear + MatMulInteger, or DequantizeLinear)",
                n.op_type,
                node_label(n)
            )));
        }
        if FUSED_OPS.contains(&n.op_type.as_str()) {
            return Err(err(format!(
                "{file}: {} is onnxruntime's fused {} op: this graph was optimised for onnxruntime; import the plain export (e.g. `optimum-cli export onnx` without -O, or transformers.js' onnx/model.onnx)",
                node_label(n),
                n.op_type
            )));
        }
    }
    let dir = path
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut consts: HashMap<&str, &TensorProto> = HashMap::new();
    for t in &g.initializer {
        consts.insert(t.name.as_str(), t);
    }
    let mut producer = HashMap::new();
    let mut consumers: HashMap<&str, Vec<(usize, usize)>> = HashMap::new();
    for (i, n) in g.node.iter().enumerate() {
        if n.op_type == "Constant" {
            if let (Some(out), Some(t)) = (
                n.output.first(),
                n.attribute
                    .iter()
                    .find(|a| a.name == "value")
                    .and_then(|a| a.t.as_ref()),
            ) {
                consts.insert(out.as_str(), t);
            }
        }
        for o in &n.output {
            producer.insert(o.as_str(), i);
        }
        for (k, inp) in n.input.iter().enumerate() {
            if !inp.is_empty() {
                consumers.entry(inp.as_str()).or_default().push((i, k));
            }
        }
    }
    let graph = Graph {
        file: file.clone(),
        dir,
        g,
        consts,
        producer,
        consumers,
        onnx,
    };
    let mut quant = None;
    let linears = graph.linears(&mut quant)?;
    let norms = graph.norms()?;
    let tables = graph.tables(&mut quant)?;
    assemble(&graph, dims, linears, norms, tables, quant)
}

fn assemble(
    graph: &Graph,
    d: &Dims,
    linears: Vec<Linear>,
    norms: Vec<Norm>,
    tables: Vec<Table>,
    quantisation: Option<String>,
) -> Result<OnnxWeights> {
    let file = &graph.file;
    let (h, l) = (d.hidden, d.layers);
    let not_bert = |why: String| {
        err(format!(
            "{file} is not a BERT/XLM-R encoder graph this importer reads: {why}"
        ))
    };
    if norms.len() < 2 * l + 1 {
        return Err(not_bert(format!(
            "found {} layer norms, a {l}-layer encoder (config.json) has {}",
            norms.len(),
            2 * l + 1
        )));
    }
    // Heads after the encoder (a pooler, a projection) come after the last
    // layer norm of the encoder; they are not part of the pack.
    let norms = &norms[..2 * l + 1];
    let last = norms[2 * l].node;
    let linears: Vec<Linear> = linears.into_iter().filter(|x| x.node < last).collect();
    if linears.len() != 6 * l {
        return Err(not_bert(format!(
            "found {} linear layers (MatMul/Gemm with constant weights and a bias) inside the encoder, a {l}-layer encoder has {} (a fused query-key-value projection is not supported)",
            linears.len(),
            6 * l
        )));
    }
    let mut out = OnnxWeights {
        quantisation,
        ..Default::default()
    };
    let mut put = |hf: String, onnx_name: &str, shape: Vec<usize>, data: Vec<f32>| -> Result<()> {
        let n: usize = shape.iter().product();
        if data.len() != n {
            return Err(err(format!(
                "{file}: tensor {onnx_name} ({hf}) has {} values, expected shape {shape:?}",
                data.len()
            )));
        }
        out.tensors.insert(
            hf,
            Weight {
                onnx_name: onnx_name.to_string(),
                shape,
                data,
            },
        );
        Ok(())
    };
    let put_norm = |put: &mut Put, n: &Norm, hf: &str| -> Result<()> {
        for (v, src) in [(&n.gamma, &n.gamma_name), (&n.beta, &n.beta_name)] {
            if v.len() != h {
                return Err(err(format!(
                    "{file}: layer norm tensor {src} ({hf}) has {} values, expected {h} (hidden_size)",
                    v.len()
                )));
            }
        }
        put(
            format!("{hf}.weight"),
            &n.gamma_name,
            vec![h],
            n.gamma.clone(),
        )?;
        put(format!("{hf}.bias"), &n.beta_name, vec![h], n.beta.clone())
    };
    put_norm(&mut put, &norms[0], "embeddings.LayerNorm")?;
    for layer in 0..l {
        let p = format!("encoder.layer.{layer}");
        let (n_attn, n_out) = (&norms[2 * layer + 1], &norms[2 * layer + 2]);
        let lin = &linears[6 * layer..6 * layer + 6];
        let in_order = lin[..4]
            .iter()
            .all(|x| x.node > norms[2 * layer].node && x.node < n_attn.node)
            && lin[4..]
                .iter()
                .all(|x| x.node > n_attn.node && x.node < n_out.node);
        if !in_order {
            return Err(not_bert(format!(
                "layer {layer}: expected four linear layers (query, key, value, attention output), a layer norm, two linear layers (intermediate, output) and a layer norm, in that order"
            )));
        }
        let qkv = assign_qkv(graph, &lin[..3]).ok_or_else(|| {
            not_bert(format!(
                "layer {layer}: cannot tell query, key and value apart (neither by where their outputs meet nor by their names: {}, {}, {})",
                lin[0].b_name, lin[1].b_name, lin[2].b_name
            ))
        })?;
        let roles = [
            (qkv[0], "attention.self.query", h, h),
            (qkv[1], "attention.self.key", h, h),
            (qkv[2], "attention.self.value", h, h),
            (&lin[3], "attention.output.dense", h, h),
            (&lin[4], "intermediate.dense", h, d.intermediate),
            (&lin[5], "output.dense", d.intermediate, h),
        ];
        for (x, role, inp, outd) in roles {
            if (x.inp, x.out) != (inp, outd) {
                return Err(err(format!(
                    "{file}: layer {layer} {role}: weight {} has shape [{}, {}] (as MatMul reads it: [in, out]), config.json implies [{inp}, {outd}]",
                    x.w_name, x.inp, x.out
                )));
            }
            // Hugging Face layout: [out, in]
            put(
                format!("{p}.{role}.weight"),
                &x.w_name,
                vec![outd, inp],
                transpose(&x.w, inp, outd),
            )?;
            put(
                format!("{p}.{role}.bias"),
                &x.b_name,
                vec![outd],
                x.b.clone(),
            )?;
        }
        // the attention output linear reads the attention, not the layer input
        if lin[3].input == lin[0].input {
            return Err(not_bert(format!(
                "layer {layer}: the fourth linear layer reads the same input as the first"
            )));
        }
        put_norm(&mut put, n_attn, &format!("{p}.attention.output.LayerNorm"))?;
        put_norm(&mut put, n_out, &format!("{p}.output.LayerNorm"))?;
    }
    // embedding tables: by name when the export kept module names, else by rows
    let role_by_name = |t: &Table| {
        let n = t.name.trim_end_matches("_quantized");
        [
            "word_embeddings",
            "position_embeddings",
            "token_type_embeddings",
        ]
        .into_iter()
        .position(|r| n.ends_with(&format!("{r}.weight")))
    };
    let role_by_rows = |t: &Table| {
        let r = t.shape[0];
        if r == d.vocab {
            Some(0)
        } else if r == d.max_positions {
            Some(1)
        } else if Some(r) == d.type_vocab || (d.type_vocab.is_none() && r <= 2) {
            Some(2)
        } else {
            None
        }
    };
    let names = [
        "embeddings.word_embeddings.weight",
        "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight",
    ];
    let mut seen: [Option<&Table>; 3] = [None; 3];
    for t in &tables {
        if let Some(r) = role_by_name(t).or_else(|| role_by_rows(t)) {
            if let Some(prev) = seen[r] {
                return Err(not_bert(format!(
                    "two tables could be {}: {} {:?} and {} {:?}",
                    names[r], prev.name, prev.shape, t.name, t.shape
                )));
            }
            seen[r] = Some(t);
        }
    }
    let expected_rows = [Some(d.vocab), Some(d.max_positions), d.type_vocab];
    for (r, t) in seen.iter().enumerate() {
        let t = t.ok_or_else(|| {
            let found: Vec<String> = tables
                .iter()
                .map(|t| format!("{} {:?}", t.name, t.shape))
                .collect();
            not_bert(format!(
                "no embedding table for {} (tables read by Gather: {})",
                names[r],
                if found.is_empty() {
                    "none".into()
                } else {
                    found.join(", ")
                }
            ))
        })?;
        let rows_ok = expected_rows[r].is_none_or(|e| e == t.shape[0]);
        if !rows_ok || t.shape[1] != h {
            return Err(err(format!(
                "{file}: embedding table {} ({}) has shape {:?}, config.json implies [{}, {h}]",
                t.name,
                names[r],
                t.shape,
                expected_rows[r].map_or("?".into(), |e| e.to_string())
            )));
        }
        put(names[r].to_string(), &t.name, t.shape.clone(), t.w.clone())?;
    }
    Ok(out)
}

/// Orders the three projections read from the layer input as query, key,
/// value: query is the left operand of the score MatMul, key its right
/// operand, value the right operand of the other MatMul. Falls back on
/// names (`query`/`key`/`value` in the bias or weight name).
fn assign_qkv<'l>(graph: &Graph, three: &'l [Linear]) -> Option<[&'l Linear; 3]> {
    let meet: Vec<Option<(usize, usize)>> = three.iter().map(|x| graph.meets(&x.end)).collect();
    let by_structure = || -> Option<[&'l Linear; 3]> {
        let qi = (0..3).find(|&i| meet[i].is_some_and(|(_, k)| k == 0))?;
        let (score, _) = meet[qi]?;
        let ki = (0..3).find(|&i| i != qi && meet[i] == Some((score, 1)))?;
        let vi = (0..3).find(|&i| i != qi && i != ki)?;
        let (ctx, k) = meet[vi]?;
        (ctx != score && k == 1).then_some([&three[qi], &three[ki], &three[vi]])
    };
    by_structure().or_else(|| {
        let find = |word: &str| {
            three.iter().find(|x| {
                let n = format!("{} {}", x.b_name, x.w_name).to_lowercase();
                n.contains(&format!(".{word}."))
            })
        };
        Some([find("query")?, find("key")?, find("value")?])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dequantises_per_tensor_and_per_column() {
        // [2, 3], per tensor
        let q = [-2, 0, 3, 127, -128, 1];
        let v = dequantise(&q, &[2, 3], &[0.5], Some(&[1]), 1, "t").unwrap();
        assert_eq!(v, [-1.5, -0.5, 1.0, 63.0, -64.5, 0.0]);
        // per column (axis 1, as MatMulInteger's weight zero points and scales)
        let v = dequantise(&q, &[2, 3], &[1.0, 0.5, 2.0], Some(&[0, 2, -1]), 1, "t").unwrap();
        assert_eq!(v, [-2.0, -1.0, 8.0, 127.0, -65.0, 4.0]);
        // per row (axis 0), no zero point
        let v = dequantise(&q, &[2, 3], &[1.0, 0.25], None, 0, "t").unwrap();
        assert_eq!(v, [-2.0, 0.0, 3.0, 31.75, -32.0, 0.25]);
        // scales that fit no axis are refused, naming the tensor
        let e = dequantise(&q, &[2, 3], &[1.0, 2.0], None, 1, "w_q").unwrap_err();
        assert!(e.to_string().contains("w_q"), "{e}");
    }

    use tract_onnx::pb::{AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto};

    fn vals(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32 + 1.0) * seed).sin()).collect()
    }

    fn ft(name: &str, dims: &[usize], v: Vec<f32>) -> TensorProto {
        TensorProto {
            name: name.into(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: 1,
            float_data: v,
            ..Default::default()
        }
    }

    /// int8 (data type 3), held in int32_data as ONNX does without raw bytes.
    fn i8t(name: &str, dims: &[usize], v: Vec<i32>) -> TensorProto {
        TensorProto {
            name: name.into(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: 3,
            int32_data: v,
            ..Default::default()
        }
    }

    fn node(op: &str, ins: &[&str], outs: &[&str]) -> NodeProto {
        NodeProto {
            op_type: op.into(),
            input: ins.iter().map(|s| s.to_string()).collect(),
            output: outs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    const H: usize = 4;
    const I: usize = 8;
    const DIMS: Dims = Dims {
        hidden: H,
        layers: 1,
        intermediate: I,
        vocab: 12,
        max_positions: 6,
        type_vocab: Some(2),
    };

    /// A one-layer BERT as a torch export writes it: opaque names, the key
    /// projection before the query one, a bias Add with the bias first, the
    /// attention layer norm decomposed, the intermediate linear quantised
    /// as quantize_dynamic does (per-column int8), a pooler after the encoder.
    fn tiny_bert() -> (ModelProto, Vec<i32>, Vec<f32>, Vec<i32>) {
        let w = |name: &str, r: usize, c: usize, seed: f32| ft(name, &[r, c], vals(r * c, seed));
        let v = |name: &str, n: usize, seed: f32| ft(name, &[n], vals(n, seed));
        let wi_q: Vec<i32> = (0..H * I).map(|i| (i as i32 * 37 % 255) - 127).collect();
        let wi_scale: Vec<f32> = (0..I).map(|c| 0.01 * (c as f32 + 1.0)).collect();
        let wi_zp: Vec<i32> = (0..I).map(|c| c as i32 - 4).collect();
        let inits = vec![
            w("onnx::Gather_1", 12, H, 0.1),
            w("onnx::Gather_2", 2, H, 0.2),
            w("onnx::Gather_3", 6, H, 0.3),
            v("onnx::LN_g0", H, 0.4),
            v("onnx::LN_b0", H, 0.5),
            w("onnx::MatMul_q", H, H, 0.6),
            v("onnx::Add_q", H, 0.7),
            w("onnx::MatMul_k", H, H, 0.8),
            v("onnx::Add_k", H, 0.9),
            w("onnx::MatMul_v", H, H, 1.0),
            v("onnx::Add_v", H, 1.1),
            w("onnx::MatMul_o", H, H, 1.2),
            v("onnx::Add_o", H, 1.3),
            v("onnx::Mul_g1", H, 1.4),
            v("onnx::Add_b1", H, 1.5),
            ft("onnx::eps", &[], vec![1e-12]),
            ft("onnx::two", &[], vec![2.0]),
            i8t("onnx::MatMulInteger_w", &[H, I], wi_q.clone()),
            ft("onnx::w_scale", &[I], wi_scale.clone()),
            i8t("onnx::w_zp", &[I], wi_zp.clone()),
            v("onnx::Add_i", I, 1.6),
            w("onnx::MatMul_f", I, H, 1.7),
            v("onnx::Add_f", H, 1.8),
            v("onnx::LN_g2", H, 1.9),
            v("onnx::LN_b2", H, 2.0),
            w("onnx::MatMul_pool", H, H, 2.1),
            v("onnx::Add_pool", H, 2.2),
        ];
        let nodes = vec![
            node("Gather", &["onnx::Gather_1", "ids"], &["e0"]),
            node("Gather", &["onnx::Gather_2", "tt"], &["e1"]),
            node("Gather", &["onnx::Gather_3", "pids"], &["e2"]),
            node("Add", &["e0", "e1"], &["e3"]),
            node("Add", &["e3", "e2"], &["e4"]),
            node(
                "LayerNormalization",
                &["e4", "onnx::LN_g0", "onnx::LN_b0"],
                &["x0"],
            ),
            node("MatMul", &["x0", "onnx::MatMul_k"], &["mk"]),
            node("Add", &["onnx::Add_k", "mk"], &["k"]),
            node("MatMul", &["x0", "onnx::MatMul_q"], &["mq"]),
            node("Add", &["mq", "onnx::Add_q"], &["q"]),
            node("MatMul", &["x0", "onnx::MatMul_v"], &["mv"]),
            node("Add", &["mv", "onnx::Add_v"], &["v"]),
            node("Shape", &["q"], &["qshape"]),
            node("Transpose", &["k"], &["kt"]),
            node("MatMul", &["q", "kt"], &["s"]),
            node("Softmax", &["s"], &["p"]),
            node("MatMul", &["p", "v"], &["c"]),
            node("MatMul", &["c", "onnx::MatMul_o"], &["mo"]),
            node("Add", &["mo", "onnx::Add_o"], &["o"]),
            node("Add", &["o", "x0"], &["r1"]),
            node("ReduceMean", &["r1"], &["mu"]),
            node("Sub", &["r1", "mu"], &["d"]),
            node("Pow", &["d", "onnx::two"], &["d2"]),
            node("ReduceMean", &["d2"], &["var"]),
            node("Add", &["var", "onnx::eps"], &["ve"]),
            node("Sqrt", &["ve"], &["sd"]),
            node("Div", &["d", "sd"], &["n"]),
            node("Mul", &["n", "onnx::Mul_g1"], &["n1"]),
            node("Add", &["n1", "onnx::Add_b1"], &["x1"]),
            node("DynamicQuantizeLinear", &["x1"], &["xq", "xs", "xz"]),
            node("Mul", &["xs", "onnx::w_scale"], &["scales"]),
            node(
                "MatMulInteger",
                &["xq", "onnx::MatMulInteger_w", "xz", "onnx::w_zp"],
                &["mi"],
            ),
            node("Cast", &["mi"], &["mif"]),
            node("Mul", &["mif", "scales"], &["mi2"]),
            node("Add", &["mi2", "onnx::Add_i"], &["fi"]),
            node("Relu", &["fi"], &["a"]),
            node("MatMul", &["a", "onnx::MatMul_f"], &["mf"]),
            node("Add", &["mf", "onnx::Add_f"], &["f"]),
            node("Add", &["f", "x1"], &["r2"]),
            node(
                "LayerNormalization",
                &["r2", "onnx::LN_g2", "onnx::LN_b2"],
                &["out"],
            ),
            node("MatMul", &["out", "onnx::MatMul_pool"], &["pm"]),
            node("Add", &["pm", "onnx::Add_pool"], &["pooled"]),
        ];
        let mut nodes = nodes;
        for n in &mut nodes {
            if n.op_type == "Cast" {
                n.attribute.push(AttributeProto {
                    name: "to".into(),
                    r#type: 2,
                    i: 1,
                    ..Default::default()
                });
            }
        }
        let model = ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: 17,
            }],
            graph: Some(GraphProto {
                name: "tiny".into(),
                node: nodes,
                initializer: inits,
                ..Default::default()
            }),
            ..Default::default()
        };
        (model, wi_q, wi_scale, wi_zp)
    }

    fn write(model: &ModelProto) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("model.onnx");
        std::fs::write(&p, prost::Message::encode_to_vec(model)).unwrap();
        (d, p)
    }

    #[test]
    fn reads_a_torch_style_graph_by_its_structure() {
        let (model, wi_q, wi_scale, wi_zp) = tiny_bert();
        let (_d, path) = write(&model);
        let w = read(&path, &DIMS).unwrap();
        let t = |name: &str| {
            let x = w.tensors.get(name).unwrap_or_else(|| panic!("no {name}"));
            (x.onnx_name.as_str(), x.shape.clone(), x.data.clone())
        };
        // linears: Hugging Face [out, in] = the MatMul's [in, out] transposed
        for (role, q) in [("query", "q"), ("key", "k"), ("value", "v")] {
            let (src, shape, data) = t(&format!("encoder.layer.0.attention.self.{role}.weight"));
            assert_eq!(src, format!("onnx::MatMul_{q}"), "{role}");
            assert_eq!(shape, [H, H]);
            let seed = match q {
                "q" => 0.6,
                "k" => 0.8,
                _ => 1.0,
            };
            assert_eq!(data, transpose(&vals(H * H, seed), H, H), "{role}");
            let (bsrc, _, _) = t(&format!("encoder.layer.0.attention.self.{role}.bias"));
            assert_eq!(bsrc, format!("onnx::Add_{q}"));
        }
        assert_eq!(
            t("encoder.layer.0.attention.output.dense.weight").0,
            "onnx::MatMul_o"
        );
        assert_eq!(t("encoder.layer.0.output.dense.weight").1, [H, I]);
        // the quantised intermediate linear: (q - zp[col]) * scale[col]
        let (src, shape, data) = t("encoder.layer.0.intermediate.dense.weight");
        assert_eq!((src, shape), ("onnx::MatMulInteger_w", vec![I, H]));
        for r in 0..H {
            for c in 0..I {
                let want = (wi_q[r * I + c] - wi_zp[c]) as f32 * wi_scale[c];
                assert_eq!(data[c * H + r], want, "[{r}, {c}]");
            }
        }
        assert_eq!(
            t("encoder.layer.0.intermediate.dense.bias").0,
            "onnx::Add_i"
        );
        // layer norms, the decomposed one included
        assert_eq!(t("embeddings.LayerNorm.weight").0, "onnx::LN_g0");
        assert_eq!(
            t("encoder.layer.0.attention.output.LayerNorm.weight").0,
            "onnx::Mul_g1"
        );
        assert_eq!(
            t("encoder.layer.0.attention.output.LayerNorm.bias").0,
            "onnx::Add_b1"
        );
        assert_eq!(t("encoder.layer.0.output.LayerNorm.bias").0, "onnx::LN_b2");
        // tables by their rows
        assert_eq!(t("embeddings.word_embeddings.weight").0, "onnx::Gather_1");
        assert_eq!(
            t("embeddings.token_type_embeddings.weight").0,
            "onnx::Gather_2"
        );
        let (src, shape, data) = t("embeddings.position_embeddings.weight");
        assert_eq!((src, shape), ("onnx::Gather_3", vec![6, H]));
        assert_eq!(data, vals(6 * H, 0.3));
        assert_eq!(w.tensors.len(), 5 + 16, "the pooler is left out");
        assert!(w.quantisation.unwrap().contains("MatMulInteger"));
    }

    #[test]
    fn names_the_tensor_whose_shape_disagrees_with_the_config() {
        let (model, ..) = tiny_bert();
        let (_d, path) = write(&model);
        let dims = Dims {
            intermediate: 7,
            ..DIMS
        };
        let e = read(&path, &dims).unwrap_err().to_string();
        assert!(
            e.contains("intermediate.dense: weight onnx::MatMulInteger_w has shape [4, 8]")
                && e.contains("[4, 7]"),
            "{e}"
        );
        let dims = Dims { vocab: 13, ..DIMS };
        let e = read(&path, &dims).unwrap_err().to_string();
        assert!(e.contains("onnx::Gather_1"), "{e}");
        let dims = Dims { layers: 2, ..DIMS };
        let e = read(&path, &dims).unwrap_err().to_string();
        assert!(
            e.contains("not a BERT/XLM-R encoder") && e.contains("3 layer norms"),
            "{e}"
        );
    }

    #[test]
    fn refuses_unsupported_quantisation_and_fused_ops() {
        for (op, want) in [
            ("MatMulNBits", "unsupported quantisation op MatMulNBits"),
            ("Attention", "fused Attention op"),
        ] {
            let (mut model, ..) = tiny_bert();
            let g = model.graph.as_mut().unwrap();
            g.node.push(node(op, &["out"], &["extra"]));
            let (_d, path) = write(&model);
            let e = read(&path, &DIMS).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        let (_d, path) = {
            let d = tempfile::tempdir().unwrap();
            let p = d.path().join("model.onnx");
            std::fs::write(&p, b"not protobuf at all").unwrap();
            (d, p)
        };
        let e = read(&path, &DIMS).unwrap_err().to_string();
        assert!(e.contains("not a readable ONNX model"), "{e}");
    }

    #[test]
    fn transposes() {
        assert_eq!(
            transpose(&[1., 2., 3., 4., 5., 6.], 2, 3),
            [1., 4., 2., 5., 3., 6.]
        );
    }
}
