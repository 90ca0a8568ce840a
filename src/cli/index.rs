//! `crossfind index` and `crossfind search`.

use std::io::{IsTerminal, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use super::term::{bad_input, errln, json_safe, one_line, outln};
use crossfind::index::{build_bundle, previous_bundle, BuildOptions, Progress};
use crossfind::ingest::{Corpus, WarningKind};
use crossfind::search::respell::as_searched;
use crossfind::search::Bundle;
use crossfind::search::{search, Filter, Fusion, Hit, Mode, Query};
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
    /// Write into a non-empty --out folder that is not a crossfind bundle.
    /// Nothing in it is deleted; files with the bundle's names are written.
    #[arg(long)]
    force: bool,
    /// File to write every warning and skipped input to [default:
    /// crossfind-report.txt in the current folder, or in the temporary
    /// folder when the current folder is inside the site or the bundle].
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Stop, writing nothing, when more than this share of the input, from
    /// 0 to 1, is skipped because of problems with it: a site build that
    /// lost most of its pages must not replace a good bundle. Pages the
    /// site itself leaves out (404 pages, noindex, redirects, drafts) do
    /// not count. The summary always says how many were skipped; --strict
    /// allows none.
    #[arg(long, value_name = "SHARE", default_value_t = 0.5)]
    max_skipped: f64,
    /// Stop, writing nothing, on any warning or skipped input (pages the site
    /// leaves out on purpose excepted).
    #[arg(long)]
    strict: bool,
    /// Folder of the embedding cache: chunks an earlier build embedded with
    /// the same model pack are taken from it, so a re-index embeds only
    /// what changed [default: $CROSSFIND_CACHE, else
    /// $XDG_CACHE_HOME/crossfind, else ~/.cache/crossfind].
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache: Option<PathBuf>,
    /// Embed every chunk; neither read nor write the embedding cache.
    #[arg(long)]
    no_cache: bool,
    /// How many times a page's title counts in keyword search, from 1 to 5
    /// (dense search is unchanged).
    #[arg(long, value_name = "N", default_value_t = BuildOptions::default().title_weight)]
    title_weight: u32,
    /// How many times a section's heading counts in keyword search, from 1 to 5.
    #[arg(long, value_name = "N", default_value_t = BuildOptions::default().heading_weight)]
    heading_weight: u32,
    /// How far each section's vector moves towards its page title's, from 0
    /// to 0.5: short and misspelt questions find a page by its title, in any
    /// language (0 keeps the passages' vectors as they are).
    #[arg(long, value_name = "W", default_value_t = BuildOptions::default().title_vector_weight)]
    title_vector_weight: f32,
    /// Cut the keyword index into term-range pieces of about this many
    /// bytes, which the browser fetches per query; 0 keeps it in one piece
    /// [default: pieces of 4 kB when the index is over 128 kB, else one].
    #[arg(long, value_name = "BYTES")]
    lexical_pieces: Option<usize>,
    /// Give semantic search a first stage of sign codes, loaded up front,
    /// and fetch the rows of each query's candidate pages by byte range
    /// (`on`), or ship every vector row in one piece (`off`) [default: on
    /// when the rows are over 1.5 MB, about 3,900 chunks].
    #[arg(long, value_name = "on|off")]
    dense_codes: Option<OnOff>,
    /// Print nothing but errors (warnings still go to the report file).
    #[arg(long, short)]
    quiet: bool,
    /// Print the summary as one JSON object on stdout (for CI), instead of
    /// the tables.
    #[arg(long)]
    json: bool,
}

/// A layout forced on or off.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
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
    /// Only pages with this filter value (repeatable: values of one key
    /// are alternatives, different keys must all match), e.g.
    /// --filter version:2.0 --filter product:Billing.
    #[arg(long = "filter", value_name = "KEY:VALUE")]
    filter: Vec<String>,
    /// Print results as JSON lines.
    #[arg(long)]
    json: bool,
    /// The query.
    query: Vec<String>,
}

fn load_pack_encoder(dir: &Path) -> Result<Encoder> {
    if !dir.join("pack.json").exists() {
        bad_input!(
            "no model pack at {} (pack.json missing); build one with `crossfind model import` or run scripts/setup.sh",
            dir.display()
        );
    }
    super::load_encoder(dir)
}

/// `path` absolute, with symlinks resolved as far as it exists and `..`
/// applied after that, so that two spellings of one folder compare equal
/// whether or not it exists yet.
fn resolved(path: &Path) -> Result<PathBuf> {
    let abs =
        std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))?;
    let parts: Vec<Component> = abs.components().collect();
    for cut in (1..=parts.len()).rev() {
        let head: PathBuf = parts[..cut].iter().collect();
        if let Ok(mut p) = head.canonicalize() {
            for c in &parts[cut..] {
                match c {
                    Component::ParentDir => {
                        p.pop();
                    }
                    Component::Normal(n) => p.push(n),
                    _ => {}
                }
            }
            return Ok(p);
        }
    }
    Ok(abs)
}

/// Where the report goes: `--report`, else `crossfind-report.txt` in the
/// current folder, unless that folder is inside the site or the bundle
/// (whose files get published), then in crossfind's cache folder (the
/// user's own, not a shared temporary folder where another user could
/// have put a file or a link of that name first).
fn report_path(given: Option<&Path>, input: &Path, out: &Path) -> Result<PathBuf> {
    const NAME: &str = "crossfind-report.txt";
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let here = resolved(Path::new("."))?;
    let site = if input.is_dir() {
        input
    } else {
        input.parent().unwrap_or(input)
    };
    if !(here.starts_with(site) || here.starts_with(out)) {
        return Ok(PathBuf::from(NAME));
    }
    match crossfind::index::cache::default_dir() {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {} for the report", dir.display()))?;
            Ok(dir.join(NAME))
        }
        None => bad_input!(
            "the current folder is inside the site or the bundle, and there is no cache folder \
             ($CROSSFIND_CACHE, $XDG_CACHE_HOME or $HOME) to put the report in: pass --report FILE"
        ),
    }
}

/// Share of the inputs read that were skipped because of a problem.
fn skipped_share(corpus: &Corpus) -> (usize, usize, f64) {
    let skipped = corpus.skipped();
    let seen = corpus.pages.len() + skipped;
    (skipped, seen, skipped as f64 / seen.max(1) as f64)
}

/// The report file: a summary, then every warning by kind.
/// `given`: the path is the user's `--report`, written as any program
/// writes a named file (so `/dev/stderr` or a pipe works); the default
/// names are written through a new file renamed into place.
fn write_report(path: &Path, given: bool, input: &Path, out: &Path, corpus: &Corpus) -> Result<()> {
    let (skipped, seen, share) = skipped_share(corpus);
    let mut r = String::new();
    r.push_str("crossfind index report\n");
    r.push_str(&format!(
        "input   {}\n",
        one_line(&input.display().to_string())
    ));
    r.push_str(&format!(
        "output  {}\n\n",
        one_line(&out.display().to_string())
    ));
    r.push_str(&format!("pages read          {}\n", corpus.pages.len()));
    r.push_str(&format!(
        "skipped (problems)  {skipped} of {seen} ({:.1}%)\n",
        100.0 * share
    ));
    r.push_str(&format!(
        "skipped on purpose  {}\n",
        corpus.count(WarningKind::SkippedOnPurpose)
    ));
    r.push_str(&format!(
        "other warnings      {}\n",
        corpus.count(WarningKind::Warning)
    ));
    for (kind, title) in [
        (
            WarningKind::Skipped,
            "skipped because of a problem (not searchable)",
        ),
        (WarningKind::Warning, "warnings (indexed)"),
        (
            WarningKind::SkippedOnPurpose,
            "skipped on purpose (404 pages, noindex, redirects, drafts, link lists)",
        ),
    ] {
        let lines: Vec<String> = corpus
            .warnings
            .iter()
            .filter(|w| w.kind() == kind)
            .map(|w| format!("  {}\n", one_line(&w.to_string())))
            .collect();
        if !lines.is_empty() {
            r.push_str(&format!("\n{title}: {}\n", lines.len()));
            r.extend(lines);
        }
    }
    // a default name through a new file renamed into place: a link of that
    // name is replaced, not followed
    if given {
        std::fs::write(path, r)
    } else {
        crossfind::format::fs::replace_file(path, r.as_bytes())
    }
    .with_context(|| format!("cannot write the report {}", path.display()))
}

pub fn index(a: IndexArgs) -> Result<()> {
    let t0 = std::time::Instant::now();
    for (flag, w) in [
        ("--title-weight", a.title_weight),
        ("--heading-weight", a.heading_weight),
    ] {
        if !(1..=crossfind::index::MAX_TEXT_WEIGHT).contains(&w) {
            bad_input!(
                "{flag} {w}: give a count from 1 to {} (2 counts the words twice)",
                crossfind::index::MAX_TEXT_WEIGHT
            );
        }
    }
    if !(0.0..=0.5).contains(&a.title_vector_weight) {
        bad_input!(
            "--title-vector-weight {}: give a weight from 0 to 0.5 (0.1 moves each section a tenth of the way to its title)",
            a.title_vector_weight
        );
    }
    if !(0.0..=1.0).contains(&a.max_skipped) {
        bad_input!("--max-skipped is a share of the input, from 0 to 1 (0.2 is a fifth)");
    }
    if !a.input.exists() {
        bad_input!(
            "--input {}: no such file or folder (give a built site, a Markdown folder or a JSONL file)",
            a.input.display()
        );
    }
    // The bundle goes into a folder of its own: inside the site is the
    // usual place (public/crossfind), the site itself or above it is not.
    let input = resolved(&a.input)?;
    let out = resolved(&a.out)?;
    if input.starts_with(&out) {
        bad_input!(
            "--out {} is the input or a folder that contains it: the bundle would be written among the files it reads. \
             Write it into a folder of its own, e.g. --out {}",
            a.out.display(),
            a.input.join("crossfind").display()
        );
    }
    // refuse a folder of the user's before the long part, not after
    previous_bundle(&a.out, a.force)?;
    let skip = out
        .strip_prefix(&input)
        .ok()
        .filter(|r| !r.as_os_str().is_empty());
    let mut corpus = crossfind::ingest::read_input_skipping(&a.input, skip)
        .with_context(|| format!("cannot read {}", a.input.display()))?;
    let report_file = report_path(a.report.as_deref(), &input, &out)?;
    write_report(&report_file, a.report.is_some(), &input, &out, &corpus)?;
    const SHOWN: usize = 25;
    let shown = if a.quiet { 0 } else { SHOWN };
    for w in corpus.warnings.iter().take(shown) {
        errln!("warning: {}", one_line(&w.to_string()));
    }
    if !a.quiet && corpus.warnings.len() > SHOWN {
        errln!(
            "warning: … and {} more; every warning is in {}",
            corpus.warnings.len() - SHOWN,
            report_file.display()
        );
    }
    let (skipped, seen, share) = skipped_share(&corpus);
    let problems = skipped + corpus.count(WarningKind::Warning);
    if a.strict && problems > 0 {
        bad_input!(
            "--strict: {problems} warning(s), {skipped} of them skipped input; nothing was written (see {})",
            report_file.display()
        );
    }
    if share > a.max_skipped {
        bad_input!(
            "{skipped} of {seen} pages ({:.0}%) were skipped because of problems, more than --max-skipped {} allows; \
             nothing was written (a bundle already there is unchanged). See {} for why; \
             pass --max-skipped 1 to index the rest anyway",
            100.0 * share,
            a.max_skipped,
            report_file.display()
        );
    }
    let enc = load_pack_encoder(&a.model)?;
    if !a.quiet {
        errln!(
            "read {} pages in {:.1}s; embedding…",
            corpus.pages.len(),
            t0.elapsed().as_secs_f32()
        );
    }
    let cache = if a.no_cache {
        None
    } else {
        a.cache
            .clone()
            .or_else(crossfind::index::cache::default_dir)
    };
    let opts = BuildOptions {
        chunk_tokens: a.chunk_tokens,
        force: a.force,
        cache,
        title_weight: a.title_weight,
        heading_weight: a.heading_weight,
        title_vector_weight: a.title_vector_weight,
        lexical_pieces: a.lexical_pieces,
        dense_codes: a.dense_codes.map(|o| matches!(o, OnOff::On)),
        ..Default::default()
    };
    let bar = ProgressBar::new(!a.quiet);
    let progress = |p: Progress| bar.update(p);
    let report = build_bundle(&mut corpus, &enc, &a.model, &a.out, &opts, &progress)?;
    bar.finish();
    if !a.quiet {
        for n in &report.notes {
            errln!("note: {}", one_line(n));
        }
        if report.truncated_chunks > 0 {
            errln!(
                "note: {} chunks were longer than the model's budget and were truncated",
                report.truncated_chunks
            );
        }
    }
    if a.json {
        let summary = json_summary(
            &a,
            &report,
            &corpus,
            &report_file,
            t0.elapsed().as_secs_f64(),
        );
        return Ok(outln!("{summary}")?);
    }
    if a.quiet {
        return Ok(());
    }
    outln!("{:<8}{:>8}{:>8}", "lang", "pages", "chunks")?;
    for (l, c) in &report.languages {
        outln!("{:<8}{:>8}{:>8}", one_line(l), c.pages, c.chunks)?;
    }
    outln!("{:<8}{:>8}{:>8}", "total", report.pages, report.chunks)?;
    outln!()?;
    let mut by_kind = std::collections::BTreeMap::<String, (usize, u64)>::new();
    for (_, kind, bytes) in &report.files {
        let e = by_kind.entry(kind.clone()).or_default();
        e.0 += 1;
        e.1 += bytes;
    }
    outln!("{:<12}{:>7}{:>14}", "shard kind", "files", "bytes")?;
    let (mut nf, mut nb) = (0, 0);
    for (k, (n, b)) in &by_kind {
        outln!("{k:<12}{n:>7}{b:>14}")?;
        nf += n;
        nb += b;
    }
    outln!("{:<12}{nf:>7}{nb:>14}", "total")?;
    let embedded = report.chunks - report.reused_chunks;
    outln!(
        "\nindexed {} pages into {} in {:.1}s: {embedded} chunks embedded ({:.1}/s), {} reused from the cache{}",
        report.pages,
        one_line(&a.out.display().to_string()),
        t0.elapsed().as_secs_f32(),
        embedded as f64 / report.embed_seconds.max(1e-6),
        report.reused_chunks,
        match &report.cache_file {
            Some(f) => format!(" ({})", one_line(&f.display().to_string())),
            None => " (off)".into(),
        }
    )?;
    outln!(
        "skipped {skipped} of {seen} pages because of problems ({:.1}%), {} more on purpose; {} other warnings; report: {}",
        100.0 * share,
        corpus.count(WarningKind::SkippedOnPurpose),
        corpus.count(WarningKind::Warning),
        report_file.display()
    )?;
    Ok(())
}

/// The live progress line of `crossfind index` on stderr: a bar, the pages
/// and chunks done, the rate and the time left. A terminal gets the line
/// redrawn twice a second; a log (CI) gets a line every 10 seconds.
struct ProgressBar {
    on: bool,
    tty: bool,
    started: std::time::Instant,
    last: std::sync::Mutex<Option<std::time::Instant>>,
    drawn: std::sync::atomic::AtomicBool,
}

impl ProgressBar {
    fn new(on: bool) -> Self {
        ProgressBar {
            on,
            tty: std::io::stderr().is_terminal(),
            started: std::time::Instant::now(),
            last: std::sync::Mutex::new(None),
            drawn: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn update(&self, p: Progress) {
        if !self.on {
            return;
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let finished = p.pages_done == p.pages_total && p.embedded == p.chunks;
        let every = std::time::Duration::from_millis(if self.tty { 500 } else { 10_000 });
        let due = last.is_none_or(|t| t.elapsed() >= every);
        if !(finished || due) {
            return;
        }
        *last = Some(std::time::Instant::now());
        let line = progress_line(&p, self.started.elapsed().as_secs_f64());
        let mut e = std::io::stderr().lock();
        let _ = if self.tty {
            write!(e, "\r{line}\x1b[K")
        } else {
            writeln!(e, "{line}")
        };
        let _ = e.flush();
        self.drawn.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Ends the live line so that what follows starts on a line of its own.
    fn finish(&self) {
        if self.on && self.tty && self.drawn.load(std::sync::atomic::Ordering::Relaxed) {
            errln!();
        }
    }
}

/// `[#########-----------]  45%  pages 120/281  chunks 700/1560  52.3/s  ETA 0:16`.
///
/// Chunks are cut while pages are read, so their total is estimated from
/// the pages read so far until every page is in; the share and the time
/// left follow chunks (embedding is most of the time), the rate is over the
/// chunks embedded or taken from the cache since the start.
fn progress_line(p: &Progress, elapsed: f64) -> String {
    const WIDTH: usize = 24;
    let total = if p.pages_done >= p.pages_total || p.pages_done == 0 {
        p.chunks.max(p.embedded)
    } else {
        ((p.chunks as f64) * p.pages_total as f64 / p.pages_done as f64).ceil() as usize
    }
    .max(1);
    let share = (p.embedded as f64 / total as f64).clamp(0.0, 1.0);
    let filled = (share * WIDTH as f64).round() as usize;
    let rate = p.embedded as f64 / elapsed.max(1e-6);
    let eta = if p.embedded == 0 || rate <= 0.0 {
        "ETA –".to_string()
    } else if p.embedded >= total {
        "done".to_string()
    } else {
        let s = ((total - p.embedded) as f64 / rate).ceil() as u64;
        if s >= 3600 {
            format!("ETA {}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
        } else {
            format!("ETA {}:{:02}", s / 60, s % 60)
        }
    };
    let chunks = if p.pages_done >= p.pages_total {
        format!("{}/{}", p.embedded, p.chunks)
    } else {
        format!("{}/~{total}", p.embedded)
    };
    format!(
        "[{}{}] {:>3}%  pages {}/{}  chunks {chunks}  {rate:.1}/s  {eta}",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
        (share * 100.0).floor() as u32,
        p.pages_done,
        p.pages_total,
    )
}

/// The `--json` summary of `crossfind index`: what a CI step checks.
fn json_summary(
    a: &IndexArgs,
    report: &crossfind::index::BuildReport,
    corpus: &Corpus,
    report_file: &Path,
    seconds: f64,
) -> serde_json::Value {
    let (skipped, seen, _) = skipped_share(corpus);
    let mut kinds = serde_json::Map::new();
    for (_, kind, bytes) in &report.files {
        let e = kinds
            .entry(kind.clone())
            .or_insert_with(|| serde_json::json!({"files": 0, "bytes": 0}));
        e["files"] = (e["files"].as_u64().unwrap_or(0) + 1).into();
        e["bytes"] = (e["bytes"].as_u64().unwrap_or(0) + bytes).into();
    }
    let languages: serde_json::Map<String, serde_json::Value> = report
        .languages
        .iter()
        .map(|(l, c)| {
            (
                l.clone(),
                serde_json::json!({"pages": c.pages, "chunks": c.chunks}),
            )
        })
        .collect();
    serde_json::json!({
        "crossfind": env!("CARGO_PKG_VERSION"),
        "bundle": a.out.display().to_string(),
        // as written: 2 when no file compressed (older readers read it), else 3
        "bundle_version": report.bundle_version,
        "pages": report.pages,
        "chunks": report.chunks,
        "languages": languages,
        "files": kinds,
        "bytes": report.files.iter().map(|f| f.2).sum::<u64>(),
        "embedded": report.chunks - report.reused_chunks,
        "reused": report.reused_chunks,
        "truncated_chunks": report.truncated_chunks,
        "seconds": seconds,
        "embed_seconds": report.embed_seconds,
        "cache": report.cache_file.as_ref().map(|f| f.display().to_string()),
        "pages_seen": seen,
        "skipped_problems": skipped,
        "skipped_on_purpose": corpus.count(WarningKind::SkippedOnPurpose),
        "warnings": corpus.count(WarningKind::Warning),
        "report": report_file.display().to_string(),
        "notes": report.notes,
    })
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
        bad_input!(
            "the bundle in {} has no model: {} has no {}; copy the whole bundle folder again, or re-run `crossfind index`",
            dir.display(),
            mdir.display(),
            crossfind::model::pack::MANIFEST
        );
    }
    let pack = Pack::read_dir(&mdir)
        .with_context(|| format!("cannot load the bundle's model in {}", mdir.display()))?;
    if pack.manifest.pack_id() != bundle.manifest.model.pack_id {
        bad_input!(
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
    filter: Option<&Filter>,
) -> Result<Vec<Hit>> {
    let text = &*as_searched(&l.bundle.lexical, &l.encoder, text);
    let vector = if mode == Mode::Lexical || text.trim().is_empty() {
        None
    } else {
        Some(l.encoder.embed_for_search(text, TextKind::Query)?.vector)
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
            filter,
        },
    ))
}

/// `--filter KEY:VALUE`s as a [`Filter`], checked against the filters the
/// bundle's pages declare, so that a misspelt key is an error and not an
/// empty result.
fn parse_filter(specs: &[String], l: &Loaded) -> Result<Option<Filter>> {
    if specs.is_empty() {
        return Ok(None);
    }
    let known: std::collections::BTreeSet<&str> = l
        .bundle
        .docs
        .pages
        .iter()
        .flat_map(|p| p.filters.keys().map(String::as_str))
        .collect();
    let mut f = Filter::new();
    for spec in specs {
        let Some((k, v)) = spec.split_once(':') else {
            bad_input!("--filter {spec:?} is not KEY:VALUE (e.g. --filter version:2.0)");
        };
        let (k, v) = (k.trim(), v.trim());
        if !known.contains(k) {
            if known.is_empty() {
                bad_input!("--filter {k}: no page of this bundle declares filters (see README: data-crossfind-filter)");
            }
            bad_input!(
                "--filter {k}: no page has a filter of that name; this bundle's are: {}",
                known.iter().copied().collect::<Vec<_>>().join(", ")
            );
        }
        f.entry(k.to_string()).or_default().push(v.to_string());
    }
    Ok(Some(f))
}

pub fn search_cmd(a: SearchArgs) -> Result<()> {
    let l = load_bundle(&a.bundle)?;
    let filter = parse_filter(&a.filter, &l)?;
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
                bad_input!(
                    "{}: line {} needs \"qid\" and \"text\"",
                    qpath.display(),
                    i + 1
                );
            };
            let lang = a.lang.as_deref().or(q["lang"].as_str());
            for (rank, h) in run_query(&l, qt, lang, a.k, a.mode, filter.as_ref())?
                .iter()
                .enumerate()
            {
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
        errln!("ran {n} queries; wrote {}", run.display());
        return Ok(());
    }
    let query = a.query.join(" ");
    if query.trim().is_empty() {
        bad_input!("no query: pass it as an argument, or --queries FILE.jsonl --run FILE");
    }
    let hits = run_query(&l, &query, a.lang.as_deref(), a.k, a.mode, filter.as_ref())?;
    let searched = as_searched(&l.bundle.lexical, &l.encoder, &query);
    if searched != query {
        errln!("searched for: {searched}");
    }
    let query = searched.into_owned();
    if !a.json && a.mode != Mode::Lexical {
        // what the widget's events report as lowConfidence
        let v = l.encoder.embed_for_search(&query, TextKind::Query)?.vector;
        let c =
            crossfind::search::confidence::verdict(&l.bundle, &query, Some(&v), a.lang.as_deref());
        if let (Some(low), Some(score), Some(level)) = (c.low, c.score, c.level) {
            errln!(
                "confidence: {} (best dense {score:.3} {} the level {level:.3} for {})",
                if low { "low" } else { "ok" },
                if low { "<" } else { ">=" },
                c.level_lang.as_deref().unwrap_or("other languages")
            );
        }
    }
    if a.json {
        // serde_json escapes the C0 controls; json_safe the others
        for h in &hits {
            outln!("{}", json_safe(&serde_json::to_string(h)?))?;
        }
        return Ok(());
    }
    if hits.is_empty() {
        outln!("no results")?;
    }
    // titles, URLs, headings and snippets are the site's text: made safe
    // for the terminal, one line each
    for (i, h) in hits.iter().enumerate() {
        let also = if h.also_in.is_empty() {
            String::new()
        } else {
            format!("  also in: {}", one_line(&h.also_in.join(", ")))
        };
        outln!(
            "{:>2}. {}  [{}]{also}",
            i + 1,
            one_line(&h.title),
            one_line(&h.lang)
        )?;
        outln!("    {}", one_line(&h.url))?;
        if let Some(s) = &h.snippet {
            let head = if h.heading.is_empty() {
                String::new()
            } else {
                format!("{} — ", h.heading)
            };
            outln!("    {}", one_line(&format!("{head}{s}")))?;
        }
        let f = |v: Option<f32>| v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into());
        outln!(
            "    fused {:.4}  dense {}  lexical {}",
            h.fused,
            f(h.dense),
            f(h.lexical)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pages_done: usize, pages_total: usize, chunks: usize, embedded: usize) -> Progress {
        Progress {
            pages_done,
            pages_total,
            chunks,
            embedded,
        }
    }

    #[test]
    fn progress_line_estimates_the_chunks_still_to_cut_and_the_time_left() {
        // half the pages read, 100 chunks cut, 50 embedded in 10 s: about
        // 200 chunks in all, 150 to go at 5 per second
        let line = progress_line(&p(10, 20, 100, 50), 10.0);
        assert!(
            line.starts_with("[######------------------]  25%"),
            "{line}"
        );
        assert!(
            line.contains("pages 10/20  chunks 50/~200  5.0/s  ETA 0:30"),
            "{line}"
        );
        // every page read: the real total, and hours when it is long
        let line = progress_line(&p(20, 20, 40_000, 100), 10.0);
        assert!(
            line.contains("chunks 100/40000") && line.contains("ETA 1:06:30"),
            "{line}"
        );
        let line = progress_line(&p(20, 20, 200, 200), 40.0);
        assert!(
            line.starts_with("[########################] 100%") && line.ends_with("done"),
            "{line}"
        );
        // nothing embedded yet: no rate to guess the time from
        assert!(progress_line(&p(0, 20, 0, 0), 0.5).ends_with("ETA –"));
    }
}
