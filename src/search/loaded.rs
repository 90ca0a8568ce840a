//! A loaded bundle: the verified shards search runs on, natively and in the
//! browser (which adds fragment shards later, for the hits it shows).

use std::collections::HashMap;

use super::dense::Vectors;
use super::lexical::LexicalIndex;
use crate::bundle::{BundleManifest, Docs, Fragments, Shard, ShardKind};
use crate::error::{Error, Result};
use crate::format::verify_file;

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
    /// [`Docs::fragment_bases`], computed at load.
    frag_bases: Vec<u32>,
    /// Pages of each translation group, in page order.
    groups: HashMap<String, Vec<u32>>,
    has_vectors: bool,
    /// Whether any page or section has a site weight, computed at load.
    weighted: bool,
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

    /// Whether any page or section has a site weight (search adds them
    /// only then).
    pub fn weighted(&self) -> bool {
        self.weighted
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
            verify_file(s, &b)?;
            Ok(b)
        };
        let docs_shard = manifest.shard(ShardKind::Docs).clone();
        let docs = Docs::parse(&docs_shard.name, &read(&docs_shard)?, &manifest)?;
        let nfrag = manifest.fragment_shards().count();
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
        let bases = docs.fragment_bases(manifest.version, nfrag);
        for (s, &base) in shards.iter().zip(&bases) {
            frags.push(if fragments {
                Some(Fragments::parse(&s.name, &read(s)?, base)?)
            } else {
                None
            });
        }
        let page_norms = vectors.page_norms(&docs);
        Ok(Bundle {
            manifest,
            weighted: docs_weighted(&docs),
            groups: group_index(&docs),
            docs,
            vectors,
            lexical,
            fragments: frags,
            page_norms,
            frag_bases: bases,
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
        verify_file(&s, bytes)?;
        let base = self.frag_bases.get(index).copied().unwrap_or(0);
        self.fragments[index] = Some(Fragments::parse(&s.name, bytes, base)?);
        Ok(())
    }

    /// Adds the vectors shard to a bundle loaded without it
    /// ([`Bundle::from_files_without_vectors`]): the browser answers keyword
    /// queries before the vectors are in and fetches them for the first
    /// semantic one. The shard is verified as at load; afterwards the
    /// bundle is the one [`Bundle::from_files`] gives. A bundle that has its
    /// vectors already is left as it is.
    pub fn add_vectors(&mut self, bytes: &[u8]) -> Result<()> {
        if self.has_vectors {
            return Ok(());
        }
        let vs = self.manifest.shard(ShardKind::Vectors).clone();
        verify_file(&vs, bytes)?;
        let vectors = Vectors::parse(
            &vs.name,
            bytes,
            self.manifest.model.dim,
            self.manifest.chunks,
        )?;
        self.page_norms = vectors.page_norms(&self.docs);
        self.vectors = vectors;
        self.has_vectors = true;
        Ok(())
    }

    /// The filters the pages declare: for each key, each value's page count.
    pub fn filter_counts(
        &self,
    ) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, usize>> {
        let mut out: std::collections::BTreeMap<String, std::collections::BTreeMap<String, usize>> =
            Default::default();
        for p in &self.docs.pages {
            for (k, vs) in &p.filters {
                let e = out.entry(k.clone()).or_default();
                for v in vs {
                    *e.entry(v.clone()).or_default() += 1;
                }
            }
        }
        out
    }

    /// Pages of a translation group, in page order.
    pub fn group_members(&self, group: &str) -> &[u32] {
        self.groups.get(group).map_or(&[], Vec::as_slice)
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

/// The pages of each translation group, in page order.
/// Whether any page or section of `docs` has a site weight.
fn docs_weighted(docs: &Docs) -> bool {
    docs.pages.iter().any(|p| p.weight.is_some()) || docs.chunks.iter().any(|c| c.weight.is_some())
}

fn group_index(docs: &Docs) -> HashMap<String, Vec<u32>> {
    let mut groups: HashMap<String, Vec<u32>> = HashMap::new();
    for (i, p) in docs.pages.iter().enumerate() {
        match groups.get_mut(&p.group) {
            Some(pages) => pages.push(i as u32),
            None => {
                groups.insert(p.group.clone(), vec![i as u32]);
            }
        }
    }
    groups
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

#[cfg(not(target_arch = "wasm32"))]
impl Bundle {
    /// The bundle a site would have with only the pages `keep` accepts
    /// (for evaluation: `crossfind eval --single-copy`). Fragments and
    /// vectors follow; the lexical index is rebuilt with the site's
    /// statistics.
    pub fn subset(&self, keep: &[bool]) -> Bundle {
        use crate::bundle::ChunkMeta;
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
        let fragments: Vec<Option<Fragments>> = self
            .fragments
            .iter()
            .map(|f| {
                f.as_ref().map(|f| Fragments {
                    page: f.page.clone(),
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
        let frag_bases = docs.fragment_bases(manifest.version, fragments.len());
        Bundle {
            manifest,
            weighted: docs_weighted(&docs),
            groups: group_index(&docs),
            vectors,
            docs,
            lexical,
            frag_bases,
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
            let key =
                crate::format::sha256_hex(format!("{seed}\0{}\0{}", p.group, p.lang).as_bytes());
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

    /// Reads and verifies a bundle folder, fragments included; a shard
    /// stored compressed is decoded first.
    pub fn read_dir(dir: &std::path::Path) -> Result<Self> {
        use crate::bundle::MANIFEST;
        use crate::format::fs::{content_reader, read_manifest, Kind};
        let manifest = BundleManifest::parse(&read_manifest(
            dir,
            &Kind {
                what: "crossfind search bundle",
                manifest: MANIFEST,
                hint: "build it with `crossfind index`, or copy the whole bundle folder again",
            },
        )?)?;
        // shards with a gzip form are read from it (format::fs::read_content)
        let shards = manifest.shards.clone();
        Bundle::from_files(manifest, content_reader(dir, shards), true)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::bundle::write::{write_shards, Content, ShardWriter};
    use crate::bundle::{ChunkMeta, ModelRef, PageMeta};
    use crate::format::tensors::quantize_i8_rows;
    use crate::search::lexical::LexicalIndexBuilder;

    fn docs() -> Docs {
        let page = PageMeta::new;
        Docs {
            pages: vec![
                page("en/a", "en", "a"),
                page("es/a", "es", "a"),
                page("en/b", "en", "b"),
                page("ja/a", "ja", "a"),
            ],
            chunks: (0..4)
                .map(|p| ChunkMeta {
                    page: p,
                    anchor: None,
                    heading: String::new(),
                    frag: p / 2,
                    weight: None,
                })
                .collect(),
        }
    }

    #[test]
    fn written_shards_load_with_their_groups_and_fragments() {
        let docs = docs();
        let mut lex = LexicalIndexBuilder::new();
        let fragments: Vec<Fragments> = (0..2u32)
            .map(|f| Fragments {
                page: format!("p{}", 2 * f),
                chunks: (0..2)
                    .map(|c| (c, vec![format!("text {}", 2 * f + c)]))
                    .collect(),
            })
            .collect();
        for c in 0..4 {
            lex.add(c, &format!("text {c}"));
        }
        let values: Vec<f32> = (0..16).map(|i| i as f32 - 8.0).collect();
        let (vectors, lexical) = (quantize_i8_rows(&values, 4), lex.finish().to_bytes());
        let content = Content {
            docs: &docs,
            dim: 4,
            vectors: &vectors,
            lexical: &lexical,
            fragments: &fragments,
        };
        let model = ModelRef {
            pack_id: "0000000000000000".into(),
            id: "test".into(),
            dim: 4,
            dir: "model".into(),
            offline_rows: None,
        };
        let (manifest, files) = write_shards(HashMap::new(), &content, model).unwrap();
        assert_eq!(manifest.languages["en"].pages, 2);
        assert_eq!(manifest.languages["ja"].chunks, 1);
        let manifest = BundleManifest::parse(&manifest.to_json()).unwrap();
        let b = Bundle::from_files(manifest, |n| Ok(files.get(n).cloned()), true).unwrap();
        assert_eq!(b.docs, docs);
        assert_eq!(b.group_members("a"), [0, 1, 3]);
        assert_eq!(b.group_members("b"), [2]);
        assert!(b.group_members("c").is_empty());
        assert_eq!(b.sentences(3).unwrap(), ["text 3"]);
        assert_eq!(b.vectors.rows, 4);
    }

    /// The shards of a four-chunk bundle, as `write_shards` writes them.
    fn written() -> (BundleManifest, HashMap<String, Vec<u8>>) {
        let docs = docs();
        let mut lex = LexicalIndexBuilder::new();
        for c in 0..4 {
            lex.add(c, &format!("text word{c}"));
        }
        let fragments: Vec<Fragments> = (0..2u32)
            .map(|f| Fragments {
                page: format!("p{}", 2 * f),
                chunks: (0..2).map(|c| (c, vec![format!("text {c}")])).collect(),
            })
            .collect();
        let values: Vec<f32> = (0..16).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
        let (vectors, lexical) = (quantize_i8_rows(&values, 4), lex.finish().to_bytes());
        let content = Content {
            docs: &docs,
            dim: 4,
            vectors: &vectors,
            lexical: &lexical,
            fragments: &fragments,
        };
        let model = ModelRef {
            pack_id: "0000000000000000".into(),
            id: "test".into(),
            dim: 4,
            dir: "model".into(),
            offline_rows: None,
        };
        let (manifest, files) = write_shards(HashMap::new(), &content, model).unwrap();
        (BundleManifest::parse(&manifest.to_json()).unwrap(), files)
    }

    #[test]
    fn vectors_added_after_load_search_as_if_loaded_with_the_bundle() {
        use crate::search::{search, Fusion, Mode, Query};
        let (manifest, files) = written();
        let full =
            Bundle::from_files(manifest.clone(), |n| Ok(files.get(n).cloned()), true).unwrap();
        let vectors = manifest.shard(ShardKind::Vectors).name.clone();
        let mut late = Bundle::from_files_without_vectors(
            manifest,
            |n| {
                assert_ne!(n, vectors, "the vectors shard is not read at load");
                Ok(files.get(n).cloned())
            },
            true,
        )
        .unwrap();
        assert!(!late.has_vectors());
        // a damaged or cut shard is refused, naming it, and changes nothing
        let mut bad = files[&vectors].clone();
        bad[5] ^= 1;
        let e = late.add_vectors(&bad).unwrap_err().to_string();
        assert!(e.contains(&vectors), "{e}");
        let e = late
            .add_vectors(&bad[..bad.len() - 3])
            .unwrap_err()
            .to_string();
        assert!(e.contains(&vectors), "{e}");
        assert!(!late.has_vectors());
        late.add_vectors(&files[&vectors]).unwrap();
        assert!(late.has_vectors());
        assert_eq!(late.page_norms, full.page_norms);
        let v = [0.5f32, -0.5, 0.5, 0.5];
        for mode in [Mode::Hybrid, Mode::Dense, Mode::Lexical] {
            let q = Query {
                text: "text word2",
                vector: Some(&v),
                lang: None,
                k: 4,
                mode,
                fusion: Fusion::default(),
                filter: None,
            };
            let shown = |b: &Bundle| format!("{:?}", search(b, &q));
            assert_eq!(shown(&late), shown(&full), "{mode:?}");
        }
    }

    #[test]
    fn fragment_shards_keep_their_names_when_shards_before_them_change() {
        let names = |first: &str| {
            let mut w = ShardWriter::new(HashMap::<String, Vec<u8>>::new());
            for (page, text) in [("a", first), ("b", "unchanged")] {
                w.fragments(&Fragments {
                    page: page.into(),
                    chunks: vec![(0, vec![text.into()])],
                })
                .unwrap();
            }
            let (shards, _) = w.finish();
            shards.into_iter().map(|s| s.name).collect::<Vec<_>>()
        };
        let (before, after) = (names("one"), names("one, edited"));
        assert_ne!(before[0], after[0]);
        assert_eq!(before[1], after[1]);
        assert!(before[1].starts_with("frag.") && before[1].ends_with(".json"));
    }

    #[test]
    fn version_1_fragment_ids_count_over_the_bundle() {
        let docs = docs();
        assert_eq!(docs.fragment_bases(1, 2), [0, 0]);
        assert_eq!(docs.fragment_bases(2, 2), [0, 2]);
        let bytes = br#"{"chunks":[[0,["x"]],[1,["y"]]]}"#;
        let f = Fragments::parse("frag.json", bytes, 2).unwrap();
        assert_eq!(f.chunks[1], (3, vec!["y".to_string()]));
    }
}
