//! Writing a bundle's shards and manifest (native): content-hashed names,
//! size and sha256 per shard, the manifest last. The indexer streams its
//! shards through a [`ShardWriter`]; benchmarks and fuzz seeds hand their
//! whole content to [`write_shards`].

use std::collections::HashMap;
use std::path::Path;

use super::*;
use crate::format::encoding::{gzip, worth_storing, Encoding};
use crate::format::fs::{holds, io, replace_file};
use crate::format::tensors::{DType, TensorFileWriter};

/// The most bytes of lexical pieces one `lexical_terms` file holds: the
/// file count grows by one every 4 MiB of index (a 100,000-page site's
/// ~40 MB index is about ten files).
pub const LEXICAL_TERMS_FILE_BYTES: usize = 4 << 20;

/// Where shards go: a bundle folder ([`DirSink`]) or memory (a map from
/// shard name to bytes).
pub trait ShardSink {
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<()>;
}

/// Writes shards into a bundle folder. A file of the same name and bytes
/// (an earlier build's) is left as it is.
pub struct DirSink<'a>(pub &'a Path);

impl ShardSink for DirSink<'_> {
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.0.join(name);
        // same name, same bytes: a shard an earlier build left is reused
        if !holds(&path, bytes) {
            replace_file(&path, bytes).map_err(io(&path))?;
        }
        Ok(())
    }
}

impl ShardSink for HashMap<String, Vec<u8>> {
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        self.insert(name.to_string(), bytes.to_vec());
        Ok(())
    }
}

/// Encodes shards one at a time, in any order, and lists them as the
/// manifest does ([`ShardWriter::finish`]).
pub struct ShardWriter<S> {
    sink: S,
    shards: Vec<Shard>,
    /// Snippet records not yet written to a `snippets` file, and how many.
    snippets: Vec<u8>,
    pending_records: u32,
    /// Records per `snippets` file written (`Docs::record_files`).
    record_files: Vec<u32>,
}

impl<S: ShardSink> ShardWriter<S> {
    pub fn new(sink: S) -> Self {
        ShardWriter {
            sink,
            shards: Vec::new(),
            snippets: Vec::new(),
            pending_records: 0,
            record_files: Vec::new(),
        }
    }

    /// The next page's snippet record (version 7, `Fragments::to_record`),
    /// packed after the previous one, into a new `snippets` file when it
    /// would take this one past [`SNIPPETS_FILE_BYTES`]; `last`: the file
    /// ends after it. Returns its stored length, for `Docs::records`.
    /// [`flush_snippets`](Self::flush_snippets) writes the last file, and
    /// [`record_files`](Self::record_files) says how many records each holds.
    pub fn snippet_record(&mut self, f: &Fragments, last: bool) -> Result<u32> {
        let record = f.to_record();
        if !self.snippets.is_empty()
            && (self.snippets.len() + record.len()) as u64 > SNIPPETS_FILE_BYTES
        {
            self.flush_snippets()?;
        }
        self.snippets.extend_from_slice(&record);
        self.pending_records += 1;
        if last {
            self.flush_snippets()?;
        }
        u32::try_from(record.len())
            .map_err(|_| Error::Input(format!("page {} has more than 4 GiB of text", f.page)))
    }

    /// Writes the snippet records packed so far as a `snippets` file
    /// (fetched by byte range: no gzip form, its records are compressed).
    pub fn flush_snippets(&mut self) -> Result<()> {
        if self.snippets.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::take(&mut self.snippets);
        self.record_files
            .push(std::mem::take(&mut self.pending_records));
        self.write_as("snippets", "bin", ShardKind::Snippets, &bytes, false)
    }

    /// How many records each `snippets` file written so far holds.
    pub fn record_files(&self) -> &[u32] {
        &self.record_files
    }

    /// Writes the shard, and its gzip form beside it when that saves
    /// enough (`format::encoding::worth_storing`): `<name>.gz`.
    fn write(&mut self, stem: &str, ext: &str, kind: ShardKind, bytes: &[u8]) -> Result<()> {
        self.write_as(stem, ext, kind, bytes, true)
    }

    /// [`write`](Self::write), with a gzip form only when `gz` is true (not
    /// for files fetched by byte range).
    fn write_as(
        &mut self,
        stem: &str,
        ext: &str,
        kind: ShardKind,
        bytes: &[u8],
        gz: bool,
    ) -> Result<()> {
        let name = hashed_name(stem, ext, bytes);
        self.sink.put(&name, bytes)?;
        let gz = if gz { gzip(bytes) } else { Vec::new() };
        let encoded = if !gz.is_empty() && worth_storing(bytes.len(), gz.len()) {
            let gz_name = format!("{name}{}", Encoding::Gzip.suffix());
            self.sink.put(&gz_name, &gz)?;
            Some(Encoded {
                encoding: Encoding::Gzip,
                name: gz_name,
                bytes: gz.len() as u64,
                sha256: sha256_hex(&gz),
            })
        } else {
            None
        };
        self.shards.push(Shard {
            sha256: sha256_hex(bytes),
            bytes: bytes.len() as u64,
            name,
            kind,
            encoded,
        });
        Ok(())
    }

    /// The next fragment shard (`ChunkMeta::frag` counts them from 0), its
    /// chunks numbered from 0 (see `Fragments`). Its name carries no
    /// index, so a shard whose text did not change keeps its name when
    /// shards before it come or go.
    pub fn fragments(&mut self, f: &Fragments) -> Result<()> {
        let bytes = serde_json::to_vec(f).expect("fragments serialise");
        self.write("frag", "json", ShardKind::Fragments, &bytes)
    }

    /// The page and chunk table.
    pub fn docs(&mut self, docs: &Docs) -> Result<()> {
        let bytes = serde_json::to_vec(docs).expect("docs serialise");
        self.write("docs", "json", ShardKind::Docs, &bytes)
    }

    /// The page and chunk table in columns, without its display fields
    /// (`bundle::to_columns`): for a manifest with `docs_columns` and
    /// `display_in_fragments`, whose fragment shards carry them, and
    /// without the page ids unless `with_ids` (version 8: the snippet
    /// records carry them).
    pub fn docs_columns(&mut self, docs: &Docs, with_ids: bool) -> Result<()> {
        self.write("docs", "json", ShardKind::Docs, &to_columns(docs, with_ids))
    }

    /// The chunk vectors: `rows` int8 rows of `dim` values with a scale
    /// each (`format::tensors::quantize_i8_rows`), in chunk order, and their
    /// crowding (`search::Vectors::crowding`; empty: none written).
    pub fn vectors(
        &mut self,
        rows: usize,
        dim: usize,
        i8_rows: &[u8],
        crowding: &[f32],
    ) -> Result<()> {
        let mut vw = TensorFileWriter::default();
        vw.push_raw("vectors", DType::I8Row, rows, dim, i8_rows);
        if !crowding.is_empty() {
            vw.push_f32(CROWDING_TENSOR, rows, 1, crowding);
        }
        self.write("vectors", "bin", ShardKind::Vectors, &vw.finish())
    }

    /// The chunk vectors with their sign codes (bundle version 5): the
    /// vectors shard as [`vectors`](Self::vectors) writes it but with no
    /// gzip form (the browser fetches its rows by byte range), and the
    /// `vector_codes` shard the browser loads up front, made by `codes`
    /// from the byte offset of the rows in the vectors shard
    /// (`search::dense::codes::codes_bytes`).
    pub fn vectors_with_codes(
        &mut self,
        rows: usize,
        dim: usize,
        i8_rows: &[u8],
        crowding: &[f32],
        codes: impl FnOnce(u64) -> Vec<u8>,
    ) -> Result<()> {
        let mut vw = TensorFileWriter::default();
        vw.push_raw("vectors", DType::I8Row, rows, dim, i8_rows);
        if !crowding.is_empty() {
            vw.push_f32(CROWDING_TENSOR, rows, 1, crowding);
        }
        let file = vw.finish();
        let rows_at =
            crate::format::tensors::TensorFile::parse("vectors", &file)?.byte_offset("vectors")?;
        self.write_as("vectors", "bin", ShardKind::Vectors, &file, false)?;
        self.write(
            "vector-codes",
            "bin",
            ShardKind::VectorCodes,
            &codes(rows_at as u64),
        )
    }

    /// The lexical index in one piece (`search::lexical::LexicalIndex::to_bytes`).
    pub fn lexical(&mut self, bytes: &[u8]) -> Result<()> {
        self.write("lexical", "bin", ShardKind::Lexical, bytes)
    }

    /// A lexical index in term-range pieces (`(first term, bytes)` in term
    /// order, `search::lexical::LexicalIndex::split_terms`), packed in order
    /// into `lexical_terms` files of at most `file_bytes` (a piece larger
    /// than that alone in one), and its head, made by `head` from where
    /// each piece went (file, byte range, inflated length), as the
    /// `lexical` shard. The pieces files are fetched by byte range: no gzip
    /// form; instead each piece is stored as a zlib stream (level 9: half
    /// the bytes a query's pieces cost), whose Adler-32 checks it (head
    /// version 4, no sha256).
    pub fn lexical_pieces(
        &mut self,
        pieces: Vec<(String, Vec<u8>)>,
        file_bytes: usize,
        head: impl FnOnce(&[PieceRef]) -> Vec<u8>,
    ) -> Result<()> {
        let mut refs = Vec::new();
        let mut file: Vec<u8> = Vec::new();
        let mut files = 0u32;
        for (first, bytes) in pieces {
            // a zlib stream: its Adler-32 checks the piece (head version 4)
            let stored = miniz_oxide::deflate::compress_to_vec_zlib(&bytes, 9);
            if !file.is_empty() && file.len() + stored.len() > file_bytes {
                self.write_as(
                    "lexical-terms",
                    "bin",
                    ShardKind::LexicalTerms,
                    &file,
                    false,
                )?;
                file.clear();
                files += 1;
            }
            refs.push(PieceRef {
                first,
                file: files,
                start: file.len() as u64,
                len: stored.len() as u64,
                sha256: None,
                plain: Some(bytes.len() as u64),
            });
            file.extend_from_slice(&stored);
        }
        if !file.is_empty() {
            self.write_as(
                "lexical-terms",
                "bin",
                ShardKind::LexicalTerms,
                &file,
                false,
            )?;
        }
        self.write("lexical", "bin", ShardKind::Lexical, &head(&refs))
    }

    /// The shards as the manifest lists them (by kind, fragments and
    /// snippets files in index order), and the sink. Snippet records must
    /// have been flushed.
    pub fn finish(mut self) -> (Vec<Shard>, S) {
        assert!(
            self.snippets.is_empty(),
            "flush_snippets before finish: snippet records were not written"
        );
        self.shards.sort_by_key(|s| match s.kind {
            ShardKind::Docs => 0,
            ShardKind::Vectors => 1,
            ShardKind::VectorCodes => 2,
            ShardKind::Lexical => 3,
            ShardKind::LexicalTerms => 4,
            ShardKind::Fragments => 5,
            ShardKind::Snippets => 6,
        });
        (self.shards, self.sink)
    }
}

/// A whole bundle's content, to write at once.
pub struct Content<'a> {
    pub docs: &'a Docs,
    /// Vector dimension and `docs.chunks.len()` int8 rows (see [`ShardWriter::vectors`]).
    pub dim: usize,
    pub vectors: &'a [u8],
    /// The lexical index's bytes.
    pub lexical: &'a [u8],
    /// Fragment shards `0..`, by `ChunkMeta::frag`, each numbering its
    /// chunks from 0.
    pub fragments: &'a [Fragments],
}

/// Writes every shard of `content` into `sink` and returns the manifest
/// that lists them, for the pack `model`. Nothing is written for the
/// manifest itself: see [`write_manifest`] for a folder.
pub fn write_shards<S: ShardSink>(
    sink: S,
    content: &Content,
    model: ModelRef,
) -> Result<(BundleManifest, S)> {
    let mut w = ShardWriter::new(sink);
    for f in content.fragments {
        w.fragments(f)?;
    }
    w.docs(content.docs)?;
    w.vectors(content.docs.chunks.len(), content.dim, content.vectors, &[])?;
    w.lexical(content.lexical)?;
    let (shards, sink) = w.finish();
    Ok((BundleManifest::new(model, content.docs, shards), sink))
}

impl BundleManifest {
    /// The manifest of a bundle of `docs` in `shards`.
    pub fn new(model: ModelRef, docs: &Docs, shards: Vec<Shard>) -> Self {
        let encoded = shards.iter().any(|s| s.encoded.is_some());
        let pieced = shards.iter().any(|s| s.kind == ShardKind::LexicalTerms);
        let coded = shards.iter().any(|s| s.kind == ShardKind::VectorCodes);
        // (`docs_columns`, set by the caller with snippet records, makes it
        // version 8)
        BundleManifest {
            format: BUNDLE_FORMAT.into(),
            version: if pieced {
                BUNDLE_VERSION_PIECES
            } else if coded {
                BUNDLE_VERSION_CODES
            } else if encoded {
                BUNDLE_VERSION_GZIP
            } else {
                BUNDLE_VERSION_PLAIN
            },
            model,
            pages: docs.pages.len(),
            chunks: docs.chunks.len(),
            languages: docs.languages(),
            shards,
            confidence: None,
            display_in_fragments: false,
            docs_columns: false,
            snippet_files: Vec::new(),
        }
    }

    /// The manifest's bytes as written to [`MANIFEST`]: compact JSON, as
    /// every visit fetches it before the first keyword result (on a
    /// 5,040-page site the indentation of its 219 shard entries was a fifth
    /// of its 94 kB; `jq .` shows it indented), and from version 6 without
    /// the gzip forms' names and checksums (46 of the 70 kB left).
    pub fn to_json(&self) -> Vec<u8> {
        if self.version < NAMES_IMPLIED_FROM {
            return serde_json::to_vec(self).expect("manifest serialises");
        }
        // the gzip forms' names follow from the shards' and their
        // checksums are not read (`format::Encoded`)
        let mut m = self.clone();
        for e in m.shards.iter_mut().filter_map(|s| s.encoded.as_mut()) {
            e.name.clear();
            e.sha256.clear();
        }
        if m.version >= 8 {
            // the snippets files by the start of their sha256, which names
            // them (`snippet_files`)
            let (files, others): (Vec<Shard>, Vec<Shard>) = m.shards.into_iter().partition(|s| {
                s.kind == ShardKind::Snippets
                    && s.encoded.is_none()
                    && s.sha256.len() > SNIPPET_HASH_HEX
                    && s.name == format!("snippets.{}.bin", &s.sha256[..SNIPPET_HASH_HEX])
            });
            m.shards = others;
            m.snippet_files.extend(
                files
                    .into_iter()
                    .map(|s| (s.sha256[..SNIPPET_HASH_HEX].to_string(), s.bytes)),
            );
        }
        serde_json::to_vec(&m).expect("manifest serialises")
    }
}

/// Writes the manifest into the bundle folder `out`, last and through a
/// temporary file ([`replace_file`]), so a crash never leaves a manifest
/// naming shards that are not all there.
pub fn write_manifest(out: &Path, manifest: &BundleManifest) -> Result<()> {
    let path = out.join(MANIFEST);
    replace_file(&path, &manifest.to_json()).map_err(io(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_shaped_as_shards_count_as_crossfinds_own() {
        use crate::bundle::{hashed_name, is_hashed_name};
        for stem in ["docs", "lexical-terms", "frag", "snippets", "vectors"] {
            let name = hashed_name(stem, "bin", b"x");
            assert!(is_hashed_name(&name), "{name}");
            assert!(is_hashed_name(&format!("{name}.gz")), "{name}.gz");
        }
        for name in [
            "keep-me.html",
            "manifest.json",
            "docs.notes.txt",
            "../frag.0123456789ab.json",
            "frag.0123456789AB.json",
            "frag.0123456789a.json",
            ".frag.0123456789ab.json",
            "frag.0123456789ab.json.tmp",
            "frag.0123456789ab.",
        ] {
            assert!(!is_hashed_name(name), "{name}");
        }
    }

    /// A bundle manifest of `version` listing a docs shard big enough to
    /// have a gzip form, and its files.
    fn written(version: u32) -> (BundleManifest, HashMap<String, Vec<u8>>) {
        let pages: Vec<PageMeta> = (0..300)
            .map(|i| PageMeta::new(&format!("en/page-{i}"), "en", &format!("g{i}")))
            .collect();
        let chunks = (0..300)
            .map(|i| ChunkMeta {
                page: i,
                anchor: None,
                heading: String::new(),
                frag: 0,
                weight: None,
            })
            .collect();
        let docs = Docs {
            pages,
            chunks,
            ..Default::default()
        };
        let mut w = ShardWriter::new(HashMap::<String, Vec<u8>>::new());
        w.docs(&docs).unwrap();
        w.vectors(0, 4, &[], &[]).unwrap();
        w.lexical(
            &crate::search::lexical::LexicalIndexBuilder::new()
                .finish()
                .to_bytes(),
        )
        .unwrap();
        let (shards, files) = w.finish();
        let model = ModelRef::for_tests(4);
        let mut m = BundleManifest::new(model, &docs, shards);
        m.version = version;
        (m, files)
    }

    #[test]
    fn from_version_6_gzip_forms_are_listed_by_encoding_and_size() {
        let (m, files) = written(BUNDLE_VERSION);
        let e = m.shards[0].encoded.clone().expect("a gzip form");
        assert!(files.contains_key(&e.name) && !e.sha256.is_empty());
        let text = String::from_utf8(m.to_json()).unwrap();
        assert!(
            !text.contains(".gz") && text.matches("sha256").count() == m.shards.len(),
            "{text}"
        );
        // read back: the name is the shard's with `.gz`, no checksum
        let back = serde_json::from_slice::<serde_json::Value>(&m.to_json()).unwrap();
        let parsed = BundleManifest::parse(&m.to_json()).unwrap();
        let got = parsed.shards[0].encoded.as_ref().unwrap();
        assert_eq!((got.name.as_str(), got.bytes), (e.name.as_str(), e.bytes));
        assert!(got.sha256.is_empty() && back["shards"][0]["encoded"]["bytes"] == e.bytes);
        // an older version keeps writing both, and needs them
        let (old, _) = written(BUNDLE_VERSION_CODES);
        let text = String::from_utf8(old.to_json()).unwrap();
        assert!(text.contains(&e.name) && text.contains(&e.sha256));
        let mut v: serde_json::Value = serde_json::from_slice(&old.to_json()).unwrap();
        v["shards"][0]["encoded"]["name"] = "".into();
        let err = BundleManifest::parse(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
    }

    #[test]
    fn version_8_lists_snippets_files_by_the_start_of_their_sha256() {
        let (mut m, mut files) = written(BUNDLE_VERSION);
        let mut w = ShardWriter::new(HashMap::<String, Vec<u8>>::new());
        for i in 0..3 {
            let record = Fragments {
                page: format!("en/page-{i}"),
                chunks: vec![(0, vec![format!("text {i}")])],
                ..Default::default()
            };
            w.snippet_record(&record, true).unwrap();
        }
        w.flush_snippets().unwrap();
        let (snippets, more) = w.finish();
        assert_eq!(snippets.len(), 3);
        files.extend(more);
        m.shards.extend(snippets.iter().cloned());
        m.docs_columns = true;
        m.display_in_fragments = true;
        let json = m.to_json();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let listed = v["snippet_files"].as_array().unwrap();
        assert_eq!(listed.len(), 3);
        assert!(v["shards"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["kind"] != "snippets"));
        assert_eq!(listed[0][0], snippets[0].name[9..21]);
        assert_eq!(listed[0][1], snippets[0].bytes);
        // read back: shards again, in order, by the start of their sha256
        let parsed = BundleManifest::parse(&json).unwrap();
        assert!(parsed.snippet_files.is_empty());
        let back: Vec<&Shard> = parsed.snippet_shards().collect();
        assert_eq!(back.len(), 3);
        for (b, s) in back.iter().zip(&snippets) {
            assert_eq!((&b.name, b.bytes), (&s.name, s.bytes));
            assert_eq!(b.sha256, s.sha256[..SNIPPET_HASH_HEX]);
            crate::format::verify_file(*b, &files[&s.name]).unwrap();
        }
        // a file whose content does not start its listed sha256, or has
        // another size, is refused
        let mut other = files[&snippets[0].name].clone();
        other[0] ^= 1;
        let e = crate::format::verify_file(back[0], &other).unwrap_err();
        assert!(matches!(e, Error::Checksum { .. }), "{e}");
        assert!(crate::format::verify_file(back[0], &other[1..]).is_err());
        // a listing that is not 12 hex digits, or in an older version, and
        // a shard listed with a short sha256, are refused
        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = v.clone();
            f(&mut v);
            BundleManifest::parse(&serde_json::to_vec(&v).unwrap())
                .unwrap_err()
                .to_string()
        };
        assert!(edit(&|v| v["snippet_files"][0][0] = "../../x".into()).contains("12 hex digits"));
        assert!(
            edit(&|v| v["snippet_files"][0][0] = "ABCDEF012345".into()).contains("12 hex digits")
        );
        assert!(edit(&|v| v["version"] = 7.into()).contains("only version 8"));
        assert!(
            edit(&|v| v["shards"][0]["sha256"] = "abcdef012345".into()).contains("64 hex digits")
        );
    }
}
