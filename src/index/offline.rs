//! The offline copy (steps 6 and 7 of indexing): the embedding rows the
//! site's languages need offline ([`OfflineRows`]), as byte ranges of the
//! bundle's copy of the pack; and, once the manifest is written, the
//! precache list the service worker reads. The rows are listed only there:
//! the bundle manifest, which every reader fetches before its first
//! result, does not carry them (bundles before 2026-12-06 did, 3.6 kB on
//! the demo, more than half its manifest).
//!
//! ## `offline.json`, the precache list
//!
//! Beside `manifest.json`, written after it. It says exactly what the
//! offline copy holds, so the service worker (`www/src/sw.js`) never reads
//! the bundle or pack manifests to decide it:
//!
//! ```json
//! {"format": "crossfind-offline", "version": 1, "copy": "<16 hex>",
//!  "row_groups": ["common", "latin-basic", "latin"],
//!  "files": [
//!   {"name": "manifest.json", "bytes": 2210, "sha256": "<hex>"},
//!   {"name": "docs.4f3a….bin", "bytes": 81234, "sha256": "<hex>"},
//!   {"name": "model/pack.json", "bytes": 5120, "sha256": "<hex>"},
//!   {"name": "model/emb-000.bin", "start": 0, "end": 1048576, "bytes": 1048576, "sha256": "<hex>"}]}
//! ```
//!
//! - `name`: a path relative to the bundle folder (a plain name, or
//!   `<model dir>/<plain name>`).
//! - `start`, `end` (both or neither): only bytes `start..end` (end
//!   exclusive) of the file are kept; `bytes` and `sha256` are those of the
//!   range.
//! - The files: the manifest, every shard, the pack manifest, the pack
//!   files the search worker loads (not `tokenizer.json` when the pack has
//!   `vocab.bin`), and the row shards: the ranges of [`OfflineRows`] when
//!   the pack groups its rows by script, else whole.
//! - `row_groups` (with those ranges only): the row groups they hold,
//!   for people and tests reading the list; the service worker does not
//!   need it.
//! - A shard or pack file stored with a gzip form (`format::encoding`) is
//!   listed by that form's name, size and sha256 (`docs.<hash>.json.gz`):
//!   the copy keeps the bytes the search worker fetches from a host that
//!   does not compress, and checks them as stored, before decoding.
//! - `copy`: names this exact set of bytes (the first 16 hex digits of the
//!   sha256 of the lines `name bytes sha256 [start end]`): the offline
//!   copy's version as far as the bundle goes; the service worker combines
//!   it with the widget's own list (`widget.json`, written by webpack).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bundle::{BundleManifest, MANIFEST};
use crate::error::{Error, Result};
use crate::format::fs::{io, replace_file};
use crate::format::sha256_hex;
use crate::model::pack::MANIFEST as PACK_MANIFEST;
use crate::model::roworder::groups_for_languages;
use crate::model::PackManifest;

/// The precache list's file name, beside `manifest.json`.
pub const PRECACHE: &str = "offline.json";
const PRECACHE_FORMAT: &str = "crossfind-offline";
const PRECACHE_VERSION: u32 = 1;

/// The embedding rows a site's languages need, for the offline copy (the
/// service worker keeps these byte ranges of the pack's row shards instead
/// of whole shards): the row groups of `model::roworder` for the languages
/// of the site's pages.
#[derive(Clone, Debug, PartialEq)]
pub struct OfflineRows {
    pub groups: Vec<String>,
    pub ranges: Vec<ByteRange>,
}

/// Bytes `start..end` of a file of the model pack, with their sha256.
#[derive(Clone, Debug, PartialEq)]
pub struct ByteRange {
    pub file: String,
    pub start: u64,
    pub end: u64,
    pub sha256: String,
}

/// `offline.json` (see the module's docs).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Precache {
    pub format: String,
    pub version: u32,
    pub copy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_groups: Option<Vec<String>>,
    pub files: Vec<PrecacheFile>,
}

/// One entry of `offline.json`: a whole file, or a byte range of one.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PrecacheFile {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<u64>,
    pub bytes: u64,
    pub sha256: String,
}

impl PrecacheFile {
    fn whole(name: String, bytes: u64, sha256: &str) -> Self {
        PrecacheFile {
            name,
            start: None,
            end: None,
            bytes,
            sha256: sha256.to_string(),
        }
    }
}

/// The precache list of the bundle `manifest` in `out` (its manifest and
/// pack manifest already written there), keeping `rows` of the row shards
/// (all of them when `None`).
pub fn precache(
    out: &Path,
    manifest: &BundleManifest,
    pack: &PackManifest,
    rows: Option<&OfflineRows>,
) -> Result<Precache> {
    let whole_file = |path: &Path, name: String| -> Result<PrecacheFile> {
        let bytes = std::fs::read(path).map_err(io(path))?;
        Ok(PrecacheFile::whole(
            name,
            bytes.len() as u64,
            &sha256_hex(&bytes),
        ))
    };
    let dir = manifest.model.dir.trim_end_matches('/');
    let in_model = |name: &str| format!("{dir}/{name}");
    let mut files = vec![whole_file(&out.join(MANIFEST), MANIFEST.to_string())?];
    let stored =
        |name: &str, bytes: u64, sha256: &str, enc: &Option<crate::format::Encoded>| match enc {
            Some(e) => (e.name.clone(), e.bytes, e.sha256.clone()),
            None => (name.to_string(), bytes, sha256.to_string()),
        };
    for s in &manifest.shards {
        match stored(&s.name, s.bytes, &s.sha256, &s.encoded) {
            // a gzip form listed without its checksum (a manifest read
            // back from version 6 on): the stored file's
            (name, _, sha256) if sha256.is_empty() => {
                files.push(whole_file(&out.join(&name), name)?)
            }
            (name, bytes, sha256) => files.push(PrecacheFile::whole(name, bytes, &sha256)),
        }
    }
    files.push(whole_file(
        &out.join(dir).join(PACK_MANIFEST),
        in_model(PACK_MANIFEST),
    )?);
    for f in &pack.files {
        let row_shard = pack.embeddings.shards.contains(&f.name);
        // ranges of the row shards below; files the worker never loads are left out
        if (row_shard && rows.is_some()) || (!row_shard && pack.is_lazy(&f.name)) {
            continue;
        }
        let (name, bytes, sha256) = stored(&f.name, f.bytes, &f.sha256, &f.encoded);
        files.push(PrecacheFile::whole(in_model(&name), bytes, &sha256));
    }
    for r in rows.iter().flat_map(|o| &o.ranges) {
        files.push(PrecacheFile {
            name: in_model(&r.file),
            start: Some(r.start),
            end: Some(r.end),
            bytes: r.end - r.start,
            sha256: r.sha256.clone(),
        });
    }
    let mut lines = String::new();
    for f in &files {
        lines.push_str(&format!("{} {} {}", f.name, f.bytes, f.sha256));
        if let (Some(s), Some(e)) = (f.start, f.end) {
            lines.push_str(&format!(" {s} {e}"));
        }
        lines.push('\n');
    }
    Ok(Precache {
        format: PRECACHE_FORMAT.into(),
        version: PRECACHE_VERSION,
        copy: sha256_hex(lines.as_bytes())[..16].to_string(),
        row_groups: rows.map(|r| r.groups.clone()),
        files,
    })
}

/// Step 7, after the manifest: writes `offline.json` (through a temporary
/// name, like the manifest); returns it as a file of the build's report.
pub(super) fn write_precache(
    out: &Path,
    manifest: &BundleManifest,
    pack: &PackManifest,
    rows: Option<&OfflineRows>,
) -> Result<(String, String, u64)> {
    let list = precache(out, manifest, pack, rows)?;
    let mut json = serde_json::to_string_pretty(&list)
        .map_err(|e| Error::Input(format!("{PRECACHE} could not be written: {e}")))?;
    json.push('\n');
    let path = out.join(PRECACHE);
    replace_file(&path, json.as_bytes()).map_err(io(&path))?;
    Ok((PRECACHE.into(), "manifest".into(), json.len() as u64))
}

/// The row byte ranges a site in `langs` keeps offline; `None` when the
/// pack's rows are in id order (every group is everywhere).
pub(super) fn offline_rows<'a>(
    pack: &PackManifest,
    langs: impl IntoIterator<Item = &'a String>,
    model_dir: &Path,
) -> Result<Option<OfflineRows>> {
    let Some(order) = &pack.embeddings.order else {
        return Ok(None);
    };
    let groups = groups_for_languages(langs.into_iter().map(String::as_str));
    let spans: Vec<(usize, usize)> = order
        .groups
        .iter()
        .filter(|g| groups.contains(&g.name.as_str()))
        .map(|g| (g.start, g.end))
        .collect();
    let Some(ranges) = pack.row_byte_ranges(&spans) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(ranges.len());
    let mut open: Option<(String, Vec<u8>)> = None;
    for (file, start, end) in ranges {
        if open.as_ref().is_none_or(|(f, _)| *f != file) {
            let path = model_dir.join(&file);
            open = Some((file.clone(), std::fs::read(&path).map_err(io(&path))?));
        }
        let bytes = &open.as_ref().expect("just opened").1;
        let slice = bytes.get(start as usize..end as usize).ok_or_else(|| {
            Error::corrupt(
                &file,
                format!("is shorter than the rows it should hold ({end} bytes)"),
            )
        })?;
        out.push(ByteRange {
            sha256: sha256_hex(slice),
            file,
            start,
            end,
        });
    }
    Ok(Some(OfflineRows {
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ranges: out,
    }))
}
