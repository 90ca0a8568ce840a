//! The output folder (steps 0, 5 and 8 of indexing): what it held before, the
//! copy of the model pack beside the shards, and the files of the previous
//! bundle this one no longer lists.

use std::collections::HashSet;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::bundle::write::ShardSink;
use crate::bundle::{is_hashed_name, BundleManifest, MANIFEST};
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
    not_being_written(out)?;
    let why = match std::fs::read(out.join(MANIFEST)) {
        Ok(bytes) => match BundleManifest::parse(&bytes) {
            Ok(m) => return Ok(Some(m)),
            Err(e) => format!("its {MANIFEST} is not one crossfind can read: {e}"),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // empty, or holding only what a first build that did not
            // finish wrote (its journal says which)
            let ours = unfinished_files(out);
            let mut theirs = std::fs::read_dir(out).map_err(io(out))?.filter(|e| {
                e.as_ref().map_or(true, |e| {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    name != WRITING
                        && !ours.contains(name.as_ref())
                        && !(name == MODEL_DIR && ours.contains(MODEL_ENTRY))
                })
            });
            if theirs.next().is_none() {
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

/// The file that marks a build in progress in the output folder: locked
/// while the build runs, it lists the files the build has written so far,
/// so that what a build killed midway wrote is removed by the next one
/// instead of staying published. A build that finishes removes it.
pub const WRITING: &str = ".crossfind-writing";
/// The journal's line for the model folder (the pack files are not listed
/// one by one: they are the model's, not the site's).
const MODEL_ENTRY: &str = "model/";

fn busy(out: &Path) -> Error {
    Error::Input(format!(
        "another crossfind index is writing into `{}` (it holds {WRITING} there); \
         wait for it to finish, or write to another --out",
        out.display()
    ))
}

/// Fails when another build holds `out`'s [`WRITING`] lock.
fn not_being_written(out: &Path) -> Result<()> {
    let path = out.join(WRITING);
    if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
        return Ok(());
    }
    let file = std::fs::File::open(&path).map_err(io(&path))?;
    match file.try_lock_shared() {
        Err(std::fs::TryLockError::WouldBlock) => Err(busy(out)),
        // a file system without locks: the build itself says so
        Ok(()) | Err(std::fs::TryLockError::Error(_)) => Ok(()),
    }
}

/// The names an unfinished build's journal in `out` lists.
fn unfinished_files(out: &Path) -> HashSet<String> {
    let path = out.join(WRITING);
    if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
        return HashSet::new();
    }
    std::fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A build's hold on its output folder ([`WRITING`]): taken before the
/// first file is written, released when the build ends.
pub(super) struct Writing {
    file: std::fs::File,
    path: PathBuf,
    out: PathBuf,
    /// Files of the bundle the build replaces: never removed as leftovers.
    keep: HashSet<String>,
    /// Set once the new manifest is written: its files are no longer
    /// leftovers if the build fails after that.
    committed: bool,
    /// Why the folder could not be locked, for the build's notes.
    pub note: Option<String>,
}

impl Writing {
    /// Locks `out` for a build, first removing what an earlier build that
    /// did not finish wrote there (listed in its journal, shaped as a
    /// shard's name, and not listed by `previous`, the bundle in `out`).
    pub(super) fn begin(out: &Path, previous: Option<&BundleManifest>) -> Result<Self> {
        let path = out.join(WRITING);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
            return Err(Error::Input(format!(
                "`{}` is a link or a folder, not the file crossfind index keeps there while it writes; \
                 remove it and run the command again",
                path.display()
            )));
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        let mut note = None;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(busy(out)),
            // Some file systems (a few network and container mounts) have
            // no locks: the build goes on, journal and all, unguarded
            // against a second build at the same time, and says so.
            Err(std::fs::TryLockError::Error(e)) => {
                note = Some(format!(
                    "the output folder's file system could not lock {} ({e}): nothing stops \
                     another crossfind index from writing into it at the same time",
                    path.display()
                ));
            }
        }
        #[cfg(unix)]
        {
            // a build that just finished removed the file between our open
            // and our lock: it is no lock any more, and another build may
            // hold the new one
            use std::os::unix::fs::MetadataExt;
            let ours = file.metadata().map_err(io(&path))?;
            if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.ino() == ours.ino()) {
                return Err(busy(out));
            }
        }
        let keep = previous
            .iter()
            .flat_map(|m| &m.shards)
            .flat_map(|s| {
                std::iter::once(s.name.clone()).chain(s.encoded.iter().map(|e| e.name.clone()))
            })
            .collect();
        let mut w = Writing {
            file,
            path,
            out: out.to_path_buf(),
            keep,
            committed: false,
            note,
        };
        w.remove_leftovers();
        w.file.set_len(0).map_err(io(&w.path))?;
        w.file.rewind().map_err(io(&w.path))?;
        Ok(w)
    }

    /// Lists `name` (a file in the output folder) before it is written.
    pub(super) fn will_write(&mut self, name: &str) -> Result<()> {
        writeln!(self.file, "{name}").map_err(io(&self.path))
    }

    /// Lists the model folder before the pack is copied into it.
    pub(super) fn will_write_model(&mut self) -> Result<()> {
        self.will_write(MODEL_ENTRY)
    }

    /// The manifest that lists the new files is written.
    pub(super) fn committed(&mut self) {
        self.committed = true;
    }

    /// Removes the journal; the lock goes with the file handle.
    pub(super) fn finish(mut self) -> Result<()> {
        self.committed = true;
        std::fs::remove_file(&self.path).map_err(io(&self.path))
    }

    /// Removes the files the journal lists that no bundle lists.
    fn remove_leftovers(&mut self) {
        let mut listed = String::new();
        let _ = self.file.rewind();
        let _ = self.file.read_to_string(&mut listed);
        for name in listed.lines() {
            let path = self.out.join(name);
            if is_hashed_name(name)
                && !self.keep.contains(name)
                && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
            {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

impl Drop for Writing {
    /// A build that fails before its manifest is written removes what it
    /// wrote, so the folder holds the bundle it held before.
    fn drop(&mut self) {
        if !self.committed {
            self.remove_leftovers();
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Writes shards into the output folder, each listed in the build's
/// journal before it is written.
pub(super) struct JournalSink<'a> {
    pub out: &'a Path,
    pub writing: &'a mut Writing,
}

impl ShardSink for JournalSink<'_> {
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        self.writing.will_write(name)?;
        crate::bundle::write::DirSink(self.out).put(name, bytes)
    }
}

/// With `--force` into a folder that holds no bundle: an error naming the
/// files of the user's that the bundle's fixed names would replace (its
/// manifest, its offline list, the model pack's files), if there are any.
pub(super) fn refuse_files_in_the_way(out: &Path, pack: &PackManifest) -> Result<()> {
    let in_the_way = files_in_the_way(out, pack);
    if in_the_way.is_empty() {
        return Ok(());
    }
    Err(Error::Input(format!(
        "--force writes the bundle beside the files in `{}`, never over them, and these have \
         the names of the bundle's own: {}. Move them, or choose another --out",
        out.display(),
        in_the_way.join(", ")
    )))
}

/// [`refuse_files_in_the_way`]'s files, as paths relative to `out`.
fn files_in_the_way(out: &Path, pack: &PackManifest) -> Vec<String> {
    let ours = unfinished_files(out);
    let mut names = vec![MANIFEST.to_string(), super::offline::PRECACHE.to_string()];
    if !ours.contains(MODEL_ENTRY) {
        names.push(format!("{MODEL_DIR}/{PACK_MANIFEST}"));
        for f in &pack.files {
            names.push(format!("{MODEL_DIR}/{}", f.name));
            names.push(format!("{MODEL_DIR}/{}{}", f.name, Encoding::Gzip.suffix()));
        }
    }
    names
        .into_iter()
        .filter(|n| std::fs::symlink_metadata(out.join(n)).is_ok())
        .collect()
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
        // the old copy's gzip form goes; a file of that name that no copy
        // listed is not crossfind's to delete
        if matches!(before.map(|b| &b.encoded), Some(Some(e)) if e.name == name)
            && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
        {
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
    // only names shaped as crossfind's own (a hand-edited or foreign
    // manifest cannot make it delete another file)
    for s in previous.iter().flat_map(|m| &m.shards) {
        for n in names(s.name.as_str(), &s.encoded) {
            if !keep.contains(n) && is_hashed_name(n) {
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
