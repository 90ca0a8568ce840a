//! A loaded bundle: the verified shards search runs on, natively and in the
//! browser (which adds fragment shards later, for the hits it shows).

use std::collections::HashMap;

use super::dense::codes::DenseCodes;
use super::dense::{DenseRaw, Vectors};
use super::lexical::LexicalIndex;
use super::records::{self, RecordAt};
use crate::bundle::{BundleManifest, Docs, Fragments, Shard, ShardKind};
use crate::error::{Error, Result};
use crate::format::verify_file;

/// A loaded bundle: everything search needs except the fragments, which the
/// browser loads on demand for the hits it shows.
/// A byte range of the vectors shard that a query needs
/// ([`Bundle::dense_ranges_for`]): consecutive row blocks from `block`.
#[derive(Debug, Clone, PartialEq)]
pub struct RowRange<'a> {
    /// The first block in it.
    pub block: u32,
    /// The vectors shard.
    pub file: &'a str,
    pub start: u64,
    /// Exclusive.
    pub end: u64,
    /// Where each of its blocks ends, in order (the last is `end`).
    pub block_ends: Vec<u64>,
}

pub struct Bundle {
    pub manifest: BundleManifest,
    pub docs: Docs,
    /// The chunk vectors. Empty (0 rows) when the bundle was loaded without
    /// them ([`Bundle::from_files_without_vectors`]); see [`Bundle::has_vectors`].
    pub vectors: Vectors,
    pub lexical: LexicalIndex,
    /// Loaded fragment shards, by index in `manifest.fragment_shards()`
    /// (version 7: snippet records, by index in `docs.records`).
    pub fragments: Vec<Option<Fragments>>,
    /// Where each snippet record lies (version 7; empty before).
    records: Vec<RecordAt>,
    /// [`Vectors::page_norms`], computed at load (listed in the sign codes
    /// of a bundle that has them).
    pub page_norms: Vec<f32>,
    /// The sign codes and the rows fetched so far, on a bundle whose dense
    /// first stage is in codes (`search/dense/codes.rs`). Search then runs
    /// both stages, natively too, where `vectors` holds every row as well.
    codes: Option<DenseCodes>,
    /// [`Docs::fragment_bases`], computed at load.
    frag_bases: Vec<u32>,
    /// Pages of each translation group, in page order.
    groups: HashMap<String, Vec<u32>>,
    /// Version 8: the page ids the snippet records in so far named, and
    /// their pages (an id names one page).
    page_ids: HashMap<String, u32>,
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
        let mut docs = Docs::parse(&docs_shard.name, &read(&docs_shard)?, &manifest)?;
        let nfrag = docs.fragment_count(&manifest);
        let records = records::locate(&manifest, &docs)?;
        let dim = manifest.model.dim;
        let (vectors, codes) = if !with_vectors {
            (Vectors::empty(dim), None)
        } else if let Some(cs) = manifest.codes_shard().cloned() {
            let codes = DenseCodes::parse(&cs.name, &read(&cs)?, dim, &docs)?;
            if fragments {
                // everything at once (natively): every row too, which must
                // be the rows the codes were made from
                let vs = manifest.shard(ShardKind::Vectors).clone();
                let bytes = read(&vs)?;
                let vectors = Vectors::parse(&vs.name, &bytes, dim, manifest.chunks)?;
                let mut codes = codes;
                codes.add_file(&vs.name, &bytes)?;
                check_codes_match(&codes, &cs.name, &vectors, &vs.name, &docs)?;
                (vectors, Some(codes))
            } else {
                (codes_only(&codes), Some(codes))
            }
        } else {
            let vs = manifest.shard(ShardKind::Vectors).clone();
            (
                Vectors::parse(&vs.name, &read(&vs)?, dim, manifest.chunks)?,
                None,
            )
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
        let terms: Vec<Shard> = manifest
            .shards
            .iter()
            .filter(|s| s.kind == ShardKind::LexicalTerms)
            .cloned()
            .collect();
        check_pieces(&lexical, &ls.name, &terms)?;
        if fragments {
            // everything at once (natively): every piece of every file
            for (f, s) in terms.iter().enumerate() {
                let bytes = read(s)?;
                add_pieces_of(&mut lexical, f as u32, &s.name, &bytes)?;
            }
        }
        partition_by_language(&mut lexical, &docs);
        let mut frags = vec![None; nfrag];
        let shards: Vec<Shard> = manifest.fragment_shards().cloned().collect();
        let bases = docs.fragment_bases(manifest.version, nfrag);
        if fragments && records.is_empty() {
            for ((s, &base), slot) in shards.iter().zip(&bases).zip(&mut frags) {
                let f = Fragments::parse(&s.name, &read(s)?, base)?;
                if manifest.display_in_fragments {
                    docs.add_display(&s.name, &f)?;
                }
                *slot = Some(f);
            }
        }
        // everything at once (natively): every record of every file
        let files: Vec<(Shard, Vec<u8>)> = if fragments && !records.is_empty() {
            manifest
                .snippet_shards()
                .map(|s| Ok((s.clone(), read(s)?)))
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        };
        let page_norms = match &codes {
            Some(c) => c.page_norms.clone(),
            None => vectors.page_norms(&docs),
        };
        Bundle {
            manifest,
            codes,
            weighted: docs_weighted(&docs),
            groups: group_index(&docs),
            page_ids: HashMap::new(),
            docs,
            vectors,
            lexical,
            fragments: frags,
            records,
            page_norms,
            frag_bases: bases,
            has_vectors: with_vectors,
        }
        .with_records_of(files)
    }

    /// This bundle with the records of these `snippets` files (read and
    /// checked against the manifest) added.
    fn with_records_of(mut self, files: Vec<(Shard, Vec<u8>)>) -> Result<Self> {
        for (f, (s, bytes)) in files.iter().enumerate() {
            self.add_records_in(f, &s.name, bytes)?;
        }
        Ok(self)
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
        let f = Fragments::parse(&s.name, bytes, base)?;
        if self.manifest.display_in_fragments {
            self.docs.add_display(&s.name, &f)?;
        }
        self.fragments[index] = Some(f);
        Ok(())
    }

    /// The snippet records (version 7) holding the text of `chunks` that
    /// are not in yet: `(record, file, start, end)`, `end` exclusive, each
    /// record once, in file and byte order. Empty on a bundle with
    /// fragment shards.
    pub fn snippet_ranges(&self, chunks: &[u32]) -> Vec<(u32, &str, u64, u64)> {
        let files: Vec<&Shard> = self.manifest.snippet_shards().collect();
        let mut want: Vec<usize> = chunks
            .iter()
            .filter_map(|&c| self.docs.chunks.get(c as usize))
            .map(|c| c.frag as usize)
            .filter(|&i| i < self.records.len() && self.fragments[i].is_none())
            .collect();
        want.sort_unstable();
        want.dedup();
        want.into_iter()
            .map(|i| {
                let r = self.records[i];
                (
                    i as u32,
                    files[r.file as usize].name.as_str(),
                    r.start,
                    r.end(),
                )
            })
            .collect()
    }

    /// Adds snippet record `index` (version 7; the bytes of its range):
    /// it must inflate, pass its Adler-32, name its page and hold only
    /// that page's chunks. An error names its file.
    pub fn add_record(&mut self, index: usize, bytes: &[u8]) -> Result<()> {
        let at = *self
            .records
            .get(index)
            .ok_or_else(|| Error::Input(format!("no snippet record {index}")))?;
        let name = self.snippet_file(at.file).name.clone();
        if bytes.len() as u64 != at.len {
            return Err(Error::corrupt(
                &name,
                format!(
                    "snippet record {index} came as {} bytes, not {}",
                    bytes.len(),
                    at.len
                ),
            ));
        }
        let (page, f) = record_of(&self.docs, &name, index, bytes, self.frag_bases[index])?;
        if self.manifest.ids_in_records() {
            records::check_id(&name, index, &f.page)?;
            match self.page_ids.get(&f.page) {
                Some(&other) if other != page => {
                    return Err(Error::corrupt(
                        &name,
                        format!(
                            "snippet record {index} names page {:?}, the id of another page",
                            f.page
                        ),
                    ))
                }
                _ => {}
            }
            self.page_ids.insert(f.page.clone(), page);
            self.docs.pages[page as usize].id.clone_from(&f.page);
        }
        self.docs.add_display(&name, &f)?;
        self.fragments[index] = Some(f);
        Ok(())
    }

    /// Adds a whole `snippets` file (from a host that answered a byte
    /// range with the whole file), checked against the manifest: every
    /// record in it not in yet.
    pub fn add_snippets_file(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let (f, s) = self
            .manifest
            .snippet_shards()
            .enumerate()
            .find(|(_, s)| s.name == name)
            .map(|(f, s)| (f, s.clone()))
            .ok_or_else(|| {
                Error::Input(format!("`{name}` is not a snippets file of this bundle"))
            })?;
        verify_file(&s, bytes)?;
        self.add_records_in(f, name, bytes)
    }

    /// Adds every record of `snippets` file number `f` (`name`, its whole
    /// bytes, already checked) that is not in yet.
    fn add_records_in(&mut self, f: usize, name: &str, bytes: &[u8]) -> Result<()> {
        let mine: Vec<(usize, RecordAt)> = self
            .records
            .iter()
            .enumerate()
            .filter(|(i, r)| r.file as usize == f && self.fragments[*i].is_none())
            .map(|(i, r)| (i, *r))
            .collect();
        for (i, r) in mine {
            let stored = bytes
                .get(r.start as usize..r.end() as usize)
                .ok_or_else(|| {
                    Error::corrupt(name, format!("snippet record {i} lies outside it"))
                })?;
            self.add_record(i, stored)?;
        }
        Ok(())
    }

    fn snippet_file(&self, f: u32) -> &Shard {
        self.manifest
            .snippet_shards()
            .nth(f as usize)
            .expect("records lie in the manifest's snippets files (records::locate)")
    }

    /// Adds the vectors shard to a bundle loaded without it
    /// ([`Bundle::from_files_without_vectors`]): the browser answers keyword
    /// queries before the vectors are in and fetches them for the first
    /// semantic one. The shard is verified as at load; afterwards the
    /// bundle is the one [`Bundle::from_files`] gives. A bundle that has its
    /// vectors already is left as it is.
    ///
    /// On a bundle with sign codes, `bytes` is the codes shard
    /// ([`BundleManifest::semantic_shard`]): the rows then come per query
    /// ([`dense_ranges_for`](Self::dense_ranges_for)).
    pub fn add_vectors(&mut self, bytes: &[u8]) -> Result<()> {
        if self.has_vectors {
            return Ok(());
        }
        if let Some(cs) = self.manifest.codes_shard().cloned() {
            verify_file(&cs, bytes)?;
            let codes = DenseCodes::parse(&cs.name, bytes, self.manifest.model.dim, &self.docs)?;
            self.page_norms = codes.page_norms.clone();
            self.vectors = codes_only(&codes);
            self.codes = Some(codes);
            self.has_vectors = true;
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

    /// Every chunk's dot product with the search vector `q` as search uses
    /// it: an exact scan, or on a bundle with sign codes both stages, the
    /// first over the chunks `ok` lets through.
    pub fn dense_raw(&self, q: &[f32], ok: &dyn Fn(u32) -> bool) -> DenseRaw {
        match &self.codes {
            Some(c) => {
                let t = c.two_stage(&self.docs, q, ok);
                DenseRaw {
                    raw: t.raw,
                    rescored: Some(t.rescored),
                }
            }
            None => DenseRaw {
                raw: self.vectors.scores(q),
                rescored: None,
            },
        }
    }

    /// Whether the dense first stage is in sign codes, the rows fetched per
    /// query ([`dense_ranges_for`](Self::dense_ranges_for)).
    pub fn has_codes(&self) -> bool {
        self.codes.is_some()
    }

    /// The row blocks of the vectors shard that a search with vector `q`
    /// needs and that are not in yet, consecutive blocks merged into one
    /// [`RowRange`] each. The first stage's
    /// candidates over every page, and, when `filter` limits anything, over
    /// the pages it lets through too (the query's confidence is judged over
    /// every page). Empty on a bundle in one piece, and once they are in.
    pub fn dense_ranges_for(&self, q: &[f32], filter: Option<&super::Filter>) -> Vec<RowRange<'_>> {
        let Some(c) = &self.codes else {
            return Vec::new();
        };
        let every: &dyn Fn(u32) -> bool = &|_| true;
        let pages = match filter.filter(|f| f.values().any(|v| !v.is_empty())) {
            None => c.candidate_pages(&self.docs, q, every),
            Some(f) => {
                let ok: Vec<bool> = self
                    .docs
                    .pages
                    .iter()
                    .map(|p| super::page_passes(p, f))
                    .collect();
                let chunk_ok = |c: u32| {
                    self.docs
                        .chunks
                        .get(c as usize)
                        .is_some_and(|ch| ok[ch.page as usize])
                };
                c.candidate_pages_of(&self.docs, q, &[every, &chunk_ok])
            }
        };
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for b in c.missing_blocks(&pages) {
            match runs.last_mut() {
                Some((_, end)) if *end == b => *end += 1,
                _ => runs.push((b, b + 1)),
            }
        }
        let file = self.manifest.shard(ShardKind::Vectors).name.as_str();
        runs.into_iter()
            .map(|(first, end)| {
                let (start, end_byte) = c.block_range(first as usize, end as usize);
                RowRange {
                    block: first,
                    file,
                    start,
                    end: end_byte,
                    block_ends: c.block_ends(first as usize, end as usize),
                }
            })
            .collect()
    }

    /// Adds the rows of consecutive blocks from `first_block` (the body of a
    /// range [`dense_ranges_for`](Self::dense_ranges_for) named), each checked
    /// against the sum the sign codes list; an error names the vectors shard.
    pub fn add_vector_rows(&mut self, first_block: u32, bytes: &[u8]) -> Result<()> {
        let name = self.manifest.shard(ShardKind::Vectors).name.clone();
        let c = self.codes.as_mut().ok_or_else(|| {
            Error::Input(
                "this bundle's vectors are not fetched by rows (no sign codes loaded)".into(),
            )
        })?;
        c.add_blocks(&name, first_block as usize, bytes)
    }

    /// Adds every row from the whole vectors shard (a host that answered a
    /// byte range with the whole file), checked against the manifest.
    pub fn add_vectors_file(&mut self, bytes: &[u8]) -> Result<()> {
        let vs = self.manifest.shard(ShardKind::Vectors).clone();
        verify_file(&vs, bytes)?;
        let c = self.codes.as_mut().ok_or_else(|| {
            Error::Input(
                "this bundle's vectors are not fetched by rows (no sign codes loaded)".into(),
            )
        })?;
        c.add_file(&vs.name, bytes)
    }

    /// The lexical pieces the query `text` needs that are not in yet (a
    /// lexical index in pieces, fetched per query): `(piece, file, start,
    /// end)`, `end` exclusive, in piece order. Empty when `text` can be
    /// searched. With the model's vocabulary (`knows_word`, see
    /// [`super::respell`]), also the pieces its unknown words' neighbours
    /// may be in (`respell::pieces_needed`); ask again until empty.
    pub fn lexical_ranges(
        &self,
        text: &str,
        knows_word: Option<&dyn Fn(&str) -> bool>,
    ) -> Vec<(u32, &str, u64, u64)> {
        let refs = self.lexical.piece_refs();
        let files: Vec<&Shard> = self.lexical_terms().collect();
        let mut want = self.lexical.missing_pieces(text);
        if let Some(knows) = knows_word {
            // with them, those a respelt word may need (one round trip)
            want.extend(super::respell::pieces_needed(&self.lexical, knows, text));
            want.sort_unstable();
            want.dedup();
        }
        want.into_iter()
            .filter_map(|i| {
                let r = &refs[i];
                let f = files.get(r.file as usize)?;
                Some((i as u32, f.name.as_str(), r.start, r.start + r.len))
            })
            .collect()
    }

    /// Adds lexical piece `piece` (the bytes of its range), checked against
    /// the head (its sha256, or from head version 4 its length, zlib
    /// checksum and term range); an error names the piece's file.
    pub fn add_lexical_piece(&mut self, piece: u32, bytes: &[u8]) -> Result<()> {
        let file = self
            .lexical
            .piece_refs()
            .get(piece as usize)
            .and_then(|r| self.lexical_terms().nth(r.file as usize))
            .map(|s| s.name.clone())
            .ok_or_else(|| Error::Input(format!("no lexical piece {piece}")))?;
        self.lexical
            .add_piece(piece as usize, bytes)
            .map_err(|e| named(e, &file))
    }

    /// Adds a whole `lexical_terms` file (from a host that answered a byte
    /// range with the whole file), checked against the manifest: every piece
    /// in it.
    pub fn add_lexical_file(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let (f, s) = self
            .lexical_terms()
            .enumerate()
            .find(|(_, s)| s.name == name)
            .map(|(f, s)| (f, s.clone()))
            .ok_or_else(|| {
                Error::Input(format!(
                    "`{name}` is not a lexical terms file of this bundle"
                ))
            })?;
        verify_file(&s, bytes)?;
        add_pieces_of(&mut self.lexical, f as u32, name, bytes)
    }

    fn lexical_terms(&self) -> impl Iterator<Item = &Shard> {
        self.manifest
            .shards
            .iter()
            .filter(|s| s.kind == ShardKind::LexicalTerms)
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

/// The vectors of a bundle whose rows come by range: no rows, the crowding
/// its sign codes list.
fn codes_only(codes: &DenseCodes) -> Vectors {
    Vectors {
        dim: codes.dim,
        rows: 0,
        raw: Vec::new(),
        crowding: codes.crowding.clone(),
    }
}

/// The sign codes `codes_name` list the page norms and crowding of the
/// vectors shard `vectors_name` (its rows were checked block by block).
fn check_codes_match(
    codes: &DenseCodes,
    codes_name: &str,
    vectors: &Vectors,
    vectors_name: &str,
    docs: &Docs,
) -> Result<()> {
    let bits = |xs: &[f32]| xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    if bits(&codes.page_norms) != bits(&vectors.page_norms(docs))
        || bits(&codes.crowding) != bits(&vectors.crowding)
    {
        return Err(Error::corrupt(
            codes_name,
            format!("the sign codes were not made from the vectors shard `{vectors_name}`"),
        ));
    }
    Ok(())
}

/// A lexical error about the file `name` (the index names itself `lexical`).
/// Snippet record `index` of file `name` (its stored bytes), parsed with
/// chunk ids from `base` and checked to hold only its own page.
/// Returns the record and the number of its page, whose id the record
/// names: the docs table's (up to version 7) or, on a version 8 bundle,
/// any id (`records::check_id`).
fn record_of(
    docs: &Docs,
    name: &str,
    index: usize,
    bytes: &[u8],
    base: u32,
) -> Result<(u32, Fragments)> {
    let page = docs.chunks.get(base as usize).map(|c| c.page);
    let id = page
        .and_then(|p| docs.pages.get(p as usize))
        .map_or("", |p| p.id.as_str());
    // version 8: the docs table has no ids, the record is the one source
    let expected = (!id.is_empty()).then_some(id);
    let f = Fragments::parse_record(name, index, bytes, base, expected)?;
    records::check_scope(docs, name, index, &f)?;
    let page =
        page.ok_or_else(|| Error::corrupt(name, format!("snippet record {index} has no chunk")))?;
    Ok((page, f))
}

fn named(e: Error, name: &str) -> Error {
    match e {
        Error::Corrupt { why, .. } => Error::corrupt(name, why),
        Error::Checksum {
            expected, actual, ..
        } => Error::Checksum {
            file: name.to_string(),
            expected,
            actual,
        },
        other => other,
    }
}

/// Every piece of a pieced index lies inside a `lexical_terms` file the
/// manifest lists (`head`: the lexical shard's name).
fn check_pieces(lexical: &LexicalIndex, head: &str, terms: &[Shard]) -> Result<()> {
    for (i, r) in lexical.piece_refs().iter().enumerate() {
        let inside = terms
            .get(r.file as usize)
            .is_some_and(|f| r.start.checked_add(r.len).is_some_and(|e| e <= f.bytes));
        if !inside {
            return Err(Error::corrupt(
                head,
                format!("lexical piece {i} lies outside the bundle's lexical terms files"),
            ));
        }
    }
    if !lexical.is_pieced() && !terms.is_empty() {
        return Err(Error::corrupt(
            head,
            "a lexical index in one piece, but the manifest lists lexical terms files",
        ));
    }
    Ok(())
}

/// Adds the pieces held by file number `f` (`name`, its whole `bytes`).
fn add_pieces_of(lexical: &mut LexicalIndex, f: u32, name: &str, bytes: &[u8]) -> Result<()> {
    let mine: Vec<(usize, u64, u64)> = lexical
        .piece_refs()
        .iter()
        .enumerate()
        .filter(|(_, r)| r.file == f)
        .map(|(i, r)| (i, r.start, r.len))
        .collect();
    for (i, start, len) in mine {
        let piece = bytes
            .get(start as usize..(start + len) as usize)
            .ok_or_else(|| Error::corrupt(name, format!("lexical piece {i} lies outside it")))?;
        lexical.add_piece(i, piece).map_err(|e| named(e, name))?;
    }
    Ok(())
}

/// Whether any page or section of `docs` has a site weight.
fn docs_weighted(docs: &Docs) -> bool {
    docs.pages.iter().any(|p| p.weight.is_some()) || docs.chunks.iter().any(|c| c.weight.is_some())
}

/// The pages of each translation group, in page order.
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
        let mut crowding = Vec::new();
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
                crowding.extend(self.vectors.crowding.get(i));
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
                    // the display fields are in `docs` already
                    ..Default::default()
                })
            })
            .collect();
        let kept = |c: u32| chunk_map.get(c as usize).is_some_and(|&m| m != u32::MAX);
        let mut lexical = self.lexical.subset(kept, |c| chunk_map[c as usize]);
        let mut manifest = self.manifest.clone();
        // the subset's display fields are in its docs, its fragments in memory
        manifest.display_in_fragments = false;
        manifest.docs_columns = false;
        manifest.shards.retain(|s| s.kind != ShardKind::Snippets);
        manifest.pages = pages.len();
        manifest.chunks = chunks.len();
        let docs = Docs {
            pages,
            chunks,
            ..Default::default()
        };
        partition_by_language(&mut lexical, &docs);
        let vectors = Vectors {
            dim: self.vectors.dim,
            rows: if self.has_vectors {
                docs.chunks.len()
            } else {
                0
            },
            raw,
            crowding,
        };
        let page_norms = vectors.page_norms(&docs);
        let frag_bases = docs.fragment_bases(manifest.version, fragments.len());
        // the subset is a bundle in one piece: an exact scan
        manifest.shards.retain(|s| s.kind != ShardKind::VectorCodes);
        Bundle {
            manifest,
            codes: None,
            weighted: docs_weighted(&docs),
            groups: group_index(&docs),
            page_ids: HashMap::new(),
            vectors,
            docs,
            lexical,
            frag_bases,
            fragments,
            records: Vec::new(),
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

    /// The model reference of the test bundles (4 dimensions).
    fn test_model() -> ModelRef {
        ModelRef::for_tests(4)
    }

    /// The query vector of the tests' searches.
    const QV: [f32; 4] = [0.5, -0.5, 0.5, 0.5];

    /// A search of the test bundles: `text` with [`QV`], top 4, in `mode`.
    fn query(text: &str, mode: crate::search::Mode) -> crate::search::Query<'_> {
        crate::search::Query {
            text,
            vector: Some(&QV),
            lang: None,
            k: 4,
            mode,
            fusion: crate::search::Fusion::default(),
            filter: None,
        }
    }

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
            records: Vec::new(),
            record_files: Vec::new(),
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
                ..Default::default()
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
        let model = test_model();
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
                ..Default::default()
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
        let model = test_model();
        let (manifest, files) = write_shards(HashMap::new(), &content, model).unwrap();
        (BundleManifest::parse(&manifest.to_json()).unwrap(), files)
    }

    #[test]
    fn vectors_added_after_load_search_as_if_loaded_with_the_bundle() {
        use crate::search::{search, Mode};
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
        for mode in [Mode::Hybrid, Mode::Dense, Mode::Lexical] {
            let q = query("text word2", mode);
            let shown = |b: &Bundle| format!("{:?}", search(b, &q));
            assert_eq!(shown(&late), shown(&full), "{mode:?}");
        }
    }

    /// A four-chunk bundle whose lexical index is written in pieces of
    /// about `piece` bytes in files of at most `file` bytes.
    fn pieced(piece: usize, file: usize) -> (BundleManifest, HashMap<String, Vec<u8>>) {
        let docs = docs();
        let mut lex = LexicalIndexBuilder::new();
        let texts = [
            "reset your password from the account settings page",
            "restablecer la contraseña desde la configuración de la cuenta",
            "download an invoice and cancel the subscription e3022",
            "パスワードをリセットする方法 アカウント設定",
        ];
        for (c, t) in texts.iter().enumerate() {
            lex.add(c as u32, t);
        }
        let index = lex.finish();
        let mut w = ShardWriter::new(HashMap::<String, Vec<u8>>::new());
        for f in 0..2u32 {
            w.fragments(&Fragments {
                page: format!("p{}", 2 * f),
                chunks: (0..2).map(|c| (c, vec![format!("text {c}")])).collect(),
                ..Default::default()
            })
            .unwrap();
        }
        w.docs(&docs).unwrap();
        let values: Vec<f32> = (0..16).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
        w.vectors(4, 4, &quantize_i8_rows(&values, 4), &[]).unwrap();
        if piece == 0 {
            w.lexical(&index.to_bytes()).unwrap();
        } else {
            w.lexical_pieces(index.split_terms(piece), file, |refs| {
                index.head_bytes(refs)
            })
            .unwrap();
        }
        let (shards, files) = w.finish();
        let model = test_model();
        let m = BundleManifest::new(model, &docs, shards);
        (BundleManifest::parse(&m.to_json()).unwrap(), files)
    }

    const QUERIES: [&str; 4] = [
        "reset password",
        "contraseña cuenta",
        "e3022 invoice",
        "パスワード",
    ];

    /// The hits of `q`, lexical and hybrid, scores as bits (snippets aside).
    fn shown(b: &Bundle, q: &str) -> Vec<(String, Option<u32>, Option<u32>, u32)> {
        use crate::search::{search, Mode};
        [Mode::Lexical, Mode::Hybrid]
            .into_iter()
            .flat_map(|mode| {
                let q = query(q, mode);
                search(b, &q).into_iter().map(|h| {
                    (
                        h.page_id,
                        h.lexical.map(f32::to_bits),
                        h.dense.map(f32::to_bits),
                        h.fused.to_bits(),
                    )
                })
            })
            .collect()
    }

    #[test]
    fn a_lexical_index_in_pieces_answers_as_the_one_piece_index() {
        let (m1, f1) = pieced(0, 0);
        let one = Bundle::from_files(m1.clone(), |n| Ok(f1.get(n).cloned()), true).unwrap();
        assert!(
            m1.version < crate::bundle::BUNDLE_VERSION_PIECES,
            "one piece: read by older readers"
        );
        let (m, files) = pieced(40, 120);
        assert_eq!(m.version, crate::bundle::BUNDLE_VERSION_PIECES);
        let terms: Vec<&Shard> = m
            .shards
            .iter()
            .filter(|s| s.kind == ShardKind::LexicalTerms)
            .collect();
        assert!(terms.len() >= 2, "{} files", terms.len());
        assert!(
            terms.iter().all(|s| s.encoded.is_none()),
            "byte ranges: no gzip form"
        );
        // natively every piece is read at load
        let whole = Bundle::from_files(m.clone(), |n| Ok(files.get(n).cloned()), true).unwrap();
        for q in QUERIES {
            assert!(whole.lexical_ranges(q, None).is_empty());
            assert!(
                shown(&one, q).iter().any(|h| h.1.is_some()),
                "{q}: a keyword match"
            );
            assert_eq!(shown(&whole, q), shown(&one, q), "{q}");
        }
        // the browser's way: the pieces a query names, by byte range
        for q in QUERIES {
            let mut b =
                Bundle::from_files(m.clone(), |n| Ok(files.get(n).cloned()), false).unwrap();
            let ranges: Vec<(u32, String, u64, u64)> = b
                .lexical_ranges(q, None)
                .into_iter()
                .map(|(p, f, s, e)| (p, f.to_string(), s, e))
                .collect();
            assert!(!ranges.is_empty(), "{q}");
            assert!(
                ranges.len() < b.lexical.piece_refs().len(),
                "{q}: not every piece"
            );
            for (p, f, s, e) in ranges {
                b.add_lexical_piece(p, &files[&f][s as usize..e as usize])
                    .unwrap();
            }
            assert!(b.lexical_ranges(q, None).is_empty());
            assert_eq!(shown(&b, q), shown(&one, q), "{q}");
        }
        // a host that sends a whole file: its pieces all come in
        let mut b = Bundle::from_files(m.clone(), |n| Ok(files.get(n).cloned()), false).unwrap();
        let (_, f, _, _) = b.lexical_ranges("reset", None)[0];
        let f = f.to_string();
        b.add_lexical_file(&f, &files[&f]).unwrap();
        assert!(b.lexical_ranges("reset", None).is_empty());
        // damaged: the error names the file
        let (p, f, s, e) = b.lexical_ranges("パスワード", None)[0];
        let (f, s, e) = (f.to_string(), s as usize, e as usize);
        let mut bad = files[&f][s..e].to_vec();
        bad[0] ^= 1;
        let err = b.add_lexical_piece(p, &bad).unwrap_err();
        // (a zlib stream: its header or Adler-32 refuses it)
        assert_eq!(err.code(), "corrupt_file");
        assert!(err.to_string().contains(&f), "{err}");
        let mut bad = files[&f].clone();
        bad[s] ^= 1;
        assert!(b
            .add_lexical_file(&f, &bad)
            .unwrap_err()
            .to_string()
            .contains(&f));
        // a damaged file read natively
        let err = Bundle::from_files(
            m.clone(),
            |n| {
                Ok(files
                    .get(n)
                    .map(|b| if n == f { bad.clone() } else { b.clone() }))
            },
            true,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains(&f), "{err}");
        // a manifest that lists fewer terms files than the head's pieces use
        let mut short = m.clone();
        short
            .shards
            .retain(|s| s.name != terms[terms.len() - 1].name);
        let err = Bundle::from_files(short, |n| Ok(files.get(n).cloned()), false)
            .err()
            .unwrap();
        assert!(err.to_string().contains("outside"), "{err}");
    }

    /// The four-chunk bundle, written with its display fields in the
    /// fragment shards (`display`) or in the docs shard.
    /// A bundle with its display fields in the docs shard or, when
    /// `display`, in the fragment shards, the docs shard then in columns
    /// (version 6) when `columns`, else as version 4 wrote it.
    fn with_display(
        display: bool,
        columns: bool,
    ) -> (BundleManifest, HashMap<String, Vec<u8>>, Docs) {
        let mut docs = docs();
        for (i, c) in docs.chunks.iter_mut().enumerate() {
            c.heading = if i == 2 {
                String::new()
            } else {
                format!("Heading {i}")
            };
            c.anchor = Some(format!("h{i}"));
        }
        let mut w = ShardWriter::new(HashMap::<String, Vec<u8>>::new());
        for f in 0..2u32 {
            let chunks: Vec<u32> = (2 * f..2 * f + 2).collect();
            w.fragments(&Fragments {
                page: format!("p{}", 2 * f),
                chunks: chunks
                    .iter()
                    .map(|&c| (c - 2 * f, vec![format!("text {c}")]))
                    .collect(),
                pages: if display {
                    chunks
                        .iter()
                        .map(|&c| {
                            let p = &docs.pages[docs.chunks[c as usize].page as usize];
                            (docs.chunks[c as usize].page, p.url.clone(), p.title.clone())
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                headings: if display {
                    chunks
                        .iter()
                        .filter(|&&c| !docs.chunks[c as usize].heading.is_empty())
                        .map(|&c| (c - 2 * f, docs.chunks[c as usize].heading.clone()))
                        .collect()
                } else {
                    Vec::new()
                },
            })
            .unwrap();
        }
        if display && columns {
            w.docs_columns(&docs, true).unwrap();
        } else if display {
            w.docs(&docs.without_display()).unwrap();
        } else {
            w.docs(&docs).unwrap();
        }
        let (shards, files) = with_vectors_and_keywords(w);
        let model = test_model();
        let mut m = BundleManifest::new(model, &docs, shards);
        m.display_in_fragments = display;
        if columns {
            // version 6: docs in columns, fragment shards (7 has records)
            m.docs_columns = true;
            m.version = 6;
        }
        (BundleManifest::parse(&m.to_json()).unwrap(), files, docs)
    }

    /// The vectors and keyword index of the four chunks of `docs()`
    /// written after the shards `w` has, and every shard.
    fn with_vectors_and_keywords(
        mut w: ShardWriter<HashMap<String, Vec<u8>>>,
    ) -> (Vec<Shard>, HashMap<String, Vec<u8>>) {
        let values: Vec<f32> = (0..16).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
        w.vectors(4, 4, &quantize_i8_rows(&values, 4), &[]).unwrap();
        let mut lex = LexicalIndexBuilder::new();
        for c in 0..4 {
            lex.add(c, &format!("text heading word{c}"));
        }
        w.lexical(&lex.finish().to_bytes()).unwrap();
        w.finish()
    }

    /// `docs()` as a version 7 bundle: a snippet record a page carrying its
    /// display fields, the docs in columns (after `tamper`).
    fn with_records(
        tamper: impl Fn(&mut Docs),
    ) -> (BundleManifest, HashMap<String, Vec<u8>>, Docs) {
        with_records_naming(tamper, &|p| p.id.clone(), crate::bundle::BUNDLE_VERSION)
    }

    /// [`with_records`], each record naming the id `id_of` its page, as
    /// bundle format `version` (7 lists the ids in the docs table too).
    fn with_records_naming(
        tamper: impl Fn(&mut Docs),
        id_of: &dyn Fn(&PageMeta) -> String,
        version: u32,
    ) -> (BundleManifest, HashMap<String, Vec<u8>>, Docs) {
        let mut docs = docs();
        for (i, c) in docs.chunks.iter_mut().enumerate() {
            c.frag = i as u32;
            c.heading = format!("Heading {i}");
            c.anchor = Some(format!("h{i}"));
        }
        let mut w = ShardWriter::new(HashMap::<String, Vec<u8>>::new());
        for (i, c) in docs.chunks.clone().iter().enumerate() {
            let p = &docs.pages[c.page as usize];
            // two files: pages 0 and 1, then 2 and 3
            let len = w
                .snippet_record(
                    &Fragments {
                        page: id_of(p),
                        chunks: vec![(0, vec![format!("text {i}")])],
                        pages: vec![(c.page, p.url.clone(), p.title.clone())],
                        headings: vec![(0, c.heading.clone())],
                    },
                    i == 1,
                )
                .unwrap();
            docs.records.push(len);
        }
        w.flush_snippets().unwrap();
        docs.record_files = w.record_files().to_vec();
        let mut written = docs.clone();
        tamper(&mut written);
        w.docs_columns(&written, version < 8).unwrap();
        let (shards, files) = with_vectors_and_keywords(w);
        let mut m = BundleManifest::new(test_model(), &docs, shards);
        m.display_in_fragments = true;
        m.docs_columns = true;
        m.version = version;
        (BundleManifest::parse(&m.to_json()).unwrap(), files, docs)
    }

    #[test]
    fn snippet_records_come_by_range_and_answer_as_the_whole_bundle() {
        use crate::search::{search, Mode};
        let (m, files, docs) = with_records(|_| {});
        assert_eq!(m.snippet_shards().count(), 2);
        assert_eq!(docs.record_files, [2, 2]);
        assert_eq!(m.fragment_shards().count(), 0);
        let get = |n: &str| Ok(files.get(n).cloned());
        let whole = Bundle::from_files(m.clone(), get, true).unwrap();
        assert_eq!(whole.docs, docs);
        let mut b = Bundle::from_files(m.clone(), get, false).unwrap();
        assert!(b.docs.pages.iter().all(|p| p.url.is_empty()));
        // the records of chunks 0 and 2, once each, in byte order
        let ranges: Vec<(u32, String, u64, u64)> = b
            .snippet_ranges(&[2, 0, 2])
            .into_iter()
            .map(|(r, f, s, e)| (r, f.to_string(), s, e))
            .collect();
        assert_eq!(ranges.iter().map(|r| r.0).collect::<Vec<_>>(), [0, 2]);
        for (r, f, s, e) in &ranges {
            b.add_record(*r as usize, &files[f][*s as usize..*e as usize])
                .unwrap();
        }
        assert_eq!(b.docs.pages[2], docs.pages[2]);
        assert!(b.docs.pages[1].url.is_empty());
        assert!(b.snippet_ranges(&[0, 2]).is_empty());
        assert_eq!(b.sentences(2).unwrap(), ["text 2"]);
        // the rest as whole files (a host that ignores Range)
        for s in m.snippet_shards() {
            b.add_snippets_file(&s.name, &files[&s.name]).unwrap();
        }
        assert_eq!(b.docs, docs);
        for mode in [Mode::Lexical, Mode::Hybrid] {
            let q = query("text heading word1", mode);
            assert_eq!(
                format!("{:?}", search(&b, &q)),
                format!("{:?}", search(&whole, &q))
            );
        }
    }

    #[test]
    fn version_8_hits_take_their_page_ids_from_the_records() {
        use crate::search::{search, Mode};
        let (m, files, docs) = with_records(|_| {});
        assert!(m.ids_in_records());
        let docs_shard = m.shard(crate::bundle::ShardKind::Docs);
        let table = String::from_utf8(files[&docs_shard.name].clone()).unwrap();
        assert!(
            !table.contains("en/a") && !table.contains("ja/a"),
            "{table}"
        );
        let get = |n: &str| Ok(files.get(n).cloned());
        let mut b = Bundle::from_files(m.clone(), get, false).unwrap();
        assert!(b.docs.pages.iter().all(|p| p.id.is_empty()));
        let q = query("text heading word1", Mode::Lexical);
        // before the records: one id a page all the same
        let ids: Vec<String> = search(&b, &q).into_iter().map(|h| h.page_id).collect();
        assert!(ids.iter().all(|id| id.starts_with('#')), "{ids:?}");
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        let ranges: Vec<(u32, String, u64, u64)> = b
            .snippet_ranges(&[0, 1, 2, 3])
            .into_iter()
            .map(|(r, f, s, e)| (r, f.to_string(), s, e))
            .collect();
        for (r, f, s, e) in ranges {
            b.add_record(r as usize, &files[&f][s as usize..e as usize])
                .unwrap();
        }
        let whole = Bundle::from_files(m.clone(), get, true).unwrap();
        assert_eq!(whole.docs, docs);
        assert_eq!(b.docs, docs);
        assert_eq!(
            format!("{:?}", search(&b, &q)),
            format!("{:?}", search(&whole, &q))
        );
        assert!(search(&b, &q).iter().all(|h| !h.page_id.starts_with('#')));

        // a record naming the id of another page, or no id, is refused
        // (page 1, es/a, named otherwise)
        for (id, why) in [
            ("en/a", "the id of another page"),
            ("", "names no page"),
            ("es/\u{7}a", "control character"),
        ] {
            let forged = |p: &PageMeta| {
                if p.id == "es/a" {
                    id.to_string()
                } else {
                    p.id.clone()
                }
            };
            let (m, files, _) = with_records_naming(|_| {}, &forged, crate::bundle::BUNDLE_VERSION);
            let get = |n: &str| Ok(files.get(n).cloned());
            let mut b = Bundle::from_files(m, get, false).unwrap();
            let ranges: Vec<(u32, String, u64, u64)> = b
                .snippet_ranges(&[0, 1])
                .into_iter()
                .map(|(r, f, s, e)| (r, f.to_string(), s, e))
                .collect();
            for (r, f, s, e) in ranges {
                let got = b.add_record(r as usize, &files[&f][s as usize..e as usize]);
                if r == 0 {
                    got.unwrap();
                } else {
                    let e = got.unwrap_err().to_string();
                    assert!(
                        e.contains(why) && e.contains("snippet record 1"),
                        "{id:?}: {e}"
                    );
                }
            }
            assert_eq!(b.docs.pages[0].id, "en/a");
            assert!(b.docs.pages[1].id.is_empty() && b.docs.pages[1].url.is_empty());
        }
        // version 7 (ids in the docs table) still loads, and a record must
        // name the page the table says
        let (m7, files7, _) = with_records_naming(|_| {}, &|p| p.id.clone(), 7);
        assert!(m7.snippet_records() && !m7.ids_in_records());
        let whole7 = Bundle::from_files(m7, |n| Ok(files7.get(n).cloned()), true).unwrap();
        assert_eq!(whole7.docs, docs);
        let swapped = |p: &PageMeta| {
            if p.id == "es/a" {
                "en/b".to_string()
            } else {
                p.id.clone()
            }
        };
        let (m7, files7, _) = with_records_naming(|_| {}, &swapped, 7);
        let e = Bundle::from_files(m7, |n| Ok(files7.get(n).cloned()), true)
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("holds page \"en/b\", not \"es/a\""), "{e}");
    }

    #[test]
    fn damaged_or_misplaced_snippet_records_are_refused_by_file() {
        let (m, files, _) = with_records(|_| {});
        let name = m.snippet_shards().next().unwrap().name.clone();
        let file = &files[&name];
        let mut b = Bundle::from_files(m.clone(), |n| Ok(files.get(n).cloned()), false).unwrap();
        let r = b.snippet_ranges(&[0, 1]);
        let (s0, e0) = (r[0].2 as usize, r[0].3 as usize);
        let (s1, e1) = (r[1].2 as usize, r[1].3 as usize);
        let refused = |b: &mut Bundle, i: usize, bytes: &[u8], why: &str| {
            let e = b.add_record(i, bytes).unwrap_err().to_string();
            assert!(e.contains(&name) && e.contains(why), "{e}");
        };
        // one flipped bit, anywhere: the zlib stream or its Adler-32 says
        // so, or (a padding bit of the last deflate byte) the text is the same
        let mut refusals = 0;
        for k in 0..e0 - s0 {
            for bit in 0..8 {
                let mut bad = file[s0..e0].to_vec();
                bad[k] ^= 1 << bit;
                let mut fresh =
                    Bundle::from_files(m.clone(), |n| Ok(files.get(n).cloned()), false).unwrap();
                match fresh.add_record(0, &bad) {
                    Err(e) => {
                        let e = e.to_string();
                        assert!(e.contains(&name) && e.contains("snippet record 0"), "{e}");
                        refusals += 1;
                    }
                    Ok(()) => assert_eq!(
                        fresh.sentences(0).unwrap(),
                        ["text 0"],
                        "byte {k} bit {bit}"
                    ),
                }
            }
        }
        assert!(
            refusals + 8 >= 8 * (e0 - s0),
            "{refusals} of {} flips refused",
            8 * (e0 - s0)
        );
        refused(&mut b, 0, &file[s0..e0 - 1], "came as");
        // another page's record in its place
        refused(&mut b, 0, &file[s1..e1], "came as");
        let e = Fragments::parse_record(&name, 0, &file[s1..e1], 0, Some("en/a"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds page \"es/a\", not \"en/a\""), "{e}");
        assert!(b.docs.pages[0].url.is_empty() && b.sentences(0).is_none());
        // the whole file, damaged, is refused whole
        let mut bad = file.clone();
        bad[0] ^= 1;
        assert!(b.add_snippets_file(&name, &bad).is_err());
        assert!(b.sentences(1).is_none());
        // and the good bytes still go in
        b.add_record(0, &file[s0..e0]).unwrap();
        assert_eq!(b.sentences(0).unwrap(), ["text 0"]);
        // lengths in the docs table that do not match the files: refused at load
        for (tamper, why) in [
            (
                &(|d: &mut Docs| d.records[3] += 1) as &dyn Fn(&mut Docs),
                "add up to",
            ),
            (&|d: &mut Docs| d.records[3] -= 1, "add up to"),
            (&|d: &mut Docs| d.records[1] = 0, "is empty"),
            (&|d: &mut Docs| d.record_files = vec![1, 3], "add up to"),
            (
                &|d: &mut Docs| d.record_files = vec![4],
                "in 1 files, but 4 records and 2",
            ),
            (
                &|d: &mut Docs| d.record_files = vec![2, 1],
                "lists 3 snippet records",
            ),
        ] {
            let (m, files, _) = with_records(tamper);
            let e = Bundle::from_files(m, |n| Ok(files.get(n).cloned()), false)
                .err()
                .expect("refused")
                .to_string();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn a_snippet_record_holds_only_its_own_page() {
        let (_, _, docs) = with_records(|_| {});
        let own = Fragments {
            page: "es/a".into(),
            chunks: vec![(1, vec!["x".into()])],
            pages: vec![(1, "/es/a.html".into(), "A".into())],
            headings: vec![(1, "H".into())],
        };
        records::check_scope(&docs, "s.bin", 1, &own).unwrap();
        let mut other = own.clone();
        other.chunks.push((2, vec!["y".into()]));
        let e = records::check_scope(&docs, "s.bin", 1, &other)
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds chunk 2"), "{e}");
        let mut other = own.clone();
        other.pages.push((3, "/ja/a.html".into(), "X".into()));
        let e = records::check_scope(&docs, "s.bin", 1, &other)
            .unwrap_err()
            .to_string();
        assert!(e.contains("names page 3"), "{e}");
        // a manifest of version 7 with fragment shards, or snippets before 7: refused
        let (m, files, _) = with_records(|_| {});
        let mut odd = m.clone();
        odd.version = 6;
        for s in odd.shards.iter_mut() {
            // (as version 6 would list them: the whole sha256)
            s.sha256 = crate::format::sha256_hex(&files[&s.name]);
        }
        let e = BundleManifest::parse(&odd.to_json())
            .unwrap_err()
            .to_string();
        assert!(e.contains("snippets shards"), "{e}");
    }

    #[test]
    fn display_fields_in_the_fragment_shards_come_in_with_them() {
        use crate::search::{search, Mode};
        let (m0, f0, docs) = with_display(false, false);
        // columns hold no display fields: a manifest that says otherwise is refused
        let mut odd = m0.clone();
        odd.docs_columns = true;
        odd.version = 6;
        let e = BundleManifest::parse(&odd.to_json())
            .unwrap_err()
            .to_string();
        assert!(e.contains("docs_columns needs display_in_fragments"), "{e}");
        let plain = Bundle::from_files(m0, |n| Ok(f0.get(n).cloned()), true).unwrap();
        for columns in [false, true] {
            let (m, files, _) = with_display(true, columns);
            // read whole (natively): the same table
            let whole = Bundle::from_files(m.clone(), |n| Ok(files.get(n).cloned()), true).unwrap();
            assert_eq!(whole.docs, docs);
            // the browser's way: blank until the shard of a page comes
            let mut b =
                Bundle::from_files(m.clone(), |n| Ok(files.get(n).cloned()), false).unwrap();
            assert!(b
                .docs
                .pages
                .iter()
                .all(|p| p.url.is_empty() && p.title.is_empty()));
            let frag = |i: usize| files[&m.fragment_shards().nth(i).unwrap().name].clone();
            b.add_fragments(1, &frag(1)).unwrap();
            assert_eq!(b.docs.pages[3], docs.pages[3]);
            assert!(b.docs.pages[0].url.is_empty());
            b.add_fragments(0, &frag(0)).unwrap();
            assert_eq!(b.docs, docs);
            for mode in [Mode::Lexical, Mode::Hybrid] {
                let q = query("text heading word1", mode);
                assert_eq!(
                    format!("{:?}", search(&b, &q)),
                    format!("{:?}", search(&plain, &q))
                );
            }
            // a shard naming a page that does not exist: an error naming it, no panic
            let name = m.fragment_shards().next().unwrap().name.clone();
            let bad = br#"{"chunks":[[0,["x"]]],"pages":[[99,"/x","X"]]}"#;
            let mut f: Fragments = serde_json::from_slice(bad).unwrap();
            f.chunks[0].0 = 0;
            let e = b.docs.add_display(&name, &f).unwrap_err().to_string();
            assert!(e.contains(&name) && e.contains("page 99"), "{e}");
        }
    }

    /// The vectors shard of `docs()` with `crowding`, loaded as a bundle.
    fn with_crowding(values: &[f32], crowding: &[f32]) -> Result<Bundle> {
        let docs = docs();
        let mut lex = LexicalIndexBuilder::new();
        for c in 0..4 {
            lex.add(c, &format!("text {c}"));
        }
        let mut w = ShardWriter::new(HashMap::<String, Vec<u8>>::new());
        for f in 0..2u32 {
            w.fragments(&Fragments {
                page: format!("p{}", 2 * f),
                chunks: (0..2)
                    .map(|c| (c, vec![format!("text {}", 2 * f + c)]))
                    .collect(),
                ..Default::default()
            })
            .unwrap();
        }
        w.docs(&docs).unwrap();
        w.vectors(4, 4, &quantize_i8_rows(values, 4), crowding)
            .unwrap();
        w.lexical(&lex.finish().to_bytes()).unwrap();
        let (shards, files) = w.finish();
        let model = test_model();
        let manifest = BundleManifest::new(model, &docs, shards);
        Bundle::from_files(manifest, |n| Ok(files.get(n).cloned()), true)
    }

    #[test]
    fn a_crowded_section_gives_way_to_an_equally_close_one() {
        use crate::search::{search, Fusion, Mode, Query};
        // chunks 0 (page en/a) and 2 (page en/b) are equally close to the
        // query; chunk 0 sits near many other articles' titles
        let mut values = vec![0f32; 16];
        values[0] = 1.0;
        values[8] = 1.0;
        values[5] = 1.0;
        values[15] = 1.0;
        let b = with_crowding(&values, &[0.4, 0.0, 0.1, 0.0]).unwrap();
        assert_eq!(b.vectors.crowding, [0.4, 0.0, 0.1, 0.0]);
        let ask = |crowding_weight: f32| {
            let fusion = Fusion {
                crowding_weight,
                page_context: 0.0,
                ..Fusion::default()
            };
            let q = Query {
                text: "",
                vector: Some(&[1.0, 0.0, 0.0, 0.0]),
                lang: None,
                k: 2,
                mode: Mode::Dense,
                fusion,
                filter: None,
            };
            search(&b, &q)
                .into_iter()
                .map(|h| h.page_id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ask(0.0)[0], "en/a", "ties go to the lower chunk");
        assert_eq!(ask(0.3)[0], "en/b", "the crowded section still came first");
        // a bundle without crowding ranks as before whatever the weight
        let plain = with_crowding(&values, &[]).unwrap();
        assert!(plain.vectors.crowding.is_empty());
    }

    #[test]
    fn a_damaged_crowding_tensor_is_an_error_that_names_the_shard() {
        use crate::format::tensors::{DType, TensorFileWriter};
        let values: Vec<f32> = (0..16).map(|i| i as f32).collect();
        for (bad, why) in [
            (
                vec![0.1, f32::NAN, 0.0, 0.0],
                "crowding of chunk 1 is not a number",
            ),
            (vec![0.1, 0.2], "is 2x1, expected 4x1"),
        ] {
            let mut w = TensorFileWriter::default();
            w.push_raw("vectors", DType::I8Row, 4, 4, &quantize_i8_rows(&values, 4));
            w.push_f32(crate::search::dense::CROWDING, bad.len(), 1, &bad);
            let err = match Vectors::parse("vectors.x.bin", &w.finish(), 4, 4) {
                Ok(_) => panic!("loaded a crowding tensor of {bad:?}"),
                Err(e) => e.to_string(),
            };
            assert!(err.contains("vectors.x.bin") && err.contains(why), "{err}");
        }
    }

    const CLUSTERED_PAGES: u32 = 300;

    /// 300 pages of 4 chunks in 64 dimensions, each chunk near its page's
    /// centre, with its vectors in sign codes (`codes`) or in one piece.
    fn clustered(codes: bool) -> (BundleManifest, HashMap<String, Vec<u8>>, Vec<f32>) {
        let (dim, pages) = (64usize, CLUSTERED_PAGES);
        let mut rnd = crate::search::dense::codes::test_values(5);
        let langs = ["en", "es", "ja"];
        let mut docs = Docs::default();
        let mut values = Vec::new();
        let mut lex = LexicalIndexBuilder::new();
        let mut chunks = Vec::new();
        for p in 0..pages {
            let lang = langs[p as usize % 3];
            docs.pages.push(PageMeta::new(
                &format!("{lang}/p{p}"),
                lang,
                &format!("g{}", p / 3),
            ));
            let centre: Vec<f32> = (0..dim).map(|_| rnd()).collect();
            for k in 0..4u32 {
                let c = docs.chunks.len() as u32;
                values.extend(centre.iter().map(|x| x + 0.35 * rnd()));
                docs.chunks.push(ChunkMeta {
                    page: p,
                    anchor: Some(format!("s{k}")),
                    heading: format!("Section {k}"),
                    frag: 0,
                    weight: None,
                });
                lex.add(c, &format!("page{p} section{k} common words"));
                chunks.push((c, vec![format!("text of chunk {c}")]));
            }
        }
        let n = docs.chunks.len();
        let crowding: Vec<f32> = (0..n).map(|i| (i % 5) as f32 * 0.02).collect();
        let rows = quantize_i8_rows(&values, dim);
        let mut w = ShardWriter::new(HashMap::<String, Vec<u8>>::new());
        w.fragments(&Fragments {
            page: "en/p0".into(),
            chunks,
            ..Default::default()
        })
        .unwrap();
        w.docs(&docs).unwrap();
        assert_eq!(
            crate::search::dense::codes::write_vectors(
                &mut w,
                &docs,
                dim,
                &rows,
                &crowding,
                Some(codes)
            )
            .unwrap(),
            codes
        );
        w.lexical(&lex.finish().to_bytes()).unwrap();
        let (shards, files) = w.finish();
        let model = ModelRef {
            dim,
            ..test_model()
        };
        let m = BundleManifest::new(model, &docs, shards);
        (BundleManifest::parse(&m.to_json()).unwrap(), files, values)
    }

    /// `(page, chunk, fused bits, dense bits)` of each hit of `q` (`lang`:
    /// the reader's language).
    fn ranked(
        b: &Bundle,
        v: &[f32],
        mode: crate::search::Mode,
        text: &str,
        lang: Option<&str>,
    ) -> Vec<(String, u32, u32, u32)> {
        use crate::search::{search, Fusion, Query};
        search(
            b,
            &Query {
                text,
                vector: Some(v),
                lang,
                k: 10,
                mode,
                fusion: Fusion::default(),
                filter: None,
            },
        )
        .into_iter()
        .map(|h| {
            (
                h.page_id,
                h.chunk,
                h.fused.to_bits(),
                h.dense.unwrap().to_bits(),
            )
        })
        .collect()
    }

    #[test]
    fn sign_codes_then_rescoring_rank_as_the_exact_scan() {
        use crate::search::Mode;
        let (m1, f1, values) = clustered(false);
        let (m, files, _) = clustered(true);
        assert!(m1.codes_shard().is_none() && m1.version < crate::bundle::BUNDLE_VERSION_CODES);
        assert_eq!(m.version, crate::bundle::BUNDLE_VERSION_CODES);
        let vs = m.shard(ShardKind::Vectors);
        assert!(vs.encoded.is_none(), "rows by byte range: no gzip form");
        assert_eq!(m.semantic_shard().kind, ShardKind::VectorCodes);
        let exact = Bundle::from_files(m1, |n| Ok(f1.get(n).cloned()), true).unwrap();
        let native = Bundle::from_files(m.clone(), |n| Ok(files.get(n).cloned()), true).unwrap();
        assert!(native.has_codes() && !exact.has_codes());
        assert_eq!(native.page_norms, exact.page_norms);
        // queries near chunks of different pages
        for t in [3usize, 101, 222, 459, 598, 1001, 1199] {
            let mut q: Vec<f32> = values[t * 64..(t + 1) * 64].to_vec();
            q[t % 64] += 0.2;
            let text = format!("page{} common", t / 4 + 1);
            let dense = ranked(&native, &q, Mode::Dense, &text, None);
            assert_eq!(
                dense,
                ranked(&exact, &q, Mode::Dense, &text, None),
                "query near {t}"
            );
            // shown in the reader's language: the same pages and scores (the
            // section of a translation that was not rescored is picked by
            // the first stage's estimate)
            let pages = |h: Vec<(String, u32, u32, u32)>| {
                h.into_iter().map(|x| (x.0, x.2)).collect::<Vec<_>>()
            };
            assert_eq!(
                pages(ranked(&native, &q, Mode::Dense, &text, Some("es"))),
                pages(ranked(&exact, &q, Mode::Dense, &text, Some("es"))),
                "query near {t}, in Spanish"
            );
            // the browser's way: codes up front, the rows the query names by range
            let mut b =
                Bundle::from_files_without_vectors(m.clone(), |n| Ok(files.get(n).cloned()), true)
                    .unwrap();
            b.add_vectors(&files[&m.semantic_shard().name]).unwrap();
            assert!(b.has_vectors() && b.has_codes());
            // a filter: the first stage's candidates among its pages, and
            // (for the query's confidence) those of every page; on a bundle
            // in one piece, nothing
            let filter: crate::search::Filter =
                [("product".to_string(), vec!["none".to_string()])].into();
            assert!(exact.dense_ranges_for(&q, Some(&filter)).is_empty());
            assert_eq!(
                b.dense_ranges_for(&q, Some(&filter)),
                b.dense_ranges_for(&q, None)
            );
            let ranges: Vec<(u32, String, u64, u64, Vec<u64>)> = b
                .dense_ranges_for(&q, None)
                .into_iter()
                .map(|r| (r.block, r.file.to_string(), r.start, r.end, r.block_ends))
                .collect();
            let fetched: u64 = ranges.iter().map(|r| r.3 - r.2).sum();
            assert!(
                !ranges.is_empty() && fetched < files[&vs.name].len() as u64 / 2,
                "{fetched} bytes"
            );
            for (bl, f, s, e, ends) in ranges {
                assert_eq!(f, vs.name);
                assert_eq!(ends.last(), Some(&e));
                // block by block, as the worker adds what it kept
                let mut at = s;
                for (i, end) in ends.into_iter().enumerate() {
                    b.add_vector_rows(bl + i as u32, &files[&f][at as usize..end as usize])
                        .unwrap();
                    at = end;
                }
            }
            assert!(b.dense_ranges_for(&q, None).is_empty());
            for mode in [Mode::Dense, Mode::Hybrid] {
                assert_eq!(
                    ranked(&b, &q, mode, &text, Some("es")),
                    ranked(&native, &q, mode, &text, Some("es")),
                    "{mode:?} near {t}"
                );
            }
        }
    }

    #[test]
    fn damaged_or_mismatched_sign_codes_are_errors_naming_the_file() {
        let (m, files, _) = clustered(true);
        let codes = m.semantic_shard().name.clone();
        let vectors = m.shard(ShardKind::Vectors).name.clone();
        let load = |m: &BundleManifest, f: &HashMap<String, Vec<u8>>, all: bool| {
            Bundle::from_files(m.clone(), |n| Ok(f.get(n).cloned()), all)
                .err()
                .map(|e| e.to_string())
        };
        // a flipped byte: the checksum names it
        let mut bad = files.clone();
        bad.get_mut(&codes).unwrap()[100] ^= 1;
        for all in [true, false] {
            let e = load(&m, &bad, all).unwrap();
            assert!(e.contains(&codes), "{e}");
        }
        // codes of other vectors, listed with their own checksum: refused
        // natively against the rows, naming a file
        let (other_m, other_files, _) = {
            let (mut om, mut of, v) = clustered(true);
            let other_codes = om.semantic_shard().clone();
            let mut other_bytes = of[&other_codes.name].clone();
            // the same site, one chunk's crowding changed
            // (after the crowding: norms, code references, codes and
            // block sums)
            let n = 4 * CLUSTERED_PAGES as usize;
            let at = other_bytes.len() - n * (2 + 1 + 8) - n / 4 * 4 - 2;
            other_bytes[at] ^= 0x40;
            of.insert(other_codes.name.clone(), other_bytes.clone());
            let s = om
                .shards
                .iter_mut()
                .find(|s| s.kind == ShardKind::VectorCodes)
                .unwrap();
            s.sha256 = crate::format::sha256_hex(&other_bytes);
            (om, of, v)
        };
        let e = load(&other_m, &other_files, true).unwrap();
        assert!(e.contains(&other_m.semantic_shard().name), "{e}");
        // a damaged block of rows: refused, naming the vectors shard, nothing added
        let mut b = Bundle::from_files(m.clone(), |n| Ok(files.get(n).cloned()), false).unwrap();
        let q = vec![0.1f32; 64];
        let r = b.dense_ranges_for(&q, None)[0].clone();
        let (bl, s, e) = (r.block, r.start, r.end);
        let mut rows = files[&vectors][s as usize..e as usize].to_vec();
        rows[7] ^= 1;
        let err = b.add_vector_rows(bl, &rows).unwrap_err();
        assert_eq!(err.code(), "checksum_mismatch");
        assert!(err.to_string().contains(&vectors), "{err}");
        let err = b.add_vector_rows(bl, &rows[..rows.len() - 1]).unwrap_err();
        assert!(err.to_string().contains(&vectors), "{err}");
        assert!(b.add_vector_rows(100_000, &rows).is_err());
        assert_eq!(b.dense_ranges_for(&q, None)[0].block, bl);
        // the whole vectors file, from a host that ignores Range
        b.add_vectors_file(&files[&vectors]).unwrap();
        assert!(b.dense_ranges_for(&q, None).is_empty());
        let mut cut = files[&vectors].clone();
        cut.pop();
        assert!(b
            .add_vectors_file(&cut)
            .unwrap_err()
            .to_string()
            .contains(&vectors));
    }

    #[test]
    fn fragment_shards_keep_their_names_when_shards_before_them_change() {
        let names = |first: &str| {
            let mut w = ShardWriter::new(HashMap::<String, Vec<u8>>::new());
            for (page, text) in [("a", first), ("b", "unchanged")] {
                w.fragments(&Fragments {
                    page: page.into(),
                    chunks: vec![(0, vec![text.into()])],
                    ..Default::default()
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
