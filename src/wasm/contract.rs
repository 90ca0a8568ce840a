//! The one contract between the wasm module and JS. Every value that
//! crosses to JS is a plain object or array with camelCase keys (the structs
//! below, serialised by `serde-wasm-bindgen` as JSON-compatible values), a
//! string, a number or a typed array; never a JSON string to parse again.
//! Every failure is a JS `Error` with the message, a stable `code`
//! (`Error::code`) and, when it is about a file, that file's name as `file`.
//!
//! The structs here are the boundary's own: the native types keep their
//! snake_case serde form (the CLI's `--json` output), and a change to either
//! side is a change made here on purpose.

use std::collections::BTreeMap;

use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::bundle::LangCount;
use crate::error::Error;
use crate::model::encoder::RowRange;
use crate::search::confidence::Verdict;
use crate::search::{Hit, Section};

/// A failure as JS sees it: an `Error` with `message`, `code` and, when the
/// failure is about a file, `file`.
pub(super) fn js_err(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    let _ = js_sys::Reflect::set(&err, &"code".into(), &e.code().into());
    if let Some(f) = e.file() {
        let _ = js_sys::Reflect::set(&err, &"file".into(), &f.into());
    }
    err.into()
}

/// A boundary value as a plain JS value (maps become objects, `None` null).
pub(super) fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| {
            js_err(Error::Encoder(format!(
                "a result could not be handed to JS: {e}"
            )))
        })
}

/// The compressed form of a pack or bundle file (`PackLoader.encodedAs`,
/// `BundleLoader.encodedAs`): what to fetch instead of the plain file from
/// a host that does not compress, and how to decode it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JsEncoded<'a> {
    /// "gzip": decode with `DecompressionStream("gzip")`.
    pub encoding: &'a str,
    /// The compressed file's name, beside the plain one.
    pub name: &'a str,
    /// Size of the compressed file.
    pub bytes: f64,
    /// Size of the content it decodes to (what `add` checks).
    pub decoded_bytes: f64,
}

/// `undefined` for a file without a compressed form, else its [`JsEncoded`].
pub(super) fn encoded(entry: Option<&impl crate::format::Listed>) -> Result<JsValue, JsValue> {
    let Some((e, content)) = entry.and_then(|f| f.encoded().map(|e| (e, f.bytes()))) else {
        return Ok(JsValue::UNDEFINED);
    };
    to_js(&JsEncoded {
        encoding: match e.encoding {
            crate::format::Encoding::Gzip => "gzip",
        },
        name: &e.name,
        bytes: e.bytes as f64,
        decoded_bytes: content as f64,
    })
}

/// One search result (`Engine.search`): a page, with the section that
/// matched best and up to three more beneath it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JsHit<'a> {
    pub page_id: &'a str,
    pub url: &'a str,
    pub title: &'a str,
    pub lang: &'a str,
    pub heading: &'a str,
    pub chunk: u32,
    pub snippet: Option<&'a str>,
    /// `[start, end)` UTF-8 byte ranges of `snippet` that match query terms.
    pub highlights: &'a [(usize, usize)],
    pub dense: Option<f32>,
    pub lexical: Option<f32>,
    pub fused: f32,
    pub also_in: &'a [String],
    pub matched_lang: Option<&'a str>,
    pub sections: Vec<JsSection<'a>>,
}

/// Another matching section of a result's page.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JsSection<'a> {
    pub heading: &'a str,
    pub url: &'a str,
    pub chunk: u32,
    pub snippet: Option<&'a str>,
    pub highlights: &'a [(usize, usize)],
}

impl<'a> From<&'a Section> for JsSection<'a> {
    fn from(s: &'a Section) -> Self {
        JsSection {
            heading: &s.heading,
            url: &s.url,
            chunk: s.chunk,
            snippet: s.snippet.as_deref(),
            highlights: &s.highlights,
        }
    }
}

impl<'a> From<&'a Hit> for JsHit<'a> {
    fn from(h: &'a Hit) -> Self {
        JsHit {
            page_id: &h.page_id,
            url: &h.url,
            title: &h.title,
            lang: &h.lang,
            heading: &h.heading,
            chunk: h.chunk,
            snippet: h.snippet.as_deref(),
            highlights: &h.highlights,
            dense: h.dense,
            lexical: h.lexical,
            fused: h.fused,
            also_in: &h.also_in,
            matched_lang: h.matched_lang.as_deref(),
            sections: h.sections.iter().map(JsSection::from).collect(),
        }
    }
}

/// `Engine.search`'s answer.
pub(super) fn hits(hits: &[Hit]) -> Result<JsValue, JsValue> {
    to_js(&hits.iter().map(JsHit::from).collect::<Vec<_>>())
}

/// `Engine.answer`'s answer: the hits, and how sure they are.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JsAnswer<'a> {
    pub hits: Vec<JsHit<'a>>,
    /// The best match is weak (`search::confidence`); null: not judged.
    pub low_confidence: Option<bool>,
    pub confidence: JsConfidence<'a>,
    /// The query as searched when words of it were respelt
    /// (`search::respell`), else null.
    pub respelled: Option<&'a str>,
}

/// What `lowConfidence` was judged on.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JsConfidence<'a> {
    /// The query's best dense score over every chunk (null: no query vector).
    pub score: Option<f32>,
    /// The bundle's level it was compared with (null: the bundle has none).
    pub level: Option<f32>,
    /// The language of that level; null for the bundle's fallback level.
    pub level_lang: Option<&'a str>,
}

pub(super) fn answer(
    hits: &[Hit],
    v: &Verdict,
    respelled: Option<&str>,
) -> Result<JsValue, JsValue> {
    to_js(&JsAnswer {
        respelled,
        hits: hits.iter().map(JsHit::from).collect(),
        low_confidence: v.low,
        confidence: JsConfidence {
            score: v.score,
            level: v.level,
            level_lang: v.level_lang.as_deref(),
        },
    })
}

/// A byte range of an embedding row shard to fetch (`rowRanges`); `end`
/// is exclusive.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JsRowRange<'a> {
    pub file: &'a str,
    pub start: u64,
    pub end: u64,
    pub first_block: u32,
    pub blocks: u32,
    pub block_bytes: u64,
}

/// `rowRanges`' answer.
pub(super) fn row_ranges(ranges: crate::error::Result<Vec<RowRange>>) -> Result<JsValue, JsValue> {
    let ranges = ranges.map_err(js_err)?;
    let out: Vec<JsRowRange> = ranges
        .iter()
        .map(|r| JsRowRange {
            file: &r.file,
            start: r.start,
            end: r.end,
            first_block: r.first_block,
            blocks: r.blocks,
            block_bytes: r.block_bytes,
        })
        .collect();
    to_js(&out)
}

/// `Encoder.tokenInfo`: whether a text fits the model's token budget.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JsTokenInfo {
    pub tokens: u32,
    /// The token count before truncation, or null when nothing was cut.
    pub truncated_from: Option<u32>,
}

/// Pages and chunks of one language of the bundle (`Engine.languages`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JsLanguage {
    pub pages: u32,
    pub chunks: u32,
}

/// `Engine.languages`' answer: `{ "<lang>": {pages, chunks} }`.
pub(super) fn languages(langs: &BTreeMap<String, LangCount>) -> Result<JsValue, JsValue> {
    let out: BTreeMap<&str, JsLanguage> = langs
        .iter()
        .map(|(l, c)| {
            (
                l.as_str(),
                JsLanguage {
                    pages: c.pages as u32,
                    chunks: c.chunks as u32,
                },
            )
        })
        .collect();
    to_js(&out)
}
