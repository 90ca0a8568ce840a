//! Indexing (native): a site's pages -> the search bundle, with the model
//! pack beside it (`crossfind index`).
//!
//! The steps of [`build_bundle`], each in its own file:
//! 0. look at the output folder: empty, or a bundle an earlier run wrote ([`output`]);
//! 1. chunk each page's sections to the model's token budget ([`chunk`]);
//! 2. feed each chunk's text to the lexical index;
//! 3. embed the chunks on one encoder thread per core ([`embed`]), while
//!    steps 1 and 2 go on;
//! 4. write the fragment shards as their pages are done, then the docs,
//!    vectors and lexical shards (`bundle::write`);
//! 5. copy the model pack into `model/` ([`output`]);
//! 6. list the embedding rows the site's languages need offline ([`offline`]);
//! 7. write the manifest, then the offline copy's precache list ([`offline`]);
//! 8. delete what the previous bundle listed and this one does not ([`output`]).

mod chunk;
mod embed;
mod offline;
mod output;

use std::collections::BTreeMap;
use std::path::Path;

use crate::bundle::write::{write_manifest, DirSink, ShardWriter};
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
    /// Pages whose text shares one fragment file.
    pub pages_per_fragment: usize,
    /// Write into an output folder that is neither empty nor a bundle (see
    /// [`previous_bundle`]). Nothing of what is there is deleted either way.
    pub force: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            chunk_tokens: 320,
            overlap_sentences: 1,
            pages_per_fragment: 24,
            force: false,
        }
    }
}

/// What `index` reports at the end.
#[derive(Debug, Default)]
pub struct BuildReport {
    pub pages: usize,
    pub chunks: usize,
    pub truncated_chunks: usize,
    pub languages: BTreeMap<String, LangCount>,
    /// `(file, kind, bytes)`, model files included (kind "model").
    pub files: Vec<(String, String, u64)>,
    /// Wall time from the first chunk sent to the encoder to the last vector back.
    pub embed_seconds: f64,
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
/// fragment shard is written as soon as its pages are done. What stays in
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
            })
            .collect(),
        chunks: Vec::new(),
    };
    let pages_total = docs.pages.len();
    let mut shards = ShardWriter::new(DirSink(out));
    let mut lex = LexicalIndexBuilder::new();
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

    shards.docs(&docs)?;
    shards.vectors(chunks, enc.dim(), &vectors.rows)?;
    drop(std::mem::take(&mut vectors.rows));
    shards.lexical(&lex.finish().to_bytes())?;
    let (shards, _) = shards.finish();

    let model_dir = out.join("model");
    let old_pack = previous.as_ref().and_then(|_| output::pack_in(&model_dir));
    let pack = enc.manifest();
    let mut files = output::copy_model(pack, pack_dir, &model_dir)?;
    for s in &shards {
        files.push((
            s.name.clone(),
            format!("{:?}", s.kind).to_lowercase(),
            s.bytes,
        ));
    }
    let languages = docs.languages();
    let model = ModelRef {
        pack_id: pack.pack_id(),
        id: pack.model.id.clone(),
        dim: enc.dim(),
        dir: "model".into(),
        offline_rows: offline::offline_rows(pack, languages.keys(), &model_dir)?,
    };
    let manifest = BundleManifest::new(model, &docs, shards);
    write_manifest(out, &manifest)?;
    let precache = offline::write_precache(out, &manifest, pack)?;
    output::remove_stale(
        out,
        &manifest,
        previous.as_ref(),
        &model_dir,
        pack,
        old_pack.as_ref(),
    );
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
        languages,
        files,
        embed_seconds,
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
    shards: &'a mut ShardWriter<DirSink<'o>>,
}

impl Pages<'_, '_> {
    /// Chunks every page, in order; returns the number of chunks.
    fn index(self, embedder: &mut embed::Embedder, progress: &dyn Fn(Progress)) -> Result<usize> {
        let budget = self
            .opts
            .chunk_tokens
            .min(self.enc.manifest().profile.max_tokens.saturating_sub(64))
            .max(16);
        let per_frag = self.opts.pages_per_fragment.max(1);
        let pages_total = self.corpus.pages.len();
        let mut frag = Fragments::default();
        let mut frag_index = 0usize;
        for pi in 0..pages_total {
            if pi / per_frag != frag_index {
                // fragment shards are numbered by page; an empty one is only
                // written when a later one has text
                let done = std::mem::take(&mut frag);
                if !done.chunks.is_empty() {
                    self.shards.fragments(frag_index, &done)?;
                }
                frag_index = pi / per_frag;
            }
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
                        frag: frag_index as u32,
                    });
                    self.lex.add(
                        id,
                        &format!("{}\n{}\n{}", page.title, s.heading, c.sentences.join(" ")),
                    );
                    embedder.send(id, c.passage)?;
                    frag.chunks.push((id, c.sentences));
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
            self.shards.fragments(frag_index, &frag)?;
        }
        Ok(self.docs.chunks.len())
    }
}
