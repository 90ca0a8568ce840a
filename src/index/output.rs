//! The output folder (steps 0, 5 and 8 of indexing): what it held before, the
//! copy of the model pack beside the shards, and the files of the previous
//! bundle this one no longer lists.

use std::collections::HashSet;
use std::path::Path;

use crate::bundle::{BundleManifest, MANIFEST};
use crate::error::{Error, Result};
use crate::format::encoding::{gzip, worth_storing, Encoding};
use crate::format::fs::{io, replace_file};
use crate::format::{sha256_hex, Encoded};
use crate::model::pack::{FileEntry, MANIFEST as PACK_MANIFEST, PACK_VERSION};
use crate::model::PackManifest;

/// The bundle's copy of the model pack, inside the output folder.
pub(super) const MODEL_DIR: &str = "model";

/// Files a build reported: `(file, kind, bytes)`.
pub(super) type Files = Vec<(String, String, u64)>;

/// What an output folder holds before a build: the manifest of the bundle
/// an earlier `crossfind index` wrote there, if it is one.
///
/// A folder that does not exist or is empty is fine (`None`). A folder with
/// a readable bundle manifest is that bundle (`Some`): the build replaces
/// it, and deletes only the files its manifest and its model's `pack.json`
/// list. Any other folder holds someone's files and is refused, unless
/// `force`, in which case nothing in it is deleted (only files of the new
/// bundle's names are written, and the `model/` pack files).
pub fn previous_bundle(out: &Path, force: bool) -> Result<Option<BundleManifest>> {
    let meta = match std::fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(out)(e)),
    };
    if !std::fs::metadata(out).map_err(io(out))?.is_dir() {
        return Err(Error::Input(format!(
            "the output `{}` is {}, not a folder",
            out.display(),
            if meta.file_type().is_symlink() {
                "a link to a file"
            } else {
                "a file"
            }
        )));
    }
    let model = out.join(MODEL_DIR);
    if std::fs::symlink_metadata(&model).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::Input(format!(
            "`{}` is a link; crossfind index copies the model pack into that folder and \
             removes the files of the pack it replaces, so it would write into and delete \
             from wherever the link points. Remove the link (the pack is copied in its place) \
             or choose another --out",
            model.display()
        )));
    }
    let why = match std::fs::read(out.join(MANIFEST)) {
        Ok(bytes) => match BundleManifest::parse(&bytes) {
            Ok(m) => return Ok(Some(m)),
            Err(e) => format!("its {MANIFEST} is not one crossfind can read: {e}"),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut entries = std::fs::read_dir(out).map_err(io(out))?;
            if entries.next().is_none() {
                return Ok(None);
            }
            format!("it has no {MANIFEST}")
        }
        Err(e) => return Err(io(&out.join(MANIFEST))(e)),
    };
    if force {
        return Ok(None);
    }
    Err(Error::Input(format!(
        "the output folder `{}` is not empty and is not a crossfind bundle ({why}); \
         crossfind index writes into an empty folder or over a bundle it wrote before, \
         so that it never overwrites or deletes your files. Choose a new folder for --out, \
         or pass --force to write into this one anyway (nothing in it is deleted)",
        out.display()
    )))
}

/// Whether `path` is a regular file (not a link) holding exactly the bytes
/// `entry` describes.
fn file_matches(path: &Path, entry: &FileEntry) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() == entry.bytes)
        && std::fs::read(path).is_ok_and(|b| sha256_hex(&b) == entry.sha256)
}

/// Copies a pack file into the bundle's model folder unless an identical
/// copy is there (compared by sha256: a file of the same size with other
/// bytes, from another pack or damaged, is replaced). The bytes are
/// checked before they are written, and written through a temporary file
/// ([`replace_file`]).
fn copy_model_file(src: &Path, dst: &Path, entry: &FileEntry) -> Result<()> {
    if file_matches(dst, entry) {
        return Ok(());
    }
    let bytes = std::fs::read(src).map_err(io(src))?;
    if bytes.len() as u64 != entry.bytes || sha256_hex(&bytes) != entry.sha256 {
        return Err(Error::corrupt(
            &entry.name,
            format!(
                "the copy from {} does not match the pack's checksum (the pack changed while indexing?); run the command again",
                src.display()
            ),
        ));
    }
    replace_file(dst, &bytes).map_err(io(dst))
}

/// Copies the pack in `pack_dir` into the bundle's `model_dir`, its
/// manifest last, with a gzip form beside each file the browser loads whole
/// when that saves enough (`format::encoding`; row shards, read by byte
/// range, and files the browser never loads stay plain only). Returns the
/// copy's manifest (listing the gzip forms: version 3 when there is one)
/// and the files, as `model/<name>`. `old` is the manifest of the copy an
/// earlier build left there: a file it lists with the same content keeps
/// its gzip form, or its lack of one, without compressing it again.
pub(super) fn copy_model(
    pack: &PackManifest,
    pack_dir: &Path,
    model_dir: &Path,
    old: Option<&PackManifest>,
) -> Result<(PackManifest, Files)> {
    std::fs::create_dir_all(model_dir).map_err(io(model_dir))?;
    let mut copied = pack.clone();
    let mut files = Vec::new();
    for f in copied.files.iter_mut() {
        let (src, dst) = (pack_dir.join(&f.name), model_dir.join(&f.name));
        copy_model_file(&src, &dst, f)?;
        files.push((format!("model/{}", f.name), "model".to_string(), f.bytes));
        let whole = !pack.is_lazy(&f.name) && !pack.embeddings.shards.contains(&f.name);
        f.encoded = if whole {
            let before = old
                .and_then(|o| o.file(&f.name))
                .filter(|o| o.sha256 == f.sha256);
            compressed_copy(model_dir, f, before)?
        } else {
            None
        };
        if let Some(e) = &f.encoded {
            files.push((format!("model/{}", e.name), "model".to_string(), e.bytes));
        }
    }
    if copied.files.iter().any(|f| f.encoded.is_some()) {
        copied.version = PACK_VERSION;
    }
    let dst = model_dir.join(PACK_MANIFEST);
    let json = serde_json::to_string_pretty(&copied).expect("manifest serialises");
    replace_file(&dst, json.as_bytes()).map_err(io(&dst))?;
    files.push((
        format!("model/{PACK_MANIFEST}"),
        "model".to_string(),
        json.len() as u64,
    ));
    Ok((copied, files))
}

/// The gzip form of the copied pack file `entry` (already in `model_dir`),
/// written beside it as `<name>.gz` when it saves enough; `None` (and no
/// such file) otherwise. `before`: the same file in the previous copy's
/// manifest, whose decision and file are kept when still valid.
fn compressed_copy(
    model_dir: &Path,
    entry: &FileEntry,
    before: Option<&FileEntry>,
) -> Result<Option<Encoded>> {
    let name = format!("{}{}", entry.name, Encoding::Gzip.suffix());
    let path = model_dir.join(&name);
    match before.map(|b| &b.encoded) {
        Some(None) if !path.exists() => return Ok(None),
        Some(Some(e))
            if e.name == name
                && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
                && std::fs::read(&path)
                    .is_ok_and(|b| b.len() as u64 == e.bytes && sha256_hex(&b) == e.sha256) =>
        {
            return Ok(Some(e.clone()))
        }
        _ => {}
    }
    let src = model_dir.join(&entry.name);
    let plain = std::fs::read(&src).map_err(io(&src))?;
    let gz = gzip(&plain);
    if !worth_storing(plain.len(), gz.len()) {
        if path.exists() {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
        return Ok(None);
    }
    replace_file(&path, &gz).map_err(io(&path))?;
    Ok(Some(Encoded {
        encoding: Encoding::Gzip,
        name,
        bytes: gz.len() as u64,
        sha256: sha256_hex(&gz),
    }))
}

/// The manifest of the pack in `model_dir`, if it has a readable one.
pub(super) fn pack_in(model_dir: &Path) -> Option<PackManifest> {
    let bytes = std::fs::read(model_dir.join(PACK_MANIFEST)).ok()?;
    PackManifest::parse(&bytes).ok()
}

/// Deletes what the previous bundle in `out` listed and the new one does
/// not: its shards, and the files of its pack (`old_pack`) that the new
/// pack does not have. Names from parsed manifests are plain names
/// (checked by `parse`), so nothing outside the folders is touched.
pub(super) fn remove_stale<'a>(
    out: &Path,
    manifest: &'a BundleManifest,
    previous: Option<&'a BundleManifest>,
    model_dir: &Path,
    pack: &'a PackManifest,
    old_pack: Option<&'a PackManifest>,
) {
    // a file's name and its gzip form's, if any
    let names = |name: &'a str, enc: &'a Option<Encoded>| {
        std::iter::once(name).chain(enc.iter().map(|e| e.name.as_str()))
    };
    let keep: HashSet<&str> = manifest
        .shards
        .iter()
        .flat_map(|s| names(s.name.as_str(), &s.encoded))
        .collect();
    for s in previous.iter().flat_map(|m| &m.shards) {
        for n in names(s.name.as_str(), &s.encoded) {
            if !keep.contains(n) {
                let _ = std::fs::remove_file(out.join(n));
            }
        }
    }
    if let Some(old) = old_pack {
        let keep: HashSet<&str> = pack
            .files
            .iter()
            .flat_map(|f| names(f.name.as_str(), &f.encoded))
            .collect();
        for f in &old.files {
            for n in names(f.name.as_str(), &f.encoded) {
                if !keep.contains(n) {
                    let _ = std::fs::remove_file(model_dir.join(n));
                }
            }
        }
    }
}
