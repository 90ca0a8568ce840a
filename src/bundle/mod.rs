//! The search bundle's format: one small manifest naming immutable,
//! content-hashed shards (page/chunk table, int8 vectors, lexical index, text
//! fragments) and the model pack they were built with. Written natively
//! ([`write`], by `crossfind index`), read natively and in the browser
//! (`search::Bundle`); every shard is checked against its size and sha256
//! before use, so a damaged shard is an error naming it.
//!
//! The vectors shard is a tensor file (`format::tensors`) holding one
//! `vectors` tensor of int8 rows with a scale each and, from bundles built
//! since the crowding correction, a `crowding` tensor (f32, one per chunk;
//! `search::Vectors::crowding`; a bundle without it ranks as before); the
//! lexical shard's format is specified in `search/lexical.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::format::manifest::{check_relative_name, check_relative_path, parse_manifest};
use crate::format::{sha256_hex, Encoded, Listed};

mod columns;
#[cfg(not(target_arch = "wasm32"))]
pub mod write;

pub use columns::{parse_columns, to_columns};

/// Where a piece of a lexical index in term-range pieces is
/// (`search::lexical`'s head lists one per piece) and what it must hash to.
#[derive(Clone, Debug, PartialEq)]
pub struct PieceRef {
    /// Its first term ("" for the first piece).
    pub first: String,
    /// Its file: an index among the bundle's `lexical_terms` shards.
    pub file: u32,
    /// Its stored bytes in that file, which `sha256` is of.
    pub start: u64,
    pub len: u64,
    /// The sha256 of its stored bytes (head versions 2 and 3); `None`
    /// (version 4): the piece is a zlib stream, checked by its Adler-32.
    pub sha256: Option<[u8; 32]>,
    /// The length it inflates to, when it is stored deflated (head
    /// version 3, or 4 as zlib); `None`: stored as it is (version 2).
    pub plain: Option<u64>,
}

/// The name of the vectors shard's optional f32 tensor of the chunks'
/// crowding (`search::Vectors::crowding`).
pub const CROWDING_TENSOR: &str = "crowding";

pub const BUNDLE_FORMAT: &str = "crossfind-bundle";
/// 2: a fragment shard numbers its chunks from 0 (the first chunk whose
/// `ChunkMeta::frag` is that shard), so that its bytes, and its name, do
/// not change when a page before it gains or loses a chunk; it names its
/// first page, and shard names carry no index. Version 1 bundles (chunk ids
/// counted over the whole bundle) still read.
///
/// 3: shards may also be stored gzip-compressed (`Shard::encoded`,
/// `format::encoding`), and the model folder's `pack.json` may list
/// compressed forms too. A bundle with no compressed file is still written
/// as version 2, which older readers read.
///
/// 4: the lexical index may come in term-range pieces: the `lexical` shard
/// is then its head (document lengths and the piece table with each
/// piece's sha256, `search/lexical/pieces.rs`) and the pieces are byte
/// ranges of `lexical_terms` shards, fetched per query. A bundle whose
/// index is in one piece is still written as version 3 (or 2). Also in 4:
/// the docs shard may leave the display fields to the fragment shards
/// (`BundleManifest::display_in_fragments`).
///
/// 5: the dense first stage may come as sign codes (a `vector_codes`
/// shard, `search/dense/codes.rs`): the browser loads them up front and
/// fetches the rows of a query's candidate pages from the vectors shard by
/// byte range, so that shard then has no gzip form. A bundle without codes
/// is still written as version 4 or lower.
///
/// 6: the docs shard of a bundle whose display fields travel in the
/// fragment shards is written in columns (`BundleManifest::docs_columns`,
/// `bundle/columns.rs`), a quarter of its gzip size. Other bundles are
/// still written as version 5 or lower. Also in 6: a shard's gzip form is
/// listed by its encoding and size only (`format::Encoded`), and lexical
/// pieces are stored deflated (head version 3, half their bytes), so a
/// bundle with pieces is written as 6 too; version 4 is read, no longer
/// written.
///
/// 7: snippet text comes in records, one a page, instead of fragment
/// shards of several pages (`ShardKind::Snippets`, [`Docs::records`]):
/// each record is its page's [`Fragments`] as a zlib stream, the records
/// are concatenated in page order into `snippets` shards, and the docs
/// columns give each record's stored length and each file's number of
/// records ([`Docs::record_files`]). A file ends where a page id's hash
/// says so (about one page in [`SNIPPET_PAGES_PER_FILE`]) or before it
/// would pass [`SNIPPETS_FILE_BYTES`], so an edit renames the files of
/// the pages it touches, not every file after them. The browser
/// fetches the records of the hits it shows by byte range, several in
/// one request, instead of a shard of some twenty pages each; the
/// manifest lists one file per some 64 pages instead of one per 24. Written
/// for bundles whose docs shard is in columns (so 6 is read, no longer
/// written).
///
/// 8: lexical pieces are zlib streams of about 4 kB, listed in the head
/// without a sha256 (head version 4, `search/lexical/pieces.rs`); the
/// manifest lists the `snippets` files as `[hash, bytes]`
/// ([`BundleManifest::snippet_files`]); and page ids travel in the snippet
/// records only. Each record names its
/// page (`Fragments::page`) and a hit is shown with its record, so the docs
/// columns leave the ids out (on a 5,040-page site they were half of the
/// docs shard every first query fetches: 17.9 of 35.2 kB gzip). A page
/// with no other version is its own translation group, named
/// [`own_group`] by its number until its record names it. Version 7 is
/// read, no longer written.
pub const BUNDLE_VERSION: u32 = 8;
/// The version a bundle with snippet records whose docs columns list
/// the page ids was written as.
pub const BUNDLE_VERSION_RECORDS: u32 = 7;
/// The translation group of page `page` of a version 8 bundle when it has
/// no other version: a key no group written by the indexer has (groups
/// are trimmed text, without control characters).
pub fn own_group(page: usize) -> String {
    format!("\u{1}{page}")
}
/// The most bytes of snippet records in one `snippets` shard (a record
/// longer than this is a file of its own): each far below the size static
/// hosts accept (Cloudflare Pages: 25 MiB).
pub const SNIPPETS_FILE_BYTES: u64 = 2 << 20;
/// About how many pages' snippet records share a `snippets` shard: a file
/// ends after a page whose id hashes to 0 modulo this. An edit renames
/// the files of the pages it touches, which the offline copy then fetches
/// again whole (about 80 kB each on the demo's pages), so files are kept
/// small; 5,000 pages make about 80 files.
pub const SNIPPET_PAGES_PER_FILE: usize = 64;
/// The most bytes one snippet record may inflate to (its page's text).
pub const MAX_RECORD_TEXT: usize = 32 << 20;
/// The version a bundle with lexical pieces and the docs shard as one
/// object a page and a chunk (fragment shards) is written as.
pub const BUNDLE_VERSION_PIECES: u32 = 6;
/// The version a bundle with sign codes, a one-piece lexical index and
/// the docs shard as one object a page and a chunk is written as.
pub const BUNDLE_VERSION_CODES: u32 = 5;
/// The version a bundle with compressed files and a one-piece lexical
/// index is written as.
pub const BUNDLE_VERSION_GZIP: u32 = 3;
/// The version a bundle without compressed files is written as.
pub const BUNDLE_VERSION_PLAIN: u32 = 2;
/// From this version on, a shard's gzip form is listed by its encoding
/// and size only (`format::Encoded`).
const NAMES_IMPLIED_FROM: u32 = 6;
/// The oldest bundle format version this build still reads.
pub const BUNDLE_OLDEST_VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";

/// What a shard holds.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ShardKind {
    Docs,
    Vectors,
    Lexical,
    Fragments,
    /// Pieces of the lexical index (version 4), as byte ranges its head lists.
    LexicalTerms,
    /// Sign codes of the chunk vectors (version 5): the dense first stage
    /// of a large bundle, whose rows are then fetched by byte range.
    VectorCodes,
    /// Snippet records, one a page (version 7, [`Docs::records`]),
    /// fetched by byte range.
    Snippets,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Shard {
    pub name: String,
    pub kind: ShardKind,
    /// Size and sha256 of the content (the plain file).
    pub bytes: u64,
    pub sha256: String,
    /// The gzip form beside it (version 3), which the browser fetches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoded: Option<Encoded>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelRef {
    /// `PackManifest::pack_id` of the pack the vectors were made with.
    pub pack_id: String,
    pub id: String,
    pub dim: usize,
    /// Folder of the pack, relative to the bundle. (Bundles written before
    /// 2026-12-06 also list here the embedding rows the offline copy keeps,
    /// `offline_rows`; nothing reads them: `offline.json` has them.)
    pub dir: String,
}

#[cfg(test)]
impl ModelRef {
    /// A model named `test` of `dim` dimensions in `model/`, with no
    /// offline rows: what unit tests that make up a bundle need.
    pub(crate) fn for_tests(dim: usize) -> Self {
        ModelRef {
            pack_id: "0000000000000000".into(),
            id: "test".into(),
            dim,
            dir: "model".into(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LangCount {
    pub pages: usize,
    pub chunks: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BundleManifest {
    pub format: String,
    pub version: u32,
    pub model: ModelRef,
    pub pages: usize,
    pub chunks: usize,
    pub languages: BTreeMap<String, LangCount>,
    pub shards: Vec<Shard>,
    /// The levels below which a query's best match is weak
    /// (`search::confidence`); bundles written before them have none, and
    /// their searches report no low-confidence verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<ConfidenceLevels>,
    /// Version 4: the docs shard leaves out page URLs and titles and chunk
    /// headings (`Docs::without_display`), which travel in the fragment
    /// shards of their chunks (`Fragments::pages`, `Fragments::headings`),
    /// fetched for the hits shown; a bundle fills them in as it loads those.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub display_in_fragments: bool,
    /// Version 6: the docs shard is in columns (`bundle::to_columns`);
    /// only with `display_in_fragments`, since columns hold no display
    /// fields.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub docs_columns: bool,
    /// Version 8, as written: the `snippets` shards as `[hash, bytes]`,
    /// the file `snippets.<hash>.bin` whose content's sha256 starts with
    /// `hash` ([`SNIPPET_HASH_HEX`] hex digits). On a 5,040-page site the
    /// 75 files listed as shards were 10.9 of the manifest's 13 kB, which
    /// every first query fetches. [`parse`](Self::parse) lists them in
    /// `shards` (that start as their `sha256`) and leaves this empty;
    /// `to_json` writes them here again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snippet_files: Vec<(String, u64)>,
}

/// How many hex digits of a `snippets` file's sha256 a version 8 manifest
/// lists (its name's): 48 bits, against a damaged or replaced file. Each
/// record in it has its own length and Adler-32 besides
/// (docs/security.md).
pub const SNIPPET_HASH_HEX: usize = crate::format::SHORT_SHA256_HEX;

/// When a query's best match is too weak to trust, set by the indexer
/// without labelled queries (`search::confidence` says how): a query whose
/// best dense score (the cosine of its search vector with the closest
/// chunk) is below its language's level is flagged low-confidence.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConfidenceLevels {
    /// How the levels were set (`search::confidence::METHOD`).
    pub method: String,
    /// Per query language (ISO 639-1): the level.
    pub dense: BTreeMap<String, f32>,
    /// The level for a query in a language not in `dense`.
    pub fallback: f32,
}

impl BundleManifest {
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut m: BundleManifest = parse_manifest(
            MANIFEST,
            bytes,
            BUNDLE_FORMAT,
            BUNDLE_OLDEST_VERSION..=BUNDLE_VERSION,
        )?;
        if !m.snippet_files.is_empty() && m.version < 8 {
            return Err(Error::corrupt(
                MANIFEST,
                "lists snippet_files, which only version 8 has",
            ));
        }
        let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        if let Some(s) = m
            .shards
            .iter()
            .find(|s| s.sha256.len() != 64 || !s.sha256.chars().all(hex))
        {
            return Err(Error::corrupt(
                MANIFEST,
                format!("shard {:?} has no sha256 of 64 hex digits", s.name),
            ));
        }
        for (hash, bytes) in std::mem::take(&mut m.snippet_files) {
            if hash.len() != SNIPPET_HASH_HEX || !hash.chars().all(hex) {
                return Err(Error::corrupt(
                    MANIFEST,
                    format!("snippets file {hash:?} is not named by {SNIPPET_HASH_HEX} hex digits"),
                ));
            }
            m.shards.push(Shard {
                name: format!("snippets.{hash}.bin"),
                kind: ShardKind::Snippets,
                bytes,
                sha256: hash,
                encoded: None,
            });
        }
        for s in &mut m.shards {
            check_relative_name(MANIFEST, &s.name)?;
            if let Some(e) = &mut s.encoded {
                if e.name.is_empty() && m.version >= NAMES_IMPLIED_FROM {
                    e.name = format!("{}{}", s.name, e.encoding.suffix());
                }
                check_relative_name(MANIFEST, &e.name)?;
            }
        }
        check_relative_path(MANIFEST, &m.model.dir)?;
        if let Some(c) = &m.confidence {
            let bad = std::iter::once(("fallback", &c.fallback))
                .chain(c.dense.iter().map(|(l, v)| (l.as_str(), v)))
                .find(|(_, v)| !(-1.0..=1.0).contains(*v));
            if let Some((l, v)) = bad {
                return Err(Error::corrupt(
                    MANIFEST,
                    format!("confidence level {l} is {v}, not a cosine between -1 and 1"),
                ));
            }
        }
        let has_snippets = m.snippet_shards().next().is_some();
        let has_fragments = m.fragment_shards().next().is_some();
        if has_snippets != m.snippet_records() || (has_snippets && has_fragments) {
            return Err(Error::corrupt(
                MANIFEST,
                "a version 7 bundle with docs columns lists snippets shards and no fragment shards; others no snippets shards",
            ));
        }
        if m.docs_columns && !(m.display_in_fragments && m.version >= 6) {
            return Err(Error::corrupt(
                MANIFEST,
                "docs_columns needs display_in_fragments and version 6 or later",
            ));
        }
        for kind in [ShardKind::Docs, ShardKind::Vectors, ShardKind::Lexical] {
            if m.shards.iter().filter(|s| s.kind == kind).count() != 1 {
                return Err(Error::corrupt(
                    MANIFEST,
                    format!("expected exactly one {kind:?} shard"),
                ));
            }
        }
        if m.shards
            .iter()
            .filter(|s| s.kind == ShardKind::VectorCodes)
            .count()
            > 1
        {
            return Err(Error::corrupt(
                MANIFEST,
                "expected at most one VectorCodes shard",
            ));
        }
        Ok(m)
    }

    /// The sign codes shard, when the bundle's dense first stage is in
    /// codes (version 5; its rows are fetched by byte range).
    pub fn codes_shard(&self) -> Option<&Shard> {
        self.shards
            .iter()
            .find(|s| s.kind == ShardKind::VectorCodes)
    }

    /// The shard semantic search loads up front: the sign codes when the
    /// bundle has them, else the vectors.
    pub fn semantic_shard(&self) -> &Shard {
        self.codes_shard()
            .unwrap_or_else(|| self.shard(ShardKind::Vectors))
    }

    pub fn shard(&self, kind: ShardKind) -> &Shard {
        self.shards
            .iter()
            .find(|s| s.kind == kind)
            .expect("checked by parse")
    }

    pub fn fragment_shards(&self) -> impl Iterator<Item = &Shard> {
        self.shards
            .iter()
            .filter(|s| s.kind == ShardKind::Fragments)
    }

    /// The files of snippet records (version 7), in order.
    pub fn snippet_shards(&self) -> impl Iterator<Item = &Shard> {
        self.shards.iter().filter(|s| s.kind == ShardKind::Snippets)
    }

    /// Whether snippet text comes in records, one a page (version 7),
    /// rather than fragment shards.
    pub fn snippet_records(&self) -> bool {
        self.docs_columns && self.version >= BUNDLE_VERSION_RECORDS
    }

    /// Whether page ids come with the snippet records only (version 8):
    /// the docs columns leave them out.
    pub fn ids_in_records(&self) -> bool {
        self.snippet_records() && self.version >= 8
    }
}

impl Listed for Shard {
    fn name(&self) -> &str {
        &self.name
    }
    fn bytes(&self) -> u64 {
        self.bytes
    }
    fn sha256(&self) -> &str {
        &self.sha256
    }
    fn encoded(&self) -> Option<&Encoded> {
        self.encoded.as_ref()
    }
}

/// Content-hashed shard file name: `stem.<12 hex>.ext`.
pub fn hashed_name(stem: &str, ext: &str, bytes: &[u8]) -> String {
    format!(
        "{stem}.{}.{ext}",
        &sha256_hex(bytes)[..crate::format::SHORT_SHA256_HEX]
    )
}

/// Whether `name` is a name [`hashed_name`] gives (`stem.<12 hex>.ext`,
/// the stem of lowercase letters, digits and `-`), or its gzip form's.
pub fn is_hashed_name(name: &str) -> bool {
    let name = name.strip_suffix(".gz").unwrap_or(name);
    let mut parts = name.split('.');
    let (Some(stem), Some(hash), Some(ext), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    !stem.is_empty()
        && stem
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && hash.len() == crate::format::SHORT_SHA256_HEX
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && !ext.is_empty()
        && ext.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A page of the site.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PageMeta {
    pub id: String,
    pub url: String,
    pub lang: String,
    pub title: String,
    pub group: String,
    /// The page's filter values by key (`product`, `version`, ...), as the
    /// site declares them; a search can be limited to pages with some.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filters: BTreeMap<String, Vec<String>>,
    /// The site's weight for the page (1 when absent): see
    /// `search::WEIGHT_SCALE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f32>,
}

impl PageMeta {
    /// Page `id` at `/{id}.html` (`{id}.html` when `id` starts with `/`),
    /// titled `id`, with no filters or weight: what tests and tools that make
    /// up a site need.
    pub fn new(id: &str, lang: &str, group: &str) -> Self {
        PageMeta {
            id: id.into(),
            url: format!("/{}.html", id.trim_start_matches('/')),
            lang: lang.into(),
            title: id.into(),
            group: group.into(),
            filters: Default::default(),
            weight: None,
        }
    }
}

/// A searchable chunk of a page section.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ChunkMeta {
    pub page: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
    pub heading: String,
    /// Index of the fragment shard holding this chunk's text.
    pub frag: u32,
    /// The section's weight, on top of its page's (absent: 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f32>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Docs {
    pub pages: Vec<PageMeta>,
    pub chunks: Vec<ChunkMeta>,
    /// The stored length of each snippet record (version 7: record `i`
    /// holds the chunks whose `frag` is `i`, the chunks of one page), in
    /// the order they are stored in the `snippets` shards. Empty in
    /// bundles with fragment shards.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<u32>,
    /// How many records each `snippets` shard holds, in the manifest's
    /// order (version 7; they add up to `records.len()`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub record_files: Vec<u32>,
}

impl Docs {
    /// Parses and checks the docs shard `name` against its manifest: page
    /// and chunk counts, and every chunk's page and fragment shard.
    pub fn parse(name: &str, bytes: &[u8], manifest: &BundleManifest) -> Result<Self> {
        let docs: Docs = if manifest.docs_columns {
            parse_columns(name, bytes, manifest.ids_in_records())?
        } else {
            serde_json::from_slice(bytes)
                .map_err(|e| Error::corrupt(name, format!("bad page table: {e}")))?
        };
        if docs.chunks.len() != manifest.chunks || docs.pages.len() != manifest.pages {
            return Err(Error::corrupt(
                name,
                "page/chunk counts disagree with the manifest",
            ));
        }
        let nfrag = docs.fragment_count(manifest);
        if manifest.version >= 2 && docs.chunks.windows(2).any(|w| w[1].frag < w[0].frag) {
            return Err(Error::corrupt(
                name,
                "chunks are not in the order of their fragment shards",
            ));
        }
        if let Some(c) = docs
            .chunks
            .iter()
            .find(|c| c.page as usize >= docs.pages.len() || c.frag as usize >= nfrag)
        {
            return Err(Error::corrupt(
                name,
                format!(
                    "chunk points at page {} / fragment {} that do not exist",
                    c.page, c.frag
                ),
            ));
        }
        Ok(docs)
    }

    /// The table without what only shows a hit (page URLs and titles,
    /// chunk headings: the fragment shards carry them, see
    /// `BundleManifest::display_in_fragments`): a heading becomes
    /// [`HEADING_ELSEWHERE`], or stays empty, since search tells sections
    /// with a heading from those without.
    pub fn without_display(&self) -> Docs {
        Docs {
            records: self.records.clone(),
            record_files: self.record_files.clone(),
            pages: self
                .pages
                .iter()
                .map(|p| PageMeta {
                    url: String::new(),
                    title: String::new(),
                    ..p.clone()
                })
                .collect(),
            chunks: self
                .chunks
                .iter()
                .map(|c| ChunkMeta {
                    heading: if c.heading.is_empty() {
                        String::new()
                    } else {
                        HEADING_ELSEWHERE.to_string()
                    },
                    ..c.clone()
                })
                .collect(),
        }
    }

    /// Fills in the display fields fragment shard `f` (parsed, `name`)
    /// carries for its pages and chunks.
    pub fn add_display(&mut self, name: &str, f: &Fragments) -> Result<()> {
        for (p, url, title) in &f.pages {
            let page = self
                .pages
                .get_mut(*p as usize)
                .ok_or_else(|| Error::corrupt(name, format!("page {p} does not exist")))?;
            page.url.clone_from(url);
            page.title.clone_from(title);
        }
        for (c, heading) in &f.headings {
            let chunk = self
                .chunks
                .get_mut(*c as usize)
                .ok_or_else(|| Error::corrupt(name, format!("chunk {c} does not exist")))?;
            chunk.heading.clone_from(heading);
        }
        Ok(())
    }

    /// Pages and chunks per page language, as the manifest counts them.
    pub fn languages(&self) -> BTreeMap<String, LangCount> {
        let mut languages: BTreeMap<String, LangCount> = BTreeMap::new();
        for p in &self.pages {
            languages.entry(p.lang.clone()).or_default().pages += 1;
        }
        for c in &self.chunks {
            if let Some(p) = self.pages.get(c.page as usize) {
                languages.entry(p.lang.clone()).or_default().chunks += 1;
            }
        }
        languages
    }
}

/// One fragment shard: the sentences of some chunks, for snippets.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Fragments {
    /// The id of the shard's first page (version 2), which keeps two
    /// shards of identical text apart.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub page: String,
    /// `(chunk, sentences)`. On disk (version 2) `chunk` counts from the
    /// shard's first chunk; once parsed it is the chunk's id in the bundle.
    pub chunks: Vec<(u32, Vec<String>)>,
    /// `(page, url, title)` of the pages whose chunks the shard holds, when
    /// the docs shard leaves them out (`BundleManifest::display_in_fragments`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<(u32, String, String)>,
    /// `(chunk, heading)` of its chunks with a heading, numbered as `chunks`,
    /// in the same case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headings: Vec<(u32, String)>,
}

/// What the docs shard holds for a chunk heading the fragment shards carry
/// (`Docs::without_display`): not a heading any page has, since headings
/// are trimmed text.
pub const HEADING_ELSEWHERE: &str = " ";

impl Fragments {
    /// A snippet record's stored bytes (version 7): this page's fragments
    /// as a zlib stream, whose Adler-32 checks the text.
    pub fn to_record(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("fragments serialise");
        miniz_oxide::deflate::compress_to_vec_zlib(&json, 9)
    }

    /// Parses snippet record `index` of file `name` (its stored bytes),
    /// whose chunk numbers start at `base`; it must name page `page`.
    pub fn parse_record(
        name: &str,
        index: usize,
        bytes: &[u8],
        base: u32,
        page: Option<&str>,
    ) -> Result<Self> {
        let what = |why: String| Error::corrupt(name, format!("snippet record {index}: {why}"));
        let json = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(bytes, MAX_RECORD_TEXT)
            .map_err(|e| what(format!("does not inflate ({:?})", e.status)))?;
        let f = Fragments::parse(name, &json, base).map_err(|e| match e {
            Error::Corrupt { why, .. } => what(why),
            other => other,
        })?;
        if let Some(page) = page.filter(|&p| p != f.page) {
            return Err(what(format!("holds page {:?}, not {page:?}", f.page)));
        }
        Ok(f)
    }

    /// Parses fragment shard `name`, whose chunk numbers start at `base`
    /// (see [`Docs::fragment_bases`]).
    pub fn parse(name: &str, bytes: &[u8], base: u32) -> Result<Self> {
        let mut f: Fragments = serde_json::from_slice(bytes)
            .map_err(|e| Error::corrupt(name, format!("bad fragments: {e}")))?;
        if f.chunks.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(Error::corrupt(name, "chunk ids are not sorted"));
        }
        for (id, _) in &mut f.headings {
            *id = id
                .checked_add(base)
                .ok_or_else(|| Error::corrupt(name, "chunk id out of range"))?;
        }
        for (id, _) in &mut f.chunks {
            *id = id
                .checked_add(base)
                .ok_or_else(|| Error::corrupt(name, "chunk id out of range"))?;
        }
        Ok(f)
    }
}

impl Docs {
    /// How many fragment shards (or, version 7, snippet records) the
    /// chunks' `frag` numbers count.
    pub fn fragment_count(&self, manifest: &BundleManifest) -> usize {
        if manifest.snippet_records() {
            self.records.len()
        } else {
            manifest.fragment_shards().count()
        }
    }

    /// The id of the first chunk of each of `nfrag` fragment shards, which
    /// version 2 shards count their chunks from (0 for version 1, whose
    /// shards use bundle-wide ids).
    pub fn fragment_bases(&self, version: u32, nfrag: usize) -> Vec<u32> {
        let mut bases = vec![0u32; nfrag];
        if version >= 2 {
            let mut seen = vec![false; nfrag];
            for (i, c) in self.chunks.iter().enumerate() {
                let f = c.frag as usize;
                if f < nfrag && !seen[f] {
                    seen[f] = true;
                    bases[f] = i as u32;
                }
            }
        }
        bases
    }
}
