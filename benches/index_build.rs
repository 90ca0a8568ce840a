//! Index build time, throughput and bundle size on the demo help center.
//!
//! ```text
//! cargo bench --bench index_build            # needs node and models/e5-small
//! ```
//!
//! Renders the demo site with `node examples/helpdesk/build.mjs` into a
//! temporary folder, then times the same steps as `crossfind index`: reading
//! the HTML into pages (`ingest::read_input`) and `build_bundle` (chunking,
//! embedding every chunk on all cores, writing the shards). Reports pages
//! and chunks per second and the bundle's bytes per page by shard kind (the
//! model pack, copied beside the shards, is counted apart). Writes
//! `bench-results/index.json` and prints a Markdown table.
//!
//! ```text
//! cargo bench --bench index_build -- --large 2000 1500
//! ```
//!
//! instead indexes a generated Markdown site of 2,000 pages of about 1,500
//! words each (six sections per page, paragraphs drawn from the demo's text
//! in its 12 languages, one language per page) and reports, beside the
//! times, the process's peak resident memory while reading and while
//! building (Linux `VmHWM`, reset between the steps), against the bytes of
//! text read: the check that indexing runs in bounded memory. Adds its run
//! to `bench-results/index-large.json` (one entry per site size).
//!
//! ```text
//! cargo bench --bench index_build -- --reindex
//! ```
//!
//! measures incremental indexing: a full build without the embedding cache,
//! a build that fills an empty cache, then 1% of the pages edited (a
//! sentence added to the first paragraph of every hundredth page) and
//! indexed again with the cache, against a full build of the edited site
//! without it. Checks that the two bundles are byte for byte the same and
//! counts the shards whose names changed. Writes `bench-results/reindex.json`
//! and prints a Markdown table.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

#[path = "common/mod.rs"]
mod common;
use common::cpu;

use crossfind::index::{build_bundle, BuildOptions, Progress};
use serde_json::json;

/// Resident memory now and at peak, in MiB, from /proc/self/status.
fn rss_mib() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Starts a new peak: `VmHWM` becomes the current RSS.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Paragraphs of the demo's Markdown sources, by language.
fn paragraphs(root: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let content = root.join("examples/helpdesk/content");
    for lang in std::fs::read_dir(&content).unwrap().flatten() {
        let l = lang.file_name().to_string_lossy().into_owned();
        for f in std::fs::read_dir(lang.path()).unwrap().flatten() {
            let text = std::fs::read_to_string(f.path()).unwrap();
            let body = text.splitn(3, "---").nth(2).unwrap_or("");
            for p in body.split("\n\n") {
                let p = p.trim();
                if p.len() > 80 && !p.starts_with('#') && !p.starts_with("```") {
                    out.entry(l.clone()).or_default().push(p.to_string());
                }
            }
        }
    }
    out
}

/// Words of a paragraph; CJK text counts two characters as a word.
fn words(p: &str) -> usize {
    let spaced = p.split_whitespace().count();
    let cjk = p
        .chars()
        .filter(|c| ('\u{3040}'..='\u{30ff}').contains(c) || ('\u{4e00}'..='\u{9fff}').contains(c))
        .count();
    spaced + cjk / 2
}

fn large(root: &Path, pages: usize, words_per_page: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    let out = tmp.path().join("bundle");
    let paras = paragraphs(root);
    let langs: Vec<&String> = paras.keys().collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as usize
    };
    let mut text_bytes = 0usize;
    for i in 0..pages {
        let lang = langs[i % langs.len()];
        let pool = &paras[lang];
        let dir = site.join(lang);
        std::fs::create_dir_all(&dir).unwrap();
        let mut md = format!("---\ntitle: Article {i}\nlang: {lang}\n---\n");
        let mut n = 0;
        let mut section = 0;
        while n < words_per_page {
            if n >= section * words_per_page / 6 {
                md.push_str(&format!("\n## Part {section} {{#part-{section}}}\n\n"));
                section += 1;
            }
            let p = &pool[next() % pool.len()];
            n += words(p);
            md.push_str(p);
            md.push_str("\n\n");
        }
        text_bytes += md.len();
        std::fs::write(dir.join(format!("article-{i:05}.md")), md).unwrap();
    }
    let model = root.join("models/e5-small");
    let enc = crossfind::Encoder::from_pack(
        crossfind::Pack::read_dir(&model).expect("models/e5-small: run scripts/setup.sh"),
    )
    .unwrap();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (rss_model, _) = rss_mib();
    reset_peak();
    let t0 = Instant::now();
    let mut corpus = crossfind::ingest::read_input(&site).unwrap();
    let read_s = t0.elapsed().as_secs_f64();
    let (rss_read, peak_read) = rss_mib();
    reset_peak();
    let t1 = Instant::now();
    let last = std::sync::Mutex::new(Instant::now());
    let report = build_bundle(
        &mut corpus,
        &enc,
        &model,
        &out,
        &BuildOptions::default(),
        &|p: Progress| {
            let mut l = last.lock().unwrap();
            if l.elapsed().as_secs() >= 30 {
                *l = Instant::now();
                let (rss, _) = rss_mib();
                eprintln!(
                    "  pages {}/{} chunks {}/{} rss {rss:.0} MiB",
                    p.pages_done, p.pages_total, p.embedded, p.chunks
                );
            }
        },
    )
    .unwrap();
    let build_s = t1.elapsed().as_secs_f64();
    let (_, peak_build) = rss_mib();
    let bundle_bytes: u64 = report
        .files
        .iter()
        .filter(|f| f.1 != "model")
        .map(|f| f.2)
        .sum();
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    let result = json!({
        "bench": "index_build_large",
        "input": format!("generated Markdown site: {pages} pages of ~{words_per_page} words, 6 sections each, 12 languages"),
        "model": "models/e5-small",
        "cpu": cpu(),
        "threads": threads,
        "pages": report.pages,
        "chunks": report.chunks,
        "text_mib": mib(text_bytes),
        "seconds": {"read": read_s, "embed": report.embed_seconds, "build_bundle": build_s},
        "chunks_per_second_embedding": report.chunks as f64 / report.embed_seconds,
        "rss_mib": {
            "after_model_load": rss_model,
            "after_read": rss_read,
            "peak_while_reading": peak_read,
            "peak_while_building": peak_build,
        },
        "bundle_bytes_without_model": bundle_bytes,
    });
    // one entry per site size, the latest run of each kept
    let path = root.join("bench-results/index-large.json");
    let mut runs: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("runs").and_then(|r| r.as_array()).cloned())
        .unwrap_or_default();
    runs.retain(|r| r["pages"] != result["pages"] || r["input"] != result["input"]);
    runs.push(result);
    runs.sort_by_key(|r| r["pages"].as_u64());
    let all = json!({"bench": "index_build_large", "runs": runs});
    std::fs::write(&path, serde_json::to_string_pretty(&all).unwrap() + "\n").unwrap();
    println!(
        "| pages | chunks | text | read | embed | RSS model | peak reading | RSS after read | peak building | bundle |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    println!(
        "| {} | {} | {:.1} MiB | {read_s:.1} s | {:.0} s ({:.1}/s) | {rss_model:.0} MiB | {peak_read:.0} MiB | {rss_read:.0} MiB | {peak_build:.0} MiB | {:.1} MiB |",
        report.pages,
        report.chunks,
        mib(text_bytes),
        report.embed_seconds,
        report.chunks as f64 / report.embed_seconds,
        mib(bundle_bytes as usize)
    );
    println!("\nwrote {}", path.display());
}

/// Every file under `dir` (relative path -> bytes).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Adds a sentence to the first paragraph of every hundredth page of
/// `site` (HTML pages, or Markdown files for the generated large site);
/// returns how many pages were edited.
fn edit_one_percent(site: &Path) -> usize {
    let mut pages: Vec<_> = files(site)
        .into_keys()
        .filter(|f| f.ends_with(".html") || f.ends_with(".md"))
        .filter(|f| f.contains('/') && !f.ends_with("index.html"))
        .collect();
    pages.sort();
    let mut edited = 0;
    for f in pages.iter().step_by(100) {
        let p = site.join(f);
        let text = std::fs::read_to_string(&p).unwrap();
        let sentence = " This page was updated: contact support if the problem persists.";
        let new = if f.ends_with(".html") {
            text.replacen("</p>", &format!("{sentence}</p>"), 1)
        } else {
            text.replacen("\n\n", &format!("{sentence}\n\n"), 2)
        };
        if new != text {
            std::fs::write(&p, new).unwrap();
            edited += 1;
        }
    }
    edited
}

/// `--reindex`: see the module's notes.
fn reindex(root: &Path, site: &Path, label: &str) {
    let model = root.join("models/e5-small");
    let enc = crossfind::Encoder::from_pack(
        crossfind::Pack::read_dir(&model).expect("models/e5-small: run scripts/setup.sh"),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let build = |out: &Path, cache: Option<&Path>| {
        let t = Instant::now();
        let mut corpus = crossfind::ingest::read_input(site).unwrap();
        let opts = BuildOptions {
            cache: cache.map(Path::to_path_buf),
            ..Default::default()
        };
        let r = build_bundle(&mut corpus, &enc, &model, out, &opts, &|_| {}).unwrap();
        (t.elapsed().as_secs_f64(), r)
    };
    let (full_s, _) = build(&tmp.path().join("full"), None);
    let out = tmp.path().join("bundle");
    let (fill_s, _) = build(&out, Some(&cache));
    let before = files(&out);
    let edited = edit_one_percent(site);
    let (re_s, re) = build(&out, Some(&cache));
    let (edited_full_s, _) = build(&tmp.path().join("edited-full"), None);
    let after = files(&out);
    let identical = after == files(&tmp.path().join("edited-full"));
    let shards = |m: &BTreeMap<String, Vec<u8>>| -> Vec<String> {
        m.keys()
            .filter(|k| !k.starts_with("model/") && *k != "manifest.json")
            .cloned()
            .collect()
    };
    let (old, new) = (shards(&before), shards(&after));
    let renamed = new.iter().filter(|n| !old.contains(n)).count();
    let fetched_bytes: usize = new
        .iter()
        .filter(|n| !old.contains(n))
        .map(|n| after[n].len())
        .sum();
    let bundle_bytes: usize = new.iter().map(|n| after[n].len()).sum();
    let cpu = cpu();
    let result = json!({
        "bench": "reindex",
        "site": label,
        "cpu": cpu,
        "pages": re.pages,
        "chunks": re.chunks,
        "pages_edited": edited,
        "seconds": {"full_no_cache": full_s, "full_filling_cache": fill_s, "reindex_with_cache": re_s, "edited_full_no_cache": edited_full_s},
        "reindex_share_of_full": re_s / edited_full_s,
        "chunks_embedded": re.chunks - re.reused_chunks,
        "chunks_reused": re.reused_chunks,
        "identical_to_full_build": identical,
        "shards": new.len(),
        "shards_renamed": renamed,
        "bytes_renamed": fetched_bytes,
        "bundle_bytes_without_model": bundle_bytes,
    });
    let dir = root.join("bench-results");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("reindex.json");
    std::fs::write(&path, serde_json::to_string_pretty(&result).unwrap() + "\n").unwrap();
    println!(
        "re-index after editing 1% of the pages: {label}, {} pages, {} chunks ({cpu})\n",
        re.pages, re.chunks
    );
    println!("| build | seconds |\n|---|---:|");
    println!("| full, no cache | {full_s:.2} |\n| full, filling an empty cache | {fill_s:.2} |");
    println!(
        "| {edited} pages edited, with the cache | {re_s:.2} ({:.1}% of a full build) |",
        100.0 * re_s / edited_full_s
    );
    println!("| the edited site, full, no cache | {edited_full_s:.2} |\n");
    println!(
        "{} chunks embedded, {} reused; bundle identical to the full build: {identical}; {renamed} of {} shards renamed ({} of {} bytes to fetch again)",
        re.chunks - re.reused_chunks, re.reused_chunks, new.len(), fetched_bytes, bundle_bytes
    );
    assert!(identical, "the re-indexed bundle differs from a full build");
    println!("\nwrote {}", path.display());
}

/// Renders the demo help center into `site`.
fn demo_site(root: &Path, site: &Path) {
    let st = Command::new("node")
        .arg(root.join("examples/helpdesk/build.mjs"))
        .arg("--out")
        .arg(site)
        .output()
        .expect("node runs (the demo site is rendered by examples/helpdesk/build.mjs)");
    assert!(
        st.status.success(),
        "build.mjs failed: {}",
        String::from_utf8_lossy(&st.stderr)
    );
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--reindex") {
        let tmp = tempfile::tempdir().unwrap();
        let site = tmp.path().join("site");
        demo_site(root, &site);
        reindex(root, &site, "demo help center (built HTML)");
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--large") {
        let num = |j: usize, d: usize| args.get(j).and_then(|v| v.parse().ok()).unwrap_or(d);
        large(root, num(i + 1, 2000), num(i + 2, 1500));
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    let out = tmp.path().join("bundle");
    demo_site(root, &site);

    let model = root.join("models/e5-small");
    let enc = crossfind::Encoder::from_pack(
        crossfind::Pack::read_dir(&model).expect("models/e5-small: run scripts/setup.sh"),
    )
    .unwrap();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    let t0 = Instant::now();
    let mut corpus = crossfind::ingest::read_input(&site).unwrap();
    let read_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let report = build_bundle(
        &mut corpus,
        &enc,
        &model,
        &out,
        &BuildOptions::default(),
        &|_| {},
    )
    .unwrap();
    let build_s = t1.elapsed().as_secs_f64();
    let total_s = t0.elapsed().as_secs_f64();

    let mut by_kind: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for (_, kind, bytes) in &report.files {
        let e = by_kind.entry(kind.clone()).or_default();
        e.0 += 1;
        e.1 += bytes;
    }
    let pages = report.pages as f64;
    let bundle_bytes: u64 = by_kind
        .iter()
        .filter(|(k, _)| k.as_str() != "model")
        .map(|(_, v)| v.1)
        .sum();

    let mut table = String::from("| step | seconds | rate |\n|---|---:|---:|\n");
    table.push_str(&format!(
        "| read + parse HTML | {read_s:.2} | {:.0} pages/s |\n",
        pages / read_s
    ));
    table.push_str(&format!(
        "| embed {} chunks ({threads} threads) | {:.2} | {:.1} chunks/s |\n",
        report.chunks,
        report.embed_seconds,
        report.chunks as f64 / report.embed_seconds
    ));
    table.push_str(&format!(
        "| build_bundle total | {build_s:.2} | {:.2} pages/s |\n",
        pages / build_s
    ));
    table.push_str(&format!("| index total | {total_s:.2} | |\n"));
    let mut sizes =
        String::from("| shard kind | files | bytes | bytes/page |\n|---|---:|---:|---:|\n");
    for (k, (n, b)) in &by_kind {
        sizes.push_str(&format!("| {k} | {n} | {b} | {:.0} |\n", *b as f64 / pages));
    }
    sizes.push_str(&format!(
        "| bundle without model | | {bundle_bytes} | {:.0} |\n",
        bundle_bytes as f64 / pages
    ));

    let cpu = cpu();
    let result = json!({
        "bench": "index_build",
        "input": "examples/helpdesk (built HTML site)",
        "model": "models/e5-small",
        "cpu": cpu,
        "threads": threads,
        "pages": report.pages,
        "chunks": report.chunks,
        "truncated_chunks": report.truncated_chunks,
        "warnings": corpus.warnings.len(),
        "languages": report.languages.len(),
        "seconds": {"read": read_s, "embed": report.embed_seconds, "build_bundle": build_s, "total": total_s},
        "pages_per_second": pages / total_s,
        "chunks_per_second_embedding": report.chunks as f64 / report.embed_seconds,
        "bytes": by_kind.iter().map(|(k, (n, b))| (k.clone(), json!({"files": n, "bytes": b}))).collect::<serde_json::Map<_, _>>(),
        "bundle_bytes_without_model": bundle_bytes,
        "bundle_bytes_per_page": bundle_bytes as f64 / pages,
        "bundle_bytes_per_chunk": bundle_bytes as f64 / report.chunks as f64,
    });
    let dir = root.join("bench-results");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("index.json");
    std::fs::write(&path, serde_json::to_string_pretty(&result).unwrap() + "\n").unwrap();
    println!(
        "index build: demo help center, {} pages, {} chunks, {} languages ({cpu})\n",
        report.pages,
        report.chunks,
        report.languages.len()
    );
    print!("{table}\n{sizes}");
    println!("\nwrote {}", path.display());
}
