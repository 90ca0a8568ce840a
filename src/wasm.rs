//! The wasm surface: few coarse calls, typed arrays across, and errors as JS
//! `Error`s carrying a stable `code` property. Nothing here panics on bad
//! input; the panic hook is only there to make real bugs readable.

use std::collections::BTreeMap;

use js_sys::{Float32Array, Uint32Array};
use wasm_bindgen::prelude::*;

use crate::error::Error;
use crate::model::pack::{verify_file, Pack, PackManifest};
use crate::model::tokenizer::TextTokenizer;
use crate::model::{Encoder, TextKind};

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
        let files = std::mem::take(&mut self.files);
        let mut files = files;
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
