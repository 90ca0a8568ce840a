//! Checked, versioned files: what model packs and search bundles share.
//!
//! Both are a folder of plain files named by a small JSON manifest that
//! carries a format name, a version and each file's size and sha256
//! (`manifest`); readers check every file against its listing
//! ([`verify_file`]) and name the file that is missing, truncated or
//! altered. Tensor data (encoder weights, embedding rows, a bundle's
//! vectors) is stored in one tensor file format ([`tensors`]).

pub mod encoding;
pub(crate) mod manifest;
pub mod tensors;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub use encoding::{Encoded, Encoding};
pub use manifest::{plain_name_problem, relative_path_problem};

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sha256 of `bytes`, in lowercase hex (how manifests write it).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A file as a manifest lists it: its name, size and sha256 (a pack's
/// `FileEntry`, a bundle's `Shard`).
pub trait Listed {
    fn name(&self) -> &str;
    fn bytes(&self) -> u64;
    /// Lowercase hex.
    fn sha256(&self) -> &str;
    /// The compressed form stored beside the file, if any
    /// ([`encoding`]); `bytes` and `sha256` above are the content's.
    fn encoded(&self) -> Option<&Encoded> {
        None
    }
}

/// How many hex digits of a file's sha256 its content-hashed name holds,
/// and a manifest may list instead of the whole (`verify_digested`).
pub const SHORT_SHA256_HEX: usize = 12;

/// Checks one file's size and checksum against its listing.
pub fn verify_file(entry: &impl Listed, bytes: &[u8]) -> Result<()> {
    verify_digested(entry, bytes, &sha256_hex(bytes))
}

/// The same with the sha256 of `bytes` already computed (hex), e.g. by the
/// browser's WebCrypto.
pub fn verify_digested(entry: &impl Listed, bytes: &[u8], sha256: &str) -> Result<()> {
    if bytes.len() as u64 != entry.bytes() {
        return Err(Error::corrupt(
            entry.name(),
            format!(
                "{} bytes, the manifest says {} (truncated or replaced?)",
                bytes.len(),
                entry.bytes()
            ),
        ));
    }
    let actual = sha256.to_ascii_lowercase();
    // a version 8 bundle lists its `snippets` files by the start of their
    // sha256 only ([`SHORT_SHA256_HEX`])
    let listed = entry.sha256();
    let short = listed.len() == SHORT_SHA256_HEX;
    if actual != listed && !(short && actual.starts_with(listed)) {
        return Err(Error::Checksum {
            file: entry.name().to_string(),
            expected: entry.sha256().to_string(),
            actual,
        });
    }
    Ok(())
}

/// Checked files in a folder (native only).
#[cfg(not(target_arch = "wasm32"))]
pub mod fs {
    use std::path::Path;

    use crate::error::{Error, Result};

    /// Maps an I/O error on `path` to [`Error::Io`].
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// Writes `bytes` to `path` through a new file beside it that then
    /// takes the name (a rename), so that:
    /// - a link already at `path` is replaced, never written through: the
    ///   file it points to, perhaps outside the folder, is left as it was;
    /// - a stop half way leaves the old file or none, never a torn one.
    ///
    /// The temporary file is created exclusively (`create_new`), so a file
    /// or link planted under its name is not followed either.
    pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = path
            .file_name()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(
            ".{}.{}.tmp",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let tmp = path.with_file_name(tmp_name);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .and_then(|mut f| f.write_all(bytes));
        let done = written.and_then(|()| std::fs::rename(&tmp, path));
        if done.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        done
    }

    /// Whether `path` is a regular file (not a link) holding exactly `bytes`.
    pub fn holds(path: &Path, bytes: &[u8]) -> bool {
        std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64)
            && std::fs::read(path).is_ok_and(|b| b == bytes)
    }

    /// What a folder is supposed to be, for the error when its manifest is
    /// missing.
    pub struct Kind {
        pub what: &'static str,
        pub manifest: &'static str,
        /// What to do next.
        pub hint: &'static str,
    }

    /// Reads the manifest of the folder `dir`; a missing one is
    /// [`Error::NoManifest`] (not a pack or bundle at all).
    pub fn read_manifest(dir: &Path, kind: &Kind) -> Result<Vec<u8>> {
        let path = dir.join(kind.manifest);
        std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NoManifest {
                    dir: dir.display().to_string(),
                    what: kind.what,
                    manifest: kind.manifest,
                    hint: kind.hint,
                }
            } else {
                io(&path)(e)
            }
        })
    }

    /// Reads file `name` of the folder `dir`, `None` when it is not there
    /// (the reader then reports it missing by its manifest name).
    pub fn read_listed(dir: &Path, name: &str) -> Result<Option<Vec<u8>>> {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// The content of the listed file `entry` in `dir`: its compressed
    /// form decoded when the entry has one and it is there (what the
    /// browser fetches, so a folder holding only the compressed files
    /// reads too), else the plain file; `None` when neither is there. The
    /// caller checks the content against the entry, as for a plain file.
    pub fn read_content(dir: &Path, entry: &impl super::Listed) -> Result<Option<Vec<u8>>> {
        if let Some(enc) = entry.encoded() {
            if let Some(stored) = read_listed(dir, &enc.name)? {
                return super::encoding::decode(enc, &stored, entry.bytes()).map(Some);
            }
        }
        read_listed(dir, entry.name())
    }

    /// A source of file contents by manifest name for the entries
    /// `entries` of a folder's manifest (see [`read_content`]), for
    /// `Pack::from_files` and `Bundle::from_files`.
    pub fn content_reader<'a, E: super::Listed + 'a>(
        dir: &'a Path,
        entries: Vec<E>,
    ) -> impl FnMut(&str) -> Result<Option<Vec<u8>>> + 'a {
        move |name| match entries.iter().find(|e| e.name() == name) {
            Some(e) => read_content(dir, e),
            None => read_listed(dir, name),
        }
    }
}
