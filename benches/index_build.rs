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

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crossfind::bundle::write::{build_bundle, BuildOptions};
use serde_json::json;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    let out = tmp.path().join("bundle");
    let st = Command::new("node")
        .arg(root.join("examples/helpdesk/build.mjs"))
        .arg("--out")
        .arg(&site)
        .output()
        .expect("node runs (the demo site is rendered by examples/helpdesk/build.mjs)");
    assert!(
        st.status.success(),
        "build.mjs failed: {}",
        String::from_utf8_lossy(&st.stderr)
    );

    let model = root.join("models/e5-small");
    let enc = crossfind::Encoder::from_pack(
        crossfind::Pack::read_dir(&model).expect("models/e5-small: run scripts/setup.sh"),
    )
    .unwrap();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    let t0 = Instant::now();
    let corpus = crossfind::ingest::read_input(&site).unwrap();
    let read_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let report = build_bundle(
        &corpus,
        &enc,
        &model,
        &out,
        &BuildOptions::default(),
        &|_, _| {},
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

    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
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
