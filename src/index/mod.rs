//! Indexing (native): a site's pages -> the search bundle, with the model
//! pack beside it (`crossfind index`).
//!
//! The steps of [`build_bundle`], each in its own file:
//! 0. look at the output folder: empty, or a bundle an earlier run wrote ([`output`]);
//! 1. chunk each page's sections to the model's token budget ([`chunk`]);
//! 2. feed each chunk's text to the lexical index;
//! 3. embed the chunks on one encoder thread per core ([`embed`]), while
//!    steps 1 and 2 go on; a chunk embedded by an earlier build with the
//!    same pack is taken from the embedding cache instead ([`cache`]);
//!    then move each chunk's vector a little towards its page title's
//!    ([`embed::blend_titles`]), take off its language's mean, shrunk for
//!    a language of few pages ([`embed::center_languages`]), and measure
//!    how crowded its place is among the other articles' titles
//!    ([`embed::crowding`]);
//! 4. write the fragment shards as their pages are done, then the docs,
//!    vectors and lexical shards (`bundle::write`);
//! 5. copy the model pack into `model/` ([`output`]);
//! 6. list the embedding rows the site's languages need offline ([`offline`]);
//! 7. write the manifest, with the low-confidence levels (once every vector
//!    is in, the model pack's sample questions are searched against them,
//!    [`confidence`]), then the offline copy's precache list ([`offline`]);
//! 8. delete what the previous bundle listed and this one does not ([`output`]).

pub mod cache;
mod chunk;
pub mod confidence;
mod embed;
mod offline;
mod output;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::bundle::write::{write_manifest, ShardWriter};
use crate::bundle::{BundleManifest, ChunkMeta, Docs, Fragments, LangCount, ModelRef, PageMeta};
use crate::error::{Error, Result};
use crate::format::fs::io;
use crate::ingest::Corpus;
use crate::model::Encoder;
use crate::search::lexical::LexicalIndexBuilder;

pub use output::previous_bundle;

/// Tunables of `index`.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Token budget of a chunk's body (the title line and model prefix come on top).
    pub chunk_tokens: usize,
    /// Sentences repeated at the start of the next chunk of a long section.
    pub overlap_sentences: usize,
    /// Pages whose text shares one fragment file (sites of up to
    /// [`DISPLAY_IN_FRAGMENTS_ABOVE`] pages; above, each page's text is a
    /// snippet record of its own, packed into a few `snippets` files).
    pub pages_per_fragment: usize,
    /// Write into an output folder that is neither empty nor a bundle (see
    /// [`previous_bundle`]). Nothing of what is there is deleted either way.
    pub force: bool,
    /// Folder of the embedding cache ([`cache`]); `None` embeds every chunk.
    pub cache: Option<PathBuf>,
    /// How many times a page's title counts in each of its chunks' keyword
    /// text (its words' term frequency); the dense vectors do not change.
    pub title_weight: u32,
    /// The same for the section's heading.
    pub heading_weight: u32,
    /// How far each chunk's vector moves towards its page title's, embedded
    /// as a query, for an article missing in every other language of the
    /// site (`embed::blend_titles`; less for one translated into some); 0
    /// leaves the vectors as the encoder gave them.
    pub title_vector_weight: f32,
    /// The lexical index's layout: `None` by its size (term-range pieces
    /// fetched per query above `search::lexical::PIECED_ABOVE` bytes),
    /// `Some(0)` one piece, `Some(n)` pieces of about `n` bytes.
    pub lexical_pieces: Option<usize>,
    /// The vectors' layout: `None` by their size (sign codes up front and
    /// rows fetched per query above
    /// `search::dense::codes::CODES_ABOVE_BYTES` of rows), `Some(true)`
    /// codes, `Some(false)` every row in one piece.
    pub dense_codes: Option<bool>,
}

/// Sites of more pages than this keep their pages' URLs and titles and
/// their sections' headings in the fragment shards, fetched for the hits
/// shown, instead of the docs shard every visit loads (about 40% of it).
pub const DISPLAY_IN_FRAGMENTS_ABOVE: usize = 200;

/// The largest title or heading weight: beyond it, BM25's term-frequency
/// saturation (k1 = 1.2) makes another repetition add almost nothing.
pub const MAX_TEXT_WEIGHT: u32 = 5;

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            chunk_tokens: 320,
            overlap_sentences: 1,
            pages_per_fragment: 24,
            force: false,
            cache: None,
            // measured on the demo's even qids (docs/multilingual.md): the
            // title twice lifts keyword-only search (what readers see before
            // the model is loaded) by 0.01 and leaves hybrid as it was
            title_weight: 2,
            heading_weight: 1,
            // measured on the demo's even qids (docs/multilingual.md, "The
            // title as a query"): lifts answers that exist in one language
            // only by about 0.02 of MRR@10, on both halves of the queries
            title_vector_weight: 0.15,
            lexical_pieces: None,
            dense_codes: None,
        }
    }
}

/// What `index` reports at the end.
#[derive(Debug, Default)]
pub struct BuildReport {
    pub pages: usize,
    pub chunks: usize,
    pub truncated_chunks: usize,
    /// The format version of the manifest written: `BUNDLE_VERSION` when the
    /// lexical index is in pieces or the display fields are in the
    /// fragment shards (and the docs shard in columns),
    /// `BUNDLE_VERSION_CODES` when the vectors have sign codes,
    /// `BUNDLE_VERSION_GZIP` when a file has a gzip form, else
    /// `BUNDLE_VERSION_PLAIN`.
    pub bundle_version: u32,
    pub languages: BTreeMap<String, LangCount>,
    /// `(file, kind, bytes)`, model files included (kind "model").
    pub files: Vec<(String, String, u64)>,
    /// Wall time from the first chunk sent to the encoder to the last vector back.
    pub embed_seconds: f64,
    /// Chunks whose vector came from the embedding cache.
    pub reused_chunks: usize,
    /// The cache file, when a cache was used.
    pub cache_file: Option<PathBuf>,
    /// Notes on the cache (not used, not saved), for the user.
    pub notes: Vec<String>,
}

/// Where a running build is, for a progress line.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    pub pages_done: usize,
    pub pages_total: usize,
    /// Chunks cut so far (the final count is known only at the end).
    pub chunks: usize,
    pub embedded: usize,
}

/// Builds the bundle for `corpus` into `out` (with the pack copied to `out/model`).
///
/// Streaming: pages are chunked in order and each page's text is released
/// from `corpus` once it is chunked; chunks go through a bounded queue to
/// one encoder thread per core, their vectors come back as int8 rows, and a
/// fragment shard is written as soon as its pages are done (above
/// [`DISPLAY_IN_FRAGMENTS_ABOVE`] pages, each page's snippet record is
/// packed, and a `snippets` file written every 2 MiB). What stays in
/// memory until the end is the output (page and chunk tables, int8
/// vectors, the lexical postings), not the site's text.
pub fn build_bundle(
    corpus: &mut Corpus,
    enc: &Encoder,
    pack_dir: &Path,
    out: &Path,
    opts: &BuildOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<BuildReport> {
    let previous = previous_bundle(out, opts.force)?;
    std::fs::create_dir_all(out).map_err(io(out))?;
    if previous.is_none() && opts.force {
        output::refuse_files_in_the_way(out, enc.manifest())?;
    }
    let mut writing = output::Writing::begin(out, previous.as_ref())?;
    let mut notes: Vec<String> = writing.note.take().into_iter().collect();

    let mut docs = Docs {
        pages: corpus
            .pages
            .iter()
            .map(|p| PageMeta {
                id: p.id.clone(),
                url: p.url.clone(),
                lang: p.lang.clone(),
                title: p.title.clone(),
                group: p.group.clone(),
                filters: p.tags.filters.clone(),
                weight: p.tags.weight,
            })
            .collect(),
        chunks: Vec::new(),
        records: Vec::new(),
        record_files: Vec::new(),
    };
    let pages_total = docs.pages.len();
    let display_in_fragments = pages_total > DISPLAY_IN_FRAGMENTS_ABOVE;
    let mut shards = ShardWriter::new(output::JournalSink {
        out,
        writing: &mut writing,
    });
    let mut lex = LexicalIndexBuilder::new();
    let mut cache = match &opts.cache {
        Some(dir) => {
            let c = cache::EmbedCache::open(dir, enc)?;
            notes.extend(c.note.clone());
            Some(c)
        }
        None => None,
    };
    let mut keys = Vec::new();
    let t0 = std::time::Instant::now();
    let (chunks, mut vectors) = embed::embed_passages(
        enc,
        |embedder| {
            let pages = Pages {
                corpus: &mut *corpus,
                enc,
                opts,
                docs: &mut docs,
                lex: &mut lex,
                shards: &mut shards,
                cache: cache.as_mut(),
                keys: &mut keys,
                display_in_fragments,
            };
            pages.index(embedder, progress)
        },
        |&chunks, v| {
            progress(Progress {
                pages_done: pages_total,
                pages_total,
                chunks,
                embedded: v.embedded,
            })
        },
    )?;
    let embed_seconds = t0.elapsed().as_secs_f64();
    if chunks == 0 {
        return Err(Error::Input(
            "no text to index: every page was empty or skipped".into(),
        ));
    }
    if vectors.embedded != chunks {
        return Err(Error::Encoder(format!(
            "{} of {chunks} chunks came back from the encoder",
            vectors.embedded
        )));
    }

    // the cache keeps the passages' own rows, before the titles are blended in
    if let Some(c) = cache.as_mut() {
        for (id, k) in keys.iter().enumerate() {
            if let Some(k) = k {
                let id = id as u32;
                c.put(
                    *k,
                    cache::Row {
                        bytes: vectors.row(id).to_vec(),
                        truncated: vectors.truncated_rows[id as usize],
                    },
                );
            }
        }
    }
    let weights = embed::title_blend_weights(&docs.pages, opts.title_vector_weight);
    let title_texts: Vec<&str> = docs.pages.iter().map(|p| p.title.as_str()).collect();
    let titles = embed::title_vectors(enc, &title_texts, cache.as_mut())?;
    embed::blend_titles(
        enc.dim(),
        &titles,
        &weights,
        docs.chunks.iter().map(|c| c.page),
        &mut vectors.rows,
    );
    let chunk_pages: Vec<u32> = docs.chunks.iter().map(|c| c.page).collect();
    embed::center_languages(enc.dim(), &mut vectors.rows, &docs.pages, &chunk_pages);
    let crowding = embed::crowding(enc.dim(), &vectors.rows, &docs.pages, &chunk_pages, &titles);

    // the low-confidence levels, from the site's vectors (their sample
    // questions' rows go into the cache too)
    let site_vectors = crate::search::Vectors {
        dim: enc.dim(),
        rows: chunks,
        raw: std::mem::take(&mut vectors.rows),
        crowding: Vec::new(),
    };
    let levels = confidence::levels(enc, &site_vectors, cache.as_mut())?;
    vectors.rows = site_vectors.raw;

    if let Some(c) = cache.as_mut() {
        if let Err(e) = c.save() {
            notes.push(format!(
                "the embedding cache {} could not be written ({e}); the next build embeds every chunk again",
                c.path().display()
            ));
        }
    }

    if display_in_fragments {
        shards.docs_columns(&docs, false)?;
    } else {
        shards.docs(&docs)?;
    }
    crate::search::dense::codes::write_vectors(
        &mut shards,
        &docs,
        enc.dim(),
        &vectors.rows,
        &crowding,
        opts.dense_codes,
    )?;
    drop(std::mem::take(&mut vectors.rows));
    lex.finish()
        .write_shards(&mut shards, opts.lexical_pieces)?;
    let (shards, _) = shards.finish();

    let model_dir = out.join(output::MODEL_DIR);
    let old_pack = previous.as_ref().and_then(|_| output::pack_in(&model_dir));
    writing.will_write_model()?;
    let (copied, mut files) =
        output::copy_model(enc.manifest(), pack_dir, &model_dir, old_pack.as_ref())?;
    let pack = &copied;
    for s in &shards {
        files.push((
            s.name.clone(),
            format!("{:?}", s.kind).to_lowercase(),
            s.bytes,
        ));
        if let Some(e) = &s.encoded {
            files.push((e.name.clone(), "gzip".into(), e.bytes));
        }
    }
    let languages = docs.languages();
    let model = ModelRef {
        pack_id: pack.pack_id(),
        id: pack.model.id.clone(),
        dim: enc.dim(),
        dir: "model".into(),
    };
    let offline_rows = offline::offline_rows(pack, languages.keys(), &model_dir)?;
    let mut manifest = BundleManifest::new(model, &docs, shards);
    if display_in_fragments {
        manifest.display_in_fragments = true;
        manifest.docs_columns = true;
        manifest.version = crate::bundle::BUNDLE_VERSION;
    }
    manifest.confidence = levels;
    write_manifest(out, &manifest)?;
    writing.committed();
    let precache = offline::write_precache(out, &manifest, pack, offline_rows.as_ref())?;
    output::remove_stale(
        out,
        &manifest,
        previous.as_ref(),
        &model_dir,
        pack,
        old_pack.as_ref(),
    );
    writing.finish()?;
    files.push((
        crate::bundle::MANIFEST.into(),
        "manifest".into(),
        std::fs::metadata(out.join(crate::bundle::MANIFEST))
            .map(|m| m.len())
            .unwrap_or(0),
    ));
    files.push(precache);
    Ok(BuildReport {
        pages: docs.pages.len(),
        chunks,
        truncated_chunks: vectors.truncated,
        bundle_version: manifest.version,
        languages,
        files,
        embed_seconds,
        reused_chunks: vectors.reused,
        cache_file: cache.map(|c| c.path().to_path_buf()),
        notes,
    })
}

/// Steps 1 to 4, page by page: what the pages' chunks add to the docs
/// table, the lexical index, the encoder queue and the fragment shards.
struct Pages<'a, 'o> {
    corpus: &'a mut Corpus,
    enc: &'a Encoder,
    opts: &'a BuildOptions,
    docs: &'a mut Docs,
    lex: &'a mut LexicalIndexBuilder,
    shards: &'a mut ShardWriter<output::JournalSink<'o>>,
    cache: Option<&'a mut cache::EmbedCache>,
    /// Chunk `id`'s cache key, when it was sent to the encoder (`None`:
    /// its row came from the cache, or there is no cache).
    keys: &'a mut Vec<Option<cache::Key>>,
    /// Whether the snippet text carries the pages' URLs and titles and the
    /// chunks' headings (`BundleManifest::display_in_fragments`); it then
    /// comes as snippet records, one a page (bundle format 7).
    display_in_fragments: bool,
}

impl Pages<'_, '_> {
    /// Chunks every page, in order; returns the number of chunks.
    fn index(
        mut self,
        embedder: &mut embed::Embedder,
        progress: &dyn Fn(Progress),
    ) -> Result<usize> {
        let budget = self
            .opts
            .chunk_tokens
            .min(self.enc.manifest().profile.max_tokens.saturating_sub(64))
            .max(16);
        let per_frag = self.opts.pages_per_fragment.max(1);
        let pages_total = self.corpus.pages.len();
        let mut frag = Fragments::default();
        // `frag`'s index (`ChunkMeta::frag`), its pages so far, and the id
        // of its first chunk
        let (mut frag_index, mut frag_pages, mut base) = (0u32, 0usize, 0u32);
        for pi in 0..pages_total {
            // version 7 (display in fragments): a snippet record a page
            if !frag.chunks.is_empty()
                && (self.display_in_fragments
                    || frag_pages >= 4 * per_frag
                    || starts_fragment(&self.corpus.pages[pi].id, per_frag))
            {
                self.emit(&std::mem::take(&mut frag))?;
                frag_index += 1;
                frag_pages = 0;
                base = self.docs.chunks.len() as u32;
            }
            frag_pages += 1;
            let page = &mut self.corpus.pages[pi];
            let sections = std::mem::take(&mut page.sections);
            for s in sections {
                let title_line = chunk::title_line(page, &s);
                let chunks = chunk::chunk_section(
                    &title_line,
                    &s.text,
                    self.enc,
                    budget,
                    self.opts.overlap_sentences,
                )?;
                for c in chunks {
                    let id = self.docs.chunks.len() as u32;
                    self.docs.chunks.push(ChunkMeta {
                        page: pi as u32,
                        anchor: s.anchor.clone(),
                        heading: s.heading.clone(),
                        frag: frag_index,
                        weight: s.weight,
                    });
                    self.lex.add(
                        id,
                        &keyword_text(&page.title, &s.heading, &c.sentences, self.opts),
                    );
                    match self.cache.as_deref_mut() {
                        Some(cache) => {
                            let k = cache::key(&c.passage);
                            if let Some(row) = cache.get(&k) {
                                embedder.vectors.put(id, &row.bytes, row.truncated);
                                embedder.vectors.reused += 1;
                                self.keys.push(None);
                            } else {
                                self.keys.push(Some(k));
                                embedder.send(id, c.passage)?;
                            }
                        }
                        None => embedder.send(id, c.passage)?,
                    }
                    if frag.chunks.is_empty() {
                        frag.page = page.id.clone();
                    }
                    if self.display_in_fragments {
                        if frag.pages.last().map(|p| p.0) != Some(pi as u32) {
                            frag.pages
                                .push((pi as u32, page.url.clone(), page.title.clone()));
                        }
                        if !s.heading.is_empty() {
                            frag.headings.push((id - base, s.heading.clone()));
                        }
                    }
                    frag.chunks.push((id - base, c.sentences));
                }
            }
            progress(Progress {
                pages_done: pi + 1,
                pages_total,
                chunks: self.docs.chunks.len(),
                embedded: embedder.vectors.embedded,
            });
        }
        if !frag.chunks.is_empty() {
            self.emit(&frag)?;
        }
        self.shards.flush_snippets()?;
        self.docs.record_files = self.shards.record_files().to_vec();
        Ok(self.docs.chunks.len())
    }

    /// Writes the snippet text of the chunks since the last call: a
    /// snippet record (one page; version 7, when the display fields travel
    /// with it) or a fragment shard.
    fn emit(&mut self, frag: &Fragments) -> Result<()> {
        if self.display_in_fragments {
            // a file ends after about one page in SNIPPET_PAGES_PER_FILE,
            // chosen by its id: an edit renames its own file only
            let last = starts_fragment(&frag.page, crate::bundle::SNIPPET_PAGES_PER_FILE);
            let len = self.shards.snippet_record(frag, last)?;
            self.docs.records.push(len);
            Ok(())
        } else {
            self.shards.fragments(frag)
        }
    }
}

/// Whether the page `id` starts a new fragment shard (when the shard being
/// filled has text): for about one page in `per_frag`, chosen by the page's
/// id, not its position, so that adding or removing a page moves the
/// boundaries of its own shard only, and every other shard keeps its bytes
/// and its name. A shard also ends at `4 × per_frag` pages.
fn starts_fragment(id: &str, per_frag: usize) -> bool {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(id.as_bytes());
    u64::from_le_bytes(h[..8].try_into().expect("8 bytes")) % per_frag as u64 == 0
}

/// A chunk's text for the keyword index: the page title `title_weight`
/// times, the heading `heading_weight` times (each at least once), then
/// the chunk's sentences.
fn keyword_text(title: &str, heading: &str, sentences: &[String], opts: &BuildOptions) -> String {
    let mut t = String::new();
    for _ in 0..opts.title_weight.clamp(1, MAX_TEXT_WEIGHT) {
        t.push_str(title);
        t.push('\n');
    }
    for _ in 0..opts.heading_weight.clamp(1, MAX_TEXT_WEIGHT) {
        t.push_str(heading);
        t.push('\n');
    }
    t.push_str(&sentences.join(" "));
    t
}
