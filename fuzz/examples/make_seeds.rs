//! Writes the seed corpora of the fuzz targets:
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example make_seeds [OUT_DIR]
//! ```
//!
//! `OUT_DIR` (default `fuzz/corpus`, committed) gets one folder per target.
//! Seeds come from:
//!
//! - `bundle`, `lexical`, `tensors`: the committed golden bundle
//!   (`tests/fixtures/golden/bundle-v1`, a real bundle made with the default
//!   model) and a synthetic bundle with 8-dimensional vectors, small enough
//!   for the fuzzer to mutate every byte, also written as a large site's
//!   bundle is (format 6);
//! - `html`, `markdown`, `jsonl`: the fixture sites in `tests/fixtures/sites/`
//!   (whole sites and single files) and a few made here for what they lack
//!   (UTF-16 and Windows-1252 files, front matter and JSONL edge cases);
//! - `vocab`: the first 50, 300 and 2,000 pieces of the default pack's
//!   `vocab.bin` (`models/e5-small`, or `CROSSFIND_MODEL`) with its real
//!   normaliser, 50 pieces without it, and four texts;
//! - `manifest_names`: the names crossfind writes, and the hostile names of
//!   `crossfind_fuzz::HOSTILE_NAMES`.
//!
//! Inputs a fuzzer found (`finding-*`) are committed beside these seeds
//! and left alone here.
//!
//! The output is deterministic: rerunning it on the same inputs rewrites the
//! same bytes. The site seeds are checked to read and the vocabularies to
//! build, so that the fuzzer starts past the first error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crossfind::bundle::write::{write_shards, Content, ShardWriter};
use crossfind::bundle::{
    BundleManifest, ChunkMeta, Docs, Fragments, ModelRef, PageMeta, ShardKind, BUNDLE_VERSION,
    MANIFEST,
};
use crossfind::format::tensors::{quantize_i8_rows, DType, TensorFileWriter};
use crossfind::model::tokenizer::TextTokenizer;
use crossfind::model::unigram::{PipelineConfig, VOCAB_MAGIC};
use crossfind::search::lexical::LexicalIndexBuilder;
use crossfind::search::write_vectors;
use crossfind_fuzz::{join, HOSTILE_NAMES};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
    println!("{:>7} bytes  {}", bytes.len(), dir.join(name).display());
}

/// The framed input of the `bundle` target for a manifest and its shards.
fn framed(manifest: &[u8], shards: &[Vec<u8>], query: Option<&str>) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = vec![manifest];
    parts.extend(shards.iter().map(Vec::as_slice));
    if let Some(q) = query {
        parts.push(q.as_bytes());
    }
    join(&parts)
}

/// A three-page, five-chunk bundle in three languages with 8-dim vectors
/// and two fragment shards; returns the manifest and the shard bytes.
/// `large`: written as a large site's bundle is (format 6): display fields
/// in the fragment shards, the docs shard in columns, the lexical index in
/// deflated pieces of a few terms; with `records` (format 7, or 8 whose
/// docs columns leave the page ids to the records), the snippet text in
/// records, one a page, instead of fragment shards. `codes`: the vectors
/// with the sign codes of a large site's dense first stage (format 5 on).
fn synthetic(
    large: bool,
    records: Option<u32>,
    codes: bool,
) -> (Vec<u8>, Vec<(ShardKind, Vec<u8>)>) {
    let page = |id: &str, lang: &str, title: &str, group: &str| PageMeta {
        id: id.into(),
        url: format!("/{id}.html"),
        lang: lang.into(),
        title: title.into(),
        group: group.into(),
        filters: Default::default(),
        weight: None,
    };
    let docs = Docs {
        pages: vec![
            page("en/reset", "en", "Reset password", "reset"),
            page("es/reset", "es", "Restablecer contraseña", "reset"),
            page("ja/refund", "ja", "返金", "refund"),
        ],
        chunks: vec![
            (0, None, "", 0),
            (0, Some("e4011"), "Error E4011", 0),
            (1, None, "", 0),
            (2, Some("request"), "申請", 1),
            (2, None, "対象外", 1),
        ]
        .into_iter()
        .map(|(page, anchor, heading, frag)| ChunkMeta {
            page,
            anchor: anchor.map(String::from),
            heading: heading.into(),
            frag,
            weight: None,
        })
        .collect(),
        records: Vec::new(),
        record_files: Vec::new(),
    };
    let texts = [
        "Reset your password with a link sent by email.",
        "Error E4011: the token was revoked. Create a new token.",
        "Restablece tu contraseña con un enlace. ¿Olvidaste la contraseña?",
        "返金を申請するには設定を開きます。",
        "月額プランは返金の対象外です。",
    ];
    let frags = [
        Fragments {
            page: "en/reset".into(),
            chunks: (0..3u32)
                .map(|i| (i, vec![texts[i as usize].to_string()]))
                .collect(),
            ..Default::default()
        },
        // numbered from its own first chunk (3)
        Fragments {
            page: "ja/refunds".into(),
            chunks: (3..5u32)
                .map(|i| (i - 3, vec![texts[i as usize].to_string(), "…".into()]))
                .collect(),
            ..Default::default()
        },
    ];
    let mut lex = LexicalIndexBuilder::new();
    for (i, t) in texts.iter().enumerate() {
        lex.add(i as u32, t);
    }
    let dim = 8;
    let values: Vec<f32> = (0..texts.len() * dim)
        .map(|i| ((i * 37 % 17) as f32 - 8.0) / 8.0)
        .collect();
    let index = lex.finish();
    let (vectors, lexical) = (quantize_i8_rows(&values, dim), index.to_bytes());
    let content = Content {
        docs: &docs,
        dim,
        vectors: &vectors,
        lexical: &lexical,
        fragments: &frags,
    };
    let model = ModelRef {
        pack_id: "0000000000000000".into(),
        id: "synthetic".into(),
        dim,
        dir: "model".into(),
    };
    // the rest of a large site's bundle: docs in columns, the vectors, the
    // lexical index in pieces, the manifest of `version`
    let large_bundle = |mut w: ShardWriter<HashMap<String, Vec<u8>>>, docs: &Docs, version: u32| {
        w.docs_columns(docs, version < 8).unwrap();
        write_vectors(&mut w, docs, dim, &vectors, &[], Some(codes)).unwrap();
        index.write_shards(&mut w, Some(40)).unwrap();
        let (shards, files) = w.finish();
        let mut m = BundleManifest::new(model.clone(), docs, shards);
        m.display_in_fragments = true;
        m.docs_columns = true;
        m.version = version;
        (m, files)
    };
    let (manifest, mut files) = if let Some(version) = records.filter(|_| large) {
        // a record a page, its chunks numbered from its first
        let mut docs = docs.clone();
        let mut w = ShardWriter::new(HashMap::<String, Vec<u8>>::new());
        for (p, pm) in docs.pages.iter().enumerate() {
            let ids: Vec<usize> = (0..docs.chunks.len())
                .filter(|&c| docs.chunks[c].page as usize == p)
                .collect();
            let base = ids[0];
            let len = w
                .snippet_record(
                    &Fragments {
                        page: pm.id.clone(),
                        chunks: ids
                            .iter()
                            .map(|&c| ((c - base) as u32, vec![texts[c].to_string()]))
                            .collect(),
                        pages: vec![(p as u32, pm.url.clone(), pm.title.clone())],
                        headings: ids
                            .iter()
                            .filter(|&&c| !docs.chunks[c].heading.is_empty())
                            .map(|&c| ((c - base) as u32, docs.chunks[c].heading.clone()))
                            .collect(),
                    },
                    p == 0,
                )
                .unwrap();
            docs.records.push(len);
        }
        for c in &mut docs.chunks {
            c.frag = c.page;
        }
        w.flush_snippets().unwrap();
        docs.record_files = w.record_files().to_vec();
        large_bundle(w, &docs, version)
    } else if large {
        let mut w = ShardWriter::new(HashMap::<String, Vec<u8>>::new());
        for (fi, f) in frags.iter().enumerate() {
            // the shard's chunk ids count from its first chunk
            let base = docs
                .chunks
                .iter()
                .position(|c| c.frag == fi as u32)
                .unwrap();
            let chunk = |c: u32| &docs.chunks[base + c as usize];
            let mut pages: Vec<u32> = f.chunks.iter().map(|(c, _)| chunk(*c).page).collect();
            pages.dedup();
            w.fragments(&Fragments {
                pages: pages
                    .iter()
                    .map(|&p| {
                        let pm = &docs.pages[p as usize];
                        (p, pm.url.clone(), pm.title.clone())
                    })
                    .collect(),
                headings: f
                    .chunks
                    .iter()
                    .map(|(c, _)| (*c, chunk(*c).heading.clone()))
                    .filter(|(_, h)| !h.is_empty())
                    .collect(),
                ..f.clone()
            })
            .unwrap();
        }
        large_bundle(w, &docs, 6)
    } else {
        write_shards(HashMap::new(), &content, model).unwrap()
    };
    let shards = manifest
        .shards
        .iter()
        .map(|s| (s.kind, files.remove(&s.name).unwrap()))
        .collect();
    // as `crossfind index` writes it
    (manifest.to_json(), shards)
}

/// Small tensor files of each dtype.
fn tensor_seed() -> Vec<u8> {
    let mut w = TensorFileWriter::default();
    w.push_f32("f", 2, 3, &[1.0, -2.0, 0.5, 0.0, 3.25, -1.0]);
    let vals: Vec<f32> = (0..8).map(|i| i as f32 - 4.0).collect();
    w.push_raw("i", DType::I8Row, 2, 4, &quantize_i8_rows(&vals, 4));
    let mut q4 = vec![0u8; 18];
    q4[..2].copy_from_slice(&0x3c00u16.to_le_bytes());
    for (j, b) in q4[2..].iter_mut().enumerate() {
        *b = (j as u8) | ((15 - j as u8) << 4);
    }
    w.push_raw("q", DType::Q4_0, 1, 32, &q4);
    w.finish()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("fuzz/corpus"));

    // the golden bundle, shards in manifest order
    let gdir = root.join("tests/fixtures/golden/bundle-v1");
    let mbytes = std::fs::read(gdir.join(MANIFEST)).expect("golden bundle manifest");
    let m = BundleManifest::parse(&mbytes).unwrap();
    let shards: Vec<Vec<u8>> = m
        .shards
        .iter()
        .map(|s| std::fs::read(gdir.join(&s.name)).unwrap())
        .collect();
    let (bdir, ldir, tdir) = (out.join("bundle"), out.join("lexical"), out.join("tensors"));
    write(&bdir, "golden", &framed(&mbytes, &shards, None));
    write(
        &bdir,
        "golden-query",
        &framed(&mbytes, &shards, Some("forgot password E4011 返金")),
    );
    for s in m.shards.iter().zip(&shards) {
        match s.0.kind {
            ShardKind::Lexical => write(&ldir, "golden", s.1),
            ShardKind::Vectors => write(&tdir, "golden-vectors", s.1),
            _ => {}
        }
    }

    for (name, large, records, codes) in [
        ("synthetic", false, None, false),
        ("synthetic-v6", true, None, false),
        ("synthetic-v7", true, Some(7), false),
        ("synthetic-v8", true, Some(BUNDLE_VERSION), false),
        ("synthetic-v8-codes", true, Some(BUNDLE_VERSION), true),
    ] {
        let (sm, ss) = synthetic(large, records, codes);
        let sbytes: Vec<Vec<u8>> = ss.iter().map(|(_, b)| b.clone()).collect();
        write(&bdir, name, &framed(&sm, &sbytes, None));
        write(
            &bdir,
            &format!("{name}-query"),
            &framed(&sm, &sbytes, Some("contraseña E4011")),
        );
        for (kind, bytes) in &ss {
            match kind {
                ShardKind::Lexical => write(&ldir, name, bytes),
                ShardKind::Vectors if !large => write(&tdir, "synthetic-vectors", bytes),
                _ => {}
            }
        }
    }
    write(&tdir, "dtypes", &tensor_seed());

    site_seeds(&root, &out);
    vocab_seeds(&root, &out.join("vocab"));
    manifest_name_seeds(&out.join("manifest_names"));
}

/// The names crossfind writes, in the target's six places (`model.dir`, the
/// offline rows' file, the four shard names), and the hostile names of
/// [`HOSTILE_NAMES`], six to a seed.
fn manifest_name_seeds(dir: &Path) {
    let ours: [&[u8]; 6] = [
        b"model",
        b"emb-000.bin",
        b"docs.0.json",
        b"vectors.0.bin",
        b"lexical.0.bin",
        b"frag-000.0.json",
    ];
    write(dir, "plain", &join(&ours));
    for (i, six) in HOSTILE_NAMES.chunks(6).enumerate() {
        let names: Vec<&[u8]> = six.iter().map(|n| n.as_bytes()).collect();
        write(dir, &format!("hostile-{i}"), &join(&names));
    }
}

/// One part of a site input: the file's path, a newline, its bytes.
fn site_file(rel: &str, bytes: &[u8]) -> Vec<u8> {
    let mut v = rel.as_bytes().to_vec();
    v.push(b'\n');
    v.extend_from_slice(bytes);
    v
}

/// A whole fixture folder as one framed input, files in path order
/// (only those with one of `exts`).
fn site_input(dir: &Path, exts: &[&str]) -> Vec<u8> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().unwrap().to_str().unwrap();
            let r = if rel.is_empty() {
                name.to_string()
            } else {
                format!("{rel}/{name}")
            };
            if p.is_dir() {
                walk(&p, &r, out);
            } else {
                out.push((r, p));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, "", &mut files);
    let parts: Vec<Vec<u8>> = files
        .iter()
        .filter(|(r, _)| exts.iter().any(|e| r.ends_with(e)))
        .map(|(r, p)| site_file(r, &std::fs::read(p).unwrap()))
        .collect();
    join(&parts.iter().map(Vec::as_slice).collect::<Vec<_>>())
}

/// Writes a framed site seed after checking that the reader reads it (as
/// the harness does: one file alone, more as a folder).
fn site_seed(dir: &Path, name: &str, input: &[u8]) {
    let tmp = std::env::temp_dir().join(format!("crossfind-seeds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let mut files = Vec::new();
    for part in crossfind_fuzz::split(input) {
        let nl = part.iter().position(|&b| b == b'\n').unwrap();
        let path = tmp.join(std::str::from_utf8(&part[..nl]).unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &part[nl + 1..]).unwrap();
        files.push(path);
    }
    let read = crossfind::ingest::read_input(if files.len() == 1 { &files[0] } else { &tmp });
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(read.is_ok(), "{name}: {:?}", read.err());
    write(dir, name, input);
}

fn site_seeds(root: &Path, out: &Path) {
    let sites = root.join("tests/fixtures/sites");

    // HTML: the tiny site whole (good pages, a 404, noindex, a link list,
    // a binary file, a duplicate id, malformed markup, hreflang links) and
    // each of its pages alone, plus encodings and markup it lacks.
    let hdir = out.join("html");
    site_seed(
        &hdir,
        "tiny-site",
        &site_input(&sites.join("tiny"), &[".html", ".htm"]),
    );
    let mut pages: Vec<PathBuf> = Vec::new();
    for sub in ["", "en", "es", "fr", "ja"] {
        for e in std::fs::read_dir(sites.join("tiny").join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "html" || x == "htm") {
                pages.push(p);
            }
        }
    }
    pages.sort();
    for p in &pages {
        let rel = p
            .strip_prefix(sites.join("tiny"))
            .unwrap()
            .to_str()
            .unwrap();
        let name = format!("tiny-{}", rel.replace('/', "-"));
        site_seed(&hdir, &name, &site_file(rel, &std::fs::read(p).unwrap()));
    }
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "<html lang=de><title>Konto</title><h2>Passwort ändern</h2><p>Öffne die Einstellungen.</p>"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    site_seed(&hdir, "utf16", &site_file("de/konto.html", &utf16));
    let mut latin1 = b"<html><head><meta charset=\"windows-1252\"><title>Caf".to_vec();
    latin1.extend_from_slice(b"\xe9 \x96 r\xe9sum\xe9</title></head><body><p>Fa\xe7ade, na\xefve \x80 5.</p></body></html>");
    site_seed(&hdir, "latin1", &site_file("fr/cafe.html", &latin1));
    let en = r##"<!doctype html><html lang="en"><head><title>Billing | Docs</title>
<base href="/docs/"><link rel="alternate" hreflang="es" href="es/billing">
<link rel="alternate" hreflang="fr" href="/docs/fr/billing.html"></head>
<body><header>Site</header><article data-crossfind-body><h1>Billing</h1>
<p>Invoices are sent monthly.<span class="sr-only">opens a new tab</span></p>
<h2 id="vat">VAT <a href="#vat">#</a></h2><table><tr><th>Country</th><td>Rate</td></tr><tr><td>DE</td><td>19%</td></tr></table>
<h3>Details</h3><pre>GET /v1/invoices
  ?limit=10</pre><details><summary>More</summary><ul><li>One</li><li>Two</li></ul></details>
<h2>VAT</h2><p>Again, with a generated anchor.</p><h4 id="x">Deep</h4><p>Text&nbsp;&amp;&#x200B;more.</p></article>
<footer>Footer</footer></body></html>"##;
    let es = r#"<html lang="es"><head><title>Facturación</title><link rel="alternate" hreflang="en" href="/docs/billing.html"></head>
<body><main><h1>Facturación</h1><p>Las facturas se envían cada mes.</p><h1>Otra</h1><p>Dos h1.</p></main></body></html>"#;
    let fr = r#"<html><head><meta http-equiv="refresh" content="0; url=/"></head><body><p>Redirection</p></body></html>"#;
    let pair = join(&[
        site_file("docs/billing.html", en.as_bytes()).as_slice(),
        site_file("docs/es/billing/index.html", es.as_bytes()).as_slice(),
        site_file("docs/fr/billing.html", fr.as_bytes()).as_slice(),
    ]);
    site_seed(&hdir, "hreflang-base-body", &pair);

    // Markdown: the tiny and helpdesk sites (front matter, translation_of,
    // group ids, several scripts), single files, and syntax they lack.
    let mdir = out.join("markdown");
    site_seed(
        &mdir,
        "tiny-md-site",
        &site_input(&sites.join("tiny-md"), &[".md"]),
    );
    let helpdesk: Vec<Vec<u8>> = [
        "en/reset-password.md",
        "de/reset-password.md",
        "ja/reset-password.md",
        "es/factura-electronica-cfdi.md",
    ]
    .iter()
    .map(|r| {
        site_file(
            r,
            &std::fs::read(sites.join("helpdesk-mini").join(r)).unwrap(),
        )
    })
    .collect();
    site_seed(
        &mdir,
        "helpdesk-site",
        &join(&helpdesk.iter().map(Vec::as_slice).collect::<Vec<_>>()),
    );
    for r in ["en/reset-password.md", "ja/reset-password.md"] {
        let bytes = std::fs::read(sites.join("tiny-md").join(r)).unwrap();
        site_seed(
            &mdir,
            &format!("tiny-md-{}", r.replace('/', "-")),
            &site_file(r, &bytes),
        );
    }
    let odd = "---\r\ntitle:  Setext and fences \r\nlang: pt_BR\r\npermalink: /x/\r\n---\r\n\
Intro with a [link](http://a.example \"t\") and ![img](i.png) &amp; &eacute; &#169;.\r\n\r\n\
# One {#one}\r\n## Two {#two .cls}\r\nText under two.\r\n\r\n\
```rust\r\nfn main() {}\r\n```\r\n~~~~\r\nunclosed fence\r\n\
#### Four\r\n* item *emph* __bold__ `code`\r\n1. first\r\n---\r\n> quote\r\n";
    let draft = "---\ndraft: true\ntitle: Draft\n---\nNot indexed.\n";
    let no_end = "---\ntitle: No end of front matter\nlang: xx-invalid\n## Heading\nText.\n";
    let suffixed = "---\ngroup: g1\ntranslation_of: ignored\n---\n## Título\nTexto en español para detectar.\n";
    let md = join(&[
        site_file("guide/odd.md", odd.as_bytes()).as_slice(),
        site_file("draft.md", draft.as_bytes()).as_slice(),
        site_file("no-end.markdown", no_end.as_bytes()).as_slice(),
        site_file("guide.es.md", suffixed.as_bytes()).as_slice(),
    ]);
    site_seed(&mdir, "syntax", &md);

    // JSONL: the tiny export (a cut line, translation_of, no lang, Arabic)
    // and records it lacks.
    let jdir = out.join("jsonl");
    write(
        &jdir,
        "tiny",
        &std::fs::read(sites.join("tiny.jsonl")).unwrap(),
    );
    let records = concat!(
        "\u{feff}{\"id\": 7, \"lang\": \"pt-BR\", \"title\": \"  Número  \", \"text\": \"# Título\\n\\nTexto.\\n\\n## A {#a}\\nUm.\\n\\n## A\\nDois.\"}\r\n",
        "{\"id\": \"7\", \"text\": \"duplicate id\"}\r\n",
        "[1, 2]\r\n",
        "{\"id\": \"\", \"text\": \"empty id\"}\n",
        "{\"id\": \"no-text\", \"text\": 5}\n",
        "{\"id\": \"blank\", \"text\": \"  \\n  \"}\n",
        "{\"id\": \"ko\", \"lang\": \"und\", \"url\": \"/ko\", \"translation_of\": \"7\", \"text\": \"비밀번호를 재설정하려면 설정을 여세요.\"}\n",
        "\n",
        "{\"id\": \"g\", \"group\": \"grp\", \"translation_of\": \"ko\", \"lang\": \"iw\", \"text\": \"```\\ncode only\\n```\"}\n",
    );
    write(&jdir, "records", records.as_bytes());
    let utf16: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain(
            "{\"id\": \"u\", \"lang\": \"ja\", \"text\": \"返金について\"}\n"
                .encode_utf16()
                .flat_map(u16::to_be_bytes),
        )
        .collect();
    write(&jdir, "utf16", &utf16);
}

/// `vocab.bin` with the first `n` pieces of `full`, optionally without its
/// normaliser; added tokens whose id falls outside are dropped.
fn cut_vocab(full: &[u8], n: usize, normaliser: bool) -> Vec<u8> {
    assert_eq!(&full[..8], VOCAB_MAGIC);
    let hlen = u32::from_le_bytes(full[8..12].try_into().unwrap()) as usize;
    let mut config: PipelineConfig = serde_json::from_slice(&full[12..12 + hlen]).unwrap();
    let total = config.pieces;
    assert!(n <= total && config.unk_id < n);
    let lens_at = 12 + hlen;
    let lens = &full[lens_at..lens_at + 2 * total];
    let scores = &full[lens_at + 2 * total..lens_at + 10 * total];
    let blob_at = lens_at + 10 * total;
    let blob_len: usize = lens[..2 * n]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]) as usize)
        .sum();
    config.pieces = n;
    if !normaliser {
        config.normalizer = serde_json::Value::Null;
    }
    config
        .added_tokens
        .retain(|t| t["id"].as_u64().is_some_and(|id| (id as usize) < n));
    let header = serde_json::to_vec(&config).unwrap();
    let mut out = VOCAB_MAGIC.to_vec();
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&lens[..2 * n]);
    out.extend_from_slice(&scores[..8 * n]);
    out.extend_from_slice(&full[blob_at..blob_at + blob_len]);
    out
}

fn vocab_seeds(root: &Path, dir: &Path) {
    let model = std::env::var_os("CROSSFIND_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("models/e5-small"));
    let full = std::fs::read(model.join("vocab.bin"))
        .unwrap_or_else(|e| panic!("{}/vocab.bin: {e} (run scripts/setup.sh)", model.display()));
    let texts = [
        ("mixed", "Reset パスワード and 重置密码, Привет ¿qué? 12.5%"),
        ("added", "<s> query: <mask> hello</s><pad><unk>"),
        (
            "marks",
            "e\u{301}\u{301} a\u{200b}b\u{200d}c \u{fe0f}\u{1f469}\u{200d}\u{1f467}",
        ),
        ("empty", ""),
    ];
    // the real normaliser (its charsmap is ~340 kB) on three sizes, one text each
    for ((n, text), name) in [(50, texts[0]), (300, texts[1]), (2000, texts[2])]
        .into_iter()
        .zip(["50", "300", "2000"])
    {
        let v = cut_vocab(&full, n, true);
        TextTokenizer::from_vocab(&v, "vocab.bin").expect("the seed vocabulary builds");
        let input = join(&[v.as_slice(), text.1.as_bytes()]);
        write(dir, &format!("vocab{name}-{}", text.0), &input);
    }
    // and without a normaliser, small, with every text
    let v = cut_vocab(&full, 50, false);
    TextTokenizer::from_vocab(&v, "vocab.bin").expect("the seed vocabulary builds");
    for (name, text) in texts {
        write(
            dir,
            &format!("plain50-{name}"),
            &join(&[v.as_slice(), text.as_bytes()]),
        );
    }
}
