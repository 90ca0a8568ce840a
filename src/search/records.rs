//! Snippet records (bundle version 7): one page's snippet text, stored as
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

/// Where each record of a version 7 bundle lies: in page order, filling
/// each `snippets` file before the next (as `ShardWriter::snippet_record`
/// packs them), every file exactly. Empty for a bundle with fragment
/// shards.
pub fn locate(manifest: &BundleManifest, docs: &Docs) -> Result<Vec<RecordAt>> {
    if !manifest.snippet_records() {
        return Ok(Vec::new());
    }
    let sizes: Vec<(&str, u64)> = manifest
        .snippet_shards()
        .map(|s| (s.name.as_str(), s.bytes))
        .collect();
    let docs_name = &manifest.shard(crate::bundle::ShardKind::Docs).name;
    let mut out = Vec::with_capacity(docs.records.len());
    let (mut file, mut at) = (0usize, 0u64);
    for (i, &len) in docs.records.iter().enumerate() {
        let len = len as u64;
        if len == 0 {
            return Err(Error::corrupt(
                docs_name,
                format!("snippet record {i} is empty"),
            ));
        }
        while sizes.get(file).is_some_and(|&(_, size)| at + len > size) {
            let (name, size) = sizes[file];
            if at != size {
                return Err(Error::corrupt(
                    name,
                    format!("snippet record {i} ({len} bytes) does not fit in its {size} bytes after byte {at}"),
                ));
            }
            file += 1;
            at = 0;
        }
        if file >= sizes.len() {
            return Err(Error::corrupt(
                docs_name,
                format!("snippet record {i} lies past the bundle's snippets files"),
            ));
        }
        out.push(RecordAt {
            file: file as u32,
            start: at,
            len,
        });
        at += len;
    }
    let used = out.last().map_or(0, |r| r.file as usize + 1);
    let last_full = out
        .last()
        .is_none_or(|r| r.end() == sizes[r.file as usize].1);
    if used != sizes.len() || !last_full {
        let (name, _) = sizes[used.min(sizes.len() - 1)];
        return Err(Error::corrupt(
            name,
            "holds bytes that no snippet record the docs table lists accounts for",
        ));
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
