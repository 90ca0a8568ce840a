//! The sentence encoder: tokenizer -> word rows looked up outside the graph ->
//! a BERT encoder graph built directly with tract-core from the pack's weights
//! -> mean pooling -> L2 normalisation. The same code runs natively and in wasm.
//!
//! The graph is built from our own weight file rather than parsed from ONNX:
//! nothing in the browser parses protobuf or re-derives shapes. 4-bit linear
//! weights stay quantised (int8 in memory) and run as integer matmuls on
//! 8-bit activations (`model::qlinear`); layer norm, attention and GELU are
//! our own ops too (`model::detops`), so an embedding is the same bits
//! natively and in wasm. Other weight types fall back to f32 tract matmuls.

use tract_core::internal::*;
use tract_core::ops::einsum::EinSum;
use tract_core::ops::math;

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::detops::{Attention, Gelu, LayerNorm};
use super::langbasis::{LanguageBasis, LANG_BASIS_FILE};
use super::pack::{
    Arch, Pack, PackManifest, Pooling, BLOCKS_FILE, BLOCK_HASH_BYTES, ENCODER_FILE, TOKENIZER_FILE,
    VOCAB_FILE,
};
use super::qlinear::{QLinear, QWeights, ROWS};
use super::roworder::RowOrder;
use super::tokenizer::{Encoded, TextTokenizer};
pub use super::vector::{l2_normalize, TextKind};
use crate::error::{Error, Result};
use crate::format::tensors::{DType, TensorFile};
use crate::format::{hex, verify_file};

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

/// The word embedding table, kept in its stored form; rows are decoded on
/// use. Rows come from whole shards, or, for packs with a block index, from
/// blocks added as the caller fetches them ([`Encoder::row_ranges`]).
struct RowTable {
    dtype: DType,
    cols: usize,
    rows: usize,
    rows_per_shard: usize,
    shard_names: Vec<String>,
    /// Whole shards held: bytes and the offset of the row data inside them.
    shards: Vec<Option<(Vec<u8>, usize)>>,
    /// Rows per block, the shards' data offsets and the block checksums;
    /// `None` for packs that only load whole shards.
    blocks: Option<(usize, Vec<u64>, Vec<u8>)>,
    /// Blocks added one by one.
    loaded: HashMap<u32, Vec<u8>>,
    /// Stored row of each token id, for packs that group rows by script.
    order: Option<Vec<u32>>,
}

/// A byte range of one shard file holding consecutive blocks not loaded yet.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RowRange {
    pub file: String,
    /// First and one-past-last byte in the file (for `Range: bytes=start-(end-1)`).
    pub start: u64,
    pub end: u64,
    pub first_block: u32,
    pub blocks: u32,
    /// Bytes of one block (the table's very last block may be shorter).
    pub block_bytes: u64,
}

impl RowTable {
    fn from_pack(pack: &mut Pack, order: Option<RowOrder>) -> Result<Self> {
        let layout = pack.manifest.embeddings.clone();
        let cols = pack.manifest.arch.hidden;
        let blocks = match &layout.blocks {
            Some(b) => {
                let hashes = pack.take(BLOCKS_FILE)?;
                let want = layout.rows.div_ceil(b.rows) * BLOCK_HASH_BYTES;
                if hashes.len() != want {
                    return Err(Error::corrupt(
                        BLOCKS_FILE,
                        format!(
                            "{} bytes, {want} expected for {} rows in blocks of {}",
                            hashes.len(),
                            layout.rows,
                            b.rows
                        ),
                    ));
                }
                Some((b.rows, b.data_offsets.clone(), hashes))
            }
            None => None,
        };
        let mut table = RowTable {
            dtype: layout.dtype,
            cols,
            rows: layout.rows,
            rows_per_shard: layout.rows_per_shard,
            shard_names: layout.shards.clone(),
            shards: vec![None; layout.shards.len()],
            blocks,
            loaded: HashMap::new(),
            order: order.map(|o| o.stored),
        };
        for (i, name) in layout.shards.iter().enumerate() {
            if pack.has(name) || table.blocks.is_none() {
                let bytes = pack.take(name)?;
                table.add_shard_bytes(i, bytes)?;
            }
        }
        Ok(table)
    }

    /// Installs a whole shard file (already checked against the manifest).
    fn add_shard_bytes(&mut self, i: usize, bytes: Vec<u8>) -> Result<()> {
        let name = &self.shard_names[i];
        let expect_rows = self.rows_per_shard.min(self.rows - i * self.rows_per_shard);
        let start = {
            let tf = TensorFile::parse(name, &bytes)?;
            let (info, raw) = tf.raw("rows")?;
            if info.dtype != self.dtype || info.cols != self.cols || info.rows != expect_rows {
                return Err(Error::corrupt(
                    name,
                    format!(
                        "holds {}x{} {:?} rows, the manifest expects {expect_rows}x{} {:?}",
                        info.rows, info.cols, info.dtype, self.cols, self.dtype
                    ),
                ));
            }
            raw.as_ptr() as usize - bytes.as_ptr() as usize
        };
        self.shards[i] = Some((bytes, start));
        // its rows are all here now
        if let Some((br, _, _)) = &self.blocks {
            let per = (self.rows_per_shard / br) as u32;
            self.loaded.retain(|b, _| *b / per != i as u32);
        }
        Ok(())
    }

    fn row_bytes(&self) -> usize {
        self.dtype.row_bytes(self.cols)
    }

    /// The stored row of token `id`.
    fn stored_row(&self, id: u32) -> Result<usize> {
        let i = id as usize;
        if i >= self.rows {
            return Err(Error::Tokenizer(format!(
                "token id {id} is outside the model's vocabulary of {} rows (tokenizer and model do not match)",
                self.rows
            )));
        }
        Ok(self.order.as_ref().map_or(i, |o| o[i] as usize))
    }

    /// The stored bytes of token `id`'s row, or the block to fetch for it.
    fn row(&self, id: u32) -> Result<std::result::Result<&[u8], u32>> {
        let id = self.stored_row(id)?;
        let rb = self.row_bytes();
        let (s, r) = (id / self.rows_per_shard, id % self.rows_per_shard);
        if let Some((bytes, start)) = &self.shards[s] {
            let at = start + r * rb;
            return Ok(Ok(&bytes[at..at + rb]));
        }
        let Some((br, _, _)) = &self.blocks else {
            return Err(Error::MissingFile(self.shard_names[s].clone()));
        };
        let b = (id / br) as u32;
        Ok(match self.loaded.get(&b) {
            Some(block) => {
                let at = (id % br) * rb;
                Ok(&block[at..at + rb])
            }
            None => Err(b),
        })
    }

    /// Blocks still to fetch for `ids`, sorted, without repeats.
    fn missing(&self, ids: &[u32]) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        for &id in ids {
            if let Err(b) = self.row(id)? {
                out.push(b);
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Byte ranges of the shard files that hold `blocks` (sorted), runs of
    /// consecutive blocks in one shard merged.
    fn ranges(&self, blocks: &[u32]) -> Vec<RowRange> {
        let Some((br, offsets, _)) = &self.blocks else {
            return vec![];
        };
        let rb = self.row_bytes() as u64;
        let per = (self.rows_per_shard / br) as u32;
        let mut out: Vec<RowRange> = Vec::new();
        for &b in blocks {
            let s = (b / per) as usize;
            let first_row = b as usize * br;
            let rows = (*br).min(self.rows - first_row) as u64;
            let start = offsets[s] + ((first_row - s * self.rows_per_shard) as u64) * rb;
            match out.last_mut() {
                Some(r) if r.file == self.shard_names[s] && r.first_block + r.blocks == b => {
                    r.end = start + rows * rb;
                    r.blocks += 1;
                }
                _ => out.push(RowRange {
                    file: self.shard_names[s].clone(),
                    start,
                    end: start + rows * rb,
                    first_block: b,
                    blocks: 1,
                    block_bytes: *br as u64 * rb,
                }),
            }
        }
        out
    }

    /// Adds `count` consecutive blocks from `first`, checking each against
    /// its checksum; nothing is added unless all are good.
    fn add_blocks(&mut self, first: u32, bytes: &[u8]) -> Result<u32> {
        let Some((br, _, hashes)) = &self.blocks else {
            return Err(Error::Input(
                "this model pack has no block index; add whole embedding shards".into(),
            ));
        };
        let br = *br;
        let rb = self.row_bytes();
        let total = self.rows.div_ceil(br) as u32;
        let mut parts = Vec::new();
        let (mut b, mut at) = (first, 0usize);
        while at < bytes.len() {
            if b >= total {
                return Err(Error::Input(format!(
                    "{} bytes from block {first} run past the table's {total} blocks",
                    bytes.len()
                )));
            }
            let len = br.min(self.rows - b as usize * br) * rb;
            let Some(block) = bytes.get(at..at + len) else {
                return Err(Error::Input(format!(
                    "{} bytes from block {first} end inside block {b}",
                    bytes.len()
                )));
            };
            let h = &hashes[b as usize * BLOCK_HASH_BYTES..(b as usize + 1) * BLOCK_HASH_BYTES];
            if Sha256::digest(block)[..BLOCK_HASH_BYTES] != *h {
                // the file is the shard (what the widget names to the
                // reader); the block goes with the checksums
                return Err(Error::Checksum {
                    file: self.shard_names[b as usize * br / self.rows_per_shard].clone(),
                    expected: format!("{} for the rows of block {b}", hex(h)),
                    actual: hex(&Sha256::digest(block)[..BLOCK_HASH_BYTES]),
                });
            }
            parts.push((b, block.to_vec()));
            b += 1;
            at += len;
        }
        let n = parts.len() as u32;
        self.loaded.extend(parts);
        Ok(n)
    }

    fn add_row(&self, id: u32, out: &mut [f32], scratch: &mut [f32]) -> Result<()> {
        let row = self.row(id)?.map_err(|b| Error::MissingRows(vec![b]))?;
        self.dtype.decode_row(row, scratch);
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
    /// Language directions dropped from search vectors, when the pack has them.
    basis: Option<LanguageBasis>,
}

impl Encoder {
    /// Builds the encoder from a verified pack (consumes its bytes).
    pub fn from_pack(mut pack: Pack) -> Result<Self> {
        let tokenizer = if pack.has(VOCAB_FILE) {
            TextTokenizer::from_vocab(&pack.take(VOCAB_FILE)?, VOCAB_FILE)?
        } else {
            TextTokenizer::from_bytes(pack.bytes(TOKENIZER_FILE)?)?
        };
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
        let order = match &manifest.embeddings.order {
            Some(declared) => Some(RowOrder::load(
                declared,
                manifest.embeddings.rows,
                super::pack::MANIFEST,
                |id| tokenizer.piece(id),
            )?),
            None => None,
        };
        let rows = RowTable::from_pack(&mut pack, order)?;
        let basis = if pack.has(LANG_BASIS_FILE) {
            Some(LanguageBasis::parse(&pack.take(LANG_BASIS_FILE)?, h)?)
        } else {
            None
        };
        Ok(Encoder {
            manifest,
            tokenizer,
            rows,
            positions,
            token_type,
            plan,
            basis,
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
    /// Whether the model's vocabulary has `word` whole
    /// ([`TextTokenizer::is_whole_word`]); search respells only words it
    /// does not know (`search::respell`).
    pub fn knows_word(&self, word: &str) -> bool {
        self.tokenizer.is_whole_word(word)
    }

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

    /// The vector search uses for `text`: the embedding with the language
    /// directions removed ([`super::langbasis`]) when the pack has them, else
    /// the embedding itself. Bundles store passages this way, and queries
    /// must be embedded the same way to be compared with them.
    pub fn embed_for_search(&self, text: &str, kind: TextKind) -> Result<Embedding> {
        let mut e = self.embed(text, kind)?;
        if let Some(b) = &self.basis {
            e.vector = b.apply(&e.vector, kind);
        }
        Ok(e)
    }

    /// The language basis of the pack, if it has one.
    pub fn language_basis(&self) -> Option<&LanguageBasis> {
        self.basis.as_ref()
    }

    /// Whether every embedding row is in memory (no fetching needed).
    pub fn has_all_rows(&self) -> bool {
        self.rows.shards.iter().all(Option::is_some)
    }

    /// What to fetch before `text` can be embedded: byte ranges of the
    /// embedding shards holding rows not loaded yet (empty when all are in).
    pub fn row_ranges(&self, text: &str, kind: TextKind) -> Result<Vec<RowRange>> {
        let enc = self.tokenize(text, kind)?;
        let missing = self.rows.missing(&enc.ids)?;
        Ok(self.rows.ranges(&missing))
    }

    /// Adds fetched rows: the bytes of consecutive blocks starting at
    /// `first_block` (a [`RowRange`]'s body), each checked against the pack's
    /// block checksums. Returns the number of blocks added.
    pub fn add_rows(&mut self, first_block: u32, bytes: &[u8]) -> Result<u32> {
        self.rows.add_blocks(first_block, bytes)
    }

    /// Adds a whole embedding shard file (e.g. a server that ignored a
    /// Range request sent all of it), checked against the manifest.
    pub fn add_shard(&mut self, name: &str, bytes: Vec<u8>) -> Result<()> {
        let Some(i) = self.rows.shard_names.iter().position(|n| n == name) else {
            return Err(Error::Input(format!(
                "`{name}` is not an embedding shard of this pack"
            )));
        };
        let entry = self
            .manifest
            .file(name)
            .ok_or_else(|| Error::MissingFile(name.to_string()))?;
        verify_file(entry, &bytes)?;
        self.rows.add_shard_bytes(i, bytes)
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
        let missing = self.rows.missing(ids)?;
        if !missing.is_empty() {
            return Err(Error::MissingRows(missing));
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

/// Wires the BERT encoder: input `[T, hidden]` token embeddings (word +
/// position + type, before the embedding layer norm), output `[T, hidden]`.
/// Every op's arithmetic is our own (see [`super::detops`]), so the output is
/// the same bits natively and in wasm.
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
    let mut x = g.layer_norm("emb.ln", &[x], h)?;
    let scale = 1.0 / (hd as f32).sqrt();
    for l in 0..arch.layers {
        let p = format!("l{l}");
        // the softmax scale is folded into the query projection
        let ctx = if let Some(qkv) = g.qkv(&p, x, h, scale)? {
            let op = Attention { heads, fused: true };
            g.m.wire_node(format!("{p}.attn"), op, &[qkv])?[0]
        } else {
            let q = g.linear(&format!("{p}.q"), x, h, h, scale)?;
            let k = g.linear(&format!("{p}.k"), x, h, h, 1.0)?;
            let v = g.linear(&format!("{p}.v"), x, h, h, 1.0)?;
            let op = Attention {
                heads,
                fused: false,
            };
            g.m.wire_node(format!("{p}.attn"), op, &[q, k, v])?[0]
        };
        let ao = g.linear(&format!("{p}.ao"), ctx, h, h, 1.0)?;
        x = g.layer_norm(&format!("{p}.aln"), &[x, ao], h)?;
        let mid = g.linear(&format!("{p}.fi"), x, ff, h, 1.0)?;
        let mid = g.m.wire_node(format!("{p}.gelu"), Gelu, &[mid])?[0];
        let fo = g.linear(&format!("{p}.fo"), mid, h, ff, 1.0)?;
        x = g.layer_norm(&format!("{p}.oln"), &[x, fo], h)?;
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
        let (info, raw) = self.w.raw(&format!("{name}.w"))?;
        if info.dtype == DType::Q4_0
            && info.rows == out
            && info.cols == inp
            && out.is_multiple_of(ROWS)
        {
            // 4-bit weights stay quantised: integer matmul on q8 activations
            let bv = self.w.f32(&format!("{name}.b"), 1, out)?;
            let op = QLinear {
                w: Arc::new(QWeights::from_q4_0(raw, &bv, out, inp, scale)),
            };
            return Ok(self.m.wire_node(format!("{name}.qmm"), op, &[x])?[0]);
        }
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

    /// The query, key and value projections of layer `p` as one integer
    /// linear layer `[T, h] -> [T, 3h]` (one activation quantisation
    /// instead of three, one kernel call), when all three are 4-bit; the
    /// query rows carry the softmax `scale`. Each output is the same bits
    /// as its own layer's.
    fn qkv(&mut self, p: &str, x: OutletId, h: usize, scale: f32) -> TractResult<Option<OutletId>> {
        let mut raw = Vec::new();
        let mut bias = Vec::new();
        for part in ["q", "k", "v"] {
            let (info, r) = self.w.raw(&format!("{p}.{part}.w"))?;
            if info.dtype != DType::Q4_0
                || info.rows != h
                || info.cols != h
                || !h.is_multiple_of(ROWS)
            {
                return Ok(None);
            }
            raw.extend_from_slice(r);
            bias.extend(self.w.f32(&format!("{p}.{part}.b"), 1, h)?);
        }
        let scales: Vec<f32> = (0..3 * h)
            .map(|i| if i < h { scale } else { 1.0 })
            .collect();
        let op = QLinear {
            w: Arc::new(QWeights::from_q4_0_scaled(&raw, &bias, 3 * h, h, &scales)),
        };
        Ok(Some(self.m.wire_node(format!("{p}.qkv.qmm"), op, &[x])?[0]))
    }

    /// Layer norm over the last axis of `[T, h]`, of the sum of `inputs`
    /// (one, or two for a residual connection).
    fn layer_norm(&mut self, name: &str, inputs: &[OutletId], h: usize) -> TractResult<OutletId> {
        let gamma = self.w.f32(&format!("{name}.w"), 1, h)?;
        let beta = self.w.f32(&format!("{name}.b"), 1, h)?;
        let op = LayerNorm::new(&gamma, &beta, self.eps);
        Ok(self.m.wire_node(name, op, inputs)?[0])
    }
}
