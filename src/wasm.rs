//! The wasm surface: few coarse calls, typed arrays across, and errors as JS
//! `Error`s carrying a stable `code` property. Nothing here panics on bad
//! input; the panic hook is only there to make real bugs readable.

use std::collections::BTreeMap;

use js_sys::{Float32Array, Uint32Array};
use wasm_bindgen::prelude::*;

use crate::bundle::{verify_shard, Bundle, BundleManifest, ShardKind};
use crate::error::Error;
use crate::model::pack::{verify_file, Pack, PackManifest};
use crate::model::tokenizer::TextTokenizer;
use crate::model::{Encoder, TextKind};
use crate::search::{search, Fusion, Mode, Query};

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

fn js_err(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    let _ = js_sys::Reflect::set(&err, &"code".into(), &e.code().into());
    err.into()
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

    /// Names of the files still to add.
    pub fn missing(&self) -> Vec<String> {
        self.manifest
            .files
            .iter()
            .filter(|f| !self.files.contains_key(&f.name))
            .map(|f| f.name.clone())
            .collect()
    }

    /// Total bytes the pack's files take.
    #[wasm_bindgen(js_name = totalBytes)]
    pub fn total_bytes(&self) -> f64 {
        self.manifest.files.iter().map(|f| f.bytes as f64).sum()
    }

    /// Adds one file, checking its size and sha256 against the manifest.
    pub fn add(&mut self, name: &str, bytes: Vec<u8>) -> Result<(), JsValue> {
        let entry = self
            .manifest
            .file(name)
            .ok_or_else(|| js_err(Error::Input(format!("`{name}` is not a file of this pack"))))?;
        verify_file(entry, &bytes).map_err(js_err)?;
        self.files.insert(name.to_string(), bytes);
        Ok(())
    }

    /// Builds the encoder once every file is in.
    pub fn build(mut self) -> Result<WasmEncoder, JsValue> {
        let mut files = std::mem::take(&mut self.files);
        let pack = Pack::from_files(self.manifest, |n| Ok(files.remove(n))).map_err(js_err)?;
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
        let o = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&o, &"tokens".into(), &(e.ids.len() as u32).into());
        let trunc = e
            .truncated_from
            .map(|n| JsValue::from(n as u32))
            .unwrap_or(JsValue::NULL);
        let _ = js_sys::Reflect::set(&o, &"truncatedFrom".into(), &trunc);
        Ok(o.into())
    }

    pub fn dim(&self) -> usize {
        self.inner.dim()
    }

    /// The pack manifest as JSON.
    pub fn manifest(&self) -> String {
        serde_json::to_string(self.inner.manifest()).unwrap_or_default()
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

    /// Ids with special tokens, untruncated.
    pub fn encode(&self, text: &str) -> Result<Uint32Array, JsValue> {
        let ids = self.inner.ids(text).map_err(js_err)?;
        Ok(Uint32Array::from(ids.as_slice()))
    }
}

/// Collects a search bundle's shards; the engine is usable (lexically) as
/// soon as the page table, vectors and lexical index are in.
#[wasm_bindgen]
pub struct BundleLoader {
    manifest: BundleManifest,
    files: BTreeMap<String, Vec<u8>>,
}

#[wasm_bindgen]
impl BundleLoader {
    /// Parses `manifest.json`; fails on another bundle format or version.
    #[wasm_bindgen(constructor)]
    pub fn new(manifest_json: &str) -> Result<BundleLoader, JsValue> {
        Ok(BundleLoader {
            manifest: BundleManifest::parse(manifest_json.as_bytes()).map_err(js_err)?,
            files: BTreeMap::new(),
        })
    }

    /// Shards needed before the first (lexical) search.
    pub fn required(&self) -> Vec<String> {
        self.manifest
            .shards
            .iter()
            .filter(|s| s.kind != ShardKind::Fragments && !self.files.contains_key(&s.name))
            .map(|s| s.name.clone())
            .collect()
    }

    /// Fragment shards (snippet text), in order.
    pub fn fragments(&self) -> Vec<String> {
        self.manifest
            .fragment_shards()
            .map(|s| s.name.clone())
            .collect()
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
        verify_shard(s, &bytes).map_err(js_err)?;
        self.files.insert(name.to_string(), bytes);
        Ok(())
    }

    pub fn build(mut self) -> Result<Engine, JsValue> {
        let mut files = std::mem::take(&mut self.files);
        let bundle =
            Bundle::from_files(self.manifest, |n| Ok(files.remove(n)), false).map_err(js_err)?;
        Ok(Engine {
            bundle,
            encoder: None,
        })
    }
}

/// Search over one bundle: lexical at once, hybrid once an encoder is attached.
#[wasm_bindgen]
pub struct Engine {
    bundle: Bundle,
    encoder: Option<Encoder>,
}

/// Longest query text searched (a pasted page is cut, not refused).
const MAX_QUERY_CHARS: usize = 2000;

#[wasm_bindgen]
impl Engine {
    /// Adds a fragment shard (by its index in `BundleLoader.fragments()`).
    #[wasm_bindgen(js_name = addFragments)]
    pub fn add_fragments(&mut self, index: usize, bytes: &[u8]) -> Result<(), JsValue> {
        self.bundle.add_fragments(index, bytes).map_err(js_err)
    }

    /// Attaches the encoder; it must be the pack the bundle was built with.
    #[wasm_bindgen(js_name = setEncoder)]
    pub fn set_encoder(&mut self, encoder: WasmEncoder) -> Result<(), JsValue> {
        let got = encoder.inner.manifest().pack_id();
        let want = &self.bundle.manifest.model.pack_id;
        if &got != want {
            let err = js_sys::Error::new(&format!(
                "the model pack ({got}) is not the one this bundle was built with ({want}); rebuild the bundle"
            ));
            let _ = js_sys::Reflect::set(&err, &"code".into(), &"model_mismatch".into());
            return Err(err.into());
        }
        self.encoder = Some(encoder.inner);
        Ok(())
    }

    #[wasm_bindgen(js_name = hasEncoder)]
    pub fn has_encoder(&self) -> bool {
        self.encoder.is_some()
    }

    /// Runs a query. `options`: `{lang?: string, k?: number, mode?: "hybrid"|"dense"|"lexical"}`.
    /// Returns an array of hits (see `search::Hit`, camelCase-free snake_case fields).
    pub fn search(&self, text: &str, options: JsValue) -> Result<JsValue, JsValue> {
        #[derive(serde::Deserialize, Default)]
        struct Opts {
            lang: Option<String>,
            k: Option<usize>,
            mode: Option<String>,
        }
        let o: Opts = if options.is_undefined() || options.is_null() {
            Opts::default()
        } else {
            serde_wasm_bindgen::from_value(options)
                .map_err(|e| js_err(Error::Input(format!("bad search options: {e}"))))?
        };
        let mode: Mode = match o.mode.as_deref() {
            None => Mode::Hybrid,
            Some(m) => m.parse().map_err(|e: String| js_err(Error::Input(e)))?,
        };
        let cut = text
            .char_indices()
            .nth(MAX_QUERY_CHARS)
            .map(|(i, _)| i)
            .unwrap_or(text.len());
        let text = &text[..cut];
        if text.trim().is_empty() {
            return Ok(js_sys::Array::new().into());
        }
        let vector = match (&self.encoder, mode) {
            (Some(enc), Mode::Hybrid | Mode::Dense) => {
                Some(enc.embed(text, TextKind::Query).map_err(js_err)?.vector)
            }
            _ => None,
        };
        let hits = search(
            &self.bundle,
            &Query {
                text,
                vector: vector.as_deref(),
                lang: o.lang.as_deref().filter(|l| !l.is_empty()),
                k: o.k.unwrap_or(10).clamp(1, 100),
                mode,
                fusion: Fusion::default(),
            },
        );
        let ser = serde_wasm_bindgen::Serializer::json_compatible();
        serde::Serialize::serialize(&hits, &ser).map_err(|e| js_err(Error::Encoder(e.to_string())))
    }

    /// Pages and chunks per language, from the manifest (JSON).
    pub fn languages(&self) -> String {
        serde_json::to_string(&self.bundle.manifest.languages).unwrap_or_default()
    }
}
