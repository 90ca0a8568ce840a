//! `crossfind index` and `crossfind search`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use crossfind::bundle::write::{build_bundle, BuildOptions, Progress};
use crossfind::bundle::Bundle;
use crossfind::search::{search, Fusion, Hit, Mode, Query};
use crossfind::{Encoder, Pack, TextKind};

#[derive(Args)]
pub struct IndexArgs {
    /// A built static site (folder of HTML), a Markdown folder, or a JSONL corpus.
    #[arg(long)]
    input: PathBuf,
    /// Bundle folder to write (e.g. public/crossfind).
    #[arg(long)]
    out: PathBuf,
    /// Model pack folder.
    #[arg(long, default_value = "models/e5-small")]
    model: PathBuf,
    /// Token budget of a chunk's body.
    #[arg(long, default_value_t = 320)]
    chunk_tokens: usize,
}

#[derive(Args)]
pub struct SearchArgs {
    /// Bundle folder written by `crossfind index`.
    #[arg(long)]
    bundle: PathBuf,
    /// Results to return.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// The reader's language: show that version of a page when it exists.
    #[arg(long)]
    lang: Option<String>,
    /// hybrid, dense or lexical.
    #[arg(long, default_value = "hybrid")]
    mode: Mode,
    /// Queries to run (JSONL: qid, text, optional lang) instead of QUERY.
    #[arg(long, requires = "run")]
    queries: Option<PathBuf>,
    /// TREC run file to write for --queries.
    #[arg(long)]
    run: Option<PathBuf>,
    /// Print results as JSON lines.
    #[arg(long)]
    json: bool,
    /// The query.
    query: Vec<String>,
}

fn load_pack_encoder(dir: &Path) -> Result<Encoder> {
    if !dir.join("pack.json").exists() {
        bail!(
            "no model pack at {} (pack.json missing); build one with `crossfind model import` or run scripts/setup.sh",
            dir.display()
        );
    }
    super::load_encoder(dir)
}

pub fn index(a: IndexArgs) -> Result<()> {
    let t0 = std::time::Instant::now();
    let mut corpus = crossfind::ingest::read_input(&a.input)
        .with_context(|| format!("cannot read {}", a.input.display()))?;
    for w in corpus.warnings.iter().take(25) {
        eprintln!("warning: {}: {}", w.file, w.message);
    }
    if corpus.warnings.len() > 25 {
        eprintln!("warning: … and {} more", corpus.warnings.len() - 25);
    }
    let enc = load_pack_encoder(&a.model)?;
    eprintln!(
        "read {} pages in {:.1}s; embedding…",
        corpus.pages.len(),
        t0.elapsed().as_secs_f32()
    );
    let opts = BuildOptions {
        chunk_tokens: a.chunk_tokens,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let last = std::sync::Mutex::new(std::time::Instant::now());
    let progress = |p: Progress| {
        let mut l = last.lock().unwrap();
        // a terminal gets a live line; a log gets a line per tenth of the pages
        let tty = std::io::stderr().is_terminal();
        let finished = p.pages_done == p.pages_total && p.embedded == p.chunks;
        let due = if tty {
            l.elapsed().as_millis() >= 500
        } else {
            l.elapsed().as_secs() >= 10
        };
        if finished || due {
            *l = std::time::Instant::now();
            let rate = p.embedded as f64 / started.elapsed().as_secs_f64().max(1e-6);
            let end = if tty { "\r" } else { "\n" };
            eprint!(
                "{end}  pages {}/{}  chunks {}/{}  ({rate:.1} embeddings/s)   ",
                p.pages_done, p.pages_total, p.embedded, p.chunks
            );
            let _ = std::io::stderr().flush();
        }
    };
    let report = build_bundle(&mut corpus, &enc, &a.model, &a.out, &opts, &progress)?;
    eprintln!();
    println!("{:<8}{:>8}{:>8}", "lang", "pages", "chunks");
    for (l, c) in &report.languages {
        println!("{l:<8}{:>8}{:>8}", c.pages, c.chunks);
    }
    println!("{:<8}{:>8}{:>8}", "total", report.pages, report.chunks);
    println!();
    let mut by_kind = std::collections::BTreeMap::<String, (usize, u64)>::new();
    for (_, kind, bytes) in &report.files {
        let e = by_kind.entry(kind.clone()).or_default();
        e.0 += 1;
        e.1 += bytes;
    }
    println!("{:<12}{:>7}{:>14}", "shard kind", "files", "bytes");
    let (mut nf, mut nb) = (0, 0);
    for (k, (n, b)) in &by_kind {
        println!("{k:<12}{n:>7}{b:>14}");
        nf += n;
        nb += b;
    }
    println!("{:<12}{nf:>7}{nb:>14}", "total");
    if report.truncated_chunks > 0 {
        eprintln!(
            "note: {} chunks were longer than the model's budget and were truncated",
            report.truncated_chunks
        );
    }
    println!(
        "\nindexed {} pages ({} warnings) into {} in {:.1}s ({:.1} embeddings/s)",
        report.pages,
        corpus.warnings.len(),
        a.out.display(),
        t0.elapsed().as_secs_f32(),
        report.chunks as f64 / report.embed_seconds.max(1e-6)
    );
    Ok(())
}

/// A bundle with the encoder it was built with.
pub struct Loaded {
    pub bundle: Bundle,
    pub encoder: Encoder,
}

pub fn load_bundle(dir: &Path) -> Result<Loaded> {
    let bundle = Bundle::read_dir(dir)
        .with_context(|| format!("cannot load the search bundle in {}", dir.display()))?;
    let mdir = dir.join(&bundle.manifest.model.dir);
    if !mdir.join(crossfind::model::pack::MANIFEST).exists() {
        bail!(
            "the bundle in {} has no model: {} has no {}; copy the whole bundle folder again, or re-run `crossfind index`",
            dir.display(),
            mdir.display(),
            crossfind::model::pack::MANIFEST
        );
    }
    let pack = Pack::read_dir(&mdir)
        .with_context(|| format!("cannot load the bundle's model in {}", mdir.display()))?;
    if pack.manifest.pack_id() != bundle.manifest.model.pack_id {
        bail!(
            "the bundle was built with model pack {} but {} holds pack {}; re-run `crossfind index`",
            bundle.manifest.model.pack_id,
            mdir.display(),
            pack.manifest.pack_id()
        );
    }
    let encoder = Encoder::from_pack(pack)?;
    Ok(Loaded { bundle, encoder })
}

pub fn run_query(
    l: &Loaded,
    text: &str,
    lang: Option<&str>,
    k: usize,
    mode: Mode,
) -> Result<Vec<Hit>> {
    let vector = if mode == Mode::Lexical || text.trim().is_empty() {
        None
    } else {
        Some(l.encoder.embed(text, TextKind::Query)?.vector)
    };
    Ok(search(
        &l.bundle,
        &Query {
            text,
            vector: vector.as_deref(),
            lang,
            k,
            mode,
            fusion: Fusion::default(),
        },
    ))
}

pub fn search_cmd(a: SearchArgs) -> Result<()> {
    let l = load_bundle(&a.bundle)?;
    if let (Some(qpath), Some(run)) = (&a.queries, &a.run) {
        let bytes =
            std::fs::read(qpath).with_context(|| format!("cannot read {}", qpath.display()))?;
        let text = String::from_utf8(bytes)
            .with_context(|| format!("{} is not UTF-8", qpath.display()))?;
        let mut out = String::new();
        let mut n = 0;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let q: serde_json::Value = serde_json::from_str(line)
                .with_context(|| format!("{}: line {} is not JSON", qpath.display(), i + 1))?;
            let (Some(qid), Some(qt)) = (q["qid"].as_str(), q["text"].as_str()) else {
                bail!(
                    "{}: line {} needs \"qid\" and \"text\"",
                    qpath.display(),
                    i + 1
                );
            };
            let lang = a.lang.as_deref().or(q["lang"].as_str());
            for (rank, h) in run_query(&l, qt, lang, a.k, a.mode)?.iter().enumerate() {
                out.push_str(&format!(
                    "{qid} Q0 {} {} {:.6} crossfind\n",
                    h.page_id,
                    rank + 1,
                    h.fused
                ));
            }
            n += 1;
        }
        std::fs::write(run, out).with_context(|| format!("cannot write {}", run.display()))?;
        eprintln!("ran {n} queries; wrote {}", run.display());
        return Ok(());
    }
    let query = a.query.join(" ");
    if query.trim().is_empty() {
        bail!("no query: pass it as an argument, or --queries FILE.jsonl --run FILE");
    }
    let hits = run_query(&l, &query, a.lang.as_deref(), a.k, a.mode)?;
    if a.json {
        for h in &hits {
            println!("{}", serde_json::to_string(h)?);
        }
        return Ok(());
    }
    if hits.is_empty() {
        println!("no results");
    }
    for (i, h) in hits.iter().enumerate() {
        let also = if h.also_in.is_empty() {
            String::new()
        } else {
            format!("  also in: {}", h.also_in.join(", "))
        };
        println!("{:>2}. {}  [{}]{also}", i + 1, h.title, h.lang);
        println!("    {}", h.url);
        if let Some(s) = &h.snippet {
            let head = if h.heading.is_empty() {
                String::new()
            } else {
                format!("{} — ", h.heading)
            };
            println!("    {head}{s}");
        }
        let f = |v: Option<f32>| v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into());
        println!(
            "    fused {:.4}  dense {}  lexical {}",
            h.fused,
            f(h.dense),
            f(h.lexical)
        );
    }
    Ok(())
}
