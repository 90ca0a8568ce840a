//! Query latency of `search()` as a site grows: 1k, 10k and 100k chunks.
//!
//! ```text
//! cargo bench --bench search_scale                 # 1k, 10k, 100k
//! cargo bench --bench search_scale -- 1000 5000    # other sizes
//! ```
//!
//! Bundles are synthetic but shaped like real ones: 384-dimensional int8
//! vectors with a per-row scale (random; a dense scan costs the same whatever
//! the values), and chunk texts of 60–180 terms drawn per language from the
//! term frequencies of the demo help center (`examples/helpdesk/content`),
//! so posting lists have realistic lengths. Chunks come five to a page,
//! pages in translation groups of one to four languages, 24 pages to a
//! fragment shard. The queries are the 396 demo queries (text and reader
//! language) with a random unit query vector each.
//!
//! Measured: `search()` per query (k = 10, the reader's language set, default
//! fusion, snippets from loaded fragments) in dense, lexical and hybrid mode,
//! and its two signals alone (`Vectors::scores`, the int8 scan of every
//! chunk; `LexicalIndex::search` at the fusion depth): p50, p95 and mean
//! over every query after a warm-up; and once per size, the time to verify and decode the
//! bundle's shards (`Bundle::from_files`) and their bytes. With the default
//! model present, the query embedding latency is measured too, since a
//! hybrid or dense query pays it on top. Writes
//! `bench-results/search_scale.json` and prints a Markdown table.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;

#[path = "common/mod.rs"]
mod common;

use crossfind::bundle::write::{write_shards, Content};
use crossfind::bundle::{ChunkMeta, Docs, Fragments, ModelRef, PageMeta, ShardKind};
use crossfind::search::lexical::LexicalIndexBuilder;
use crossfind::search::text::terms;
use crossfind::search::{search, Bundle, Fusion, Mode, Query};
use serde_json::{json, Value};

const DIM: usize = 384;
const CHUNKS_PER_PAGE: usize = 5;
const PAGES_PER_FRAGMENT: usize = 24;
const K: usize = 10;

/// xorshift64*: fast, seedable, good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Terms of one language with cumulative frequencies, for sampling.
struct Vocab {
    terms: Vec<String>,
    cumulative: Vec<u64>,
}

impl Vocab {
    fn sample<'a>(&'a self, rng: &mut Rng) -> &'a str {
        let total = *self.cumulative.last().unwrap();
        let x = rng.next() % total;
        let i = self.cumulative.partition_point(|&c| c <= x);
        &self.terms[i]
    }
}

/// Per-language term distributions of the demo help center.
fn vocabularies(root: &Path) -> BTreeMap<String, Vocab> {
    let content = root.join("examples/helpdesk/content");
    let mut out = BTreeMap::new();
    let mut dirs: Vec<_> = std::fs::read_dir(&content)
        .unwrap_or_else(|e| panic!("{}: {e}", content.display()))
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let lang = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut counts: HashMap<String, u64> = HashMap::new();
        for f in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
            for t in terms(&text) {
                *counts.entry(t).or_default() += 1;
            }
        }
        let mut pairs: Vec<(String, u64)> = counts.into_iter().collect();
        pairs.sort();
        let mut acc = 0;
        let (terms, cumulative) = pairs
            .into_iter()
            .map(|(t, c)| {
                acc += c;
                (t, acc)
            })
            .unzip();
        out.insert(lang, Vocab { terms, cumulative });
    }
    out
}

/// Shard kind names and their bytes.
type ShardBytes = [(&'static str, u64); 4];

/// A synthetic bundle of `n` chunks, loaded from its shard bytes with
/// `Bundle::from_files`; also returns the load time (ms) and shard bytes.
fn synthetic_bundle(
    n: usize,
    vocab: &BTreeMap<String, Vocab>,
    rng: &mut Rng,
) -> (Bundle, f64, ShardBytes) {
    let langs: Vec<&String> = vocab.keys().collect();
    let pages = n.div_ceil(CHUNKS_PER_PAGE);
    let mut docs = Docs::default();
    let mut group = 0usize;
    let mut left_in_group = 0usize;
    let mut group_langs: Vec<&String> = Vec::new();
    for _ in 0..pages {
        if left_in_group == 0 {
            group += 1;
            left_in_group = 1 + rng.below(4);
            group_langs.clear();
            while group_langs.len() < left_in_group {
                let l = langs[rng.below(langs.len())];
                if !group_langs.contains(&l) {
                    group_langs.push(l);
                }
            }
        }
        left_in_group -= 1;
        let lang = group_langs[left_in_group].clone();
        docs.pages.push(PageMeta {
            id: format!("{lang}/article-{group}"),
            url: format!("/{lang}/article-{group}.html"),
            lang,
            title: format!("Article {group}"),
            group: format!("article-{group}"),
            filters: Default::default(),
            weight: None,
        });
    }
    let nfrag = pages.div_ceil(PAGES_PER_FRAGMENT);
    let mut frags: Vec<Fragments> = (0..nfrag).map(|_| Fragments::default()).collect();
    let mut lex = LexicalIndexBuilder::new();
    let mut raw = Vec::with_capacity(n * (4 + DIM));
    for c in 0..n {
        let page = c / CHUNKS_PER_PAGE;
        let lang = docs.pages[page].lang.clone();
        let v = &vocab[&lang];
        let len = 60 + rng.below(121);
        let words: Vec<&str> = (0..len).map(|_| v.sample(rng)).collect();
        let text = words.join(" ");
        lex.add(c as u32, &text);
        let frag = page / PAGES_PER_FRAGMENT;
        // two "sentences" per chunk, for snippets
        let mid = words.len() / 2;
        // a shard numbers its chunks from its first one
        let first = frag * PAGES_PER_FRAGMENT * CHUNKS_PER_PAGE;
        frags[frag].chunks.push((
            (c - first) as u32,
            vec![words[..mid].join(" "), words[mid..].join(" ")],
        ));
        docs.chunks.push(ChunkMeta {
            page: page as u32,
            anchor: (c % CHUNKS_PER_PAGE != 0).then(|| format!("s{}", c % CHUNKS_PER_PAGE)),
            heading: format!("Section {}", c % CHUNKS_PER_PAGE),
            frag: frag as u32,
            weight: None,
        });
        raw.extend_from_slice(&(1.0f32 / 127.0 / (DIM as f32).sqrt()).to_le_bytes());
        raw.extend((0..DIM).map(|_| (rng.below(255) as i32 - 127) as i8 as u8));
    }
    let lexical = lex.finish().to_bytes();
    let content = Content {
        docs: &docs,
        dim: DIM,
        vectors: &raw,
        lexical: &lexical,
        fragments: &frags,
    };
    let model = ModelRef {
        pack_id: "synthetic".into(),
        id: "synthetic".into(),
        dim: DIM,
        dir: "model".into(),
    };
    let (manifest, by_name) = write_shards(HashMap::new(), &content, model).unwrap();
    let bytes_of = |k: ShardKind| -> u64 {
        manifest
            .shards
            .iter()
            .filter(|s| s.kind == k)
            .map(|s| s.bytes)
            .sum()
    };
    let sizes = [
        ("docs", bytes_of(ShardKind::Docs)),
        ("vectors", bytes_of(ShardKind::Vectors)),
        ("lexical", bytes_of(ShardKind::Lexical)),
        ("fragments", bytes_of(ShardKind::Fragments)),
    ];
    let t = Instant::now();
    let b = Bundle::from_files(manifest, |name| Ok(by_name.get(name).cloned()), true).unwrap();
    (b, t.elapsed().as_secs_f64() * 1e3, sizes)
}

struct Stats {
    p50: f64,
    p95: f64,
    mean: f64,
}

fn stats(mut ms: Vec<f64>) -> Stats {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    Stats {
        p50: at(0.5),
        p95: at(0.95),
        mean: ms.iter().sum::<f64>() / ms.len() as f64,
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // `cargo bench` passes `--bench`; sizes are the numeric arguments
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![1_000, 10_000, 100_000];
    }
    let vocab = vocabularies(root);
    let queries: Vec<(String, String)> =
        std::fs::read_to_string(root.join("examples/helpdesk/queries.jsonl"))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (
                    v["text"].as_str().unwrap().to_string(),
                    v["lang"].as_str().unwrap_or("en").to_string(),
                )
            })
            .collect();
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let qvecs: Vec<Vec<f32>> = queries
        .iter()
        .map(|_| {
            let v: Vec<f32> = (0..DIM).map(|_| rng.unit() - 0.5).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / norm).collect()
        })
        .collect();

    let embed = embed_latency(root, &queries);
    let signs = sign_recall(root, &queries);
    let cpu = common::cpu();

    let mut results = Vec::new();
    let mut table = String::from(
        "| chunks | pages | mode | p50 ms | p95 ms | mean ms |\n|---:|---:|---|---:|---:|---:|\n",
    );
    let mut loads = String::from(
        "| chunks | load ms | vectors | lexical | docs | fragments | total bytes |\n|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for &n in &sizes {
        let t = Instant::now();
        let (b, load_ms, shard_bytes) = synthetic_bundle(n, &vocab, &mut rng);
        let build_s = t.elapsed().as_secs_f64();
        eprintln!(
            "{n} chunks: built in {build_s:.1}s, {} terms",
            b.lexical.term_count()
        );
        let total: u64 = shard_bytes.iter().map(|s| s.1).sum();
        let get = |k: &str| shard_bytes.iter().find(|s| s.0 == k).unwrap().1;
        loads.push_str(&format!(
            "| {n} | {load_ms:.1} | {} | {} | {} | {} | {total} |\n",
            get("vectors"),
            get("lexical"),
            get("docs"),
            get("fragments")
        ));
        let mut modes = serde_json::Map::new();
        // full `search()` per mode, then its two signals alone
        // and hybrid before any fragment shard is loaded (no snippets), as
        // the browser answers its first query
        let codes = SignCodes::new(
            b.vectors.dim,
            b.vectors
                .raw
                .chunks_exact(4 + b.vectors.dim)
                .map(|r| (f32::from_le_bytes([r[0], r[1], r[2], r[3]]), &r[4..])),
        );
        let cases: [(&str, Option<Mode>); 8] = [
            ("dense", Some(Mode::Dense)),
            ("lexical", Some(Mode::Lexical)),
            ("hybrid", Some(Mode::Hybrid)),
            ("hybrid, no snippets", Some(Mode::Hybrid)),
            ("dense scan only", None),
            ("dense top", None),
            ("sign pass + rescore", None),
            ("bm25 only", None),
        ];
        let mut b = b;
        let mut unloaded: Vec<Option<Fragments>> = vec![None; b.fragments.len()];
        for (name, mode) in cases {
            let swap = name.ends_with("no snippets");
            if swap {
                std::mem::swap(&mut b.fragments, &mut unloaded);
            }
            let bundle = &b;
            let run = |(text, lang): &(String, String), v: &Vec<f32>| {
                let t = Instant::now();
                match (mode, name) {
                    (Some(mode), _) => {
                        let q = Query {
                            text,
                            vector: Some(v),
                            lang: Some(lang),
                            k: K,
                            mode,
                            fusion: Fusion::default(),
                            filter: None,
                        };
                        std::hint::black_box(search(bundle, &q));
                    }
                    (None, "dense scan only") => {
                        std::hint::black_box(bundle.vectors.scores(v));
                    }
                    (None, "sign pass + rescore") => {
                        // the candidates a first pass would need: 10 per
                        // result kept for fusion, at least 2% of the chunks
                        let depth = Fusion::default().depth;
                        let want = (depth * 10).max(bundle.vectors.rows / 50);
                        let scored = codes
                            .candidates(v, want)
                            .into_iter()
                            .map(|i| (i, bundle.vectors.score(v, i)))
                            .collect();
                        std::hint::black_box(crossfind::search::best_n(scored, depth));
                    }
                    (None, "dense top") => {
                        std::hint::black_box(bundle.vectors.top(v, Fusion::default().depth));
                    }
                    (None, _) => {
                        let depth = Fusion::default().depth;
                        std::hint::black_box(bundle.lexical.search(text, depth));
                    }
                }
                t.elapsed().as_secs_f64() * 1e3
            };
            for (q, v) in queries.iter().zip(&qvecs).take(20) {
                run(q, v);
            }
            let ms: Vec<f64> = queries.iter().zip(&qvecs).map(|(q, v)| run(q, v)).collect();
            let s = stats(ms);
            table.push_str(&format!(
                "| {n} | {} | {name} | {:.3} | {:.3} | {:.3} |\n",
                bundle.docs.pages.len(),
                s.p50,
                s.p95,
                s.mean
            ));
            modes.insert(
                name.replace(", ", "_").replace(' ', "_"),
                json!({"p50_ms": s.p50, "p95_ms": s.p95, "mean_ms": s.mean}),
            );
            if swap {
                std::mem::swap(&mut b.fragments, &mut unloaded);
            }
        }
        results.push(json!({
            "chunks": n,
            "pages": b.docs.pages.len(),
            "terms": b.lexical.term_count(),
            "load_ms": load_ms,
            "shard_bytes": shard_bytes.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "search": modes,
        }));
    }

    let out = json!({
        "bench": "search_scale",
        "what": "search() latency per query, k=10, reader language set, default fusion; query embedding excluded (see query_embedding)",
        "queries": queries.len(),
        "dim": DIM,
        "cpu": cpu,
        "threads": 1,
        "query_embedding": embed,
        "sign_codes_on_demo": signs,
        "sizes": results,
    });
    let dir = root.join("bench-results");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("search_scale.json");
    std::fs::write(&path, serde_json::to_string_pretty(&out).unwrap() + "\n").unwrap();
    println!(
        "search latency, {} queries, k = {K}, one thread ({cpu})\n",
        queries.len()
    );
    print!("{table}");
    println!("\nbundle load (verify + decode every shard) and shard bytes\n");
    print!("{loads}");
    if let Value::Object(e) = &embed {
        println!(
            "\nquery embedding (default model, on top of dense/hybrid search): p50 {:.2} ms, p95 {:.2} ms",
            e["p50_ms"].as_f64().unwrap_or(0.0),
            e["p95_ms"].as_f64().unwrap_or(0.0)
        );
    }
    println!("\nwrote {}", path.display());
}

/// The experiment behind the decision not to ship a 1-bit sign code (see
/// docs/benchmarks.md): sign codes of the chunk vectors centred on their
/// mean (raw signs are useless: the mean vector of e5 embeddings has norm
/// 0.9, so most signs are shared), Hamming distance as a first pass.
/// Sign codes of the centred vectors, `words` u64s per chunk.
struct SignCodes {
    words: usize,
    mean: Vec<f32>,
    codes: Vec<u64>,
}

impl SignCodes {
    /// Codes of `rows` vectors given as `(scale, int8 values)`; `dim` values each.
    fn new<'a>(dim: usize, rows: impl Iterator<Item = (f32, &'a [u8])> + Clone) -> Self {
        let words = dim.div_ceil(64);
        let mut sum = vec![0f64; dim];
        let mut n = 0usize;
        for (scale, v) in rows.clone() {
            for (s, &x) in sum.iter_mut().zip(v) {
                *s += (x as i8) as f64 * scale as f64;
            }
            n += 1;
        }
        let mean: Vec<f32> = sum.iter().map(|s| (s / n.max(1) as f64) as f32).collect();
        let mut codes = Vec::with_capacity(n * words);
        for (scale, v) in rows {
            let start = codes.len();
            codes.resize(start + words, 0);
            for (i, (&x, m)) in v.iter().zip(&mean).enumerate() {
                if (x as i8) as f32 * scale > *m {
                    codes[start + i / 64] |= 1 << (i % 64);
                }
            }
        }
        SignCodes { words, mean, codes }
    }

    fn code(&self, q: &[f32]) -> Vec<u64> {
        let mut c = vec![0u64; self.words];
        for (i, (x, m)) in q.iter().zip(&self.mean).enumerate() {
            if x > m {
                c[i / 64] |= 1 << (i % 64);
            }
        }
        c
    }

    /// Ids of the `n` chunks whose codes are nearest to `q`'s (ties: lower id
    /// first), in id order.
    fn candidates(&self, q: &[f32], n: usize) -> Vec<u32> {
        let qc = self.code(q);
        let rows = self.codes.len() / self.words.max(1);
        if n >= rows {
            return (0..rows as u32).collect();
        }
        let dist: Vec<u16> = self
            .codes
            .chunks_exact(self.words)
            .map(|c| {
                c.iter()
                    .zip(&qc)
                    .map(|(a, b)| (a ^ b).count_ones())
                    .sum::<u32>() as u16
            })
            .collect();
        // counting select: the largest distance that still fits n chunks
        let mut hist = vec![0usize; self.words * 64 + 1];
        for &d in &dist {
            hist[d as usize] += 1;
        }
        let (mut cut, mut below) = (0usize, 0usize);
        while below + hist[cut] < n {
            below += hist[cut];
            cut += 1;
        }
        let mut at_cut = n - below;
        let mut out = Vec::with_capacity(n);
        for (i, &d) in dist.iter().enumerate() {
            let d = d as usize;
            if d < cut || (d == cut && at_cut > 0) {
                if d == cut {
                    at_cut -= 1;
                }
                out.push(i as u32);
            }
        }
        out
    }
}

/// How well the sign-code first pass keeps the exact top results, on the
/// demo bundle's real vectors and the demo queries embedded for real.
fn sign_recall(root: &Path, queries: &[(String, String)]) -> Value {
    let dir = root.join("target/demo-site/crossfind");
    let (Ok(pack), Ok(b)) = (
        crossfind::Pack::read_dir(&root.join("models/e5-small")),
        Bundle::read_dir(&dir),
    ) else {
        eprintln!(
            "no demo bundle or model (scripts/demo.sh --no-serve): skipping sign-code recall"
        );
        return Value::Null;
    };
    let enc = crossfind::Encoder::from_pack(pack).unwrap();
    let v = &b.vectors;
    let codes = SignCodes::new(
        v.dim,
        v.raw
            .chunks_exact(4 + v.dim)
            .map(|r| (f32::from_le_bytes([r[0], r[1], r[2], r[3]]), &r[4..])),
    );
    let qv: Vec<Vec<f32>> = queries
        .iter()
        .map(|(t, _)| enc.embed(t, crossfind::TextKind::Query).unwrap().vector)
        .collect();
    let mut rows = Vec::new();
    for cand in [25usize, 50, 100, 200, 400] {
        let mut rec = [0f64; 2];
        for q in &qv {
            let exact = v.top(q, 50);
            let cands = codes.candidates(q, cand);
            for (r, n) in rec.iter_mut().zip([10usize, 50]) {
                let kept = exact[..n.min(exact.len())]
                    .iter()
                    .filter(|(c, _)| cands.binary_search(c).is_ok())
                    .count();
                *r += kept as f64 / n.min(exact.len()) as f64;
            }
        }
        let n = qv.len() as f64;
        println!(
            "sign codes, demo bundle ({} chunks): {cand} candidates ({:.1}%) keep {:.3} of the exact top 10, {:.3} of the top 50",
            v.rows,
            100.0 * cand as f64 / v.rows as f64,
            rec[0] / n,
            rec[1] / n
        );
        rows.push(json!({"candidates": cand, "share": cand as f64 / v.rows as f64, "recall_at_10": rec[0] / n, "recall_at_50": rec[1] / n}));
    }
    json!({"chunks": v.rows, "queries": qv.len(), "results": rows})
}

/// Query embedding latency with the default model, when it is installed.
fn embed_latency(root: &Path, queries: &[(String, String)]) -> Value {
    let dir = root.join("models/e5-small");
    let Ok(pack) = crossfind::Pack::read_dir(&dir) else {
        eprintln!(
            "no model pack in {}: skipping query embedding",
            dir.display()
        );
        return Value::Null;
    };
    let enc = crossfind::Encoder::from_pack(pack).unwrap();
    let sample: Vec<&(String, String)> = queries.iter().step_by(4).collect();
    for (t, _) in sample.iter().take(5) {
        enc.embed(t, crossfind::TextKind::Query).unwrap();
    }
    let ms: Vec<f64> = sample
        .iter()
        .map(|(t, _)| {
            let t0 = Instant::now();
            enc.embed(t, crossfind::TextKind::Query).unwrap();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let n = ms.len();
    let s = stats(ms);
    json!({"model": "models/e5-small", "queries": n, "p50_ms": s.p50, "p95_ms": s.p95, "mean_ms": s.mean})
}
