//! The bodies of crossfind's fuzz targets, shared by the libFuzzer binaries in
//! `fuzz_targets/` and by `examples/make_seeds.rs`, which writes the seed
//! corpora in the same framing.
//!
//! # Input framing of the `bundle` target
//!
//! An input is a list of parts joined by [`SEP`]: the manifest JSON first,
//! then one part per shard in the manifest's order, then optionally one more
//! part used as an extra query text. The harness rewrites each shard's size
//! and sha256 in the parsed manifest to match its part, so mutated shard
//! bytes get past the checksum and reach the shard parsers; a shard without
//! a part is reported missing.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crossfind::bundle::BundleManifest;
use crossfind::format::sha256_hex;
use crossfind::format::tensors::TensorFile;
use crossfind::ingest::{read_input, split_sentences, Corpus, LangSource};
use crossfind::model::pack::PackManifest;
use crossfind::search::lexical::LexicalIndex;
use crossfind::search::{search, Bundle, Fusion, Hit, Mode, Query};

/// Separates the parts of a `bundle` input.
pub const SEP: &[u8] = b"\0--cf--\0";

/// Fixed queries run against every bundle that loads: words of the seed
/// bundles in four scripts, an error code, and nothing.
const QUERIES: &[&str] = &[
    "reset password",
    "E4011 token",
    "返金 申請",
    "contraseña olvidé",
    "",
];

/// Query vectors are made at the bundle's dimension up to this one (a
/// manifest may claim any `dim`).
const MAX_QUERY_DIM: usize = 4096;

/// Splits `data` at every [`SEP`].
pub fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(i) = find(rest, SEP) {
        parts.push(&rest[..i]);
        rest = &rest[i + SEP.len()..];
    }
    parts.push(rest);
    parts
}

/// Joins parts with [`SEP`]; the inverse of [`split`] when no part holds it.
pub fn join(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(SEP);
        }
        out.extend_from_slice(p);
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A deterministic unit-ish query vector for `text`.
fn query_vector(text: &str, dim: usize) -> Vec<f32> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in text.bytes() {
        x = (x ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 24) as f32 - 0.5) / (dim as f32).sqrt()
        })
        .collect()
}

/// Loads the framed bundle in `data` and, if it loads, searches it.
pub fn bundle(data: &[u8]) {
    let parts = split(data);
    let Ok(mut manifest) = BundleManifest::parse(parts[0]) else {
        return;
    };
    check_bundle_names(&manifest);
    let mut files: HashMap<String, &[u8]> = HashMap::new();
    for (s, bytes) in manifest.shards.iter_mut().zip(&parts[1..]) {
        s.bytes = bytes.len() as u64;
        s.sha256 = sha256_hex(bytes);
        files.insert(s.name.clone(), bytes);
    }
    let extra_query = parts
        .get(manifest.shards.len() + 1)
        .map(|b| String::from_utf8_lossy(b).into_owned());
    // Odd-length inputs load the fragments later, as the browser does.
    let lazy = data.len() % 2 == 1;
    let frag_names: Vec<String> = manifest.fragment_shards().map(|s| s.name.clone()).collect();
    let loaded = Bundle::from_files(
        manifest,
        |name| Ok(files.get(name).map(|b| b.to_vec())),
        !lazy,
    );
    let Ok(mut b) = loaded else {
        return;
    };
    if lazy {
        for (i, name) in frag_names.iter().enumerate() {
            if let Some(bytes) = files.get(name.as_str()) {
                // Two fragment shards may share a name: only one can match.
                let _ = b.add_fragments(i, bytes);
            }
        }
        // snippet records (format 7), the browser's way: the ranges the
        // chunks name, every other one cut short by a byte, then whole files
        let chunks: Vec<u32> = (0..b.docs.chunks.len() as u32 + 1).collect();
        let ranges: Vec<(u32, String, u64, u64)> = b
            .snippet_ranges(&chunks)
            .into_iter()
            .map(|(r, f, s, e)| (r, f.to_string(), s, e))
            .collect();
        for (i, (r, f, s, e)) in ranges.into_iter().enumerate() {
            let file = files.get(f.as_str()).copied().unwrap_or(&[]);
            let e = if i % 2 == 1 { e.saturating_sub(1) } else { e };
            let part = file
                .get(s as usize..(e as usize).min(file.len()))
                .unwrap_or(&[]);
            let _ = b.add_record(r as usize, part);
        }
        let snippets: Vec<String> = b
            .manifest
            .snippet_shards()
            .map(|s| s.name.clone())
            .collect();
        for name in snippets {
            if let Some(bytes) = files.get(name.as_str()) {
                let _ = b.add_snippets_file(&name, bytes);
            }
        }
    }
    for c in 0..b.docs.chunks.len() as u32 + 1 {
        let _ = b.sentences(c);
    }
    // a bundle with sign codes (format 5), the browser's way: the rows the
    // first stage names, by byte range, then the whole vectors file
    if lazy && b.has_codes() {
        let dim = b.manifest.model.dim.min(MAX_QUERY_DIM);
        let v = query_vector(QUERIES[0], dim);
        if v.len() == b.manifest.model.dim {
            let vectors = b
                .manifest
                .shard(crossfind::bundle::ShardKind::Vectors)
                .name
                .clone();
            let file = files.get(vectors.as_str()).copied().unwrap_or(&[]);
            let ranges: Vec<(u32, u64, Vec<u64>)> = b
                .dense_ranges_for(&v, None)
                .into_iter()
                .map(|r| (r.block, r.start, r.block_ends))
                .collect();
            let part = |s: u64, e: u64| {
                file.get(s as usize..(e as usize).min(file.len()))
                    .unwrap_or(&[])
            };
            for (i, (bl, s, ends)) in ranges.into_iter().enumerate() {
                // whole ranges and block by block, as a returning reader's
                // worker adds the blocks it kept
                if i % 2 == 0 {
                    let _ = b.add_vector_rows(bl, part(s, ends.last().copied().unwrap_or(s)));
                } else {
                    let mut at = s;
                    for (j, e) in ends.into_iter().enumerate() {
                        let _ = b.add_vector_rows(bl + j as u32, part(at, e));
                        at = e;
                    }
                }
            }
            let _ = b.add_vectors_file(file);
        }
    }

    let dim = b.manifest.model.dim;
    let first_lang = b.docs.pages.first().map(|p| p.lang.clone());
    let pick = data.iter().fold(0usize, |a, &x| a.wrapping_add(x as usize));
    // the empty query runs one time in five
    let mut texts: Vec<String> = vec![QUERIES[pick % QUERIES.len()].to_string()];
    texts.extend(extra_query);
    for text in &texts {
        // A query vector of the bundle's dimension; for an absurd `dim`, one
        // of the default model's, as from a page whose encoder disagrees.
        let vector = query_vector(text, if dim <= MAX_QUERY_DIM { dim } else { 384 });
        // one reader language per input keeps execs fast; the corpus covers all
        let lang = [None, Some("es"), first_lang.as_deref()][pick / 5 % 3];
        let k = 1 + pick % 10;
        for mode in [Mode::Hybrid, Mode::Dense, Mode::Lexical] {
            let q = Query {
                text,
                vector: Some(&vector),
                lang,
                k,
                mode,
                fusion: Fusion::default(),
                filter: None,
            };
            check_hits(&b, &search(&b, &q), k);
        }
    }
}

/// Whether `name`, a name a manifest uses, names something inside the
/// manifest's folder however it is used: joined to a folder natively, or
/// resolved with `new URL(name, base)` by the browser (which strips
/// surrounding whitespace and tabs/newlines inside, decodes nothing but lets
/// servers decode `%2e`/`%2f`/`%5c`, reads `\` as `/` and `:` as a scheme).
/// An oracle written apart from `crossfind::error`'s whitelist: a looser
/// rule, so a whitelist that lets anything through that breaks it is a bug.
pub fn stays_inside(name: &str, slashes: bool) -> bool {
    if name.is_empty() || (!slashes && name.contains('/')) {
        return false;
    }
    if name
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, ':' | '\\' | '?' | '#'))
    {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c", "%00"]
        .iter()
        .any(|e| lower.contains(e))
    {
        return false;
    }
    name.split('/').all(|seg| !matches!(seg, "" | "." | ".."))
        && std::path::Path::new(name)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Every name of a parsed bundle manifest stays inside the bundle folder.
fn check_bundle_names(m: &BundleManifest) {
    for s in &m.shards {
        assert!(
            stays_inside(&s.name, false),
            "shard name {:?} accepted",
            s.name
        );
    }
    assert!(
        stays_inside(&m.model.dir, true),
        "model.dir {:?} accepted",
        m.model.dir
    );
}

/// Names no manifest may use: they leave the folder natively or when the
/// browser resolves them with `new URL(name, base)`. `tests/it/bundle.rs`
/// and `tests/it/pack.rs` plant them in manifests; `make_seeds` writes them
/// as seeds of the `manifest_names` target.
pub const HOSTILE_NAMES: &[&str] = &[
    "https://evil.example/frag.json",
    "//evil.example/frag.json",
    "javascript:alert(1)",
    "java\tscript:alert(1)",
    "%2e%2e/%2e%2e/x",
    "%2E%2E%2Fx",
    "..%2fx",
    "..%5cx",
    "../../../../etc/passwd",
    "..",
    ".",
    "",
    "/etc/passwd",
    "C:\\Windows\\win.ini",
    "c:x",
    "sub\\..\\..\\x",
    "docs.json\u{0}",
    "frag\n.json",
    "\u{1b}[31mred.json",
    " frag.json",
    ".hidden",
    "frag.json?x=1",
    "frag.json#x",
];

/// A valid bundle manifest whose names the `manifest_names` target replaces.
const BUNDLE_TEMPLATE: &str = r#"{"format":"crossfind-bundle","version":2,
"model":{"pack_id":"8536a5035c33d7f7","id":"m","dim":8,"dir":"model",
"offline_rows":{"groups":["ascii"],"ranges":[{"file":"emb-000.bin","start":0,"end":8,"sha256":"00"}]}},
"pages":1,"chunks":1,"languages":{},
"shards":[{"name":"docs.0.json","kind":"docs","bytes":1,"sha256":"0000000000000000000000000000000000000000000000000000000000000000"},
{"name":"vectors.0.bin","kind":"vectors","bytes":1,"sha256":"0000000000000000000000000000000000000000000000000000000000000000"},
{"name":"lexical.0.bin","kind":"lexical","bytes":1,"sha256":"0000000000000000000000000000000000000000000000000000000000000000"},
{"name":"frag-000.0.json","kind":"fragments","bytes":1,"sha256":"0000000000000000000000000000000000000000000000000000000000000000"}]}"#;

/// A valid pack manifest whose file names the target replaces.
const PACK_TEMPLATE: &str = r#"{"format":"crossfind-pack","version":2,
"model":{"id":"m","source":"s","license":"l"},
"profile":{"query_prefix":"query: ","passage_prefix":"passage: ","pooling":"mean","normalize":true,"dim":8,"max_tokens":8},
"arch":{"hidden":8,"layers":1,"heads":2,"intermediate":16,"vocab":4,"max_positions":8,"layer_norm_eps":1e-12},
"embeddings":{"dtype":"f32","rows":4,"rows_per_shard":2,"shards":["emb-000.bin","emb-001.bin"]},
"files":[{"name":"encoder.bin","role":"encoder","bytes":1,"sha256":"00"},
{"name":"tokenizer.json","role":"tokenizer","bytes":1,"sha256":"00"},
{"name":"emb-000.bin","role":"embeddings","bytes":1,"sha256":"00"},
{"name":"emb-001.bin","role":"embeddings","bytes":1,"sha256":"00"}]}"#;

/// The manifest-name rules of both manifests. Input: names separated by
/// [`SEP`] (lossy UTF-8). In a bundle manifest they replace, in turn,
/// `model.dir`, the offline rows' file (a field bundles before 2026-12-06
/// wrote and nothing reads now: it must not stop the manifest parsing) and
/// the four shard names; in a pack
/// manifest, the names of its four files (the two row shards renamed in
/// `embeddings.shards` too). Whatever a manifest accepts must pass
/// [`stays_inside`]; the templates with their own names must parse.
pub fn manifest_names(data: &[u8]) {
    let names: Vec<String> = split(data)
        .into_iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let name = |i: usize| names.get(i).cloned();

    let mut b: serde_json::Value = serde_json::from_str(BUNDLE_TEMPLATE).expect("template");
    if let Some(n) = name(0) {
        b["model"]["dir"] = n.into();
    }
    if let Some(n) = name(1) {
        b["model"]["offline_rows"]["ranges"][0]["file"] = n.into();
    }
    for k in 0..4 {
        if let Some(n) = name(2 + k) {
            b["shards"][k]["name"] = n.into();
        }
    }
    let bytes = serde_json::to_vec(&b).expect("serialises");
    match BundleManifest::parse(&bytes) {
        Ok(m) => check_bundle_names(&m),
        Err(e) => assert_eq!(e.code(), "corrupt_file", "{e}"),
    }

    let mut p: serde_json::Value = serde_json::from_str(PACK_TEMPLATE).expect("template");
    for k in 0..4 {
        if let Some(n) = name(k) {
            if k >= 2 {
                p["embeddings"]["shards"][k - 2] = n.clone().into();
            }
            p["files"][k]["name"] = n.into();
        }
    }
    let bytes = serde_json::to_vec(&p).expect("serialises");
    match PackManifest::parse(&bytes) {
        Ok(m) => {
            for f in &m.files {
                assert!(
                    stays_inside(&f.name, false),
                    "pack file {:?} accepted",
                    f.name
                );
            }
        }
        Err(e) => assert_eq!(e.code(), "corrupt_file", "{e}"),
    }
}

/// What every result list must satisfy, whatever the bundle holds.
fn check_hits(b: &Bundle, hits: &[Hit], k: usize) {
    assert!(hits.len() <= k, "{} hits for k = {k}", hits.len());
    for h in hits {
        assert!((h.chunk as usize) < b.docs.chunks.len());
        if let Some(s) = &h.snippet {
            for &(start, end) in &h.highlights {
                assert!(start < end && end <= s.len(), "highlight {start}..{end}");
                assert!(s.is_char_boundary(start) && s.is_char_boundary(end));
            }
        }
    }
}

/// Decodes a lexical index; one that decodes must search and re-encode.
pub fn lexical(data: &[u8]) {
    // the input as a query to respell against a small index
    respelt(known_index(), &String::from_utf8_lossy(data));
    let Ok(idx) = LexicalIndex::from_bytes(data) else {
        return;
    };
    for q in QUERIES {
        respelt(&idx, q);
        let hits = idx.search(q, 10);
        assert!(hits.len() <= 10);
        assert!(
            hits.windows(2).all(|w| w[0].1 >= w[1].1),
            "hits not sorted: {hits:?}"
        );
    }
    // a head (the index in pieces, no piece loaded) re-encodes as a head
    let bytes = if idx.is_pieced() {
        idx.head_bytes(idx.piece_refs())
    } else {
        idx.to_bytes()
    };
    let again = LexicalIndex::from_bytes(&bytes).expect("re-encoded index decodes");
    assert_eq!(again, idx);
    let bytes_again = if again.is_pieced() {
        again.head_bytes(again.piece_refs())
    } else {
        again.to_bytes()
    };
    assert_eq!(bytes_again, bytes);
}

/// A small index of site words for [`respelt`].
fn known_index() -> &'static LexicalIndex {
    static IDX: OnceLock<LexicalIndex> = OnceLock::new();
    IDX.get_or_init(|| {
        let mut b = crossfind::search::lexical::LexicalIndexBuilder::new();
        for (i, t) in [
            "reset your password",
            "Passwort vergessen",
            "восстановить пароль",
            "تصدير البيانات",
            "अपना पासवर्ड",
        ]
        .iter()
        .enumerate()
        {
            b.add(i as u32, t);
        }
        b.finish()
    })
}

/// Respells `q` against `idx` (every word unknown to the "model"): the
/// words respelt are at most `MAX_WORDS`, each now a term of the index,
/// and the text outside them is unchanged.
fn respelt(idx: &LexicalIndex, q: &str) {
    use crossfind::search::respell;
    let _ = respell::pieces_needed(idx, &|_| false, q);
    if let Some(r) = respell::respell(idx, &|_| false, q) {
        assert!(!r.words.is_empty() && r.words.len() <= respell::MAX_WORDS);
        for (_, term) in &r.words {
            assert!(idx.has_term(term), "{term:?} is not in the index");
        }
        let typed: usize = r.words.iter().map(|(w, _)| w.len()).sum();
        let read: usize = r.words.iter().map(|(_, t)| t.len()).sum();
        assert_eq!(r.text.len() + typed, q.len() + read);
    }
}

/// Parses a tensor file and decodes every tensor it lists.
pub fn tensors(data: &[u8]) {
    let Ok(tf) = TensorFile::parse("fuzz.bin", data) else {
        return;
    };
    let infos = tf.tensors().to_vec();
    for t in infos {
        let (info, raw) = tf.raw(&t.name).expect("listed tensor has bytes");
        assert_eq!(raw.len(), info.byte_len());
        // A tensor of zero-byte rows may claim any number of them.
        if t.rows.saturating_mul(t.cols) <= 1 << 20 {
            let v = tf.f32(&t.name, t.rows, t.cols);
            if let Ok(v) = v {
                assert_eq!(v.len(), t.rows * t.cols);
            }
        }
    }
}

/// The flat vocabulary reader and the tokenizer built on it
/// (`TextTokenizer::from_vocab`, what `Tokenizer.fromVocab` runs in the
/// browser). Input: the `vocab.bin` bytes, then optionally a separator and
/// a text to tokenise. Any damage must be an error; any text must give ids
/// inside the vocabulary.
pub fn vocab(data: &[u8]) {
    let parts = split(data);
    let Ok(tok) = crossfind::model::tokenizer::TextTokenizer::from_vocab(parts[0], "vocab.bin")
    else {
        return;
    };
    let text = parts
        .get(1)
        .map(|t| String::from_utf8_lossy(t))
        .unwrap_or_default();
    if let Ok(ids) = tok.ids(&text) {
        let n = tok.vocab_size() as u32;
        assert!(
            ids.iter().all(|&i| i < n),
            "id outside the vocabulary of {n}"
        );
    }
}

/// The per-process folder the reader targets write their files into (the
/// readers take a path, as the CLI does). Under `CROSSFIND_FUZZ_TMP` when it
/// is set, else the system temp folder.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::env::var_os("CROSSFIND_FUZZ_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        base.join(format!("crossfind-fuzz-{}", std::process::id()))
    })
}

/// Removes the scratch folder of this process (the fuzz binaries leave it
/// behind, under `CROSSFIND_FUZZ_TMP`; tests that replay seeds call this).
pub fn remove_scratch() {
    let _ = std::fs::remove_dir_all(scratch());
}

/// An empty scratch folder for one input.
fn fresh_scratch() -> &'static Path {
    let dir = scratch();
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("scratch folder");
    dir
}

/// A site-relative path the harness may create: 1 to 4 non-empty
/// components without `.`/`..`, control characters or backslashes, each
/// at most 40 bytes.
fn safe_path(p: &str) -> bool {
    let parts: Vec<&str> = p.split('/').collect();
    (1..=4).contains(&parts.len())
        && parts.iter().all(|c| {
            !c.is_empty()
                && *c != "."
                && *c != ".."
                && c.len() <= 40
                && !c.chars().any(|ch| ch.is_control() || ch == '\\')
        })
}

/// Writes the files of a site input into `dir`: parts joined by [`SEP`],
/// each the file's site-relative path, a newline and the file's bytes.
/// A part whose first line is not a [`safe_path`] is all content, written
/// as `page{i}.{ext}`. Returns the paths written, in input order.
fn write_site(dir: &Path, data: &[u8], ext: &str) -> Vec<String> {
    let mut written: Vec<String> = Vec::new();
    for (i, part) in split(data).into_iter().enumerate().take(12) {
        let named = part
            .iter()
            .position(|&b| b == b'\n')
            .and_then(|nl| Some((std::str::from_utf8(&part[..nl]).ok()?, &part[nl + 1..])))
            .filter(|(p, _)| safe_path(p));
        let (rel, bytes) = match named {
            Some((p, b)) => (p.to_string(), b),
            None => (format!("page{i}.{ext}"), part),
        };
        if written.contains(&rel) {
            continue;
        }
        let path = dir.join(&rel);
        // A path under an existing file, or naming an existing folder, is skipped.
        let ok = path
            .parent()
            .is_some_and(|p| std::fs::create_dir_all(p).is_ok())
            && !path.is_dir()
            && std::fs::write(&path, bytes).is_ok();
        if ok {
            written.push(rel);
        }
    }
    written
}

/// Characters [`crossfind::ingest`] promises to drop from text.
const INVISIBLE: &[char] = &['\u{200B}', '\u{FEFF}', '\u{00AD}', '\u{2060}'];

/// Reads `path` with [`read_input`] twice and checks what every reader
/// promises (`src/ingest/mod.rs`), whatever the files hold: the only error
/// is `invalid_input`, page ids are unique, every page has sections, every
/// section has text (whitespace-normalised lines, no invisible characters)
/// and breadcrumbs, languages are a primary subtag or `und`, and reading
/// the same files again gives the same corpus.
fn read_and_check(path: &Path, breadcrumbs_start_with_title: bool) -> Option<Corpus> {
    let corpus = match read_input(path) {
        Ok(c) => c,
        Err(e) => {
            assert_eq!(e.code(), "invalid_input", "{e}");
            return None;
        }
    };
    let again = read_input(path).expect("the same files read again");
    assert!(
        again.pages == corpus.pages && again.warnings == corpus.warnings,
        "reading the same files twice gave different corpora"
    );
    let mut ids = HashSet::new();
    for p in &corpus.pages {
        assert!(ids.insert(p.id.as_str()), "page id {:?} twice", p.id);
        assert!(!p.sections.is_empty(), "{}: no sections", p.id);
        assert!(!p.group.is_empty() && !p.url.is_empty(), "{}", p.id);
        let lang_ok = p.lang == "und"
            || ((2..=3).contains(&p.lang.len()) && p.lang.bytes().all(|b| b.is_ascii_lowercase()));
        assert!(lang_ok, "{}: language {:?}", p.id, p.lang);
        assert_eq!(
            p.lang == "und",
            p.lang_source == LangSource::Unknown,
            "{}: {} from {}",
            p.id,
            p.lang,
            p.lang_source
        );
        let mut synthetic = HashSet::new();
        for s in &p.sections {
            assert!(!s.text.is_empty(), "{}: a section without text", p.id);
            for line in s.text.split('\n') {
                assert!(
                    !line.trim().is_empty(),
                    "{}: blank line in {:?}",
                    p.id,
                    s.text
                );
            }
            assert!(!s.text.contains(INVISIBLE), "{}: {:?}", p.id, s.text);
            for sentence in split_sentences(&s.text) {
                assert!(!sentence.is_empty() && sentence.trim() == sentence);
            }
            assert!(
                s.anchor.is_some() || (s.heading.is_empty() && !s.anchor_synthetic),
                "{}: heading {:?} without an anchor",
                p.id,
                s.heading
            );
            if s.anchor_synthetic {
                synthetic.insert(s.anchor.as_deref().unwrap());
            }
            let (first, rest) = s
                .title_path
                .split_first()
                .unwrap_or_else(|| panic!("{}: no breadcrumbs", p.id));
            assert!(rest.iter().all(|c| !c.is_empty()), "{:?}", s.title_path);
            if breadcrumbs_start_with_title {
                assert_eq!(first, &p.title, "{}: breadcrumbs", p.id);
            }
        }
        // a generated anchor is unique within its page
        for s in &p.sections {
            if let Some(a) = s.anchor.as_deref() {
                let n = p
                    .sections
                    .iter()
                    .filter(|t| t.anchor.as_deref() == Some(a))
                    .count();
                assert!(
                    !synthetic.contains(a) || n == 1,
                    "{}: generated anchor #{a} on {n} sections",
                    p.id
                );
            }
        }
    }
    for w in &corpus.warnings {
        assert!(!w.file.is_empty() && !w.message.is_empty(), "{w:?}");
    }
    Some(corpus)
}

/// Reads a site of one or more files (see [`write_site`]): one file is read
/// as a single-page input (`read_input` on the file), more as a folder.
fn site(data: &[u8], ext: &str, breadcrumbs_start_with_title: bool) {
    let dir = fresh_scratch();
    let files = write_site(dir, data, ext);
    // a single file is named by its file name, files of a folder by their path
    let (path, sources) = match files.as_slice() {
        [one] => {
            let name = one.rsplit('/').next().unwrap_or(one).to_string();
            (dir.join(one), vec![name])
        }
        _ => (dir.to_path_buf(), files),
    };
    if let Some(c) = read_and_check(&path, breadcrumbs_start_with_title) {
        for p in &c.pages {
            assert!(
                sources.contains(&p.source),
                "page {} from {:?}, not a file of the input",
                p.id,
                p.source
            );
        }
    }
}

/// The HTML reader (`src/ingest/html.rs`) on a built site: files framed as
/// in [`write_site`], `page{i}.html` when unnamed.
pub fn html(data: &[u8]) {
    site(data, "html", true);
}

/// The Markdown reader (`src/ingest/markdown.rs`) on a folder of sources:
/// files framed as in [`write_site`], `page{i}.md` when unnamed.
pub fn markdown(data: &[u8]) {
    site(data, "md", true);
}

/// The JSONL reader (`src/ingest/jsonl.rs`): the input is the whole
/// `site.jsonl` file.
pub fn jsonl(data: &[u8]) {
    let dir = fresh_scratch();
    let path = dir.join("site.jsonl");
    std::fs::write(&path, data).expect("write site.jsonl");
    if let Some(c) = read_and_check(&path, true) {
        for p in &c.pages {
            let line = p
                .source
                .strip_prefix("site.jsonl:")
                .and_then(|n| n.parse::<usize>().ok());
            assert!(line.is_some_and(|n| n >= 1), "source {:?}", p.source);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_templates_parse_and_hostile_names_are_refused() {
        BundleManifest::parse(BUNDLE_TEMPLATE.as_bytes()).expect("bundle template parses");
        PackManifest::parse(PACK_TEMPLATE.as_bytes()).expect("pack template parses");
        manifest_names(b"");
        manifest_names(&join(&[b"model", b"emb-000.bin", b"docs.0.json"]));
        for hostile in [
            &b"https://evil.example/x"[..],
            b"%2e%2e/%2e%2e/x",
            b"../../../../etc/passwd",
            b"/abs",
            b"a\\b",
            b"java\tscript:x",
        ] {
            manifest_names(&join(&[hostile, hostile, hostile, hostile, hostile]));
        }
    }

    #[test]
    fn names_made_of_hostile_pieces_that_parse_stay_inside() {
        // every name of up to three pieces, in every position the target
        // plants names: a small exhaustive run of the fuzz target
        let pieces = [
            "..", ".", "/", "\\", "%2e", "%2F", "%5c", ":", "a", "b.json", "\t", " ", "\0", "é",
            "?", "#", "~", "-",
        ];
        let mut names = vec![String::new()];
        for _ in 0..3 {
            let longer: Vec<String> = names
                .iter()
                .flat_map(|n| pieces.iter().map(move |p| format!("{n}{p}")))
                .collect();
            names.extend(longer);
        }
        for n in &names {
            let b = n.as_bytes();
            manifest_names(&join(&[b, b, b, b, b, b]));
        }
        assert!(names.len() > 5000);
    }

    #[test]
    fn split_inverts_join() {
        let parts: Vec<&[u8]> = vec![b"{}", b"", b"abc\0--", b"x"];
        assert_eq!(split(&join(&parts)), parts);
        assert_eq!(split(b""), vec![b"" as &[u8]]);
    }
}
