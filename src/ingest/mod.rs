//! Reading a documentation site into pages and heading sections.
//!
//! [`read_input`] takes a folder of HTML (a built static site), a folder of
//! Markdown sources or a JSONL file and returns a [`Corpus`]: one [`Page`]
//! per document, each split into [`Section`]s at its headings, with the
//! page's language and its translation group resolved.
//!
//! Problems with single files (not UTF-8, binary, empty, too large,
//! duplicate) become [`Warning`]s and only that file is skipped; only a
//! missing or unreadable input is an error. Native only: the wasm build
//! searches bundles made from a corpus, it never reads one.

mod html;
mod jsonl;
mod markdown;
mod nesting;
mod sections;
mod text;
mod url;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::Error;

pub use crate::lang::detect_language;
pub use text::split_sentences;

/// Files larger than this are skipped with a warning.
pub const MAX_FILE_BYTES: u64 = 5 * 1024 * 1024;

/// One document of the site.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Stable page id: the URL path without extension for HTML
    /// (`/es/reset-password`), the `id` field for JSONL, the relative path
    /// without `.md` for Markdown (`es/reset-password`).
    pub id: String,
    /// Site-relative URL, e.g. `/es/reset-password.html`.
    pub url: String,
    /// BCP-47 primary subtag, lowercased (`es`, `zh`, `pt`); `und` if unknown.
    pub lang: String,
    /// Where [`Page::lang`] came from.
    pub lang_source: LangSource,
    pub title: String,
    /// Translation group key: pages that are translations of each other
    /// share it (the page's own id when it has no known translations).
    pub group: String,
    pub sections: Vec<Section>,
    /// The file the page was read from, relative to the input (for JSONL:
    /// `file.jsonl:LINE`).
    pub source: String,
    /// Filter values and weight the page declares.
    pub tags: PageTags,
}

/// What a page declares for search beyond its text: filter values
/// (`product: Billing`, `version: 2.0`) and a weight.
///
/// - HTML: `<meta name="crossfind:filter" content="version:2.0">`, or
///   `data-crossfind-filter="version:2.0"` on any element, or
///   `data-crossfind-filter="version"` on an element whose text is the
///   value; `<meta name="crossfind:weight" content="0.5">` or
///   `data-crossfind-weight="0.5"` on any element.
/// - Markdown front matter: `crossfind_filters: product:Billing, version:2.0`
///   and `crossfind_weight: 0.5` (not `weight`, which Hugo and others use
///   to order menus).
/// - JSONL: `"filters": {"product": "Billing", "version": ["2.0", "2.1"]}`
///   and `"weight": 0.5`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageTags {
    pub filters: std::collections::BTreeMap<String, Vec<String>>,
    pub weight: Option<f32>,
}

/// Longest filter key and value kept (characters), and values per page.
const MAX_FILTER_KEY: usize = 64;
const MAX_FILTER_VALUE: usize = 200;
const MAX_FILTER_VALUES: usize = 64;

impl PageTags {
    /// Adds `key:value` (the first colon splits them).
    pub fn add_filter(&mut self, spec: &str) -> Result<(), String> {
        match spec.split_once(':') {
            Some((k, v)) => self.add_filter_value(k, v),
            None => Err(format!(
                "the filter {:?} is not `key:value` (e.g. `version:2.0`)",
                cut(spec)
            )),
        }
    }

    /// Adds the value `value` of filter `key`; whitespace is collapsed.
    pub fn add_filter_value(&mut self, key: &str, value: &str) -> Result<(), String> {
        let key = key.split_whitespace().collect::<Vec<_>>().join(" ");
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        if key.is_empty() || value.is_empty() {
            return Err(format!(
                "the filter {key:?}: {value:?} has an empty key or value"
            ));
        }
        if key.chars().count() > MAX_FILTER_KEY || value.chars().count() > MAX_FILTER_VALUE {
            return Err(format!(
                "the filter {:?}: {:?} is too long (keys up to {MAX_FILTER_KEY} characters, values up to {MAX_FILTER_VALUE})",
                cut(&key),
                cut(&value)
            ));
        }
        if self.filters.values().map(Vec::len).sum::<usize>() >= MAX_FILTER_VALUES {
            return Err(format!(
                "more than {MAX_FILTER_VALUES} filter values; {key:?}: {value:?} and later ones are left out"
            ));
        }
        let values = self.filters.entry(key).or_default();
        if !values.contains(&value) {
            values.push(value);
        }
        Ok(())
    }

    /// Sets the weight from its text (a number from 0.1 to 10; others are
    /// clamped into that range, with a note).
    pub fn set_weight(&mut self, text: &str) -> Result<(), String> {
        let (w, problem) = parse_weight(text, "page");
        if w.is_some() {
            self.weight = w;
        }
        problem.map_or(Ok(()), Err)
    }
}

/// A page's or a section's weight from its text: a number from 0.1 to 10,
/// others clamped into that range (with a note). Not a positive number:
/// no weight, and why.
pub fn parse_weight(text: &str, what: &str) -> (Option<f32>, Option<String>) {
    let Some(w) = text
        .trim()
        .parse()
        .ok()
        .filter(|w: &f32| w.is_finite() && *w > 0.0)
    else {
        return (
            None,
            Some(format!(
                "the weight {:?} is not a positive number (1 is normal, 2 favours the {what}, 0.5 disfavours it)",
                cut(text)
            )),
        );
    };
    use crate::search::{MAX_WEIGHT, MIN_WEIGHT};
    let clamped = w.clamp(MIN_WEIGHT, MAX_WEIGHT);
    let note = (clamped != w).then(|| {
        format!("the weight {w} is outside {MIN_WEIGHT}..{MAX_WEIGHT}; {clamped} is used")
    });
    (Some(clamped), note)
}

/// `s` cut to 80 characters, for a message.
fn cut(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

/// Where a page's language was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LangSource {
    /// `<html lang="...">`.
    HtmlLang,
    /// A language directory in the path (`/es/...`, `pt-br/...`).
    PathPrefix,
    /// `lang:` in Markdown front matter.
    FrontMatter,
    /// The `lang` field of a JSONL record.
    Field,
    /// Guessed from the text by [`detect_language`].
    Detected,
    /// Nothing to go on: the page's `lang` is `und`.
    Unknown,
}

impl LangSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LangSource::HtmlLang => "html-lang",
            LangSource::PathPrefix => "path",
            LangSource::FrontMatter => "front-matter",
            LangSource::Field => "field",
            LangSource::Detected => "detected",
            LangSource::Unknown => "unknown",
        }
    }
}

impl fmt::Display for LangSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A part of a page under one heading.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The heading's id for deep links (`url#anchor`); `None` for the text
    /// before the first heading (link to the page itself).
    pub anchor: Option<String>,
    /// `true` when the page defines no id for this heading and the anchor
    /// is a slug made from the heading text: it is unique within the page
    /// but the link may not scroll to the heading.
    pub anchor_synthetic: bool,
    /// The heading text (`""` for the intro before the first heading).
    pub heading: String,
    /// Breadcrumbs: `[page title, h2, h3, ...]`.
    pub title_path: Vec<String>,
    /// The section's weight (`data-crossfind-weight` on its heading or on
    /// the `<section>` around it), on top of the page's; `None` is 1.
    pub weight: Option<f32>,
    /// Plain text of the section (the heading not included),
    /// whitespace-normalised, paragraphs separated by `\n`. Never empty.
    pub text: String,
}

/// A problem with one input file, or a note about a file that was skipped
/// on purpose (messages of the latter start with `note:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file, relative to the input (`es/x.html`, `site.jsonl:7`).
    pub file: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// What a [`Warning`] means for the input it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WarningKind {
    /// The file (or JSONL line, or folder) was not indexed because of a
    /// problem with it: its content is missing from the search.
    Skipped,
    /// The page was indexed, but something about it needs a look (its
    /// language, its encoding, its links).
    Warning,
    /// The page was left out because the site asks for that (a 404 page,
    /// `noindex`, a redirect, a draft, an index page of links).
    SkippedOnPurpose,
}

impl Warning {
    /// What this warning means; every skip message of the readers starts
    /// with `skipped` (or `note: skipped` when on purpose), and a folder
    /// that cannot be read is a skip of everything in it.
    pub fn kind(&self) -> WarningKind {
        let m = self.message.as_str();
        if m.starts_with("note:") {
            WarningKind::SkippedOnPurpose
        } else if m.starts_with("skipped")
            || m.starts_with("cannot read this folder")
            || m.starts_with("cannot list this folder")
        {
            WarningKind::Skipped
        } else {
            WarningKind::Warning
        }
    }
}

/// Everything read from an input.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    pub pages: Vec<Page>,
    pub warnings: Vec<Warning>,
}

impl Corpus {
    /// Inputs left out because of a problem with them ([`WarningKind::Skipped`]).
    pub fn skipped(&self) -> usize {
        self.count(WarningKind::Skipped)
    }

    /// Warnings of one kind.
    pub fn count(&self, kind: WarningKind) -> usize {
        self.warnings.iter().filter(|w| w.kind() == kind).count()
    }

    fn warn(&mut self, file: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Warning {
            file: file.into(),
            message: message.into(),
        });
    }
}

/// Reads a site: a folder of HTML files (`.html`/`.htm`, searched
/// recursively), a folder of Markdown files (`.md`), or a `.jsonl` file. A
/// folder with both HTML and Markdown is read as HTML, with a warning.
/// A single `.html` or `.md` file is read as a one-page site.
pub fn read_input(path: &Path) -> Result<Corpus, Error> {
    read_input_skipping(path, None)
}

/// [`read_input`], leaving out the folder `skip` (a path relative to the
/// input folder), e.g. the bundle folder `crossfind index` writes inside
/// the site it reads.
pub fn read_input_skipping(path: &Path, skip: Option<&Path>) -> Result<Corpus, Error> {
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Input(format!(
                "`{}` does not exist: give a folder of HTML or Markdown files, or a .jsonl file",
                path.display()
            ))
        } else {
            io_error(path, e)
        }
    })?;
    let mut corpus = Corpus::default();
    if meta.is_file() {
        let name = path.file_name().map(PathBuf::from).unwrap_or_default();
        let root = path.parent().unwrap_or(Path::new("."));
        match extension(path).as_str() {
            "jsonl" | "ndjson" => jsonl::read_file(path, &mut corpus)?,
            "html" | "htm" => html::read_site(root, &[name], &mut corpus),
            "md" | "markdown" => markdown::read_site(root, &[name], &mut corpus),
            _ => {
                return Err(Error::Input(format!(
                    "`{}` is not a folder, a .jsonl file, an .html file or a .md file",
                    path.display()
                )))
            }
        }
        return Ok(corpus);
    }
    let mut files = Files::default();
    walk(path, Path::new(""), skip, &mut files, &mut corpus, true)?;
    // Sorted for stable output; `x.html` before `x.htm`, so that of two
    // files with the same page id the `.html` one is kept.
    files
        .html
        .sort_by_key(|p| (p.with_extension(""), extension(p) != "html"));
    files.markdown.sort();
    if !files.html.is_empty() {
        if !files.markdown.is_empty() {
            corpus.warn(
                ".",
                format!(
                    "the folder has both HTML ({}) and Markdown ({}) files; indexing the HTML only (point crossfind at the Markdown folder to index the sources instead)",
                    files.html.len(),
                    files.markdown.len()
                ),
            );
        }
        html::read_site(path, &files.html, &mut corpus);
    } else if !files.markdown.is_empty() {
        markdown::read_site(path, &files.markdown, &mut corpus);
    } else {
        return Err(Error::Input(format!(
            "`{}` has no .html, .htm or .md files",
            path.display()
        )));
    }
    Ok(corpus)
}

#[derive(Default)]
struct Files {
    html: Vec<PathBuf>,
    markdown: Vec<PathBuf>,
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Lowercased extension of a path ("" if none).
fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Collects `.html`/`.htm` and `.md` files under `dir`, as paths relative to
/// the input root. Hidden entries, `node_modules` and the folder `skip` are
/// skipped; symlinked folders are not followed (no loops).
fn walk(
    root: &Path,
    rel: &Path,
    skip: Option<&Path>,
    files: &mut Files,
    corpus: &mut Corpus,
    top: bool,
) -> Result<(), Error> {
    let dir = root.join(rel);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if top => return Err(io_error(&dir, e)),
        Err(e) => {
            corpus.warn(rel_display(rel), format!("cannot read this folder: {e}"));
            return Ok(());
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                corpus.warn(rel_display(rel), format!("cannot list this folder: {e}"));
                continue;
            }
        };
        let name = entry.file_name();
        let Some(name_str) = name.to_str() else {
            corpus.warn(
                rel_display(&rel.join(&name)),
                "skipped: the file name is not valid Unicode",
            );
            continue;
        };
        if name_str.starts_with('.') || name_str == "node_modules" {
            continue;
        }
        let child = rel.join(&name);
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            if skip != Some(child.as_path()) {
                walk(root, &child, skip, files, corpus, false)?;
            }
            continue;
        }
        // Symlinks to files are read; symlinks to folders are not followed.
        if ft.is_symlink() && std::fs::metadata(root.join(&child)).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        match extension(&child).as_str() {
            "html" | "htm" => files.html.push(child),
            "md" | "markdown" => files.markdown.push(child),
            _ => {}
        }
    }
    Ok(())
}

/// A relative path with `/` separators, for messages and URLs.
fn rel_display(rel: &Path) -> String {
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// Reads a file for indexing: skips (with a warning) files over
/// [`MAX_FILE_BYTES`] and binary files, decodes UTF-8, UTF-16 (with BOM) or
/// the declared Latin-1/Windows-1252, and falls back to a lossy UTF-8
/// decode with a warning.
fn read_text_file(
    path: &Path,
    rel: &str,
    sniff_charset: bool,
    corpus: &mut Corpus,
) -> Option<String> {
    let size = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) => {
            corpus.warn(rel, format!("skipped: cannot read the file: {e}"));
            return None;
        }
    };
    if size > MAX_FILE_BYTES {
        corpus.warn(
            rel,
            format!(
                "skipped: the file is {:.1} MB, over the {} MB limit for one page",
                size as f64 / (1024.0 * 1024.0),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        );
        return None;
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            corpus.warn(rel, format!("skipped: cannot read the file: {e}"));
            return None;
        }
    };
    let (text, note) = decode(&bytes, sniff_charset);
    match (text, note) {
        (Some(t), Some(n)) => {
            corpus.warn(rel, n);
            Some(t)
        }
        (Some(t), None) => Some(t),
        (None, Some(n)) => {
            corpus.warn(rel, n);
            None
        }
        (None, None) => None,
    }
}

/// Decodes file bytes; the second value is a warning to report.
fn decode(bytes: &[u8], sniff_charset: bool) -> (Option<String>, Option<String>) {
    // UTF-16 with a byte order mark.
    if bytes.len() >= 2 && (bytes[..2] == [0xFF, 0xFE] || bytes[..2] == [0xFE, 0xFF]) {
        let le = bytes[0] == 0xFF;
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        return (
            Some(String::from_utf16_lossy(&units)),
            Some("the file is UTF-16; decoded it, but please save it as UTF-8".to_string()),
        );
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.contains(&0) {
        return (
            None,
            Some("skipped: this is a binary file (it contains NUL bytes), not text".to_string()),
        );
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => (Some(s.to_string()), None),
        Err(_) => {
            if sniff_charset && declares_latin1(bytes) {
                (
                    Some(bytes.iter().map(|&b| windows_1252(b)).collect()),
                    Some(
                        "not UTF-8; decoded as Windows-1252, the charset the page declares"
                            .to_string(),
                    ),
                )
            } else {
                (
                    Some(String::from_utf8_lossy(bytes).into_owned()),
                    Some("not valid UTF-8; undecodable bytes were replaced with U+FFFD (save the file as UTF-8)".to_string()),
                )
            }
        }
    }
}

/// Whether an HTML head declares a Latin-1 family charset.
fn declares_latin1(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(2048)];
    let head: String = head
        .iter()
        .map(|&b| (b as char).to_ascii_lowercase())
        .collect();
    let Some(at) = head.find("charset=") else {
        return false;
    };
    let value: String = head[at + 8..]
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    matches!(
        value.as_str(),
        "windows-1252"
            | "iso-8859-1"
            | "latin1"
            | "latin-1"
            | "iso8859-1"
            | "cp1252"
            | "us-ascii"
            | "ascii"
    )
}

fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[(b - 0x80) as usize],
        _ => b as char,
    }
}

/// Union-find over page indices, used to build translation groups.
struct UnionFind(Vec<usize>);

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind((0..n).collect())
    }
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a.max(b)] = a.min(b);
        }
    }
}

/// Sets each page's group to the lexicographically smallest page id of its
/// union-find component.
fn assign_groups_by_component(pages: &mut [Page], uf: &mut UnionFind) {
    let mut smallest: HashMap<usize, String> = HashMap::new();
    for (i, p) in pages.iter().enumerate() {
        let root = uf.find(i);
        let e = smallest.entry(root).or_insert_with(|| p.id.clone());
        if p.id < *e {
            *e = p.id.clone();
        }
    }
    for (i, p) in pages.iter_mut().enumerate() {
        p.group = smallest[&uf.find(i)].clone();
    }
}

/// Applies `translation_of` links: a page that names another page (by page
/// id, or by front matter id) joins that page's group; a name that matches
/// no page is used as the group key as it is, so the translations of a
/// page that is missing still group together. `links` holds, per page, its
/// front matter id and its `translation_of`.
fn resolve_translations(pages: &mut [Page], links: &[(Option<String>, Option<String>)]) {
    let mut by_name: HashMap<String, String> = HashMap::new();
    for p in pages.iter() {
        by_name
            .entry(p.id.clone())
            .or_insert_with(|| p.group.clone());
    }
    for (p, (fm_id, _)) in pages.iter().zip(links) {
        if let Some(f) = fm_id {
            by_name.entry(f.clone()).or_insert_with(|| p.group.clone());
        }
    }
    for (p, (_, target)) in pages.iter_mut().zip(links) {
        if let Some(t) = target {
            p.group = by_name.get(t).cloned().unwrap_or_else(|| t.clone());
        }
    }
}

/// Warns about translation groups holding two pages of the same language,
/// which usually means wrong `hreflang` links or a reused front matter id.
fn check_groups(corpus: &mut Corpus) {
    // a group key is text: control characters are dropped, which also
    // keeps keys apart from the ones a bundle gives pages of no other
    // version (`bundle::own_group`)
    for p in corpus.pages.iter_mut() {
        if p.group.contains(char::is_control) {
            p.group.retain(|c| !c.is_control());
        }
    }
    let mut seen: HashMap<(&str, &str), &str> = HashMap::new();
    let mut warnings = Vec::new();
    for p in &corpus.pages {
        if p.lang == "und" {
            continue;
        }
        if let Some(first) = seen.insert((p.group.as_str(), p.lang.as_str()), p.source.as_str()) {
            warnings.push(Warning {
                file: p.source.clone(),
                message: format!(
                    "translation group `{}` already has a `{}` page ({first}); check the hreflang links or translation ids",
                    p.group, p.lang
                ),
            });
        }
    }
    corpus.warnings.extend(warnings);
}

/// Chooses a language for a page without a declared or path language:
/// detection from its text (with a warning), else `und` (with a warning).
fn fallback_language(
    text: &str,
    what_is_missing: &str,
    file: &str,
    corpus: &mut Corpus,
) -> (String, LangSource) {
    match detect_language(text) {
        Some(code) => {
            corpus.warn(
                file,
                format!("{what_is_missing}; detected {code} from the text"),
            );
            (code.to_string(), LangSource::Detected)
        }
        None => {
            corpus.warn(
                file,
                format!("{what_is_missing} and the language could not be detected from the text; using \"und\""),
            );
            ("und".to_string(), LangSource::Unknown)
        }
    }
}

/// All section text of a page, for language detection.
fn page_text(sections: &[Section], title: &str) -> String {
    let mut s = String::from(title);
    for sec in sections {
        s.push('\n');
        s.push_str(&sec.heading);
        s.push('\n');
        s.push_str(&sec.text);
    }
    s
}

#[cfg(test)]
mod tests;
