//! The bundle format on disk: a bundle written by an earlier build still reads
//! and answers the same way, and damaged bundles are errors naming the file.
//!
//! `tests/fixtures/golden/bundle-v1` is a real bundle (format version 1) built
//! with the default model from `tests/fixtures/golden/corpus.jsonl`:
//!
//! ```text
//! crossfind index --input tests/fixtures/golden/corpus.jsonl --out /tmp/golden
//! cp /tmp/golden/{manifest.json,docs.*,vectors.*,lexical.*,frag-*} tests/fixtures/golden/bundle-v1/
//! ```
//!
//! Its `model/` folder is not committed; the tests attach `models/e5-small`,
//! whose pack id the manifest records. The vectors shard and the pack id were
//! rebuilt once on purpose, when search vectors became language-neutral
//! (`model::langbasis`): a bundle with raw vectors ranks wrongly against
//! projected queries, so its old pack id makes it ask to be re-indexed. Rebuild the fixture only on purpose:
//! when these tests fail, bundles already deployed on users' sites would too.

use std::path::{Path, PathBuf};

use crossfind::bundle::{BundleManifest, Docs, ShardKind, MANIFEST};
use crossfind::format::sha256_hex;
use crossfind::search::lexical::{LexicalIndex, LexicalIndexBuilder};
use crossfind::search::Bundle;
use crossfind::search::{search, Fusion, FusionMethod, Hit, Mode, Query};
use crossfind::TextKind;

use crate::{assert_error, assert_fails, copy_dir, encoder, flip_byte, golden_dir, search_cli};

fn golden() -> Bundle {
    Bundle::read_dir(&golden_dir()).expect("the golden bundle reads")
}

fn ask(b: &Bundle, text: &str, lang: Option<&str>, mode: Mode) -> Vec<Hit> {
    let v = encoder()
        .embed_for_search(text, TextKind::Query)
        .unwrap()
        .vector;
    search(
        b,
        &Query {
            text,
            vector: Some(&v),
            lang,
            k: 3,
            mode,
            // the fusion the bundle was recorded with, not today's tuning:
            // this test pins the format, not the ranking constants
            fusion: Fusion {
                method: FusionMethod::Rank,
                rrf_k: 60.0,
                dense_weight: 1.0,
                lexical_weight: 1.0,
                depth: 200,
                abstain: false,
                page_context: 0.0,
                identifier_weight: 0.0,
                crowding_weight: 0.0,
            },
            filter: None,
        },
    )
}

fn ids(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.page_id.as_str()).collect()
}

/// A writable copy of the golden bundle (without a model).
fn golden_copy() -> tempfile::TempDir {
    copy_dir(&golden_dir())
}

fn shard_path(dir: &Path, kind: ShardKind) -> (String, PathBuf) {
    let m = BundleManifest::parse(&std::fs::read(dir.join(MANIFEST)).unwrap()).unwrap();
    let name = m.shard(kind).name.clone();
    let p = dir.join(&name);
    (name, p)
}

fn load_err(dir: &Path) -> crossfind::Error {
    match Bundle::read_dir(dir) {
        Ok(_) => panic!("a damaged bundle loaded"),
        Err(e) => e,
    }
}

/// Rewrites the manifest of the bundle in `dir` with `edit`.
fn edit_manifest<R>(dir: &Path, edit: impl FnOnce(&mut BundleManifest) -> R) -> R {
    let mpath = dir.join(MANIFEST);
    let mut m = BundleManifest::parse(&std::fs::read(&mpath).unwrap()).unwrap();
    let r = edit(&mut m);
    std::fs::write(&mpath, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    r
}

/// Points the manifest entry of `kind` at new bytes (a shard damaged by a
/// buggy writer rather than in transit: the checksum matches).
fn replace_shard(dir: &Path, kind: ShardKind, bytes: &[u8]) -> String {
    edit_manifest(dir, |m| {
        let s = m.shards.iter_mut().find(|s| s.kind == kind).unwrap();
        s.bytes = bytes.len() as u64;
        s.sha256 = sha256_hex(bytes);
        std::fs::write(dir.join(&s.name), bytes).unwrap();
        s.name.clone()
    })
}

#[test]
fn golden_bundle_names_the_default_model() {
    let b = golden();
    assert_eq!(
        b.manifest.model.pack_id,
        encoder().manifest().pack_id(),
        "models/e5-small is not the pack the golden bundle was built with; \
         a bundle's vectors only make sense with the model that made them"
    );
    assert_eq!(b.manifest.model.dim, encoder().dim());
    assert_eq!((b.manifest.pages, b.manifest.chunks), (4, 12));
    let langs: Vec<&str> = b.manifest.languages.keys().map(String::as_str).collect();
    assert_eq!(langs, ["en", "es", "ja"]);
}

#[test]
fn golden_bundle_answers_as_when_it_was_built() {
    let b = golden();
    // (query, reader language, mode, top page ids) recorded from the build
    // (query, reader language, mode, leading page ids) recorded at build
    // time; only orders with a clear score margin are pinned
    let cases: &[(&str, Option<&str>, Mode, &[&str])] = &[
        ("forgot my password", None, Mode::Hybrid, &["en-reset"]),
        (
            "forgot my password",
            Some("es"),
            Mode::Hybrid,
            &["es-reset"],
        ),
        ("forgot my password", None, Mode::Dense, &["en-reset"]),
        // which version of the unrelated reset article scores second moved
        // when the vectors became language-neutral: only the code's page is pinned
        ("E4011", None, Mode::Hybrid, &["en-api"]),
        ("E4011", None, Mode::Dense, &["en-api"]),
        (
            "返金",
            None,
            Mode::Hybrid,
            &["ja-refund", "es-reset", "en-api"],
        ),
        (
            "返金",
            None,
            Mode::Dense,
            &["ja-refund", "es-reset", "en-api"],
        ),
        ("返金", None, Mode::Lexical, &["ja-refund"]),
        ("contraseña", None, Mode::Lexical, &["es-reset"]),
        ("token revoked", None, Mode::Lexical, &["en-api"]),
    ];
    for &(text, lang, mode, want) in cases {
        let hits = ask(&b, text, lang, mode);
        let got = ids(&hits);
        assert!(
            got.len() >= want.len() && got[..want.len()] == *want,
            "{text:?} lang {lang:?} {mode:?}: got {got:?}, recorded {want:?}"
        );
    }
    let lexical_only = ask(&b, "contraseña", None, Mode::Lexical);
    assert_eq!(lexical_only.len(), 1);
    // the Spanish reader gets the Spanish version of the English match
    let hits = ask(&b, "forgot my password", Some("es"), Mode::Hybrid);
    assert_eq!(hits[0].matched_lang.as_deref(), Some("en"));
    assert_eq!(hits[0].also_in, ["en"]);
    assert_eq!(hits[0].url, "/es/reset-password.html");
    // the error code is matched by the lexical index and its section linked
    let hits = ask(&b, "E4011", None, Mode::Hybrid);
    assert!(hits[0].lexical.is_some());
    assert_eq!(hits[0].url, "/en/api-tokens.html#e4011");
    assert!(hits[0].snippet.as_deref().unwrap().contains("E4011"));
}

#[test]
fn page_context_scores_a_section_with_its_whole_page() {
    // With the page's share at 1, every result scores the cosine of the
    // query with its page's summed section vectors, rebuilt here from the
    // shard's raw int8 rows; at 0, the best section alone.
    let b = golden();
    let text = "how do I get my money back";
    let v = encoder()
        .embed_for_search(text, TextKind::Query)
        .unwrap()
        .vector;
    let run = |page_context: f32| {
        search(
            &b,
            &Query {
                text,
                vector: Some(&v),
                lang: None,
                k: 50,
                mode: Mode::Dense,
                fusion: Fusion {
                    page_context,
                    ..Fusion::default()
                },
                filter: None,
            },
        )
    };
    let dim = b.vectors.dim;
    let page_cosine = |page: usize| {
        let mut sum = vec![0f64; dim];
        for (i, c) in b.docs.chunks.iter().enumerate() {
            if c.page as usize == page {
                let row = &b.vectors.raw[i * (4 + dim)..(i + 1) * (4 + dim)];
                let scale = f32::from_le_bytes([row[0], row[1], row[2], row[3]]) as f64;
                for (s, &x) in sum.iter_mut().zip(&row[4..]) {
                    *s += scale * (x as i8) as f64;
                }
            }
        }
        let n = sum.iter().map(|x| x * x).sum::<f64>().sqrt();
        sum.iter().zip(&v).map(|(a, &b)| a * b as f64).sum::<f64>() / n
    };
    let whole = run(1.0);
    assert!(!whole.is_empty());
    for h in &whole {
        let p = b.docs.pages.iter().position(|p| p.id == h.page_id).unwrap();
        let want = page_cosine(p);
        assert!(
            (h.fused as f64 - want).abs() < 1e-4,
            "{}: scored {}, its page's cosine is {want}",
            h.page_id,
            h.fused
        );
    }
    let alone = run(0.0);
    for h in &alone {
        let best = (0..b.docs.chunks.len() as u32)
            .filter(|&c| b.docs.pages[b.docs.chunks[c as usize].page as usize].id == h.page_id)
            .map(|c| b.vectors.score(&v, c))
            .fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(h.fused, best, "{}", h.page_id);
    }
}

#[test]
fn golden_shards_re_encode_to_the_same_bytes() {
    // The reader and the writer agree on every byte of the format.
    let dir = golden_dir();
    let (_, p) = shard_path(&dir, ShardKind::Lexical);
    let bytes = std::fs::read(p).unwrap();
    let idx = LexicalIndex::from_bytes(&bytes).unwrap();
    assert_eq!(idx.doc_count(), 12);
    assert_eq!(idx.to_bytes(), bytes);

    let (_, p) = shard_path(&dir, ShardKind::Docs);
    let bytes = std::fs::read(p).unwrap();
    let docs: Docs = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(serde_json::to_vec(&docs).unwrap(), bytes);

    let b = golden();
    assert_eq!(b.vectors.rows, 12);
    assert_eq!(b.vectors.raw.len(), 12 * (4 + 384));
    for c in 0..12 {
        assert!(b.sentences(c).is_some_and(|s| !s.is_empty()), "chunk {c}");
    }
}

#[test]
fn flipped_byte_in_a_shard_fails_its_checksum() {
    let d = golden_copy();
    let (name, p) = shard_path(d.path(), ShardKind::Vectors);
    flip_byte(&p, |n| n / 2, 0x01);
    assert_error(&load_err(d.path()), "checksum_mismatch", &name);
}

#[test]
fn truncated_shard_is_named() {
    let d = golden_copy();
    let (name, p) = shard_path(d.path(), ShardKind::Lexical);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 7]).unwrap();
    let e = load_err(d.path());
    assert_eq!(e.code(), "corrupt_file");
    assert!(
        e.to_string().contains(&name) && e.to_string().contains("truncated"),
        "{e}"
    );
}

#[test]
fn manifest_of_another_version_is_refused() {
    let d = golden_copy();
    let p = d.path().join(MANIFEST);
    // the version after the newest this build reads
    let next = crossfind::bundle::BUNDLE_VERSION + 1;
    let text = std::fs::read_to_string(&p).unwrap().replacen(
        "\"version\": 1",
        &format!("\"version\": {next}"),
        1,
    );
    std::fs::write(&p, text).unwrap();
    let e = load_err(d.path());
    assert_eq!(e.code(), "version_mismatch");
    assert!(
        e.to_string().contains(MANIFEST) && e.to_string().contains(&format!("version {next}")),
        "{e}"
    );
}

#[test]
fn missing_shard_is_named() {
    let d = golden_copy();
    let m = BundleManifest::parse(&std::fs::read(d.path().join(MANIFEST)).unwrap()).unwrap();
    let frag = m.fragment_shards().next().unwrap().name.clone();
    std::fs::remove_file(d.path().join(&frag)).unwrap();
    assert_error(&load_err(d.path()), "missing_file", &frag);
}

#[test]
fn deleted_manifest_says_the_folder_is_not_a_bundle() {
    // It used to say "missing file `.../manifest.json`: it is listed in the
    // manifest", which is nonsense for the manifest itself.
    let d = golden_copy();
    std::fs::remove_file(d.path().join(MANIFEST)).unwrap();
    let e = load_err(d.path());
    assert_eq!(e.code(), "missing_file");
    let msg = e.to_string();
    assert!(
        msg.contains("is not a crossfind search bundle")
            && msg.contains("no manifest.json")
            && msg.contains(&d.path().display().to_string())
            && !msg.contains("listed in the manifest"),
        "{msg}"
    );
    let err = assert_fails(&search_cli(d.path(), &[], "reset password"));
    assert!(
        err.contains("is not a crossfind search bundle") && !err.contains("listed in the manifest"),
        "{err}"
    );
}

/// The golden manifest as JSON, for tests that plant names in it.
fn golden_manifest_json() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(golden_dir().join(MANIFEST)).unwrap()).unwrap()
}

/// Names no manifest may use (defined with the fuzz harness, whose
/// `manifest_names` seeds they are too).
pub use crate::fuzz_corpus::harness::HOSTILE_NAMES;

#[test]
fn manifest_names_that_leave_the_bundle_folder_are_refused() {
    let bundle_err = |m: &serde_json::Value| {
        BundleManifest::parse(&serde_json::to_vec(m).unwrap())
            .err()
            .unwrap_or_else(|| panic!("a manifest with hostile names parsed: {m}"))
    };
    for &name in HOSTILE_NAMES {
        let name = name.to_string();
        // a shard name
        let mut m = golden_manifest_json();
        m["shards"][3]["name"] = name.clone().into();
        let e = bundle_err(&m);
        assert_eq!(e.code(), "corrupt_file", "{name:?}: {e}");
        assert!(e.to_string().contains(MANIFEST), "{e}");
        // the model folder (a relative path: `/` inside is allowed, `..` is not)
        let mut m = golden_manifest_json();
        m["model"]["dir"] = name.clone().into();
        assert_eq!(bundle_err(&m).code(), "corrupt_file", "{name:?}");
    }
    for dir in ["model/../../x", "model/./x", "model//x", "model/", "/model"] {
        let mut m = golden_manifest_json();
        m["model"]["dir"] = dir.into();
        assert_eq!(bundle_err(&m).code(), "corrupt_file", "{dir:?}");
    }
    // what `crossfind index` writes still parses, and so does a nested folder
    let mut m = golden_manifest_json();
    m["model"]["dir"] = "packs/e5-small".into();
    BundleManifest::parse(&serde_json::to_vec(&m).unwrap()).expect("plain names parse");
    // a bundle written before the offline rows left the manifest still
    // loads: nothing reads them now, whatever they name
    let mut m = golden_manifest_json();
    m["model"]["offline_rows"] = serde_json::json!({
        "groups": ["ascii"],
        "ranges": [{"file": "../../etc/passwd", "start": 0, "end": 8, "sha256": "00"}],
    });
    BundleManifest::parse(&serde_json::to_vec(&m).unwrap()).expect("an older manifest parses");
}

#[test]
fn shard_with_a_valid_checksum_but_bad_content_is_named() {
    // Garbage in the lexical shard is reported under the shard's file name,
    // not the index's internal one.
    let d = golden_copy();
    let name = replace_shard(d.path(), ShardKind::Lexical, b"CFLX\x01\x05");
    assert_error(&load_err(d.path()), "corrupt_file", &name);

    let d = golden_copy();
    let name = replace_shard(d.path(), ShardKind::Docs, b"{\"pages\": [");
    assert_error(&load_err(d.path()), "corrupt_file", &name);
}

#[test]
fn lexical_index_for_more_chunks_than_the_bundle_is_refused() {
    // A lexical shard from another build of the site (more chunks) would make
    // search index past the chunk table; it must fail at load instead.
    let d = golden_copy();
    let mut lex = LexicalIndexBuilder::new();
    lex.add(0, "password");
    lex.add(40, "password reset");
    let name = replace_shard(d.path(), ShardKind::Lexical, &lex.finish().to_bytes());
    assert_error(&load_err(d.path()), "corrupt_file", &name);
}

#[test]
fn vectors_claiming_an_impossible_dimension_are_refused() {
    // A manifest and vectors shard agreeing on dim = usize::MAX - 3 made each
    // row 4 + dim = 0 bytes long (wrapping), and the dense scan panicked.
    let d = golden_copy();
    let dim = usize::MAX - 3;
    let header = format!(
        r#"{{"tensors":[{{"name":"vectors","dtype":"i8_row","rows":12,"cols":{dim},"offset":0}}]}}"#
    );
    let mut bytes = b"CFTN".to_vec();
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.resize(bytes.len().div_ceil(16) * 16, 0);
    let name = replace_shard(d.path(), ShardKind::Vectors, &bytes);
    edit_manifest(d.path(), |m| m.model.dim = dim);
    assert_error(&load_err(d.path()), "corrupt_file", &name);
}

#[test]
fn cli_search_on_a_damaged_bundle_names_the_file() {
    let d = golden_copy();
    let (name, p) = shard_path(d.path(), ShardKind::Docs);
    flip_byte(&p, |_| 10, 0x20);
    let err = assert_fails(&search_cli(d.path(), &[], "reset password"));
    assert!(
        err.contains(&name) && err.contains("checksum mismatch"),
        "{err}"
    );
}

/// Reads a bundle folder the way the browser does when its vectors shard is
/// damaged: every shard but the vectors, fragments included.
fn read_without_vectors(dir: &Path) -> crossfind::Result<Bundle> {
    let m = BundleManifest::parse(&std::fs::read(dir.join(MANIFEST)).unwrap()).unwrap();
    let vectors = m.shard(ShardKind::Vectors).name.clone();
    Bundle::from_files_without_vectors(
        m,
        |name| {
            assert_ne!(name, vectors, "the vectors shard was read");
            Ok(std::fs::read(dir.join(name)).ok())
        },
        true,
    )
}

#[test]
fn bundle_without_its_vectors_still_searches_by_keywords() {
    let full = golden();
    assert!(full.has_vectors());
    for damage in ["missing", "flipped"] {
        let d = golden_copy();
        let (_, p) = shard_path(d.path(), ShardKind::Vectors);
        if damage == "missing" {
            std::fs::remove_file(&p).unwrap();
        } else {
            flip_byte(&p, |n| n / 2, 0x01);
        }
        let b = read_without_vectors(d.path()).expect("loads without vectors");
        assert!(!b.has_vectors(), "{damage}");
        assert_eq!(b.vectors.rows, 0);
        for (text, lang) in [
            ("reset password", Some("en")),
            ("contraseña", Some("es")),
            ("E4011", None),
        ] {
            let lexical = ask(&full, text, lang, Mode::Lexical);
            assert!(!lexical.is_empty(), "{text}");
            // every mode answers lexically, with a query vector or without
            for mode in [Mode::Lexical, Mode::Hybrid, Mode::Dense] {
                let hits = ask(&b, text, lang, mode);
                assert_eq!(ids(&hits), ids(&lexical), "{damage} {text} {mode:?}");
                assert!(hits
                    .iter()
                    .all(|h| h.dense.is_none() && h.lexical.is_some()));
                assert!(hits.iter().all(|h| h.snippet.is_some()), "{text}");
            }
        }
    }
}

#[test]
fn bundle_without_vectors_still_needs_docs_and_lexical() {
    for kind in [ShardKind::Docs, ShardKind::Lexical] {
        let d = golden_copy();
        let (name, p) = shard_path(d.path(), kind);
        flip_byte(&p, |_| 0, 0x01);
        let e = match read_without_vectors(d.path()) {
            Ok(_) => panic!("a damaged {kind:?} shard loaded"),
            Err(e) => e,
        };
        assert_eq!(e.code(), "checksum_mismatch");
        assert!(e.to_string().contains(&name), "{e}");
    }
}
