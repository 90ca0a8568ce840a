//! `crossfind index` and `crossfind search` with a user's files around them:
//! nothing of theirs is deleted or overwritten, nothing is dropped silently,
//! a damaged model copy is repaired, and what is printed is safe for a
//! terminal and a pipe.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crossfind::search::Bundle;

use crate::{
    assert_ok, copy_dir, crossfind, flip_byte, golden_dir, index_with, model_dir, root, search_cli,
    stderr,
};

fn corpus() -> PathBuf {
    root().join("tests/fixtures/golden/corpus.jsonl")
}

/// Every file under `dir` with its bytes, sorted by path.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// A Markdown site of one English page in `dir/site`.
fn one_page_site(dir: &Path) -> PathBuf {
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("en")).unwrap();
    std::fs::write(
        site.join("en/reset.md"),
        "---\nlang: en\n---\n# Reset your password\n\nAsk for a reset link by email.\n",
    )
    .unwrap();
    site
}

/// A folder of the user's whose file names look like a bundle's.
fn users_folder(dir: &Path) {
    std::fs::create_dir_all(dir.join("model")).unwrap();
    for (name, text) in [
        ("docs.notes.txt", "my notes"),
        ("vectors.csv", "1,2,3"),
        ("lexical.md", "# glossary"),
        ("frag-ideas.txt", "ideas"),
        ("report.pdf", "%PDF"),
        ("model/notes.txt", "my model notes"),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

#[test]
fn index_refuses_a_folder_of_the_users_and_deletes_nothing() {
    // It used to delete docs.*, vectors.*, lexical.* and frag-* there,
    // overwrite model/ and exit 0.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("mine");
    users_folder(&out);
    let before = snapshot(&out);
    let report = tmp.path().join("report.txt");
    let o = index_with(&corpus(), &out, &report, &[]);
    assert!(!o.status.success(), "indexed into a folder of the user's");
    let err = stderr(&o);
    assert!(
        err.contains("is not empty and is not a crossfind bundle") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(snapshot(&out), before, "files changed in a refused folder");

    // forced: the bundle is added, nothing of the user's is touched
    let o = index_with(&corpus(), &out, &report, &["--force"]);
    assert_ok(&o);
    let after = snapshot(&out);
    for f in &before {
        assert!(
            after.contains(f),
            "{} was changed or deleted",
            f.0.display()
        );
    }
    Bundle::read_dir(&out).expect("the forced bundle loads");
}

#[test]
fn index_refuses_an_output_that_is_or_contains_its_input() {
    let tmp = tempfile::tempdir().unwrap();
    let site = one_page_site(tmp.path());
    std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
    let before = snapshot(tmp.path());
    let report = std::env::temp_dir().join(format!("cf-report-{}.txt", std::process::id()));
    for out in [site.clone(), tmp.path().to_path_buf(), site.join("en/..")] {
        let o = index_with(&site, &out, &report, &["--force"]);
        assert!(!o.status.success(), "--out {} was accepted", out.display());
        assert!(
            stderr(&o).contains("is the input or a folder that contains it"),
            "{}",
            stderr(&o)
        );
    }
    // a JSONL file's folder contains it too
    let jsonl = tmp.path().join("site.jsonl");
    std::fs::copy(corpus(), &jsonl).unwrap();
    let o = index_with(&jsonl, tmp.path(), &report, &["--force"]);
    assert!(!o.status.success());
    std::fs::remove_file(&jsonl).unwrap();
    let _ = std::fs::remove_file(&report);
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn bundle_inside_its_site_is_not_read_and_reindexing_removes_only_its_own_files() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("public");
    std::fs::create_dir_all(site.join("en")).unwrap();
    let page = |text: &str| format!("---\nlang: en\n---\n# Reset your password\n\n{text}\n");
    std::fs::write(
        site.join("en/reset.md"),
        page("Ask for a reset link by email."),
    )
    .unwrap();
    std::fs::write(
        site.join("en/refund.md"),
        "---\nlang: en\n---\n# Refunds\n\nRefunds reach your card in ten days.\n",
    )
    .unwrap();
    let out = site.join("crossfind");
    let report = tmp.path().join("report.txt");
    let o = index_with(&site, &out, &report, &[]);
    assert_ok(&o);
    let first = Bundle::read_dir(&out).unwrap().manifest;

    // files that are not the bundle's, in the bundle folder: a stray page
    // (never read as part of the site) and a file named like a shard
    std::fs::write(
        out.join("stray.md"),
        "# Stray\n\nThis page is not part of the site.\n",
    )
    .unwrap();
    std::fs::write(out.join("frag-keep.txt"), "mine").unwrap();
    std::fs::write(out.join("docs.backup.json"), "{}").unwrap();
    std::fs::write(
        site.join("en/reset.md"),
        page("Ask for a reset link by text message."),
    )
    .unwrap();
    let o = index_with(&site, &out, &report, &[]);
    assert_ok(&o);
    let b = Bundle::read_dir(&out).unwrap();
    let ids: Vec<&str> = b.docs.pages.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        ["en/refund", "en/reset"],
        "the bundle folder was read as input"
    );
    assert!(out.join("frag-keep.txt").exists() && out.join("docs.backup.json").exists());
    assert!(out.join("stray.md").exists());
    // the old lexical shard is listed by the old manifest only: it goes
    let old_lexical = &first.shard(crossfind::bundle::ShardKind::Lexical).name;
    assert_ne!(
        old_lexical,
        &b.manifest.shard(crossfind::bundle::ShardKind::Lexical).name
    );
    assert!(
        !out.join(old_lexical).exists(),
        "a shard of the old bundle was left"
    );
}

/// Every file and link directly in `dir`, with whether it is a link.
#[cfg(unix)]
fn entries(dir: &Path) -> Vec<(String, bool)> {
    let mut v: Vec<(String, bool)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let link = e.file_type().unwrap().is_symlink();
            (e.file_name().to_string_lossy().into_owned(), link)
        })
        .collect();
    v.sort();
    v
}

#[cfg(unix)]
#[test]
fn reindexing_replaces_links_in_the_bundle_and_never_writes_through_them() {
    // It wrote each shard, the manifest and the model copy with a plain
    // write: a link named like one of them (left by a deploy tool, a cache
    // restore or anyone with access to the folder) had the file it points
    // to, outside the bundle, overwritten with the bundle's bytes.
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    let report = tmp.path().join("report.txt");
    assert_ok(&index_with(&corpus(), &out, &report, &[]));
    let mine = tmp.path().join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    let manifest = Bundle::read_dir(&out).unwrap().manifest;
    let docs = manifest
        .shard(crossfind::bundle::ShardKind::Docs)
        .name
        .clone();
    let mut linked = vec![
        docs.clone(),
        "manifest.json".to_string(),
        "offline.json".to_string(),
        "model/pack.json".to_string(),
        "model/vocab.bin".to_string(),
    ];
    linked.retain(|n| out.join(n).exists());
    assert!(
        linked.len() == 5,
        "the bundle lacks a file this test links: {linked:?}"
    );
    for (i, name) in linked.iter().enumerate() {
        let victim = mine.join(format!("file{i}.txt"));
        if name == "manifest.json" {
            // a copy of the bundle's own manifest, so the folder still
            // reads as the bundle it replaces
            std::fs::copy(out.join(name), &victim).unwrap();
        } else {
            std::fs::write(&victim, format!("the user's file {i}")).unwrap();
        }
        std::fs::remove_file(out.join(name)).unwrap();
        symlink(&victim, out.join(name)).unwrap();
    }
    let before = snapshot(&mine);
    // the same site again: every linked name is one the build writes
    assert_ok(&index_with(&corpus(), &out, &report, &[]));
    assert_eq!(
        snapshot(&mine),
        before,
        "a file outside the bundle was written"
    );
    for name in &linked {
        let m = std::fs::symlink_metadata(out.join(name)).unwrap();
        assert!(m.is_file(), "{name} is still a link");
    }
    Bundle::read_dir(&out).expect("the bundle loads");
    crossfind::Pack::read_dir(&out.join("model")).expect("the model copy loads");
    assert!(
        !entries(&out)
            .iter()
            .chain(&entries(&out.join("model")))
            .any(|(n, _)| n.ends_with(".tmp")),
        "temporary files were left"
    );
    let s = search_cli(&out, &[], "forgot my password");
    assert_ok(&s);
}

#[cfg(unix)]
#[test]
fn index_refuses_a_bundle_whose_model_folder_is_a_link() {
    // The model copy is written into model/ and the old pack's files are
    // deleted from it: through a link, that is someone else's folder (a
    // user who linked their pack to save space would lose its files).
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    let report = tmp.path().join("report.txt");
    assert_ok(&index_with(&corpus(), &out, &report, &[]));
    let theirs = tmp.path().join("their-pack");
    std::fs::rename(out.join("model"), &theirs).unwrap();
    std::fs::write(theirs.join("notes.txt"), "mine").unwrap();
    symlink(&theirs, out.join("model")).unwrap();
    let before = snapshot(&theirs);
    let before_out = entries(&out);
    for extra in [&[][..], &["--force"][..]] {
        let o = index_with(&corpus(), &out, &report, extra);
        assert!(!o.status.success(), "indexed through a linked model folder");
        assert!(stderr(&o).contains("is a link"), "{}", stderr(&o));
        assert_eq!(snapshot(&theirs), before, "the linked folder changed");
        assert_eq!(entries(&out), before_out, "the bundle folder changed");
    }
}

#[test]
fn reindexing_repairs_damaged_model_files_of_the_same_size() {
    // Model files were compared by size: a damaged vocab.bin (or another
    // pack's encoder.bin of the same size) stayed, and search failed later.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    let report = tmp.path().join("report.txt");
    let o = index_with(&corpus(), &out, &report, &[]);
    assert_ok(&o);
    // the plain files (what a host that compresses sends) and their gzip
    // forms (what the others send, and what the native reader reads)
    for name in ["vocab.bin", "encoder.bin", "vocab.bin.gz", "encoder.bin.gz"] {
        flip_byte(&out.join("model").join(name), |n| n / 2, 0x01);
    }
    assert!(crossfind::Pack::read_dir(&out.join("model")).is_err());
    let o = index_with(&corpus(), &out, &report, &[]);
    assert_ok(&o);
    crossfind::Pack::read_dir(&out.join("model")).expect("re-indexing repaired the model copy");
    for name in ["vocab.bin", "encoder.bin"] {
        assert!(
            std::fs::read(out.join("model").join(name)).unwrap()
                == std::fs::read(model_dir().join(name)).unwrap(),
            "{name} was not repaired"
        );
    }
    let s = search_cli(&out, &[], "forgot my password");
    assert_ok(&s);
    // no temporary copies are left behind
    assert!(!std::fs::read_dir(out.join("model")).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".tmp")));
}

#[test]
fn reindexing_after_the_model_pack_changed_moves_the_bundle_to_the_new_pack() {
    // Pack B: the default pack without its language basis, as `model import
    // --language-basis-rank 0` makes it: another pack id, other vectors, one
    // model file fewer. Its files are links to the default pack's.
    let tmp = tempfile::tempdir().unwrap();
    let pack_b = tmp.path().join("pack-b");
    std::fs::create_dir(&pack_b).unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model_dir().join("pack.json")).unwrap()).unwrap();
    let files = manifest["files"].as_array_mut().unwrap();
    let n = files.len();
    files.retain(|f| f["role"] != "language_basis");
    assert_eq!(files.len(), n - 1, "the default pack has a language basis");
    for f in files.iter() {
        let name = f["name"].as_str().unwrap();
        std::os::unix::fs::symlink(model_dir().join(name), pack_b.join(name)).unwrap();
    }
    std::fs::write(
        pack_b.join("pack.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let id_a = crossfind::Pack::read_dir(&model_dir())
        .unwrap()
        .manifest
        .pack_id();
    let id_b = crossfind::Pack::read_dir(&pack_b)
        .unwrap()
        .manifest
        .pack_id();
    assert_ne!(id_a, id_b);

    let out = tmp.path().join("b");
    let report = tmp.path().join("report.txt");
    let index = |model: &Path| {
        let o = crossfind()
            .arg("index")
            .arg("--input")
            .arg(corpus())
            .arg("--out")
            .arg(&out)
            .arg("--model")
            .arg(model)
            .arg("--report")
            .arg(&report)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    };
    let search = || {
        let o = crossfind()
            .args(["search", "--bundle"])
            .arg(&out)
            .arg("forgot my password")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    index(&model_dir());
    let first = snapshot(&out);
    let results_a = search();
    std::fs::write(out.join("model/notes.txt"), "my notes").unwrap();

    // re-indexed with pack B into the same folder: the bundle and its model
    // copy are B's, the file only A listed is gone, the user's file stays
    index(&pack_b);
    let b = Bundle::read_dir(&out).unwrap();
    assert_eq!(b.manifest.model.pack_id, id_b);
    let copy = crossfind::Pack::read_dir(&out.join("model")).expect("the model copy loads");
    assert_eq!(copy.manifest.pack_id(), id_b);
    assert!(!out.join("model/lang-basis.bin").exists());
    assert_eq!(
        std::fs::read_to_string(out.join("model/notes.txt")).unwrap(),
        "my notes"
    );
    let vectors = |m: &crossfind::bundle::BundleManifest| {
        m.shard(crossfind::bundle::ShardKind::Vectors).name.clone()
    };
    let first_manifest: crossfind::bundle::BundleManifest = serde_json::from_slice(
        &first
            .iter()
            .find(|(p, _)| p == Path::new("manifest.json"))
            .unwrap()
            .1,
    )
    .unwrap();
    assert_ne!(
        vectors(&b.manifest),
        vectors(&first_manifest),
        "the passages were embedded again with the new pack"
    );
    // search loads the bundle with its own model copy: no pack mismatch
    search();

    // and back to pack A: the same files, byte for byte, as the first
    // build (plus the user's), and the same results
    index(&model_dir());
    std::fs::remove_file(out.join("model/notes.txt")).unwrap();
    assert!(
        snapshot(&out) == first,
        "re-indexing with pack A again left another bundle"
    );
    assert_eq!(search(), results_a);
}

/// A JSONL site of `good` pages and `bad` lines that are not JSON.
fn site_with_bad_lines(path: &Path, good: usize, bad: usize) {
    let mut s = String::new();
    for i in 0..good {
        s.push_str(&format!(
            "{{\"id\": \"p{i}\", \"lang\": \"en\", \"title\": \"Page {i}\", \"url\": \"/p{i}.html\", \"text\": \"Short page number {i} about invoices.\"}}\n"
        ));
    }
    for i in 0..bad {
        s.push_str(&format!("{{broken line {i}\n"));
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn every_skipped_input_is_in_the_report_and_too_many_stop_the_build() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("site.jsonl");
    let out = tmp.path().join("b");
    let report = tmp.path().join("report.txt");
    // 30 of 70 lines broken (43 %): under the default limit of a half
    site_with_bad_lines(&input, 40, 30);
    let o = index_with(&input, &out, &report, &[]);
    assert_ok(&o);
    let text = std::fs::read_to_string(&report).unwrap();
    for i in 41..=70 {
        assert!(
            text.contains(&format!("site.jsonl:{i}: skipped line {i}")),
            "line {i}:\n{text}"
        );
    }
    assert!(
        text.contains("skipped (problems)  30 of 70 (42.9%)"),
        "{text}"
    );
    // the terminal shows 25 and says where the rest are
    let err = stderr(&o);
    assert!(err.contains("… and 5 more; every warning is in"), "{err}");
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(
        summary.contains("skipped 30 of 70 pages because of problems"),
        "{summary}"
    );

    // over a stricter limit, or --strict: an error, and the bundle already
    // there is left as it was
    let before = snapshot(&out);
    std::fs::write(&report, "").unwrap();
    let o = index_with(&input, &out, &report, &["--max-skipped", "0.2"]);
    assert_eq!(o.status.code(), Some(2), "bad input: {}", stderr(&o));
    assert!(
        stderr(&o).contains("more than --max-skipped 0.2 allows"),
        "{}",
        stderr(&o)
    );
    assert!(std::fs::read_to_string(&report)
        .unwrap()
        .contains("site.jsonl:70"));
    let o = index_with(&input, &out, &report, &["--strict"]);
    assert_eq!(o.status.code(), Some(2), "bad input: {}", stderr(&o));
    assert!(stderr(&o).contains("--strict"), "{}", stderr(&o));
    assert_eq!(snapshot(&out), before);

    // most of the site lost: stopped with the default limit too
    site_with_bad_lines(&input, 2, 8);
    let o = index_with(&input, &tmp.path().join("new"), &report, &[]);
    assert!(!o.status.success());
    assert!(!tmp.path().join("new/manifest.json").exists());
}

/// The golden bundle with the default pack beside it, in a temp folder.
fn golden_with_model() -> tempfile::TempDir {
    let d = copy_dir(&golden_dir());
    std::os::unix::fs::symlink(model_dir(), d.path().join("model")).unwrap();
    d
}

#[test]
fn search_into_a_closed_pipe_exits_quietly() {
    // `crossfind search … | head -1`: stdout closed before the results are
    // written. It panicked (exit 101, with a backtrace note).
    let d = golden_with_model();
    let mut child = crossfind()
        .args(["search", "--bundle"])
        .arg(d.path())
        .arg("forgot my password")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before the first line
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
    assert!(o.status.success(), "{:?}: {err}", o.status);
}

#[test]
fn search_and_index_print_no_terminal_escapes_from_the_site() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    // a title that would set the window title, and coloured, cursor-moving text
    std::fs::write(
        site.join("reset.md"),
        "---\nlang: en\ntitle: \"\u{1b}]0;owned\u{7}Reset \u{1b}[31mpassword\u{1b}[0m\"\n---\n\
         ## Ask for a link \u{1b}[2J\u{1b}[H\n\nForgot your password? Ask for a reset \u{9b}5Alink\u{7} by email.\n",
    )
    .unwrap();
    // and a file name with an escape in it (warned about: no language)
    std::fs::write(
        site.join("\u{1b}[1mnotes.md"),
        "# Notes\n\nForgot your password notes.\n",
    )
    .unwrap();
    let out = tmp.path().join("b");
    let o = index_with(&site, &out, &tmp.path().join("r.txt"), &[]);
    assert_ok(&o);
    let control = |s: &str| s.chars().any(|c| c.is_control() && c != '\n');
    let (so, se) = (String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(
        !control(&so) && !control(&se),
        "index printed controls:\n{se:?}"
    );
    assert!(se.contains("notes.md"), "{se}");
    let report = std::fs::read_to_string(tmp.path().join("r.txt")).unwrap();
    assert!(!control(&report), "{report:?}");

    let s = search_cli(&out, &[], "forgot my password");
    assert_ok(&s);
    let text = String::from_utf8(s.stdout).unwrap();
    assert!(!control(&text), "search printed controls: {text:?}");
    assert!(text.contains("Reset password"), "{text}");
    // --json keeps the text as it is, escaped by JSON
    let j = search_cli(&out, &["--json"], "forgot my password");
    let json = String::from_utf8(j.stdout).unwrap();
    assert!(
        !control(&json) && json.contains("\\u001b]0;owned"),
        "{json}"
    );
}

/// The golden corpus with page `edit` given more text (a new section long
/// enough to change its number of chunks), as a JSONL file in `dir`.
fn corpus_edited(dir: &Path, edit: Option<usize>) -> PathBuf {
    let text = std::fs::read_to_string(corpus()).unwrap();
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    if let Some(i) = edit {
        let extra: String = (0..40)
            .map(|n| format!("Step {n}: check the address, then ask for a new link. "))
            .collect();
        let t = lines[i]["text"].as_str().unwrap().to_string();
        lines[i]["text"] =
            format!("{t}\n\n## Troubleshooting {{#troubleshooting}}\n{extra}").into();
    }
    let p = dir.join("corpus.jsonl");
    let body: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(&p, body.join("\n") + "\n").unwrap();
    p
}

/// `(embedded, reused)` from `crossfind index`'s last line.
fn embedded_reused(o: &std::process::Output) -> (usize, usize) {
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out.lines().find(|l| l.starts_with("indexed ")).expect(&out);
    let num_before = |word: &str| -> usize {
        let at = line.find(word).expect(line);
        line[..at]
            .split_whitespace()
            .last()
            .unwrap()
            .parse()
            .unwrap()
    };
    (
        num_before(" chunks embedded"),
        num_before(" reused from the cache"),
    )
}

#[test]
fn re_index_embeds_only_what_changed_and_writes_the_bundle_a_full_build_would() {
    let tmp = tempfile::tempdir().unwrap();
    let (cache, out, fresh) = (
        tmp.path().join("cache"),
        tmp.path().join("out"),
        tmp.path().join("fresh"),
    );
    let report = tmp.path().join("report.txt");
    let cache_flag = ["--cache", cache.to_str().unwrap()];
    let input = corpus_edited(tmp.path(), None);
    let first = index_with(&input, &out, &report, &cache_flag);
    assert_ok(&first);
    let (embedded, reused) = embedded_reused(&first);
    assert_eq!(reused, 0, "a new cache has nothing to reuse");

    // the same site again: nothing is embedded
    let again = index_with(&input, &out, &report, &cache_flag);
    assert_ok(&again);
    assert_eq!(embedded_reused(&again), (0, embedded));

    // one page edited: only its new chunks are embedded, and the bundle is
    // byte for byte what a build without the cache writes
    let input = corpus_edited(tmp.path(), Some(1));
    let edited = index_with(&input, &out, &report, &cache_flag);
    assert_ok(&edited);
    let (new, reused) = embedded_reused(&edited);
    assert!(new >= 1 && new < embedded, "embedded {new} of {embedded}");
    assert!(reused >= embedded - 2, "reused {reused}");
    assert_ok(&index_with(&input, &fresh, &report, &["--no-cache"]));
    assert_eq!(snapshot(&out), snapshot(&fresh));
    assert!(!fresh.join("cache").exists() && cache.read_dir().unwrap().count() == 1);
}

#[test]
fn damaged_embedding_cache_is_ignored_with_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    let (cache, out) = (tmp.path().join("cache"), tmp.path().join("out"));
    let report = tmp.path().join("report.txt");
    let cache_flag = ["--cache", cache.to_str().unwrap()];
    let input = corpus_edited(tmp.path(), None);
    let first = index_with(&input, &out, &report, &cache_flag);
    assert_ok(&first);
    let (embedded, _) = embedded_reused(&first);
    let file = cache.read_dir().unwrap().next().unwrap().unwrap().path();
    let before = snapshot(&out);
    flip_byte(&file, |n| n / 2, 0x10);
    let o = index_with(&input, &out, &report, &cache_flag);
    assert_ok(&o);
    assert!(
        stderr(&o).contains("was not used: it is damaged"),
        "{}",
        stderr(&o)
    );
    assert_eq!(embedded_reused(&o), (embedded, 0));
    assert_eq!(snapshot(&out), before);
    // and the cache is whole again for the next build
    let o = index_with(&input, &out, &report, &cache_flag);
    assert_eq!(embedded_reused(&o), (0, embedded));
}

#[test]
fn fragment_shards_of_unchanged_pages_keep_their_names() {
    use crossfind::index::{build_bundle, BuildOptions};
    let tmp = tempfile::tempdir().unwrap();
    let names = |edit: Option<usize>, out: &str| -> Vec<String> {
        let dir = tmp.path().join(out);
        std::fs::create_dir_all(&dir).unwrap();
        let input = corpus_edited(&dir, edit);
        let mut corpus = crossfind::ingest::read_input_skipping(&input, None).unwrap();
        let opts = BuildOptions {
            pages_per_fragment: 1,
            ..Default::default()
        };
        let out = dir.join("bundle");
        build_bundle(
            &mut corpus,
            crate::encoder(),
            &model_dir(),
            &out,
            &opts,
            &|_| {},
        )
        .unwrap();
        let b = Bundle::read_dir(&out).unwrap();
        b.manifest
            .fragment_shards()
            .map(|s| s.name.clone())
            .collect()
    };
    let (before, after) = (names(None, "a"), names(Some(1), "b"));
    assert_eq!(before.len(), 4, "{before:?}");
    assert_eq!(after.len(), 4, "{after:?}");
    // page 1 gained chunks: the shards after it are numbered from their
    // own first chunk, so only page 1's shard has new bytes
    let same: Vec<bool> = before.iter().zip(&after).map(|(a, b)| a == b).collect();
    assert_eq!(same, [true, false, true, true]);
}

#[test]
fn index_json_summary_matches_the_bundle_and_quiet_prints_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    let report = tmp.path().join("report.txt");
    let o = index_with(&corpus(), &out, &report, &["--json", "--quiet"]);
    assert_ok(&o);
    assert!(o.stderr.is_empty(), "--quiet printed: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(v["bundle_version"], manifest["version"]);
    let bundle = crossfind::search::Bundle::read_dir(&out).unwrap();
    assert_eq!(
        v["pages"].as_u64().unwrap() as usize,
        bundle.docs.pages.len()
    );
    assert_eq!(
        v["chunks"].as_u64().unwrap() as usize,
        bundle.docs.chunks.len()
    );
    let by_lang: u64 = v["languages"]
        .as_object()
        .unwrap()
        .values()
        .map(|l| l["pages"].as_u64().unwrap())
        .sum();
    assert_eq!(by_lang, v["pages"].as_u64().unwrap());
    assert_eq!(
        v["embedded"].as_u64().unwrap() + v["reused"].as_u64().unwrap(),
        v["chunks"].as_u64().unwrap()
    );
    // every file the summary counts is in the folder
    let on_disk: u64 = walk_bytes(&out);
    assert_eq!(v["bytes"].as_u64().unwrap(), on_disk);

    // without --quiet the same build shows its progress on stderr, ending at 100 %
    let o = index_with(&corpus(), &tmp.path().join("c"), &report, &["--no-cache"]);
    assert_ok(&o);
    let err = stderr(&o);
    assert!(err.contains("100%") && err.contains("done"), "{err}");
}

/// Bytes of every file under `dir` (symlinks followed).
fn walk_bytes(dir: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let m = std::fs::metadata(&p).unwrap();
        n += if m.is_dir() { walk_bytes(&p) } else { m.len() };
    }
    n
}

#[test]
fn exit_status_is_2_for_bad_input_and_1_for_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("report.txt");
    // input that does not exist
    let o = index_with(
        &tmp.path().join("no-such-site"),
        &tmp.path().join("b"),
        &report,
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // a folder that is not a bundle, and a damaged bundle
    let o = search_cli(tmp.path(), &[], "password");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let b = golden_with_model();
    let vectors = std::fs::read_dir(b.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("vectors")
        })
        .unwrap();
    flip_byte(&vectors, |n| n / 2, 0x40);
    let o = search_cli(b.path(), &[], "password");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("checksum"), "{}", stderr(&o));
    // a bad flag value (clap's own status for usage errors is 2 as well)
    let o = index_with(
        &corpus(),
        &tmp.path().join("b"),
        &report,
        &["--max-skipped", "3"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // writing fails: the bundle folder's parent is a file, not bad input
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let o = index_with(&corpus(), &file.join("b"), &report, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

#[test]
fn forced_index_never_writes_over_a_users_file_with_a_bundle_name() {
    // `--out public --force` with Markdown input used to replace the site's
    // own manifest.json (a web app manifest) and delete a model/*.gz of the
    // user's when the bundle's copy was not worth compressing
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("report.txt");
    for (name, text) in [
        (
            "manifest.json",
            r#"{"name": "My help center", "display": "standalone"}"#,
        ),
        ("offline.json", "[]"),
        ("model/lang-basis.bin.gz", "mine"),
    ] {
        let out = tmp
            .path()
            .join(format!("public-{}", name.replace(['/', '.'], "-")));
        users_folder(&out);
        std::fs::write(out.join(name), text).unwrap();
        let before = snapshot(&out);
        let o = index_with(&corpus(), &out, &report, &["--force"]);
        let err = crate::assert_fails(&o);
        assert!(
            err.contains("never over them") && err.contains(name),
            "{err}"
        );
        assert_eq!(snapshot(&out), before, "{name}: the refused folder changed");
        // moved out of the way, the bundle goes in beside the rest
        std::fs::remove_file(out.join(name)).unwrap();
        assert_ok(&index_with(&corpus(), &out, &report, &["--force"]));
        Bundle::read_dir(&out).expect("the forced bundle loads");
    }
}

/// The golden corpus indexed into `crossfind/` of a new temporary folder:
/// the folder, the bundle and the report file.
fn golden_bundle() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("crossfind");
    let report = tmp.path().join("report.txt");
    assert_ok(&index_with(&corpus(), &out, &report, &[]));
    (tmp, out, report)
}

/// Takes the lock a running `crossfind index` holds on `out`.
fn hold_the_lock(out: &Path) -> std::fs::File {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(out.join(".crossfind-writing"))
        .unwrap();
    f.try_lock().expect("the folder is free");
    f
}

#[test]
fn a_second_index_into_a_folder_being_written_stops_and_changes_nothing() {
    // Two builds into one folder used to both exit 0, each deleting what
    // its own previous manifest listed: the last manifest named a file the
    // other build had deleted.
    let (_tmp, out, report) = golden_bundle();
    let lock = hold_the_lock(&out);
    let before = snapshot(&out);
    let o = index_with(&corpus(), &out, &report, &[]);
    let err = crate::assert_fails(&o);
    assert!(
        err.contains("another crossfind index is writing into"),
        "{err}"
    );
    assert_eq!(snapshot(&out), before, "a refused build changed the folder");
    drop(lock);
    assert_ok(&index_with(&corpus(), &out, &report, &[]));
    assert!(
        !out.join(".crossfind-writing").exists(),
        "a finished build leaves its journal"
    );
    Bundle::read_dir(&out).expect("the bundle loads");
}

#[test]
fn what_a_killed_build_wrote_is_removed_by_the_next_one() {
    // A build killed midway left shards holding its text in the published
    // folder for good. Its journal lists them; the next build removes them,
    // and nothing else: not the bundle's files, not a listed name that is
    // not shaped like a shard.
    let (tmp, out, report) = golden_bundle();
    let bundle = snapshot(&out);
    let a_shard = bundle
        .iter()
        .map(|(p, _)| p.to_string_lossy().into_owned())
        .find(|p| p.starts_with("docs."))
        .unwrap();
    std::fs::write(
        out.join("frag.0123456789ab.json"),
        "text of the killed build",
    )
    .unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    std::fs::write(
        out.join(".crossfind-writing"),
        format!("frag.0123456789ab.json\nnotes.txt\n{a_shard}\n../escape.0123456789ab.json\n"),
    )
    .unwrap();
    std::fs::write(tmp.path().join("escape.0123456789ab.json"), "outside").unwrap();
    assert_ok(&index_with(&corpus(), &out, &report, &[]));
    assert!(
        !out.join("frag.0123456789ab.json").exists(),
        "the leftover stayed"
    );
    assert!(!out.join(".crossfind-writing").exists());
    assert_eq!(std::fs::read(out.join("notes.txt")).unwrap(), b"mine");
    assert!(tmp.path().join("escape.0123456789ab.json").exists());
    let mut after = snapshot(&out);
    after.retain(|(p, _)| p != Path::new("notes.txt"));
    assert_eq!(after, bundle, "the same input gave another bundle");

    // a first build killed: the folder holds only what its journal lists,
    // and the next build goes ahead without --force
    let first = tmp.path().join("first");
    std::fs::create_dir_all(&first).unwrap();
    std::fs::write(first.join("vectors.0123456789ab.bin"), "partial").unwrap();
    std::fs::write(
        first.join(".crossfind-writing"),
        "vectors.0123456789ab.bin\n",
    )
    .unwrap();
    assert_ok(&index_with(&corpus(), &first, &report, &[]));
    assert!(!first.join("vectors.0123456789ab.bin").exists());
    assert_eq!(snapshot(&first), bundle);
}

#[test]
#[cfg(unix)]
fn the_report_is_written_in_the_users_cache_never_through_a_link() {
    // Run from inside the site, the report went to a fixed name in the
    // shared temporary folder, written through whatever link was there.
    let tmp = tempfile::tempdir().unwrap();
    let site = one_page_site(tmp.path());
    let cache = tmp.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let victim = tmp.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, cache.join("crossfind-report.txt")).unwrap();
    let o = crossfind()
        .current_dir(&site)
        .env("CROSSFIND_CACHE", &cache)
        .env("TMPDIR", tmp.path())
        .args([
            "index",
            "--input",
            ".",
            "--out",
            "crossfind",
            "--no-cache",
            "--model",
        ])
        .arg(model_dir())
        .output()
        .unwrap();
    assert_ok(&o);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let report = cache.join("crossfind-report.txt");
    assert!(std::fs::symlink_metadata(&report).unwrap().is_file());
    assert!(std::fs::read_to_string(&report)
        .unwrap()
        .starts_with("crossfind index report"));
    assert!(!tmp.path().join("crossfind-report.txt").exists());
    // a report the user names is written as named: a device works
    let o = crossfind()
        .current_dir(&site)
        .env("CROSSFIND_CACHE", &cache)
        .args([
            "index",
            "--input",
            ".",
            "--out",
            "crossfind",
            "--no-cache",
            "--quiet",
        ])
        .args(["--report", "/dev/stdout", "--model"])
        .arg(model_dir())
        .output()
        .unwrap();
    assert_ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("crossfind index report"));
}

#[test]
fn a_build_that_fails_leaves_the_bundle_that_was_there() {
    // A build that failed after writing shards (here: the model copy, whose
    // file is in the way) left them beside the old bundle, listed by no
    // manifest. It removes what it wrote; the old bundle's files stay.
    let (tmp, out, report) = golden_bundle();
    let before: Vec<PathBuf> = snapshot(&out).into_iter().map(|(p, _)| p).collect();
    // a folder where the pack's manifest copy goes: the copy cannot replace it
    let pack_json = out.join("model/pack.json");
    std::fs::remove_file(&pack_json).unwrap();
    std::fs::create_dir_all(pack_json.join("in-the-way")).unwrap();
    let edited = corpus_edited(tmp.path(), Some(0));
    let o = index_with(&edited, &out, &report, &[]);
    crate::assert_fails(&o);
    let after: Vec<PathBuf> = snapshot(&out).into_iter().map(|(p, _)| p).collect();
    let new: Vec<&PathBuf> = after
        .iter()
        .filter(|p| !before.contains(p) && !p.starts_with("model"))
        .collect();
    assert!(new.is_empty(), "the failed build left {new:?}");
    assert!(!out.join(".crossfind-writing").exists());
    for p in before.iter().filter(|p| !p.starts_with("model")) {
        assert!(out.join(p).exists(), "{} was deleted", p.display());
    }
}
