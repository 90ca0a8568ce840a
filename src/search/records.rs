//! Snippet records (bundle version 7; from 8 they name their page, the
//! docs table no longer does): one page's snippet text, stored as
//! a zlib stream in a `snippets` shard and fetched by byte range for the
//! hits shown (`bundle::BUNDLE_VERSION`). Where each record lies follows
//! from the docs columns' record lengths and the files' sizes; what a
//! record may hold is limited to its own page's chunks.

use crate::bundle::{BundleManifest, Docs, Fragments};
use crate::error::{Error, Result};

/// Where snippet record `i` is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordAt {
    /// Its file: an index among the manifest's `snippets` shards.
    pub file: u32,
    pub start: u64,
    pub len: u64,
}

impl RecordAt {
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
}

/// Where each record of a version 7 bundle lies: in order, the first
/// `record_files[0]` in the first `snippets` file, and so on, each file
/// exactly filled by its records. Empty for a bundle with fragment shards.
pub fn locate(manifest: &BundleManifest, docs: &Docs) -> Result<Vec<RecordAt>> {
    if !manifest.snippet_records() {
        return Ok(Vec::new());
    }
    let files: Vec<(&str, u64)> = manifest
        .snippet_shards()
        .map(|s| (s.name.as_str(), s.bytes))
        .collect();
    let docs_name = &manifest.shard(crate::bundle::ShardKind::Docs).name;
    let counted: u64 = docs.record_files.iter().map(|&n| n as u64).sum();
    if docs.record_files.len() != files.len() || counted != docs.records.len() as u64 {
        return Err(Error::corrupt(
            docs_name,
            format!(
                "lists {} snippet records in {} files, but {} records and {} snippets files",
                counted,
                docs.record_files.len(),
                docs.records.len(),
                files.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(docs.records.len());
    let mut lens = docs.records.iter().enumerate();
    for (f, (&(name, size), &n)) in files.iter().zip(&docs.record_files).enumerate() {
        let mut at = 0u64;
        for (i, &len) in lens.by_ref().take(n as usize) {
            if len == 0 {
                return Err(Error::corrupt(
                    docs_name,
                    format!("snippet record {i} is empty"),
                ));
            }
            out.push(RecordAt {
                file: f as u32,
                start: at,
                len: len as u64,
            });
            at += len as u64;
        }
        if at != size {
            return Err(Error::corrupt(
                name,
                format!("is {size} bytes, but its {n} snippet records add up to {at}"),
            ));
        }
    }
    Ok(out)
}

/// Record `index` of file `name` holds only its own page's chunks (those
/// whose `frag` is `index`), and names only their page.
pub fn check_scope(docs: &Docs, name: &str, index: usize, f: &Fragments) -> Result<()> {
    let mine = |c: u32| {
        docs.chunks
            .get(c as usize)
            .is_some_and(|m| m.frag as usize == index)
    };
    let chunk_ids = f
        .chunks
        .iter()
        .map(|(c, _)| *c)
        .chain(f.headings.iter().map(|(c, _)| *c));
    let bad_chunk = chunk_ids.clone().find(|&c| !mine(c));
    let pages: Vec<u32> = chunk_ids
        .filter_map(|c| docs.chunks.get(c as usize).map(|m| m.page))
        .collect();
    let bad_page = f.pages.iter().find(|(p, _, _)| !pages.contains(p));
    if let Some(c) = bad_chunk {
        return Err(Error::corrupt(
            name,
            format!("snippet record {index} holds chunk {c}, which is not its own"),
        ));
    }
    if let Some((p, _, _)) = bad_page {
        return Err(Error::corrupt(
            name,
            format!("snippet record {index} names page {p}, which is not its own"),
        ));
    }
    Ok(())
}

/// The most bytes a page id named by a snippet record may have.
pub const MAX_ID_BYTES: usize = 2048;

/// A page id a version 8 snippet record names (the docs table has none to
/// compare with): some text, without control characters, of at most
/// [`MAX_ID_BYTES`].
pub fn check_id(name: &str, index: usize, id: &str) -> Result<()> {
    let why = if id.is_empty() {
        "names no page"
    } else if id.len() > MAX_ID_BYTES {
        "names a page id longer than 2,048 bytes"
    } else if id.contains(char::is_control) {
        "names a page id with a control character"
    } else {
        return Ok(());
    };
    Err(Error::corrupt(
        name,
        format!("snippet record {index} {why}"),
    ))
}
