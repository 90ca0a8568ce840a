//! Native bundle writer: sections -> chunks -> embeddings + lexical index ->
//! content-hashed shards, the model pack beside them, the manifest last.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{mpsc, Mutex};

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

/// One piece of a section that fits the model.
struct Chunk {
    sentences: Vec<String>,
    passage: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Splits one section into chunks of at most `budget` tokens, on sentence
/// boundaries, repeating the last `overlap` sentences of a chunk at the start
/// of the next.
fn chunk_section(
    title_line: &str,
    text: &str,
    enc: &Encoder,
    budget: usize,
    overlap: usize,
) -> Result<Vec<Chunk>> {
    let mut out = Vec::new();
    let flush = |cur: &[&str], out: &mut Vec<Chunk>| {
        if !cur.is_empty() {
            out.push(Chunk {
                sentences: cur.iter().map(|x| x.to_string()).collect(),
                passage: format!("{title_line}\n{}", cur.join(" ")),
            });
        }
    };
    let mut cur: Vec<&str> = Vec::new();
    let mut cur_tokens = 0usize;
    for sent in split_sentences(text) {
        let n = enc.count_tokens(sent)?;
        if cur_tokens + n > budget && !cur.is_empty() {
            flush(&cur, &mut out);
            let keep = cur.len().min(overlap);
            cur.drain(..cur.len() - keep);
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
    flush(&cur, &mut out);
    Ok(out)
}

/// Collects the encoder's answers, which arrive out of order, as int8 rows.
struct VectorSink {
    dim: usize,
    rows: Vec<u8>,
    embedded: usize,
    truncated: usize,
}

impl VectorSink {
    fn take(&mut self, (id, res): (u32, Result<crate::model::Embedding>)) -> Result<()> {
        let e = res?;
        if e.truncated_from.is_some() {
            self.truncated += 1;
        }
        let rb = 4 + self.dim;
        let at = id as usize * rb;
        if self.rows.len() < at + rb {
            self.rows.resize(at + rb, 0);
        }
        self.rows[at..at + rb].copy_from_slice(&quantize_i8_rows(&e.vector, self.dim));
        self.embedded += 1;
        Ok(())
    }
}

/// Writes content-hashed shards into the bundle folder as they are made.
struct ShardWriter<'a> {
    out: &'a Path,
    shards: Vec<Shard>,
}

impl ShardWriter<'_> {
    fn write(&mut self, stem: &str, ext: &str, kind: ShardKind, bytes: &[u8]) -> Result<()> {
        let name = hashed_name(stem, ext, bytes);
        let path = self.out.join(&name);
        // same name, same bytes: a shard an earlier build left is reused
        let have = std::fs::metadata(&path).map(|m| m.len()).ok();
        if have != Some(bytes.len() as u64) || std::fs::read(&path).ok().as_deref() != Some(bytes) {
            std::fs::write(&path, bytes).map_err(io(&path))?;
        }
        self.shards.push(Shard {
            sha256: sha256_hex(bytes),
            bytes: bytes.len() as u64,
            name,
            kind,
        });
        Ok(())
    }
}

/// Writes fragment shard `index`, after the empty ones before it that
/// were held back.
fn write_fragments(
    writer: &mut ShardWriter,
    index: usize,
    empties_before: usize,
    f: &Fragments,
) -> Result<()> {
    for i in index - empties_before..index {
        let empty = serde_json::to_vec(&Fragments::default()).expect("fragments serialise");
        writer.write(
            &format!("frag-{i:03}"),
            "json",
            ShardKind::Fragments,
            &empty,
        )?;
    }
    let bytes = serde_json::to_vec(f).expect("fragments serialise");
    writer.write(
        &format!("frag-{index:03}"),
        "json",
        ShardKind::Fragments,
        &bytes,
    )
}

/// The row byte ranges a site in `langs` keeps offline; `None` when the
/// pack's rows are in id order (every group is everywhere).
fn offline_rows<'a>(
    pack: &crate::model::PackManifest,
    langs: impl IntoIterator<Item = &'a String>,
    model_dir: &Path,
) -> Result<Option<OfflineRows>> {
    let Some(order) = &pack.embeddings.order else {
        return Ok(None);
    };
    let groups =
        crate::model::roworder::groups_for_languages(langs.into_iter().map(String::as_str));
    let spans: Vec<(usize, usize)> = order
        .groups
        .iter()
        .filter(|g| groups.contains(&g.name.as_str()))
        .map(|g| (g.start, g.end))
        .collect();
    let Some(ranges) = pack.row_byte_ranges(&spans) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(ranges.len());
    let mut open: Option<(String, Vec<u8>)> = None;
    for (file, start, end) in ranges {
        if open.as_ref().is_none_or(|(f, _)| *f != file) {
            let path = model_dir.join(&file);
            open = Some((file.clone(), std::fs::read(&path).map_err(io(&path))?));
        }
        let bytes = &open.as_ref().expect("just opened").1;
        let slice = bytes.get(start as usize..end as usize).ok_or_else(|| {
            Error::corrupt(
                &file,
                format!("is shorter than the rows it should hold ({end} bytes)"),
            )
        })?;
        out.push(ByteRange {
            sha256: sha256_hex(slice),
            file,
            start,
            end,
        });
    }
    Ok(Some(OfflineRows {
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ranges: out,
    }))
}

/// What an output folder holds before a build: the manifest of the bundle
/// an earlier `crossfind index` wrote there, if it is one.
///
/// A folder that does not exist or is empty is fine (`None`). A folder with
/// a readable bundle manifest is that bundle (`Some`): the build replaces
/// it, and deletes only the files its manifest and its model's `pack.json`
/// list. Any other folder holds someone's files and is refused, unless
/// `force`, in which case nothing in it is deleted (only files of the new
/// bundle's names are written, and the `model/` pack files).
pub fn previous_bundle(out: &Path, force: bool) -> Result<Option<BundleManifest>> {
    let meta = match std::fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(out)(e)),
    };
    if !std::fs::metadata(out).map_err(io(out))?.is_dir() {
        return Err(Error::Input(format!(
            "the output `{}` is {}, not a folder",
            out.display(),
            if meta.file_type().is_symlink() {
                "a link to a file"
            } else {
                "a file"
            }
        )));
    }
    let why = match std::fs::read(out.join(MANIFEST)) {
        Ok(bytes) => match BundleManifest::parse(&bytes) {
            Ok(m) => return Ok(Some(m)),
            Err(e) => format!("its {MANIFEST} is not one crossfind can read: {e}"),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut entries = std::fs::read_dir(out).map_err(io(out))?;
            if entries.next().is_none() {
                return Ok(None);
            }
            format!("it has no {MANIFEST}")
        }
        Err(e) => return Err(io(&out.join(MANIFEST))(e)),
    };
    if force {
        return Ok(None);
    }
    Err(Error::Input(format!(
        "the output folder `{}` is not empty and is not a crossfind bundle ({why}); \
         crossfind index writes into an empty folder or over a bundle it wrote before, \
         so that it never overwrites or deletes your files. Choose a new folder for --out, \
         or pass --force to write into this one anyway (nothing in it is deleted)",
        out.display()
    )))
}

/// Whether `path` holds exactly the bytes `entry` describes.
fn file_matches(path: &Path, entry: &crate::model::pack::FileEntry) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == entry.bytes)
        && std::fs::read(path).is_ok_and(|b| sha256_hex(&b) == entry.sha256)
}

/// Copies a pack file into the bundle's model folder unless an identical
/// copy is there (compared by sha256: a file of the same size with other
/// bytes, from another pack or damaged, is replaced). The copy goes to a
/// temporary name first and is checked before it takes the real name.
fn copy_model_file(src: &Path, dst: &Path, entry: &crate::model::pack::FileEntry) -> Result<()> {
    if file_matches(dst, entry) {
        return Ok(());
    }
    let mut tmp = dst.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::copy(src, &tmp).map_err(io(src))?;
    if !file_matches(&tmp, entry) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::corrupt(
            &entry.name,
            format!(
                "the copy from {} does not match the pack's checksum (the pack changed while indexing?); run the command again",
                src.display()
            ),
        ));
    }
    std::fs::rename(&tmp, dst).map_err(io(dst))
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
    let dim = enc.dim();
    let budget = opts
        .chunk_tokens
        .min(enc.manifest().profile.max_tokens.saturating_sub(64))
        .max(16);
    let per_frag = opts.pages_per_fragment.max(1);
    let previous = previous_bundle(out, opts.force)?;
    std::fs::create_dir_all(out).map_err(io(out))?;

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
    let mut writer = ShardWriter {
        out,
        shards: Vec::new(),
    };
    let mut sink = VectorSink {
        dim,
        rows: Vec::new(),
        embedded: 0,
        truncated: 0,
    };
    let mut lex = LexicalIndexBuilder::new();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let pages_total = corpus.pages.len();
    let t0 = std::time::Instant::now();

    let (job_tx, job_rx) = mpsc::sync_channel::<(u32, String)>(threads * 4);
    let job_rx = Mutex::new(job_rx);
    let (res_tx, res_rx) = mpsc::channel();
    std::thread::scope(|sc| -> Result<()> {
        // owned here, so that any early return closes the queue and the
        // encoder threads end before the scope waits for them
        let (job_tx, res_tx, res_rx) = (job_tx, res_tx, res_rx);
        for _ in 0..threads {
            let (job_rx, res_tx) = (&job_rx, res_tx.clone());
            sc.spawn(move || loop {
                let job = match job_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => break,
                };
                let Ok((id, passage)) = job else { break };
                let r = enc.embed_for_search(&passage, TextKind::Passage);
                if res_tx.send((id, r)).is_err() {
                    break;
                }
            });
        }
        drop(res_tx);

        let mut frag = Fragments::default();
        let mut frag_index = 0usize;
        let mut empty_frags = 0usize;
        let report = |sink: &VectorSink, pages_done: usize, chunks: usize| {
            progress(Progress {
                pages_done,
                pages_total,
                chunks,
                embedded: sink.embedded,
            })
        };
        for pi in 0..pages_total {
            if pi / per_frag != frag_index {
                // fragment shards are numbered by page; an empty one is only
                // written when a later one has text
                let done = std::mem::take(&mut frag);
                if done.chunks.is_empty() {
                    empty_frags += 1;
                } else {
                    write_fragments(&mut writer, frag_index, empty_frags, &done)?;
                    empty_frags = 0;
                }
                frag_index = pi / per_frag;
            }
            let page = &mut corpus.pages[pi];
            let sections = std::mem::take(&mut page.sections);
            for s in sections {
                let title_line = if s.heading.is_empty() || s.heading == page.title {
                    page.title.clone()
                } else {
                    format!("{} › {}", page.title, s.heading)
                };
                let chunks =
                    chunk_section(&title_line, &s.text, enc, budget, opts.overlap_sentences)?;
                for c in chunks {
                    let id = docs.chunks.len() as u32;
                    docs.chunks.push(ChunkMeta {
                        page: pi as u32,
                        anchor: s.anchor.clone(),
                        heading: s.heading.clone(),
                        frag: frag_index as u32,
                    });
                    languages.entry(page.lang.clone()).or_default().chunks += 1;
                    lex.add(
                        id,
                        &format!("{}\n{}\n{}", page.title, s.heading, c.sentences.join(" ")),
                    );
                    // blocks while the encoders are busy: at most a few
                    // chunks wait, whatever the size of the site
                    if job_tx.send((id, c.passage)).is_err() {
                        return Err(Error::Encoder("the encoder threads stopped".into()));
                    }
                    frag.chunks.push((id, c.sentences));
                    while let Ok(r) = res_rx.try_recv() {
                        sink.take(r)?;
                    }
                }
            }
            report(&sink, pi + 1, docs.chunks.len());
        }
        drop(job_tx);
        if !frag.chunks.is_empty() {
            write_fragments(&mut writer, frag_index, empty_frags, &frag)?;
        }
        let chunks = docs.chunks.len();
        for r in res_rx {
            sink.take(r)?;
            report(&sink, pages_total, chunks);
        }
        Ok(())
    })?;
    let embed_seconds = t0.elapsed().as_secs_f64();
    let chunks = docs.chunks.len();
    if chunks == 0 {
        return Err(Error::Input(
            "no text to index: every page was empty or skipped".into(),
        ));
    }
    if sink.embedded != chunks {
        return Err(Error::Encoder(format!(
            "{} of {chunks} chunks came back from the encoder",
            sink.embedded
        )));
    }

    writer.write(
        "docs",
        "json",
        ShardKind::Docs,
        &serde_json::to_vec(&docs).expect("docs serialise"),
    )?;
    let mut vw = TensorFileWriter::default();
    vw.push_raw("vectors", DType::I8Row, chunks, dim, &sink.rows);
    drop(std::mem::take(&mut sink.rows));
    writer.write("vectors", "bin", ShardKind::Vectors, &vw.finish())?;
    writer.write(
        "lexical",
        "bin",
        ShardKind::Lexical,
        &lex.finish().to_bytes(),
    )?;
    // the manifest lists shards by kind, fragments in page order
    writer.shards.sort_by_key(|s| match s.kind {
        ShardKind::Docs => 0,
        ShardKind::Vectors => 1,
        ShardKind::Lexical => 2,
        ShardKind::Fragments => 3,
    });
    let files = writer.shards;

    // the model, then the manifest; then drop what the previous bundle
    // listed and this one does not
    let model_dir = out.join("model");
    std::fs::create_dir_all(&model_dir).map_err(io(&model_dir))?;
    let previous_pack = previous.as_ref().and_then(|_| {
        let bytes = std::fs::read(model_dir.join(crate::model::pack::MANIFEST)).ok()?;
        crate::model::PackManifest::parse(&bytes).ok()
    });
    let mut report_files = Vec::new();
    let pack = enc.manifest();
    for f in &pack.files {
        let (src, dst) = (pack_dir.join(&f.name), model_dir.join(&f.name));
        copy_model_file(&src, &dst, f)?;
        report_files.push((format!("model/{}", f.name), "model".to_string(), f.bytes));
    }
    {
        let name = crate::model::pack::MANIFEST;
        let (src, dst) = (pack_dir.join(name), model_dir.join(name));
        std::fs::copy(&src, &dst).map_err(io(&src))?;
        let bytes = std::fs::metadata(&dst).map_err(io(&dst))?.len();
        report_files.push((format!("model/{name}"), "model".to_string(), bytes));
    }
    for s in &files {
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
            offline_rows: offline_rows(pack, languages.keys(), &model_dir)?,
        },
        pages: docs.pages.len(),
        chunks,
        languages: languages.clone(),
        shards: files,
    };
    let tmp = out.join("manifest.json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(&manifest).expect("manifest serialises"),
    )
    .map_err(io(&tmp))?;
    std::fs::rename(&tmp, out.join(MANIFEST)).map_err(io(out))?;
    // names from a parsed manifest are plain names (checked by `parse`)
    let keep: std::collections::HashSet<&str> =
        manifest.shards.iter().map(|s| s.name.as_str()).collect();
    for s in previous.iter().flat_map(|m| &m.shards) {
        if !keep.contains(s.name.as_str()) {
            let _ = std::fs::remove_file(out.join(&s.name));
        }
    }
    if let Some(old) = &previous_pack {
        for f in &old.files {
            if pack.file(&f.name).is_none() {
                let _ = std::fs::remove_file(model_dir.join(&f.name));
            }
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
        chunks,
        truncated_chunks: sink.truncated,
        languages,
        files: report_files,
        embed_seconds,
    })
}
