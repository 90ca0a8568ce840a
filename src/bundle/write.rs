//! Native bundle writer: sections -> chunks -> embeddings + lexical index ->
//! content-hashed shards, the model pack beside them, the manifest last.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::ingest::{split_sentences, Corpus};
use crate::model::tensors::{quantize_i8_rows, TensorFileWriter};
use crate::model::{Encoder, TextKind};
use crate::search::lexical::LexicalIndexBuilder;

/// Tunables of `index`.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Token budget of a chunk's body (the title line and model prefix come on top).
    pub chunk_tokens: usize,
    /// Sentences repeated at the start of the next chunk of a long section.
    pub overlap_sentences: usize,
    /// Pages whose text shares one fragment file.
    pub pages_per_fragment: usize,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            chunk_tokens: 320,
            overlap_sentences: 1,
            pages_per_fragment: 24,
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
    pub embed_seconds: f64,
}

struct Chunk {
    page: u32,
    anchor: Option<String>,
    heading: String,
    sentences: Vec<String>,
    passage: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Splits every section into chunks that fit the model.
fn chunk_corpus(corpus: &Corpus, enc: &Encoder, opts: &BuildOptions) -> Result<Vec<Chunk>> {
    let mut out = Vec::new();
    let budget = opts
        .chunk_tokens
        .min(enc.manifest().profile.max_tokens.saturating_sub(64))
        .max(16);
    for (pi, page) in corpus.pages.iter().enumerate() {
        for s in &page.sections {
            let sentences: Vec<&str> = split_sentences(&s.text);
            let title_line = if s.heading.is_empty() || s.heading == page.title {
                page.title.clone()
            } else {
                format!("{} › {}", page.title, s.heading)
            };
            let mut cur: Vec<&str> = Vec::new();
            let mut cur_tokens = 0usize;
            let mut flush = |cur: &[&str]| {
                if cur.is_empty() {
                    return;
                }
                out.push(Chunk {
                    page: pi as u32,
                    anchor: s.anchor.clone(),
                    heading: s.heading.clone(),
                    sentences: cur.iter().map(|x| x.to_string()).collect(),
                    passage: format!("{title_line}\n{}", cur.join(" ")),
                });
            };
            for sent in sentences {
                let n = enc.count_tokens(sent)?;
                if cur_tokens + n > budget && !cur.is_empty() {
                    flush(&cur);
                    let keep = cur.len().min(opts.overlap_sentences);
                    let tail: Vec<&str> = cur[cur.len() - keep..].to_vec();
                    cur = tail;
                    cur_tokens = 0;
                    for t in &cur {
                        cur_tokens += enc.count_tokens(t)?;
                    }
                    if cur_tokens + n > budget {
                        cur.clear();
                        cur_tokens = 0;
                    }
                }
                cur.push(sent);
                cur_tokens += n;
            }
            flush(&cur);
        }
    }
    Ok(out)
}

/// Builds the bundle for `corpus` into `out` (with the pack copied to `out/model`).
pub fn build_bundle(
    corpus: &Corpus,
    enc: &Encoder,
    pack_dir: &Path,
    out: &Path,
    opts: &BuildOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<BuildReport> {
    let chunks = chunk_corpus(corpus, enc, opts)?;
    if chunks.is_empty() {
        return Err(Error::Input(
            "no text to index: every page was empty or skipped".into(),
        ));
    }
    let dim = enc.dim();

    // embeddings, on every core, in order
    let t0 = std::time::Instant::now();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let done = AtomicUsize::new(0);
    let truncated = AtomicUsize::new(0);
    let per = chunks.len().div_ceil(threads);
    let total = chunks.len();
    let parts: Vec<Result<Vec<Vec<f32>>>> = std::thread::scope(|sc| {
        let hs: Vec<_> = chunks
            .chunks(per)
            .map(|part| {
                let (done, truncated) = (&done, &truncated);
                sc.spawn(move || {
                    part.iter()
                        .map(|c| {
                            let e = enc.embed(&c.passage, TextKind::Passage)?;
                            if e.truncated_from.is_some() {
                                truncated.fetch_add(1, Ordering::Relaxed);
                            }
                            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                            progress(n, total);
                            Ok(e.vector)
                        })
                        .collect()
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("embedding thread panicked"))
            .collect()
    });
    let mut flat = Vec::with_capacity(chunks.len() * dim);
    for p in parts {
        for v in p? {
            flat.extend(v);
        }
    }
    let embed_seconds = t0.elapsed().as_secs_f64();

    // shards
    let mut files: Vec<(Shard, Vec<u8>)> = Vec::new();
    let mut add = |stem: &str, ext: &str, kind: ShardKind, bytes: Vec<u8>| {
        let name = hashed_name(stem, ext, &bytes);
        files.push((
            Shard {
                sha256: sha256_hex(&bytes),
                bytes: bytes.len() as u64,
                name,
                kind,
            },
            bytes,
        ));
    };

    let mut docs = Docs::default();
    let mut languages: BTreeMap<String, LangCount> = BTreeMap::new();
    for p in &corpus.pages {
        docs.pages.push(PageMeta {
            id: p.id.clone(),
            url: p.url.clone(),
            lang: p.lang.clone(),
            title: p.title.clone(),
            group: p.group.clone(),
        });
        languages.entry(p.lang.clone()).or_default().pages += 1;
    }
    let mut frag_sets: Vec<Fragments> = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        let frag = c.page as usize / opts.pages_per_fragment.max(1);
        if frag_sets.len() <= frag {
            frag_sets.resize_with(frag + 1, Fragments::default);
        }
        frag_sets[frag].chunks.push((i as u32, c.sentences.clone()));
        docs.chunks.push(ChunkMeta {
            page: c.page,
            anchor: c.anchor.clone(),
            heading: c.heading.clone(),
            frag: frag as u32,
        });
        languages
            .entry(corpus.pages[c.page as usize].lang.clone())
            .or_default()
            .chunks += 1;
    }
    add(
        "docs",
        "json",
        ShardKind::Docs,
        serde_json::to_vec(&docs).expect("docs serialise"),
    );
    let mut vw = TensorFileWriter::default();
    vw.push_raw(
        "vectors",
        DType::I8Row,
        chunks.len(),
        dim,
        &quantize_i8_rows(&flat, dim),
    );
    add("vectors", "bin", ShardKind::Vectors, vw.finish());
    let mut lex = LexicalIndexBuilder::new();
    for (i, c) in chunks.iter().enumerate() {
        let page = &corpus.pages[c.page as usize];
        lex.add(
            i as u32,
            &format!("{}\n{}\n{}", page.title, c.heading, c.sentences.join(" ")),
        );
    }
    add(
        "lexical",
        "bin",
        ShardKind::Lexical,
        lex.finish().to_bytes(),
    );
    for (i, f) in frag_sets.into_iter().enumerate() {
        add(
            &format!("frag-{i:03}"),
            "json",
            ShardKind::Fragments,
            serde_json::to_vec(&f).expect("fragments serialise"),
        );
    }

    // write: model, shards, then the manifest; then drop shards no longer named
    std::fs::create_dir_all(out).map_err(io(out))?;
    let model_dir = out.join("model");
    std::fs::create_dir_all(&model_dir).map_err(io(&model_dir))?;
    let mut report_files = Vec::new();
    let pack = enc.manifest();
    for name in pack
        .files
        .iter()
        .map(|f| f.name.as_str())
        .chain([crate::model::pack::MANIFEST])
    {
        let (src, dst) = (pack_dir.join(name), model_dir.join(name));
        let same = std::fs::metadata(&dst).ok().map(|m| m.len())
            == std::fs::metadata(&src).ok().map(|m| m.len())
            && name != crate::model::pack::MANIFEST;
        if !same {
            std::fs::copy(&src, &dst).map_err(io(&src))?;
        }
        let bytes = std::fs::metadata(&dst).map_err(io(&dst))?.len();
        report_files.push((format!("model/{name}"), "model".to_string(), bytes));
    }
    for (s, bytes) in &files {
        let p = out.join(&s.name);
        std::fs::write(&p, bytes).map_err(io(&p))?;
        report_files.push((
            s.name.clone(),
            format!("{:?}", s.kind).to_lowercase(),
            s.bytes,
        ));
    }
    let manifest = BundleManifest {
        format: BUNDLE_FORMAT.into(),
        version: BUNDLE_VERSION,
        model: ModelRef {
            pack_id: pack.pack_id(),
            id: pack.model.id.clone(),
            dim,
            dir: "model".into(),
        },
        pages: docs.pages.len(),
        chunks: chunks.len(),
        languages: languages.clone(),
        shards: files.iter().map(|(s, _)| s.clone()).collect(),
    };
    let tmp = out.join("manifest.json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(&manifest).expect("manifest serialises"),
    )
    .map_err(io(&tmp))?;
    std::fs::rename(&tmp, out.join(MANIFEST)).map_err(io(out))?;
    let keep: std::collections::HashSet<&str> =
        manifest.shards.iter().map(|s| s.name.as_str()).collect();
    for e in std::fs::read_dir(out).map_err(io(out))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = ["docs.", "vectors.", "lexical.", "frag-"]
            .iter()
            .any(|p| name.starts_with(p));
        if ours && !keep.contains(name.as_str()) && e.path().is_file() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    report_files.push((
        MANIFEST.into(),
        "manifest".into(),
        std::fs::metadata(out.join(MANIFEST))
            .map(|m| m.len())
            .unwrap_or(0),
    ));
    Ok(BuildReport {
        pages: docs.pages.len(),
        chunks: chunks.len(),
        truncated_chunks: truncated.load(Ordering::Relaxed),
        languages,
        files: report_files,
        embed_seconds,
    })
}
