//! The search bundle: one small manifest naming immutable, content-hashed
//! shards (page/chunk table, int8 vectors, lexical index, text fragments) and
//! the model pack they were built with. Written natively by `crossfind index`,
//! read natively and in the browser; every shard is checked against its size
//! and sha256 before use, so a damaged shard is an error naming it.

use serde::{Deserialize, Serialize};

use crate::error::{check_relative_name, check_relative_path, parse_manifest, Error, Result};
use crate::model::pack::{sha256_hex, verify_file, FileEntry, FileRole};
use crate::model::tensors::{DType, TensorFile};
use crate::search::lexical::LexicalIndex;

#[cfg(not(target_arch = "wasm32"))]
pub mod write;

pub const BUNDLE_FORMAT: &str = "crossfind-bundle";
pub const BUNDLE_VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";

/// What a shard holds.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ShardKind {
    Docs,
    Vectors,
    Lexical,
    Fragments,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Shard {
    pub name: String,
    pub kind: ShardKind,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelRef {
    /// `PackManifest::pack_id` of the pack the vectors were made with.
    pub pack_id: String,
    pub id: String,
    pub dim: usize,
    /// Folder of the pack, relative to the bundle.
    pub dir: String,
    /// The word-embedding rows the offline copy keeps; without it, all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_rows: Option<OfflineRows>,
}

/// The embedding rows a site's languages need, for the offline copy (the
/// service worker keeps these byte ranges of the pack's row shards instead
/// of whole shards): the row groups of `model::roworder` for the languages
/// of the site's pages.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OfflineRows {
    pub groups: Vec<String>,
    pub ranges: Vec<ByteRange>,
}

/// Bytes `start..end` of a file of the model pack, with their sha256.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ByteRange {
    pub file: String,
    pub start: u64,
    pub end: u64,
    pub sha256: String,
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
    pub languages: std::collections::BTreeMap<String, LangCount>,
    pub shards: Vec<Shard>,
}

impl BundleManifest {
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let m: BundleManifest = parse_manifest(
            MANIFEST,
            bytes,
            BUNDLE_FORMAT,
            BUNDLE_VERSION..=BUNDLE_VERSION,
        )?;
        for s in &m.shards {
            check_relative_name(MANIFEST, &s.name)?;
        }
        check_relative_path(MANIFEST, &m.model.dir)?;
        for r in m.model.offline_rows.iter().flat_map(|o| &o.ranges) {
            check_relative_name(MANIFEST, &r.file)?;
        }
        for kind in [ShardKind::Docs, ShardKind::Vectors, ShardKind::Lexical] {
            if m.shards.iter().filter(|s| s.kind == kind).count() != 1 {
                return Err(Error::corrupt(
                    MANIFEST,
                    format!("expected exactly one {kind:?} shard"),
                ));
            }
        }
        Ok(m)
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
}

/// Checks a shard's bytes against the manifest.
pub fn verify_shard(s: &Shard, bytes: &[u8]) -> Result<()> {
    verify_file(
        &FileEntry {
            name: s.name.clone(),
            role: FileRole::Encoder,
            bytes: s.bytes,
            sha256: s.sha256.clone(),
        },
        bytes,
    )
}

/// Content-hashed shard file name: `stem.<12 hex>.ext`.
pub fn hashed_name(stem: &str, ext: &str, bytes: &[u8]) -> String {
    format!("{stem}.{}.{ext}", &sha256_hex(bytes)[..12])
}

/// A page of the site.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PageMeta {
    pub id: String,
    pub url: String,
    pub lang: String,
    pub title: String,
    pub group: String,
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
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Docs {
    pub pages: Vec<PageMeta>,
    pub chunks: Vec<ChunkMeta>,
}

impl Docs {
    /// Pages of a translation group.
    pub fn group_members(&self, group: &str) -> Vec<u32> {
        self.pages
            .iter()
            .enumerate()
            .filter(|(_, p)| p.group == group)
            .map(|(i, _)| i as u32)
            .collect()
    }
}

/// One fragment shard: the sentences of some chunks, for snippets.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Fragments {
    /// `(chunk id, sentences)`
    pub chunks: Vec<(u32, Vec<String>)>,
}

/// int8 vectors with a scale per vector.
pub struct Vectors {
    pub dim: usize,
    pub rows: usize,
    /// `rows * (4 + dim)` bytes, [`DType::I8Row`] layout.
    pub raw: Vec<u8>,
}

impl Vectors {
    pub fn parse(name: &str, bytes: &[u8], dim: usize, rows: usize) -> Result<Self> {
        let tf = TensorFile::parse(name, bytes)?;
        let (info, raw) = tf.raw("vectors")?;
        if info.dtype != DType::I8Row || info.cols != dim || info.rows != rows {
            return Err(Error::corrupt(
                name,
                format!(
                    "holds {}x{} {:?} vectors, expected {rows}x{dim} int8",
                    info.rows, info.cols, info.dtype
                ),
            ));
        }
        // `scores` walks rows of 4 + dim bytes: a dim near usize::MAX would
        // wrap that to a zero-byte row, so the size is checked here exactly.
        let want = dim.checked_add(4).and_then(|rb| rb.checked_mul(rows));
        if want != Some(raw.len()) {
            return Err(Error::corrupt(
                name,
                format!(
                    "{} bytes of vectors, not {rows} rows of {dim} dimensions",
                    raw.len()
                ),
            ));
        }
        Ok(Vectors {
            dim,
            rows,
            raw: raw.to_vec(),
        })
    }

    /// No vectors (a bundle loaded for keyword search only).
    pub fn empty(dim: usize) -> Self {
        Vectors {
            dim,
            rows: 0,
            raw: Vec::new(),
        }
    }

    fn row(&self, i: usize) -> (f32, &[u8]) {
        let rb = 4 + self.dim;
        let row = &self.raw[i * rb..(i + 1) * rb];
        (
            f32::from_le_bytes([row[0], row[1], row[2], row[3]]),
            &row[4..],
        )
    }

    /// Dot product of `q` with vector `i`.
    pub fn score(&self, q: &[f32], i: u32) -> f32 {
        let (scale, v) = self.row(i as usize);
        dot_i8(q, v) * scale
    }

    /// The `n` best `(chunk, score)` pairs for `q`, best first (ties: lower
    /// id first), from an exact scan of every vector.
    pub fn top(&self, q: &[f32], n: usize) -> Vec<(u32, f32)> {
        let scored = self
            .scores(q)
            .into_iter()
            .enumerate()
            .map(|(i, s)| (i as u32, s))
            .collect();
        crate::search::best_n(scored, n)
    }

    /// The length of each page's summed chunk vectors (0 for a page without
    /// chunks, and for every page when no vectors are loaded). With it, a
    /// page's cosine with a query is the sum of its chunks' dot products
    /// divided by this length, so no page vector is stored or fetched.
    /// Summed in chunk order, dimension by dimension: native and wasm agree.
    pub fn page_norms(&self, docs: &Docs) -> Vec<f32> {
        let mut sums =
            vec![vec![0f32; self.dim]; if self.rows == 0 { 0 } else { docs.pages.len() }];
        for (i, c) in docs.chunks.iter().enumerate().take(self.rows) {
            let (scale, v) = self.row(i);
            if let Some(acc) = sums.get_mut(c.page as usize) {
                for (a, &b) in acc.iter_mut().zip(v) {
                    *a += scale * (b as i8) as f32;
                }
            }
        }
        let mut norms: Vec<f32> = sums
            .iter()
            .map(|acc| {
                let mut ss = 0f32;
                for a in acc {
                    ss += a * a;
                }
                ss.sqrt()
            })
            .collect();
        norms.resize(docs.pages.len(), 0.0);
        norms
    }

    /// Dot products of `q` with every vector.
    pub fn scores(&self, q: &[f32]) -> Vec<f32> {
        let rb = 4 + self.dim;
        self.raw
            .chunks_exact(rb)
            .map(|row| {
                let scale = f32::from_le_bytes([row[0], row[1], row[2], row[3]]);
                dot_i8(q, &row[4..]) * scale
            })
            .collect()
    }
}

/// f32 x int8 dot product in 8 independent lanes (the compiler vectorises it
/// with SSE/AVX natively and SIMD128 in wasm); fixed order, so native and wasm agree.
fn dot_i8(q: &[f32], v: &[u8]) -> f32 {
    let mut acc = [0f32; 8];
    let (qc, vc) = (q.chunks_exact(8), v.chunks_exact(8));
    let (qr, vr) = (qc.remainder(), vc.remainder());
    for (a, b) in qc.zip(vc) {
        for i in 0..8 {
            acc[i] += a[i] * (b[i] as i8) as f32;
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (a, b) in qr.iter().zip(vr) {
        s += a * (*b as i8) as f32;
    }
    s
}

/// A loaded bundle: everything search needs except the fragments, which the
/// browser loads on demand for the hits it shows.
pub struct Bundle {
    pub manifest: BundleManifest,
    pub docs: Docs,
    /// The chunk vectors. Empty (0 rows) when the bundle was loaded without
    /// them ([`Bundle::from_files_without_vectors`]); see [`Bundle::has_vectors`].
    pub vectors: Vectors,
    pub lexical: LexicalIndex,
    /// Loaded fragment shards, by index in `manifest.fragment_shards()`.
    pub fragments: Vec<Option<Fragments>>,
    /// [`Vectors::page_norms`], computed at load.
    pub page_norms: Vec<f32>,
    has_vectors: bool,
}

impl Bundle {
    /// Builds a bundle from its manifest and a source of shard bytes; every
    /// shard read is verified. Fragment shards are read too when `fragments` is true.
    pub fn from_files(
        manifest: BundleManifest,
        get: impl FnMut(&str) -> Result<Option<Vec<u8>>>,
        fragments: bool,
    ) -> Result<Self> {
        Self::load(manifest, get, fragments, true)
    }

    /// Like [`Bundle::from_files`], but never reads the vectors shard: a
    /// bundle for keyword search only, for when that shard is missing or
    /// damaged. `search` answers such a bundle lexically whatever the mode.
    /// Fails like `from_files` when the docs or lexical shard is missing or damaged.
    pub fn from_files_without_vectors(
        manifest: BundleManifest,
        get: impl FnMut(&str) -> Result<Option<Vec<u8>>>,
        fragments: bool,
    ) -> Result<Self> {
        Self::load(manifest, get, fragments, false)
    }

    /// Whether the chunk vectors are loaded (dense and hybrid search possible).
    pub fn has_vectors(&self) -> bool {
        self.has_vectors
    }

    fn load(
        manifest: BundleManifest,
        mut get: impl FnMut(&str) -> Result<Option<Vec<u8>>>,
        fragments: bool,
        with_vectors: bool,
    ) -> Result<Self> {
        let mut read = |s: &Shard| -> Result<Vec<u8>> {
            let b = get(&s.name)?.ok_or_else(|| Error::MissingFile(s.name.clone()))?;
            verify_shard(s, &b)?;
            Ok(b)
        };
        let docs_shard = manifest.shard(ShardKind::Docs).clone();
        let docs: Docs = serde_json::from_slice(&read(&docs_shard)?)
            .map_err(|e| Error::corrupt(&docs_shard.name, format!("bad page table: {e}")))?;
        if docs.chunks.len() != manifest.chunks || docs.pages.len() != manifest.pages {
            return Err(Error::corrupt(
                &docs_shard.name,
                "page/chunk counts disagree with the manifest",
            ));
        }
        let nfrag = manifest.fragment_shards().count();
        if let Some(c) = docs
            .chunks
            .iter()
            .find(|c| c.page as usize >= docs.pages.len() || c.frag as usize >= nfrag)
        {
            return Err(Error::corrupt(
                &docs_shard.name,
                format!(
                    "chunk points at page {} / fragment {} that do not exist",
                    c.page, c.frag
                ),
            ));
        }
        let vectors = if with_vectors {
            let vs = manifest.shard(ShardKind::Vectors).clone();
            Vectors::parse(&vs.name, &read(&vs)?, manifest.model.dim, manifest.chunks)?
        } else {
            Vectors::empty(manifest.model.dim)
        };
        let ls = manifest.shard(ShardKind::Lexical).clone();
        let mut lexical = LexicalIndex::from_bytes(&read(&ls)?).map_err(|e| match e {
            Error::Corrupt { why, .. } => Error::corrupt(&ls.name, why),
            other => other,
        })?;
        if let Some(max) = lexical
            .max_doc_id()
            .filter(|&m| m as usize >= manifest.chunks)
        {
            return Err(Error::corrupt(
                &ls.name,
                format!(
                    "indexes chunk {max}, the bundle has only {}",
                    manifest.chunks
                ),
            ));
        }
        partition_by_language(&mut lexical, &docs);
        let mut frags = Vec::with_capacity(nfrag);
        let shards: Vec<Shard> = manifest.fragment_shards().cloned().collect();
        for s in &shards {
            frags.push(if fragments {
                Some(parse_fragments(&s.name, &read(s)?)?)
            } else {
                None
            });
        }
        let page_norms = vectors.page_norms(&docs);
        Ok(Bundle {
            manifest,
            docs,
            vectors,
            lexical,
            fragments: frags,
            page_norms,
            has_vectors: with_vectors,
        })
    }

    /// Adds a fragment shard fetched later (browser).
    pub fn add_fragments(&mut self, index: usize, bytes: &[u8]) -> Result<()> {
        let s = self
            .manifest
            .fragment_shards()
            .nth(index)
            .cloned()
            .ok_or_else(|| Error::Input(format!("no fragment shard {index}")))?;
        verify_shard(&s, bytes)?;
        self.fragments[index] = Some(parse_fragments(&s.name, bytes)?);
        Ok(())
    }

    /// The sentences of a chunk, if its fragment shard is loaded.
    pub fn sentences(&self, chunk: u32) -> Option<&[String]> {
        let c = self.docs.chunks.get(chunk as usize)?;
        let f = self.fragments.get(c.frag as usize)?.as_ref()?;
        f.chunks
            .binary_search_by_key(&chunk, |(id, _)| *id)
            .ok()
            .map(|i| f.chunks[i].1.as_slice())
    }
}

/// Term statistics per page language (search/lexical.rs).
fn partition_by_language(lexical: &mut LexicalIndex, docs: &Docs) {
    let mut langs: Vec<&str> = docs.pages.iter().map(|p| p.lang.as_str()).collect();
    langs.sort_unstable();
    langs.dedup();
    let lang_of_page: Vec<u16> = docs
        .pages
        .iter()
        .map(|p| langs.binary_search(&p.lang.as_str()).unwrap_or(0) as u16)
        .collect();
    lexical.partition(|chunk| {
        docs.chunks
            .get(chunk as usize)
            .map_or(0, |c| lang_of_page[c.page as usize])
    });
}

fn parse_fragments(name: &str, bytes: &[u8]) -> Result<Fragments> {
    let f: Fragments = serde_json::from_slice(bytes)
        .map_err(|e| Error::corrupt(name, format!("bad fragments: {e}")))?;
    if f.chunks.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(Error::corrupt(name, "chunk ids are not sorted"));
    }
    Ok(f)
}

#[cfg(not(target_arch = "wasm32"))]
impl Bundle {
    /// The bundle a site would have with only the pages `keep` accepts
    /// (for evaluation: `crossfind eval --single-copy`). Fragments and
    /// vectors follow; the lexical index is rebuilt with the site's
    /// statistics.
    pub fn subset(&self, keep: &[bool]) -> Bundle {
        let mut page_map = vec![u32::MAX; self.docs.pages.len()];
        let mut pages = Vec::new();
        for (i, p) in self.docs.pages.iter().enumerate() {
            if keep.get(i).copied().unwrap_or(false) {
                page_map[i] = pages.len() as u32;
                pages.push(p.clone());
            }
        }
        let mut chunk_map = vec![u32::MAX; self.docs.chunks.len()];
        let mut chunks = Vec::new();
        let rb = 4 + self.vectors.dim;
        let mut raw = Vec::new();
        for (i, c) in self.docs.chunks.iter().enumerate() {
            let np = page_map[c.page as usize];
            if np == u32::MAX {
                continue;
            }
            chunk_map[i] = chunks.len() as u32;
            chunks.push(ChunkMeta {
                page: np,
                ..c.clone()
            });
            if self.has_vectors {
                raw.extend_from_slice(&self.vectors.raw[i * rb..(i + 1) * rb]);
            }
        }
        let fragments = self
            .fragments
            .iter()
            .map(|f| {
                f.as_ref().map(|f| Fragments {
                    chunks: f
                        .chunks
                        .iter()
                        .filter(|(id, _)| chunk_map[*id as usize] != u32::MAX)
                        .map(|(id, s)| (chunk_map[*id as usize], s.clone()))
                        .collect(),
                })
            })
            .collect();
        let kept = |c: u32| chunk_map.get(c as usize).is_some_and(|&m| m != u32::MAX);
        let mut lexical = self.lexical.subset(kept, |c| chunk_map[c as usize]);
        let mut manifest = self.manifest.clone();
        manifest.pages = pages.len();
        manifest.chunks = chunks.len();
        let docs = Docs { pages, chunks };
        partition_by_language(&mut lexical, &docs);
        let vectors = Vectors {
            dim: self.vectors.dim,
            rows: if self.has_vectors {
                docs.chunks.len()
            } else {
                0
            },
            raw,
        };
        let page_norms = vectors.page_norms(&docs);
        Bundle {
            manifest,
            vectors,
            docs,
            lexical,
            fragments,
            page_norms,
            has_vectors: self.has_vectors,
        }
    }

    /// One page of every translation group, the language chosen by `seed`:
    /// what a site whose articles exist in one language each would hold.
    pub fn single_copy(&self, seed: u64) -> Bundle {
        let mut best: std::collections::HashMap<&str, (String, usize)> = Default::default();
        for (i, p) in self.docs.pages.iter().enumerate() {
            let key = sha256_hex(format!("{seed}\0{}\0{}", p.group, p.lang).as_bytes());
            let e = best.entry(&p.group).or_insert((key.clone(), i));
            if key < e.0 {
                *e = (key, i);
            }
        }
        let mut keep = vec![false; self.docs.pages.len()];
        for (_, i) in best.values() {
            keep[*i] = true;
        }
        self.subset(&keep)
    }

    /// Reads and verifies a bundle folder, fragments included.
    pub fn read_dir(dir: &std::path::Path) -> Result<Self> {
        let mpath = dir.join(MANIFEST);
        let bytes = std::fs::read(&mpath).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NoManifest {
                    dir: dir.display().to_string(),
                    what: "crossfind search bundle",
                    manifest: MANIFEST,
                    hint: "build it with `crossfind index`, or copy the whole bundle folder again",
                }
            } else {
                Error::Io {
                    path: mpath.display().to_string(),
                    source: e,
                }
            }
        })?;
        let manifest = BundleManifest::parse(&bytes)?;
        Bundle::from_files(
            manifest,
            |name| match std::fs::read(dir.join(name)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::Io {
                    path: dir.join(name).display().to_string(),
                    source: e,
                }),
            },
            true,
        )
    }
}
