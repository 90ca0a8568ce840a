//! The sentence encoder: tokenizer -> word rows looked up outside the graph ->
//! a BERT encoder graph built directly with tract-core from the pack's weights
//! -> mean pooling -> L2 normalisation. The same code runs natively and in wasm.
//!
//! The graph is built from our own weight file rather than parsed from ONNX:
//! nothing in the browser parses protobuf or re-derives shapes, and weights
//! that ship quantised are dequantised once, at load, into tract constants
//! that its optimiser packs for its matmul kernels.

use tract_core::internal::*;
use tract_core::ops::einsum::EinSum;
use tract_core::ops::math;
use tract_core::ops::nn::gelu_exact::gelu_exact;
use tract_core::ops::nn::{Reduce, Reducer, Softmax, SoftmaxKind};

use super::pack::{Arch, Pack, PackManifest, Pooling, ENCODER_FILE, TOKENIZER_FILE};
use super::tensors::{DType, TensorFile};
use super::tokenizer::{Encoded, TextTokenizer};
use crate::error::{Error, Result};

/// Whether a text is a search query or an indexed passage (selects the prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    Query,
    Passage,
}

/// One embedded text.
#[derive(Clone, Debug)]
pub struct Embedding {
    pub vector: Vec<f32>,
    /// Tokens fed to the model (special tokens included).
    pub tokens: usize,
    /// The full token count when the text was truncated to fit.
    pub truncated_from: Option<usize>,
}

fn tract_err(e: impl std::fmt::Display) -> Error {
    Error::Encoder(e.to_string())
}

/// The word embedding table, kept in its stored form; rows are decoded on use.
struct RowTable {
    dtype: DType,
    cols: usize,
    rows: usize,
    rows_per_shard: usize,
    shards: Vec<Vec<u8>>,
    /// Byte offset of the row data inside each shard file.
    starts: Vec<usize>,
}

impl RowTable {
    fn from_pack(pack: &mut Pack) -> Result<Self> {
        let layout = pack.manifest.embeddings.clone();
        let cols = pack.manifest.arch.hidden;
        let mut shards = Vec::with_capacity(layout.shards.len());
        let mut starts = Vec::with_capacity(layout.shards.len());
        for (i, name) in layout.shards.iter().enumerate() {
            let bytes = pack.take(name)?;
            let expect_rows = layout
                .rows_per_shard
                .min(layout.rows - i * layout.rows_per_shard);
            let start = {
                let tf = TensorFile::parse(name, &bytes)?;
                let (info, raw) = tf.raw("rows")?;
                if info.dtype != layout.dtype || info.cols != cols || info.rows != expect_rows {
                    return Err(Error::corrupt(
                        name,
                        format!(
                            "holds {}x{} {:?} rows, the manifest expects {expect_rows}x{cols} {:?}",
                            info.rows, info.cols, info.dtype, layout.dtype
                        ),
                    ));
                }
                raw.as_ptr() as usize - bytes.as_ptr() as usize
            };
            starts.push(start);
            shards.push(bytes);
        }
        Ok(RowTable {
            dtype: layout.dtype,
            cols,
            rows: layout.rows,
            rows_per_shard: layout.rows_per_shard,
            shards,
            starts,
        })
    }

    fn add_row(&self, id: u32, out: &mut [f32], scratch: &mut [f32]) -> Result<()> {
        let id = id as usize;
        if id >= self.rows {
            return Err(Error::Tokenizer(format!(
                "token id {id} is outside the model's vocabulary of {} rows (tokenizer and model do not match)",
                self.rows
            )));
        }
        let (s, r) = (id / self.rows_per_shard, id % self.rows_per_shard);
        let rb = self.dtype.row_bytes(self.cols);
        let at = self.starts[s] + r * rb;
        self.dtype.decode_row(&self.shards[s][at..at + rb], scratch);
        for (o, v) in out.iter_mut().zip(scratch.iter()) {
            *o += v;
        }
        Ok(())
    }
}

pub struct Encoder {
    manifest: PackManifest,
    tokenizer: TextTokenizer,
    rows: RowTable,
    positions: Vec<f32>,
    token_type: Vec<f32>,
    plan: Arc<TypedSimplePlan>,
}

impl Encoder {
    /// Builds the encoder from a verified pack (consumes its bytes).
    pub fn from_pack(mut pack: Pack) -> Result<Self> {
        let tokenizer = TextTokenizer::from_bytes(pack.bytes(TOKENIZER_FILE)?)?;
        let manifest = pack.manifest.clone();
        let arch = manifest.arch.clone();
        if tokenizer.vocab_size() > arch.vocab {
            return Err(Error::corrupt(
                TOKENIZER_FILE,
                format!(
                    "the tokenizer has {} tokens but the model only {} embedding rows; they belong to different models",
                    tokenizer.vocab_size(),
                    arch.vocab
                ),
            ));
        }
        let enc_bytes = pack.take(ENCODER_FILE)?;
        let weights = TensorFile::parse(ENCODER_FILE, &enc_bytes)?;
        let h = arch.hidden;
        let positions = weights.f32("emb.pos", arch.max_positions, h)?;
        let token_type = weights.f32("emb.type", 1, h)?;
        let model = build_graph(&arch, &weights).map_err(tract_err)?;
        drop(enc_bytes);
        let plan = model
            .into_optimized()
            .and_then(SimplePlan::new)
            .map_err(tract_err)?;
        let rows = RowTable::from_pack(&mut pack)?;
        Ok(Encoder {
            manifest,
            tokenizer,
            rows,
            positions,
            token_type,
            plan,
        })
    }

    pub fn manifest(&self) -> &PackManifest {
        &self.manifest
    }

    pub fn dim(&self) -> usize {
        self.manifest.arch.hidden
    }

    /// Tokenises `text` with the profile's prefix for `kind`.
    pub fn tokenize(&self, text: &str, kind: TextKind) -> Result<Encoded> {
        let p = &self.manifest.profile;
        let prefix = match kind {
            TextKind::Query => &p.query_prefix,
            TextKind::Passage => &p.passage_prefix,
        };
        if text.trim().is_empty() {
            return Err(Error::Input(
                "the text is empty; there is nothing to embed".into(),
            ));
        }
        let full = format!("{prefix}{text}");
        self.tokenizer.encode(&full, p.max_tokens)
    }

    /// Tokens of `text` alone (no prefix, no special tokens): for chunking.
    pub fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(self.tokenizer.ids(text)?.len().saturating_sub(2))
    }

    /// Embeds one text.
    pub fn embed(&self, text: &str, kind: TextKind) -> Result<Embedding> {
        let enc = self.tokenize(text, kind)?;
        let vector = self.embed_ids(&enc.ids)?;
        Ok(Embedding {
            vector,
            tokens: enc.ids.len(),
            truncated_from: enc.truncated_from,
        })
    }

    /// Runs the model on token ids (special tokens included).
    pub fn embed_ids(&self, ids: &[u32]) -> Result<Vec<f32>> {
        let arch = &self.manifest.arch;
        let (t, h) = (ids.len(), arch.hidden);
        if t == 0 || t > arch.max_positions {
            return Err(Error::Input(format!(
                "{t} tokens; the model takes 1 to {}",
                arch.max_positions
            )));
        }
        let mut x = vec![0f32; t * h];
        let mut scratch = vec![0f32; h];
        for (i, (&id, row)) in ids.iter().zip(x.chunks_exact_mut(h)).enumerate() {
            let pos = &self.positions[i * h..(i + 1) * h];
            for ((o, p), ty) in row.iter_mut().zip(pos).zip(&self.token_type) {
                *o = p + ty;
            }
            self.rows.add_row(id, row, &mut scratch)?;
        }
        let input = Tensor::from_shape(&[t, h], &x).map_err(tract_err)?;
        let out = self
            .plan
            .run(tvec![input.into_tvalue()])
            .map_err(tract_err)?;
        let states = out[0]
            .try_as_plain_ram()
            .and_then(|v| v.as_slice::<f32>())
            .map_err(tract_err)?;
        let mut v = match self.manifest.profile.pooling {
            Pooling::Mean => {
                let mut acc = vec![0f32; h];
                for row in states.chunks_exact(h) {
                    for (a, s) in acc.iter_mut().zip(row) {
                        *a += s;
                    }
                }
                acc.iter_mut().for_each(|a| *a /= t as f32);
                acc
            }
            Pooling::Cls => states[..h].to_vec(),
        };
        if self.manifest.profile.normalize {
            l2_normalize(&mut v);
        }
        Ok(v)
    }
}

pub fn l2_normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= n);
}

/// Wires the BERT encoder: input `[T, hidden]` token embeddings (word +
/// position + type, before the embedding layer norm), output `[T, hidden]`.
fn build_graph(arch: &Arch, w: &TensorFile) -> TractResult<TypedModel> {
    let (h, heads, ff) = (arch.hidden, arch.heads, arch.intermediate);
    let hd = h / heads;
    let mut m = TypedModel::default();
    let t = m.sym("T");
    let x = m.add_source("x", f32::fact(&[t.to_dim(), h.to_dim()]))?;
    let mut g = GraphBuilder {
        m: &mut m,
        w,
        eps: arch.layer_norm_eps,
    };
    let mut x = g.layer_norm("emb.ln", x, h)?;
    let scale = 1.0 / (hd as f32).sqrt();
    for l in 0..arch.layers {
        let p = format!("l{l}");
        // the softmax scale is folded into the query projection
        let q = g.linear(&format!("{p}.q"), x, h, h, scale)?;
        let k = g.linear(&format!("{p}.k"), x, h, h, 1.0)?;
        let v = g.linear(&format!("{p}.v"), x, h, h, 1.0)?;
        let split = AxisOp::Reshape(1, tvec![h.to_dim()], tvec![heads.to_dim(), hd.to_dim()]);
        let q = g.m.wire_node(format!("{p}.q.split"), split.clone(), &[q])?[0];
        let k = g.m.wire_node(format!("{p}.k.split"), split.clone(), &[k])?[0];
        let v = g.m.wire_node(format!("{p}.v.split"), split, &[v])?[0];
        let scores = g.einsum(&format!("{p}.scores"), "thd,shd->hts", q, k)?;
        let probs = g.m.wire_node(
            format!("{p}.softmax"),
            Softmax::new(tvec![2], None, SoftmaxKind::Softmax),
            &[scores],
        )?[0];
        let ctx = g.einsum(&format!("{p}.ctx"), "hts,shd->thd", probs, v)?;
        let merge = AxisOp::Reshape(1, tvec![heads.to_dim(), hd.to_dim()], tvec![h.to_dim()]);
        let ctx = g.m.wire_node(format!("{p}.ctx.merge"), merge, &[ctx])?[0];
        let ao = g.linear(&format!("{p}.ao"), ctx, h, h, 1.0)?;
        let res =
            g.m.wire_node(format!("{p}.attn.res"), math::add(), &[x, ao])?[0];
        x = g.layer_norm(&format!("{p}.aln"), res, h)?;
        let mid = g.linear(&format!("{p}.fi"), x, ff, h, 1.0)?;
        let mid = g.m.wire_node(format!("{p}.gelu"), gelu_exact(), &[mid])?[0];
        let fo = g.linear(&format!("{p}.fo"), mid, h, ff, 1.0)?;
        let res =
            g.m.wire_node(format!("{p}.ffn.res"), math::add(), &[x, fo])?[0];
        x = g.layer_norm(&format!("{p}.oln"), res, h)?;
    }
    m.select_output_outlets(&[x])?;
    Ok(m)
}

struct GraphBuilder<'a, 'w> {
    m: &'a mut TypedModel,
    w: &'a TensorFile<'w>,
    eps: f32,
}

impl GraphBuilder<'_, '_> {
    fn konst(&mut self, name: &str, shape: &[usize], v: Vec<f32>) -> TractResult<OutletId> {
        let t = Tensor::from_shape(shape, &v)?;
        self.m.add_const(name, t)
    }

    fn einsum(
        &mut self,
        name: &str,
        expr: &str,
        a: OutletId,
        b: OutletId,
    ) -> TractResult<OutletId> {
        let op = EinSum::new(expr.parse()?, f32::datum_type());
        Ok(self.m.wire_node(name, op, &[a, b])?[0])
    }

    /// `x @ W^T + b`, W stored as `[out, in]` (the PyTorch layout), both scaled by `scale`.
    fn linear(
        &mut self,
        name: &str,
        x: OutletId,
        out: usize,
        inp: usize,
        scale: f32,
    ) -> TractResult<OutletId> {
        let mut wv = self.w.f32(&format!("{name}.w"), out, inp)?;
        let mut bv = self.w.f32(&format!("{name}.b"), 1, out)?;
        if scale != 1.0 {
            wv.iter_mut().for_each(|v| *v *= scale);
            bv.iter_mut().for_each(|v| *v *= scale);
        }
        let wt = self.konst(&format!("{name}.w"), &[out, inp], wv)?;
        let y = self.einsum(&format!("{name}.mm"), "tk,nk->tn", x, wt)?;
        let b = self.konst(&format!("{name}.b"), &[1, out], bv)?;
        Ok(self
            .m
            .wire_node(format!("{name}.bias"), math::add(), &[y, b])?[0])
    }

    /// Layer norm over the last axis of `[T, h]`.
    fn layer_norm(&mut self, name: &str, x: OutletId, h: usize) -> TractResult<OutletId> {
        let gamma = self.w.f32(&format!("{name}.w"), 1, h)?;
        let beta = self.w.f32(&format!("{name}.b"), 1, h)?;
        let sum = self.m.wire_node(
            format!("{name}.sum"),
            Reduce::new(tvec![1], Reducer::Sum),
            &[x],
        )?[0];
        let inv_h = self.konst(&format!("{name}.invh"), &[1, 1], vec![1.0 / h as f32])?;
        let mean = self
            .m
            .wire_node(format!("{name}.mean"), math::mul(), &[sum, inv_h])?[0];
        let xc = self
            .m
            .wire_node(format!("{name}.center"), math::sub(), &[x, mean])?[0];
        let var = self.m.wire_node(
            format!("{name}.var"),
            Reduce::new(tvec![1], Reducer::MeanOfSquares),
            &[xc],
        )?[0];
        let eps = self.konst(&format!("{name}.eps"), &[1, 1], vec![self.eps])?;
        let ve = self
            .m
            .wire_node(format!("{name}.var_eps"), math::add(), &[var, eps])?[0];
        let inv = self
            .m
            .wire_node(format!("{name}.rsqrt"), math::rsqrt(), &[ve])?[0];
        let xn = self
            .m
            .wire_node(format!("{name}.norm"), math::mul(), &[xc, inv])?[0];
        let g = self.konst(&format!("{name}.w"), &[1, h], gamma)?;
        let xg = self
            .m
            .wire_node(format!("{name}.gamma"), math::mul(), &[xn, g])?[0];
        let b = self.konst(&format!("{name}.b"), &[1, h], beta)?;
        Ok(self
            .m
            .wire_node(format!("{name}.beta"), math::add(), &[xg, b])?[0])
    }
}
