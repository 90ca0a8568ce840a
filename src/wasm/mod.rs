//! The wasm surface: few coarse calls, typed arrays across. What crosses to
//! JS, results and errors alike, follows one contract (`contract`): plain
//! objects with camelCase keys, and JS `Error`s with a stable `code` and
//! the `file` they are about. Nothing here panics on bad input; the panic
//! hook is only there to make real bugs readable.

mod contract;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use js_sys::{Float32Array, Uint32Array};
use wasm_bindgen::prelude::*;

use crate::bundle::{BundleManifest, ShardKind};
use crate::error::Error;
use crate::format::{verify_digested, verify_file};
use crate::model::pack::{Pack, PackManifest};
use crate::model::tokenizer::TextTokenizer;
use crate::model::{Encoder, TextKind};
use crate::search::confidence::{self, Verdict};
use crate::search::{search, Bundle, Fusion, Mode, Query};
use contract::js_err;

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

fn kind(k: &str) -> Result<TextKind, JsValue> {
    match k {
        "query" => Ok(TextKind::Query),
        "passage" => Ok(TextKind::Passage),
        other => Err(js_err(Error::Input(format!(
            "kind must be \"query\" or \"passage\", not {other:?}"
        )))),
    }
}

/// Collects a pack's files as the page fetches them, verifying each on arrival.
#[wasm_bindgen]
pub struct PackLoader {
    manifest: PackManifest,
    files: BTreeMap<String, Vec<u8>>,
}

#[wasm_bindgen]
impl PackLoader {
    /// Parses `pack.json`; fails on another pack format or version.
    #[wasm_bindgen(constructor)]
    pub fn new(manifest_json: &str) -> Result<PackLoader, JsValue> {
        let manifest = PackManifest::parse(manifest_json.as_bytes()).map_err(js_err)?;
        Ok(PackLoader {
            manifest,
            files: BTreeMap::new(),
        })
    }

    /// How file `name` is also stored compressed: `{encoding, name, bytes,
    /// decodedBytes}` (the compressed file to fetch from a host that does
    /// not compress, decoded before `add`), or `undefined`.
    #[wasm_bindgen(js_name = encodedAs)]
    pub fn encoded_as(&self, name: &str) -> Result<JsValue, JsValue> {
        contract::encoded(self.manifest.file(name))
    }

    /// Names of the files still to add before `build()`. Embedding row
    /// shards are not among them when the pack has a block index: their
    /// rows are fetched per query (`Engine.rowRanges`).
    pub fn missing(&self) -> Vec<String> {
        self.manifest
            .files
            .iter()
            .filter(|f| !self.files.contains_key(&f.name) && !self.manifest.is_lazy(&f.name))
            .map(|f| f.name.clone())
            .collect()
    }

    /// The embedding row shards, for callers that want the whole table in
    /// memory (add them with `add` before `build()`; nothing is fetched per
    /// query then).
    #[wasm_bindgen(js_name = rowShards)]
    pub fn row_shards(&self) -> Vec<String> {
        self.manifest.embeddings.shards.clone()
    }

    /// Bytes of the files needed before `build()` (what a progress bar counts).
    #[wasm_bindgen(js_name = totalBytes)]
    pub fn total_bytes(&self) -> f64 {
        self.manifest
            .files
            .iter()
            .filter(|f| !self.manifest.is_lazy(&f.name))
            .map(|f| f.bytes as f64)
            .sum()
    }

    /// Adds one file's content (decoded, for a file fetched compressed),
    /// checking its size and sha256 against the manifest.
    pub fn add(&mut self, name: &str, bytes: Vec<u8>) -> Result<(), JsValue> {
        let entry = self
            .manifest
            .file(name)
            .ok_or_else(|| js_err(Error::Input(format!("`{name}` is not a file of this pack"))))?;
        verify_file(entry, &bytes).map_err(js_err)?;
        self.files.insert(name.to_string(), bytes);
        Ok(())
    }

    /// Adds one file whose sha256 the caller has just computed over exactly
    /// these bytes (WebCrypto's `crypto.subtle.digest` runs 10-40x faster
    /// than hashing inside wasm: ~0.6 s saved on every model load). The size
    /// and the digest are checked against the manifest as in `add`.
    #[wasm_bindgen(js_name = addDigested)]
    pub fn add_digested(
        &mut self,
        name: &str,
        bytes: Vec<u8>,
        sha256: &str,
    ) -> Result<(), JsValue> {
        let entry = self
            .manifest
            .file(name)
            .ok_or_else(|| js_err(Error::Input(format!("`{name}` is not a file of this pack"))))?;
        verify_digested(entry, &bytes, sha256).map_err(js_err)?;
        self.files.insert(name.to_string(), bytes);
        Ok(())
    }

    /// Builds the encoder once every file is in.
    pub fn build(mut self) -> Result<WasmEncoder, JsValue> {
        // every file was checked by `add` / `addDigested`
        let files = std::mem::take(&mut self.files);
        let pack = Pack::from_checked_lazy(self.manifest, files).map_err(js_err)?;
        let inner = Encoder::from_pack(pack).map_err(js_err)?;
        Ok(WasmEncoder { inner })
    }
}

/// The sentence encoder.
#[wasm_bindgen(js_name = Encoder)]
pub struct WasmEncoder {
    inner: Encoder,
}

#[wasm_bindgen(js_class = Encoder)]
impl WasmEncoder {
    /// The L2-normalised embedding of `text` (`kind`: "query" or "passage").
    pub fn embed(&self, text: &str, kind_name: &str) -> Result<Float32Array, JsValue> {
        let e = self.inner.embed(text, kind(kind_name)?).map_err(js_err)?;
        Ok(Float32Array::from(e.vector.as_slice()))
    }

    /// Token ids fed to the model for `text` (prefix and special tokens included, truncated).
    pub fn tokenize(&self, text: &str, kind_name: &str) -> Result<Uint32Array, JsValue> {
        let e = self
            .inner
            .tokenize(text, kind(kind_name)?)
            .map_err(js_err)?;
        Ok(Uint32Array::from(e.ids.as_slice()))
    }

    /// `{tokens, truncatedFrom}` for `text`: whether it fits the model's budget.
    #[wasm_bindgen(js_name = tokenInfo)]
    pub fn token_info(&self, text: &str, kind_name: &str) -> Result<JsValue, JsValue> {
        let e = self
            .inner
            .tokenize(text, kind(kind_name)?)
            .map_err(js_err)?;
        contract::to_js(&contract::JsTokenInfo {
            tokens: e.ids.len() as u32,
            truncated_from: e.truncated_from.map(|n| n as u32),
        })
    }

    pub fn dim(&self) -> usize {
        self.inner.dim()
    }

    /// Byte ranges of embedding shards to fetch before `text` can be
    /// embedded: `[{file, start, end, firstBlock, blocks, blockBytes}]`, `end` exclusive;
    /// empty when every row it needs is in.
    #[wasm_bindgen(js_name = rowRanges)]
    pub fn row_ranges(&self, text: &str, kind_name: &str) -> Result<JsValue, JsValue> {
        contract::row_ranges(self.inner.row_ranges(text, kind(kind_name)?))
    }

    /// Adds the body of one range (`firstBlock` from `rowRanges`); every
    /// block is checked against the pack's block checksums.
    #[wasm_bindgen(js_name = addRows)]
    pub fn add_rows(&mut self, first_block: u32, bytes: &[u8]) -> Result<u32, JsValue> {
        self.inner.add_rows(first_block, bytes).map_err(js_err)
    }

    /// Adds a whole embedding shard (checked against `pack.json`).
    #[wasm_bindgen(js_name = addShard)]
    pub fn add_shard(&mut self, name: &str, bytes: Vec<u8>) -> Result<(), JsValue> {
        self.inner.add_shard(name, bytes).map_err(js_err)
    }

    /// The id of the model pack (what a bundle's `packId` must equal).
    #[wasm_bindgen(js_name = packId)]
    pub fn pack_id(&self) -> String {
        self.inner.manifest().pack_id()
    }
}

/// The tokenizer alone (for parity checks and lexical indexing).
#[wasm_bindgen(js_name = Tokenizer)]
pub struct WasmTokenizer {
    inner: TextTokenizer,
}

#[wasm_bindgen(js_class = Tokenizer)]
impl WasmTokenizer {
    #[wasm_bindgen(constructor)]
    pub fn new(tokenizer_json: &[u8]) -> Result<WasmTokenizer, JsValue> {
        Ok(WasmTokenizer {
            inner: TextTokenizer::from_bytes(tokenizer_json).map_err(js_err)?,
        })
    }

    /// The tokenizer from a pack's flat vocabulary (`vocab.bin`).
    #[wasm_bindgen(js_name = fromVocab)]
    pub fn from_vocab(vocab_bin: &[u8]) -> Result<WasmTokenizer, JsValue> {
        Ok(WasmTokenizer {
            inner: TextTokenizer::from_vocab(vocab_bin, "vocab.bin").map_err(js_err)?,
        })
    }

    /// Ids with special tokens, untruncated.
    pub fn encode(&self, text: &str) -> Result<Uint32Array, JsValue> {
        let ids = self.inner.ids(text).map_err(js_err)?;
        Ok(Uint32Array::from(ids.as_slice()))
    }
}

/// Collects a search bundle's shards; the engine is usable (lexically) as
/// soon as the page table, vectors and lexical index are in, or, without the
/// vectors, as soon as the page table and lexical index are (`buildLexical`).
#[wasm_bindgen]
pub struct BundleLoader {
    manifest: BundleManifest,
    files: BTreeMap<String, Vec<u8>>,
    /// Why a shard was refused by `add`, by name (the last reason).
    refused: BTreeMap<String, String>,
}

#[wasm_bindgen]
impl BundleLoader {
    /// Parses `manifest.json`; fails on another bundle format or version.
    #[wasm_bindgen(constructor)]
    pub fn new(manifest_json: &str) -> Result<BundleLoader, JsValue> {
        Ok(BundleLoader {
            manifest: BundleManifest::parse(manifest_json.as_bytes()).map_err(js_err)?,
            files: BTreeMap::new(),
            refused: BTreeMap::new(),
        })
    }

    /// Shards needed before the first (lexical) search. Not the files of a
    /// lexical index in pieces (`lexical_terms`): their pieces are fetched
    /// per query (`Engine.lexicalRanges`).
    pub fn required(&self) -> Vec<String> {
        self.manifest
            .shards
            .iter()
            .filter(|s| {
                // with sign codes the vectors shard's rows come per query
                let per_query = matches!(
                    s.kind,
                    ShardKind::Fragments | ShardKind::LexicalTerms | ShardKind::Snippets
                ) || (s.kind == ShardKind::Vectors
                    && self.manifest.codes_shard().is_some());
                !per_query && !self.files.contains_key(&s.name)
            })
            .map(|s| s.name.clone())
            .collect()
    }

    /// How shard `name` is also stored compressed (see
    /// `PackLoader.encodedAs`), or `undefined`.
    #[wasm_bindgen(js_name = encodedAs)]
    pub fn encoded_as(&self, name: &str) -> Result<JsValue, JsValue> {
        contract::encoded(self.manifest.shards.iter().find(|s| s.name == name))
    }

    /// Fragment shards (snippet text), in order.
    pub fn fragments(&self) -> Vec<String> {
        self.manifest
            .fragment_shards()
            .map(|s| s.name.clone())
            .collect()
    }

    /// What the shard `name` holds, as the manifest says: "docs", "vectors",
    /// "lexical", "fragments", "lexical_terms", "vector_codes" or
    /// "snippets"; `undefined` for a name it does not list.
    #[wasm_bindgen(js_name = shardKind)]
    pub fn shard_kind(&self, name: &str) -> Option<String> {
        let s = self.manifest.shards.iter().find(|s| s.name == name)?;
        Some(
            match s.kind {
                ShardKind::Docs => "docs",
                ShardKind::Vectors => "vectors",
                ShardKind::Lexical => "lexical",
                ShardKind::Fragments => "fragments",
                ShardKind::LexicalTerms => "lexical_terms",
                ShardKind::VectorCodes => "vector_codes",
                ShardKind::Snippets => "snippets",
            }
            .to_string(),
        )
    }

    /// The model folder and pack id the bundle's vectors were made with.
    #[wasm_bindgen(js_name = modelDir)]
    pub fn model_dir(&self) -> String {
        self.manifest.model.dir.clone()
    }

    #[wasm_bindgen(js_name = packId)]
    pub fn pack_id(&self) -> String {
        self.manifest.model.pack_id.clone()
    }

    /// Adds one shard, verifying its size and checksum.
    pub fn add(&mut self, name: &str, bytes: Vec<u8>) -> Result<(), JsValue> {
        let s = self
            .manifest
            .shards
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                js_err(Error::Input(format!(
                    "`{name}` is not a shard of this bundle"
                )))
            })?;
        if let Err(e) = verify_file(s, &bytes) {
            self.refused.insert(name.to_string(), e.to_string());
            return Err(js_err(e));
        }
        self.refused.remove(name);
        self.files.insert(name.to_string(), bytes);
        Ok(())
    }

    /// Builds the engine once every required shard is in.
    pub fn build(mut self) -> Result<Engine, JsValue> {
        let mut files = std::mem::take(&mut self.files);
        let bundle =
            Bundle::from_files(self.manifest, |n| Ok(files.remove(n)), false).map_err(js_err)?;
        Ok(Engine {
            bundle,
            encoder: None,
            no_vectors: None,
            last_query: Cell::new(None),
        })
    }

    /// The shard semantic search loads up front: the one shard `required()`
    /// lists that keyword search does not need (see `buildKeywords`). The
    /// vectors shard, or its sign codes on a bundle that has them (the
    /// rows then come per query, `Engine.denseRanges`).
    pub fn vectors(&self) -> String {
        self.manifest.semantic_shard().name.clone()
    }

    /// The size of shard `name` in bytes (its content, as `add` checks it);
    /// `undefined` for a name the manifest does not list.
    #[wasm_bindgen(js_name = shardBytes)]
    pub fn shard_bytes(&self, name: &str) -> Option<f64> {
        let s = self.manifest.shards.iter().find(|s| s.name == name)?;
        Some(s.bytes as f64)
    }

    /// Builds an engine for keyword search from the docs and lexical shards,
    /// before the vectors shard is in: the page answers keyword queries at
    /// once and fetches the vectors with the model, for the first semantic
    /// query (`Engine.addVectors`). Until then it searches as an engine of
    /// `buildLexical` does; fails like `build()` when the docs or lexical
    /// shard is missing or damaged.
    #[wasm_bindgen(js_name = buildKeywords)]
    pub fn build_keywords(self) -> Result<Engine, JsValue> {
        let vectors = self.vectors();
        let why = format!(
            "the vectors shard `{vectors}` is not loaded yet (Engine.addVectors), so only keyword search works for now"
        );
        self.lexical_engine(why)
    }

    /// Builds an engine from the shards added so far, without the vectors
    /// shard: lexical search only (hybrid queries answer lexically, dense
    /// ones fail with code "no_vectors"), and `setEncoder` fails with code
    /// "no_vectors". For when the vectors shard is missing or damaged; fails
    /// like `build()` when the docs or lexical shard is missing or damaged.
    #[wasm_bindgen(js_name = buildLexical)]
    pub fn build_lexical(self) -> Result<Engine, JsValue> {
        let vectors = self.manifest.semantic_shard().name.clone();
        let why = match self.refused.get(&vectors) {
            Some(e) => format!("the vectors shard `{vectors}` was refused ({e})"),
            None if self.files.contains_key(&vectors) => {
                format!("the engine was built without the vectors shard `{vectors}`")
            }
            None => format!("the vectors shard `{vectors}` is missing"),
        };
        self.lexical_engine(format!(
            "{why}, so only keyword search works; copy the bundle folder again or rebuild it with `crossfind index`"
        ))
    }

    /// An engine without vectors (`why`: what dense search fails with).
    fn lexical_engine(mut self, why: String) -> Result<Engine, JsValue> {
        let mut files = std::mem::take(&mut self.files);
        let bundle =
            Bundle::from_files_without_vectors(self.manifest, |n| Ok(files.remove(n)), false)
                .map_err(js_err)?;
        Ok(Engine {
            bundle,
            encoder: None,
            no_vectors: Some(why),
            last_query: Cell::new(None),
        })
    }
}

/// Search over one bundle: lexical at once, hybrid once an encoder is attached.
#[wasm_bindgen]
pub struct Engine {
    bundle: Bundle,
    /// Shared by the engines of several bundles built with one model pack
    /// (`shareEncoder`): one model in memory, its rows fetched once.
    encoder: Option<Rc<RefCell<Encoder>>>,
    /// Set when built without vectors (`buildLexical`): why dense search is unavailable.
    no_vectors: Option<String>,
    /// The last query text embedded and its vector: the worker asks a query
    /// again once the snippet shards its hits need are in, and that second
    /// answer must not embed the query twice. Cleared with a new encoder.
    last_query: Cell<Option<(String, Vec<f32>)>>,
}

/// The shared encoder, to read (a JS error, never a panic, if it were in use).
fn borrowed(enc: &RefCell<Encoder>) -> Result<std::cell::Ref<'_, Encoder>, JsValue> {
    enc.try_borrow()
        .map_err(|_| js_err(Error::Encoder("the encoder is in use".into())))
}

/// The options `search`, `answer` and `denseRanges` take.
#[derive(serde::Deserialize, Default)]
struct Opts {
    lang: Option<String>,
    k: Option<usize>,
    mode: Option<String>,
    filter: Option<crate::search::Filter>,
    weight: Option<f32>,
}

impl Opts {
    fn read(options: JsValue) -> Result<Opts, JsValue> {
        if options.is_undefined() || options.is_null() {
            Ok(Opts::default())
        } else {
            serde_wasm_bindgen::from_value(options)
                .map_err(|e| js_err(Error::Input(format!("bad search options: {e}"))))
        }
    }

    fn mode(&self) -> Result<Mode, JsValue> {
        match self.mode.as_deref() {
            None => Ok(Mode::Hybrid),
            Some(m) => m.parse().map_err(|e: String| js_err(Error::Input(e))),
        }
    }
}

/// Longest query text searched (a pasted page is cut, not refused).
const MAX_QUERY_CHARS: usize = 2000;

fn cut_query(text: &str) -> &str {
    let cut = text
        .char_indices()
        .nth(MAX_QUERY_CHARS)
        .map(|(i, _)| i)
        .unwrap_or(text.len());
    &text[..cut]
}

#[wasm_bindgen]
impl Engine {
    /// Adds a fragment shard (by its index in `BundleLoader.fragments()`).
    #[wasm_bindgen(js_name = addFragments)]
    pub fn add_fragments(&mut self, index: usize, bytes: &[u8]) -> Result<(), JsValue> {
        self.bundle.add_fragments(index, bytes).map_err(js_err)
    }

    /// Adds the vectors shard (`BundleLoader.vectors()`) to an engine built
    /// without it (`buildKeywords`, or `buildLexical`), checking its size
    /// and sha256: from then on it searches as an engine of `build()` does,
    /// hybrid results identical, and `setEncoder` can attach the model. A
    /// damaged shard fails with its code and file and changes nothing.
    #[wasm_bindgen(js_name = addVectors)]
    pub fn add_vectors(&mut self, bytes: &[u8]) -> Result<(), JsValue> {
        self.bundle.add_vectors(bytes).map_err(js_err)?;
        self.no_vectors = None;
        Ok(())
    }

    /// Byte ranges of the lexical pieces `text` needs before it can be
    /// searched (a bundle whose lexical index is in pieces; empty once they
    /// are in, and always for an index in one piece):
    /// `[{piece, file, start, end}]`, `end` exclusive, `file` a shard of the
    /// bundle. `search` and `answer` fail with code "missing_pieces" until
    /// they are added (`addLexicalPiece`).
    #[wasm_bindgen(js_name = lexicalRanges)]
    pub fn lexical_ranges(&self, text: &str) -> Result<JsValue, JsValue> {
        #[derive(serde::Serialize)]
        struct JsPieceRange<'a> {
            piece: u32,
            file: &'a str,
            start: f64,
            end: f64,
        }
        let enc = self.encoder.as_deref().map(borrowed).transpose()?;
        let knows = |w: &str| enc.as_ref().is_some_and(|e| e.knows_word(w));
        let knows: Option<&dyn Fn(&str) -> bool> = enc.as_ref().map(|_| &knows as _);
        let ranges: Vec<JsPieceRange> = self
            .bundle
            .lexical_ranges(cut_query(text), knows)
            .into_iter()
            .map(|(piece, file, start, end)| JsPieceRange {
                piece,
                file,
                start: start as f64,
                end: end as f64,
            })
            .collect();
        contract::to_js(&ranges)
    }

    /// Byte ranges of the vectors shard's rows that the semantic search of
    /// `text` (with `options` as `search` takes them; their filter limits
    /// the first stage) needs before it can run, on a bundle with sign
    /// codes: `[{block, file, start, end}]`, `end` exclusive, consecutive
    /// blocks in one range. Empty once they are in, without an encoder, in
    /// mode "lexical", and always on a bundle in one piece. Embeds the query
    /// (kept for the search that follows). `search` and `answer` fail with
    /// code "missing_vector_rows" until they are added (`addVectorRows`).
    #[wasm_bindgen(js_name = denseRanges)]
    pub fn dense_ranges(&self, text: &str, options: JsValue) -> Result<JsValue, JsValue> {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct JsRowRange<'a> {
            block: u32,
            file: &'a str,
            start: f64,
            end: f64,
            block_ends: Vec<f64>,
        }
        let o = Opts::read(options)?;
        let text = cut_query(text);
        // the text as `search` embeds it
        let respelled = self.respelled(text)?;
        let text = respelled.as_deref().unwrap_or(text);
        let vector = match (&self.encoder, o.mode()?) {
            (Some(enc), Mode::Hybrid | Mode::Dense)
                if self.bundle.has_codes() && !text.trim().is_empty() =>
            {
                Some(self.query_vector(enc, text)?)
            }
            _ => None,
        };
        let ranges: Vec<JsRowRange> = vector
            .map(|v| self.bundle.dense_ranges_for(&v, o.filter.as_ref()))
            .unwrap_or_default()
            .into_iter()
            .map(|r| JsRowRange {
                block: r.block,
                file: r.file,
                start: r.start as f64,
                end: r.end as f64,
                block_ends: r.block_ends.iter().map(|&e| e as f64).collect(),
            })
            .collect();
        contract::to_js(&ranges)
    }

    /// Adds the rows of consecutive blocks from `block` (the body of a range
    /// `denseRanges` named), each checked against the sum its sign codes
    /// list; a damaged body fails with its code and the vectors shard's
    /// name and adds nothing.
    #[wasm_bindgen(js_name = addVectorRows)]
    pub fn add_vector_rows(&mut self, block: u32, bytes: &[u8]) -> Result<(), JsValue> {
        self.bundle.add_vector_rows(block, bytes).map_err(js_err)
    }

    /// Adds every row from the whole vectors shard (a host that ignores
    /// Range sends it whole), checked against the manifest.
    #[wasm_bindgen(js_name = addVectorsFile)]
    pub fn add_vectors_file(&mut self, bytes: &[u8]) -> Result<(), JsValue> {
        self.bundle.add_vectors_file(bytes).map_err(js_err)
    }

    /// Adds lexical piece `piece` (the body of its range from
    /// `lexicalRanges`), checked against the sha256 the index's head lists.
    #[wasm_bindgen(js_name = addLexicalPiece)]
    pub fn add_lexical_piece(&mut self, piece: u32, bytes: &[u8]) -> Result<(), JsValue> {
        self.bundle.add_lexical_piece(piece, bytes).map_err(js_err)
    }

    /// Adds a whole lexical terms file (a host that ignores Range sends
    /// it whole), checked against the manifest: every piece in it.
    #[wasm_bindgen(js_name = addLexicalFile)]
    pub fn add_lexical_file(&mut self, name: &str, bytes: &[u8]) -> Result<(), JsValue> {
        self.bundle.add_lexical_file(name, bytes).map_err(js_err)
    }

    /// Byte ranges of the snippet records (bundle version 7) holding the
    /// text of `chunks` (the hits' and their sections' `chunk`) that are
    /// not in yet: `[{record, file, start, end}]`, `end` exclusive, each
    /// record once, in file order. Always empty on a bundle with fragment
    /// shards (`BundleLoader.fragments()`). A hit's snippet, URL and title
    /// come once its record is added (`addSnippetRecord`).
    #[wasm_bindgen(js_name = snippetRanges)]
    pub fn snippet_ranges(&self, chunks: Vec<u32>) -> Result<JsValue, JsValue> {
        #[derive(serde::Serialize)]
        struct JsRecordRange<'a> {
            record: u32,
            file: &'a str,
            start: f64,
            end: f64,
        }
        let ranges: Vec<JsRecordRange> = self
            .bundle
            .snippet_ranges(&chunks)
            .into_iter()
            .map(|(record, file, start, end)| JsRecordRange {
                record,
                file,
                start: start as f64,
                end: end as f64,
            })
            .collect();
        contract::to_js(&ranges)
    }

    /// Adds snippet record `record` (the bytes of its range, as
    /// `snippetRanges` names it): it must inflate, pass its checksum and
    /// hold only its own page; else an error naming its file (code
    /// "corrupt_file"), and nothing changes.
    #[wasm_bindgen(js_name = addSnippetRecord)]
    pub fn add_snippet_record(&mut self, record: u32, bytes: &[u8]) -> Result<(), JsValue> {
        self.bundle
            .add_record(record as usize, bytes)
            .map_err(js_err)
    }

    /// Adds a whole snippets file (a host that ignores Range sends it
    /// whole), checked against the manifest: every record in it.
    #[wasm_bindgen(js_name = addSnippetsFile)]
    pub fn add_snippets_file(&mut self, name: &str, bytes: &[u8]) -> Result<(), JsValue> {
        self.bundle.add_snippets_file(name, bytes).map_err(js_err)
    }

    /// The fragment shard (its index in `BundleLoader.fragments()`) holding
    /// the text of chunk `chunk`; `undefined` for a chunk it does not have.
    /// The worker fetches only the shards of the hits it shows.
    #[wasm_bindgen(js_name = fragmentOf)]
    pub fn fragment_of(&self, chunk: u32) -> Option<u32> {
        self.bundle.docs.chunks.get(chunk as usize).map(|c| c.frag)
    }

    /// Attaches the encoder; it must be the pack the bundle was built with
    /// (else code "model_mismatch"). Fails with code "no_vectors" on an
    /// engine built without vectors.
    #[wasm_bindgen(js_name = setEncoder)]
    pub fn set_encoder(&mut self, encoder: WasmEncoder) -> Result<(), JsValue> {
        if let Some(why) = &self.no_vectors {
            return Err(js_err(Error::NoVectors(why.clone())));
        }
        let got = encoder.inner.manifest().pack_id();
        let want = &self.bundle.manifest.model.pack_id;
        if &got != want {
            return Err(js_err(Error::ModelMismatch {
                got,
                want: want.clone(),
            }));
        }
        self.encoder = Some(Rc::new(RefCell::new(encoder.inner)));
        self.last_query.set(None);
        Ok(())
    }

    /// Uses the encoder of `other` (an engine of another bundle, for one
    /// search box over several bundles), which must already have one and
    /// be the same model pack this bundle was built with (else code
    /// "model_mismatch"). Fails with code "no_vectors" on an engine built
    /// without vectors.
    #[wasm_bindgen(js_name = shareEncoder)]
    pub fn share_encoder(&mut self, other: &Engine) -> Result<(), JsValue> {
        if let Some(why) = &self.no_vectors {
            return Err(js_err(Error::NoVectors(why.clone())));
        }
        let enc = other.encoder.as_ref().ok_or_else(|| {
            js_err(Error::Input(
                "the other engine has no encoder to share yet (setEncoder)".into(),
            ))
        })?;
        let got = borrowed(enc)?.manifest().pack_id();
        let want = &self.bundle.manifest.model.pack_id;
        if &got != want {
            return Err(js_err(Error::ModelMismatch {
                got,
                want: want.clone(),
            }));
        }
        self.encoder = Some(Rc::clone(enc));
        self.last_query.set(None);
        Ok(())
    }

    /// The filters the site's pages declare, for a filter menu:
    /// `{key: {value: pageCount}}` (empty when the site declares none).
    pub fn filters(&self) -> Result<JsValue, JsValue> {
        contract::to_js(&self.bundle.filter_counts())
    }

    #[wasm_bindgen(js_name = hasEncoder)]
    pub fn has_encoder(&self) -> bool {
        self.encoder.is_some()
    }

    /// False for an engine built by `buildLexical` (keyword search only).
    #[wasm_bindgen(js_name = hasVectors)]
    pub fn has_vectors(&self) -> bool {
        self.bundle.has_vectors()
    }

    /// Runs a query. `options`: `{lang?: string, k?: number, mode?:
    /// "hybrid"|"dense"|"lexical", filter?: {[key]: string[]}, weight?:
    /// number}` (`filter`: only pages with one of the values of every key;
    /// see `search::Filter`; `weight`: the bundle's weight when several
    /// bundles' hits are merged by `fused`, added as a page weight is,
    /// `search::weight_boost`).
    /// Returns an array of hits, `contract::JsHit`: `{pageId, url, title,
    /// lang, heading, chunk, snippet, highlights, dense, lexical, fused,
    /// alsoIn, matchedLang, sections}`.
    /// On an engine without vectors, "hybrid" answers lexically and "dense"
    /// fails with code "no_vectors".
    pub fn search(&self, text: &str, options: JsValue) -> Result<JsValue, JsValue> {
        let (hits, _, _) = self.run(text, options, false)?;
        contract::hits(&hits)
    }

    /// Runs a query like `search` and says how sure the answer is:
    /// `{hits, lowConfidence, confidence: {score, level, levelLang}}`
    /// (`contract::JsAnswer`). `lowConfidence` is true when the query's best
    /// dense score is below the bundle's level for its language (the site
    /// most likely has no page about it; see `search::confidence`), null
    /// when it was not judged: answered by keywords (no encoder yet, mode
    /// "lexical"), or a bundle indexed without levels.
    pub fn answer(&self, text: &str, options: JsValue) -> Result<JsValue, JsValue> {
        let (hits, verdict, respelled) = self.run(text, options, true)?;
        contract::answer(&hits, &verdict, respelled.as_deref())
    }

    /// `text` embedded as a query, or the vector of the last query when it
    /// was the same text.
    fn query_vector(&self, enc: &RefCell<Encoder>, text: &str) -> Result<Vec<f32>, JsValue> {
        if let Some((t, v)) = self.last_query.take() {
            if t == text {
                self.last_query.set(Some((t, v.clone())));
                return Ok(v);
            }
        }
        let v = borrowed(enc)?
            .embed_for_search(text, TextKind::Query)
            .map_err(js_err)?
            .vector;
        self.last_query.set(Some((text.to_string(), v.clone())));
        Ok(v)
    }

    fn run(
        &self,
        text: &str,
        options: JsValue,
        judge: bool,
    ) -> Result<(Vec<crate::search::Hit>, Verdict, Option<String>), JsValue> {
        let o = Opts::read(options)?;
        let mode = o.mode()?;
        if mode == Mode::Dense {
            if let Some(why) = &self.no_vectors {
                return Err(js_err(Error::NoVectors(why.clone())));
            }
        }
        let text = cut_query(text);
        if text.trim().is_empty() {
            return Ok((Vec::new(), confidence::judge(None, None, &[]), None));
        }
        let respelled = self.respelled(text)?;
        let text = respelled.as_deref().unwrap_or(text);
        let missing: Vec<u32> = self
            .bundle
            .lexical_ranges(text, None)
            .iter()
            .map(|r| r.0)
            .collect();
        if !missing.is_empty() {
            return Err(js_err(Error::MissingPieces(missing)));
        }
        let vector = match (&self.encoder, mode) {
            (Some(enc), Mode::Hybrid | Mode::Dense) => Some(self.query_vector(enc, text)?),
            _ => None,
        };
        if let Some(v) = &vector {
            let missing: Vec<u32> = self
                .bundle
                .dense_ranges_for(v, o.filter.as_ref())
                .iter()
                .map(|r| r.block)
                .collect();
            if !missing.is_empty() {
                return Err(js_err(Error::MissingVectorRows(missing)));
            }
        }
        let boost = match o.weight {
            None => 0.0,
            Some(w) if w.is_finite() && w > 0.0 => crate::search::weight_boost(Some(w)),
            Some(w) => {
                return Err(js_err(Error::Input(format!(
                    "weight must be a number above 0, not {w}"
                ))))
            }
        };
        let lang = o.lang.as_deref().filter(|l| !l.is_empty());
        let mut hits = search(
            &self.bundle,
            &Query {
                text,
                vector: vector.as_deref(),
                lang,
                k: o.k.unwrap_or(10).clamp(1, 100),
                mode,
                fusion: Fusion::default(),
                filter: o.filter.as_ref(),
            },
        );
        for h in &mut hits {
            h.fused += boost;
        }
        let verdict = if judge {
            confidence::verdict(&self.bundle, text, vector.as_deref(), lang)
        } else {
            confidence::judge(None, None, &[])
        };
        Ok((hits, verdict, respelled))
    }

    /// `text` with its unknown words respelt (`search::respell`), when an
    /// encoder's vocabulary is at hand and a word changes.
    fn respelled(&self, text: &str) -> Result<Option<String>, JsValue> {
        let Some(enc) = &self.encoder else {
            return Ok(None);
        };
        let enc = borrowed(enc)?;
        Ok(
            match crate::search::respell::as_searched(&self.bundle.lexical, &enc, text) {
                std::borrow::Cow::Owned(t) => Some(t),
                std::borrow::Cow::Borrowed(_) => None,
            },
        )
    }

    /// Embedding rows to fetch before `text` can be searched semantically
    /// (see `Encoder.rowRanges`); empty without an encoder.
    #[wasm_bindgen(js_name = rowRanges)]
    pub fn row_ranges(&self, text: &str) -> Result<JsValue, JsValue> {
        let text = cut_query(text);
        let respelled = self.respelled(text)?;
        let text = respelled.as_deref().unwrap_or(text);
        match &self.encoder {
            Some(enc) if !text.trim().is_empty() => {
                contract::row_ranges(borrowed(enc)?.row_ranges(text, TextKind::Query))
            }
            _ => Ok(js_sys::Array::new().into()),
        }
    }

    /// See `Encoder.addRows`.
    #[wasm_bindgen(js_name = addRows)]
    pub fn add_rows(&mut self, first_block: u32, bytes: &[u8]) -> Result<u32, JsValue> {
        let enc = self.shared_encoder()?;
        let mut enc = enc
            .try_borrow_mut()
            .map_err(|_| js_err(Error::Encoder("the encoder is in use".into())))?;
        enc.add_rows(first_block, bytes).map_err(js_err)
    }

    /// See `Encoder.addShard`.
    #[wasm_bindgen(js_name = addShard)]
    pub fn add_shard(&mut self, name: &str, bytes: Vec<u8>) -> Result<(), JsValue> {
        let enc = self.shared_encoder()?;
        let mut enc = enc
            .try_borrow_mut()
            .map_err(|_| js_err(Error::Encoder("the encoder is in use".into())))?;
        enc.add_shard(name, bytes).map_err(js_err)
    }

    fn shared_encoder(&self) -> Result<&Rc<RefCell<Encoder>>, JsValue> {
        self.encoder
            .as_ref()
            .ok_or_else(|| js_err(Error::Input("no encoder attached yet (setEncoder)".into())))
    }

    /// The language a query is written in (ISO 639-1), or `null` when it
    /// is too short or too mixed to tell: for the widget's events, so a site
    /// sees which languages its readers search in.
    #[wasm_bindgen(js_name = queryLanguage)]
    pub fn query_language(&self, text: &str) -> Option<String> {
        crate::lang::detect_language(cut_query(text)).map(str::to_string)
    }

    /// Pages and chunks per language, from the manifest:
    /// `{"<lang>": {pages, chunks}}`.
    pub fn languages(&self) -> Result<JsValue, JsValue> {
        contract::languages(&self.bundle.manifest.languages)
    }
}
