//! Model packs: everything the encoder needs, as a folder of plain files named
//! by a small manifest (`pack.json`) that carries the model's profile and a
//! sha256 per file. Written natively by `crossfind model import`, read on both
//! sides (the browser hands us the bytes it fetched).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::roworder::{RowOrder, RowOrderInfo};
use super::tokenizer::TextTokenizer;
use crate::error::{Error, Result};
use crate::format::manifest::{check_relative_name, parse_manifest};
use crate::format::tensors::DType;
use crate::format::{hex, sha256_hex, verify_file, Encoded, Listed};

pub const PACK_FORMAT: &str = "crossfind-pack";
/// Version 2 added `embeddings.order`; version 1 packs (rows in id order)
/// are still read. Version 3 lists gzip forms of some files
/// (`FileEntry::encoded`): the copy `crossfind index` puts beside a bundle;
/// a pack without them is still written as version 2.
pub const PACK_VERSION: u32 = 3;
/// The version a pack without compressed forms is written as.
pub const PACK_VERSION_PLAIN: u32 = 2;
/// The oldest pack format version this build still reads.
pub const PACK_OLDEST_VERSION: u32 = 1;
pub const MANIFEST: &str = "pack.json";
pub const ENCODER_FILE: &str = "encoder.bin";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// Checksums of the embedding rows in small blocks, for loading rows on demand.
pub const BLOCKS_FILE: &str = "emb-blocks.bin";
/// Bytes of one block checksum in [`BLOCKS_FILE`]: the first 8 bytes of the
/// block's sha256 (against damage in transit, not against a forger who can
/// also rewrite `pack.json`).
pub const BLOCK_HASH_BYTES: usize = 8;
/// The tokenizer's vocabulary in flat binary form, derived from
/// [`TOKENIZER_FILE`] at import (see `unigram.rs`); packs that have it load
/// it instead of the JSON.
pub const VOCAB_FILE: &str = "vocab.bin";

/// Where the model came from and under which licence it may be shipped.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelInfo {
    pub id: String,
    pub source: String,
    pub license: String,
}

/// How the model is used: prefixes, pooling, dimension, token budget.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Profile {
    /// Prepended to queries before tokenisation (e5: `"query: "`).
    pub query_prefix: String,
    /// Prepended to passages (e5: `"passage: "`).
    pub passage_prefix: String,
    /// Pooling over token states; only `mean` (over the attention mask) today.
    pub pooling: Pooling,
    /// Output vectors are L2-normalised when true.
    pub normalize: bool,
    pub dim: usize,
    /// Tokens per input including the special tokens; longer input is truncated and reported.
    pub max_tokens: usize,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    Mean,
    Cls,
}

/// The BERT shape of the encoder.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Arch {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub vocab: usize,
    pub max_positions: usize,
    pub layer_norm_eps: f32,
}

/// The word embedding table, split in row shards outside the graph.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EmbeddingLayout {
    pub dtype: DType,
    pub rows: usize,
    pub rows_per_shard: usize,
    pub shards: Vec<String>,
    /// How to fetch rows on demand (HTTP Range on the shards, checked per
    /// block); packs without it load whole shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<BlockLayout>,
    /// Rows stored grouped by script (`model::roworder`); without it row
    /// `i` is token id `i`'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<RowOrderInfo>,
}

/// Rows in verifiable blocks: block `b` holds rows `b * rows ..`, never
/// across two shards; its checksum is entry `b` of [`BLOCKS_FILE`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BlockLayout {
    /// Rows per block (divides `rows_per_shard`).
    pub rows: usize,
    /// Byte offset of the first row inside each shard file.
    pub data_offsets: Vec<u64>,
}

/// One file of the pack.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    pub name: String,
    pub role: FileRole,
    /// Size and sha256 of the content (the plain file); the pack id hashes these.
    pub bytes: u64,
    pub sha256: String,
    /// The gzip form beside it (version 3), which the browser fetches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoded: Option<Encoded>,
}

impl Listed for FileEntry {
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

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FileRole {
    Encoder,
    Embeddings,
    Tokenizer,
    /// [`BLOCKS_FILE`].
    Blocks,
    /// [`VOCAB_FILE`].
    Vocab,
    /// The language directions search vectors drop
    /// ([`super::langbasis::LANG_BASIS_FILE`]). Computed at import, but it
    /// changes every search vector, so the pack id covers it.
    LanguageBasis,
}

impl FileRole {
    /// Files computed from other files of the pack at import: they do not
    /// change the model's numbers, so the pack id leaves them out.
    pub fn is_derived(self) -> bool {
        matches!(self, FileRole::Blocks | FileRole::Vocab)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PackManifest {
    pub format: String,
    pub version: u32,
    pub model: ModelInfo,
    pub profile: Profile,
    pub arch: Arch,
    pub embeddings: EmbeddingLayout,
    pub files: Vec<FileEntry>,
}

impl PackManifest {
    /// Parses and checks the manifest's format and version.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let m: PackManifest = parse_manifest(
            MANIFEST,
            bytes,
            PACK_FORMAT,
            PACK_OLDEST_VERSION..=PACK_VERSION,
        )?;
        m.validate()?;
        Ok(m)
    }

    fn validate(&self) -> Result<()> {
        let a = &self.arch;
        let bad = |why: String| Err(Error::corrupt(MANIFEST, why));
        if a.hidden == 0 || a.heads == 0 || !a.hidden.is_multiple_of(a.heads) {
            return bad(format!(
                "hidden size {} is not divisible by {} heads",
                a.hidden, a.heads
            ));
        }
        if self.profile.dim != a.hidden {
            return bad(format!(
                "profile dim {} differs from hidden size {}",
                self.profile.dim, a.hidden
            ));
        }
        if self.profile.max_tokens < 3 || self.profile.max_tokens > a.max_positions {
            return bad(format!(
                "max_tokens {} must be within 3..={}",
                self.profile.max_tokens, a.max_positions
            ));
        }
        let e = &self.embeddings;
        if e.rows_per_shard == 0 || e.shards.len() != e.rows.div_ceil(e.rows_per_shard) {
            return bad(format!(
                "{} embedding shards cannot hold {} rows of {}",
                e.shards.len(),
                e.rows,
                e.rows_per_shard
            ));
        }
        if let Some(b) = &e.blocks {
            if b.rows == 0
                || !e.rows_per_shard.is_multiple_of(b.rows)
                || b.data_offsets.len() != e.shards.len()
            {
                return bad(format!(
                    "blocks of {} rows do not tile shards of {} rows, or {} data offsets for {} shards",
                    b.rows,
                    e.rows_per_shard,
                    b.data_offsets.len(),
                    e.shards.len()
                ));
            }
            if self.file(BLOCKS_FILE).is_none() {
                return bad(format!("file `{BLOCKS_FILE}` is used but not listed"));
            }
        }
        if let Some(o) = &e.order {
            if o.id_order_sha256.len() != e.shards.len() {
                return bad(format!(
                    "{} id-order shard hashes for {} shards",
                    o.id_order_sha256.len(),
                    e.shards.len()
                ));
            }
            let mut at = 0;
            for g in &o.groups {
                if g.start != at || g.end <= g.start {
                    return bad(format!(
                        "row group `{}` spans rows {}..{}, expected it to start at {at}",
                        g.name, g.start, g.end
                    ));
                }
                at = g.end;
            }
            if at != e.rows {
                return bad(format!(
                    "row groups cover {at} rows, the table has {}",
                    e.rows
                ));
            }
        }
        let required = e
            .shards
            .iter()
            .map(String::as_str)
            .chain([ENCODER_FILE, TOKENIZER_FILE]);
        for name in required {
            if self.file(name).is_none() {
                return bad(format!("file `{name}` is used but not listed"));
            }
        }
        for f in &self.files {
            check_relative_name(MANIFEST, &f.name)?;
            if let Some(enc) = &f.encoded {
                check_relative_name(MANIFEST, &enc.name)?;
                if e.shards.contains(&f.name) {
                    // rows are fetched by byte range of the plain shard
                    return bad(format!(
                        "embedding shard `{}` is listed with a compressed form; row shards are read by byte range and stay plain",
                        f.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// A short identifier of everything that decides a vector: the model's
    /// exact numbers (a hash of the file hashes), the BERT shape they are
    /// run with (`arch`) and how inputs and outputs are treated (`profile`:
    /// prefixes, pooling, normalisation, dimension, token budget). A bundle
    /// records it, and a pack with another id is refused for that bundle.
    ///
    /// Derived files (the block index, the flat vocabulary) are left out:
    /// adding them to a pack must not orphan the bundles built with that
    /// pack before. Likewise rows kept grouped by script count as the
    /// shards they would be in id order. The model's name, source and
    /// licence are left out: they change no number.
    ///
    /// The id used to cover the files only, so a pack whose query prefix
    /// or pooling had been edited kept its id (issue 15). Bundles built
    /// before the profile joined the id record the old id and are refused
    /// with an id mismatch that says to re-run `crossfind index`.
    pub fn pack_id(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"crossfind pack id 2\n");
        let e = &self.embeddings;
        for f in self.files.iter().filter(|f| !f.role.is_derived()) {
            // rows kept in another order: the hash of the shard in id order
            let canonical = e.order.as_ref().and_then(|o| {
                let i = e.shards.iter().position(|s| *s == f.name)?;
                o.id_order_sha256.get(i)
            });
            h.update(f.name.as_bytes());
            h.update(b"\0");
            h.update(canonical.unwrap_or(&f.sha256).as_bytes());
            h.update(b"\n");
        }
        // every field spelled out, so that a field added later joins the
        // id on purpose, not by accident of serialisation
        let p = &self.profile;
        let a = &self.arch;
        let json = |s: &str| serde_json::to_string(s).expect("a string serialises");
        let fields = [
            ("profile.query_prefix", json(&p.query_prefix)),
            ("profile.passage_prefix", json(&p.passage_prefix)),
            ("profile.pooling", format!("{:?}", p.pooling)),
            ("profile.normalize", p.normalize.to_string()),
            ("profile.dim", p.dim.to_string()),
            ("profile.max_tokens", p.max_tokens.to_string()),
            ("arch.hidden", a.hidden.to_string()),
            ("arch.layers", a.layers.to_string()),
            ("arch.heads", a.heads.to_string()),
            ("arch.intermediate", a.intermediate.to_string()),
            ("arch.vocab", a.vocab.to_string()),
            ("arch.max_positions", a.max_positions.to_string()),
            (
                "arch.layer_norm_eps",
                format!("{:08x}", a.layer_norm_eps.to_bits()),
            ),
        ];
        for (k, v) in fields {
            h.update(k.as_bytes());
            h.update(b"=");
            h.update(v.as_bytes());
            h.update(b"\n");
        }
        hex(&h.finalize())[..16].to_string()
    }

    /// The byte ranges of the embedding shards holding stored rows
    /// `spans` (each `start..end`), widened to whole blocks (what a reader
    /// fetches) and merged: `(shard name, start, end)`, in file order.
    /// `None` for packs without a block index.
    pub fn row_byte_ranges(&self, spans: &[(usize, usize)]) -> Option<Vec<(String, u64, u64)>> {
        let e = &self.embeddings;
        let b = e.blocks.as_ref()?;
        let rb = e.dtype.row_bytes(self.arch.hidden) as u64;
        let mut spans: Vec<(usize, usize)> = spans
            .iter()
            .filter(|(s, t)| s < t)
            .map(|&(s, t)| (s / b.rows * b.rows, t.div_ceil(b.rows) * b.rows))
            .map(|(s, t)| (s.min(e.rows), t.min(e.rows)))
            .collect();
        spans.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (s, t) in spans {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(t),
                _ => merged.push((s, t)),
            }
        }
        let per = e.rows_per_shard;
        let mut out = Vec::new();
        for (mut s, t) in merged {
            while s < t {
                let shard = s / per;
                let cut = t.min((shard + 1) * per);
                let base = b.data_offsets[shard];
                out.push((
                    e.shards[shard].clone(),
                    base + (s - shard * per) as u64 * rb,
                    base + (cut - shard * per) as u64 * rb,
                ));
                s = cut;
            }
        }
        Some(out)
    }

    pub fn file(&self, name: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.name == name)
    }

    /// Whether `name` can be left out when the pack is loaded: embedding
    /// row shards when rows can be fetched on demand, and `tokenizer.json`
    /// when the pack has the flat vocabulary derived from it.
    pub fn is_lazy(&self, name: &str) -> bool {
        (self.embeddings.blocks.is_some() && self.embeddings.shards.iter().any(|s| s == name))
            || (name == TOKENIZER_FILE && self.file(VOCAB_FILE).is_some())
    }
}

/// A manifest plus the verified bytes of every file it names.
pub struct Pack {
    pub manifest: PackManifest,
    files: BTreeMap<String, Vec<u8>>,
}

impl Pack {
    /// Assembles a pack from a manifest and a source of file bytes; every file
    /// is checked against its size and sha256, and every file must be there.
    pub fn from_files(
        manifest: PackManifest,
        get: impl FnMut(&str) -> Result<Option<Vec<u8>>>,
    ) -> Result<Self> {
        Self::collect(manifest, get, false, true)
    }

    /// The same, except that files the encoder can do without may be absent
    /// ([`PackManifest::is_lazy`]): embedding row shards of a pack with a
    /// block index (the encoder then takes their rows on demand,
    /// `Encoder::row_ranges`, `Encoder::add_rows`, as the browser does) and
    /// `tokenizer.json` when `vocab.bin` is there.
    pub fn from_files_lazy(
        manifest: PackManifest,
        get: impl FnMut(&str) -> Result<Option<Vec<u8>>>,
    ) -> Result<Self> {
        Self::collect(manifest, get, true, true)
    }

    /// A lazy pack from files each already checked against the manifest
    /// (the browser's loader checks every file as it is added); only which
    /// files are there is checked here.
    pub fn from_checked_lazy(
        manifest: PackManifest,
        mut files: BTreeMap<String, Vec<u8>>,
    ) -> Result<Self> {
        Self::collect(manifest, |n| Ok(files.remove(n)), true, false)
    }

    fn collect(
        manifest: PackManifest,
        mut get: impl FnMut(&str) -> Result<Option<Vec<u8>>>,
        lazy: bool,
        verify: bool,
    ) -> Result<Self> {
        let mut files = BTreeMap::new();
        for f in &manifest.files {
            let bytes = match get(&f.name)? {
                Some(b) => b,
                None if lazy && manifest.is_lazy(&f.name) => continue,
                None => return Err(Error::MissingFile(f.name.clone())),
            };
            if verify {
                verify_file(f, &bytes)?;
            }
            files.insert(f.name.clone(), bytes);
        }
        Ok(Pack { manifest, files })
    }

    /// Builds a pack from freshly encoded files, computing sizes and checksums.
    pub fn assemble(mut manifest: PackManifest, files: Vec<(String, FileRole, Vec<u8>)>) -> Self {
        manifest.files = files
            .iter()
            .map(|(name, role, bytes)| FileEntry {
                name: name.clone(),
                role: *role,
                bytes: bytes.len() as u64,
                sha256: sha256_hex(bytes),
                encoded: None,
            })
            .collect();
        let files = files.into_iter().map(|(n, _, b)| (n, b)).collect();
        Pack { manifest, files }
    }

    pub fn bytes(&self, name: &str) -> Result<&[u8]> {
        self.files
            .get(name)
            .map(|v| v.as_slice())
            .ok_or_else(|| Error::MissingFile(name.to_string()))
    }

    /// Whether the pack holds `name` (embedding shards may be absent).
    pub fn has(&self, name: &str) -> bool {
        self.files.contains_key(name)
    }

    pub fn take(&mut self, name: &str) -> Result<Vec<u8>> {
        self.files
            .remove(name)
            .ok_or_else(|| Error::MissingFile(name.to_string()))
    }

    /// Adds (or replaces) a file, computing its size and checksum.
    pub fn add_file(&mut self, name: &str, role: FileRole, bytes: Vec<u8>) {
        self.manifest.files.retain(|f| f.name != name);
        self.manifest.files.push(FileEntry {
            name: name.to_string(),
            role,
            bytes: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
            encoded: None,
        });
        self.files.insert(name.to_string(), bytes);
    }

    pub fn manifest_json(&self) -> String {
        serde_json::to_string_pretty(&self.manifest).expect("manifest serialises")
    }

    /// The row order the pack declares, checked against its own
    /// vocabulary; `None` for packs with rows in id order.
    pub fn row_order(&self) -> Result<Option<RowOrder>> {
        let Some(declared) = &self.manifest.embeddings.order else {
            return Ok(None);
        };
        let tokenizer = if self.has(VOCAB_FILE) {
            TextTokenizer::from_vocab(self.bytes(VOCAB_FILE)?, VOCAB_FILE)?
        } else {
            TextTokenizer::from_bytes(self.bytes(TOKENIZER_FILE)?)?
        };
        let rows = self.manifest.embeddings.rows;
        RowOrder::load(declared, rows, MANIFEST, |id| tokenizer.piece(id)).map(Some)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod fs {
    use std::path::Path;

    use super::*;
    use crate::format::fs::{content_reader, io, read_manifest, replace_file, Kind};

    const PACK_FOLDER: Kind = Kind {
        what: "crossfind model pack",
        manifest: MANIFEST,
        hint: "build one with `crossfind model import` (or scripts/setup.sh), or copy the whole pack folder again",
    };

    impl Pack {
        /// Reads and verifies a pack folder (files listed with a compressed
        /// form are read from it: `format::fs::read_content`).
        pub fn read_dir(dir: &Path) -> Result<Self> {
            let manifest = PackManifest::parse(&read_manifest(dir, &PACK_FOLDER)?)?;
            let files = manifest.files.clone();
            Pack::from_files(manifest, content_reader(dir, files))
        }

        /// Writes the pack folder (files first, manifest last, so a crash
        /// never leaves a manifest naming files that are not there).
        pub fn write_dir(&self, dir: &Path) -> Result<()> {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
            for (name, bytes) in &self.files {
                let p = dir.join(name);
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                replace_file(&p, bytes).map_err(io(&p))?;
            }
            let mpath = dir.join(MANIFEST);
            replace_file(&mpath, self.manifest_json().as_bytes()).map_err(io(&mpath))?;
            Ok(())
        }
    }
}
